#include "hv/devs/vm_devices.h"

static void irq_to_pic(void *ctx, unsigned line, bool level)
{
    struct vm_devices *d = ctx;
    if (d->hooks.irq_line)
        d->hooks.irq_line(d->hooks.ctx, line, level, d->now_ns);
    pic_set_irq(&d->pic, line, level);
}

static void pic_intr_changed(void *ctx, unsigned line, bool level)
{
    struct vm_devices *d = ctx;
    (void)line;
    if (d->hooks.intr)
        d->hooks.intr(d->hooks.ctx, level, d->now_ns);
}

static void com1_tx(void *ctx, uint8_t byte)
{
    struct vm_devices *d = ctx;
    if (d->hooks.com1_tx)
        d->hooks.com1_tx(d->hooks.ctx, byte);
}

static void platform_request(void *ctx, enum dev_request what)
{
    struct vm_devices *d = ctx;
    d->requests |= 1u << what;
    if (d->hooks.request)
        d->hooks.request(d->hooks.ctx, what);
}

static void wire(struct vm_devices *d, uint16_t base, uint16_t len, dev_io_fn fn, void *dev,
                 const char *name, int irq)
{
    if (iobus_register(&d->bus, base, len, fn, dev, name) == 0)
        d->bus.r[d->bus.n - 1].irq = irq;
}

void vm_devices_init(struct vm_devices *d, const struct vm_devices_config *cfg,
                     const struct vm_devices_hooks *hooks, uint64_t now_ns)
{
    *d = (struct vm_devices){0};
    if (cfg)
        d->cfg = *cfg;
    if (!d->cfg.com1_base)
        d->cfg.com1_base = 0x3f8;
    if (!d->cfg.com1_irq || d->cfg.com1_irq > 15)
        d->cfg.com1_irq = 4;
    if (hooks)
        d->hooks = *hooks;
    d->now_ns = now_ns;

    const struct irq_sink to_pic = {irq_to_pic, d};
    const struct irq_sink to_cpu = {pic_intr_changed, d};
    const struct dev_request_sink req = {platform_request, d};

    pic_init(&d->pic, &to_cpu);
    pit_init(&d->pit, &to_pic, now_ns);
    port61_init(&d->port61, &d->pit);
    port61_reset(&d->port61, now_ns);
    uart_init(&d->com1, &to_pic, d->cfg.com1_irq, com1_tx, d);
    cmos_init(&d->cmos, &to_pic, 8, d->cfg.rtc_epoch_sec);
    cmos_reset(&d->cmos, now_ns);
    pci_init(&d->pci, &req);
    debugport_init(&d->post);
    kbc_init(&d->kbc, &to_pic, &req);

    iobus_init(&d->bus);
    /* Ranges are fixed and disjoint; registration cannot fail. Each range
     * carries the IRQ its device drives (the wiring above), for the trace
     * header's device list. */
    wire(d, 0x20, 2, pic_io, &d->pic, "pic-master", -1);
    wire(d, 0xa0, 2, pic_io, &d->pic, "pic-slave", -1);
    wire(d, 0x4d0, 2, pic_io, &d->pic, "elcr", -1);
    wire(d, 0x40, 4, pit_io, &d->pit, "pit", 0);
    wire(d, 0x61, 1, port61_io, &d->port61, "port61", -1);
    wire(d, 0x60, 1, kbc_io, &d->kbc, "kbc-data", 1);
    wire(d, 0x64, 1, kbc_io, &d->kbc, "kbc-cmd", 1);
    wire(d, 0x70, 2, cmos_io, &d->cmos, "cmos", 8);
    wire(d, 0x80, 1, debugport_io, &d->post, "post", -1);
    wire(d, 0xcf8, 8, pci_io, &d->pci, "pci", -1);
    wire(d, d->cfg.com1_base, 8, uart_io, &d->com1, "com1", d->cfg.com1_irq);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The deadlines of the current device state (struct vm_devices, cache). The
 * UART and RTC deadlines are the output changes their ticks can make (a
 * latch that raises no IRQ line is caught up by the device's own next
 * access); the PIT's is a bound on any OUT0 change, falls included. */
static void refresh(struct vm_devices *d)
{
    uint64_t pit = pit_next_event_ns(&d->pit, 0), uart = uart_next_event_ns(&d->com1, 0);
    uint64_t cmos = cmos_next_event_ns(&d->cmos, 0);
    d->event_ns = min_u64(pit, uart); /* these two clamp to now */
    d->event_unclamped = cmos;
    d->change_ns = min_u64(min_u64(pit_next_change_ns(&d->pit), uart), cmos);
    d->cache_valid = true;
}

/* Device state with a deadline may have changed: the cache is stale. */
static void changed(struct vm_devices *d)
{
    d->cache_valid = false;
    d->gen++;
}

static void tick_all(struct vm_devices *d)
{
    pit_tick(&d->pit, d->now_ns);
    uart_tick(&d->com1, d->now_ns);
    cmos_tick(&d->cmos, d->now_ns);
    changed(d);
}

/* Ports of the devices whose deadlines the cache holds: the PIT, port 0x61
 * (the PIT's gates), the RTC and COM1. Accesses elsewhere (PIC, 8042, PCI,
 * port 0x80, unknown ports) leave the deadlines as they are. */
static bool timed_port(const struct vm_devices *d, uint16_t port)
{
    return (port >= 0x40 && port <= 0x43) || port == 0x61 || port == 0x70 || port == 0x71 ||
           (uint16_t)(port - d->cfg.com1_base) < 8;
}

void vm_devices_advance(struct vm_devices *d, uint64_t now_ns)
{
    if (now_ns <= d->now_ns)
        return; /* the devices are at least this far: nothing to do */
    d->now_ns = now_ns;
    if (!d->cache_valid)
        refresh(d);
    if (now_ns < d->change_ns)
        return; /* no output can change yet */
    tick_all(d);
}

void vm_devices_sync(struct vm_devices *d)
{
    tick_all(d);
}

int vm_devices_io(struct vm_devices *d, uint16_t port, unsigned size, bool write, uint32_t *val,
                  uint64_t now_ns)
{
    vm_devices_advance(d, now_ns);
    int rc = iobus_access(&d->bus, port, size, write, val, d->now_ns);
    if (timed_port(d, port))
        changed(d);
    return rc;
}

uint64_t vm_devices_next_event_cached(struct vm_devices *d, uint64_t now_ns)
{
    if (!d->cache_valid)
        refresh(d);
    uint64_t t = d->event_ns > now_ns ? d->event_ns : now_ns;
    return min_u64(t, d->event_unclamped);
}

uint64_t vm_devices_next_event_ns(const struct vm_devices *d, uint64_t now_ns)
{
    uint64_t t = pit_next_event_ns(&d->pit, now_ns);
    t = min_u64(t, uart_next_event_ns(&d->com1, now_ns));
    t = min_u64(t, cmos_next_event_ns(&d->cmos, now_ns));
    return t;
}

uint8_t vm_devices_ack(struct vm_devices *d, uint64_t now_ns)
{
    vm_devices_advance(d, now_ns);
    return pic_ack(&d->pic); /* the PIC has no deadline: the cache stands */
}

size_t vm_devices_com1_rx(struct vm_devices *d, const uint8_t *buf, size_t n, uint64_t now_ns)
{
    vm_devices_advance(d, now_ns);
    size_t got = uart_rx(&d->com1, buf, n, d->now_ns);
    changed(d);
    return got;
}

#define VMDV_TAG SV_TAG('V', 'M', 'D', 'V')

size_t vm_devices_save(const struct vm_devices *d, void *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    sv_begin(&s, VMDV_TAG, VM_DEVICES_STATE_VERSION);
    sv_put_u64(&s, d->now_ns);
    sv_put_u32(&s, d->requests);
    pic_save(&d->pic, &s);
    pit_save(&d->pit, &s);
    port61_save(&d->port61, &s);
    uart_save(&d->com1, &s);
    cmos_save(&d->cmos, &s);
    pci_save(&d->pci, &s);
    debugport_save(&d->post, &s);
    kbc_save(&d->kbc, &s);
    sv_end(&s);
    return s.err ? 0 : sv_len(&s);
}

static int restore_into(struct vm_devices *d, const void *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    sv_open(&s, VMDV_TAG, VM_DEVICES_STATE_VERSION);
    d->now_ns = sv_get_u64(&s);
    d->requests = sv_get_u32(&s);
    int rc = 0;
    rc |= pic_restore(&d->pic, &s);
    rc |= pit_restore(&d->pit, &s);
    rc |= port61_restore(&d->port61, &s);
    rc |= uart_restore(&d->com1, &s);
    rc |= cmos_restore(&d->cmos, &s);
    rc |= pci_restore(&d->pci, &s);
    rc |= debugport_restore(&d->post, &s);
    rc |= kbc_restore(&d->kbc, &s);
    sv_close(&s);
    if (!s.err && s.pos != len)
        s.err = true;
    return (rc || s.err) ? -1 : 0;
}

int vm_devices_restore(struct vm_devices *d, const void *buf, size_t len)
{
    /* Restore into a scratch copy of the state fields first so a bad blob
     * leaves the live devices untouched. The copy keeps d's wiring pointers
     * (they point into d), which restore never changes. */
    _Static_assert(sizeof(struct vm_devices) < 16384, "vm_devices grew: revisit restore");
    struct vm_devices tmp = *d;
    if (restore_into(&tmp, buf, len) != 0)
        return -1;
    /* Copy back only the state; wiring in tmp still refers to d. */
    *d = tmp;
    changed(d);
    return 0;
}
