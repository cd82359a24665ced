#include "hv/devs/vm_devices.h"

/* An ISA line: to the PIC and, on the APIC platform, to the I/O APIC pin a
 * PC wires it to (the MADT's source override puts IRQ0 on pin 2). */
static void irq_to_pic(void *ctx, unsigned line, bool level)
{
    struct vm_devices *d = ctx;
    if (d->hooks.irq_line)
        d->hooks.irq_line(d->hooks.ctx, line, level, d->now_ns);
    pic_set_irq(&d->pic, line, level);
    if (d->cfg.apic)
        ioapic_set_irq(&d->ioapic, ioapic_isa_pin(line), level);
}

/* The CPU's interrupt input: the PIC's INTR, or with the APIC the local
 * APICs' outputs (the PIC's INTR then drives LINT0 of every local APIC:
 * virtual wire; only the BSP's LINT0 is normally unmasked). */
static void pic_intr_changed(void *ctx, unsigned line, bool level)
{
    struct vm_devices *d = ctx;
    (void)line;
    if (d->cfg.apic) {
        for (unsigned i = 0; i < d->ncpus; i++)
            lapic_set_lint(&d->lapic[i], 0, level);
    } else {
        if (d->hooks.intr)
            d->hooks.intr(d->hooks.ctx, level, d->now_ns);
        if (d->hooks.intr_cpu)
            d->hooks.intr_cpu(d->hooks.ctx, 0, level, d->now_ns);
    }
}

static void lapic_intr_changed(void *ctx, unsigned line, bool level)
{
    const struct vm_devices_cpu_link *k = ctx;
    struct vm_devices *d = k->d;
    (void)line;
    if (k->cpu == 0 && d->hooks.intr)
        d->hooks.intr(d->hooks.ctx, level, d->now_ns);
    if (d->hooks.intr_cpu)
        d->hooks.intr_cpu(d->hooks.ctx, k->cpu, level, d->now_ns);
}

/* The APIC bus: every message (an I/O APIC's or an IPI) is offered to each
 * live local APIC, which accepts it if it is a destination. Lowest
 * priority goes to one destination only: the lowest APIC ID among them
 * (fixed arbitration, deterministic; the SDM leaves the choice to the
 * hardware). INIT and SIPI change a core's events: the hook hears it.
 * A message arrives at the platform's time: a destination whose own tick
 * in this advance is still to come (an I/O APIC message from a PIT, UART
 * or RTC edge) is brought to that time first, so an INIT ("Local APIC
 * State After an INIT Reset": the timer restarts stopped) resets it then,
 * not at its last tick, which depends on how time was stepped. */
static void apic_bus_send(void *ctx, const struct apic_msg *m)
{
    struct vm_devices *d = ctx;
    for (unsigned i = 0; i < d->ncpus; i++) {
        struct lapic *l = &d->lapic[i];
        if (!lapic_is_dest(l, m))
            continue;
        uint32_t ev = lapic_events(l);
        lapic_advance(l, d->now_ns);
        lapic_deliver(l, m);
        if (lapic_events(l) != ev && d->hooks.cpu_events)
            d->hooks.cpu_events(d->hooks.ctx, i, lapic_events(l), d->now_ns);
        if (m->mode == APIC_DM_LOWEST)
            break;
    }
}

static void platform_request(void *ctx, enum dev_request what);

static void lapic_eoi_to_ioapic(void *ctx, uint8_t vector)
{
    struct vm_devices *d = ctx;
    ioapic_eoi(&d->ioapic, vector);
}

/* The APIC pair exists (at power-on state) on every platform, so that the
 * state blob has one layout; it is wired in only with cfg.apic, where the
 * BSP's local APIC is left as a PC BIOS leaves it for the OS:
 * software-enabled in virtual-wire mode (LINT0 ExtINT from the 8259A, LINT1
 * NMI, spurious vector 0xff), the I/O APIC with every entry masked. The
 * APs' local APICs stay at power-on, waiting for a SIPI. */
static void apic_platform_init(struct vm_devices *d, uint64_t now_ns)
{
    const struct apic_msg_sink bus = {apic_bus_send, d};
    const struct apic_eoi_sink eoi = {lapic_eoi_to_ioapic, d};
    for (unsigned i = 0; i < VM_DEVICES_MAX_CPUS; i++) {
        const struct lapic_config lc = {
            .apic_id = i, .bsp = i == 0, .bus_hz = LAPIC_DEFAULT_BUS_HZ, .tsc_hz = d->cfg.tsc_hz};
        d->link[i] = (struct vm_devices_cpu_link){d, i};
        const struct irq_sink to_cpu = {lapic_intr_changed, &d->link[i]};
        lapic_init(&d->lapic[i], &lc, &to_cpu, &bus, &eoi, now_ns);
    }
    ioapic_init(&d->ioapic, &bus, 0x20);
    const struct irq_sink to_pic = {irq_to_pic, d};
    const struct dev_request_sink req = {platform_request, d};
    acpi_pm_init(&d->pm, VM_DEVICES_ACPI_PM_BASE, &to_pic, VM_DEVICES_SCI_IRQ, VM_DEVICES_S5_TYP,
                 &req, now_ns);
    if (!d->cfg.apic)
        return;
    iobus_register(&d->bus, VM_DEVICES_ACPI_PM_BASE, ACPI_PM_PORTS, acpi_pm_io, &d->pm, "acpi-pm");
    struct lapic *bsp = &d->lapic[0];
    lapic_write(bsp, LAPIC_SVR, APIC_SVR_ENABLE | 0xff, now_ns);
    lapic_write(bsp, LAPIC_LVT_LINT0, APIC_DM_EXTINT << 8, now_ns);
    lapic_write(bsp, LAPIC_LVT_LINT1, APIC_DM_NMI << 8, now_ns);
    for (unsigned i = 0; i < d->ncpus; i++)
        lapic_set_lint(&d->lapic[i], 0, pic_intr(&d->pic));
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
    d->ncpus = 1;
    if (d->cfg.apic && d->cfg.cpus > 1)
        d->ncpus = d->cfg.cpus < VM_DEVICES_MAX_CPUS ? d->cfg.cpus : VM_DEVICES_MAX_CPUS;
    d->cfg.cpus = d->ncpus;
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
    debugexit_init(&d->dbgexit, &req);

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
    if (d->cfg.debug_exit)
        wire(d, DEBUGEXIT_PORT, DEBUGEXIT_LEN, debugexit_io, &d->dbgexit, "debug-exit", -1);
    apic_platform_init(d, now_ns);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The deadline cache's parts: one per device with a deadline. */
enum { DL_PIT = 1, DL_UART = 2, DL_CMOS = 4, DL_ALL = 7 };

/* The deadlines of the current device state (struct vm_devices, cache),
 * recomputed for the devices changed since the last time. The UART and RTC
 * deadlines are the output changes their ticks can make (a latch that raises
 * no IRQ line is caught up by the device's own next access); the PIT's is a
 * bound on any OUT0 change, falls included. The APIC platform is not
 * cached: every advance ticks every device. */
static void refresh(struct vm_devices *d)
{
    if (!(d->fresh & DL_PIT))
        pit_deadlines(&d->pit, &d->pit_event, &d->pit_change);
    if (!(d->fresh & DL_UART))
        d->uart_event = uart_next_event_ns(&d->com1, 0);
    if (!(d->fresh & DL_CMOS))
        d->cmos_event = cmos_next_event_ns(&d->cmos, 0);
    d->fresh = DL_ALL;
    d->event_ns = min_u64(d->pit_event, d->uart_event); /* these two clamp to now */
    d->event_unclamped = d->cmos_event;
    d->change_ns = d->cfg.apic ? 0 : min_u64(min_u64(d->pit_change, d->uart_event), d->cmos_event);
}

/* The state of the devices `parts` may have changed: their deadlines are
 * stale. */
static void changed(struct vm_devices *d, unsigned parts)
{
    d->fresh &= (uint8_t)~parts;
    d->gen++;
}

static void tick_all(struct vm_devices *d)
{
    pit_tick(&d->pit, d->now_ns);
    uart_tick(&d->com1, d->now_ns);
    cmos_tick(&d->cmos, d->now_ns);
    if (d->cfg.apic) {
        acpi_pm_tick(&d->pm, d->now_ns);
        for (unsigned i = 0; i < d->ncpus; i++)
            lapic_advance(&d->lapic[i], d->now_ns);
    }
    changed(d, DL_ALL);
}

/* The devices with cached deadlines a port reaches: the PIT at 0x40-0x43
 * and port 0x61 (the PIT's gates), the RTC at 0x70/0x71, COM1. Accesses
 * elsewhere (PIC, 8042, PCI, port 0x80, unknown ports) leave the deadlines
 * as they are. */
static unsigned timed_parts(const struct vm_devices *d, uint16_t port)
{
    if (d->cfg.apic)
        return DL_ALL;
    unsigned parts = 0;
    if ((port >= 0x40 && port <= 0x43) || port == 0x61)
        parts |= DL_PIT;
    if (port == 0x70 || port == 0x71)
        parts |= DL_CMOS;
    if ((uint16_t)(port - d->cfg.com1_base) < 8)
        parts |= DL_UART;
    return parts;
}

void vm_devices_advance(struct vm_devices *d, uint64_t now_ns)
{
    if (now_ns <= d->now_ns)
        return; /* the devices are at least this far: nothing to do */
    d->now_ns = now_ns;
    if (d->fresh != DL_ALL)
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
    unsigned parts = timed_parts(d, port);
    if (parts)
        changed(d, parts);
    return rc;
}

uint64_t vm_devices_next_event_ns(const struct vm_devices *d, uint64_t now_ns)
{
    uint64_t t = pit_next_event_ns(&d->pit, now_ns);
    t = min_u64(t, uart_next_event_ns(&d->com1, now_ns));
    t = min_u64(t, cmos_next_event_ns(&d->cmos, now_ns));
    if (d->cfg.apic) {
        for (unsigned i = 0; i < d->ncpus; i++)
            t = min_u64(t, lapic_next_event_ns(&d->lapic[i], now_ns));
        t = min_u64(t, acpi_pm_next_event_ns(&d->pm, now_ns));
    }
    return t;
}

uint64_t vm_devices_next_event_cached(struct vm_devices *d, uint64_t now_ns)
{
    if (d->cfg.apic)
        return vm_devices_next_event_ns(d, now_ns);
    if (d->fresh != DL_ALL)
        refresh(d);
    uint64_t t = d->event_ns > now_ns ? d->event_ns : now_ns;
    return min_u64(t, d->event_unclamped);
}

unsigned vm_devices_cpus(const struct vm_devices *d)
{
    return d->ncpus;
}

bool vm_devices_intr_cpu(const struct vm_devices *d, unsigned cpu)
{
    if (cpu >= d->ncpus)
        return false;
    return d->cfg.apic ? lapic_intr(&d->lapic[cpu]) : pic_intr(&d->pic);
}

bool vm_devices_intr(const struct vm_devices *d)
{
    return vm_devices_intr_cpu(d, 0);
}

/* With the APIC, an ExtINT (virtual wire) is answered by the 8259A's INTA. */
uint8_t vm_devices_ack_cpu(struct vm_devices *d, unsigned cpu, uint64_t now_ns)
{
    if (cpu >= d->ncpus)
        return 0xff;
    vm_devices_advance(d, now_ns);
    if (!d->cfg.apic)
        return pic_ack(&d->pic); /* the PIC has no deadline: the cache stands */
    changed(d, DL_ALL);
    unsigned v = lapic_ack(&d->lapic[cpu]);
    return v == LAPIC_ACK_EXTINT ? pic_ack(&d->pic) : (uint8_t)v;
}

uint8_t vm_devices_ack(struct vm_devices *d, uint64_t now_ns)
{
    return vm_devices_ack_cpu(d, 0, now_ns);
}

/* Each vCPU sees its own local APIC at its own IA32_APIC_BASE; the I/O
 * APIC page is shared. */
int vm_devices_mmio_cpu(struct vm_devices *d, unsigned cpu, uint64_t gpa, unsigned size, bool write,
                        uint32_t *val, uint64_t now_ns)
{
    if (!d->cfg.apic || cpu >= d->ncpus)
        return DEV_IO_UNMAPPED;
    vm_devices_advance(d, now_ns);
    changed(d, DL_ALL);
    struct lapic *l = &d->lapic[cpu];
    uint64_t lb = lapic_mmio_base(l);
    if (lapic_xapic_mode(l) && gpa >= lb && gpa - lb < 0x1000) {
        uint32_t off = (uint32_t)(gpa - lb);
        if (size != 4 || (off & 0xf))
            return DEV_IO_BADSIZE;
        if (write)
            lapic_write(l, off, *val, d->now_ns);
        else
            *val = lapic_read(l, off, d->now_ns);
        return DEV_IO_OK;
    }
    if (gpa >= IOAPIC_DEFAULT_BASE && gpa - IOAPIC_DEFAULT_BASE < IOAPIC_MMIO_SIZE)
        return ioapic_mmio(&d->ioapic, (uint32_t)(gpa - IOAPIC_DEFAULT_BASE), size, write, val);
    return DEV_IO_UNMAPPED;
}

int vm_devices_mmio(struct vm_devices *d, uint64_t gpa, unsigned size, bool write, uint32_t *val,
                    uint64_t now_ns)
{
    return vm_devices_mmio_cpu(d, 0, gpa, size, write, val, now_ns);
}

int vm_devices_msr_cpu(struct vm_devices *d, unsigned cpu, uint32_t msr, bool write, uint64_t *val,
                       uint64_t now_ns)
{
    if (!d->cfg.apic || !lapic_msr_owned(msr) || cpu >= d->ncpus)
        return 1;
    vm_devices_advance(d, now_ns);
    changed(d, DL_ALL);
    struct lapic *l = &d->lapic[cpu];
    return write ? lapic_msr_write(l, msr, *val, d->now_ns)
                 : lapic_msr_read(l, msr, val, d->now_ns);
}

int vm_devices_msr(struct vm_devices *d, uint32_t msr, bool write, uint64_t *val, uint64_t now_ns)
{
    return vm_devices_msr_cpu(d, 0, msr, write, val, now_ns);
}

bool vm_devices_nmi_cpu(const struct vm_devices *d, unsigned cpu)
{
    return d->cfg.apic && cpu < d->ncpus && lapic_nmi_pending(&d->lapic[cpu]);
}

void vm_devices_nmi_take_cpu(struct vm_devices *d, unsigned cpu)
{
    if (d->cfg.apic && cpu < d->ncpus)
        lapic_nmi_take(&d->lapic[cpu]);
}

uint32_t vm_devices_cpu_events(const struct vm_devices *d, unsigned cpu)
{
    return d->cfg.apic && cpu < d->ncpus ? lapic_events(&d->lapic[cpu]) : 0;
}

void vm_devices_cpu_events_take(struct vm_devices *d, unsigned cpu, uint32_t bits)
{
    if (d->cfg.apic && cpu < d->ncpus)
        lapic_events_take(&d->lapic[cpu], bits);
}

uint8_t vm_devices_sipi_vector(const struct vm_devices *d, unsigned cpu)
{
    return cpu < d->ncpus ? lapic_sipi_vector(&d->lapic[cpu]) : 0;
}

bool vm_devices_cpu_waiting(const struct vm_devices *d, unsigned cpu)
{
    return d->cfg.apic && cpu < d->ncpus && lapic_wait_sipi(&d->lapic[cpu]);
}

size_t vm_devices_com1_rx(struct vm_devices *d, const uint8_t *buf, size_t n, uint64_t now_ns)
{
    vm_devices_advance(d, now_ns);
    size_t got = uart_rx(&d->com1, buf, n, d->now_ns);
    changed(d, DL_UART);
    return got;
}

#define VMDV_TAG            SV_TAG('V', 'M', 'D', 'V')
#define CPUS_TAG            SV_TAG('C', 'P', 'U', 'S')
#define VM_DEVICES_SECTIONS (14 + VM_DEVICES_MAX_CPUS - 1) /* VMDV, 12 devices, CPUS, AP LAPICs */

/* Layout 4: the local APICs of vCPUs 1..cpus-1, after `cpus`. */
static void aps_put(struct sv *s, const void *obj)
{
    const struct vm_devices *d = obj;
    for (unsigned i = 1; i < d->ncpus && i < VM_DEVICES_MAX_CPUS; i++)
        sv_save(s, &lapic_sv_desc, &d->lapic[i]);
}

static void aps_load(struct sv *s, void *obj)
{
    struct vm_devices *d = obj;
    if (d->ncpus < 1 || d->ncpus > VM_DEVICES_MAX_CPUS) {
        s->err = true;
        return;
    }
    for (unsigned i = 1; i < d->ncpus && !s->err; i++)
        sv_load(s, &lapic_sv_desc, &d->lapic[i]);
}

/* The AP local APICs for the checkpoint comparison (not on the wire: the
 * codec above writes them). */
#define CPUS_AP_VIEW(i)                                                                            \
    {                                                                                              \
        .name = "lapic" #i, .kind = SVK_SECTION, .flags = SVF_VIEW, .count = 1, .since = 1,        \
        .off = (uint32_t)offsetof(struct vm_devices, lapic[i]), .sub = &lapic_sv_desc              \
    }

/* Section 'CPUS' (in VMDV since layout 4): the vCPU count, then one LAPC
 * section per AP. */
static const struct sv_field cpus_fields[] = {
    SV_U32(struct vm_devices, ncpus),
    SV_CODEC("aps", aps_put, aps_load),
    CPUS_AP_VIEW(1),
    CPUS_AP_VIEW(2),
    CPUS_AP_VIEW(3),
};

static const struct sv_desc cpus_sv_desc = {
    .name = "cpus",
    .tag = CPUS_TAG,
    .version = 1,
    .min_version = 1,
    .fields = cpus_fields,
    .nfields = SV_NFIELDS(cpus_fields),
};

/* A blob older than layout 4 is of a one-vCPU platform. */
static void vmdv_post_load(void *obj, uint16_t version)
{
    struct vm_devices *d = obj;
    if (version < 4)
        d->ncpus = 1;
}

/* One nested section per device, named as replay reports name them. */
static const struct sv_field vmdv_fields[] = {
    SV_U64(struct vm_devices, now_ns),
    SV_U32(struct vm_devices, requests),
    SV_SECTION(struct vm_devices, pic, &pic_sv_desc),
    SV_SECTION(struct vm_devices, pit, &pit_sv_desc),
    SV_SECTION(struct vm_devices, port61, &port61_sv_desc),
    SV_SECTION(struct vm_devices, com1, &uart_sv_desc),
    SV_SECTION(struct vm_devices, cmos, &cmos_sv_desc),
    SV_SECTION(struct vm_devices, pci, &pci_sv_desc),
    SV_SECTION(struct vm_devices, post, &debugport_sv_desc),
    SV_SECTION(struct vm_devices, kbc, &kbc_sv_desc),
    SV_SECTION_SINCE(struct vm_devices, dbgexit, &debugexit_sv_desc, 2),
    {.name = "lapic",
     .kind = SVK_SECTION,
     .count = 1,
     .since = 3,
     .off = (uint32_t)offsetof(struct vm_devices, lapic[0]),
     .sub = &lapic_sv_desc},
    SV_SECTION_SINCE(struct vm_devices, ioapic, &ioapic_sv_desc, 3),
    SV_SECTION_SINCE(struct vm_devices, pm, &acpi_pm_sv_desc, 3),
    {.name = "cpus", .kind = SVK_SECTION, .count = 1, .since = 4, .off = 0, .sub = &cpus_sv_desc},
};

const struct sv_desc vm_devices_sv_desc = {
    .name = "vm",
    .tag = VMDV_TAG,
    .version = VM_DEVICES_STATE_VERSION,
    .min_version = 1,
    .fields = vmdv_fields,
    .nfields = SV_NFIELDS(vmdv_fields),
    .post_load = vmdv_post_load,
};

size_t vm_devices_save(const struct vm_devices *d, void *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    sv_save(&s, &vm_devices_sv_desc, d);
    return s.err ? 0 : sv_len(&s);
}

static int restore_into(struct vm_devices *d, const void *buf, size_t len, bool lax,
                        uint16_t *versions, unsigned *nversions)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    s.lax = lax;
    s.versions = versions;
    s.versions_cap = versions ? VM_DEVICES_SECTIONS : 0;
    sv_load(&s, &vm_devices_sv_desc, d);
    if (!s.err && s.pos != len)
        s.err = true;
    if (nversions)
        *nversions = s.nversions;
    return s.err ? -1 : 0;
}

int vm_devices_restore(struct vm_devices *d, const void *buf, size_t len)
{
    /* Restore into a scratch copy of the state fields first so a bad blob
     * leaves the live devices untouched. The copy keeps d's wiring pointers
     * (they point into d), which restore never changes. */
    _Static_assert(sizeof(struct vm_devices) < 16384, "vm_devices grew: revisit restore");
    struct vm_devices tmp = *d;
    if (restore_into(&tmp, buf, len, false, NULL, NULL) != 0 || tmp.ncpus != d->ncpus)
        return -1;
    /* Copy back only the state; wiring in tmp still refers to d. */
    *d = tmp;
    changed(d, DL_ALL);
    return 0;
}

int vm_devices_compare(const void *want, size_t want_len, const void *got, size_t got_len,
                       struct vm_devices scratch[2], sv_diff_fn diff, void *ctx)
{
    uint16_t vers[VM_DEVICES_SECTIONS];
    unsigned nvers = 0;
    scratch[0] = (struct vm_devices){0};
    scratch[1] = (struct vm_devices){0};
    if (restore_into(&scratch[0], want, want_len, true, vers, &nvers) != 0 ||
        restore_into(&scratch[1], got, got_len, true, NULL, NULL) != 0)
        return -1;
    return (int)sv_compare(&vm_devices_sv_desc, "vm", &scratch[0], vers, nvers, &scratch[1], diff,
                           ctx);
}
