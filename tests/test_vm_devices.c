/* The per-VM device set: wiring between devices, hooks, save/restore of the
 * whole platform, and the Linux boot sequences that cross devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/vm_devices.h"

struct obs {
    unsigned irq_changes[16];
    bool irq_level[16];
    unsigned intr_changes;
    bool intr;
    char tx[256];
    size_t ntx;
    unsigned resets;
};

static void obs_irq(void *ctx, unsigned irq, bool level, uint64_t now)
{
    struct obs *o = ctx;
    (void)now;
    assert_true(irq < 16);
    o->irq_changes[irq]++;
    o->irq_level[irq] = level;
}
static void obs_intr(void *ctx, bool level, uint64_t now)
{
    struct obs *o = ctx;
    (void)now;
    o->intr_changes++;
    o->intr = level;
}
static void obs_tx(void *ctx, uint8_t b)
{
    struct obs *o = ctx;
    if (o->ntx < sizeof o->tx)
        o->tx[o->ntx++] = (char)b;
}
static void obs_req(void *ctx, enum dev_request what)
{
    struct obs *o = ctx;
    if (what == DEV_REQ_RESET)
        o->resets++;
}

static void setup(struct vm_devices *d, struct obs *o)
{
    memset(o, 0, sizeof *o);
    const struct vm_devices_hooks h = {obs_irq, obs_intr, obs_tx, obs_req, o, NULL, NULL};
    const struct vm_devices_config cfg = {.rtc_epoch_sec = 1764115200}; /* 2025-11-26 */
    vm_devices_init(d, &cfg, &h, 0);
}

static void out8(struct vm_devices *d, uint16_t port, uint8_t v, uint64_t now)
{
    uint32_t x = v;
    assert_int_equal(vm_devices_io(d, port, 1, true, &x, now), DEV_IO_OK);
}
static uint8_t in8(struct vm_devices *d, uint16_t port, uint64_t now)
{
    uint32_t x = 0;
    vm_devices_io(d, port, 1, false, &x, now);
    return (uint8_t)x;
}

/* Linux 6.1 init_8259A(): mask all, ICW1-4 for both chips, restore masks. */
static void linux_pic_init(struct vm_devices *d, uint64_t t)
{
    out8(d, 0x21, 0xff, t);
    out8(d, 0xa1, 0xff, t);
    out8(d, 0x20, 0x11, t);
    out8(d, 0x21, 0x30, t);
    out8(d, 0x21, 0x04, t);
    out8(d, 0x21, 0x01, t);
    out8(d, 0xa0, 0x11, t);
    out8(d, 0xa1, 0x38, t);
    out8(d, 0xa1, 0x02, t);
    out8(d, 0xa1, 0x01, t);
    out8(d, 0x21, 0xfa, t); /* IRQ0 and the cascade unmasked */
    out8(d, 0xa1, 0xff, t);
}

/* PIT channel 0, mode 2, 0x12a5: Linux's HZ=250 periodic tick. The control
 * word sets OUT0 high (8254 datasheet, mode 2), a rising edge from the
 * power-on low level, which the PIC latches: take that interrupt first. */
static void linux_pit_periodic(struct vm_devices *d, uint64_t t)
{
    out8(d, 0x43, 0x34, t);
    out8(d, 0x40, 0xa5, t);
    out8(d, 0x40, 0x12, t);
    if (vm_devices_intr(d)) {
        assert_int_equal(vm_devices_ack(d, t), 0x30);
        out8(d, 0x20, 0x60, t);
    }
}

/* ns from 0 to the n-th PIT period boundary after a load at time 0 */
static uint64_t period_ns(unsigned n)
{
    return (uint64_t)n * 0x12a5 * NS_PER_SEC / PIT_HZ;
}

static void test_timer_tick_reaches_cpu_as_vector_0x30(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    linux_pic_init(&d, 0);
    linux_pit_periodic(&d, 0);
    assert_false(vm_devices_intr(&d));
    vm_devices_advance(&d, period_ns(1) + 2000);
    assert_true(vm_devices_intr(&d));
    assert_true(o.intr);
    assert_int_equal(vm_devices_ack(&d, period_ns(1) + 3000), 0x30);
    assert_false(vm_devices_intr(&d));
    out8(&d, 0x20, 0x60, period_ns(1) + 4000); /* specific EOI IRQ0 */
    /* the next tick comes one period later, not before */
    vm_devices_advance(&d, period_ns(2) - 2000);
    assert_false(vm_devices_intr(&d));
    vm_devices_advance(&d, period_ns(2) + 2000);
    assert_true(vm_devices_intr(&d));
}

static void test_next_event_predicts_the_timer_tick(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    linux_pic_init(&d, 0);
    linux_pit_periodic(&d, 0);
    uint64_t t = vm_devices_next_event_ns(&d, 1000);
    assert_true(t != TIME_NEVER);
    assert_true(t > 1000);
    assert_true(t <= period_ns(1) + 1000);
    /* just before the predicted time nothing is pending, at it the tick is */
    unsigned n = o.irq_changes[0];
    vm_devices_advance(&d, t - 1);
    vm_devices_advance(&d, t);
    vm_devices_advance(&d, period_ns(1) + 1000);
    assert_true(o.irq_changes[0] > n);
}

static void test_missed_ticks_coalesce(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    linux_pic_init(&d, 0);
    linux_pit_periodic(&d, 0);
    vm_devices_advance(&d, period_ns(10) + 2000); /* ten periods at once */
    assert_int_equal(vm_devices_ack(&d, period_ns(10) + 2000), 0x30);
    out8(&d, 0x20, 0x60, period_ns(10) + 2100);
    assert_false(vm_devices_intr(&d)); /* one latched edge, not ten */
}

static void test_com1_output_reaches_hook(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    const char *msg = "Linux version 6.1";
    for (const char *p = msg; *p; p++) {
        assert_true(in8(&d, 0x3fd, 0) & 0x20); /* THRE */
        out8(&d, 0x3f8, (uint8_t)*p, 0);
    }
    assert_int_equal(o.ntx, strlen(msg));
    assert_memory_equal(o.tx, msg, strlen(msg));
}

static void test_com1_rx_interrupt_is_irq4_vector_0x34(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    linux_pic_init(&d, 0);
    out8(&d, 0x21, 0xea, 0);  /* also unmask IRQ4 */
    out8(&d, 0x3fb, 0x03, 0); /* 8N1 */
    out8(&d, 0x3fc, 0x0b, 0); /* DTR RTS OUT2 */
    out8(&d, 0x3f9, 0x01, 0); /* ERBFI */
    assert_int_equal(vm_devices_com1_rx(&d, (const uint8_t *)"x", 1, 1000), 1);
    assert_true(o.irq_level[4]);
    assert_true(vm_devices_intr(&d));
    assert_int_equal(vm_devices_ack(&d, 1100), 0x34);
    assert_int_equal(in8(&d, 0x3f8, 1200), 'x');
    assert_false(o.irq_level[4]);
}

static void test_unknown_ports_all_ones_and_counted(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    uint32_t v = 0;
    assert_int_equal(vm_devices_io(&d, 0x2f8, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xff);
    assert_int_equal(vm_devices_io(&d, 0xb004, 2, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xffff);
    assert_int_equal(d.bus.unknown_reads, 2);
}

static void test_pci_host_bridge_visible(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    uint32_t v = 0x80000000u;
    vm_devices_io(&d, 0xcf8, 4, true, &v, 0);
    vm_devices_io(&d, 0xcfc, 4, false, &v, 0);
    assert_int_equal(v, 0x12378086u);
}

static void test_kbc_reset_pulse_is_a_platform_request(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    assert_false(in8(&d, 0x64, 0) & 0x02); /* input buffer empty */
    out8(&d, 0x64, 0xfe, 0);
    assert_int_equal(o.resets, 1);
    assert_true(d.requests & (1u << DEV_REQ_RESET));
}

static void test_time_never_goes_backwards(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    vm_devices_advance(&d, 5000);
    vm_devices_advance(&d, 100);
    assert_int_equal(d.now_ns, 5000);
}

/* Run the same workload on two device sets, one of them restored from a
 * checkpoint of the other taken mid-way: every later output must match. */
static void workload(struct vm_devices *d, uint64_t from, uint64_t to, uint8_t *trace, size_t *n)
{
    for (uint64_t t = from; t < to; t += 37000) {
        vm_devices_advance(d, t);
        if (vm_devices_intr(d)) {
            trace[(*n)++] = vm_devices_ack(d, t);
            out8(d, 0x20, 0x20, t);
        }
        out8(d, 0x43, 0x00, t);
        trace[(*n)++] = in8(d, 0x40, t);
        trace[(*n)++] = in8(d, 0x40, t);
        trace[(*n)++] = in8(d, 0x61, t);
        out8(d, 0x70, 0x00, t);
        trace[(*n)++] = in8(d, 0x71, t);
        trace[(*n)++] = in8(d, 0x3fd, t);
    }
}

static void test_checkpoint_restore_replays_identically(void **st)
{
    (void)st;
    static struct vm_devices a, b;
    struct obs oa, ob;
    setup(&a, &oa);
    setup(&b, &ob);
    linux_pic_init(&a, 0);
    linux_pit_periodic(&a, 0);
    static uint8_t ta[8192], tb[8192];
    size_t na = 0, nb = 0;
    workload(&a, 0, 20000000, ta, &na);

    static uint8_t blob[VM_DEVICES_SAVE_MAX];
    size_t len = vm_devices_save(&a, blob, sizeof blob);
    assert_true(len > 0);
    assert_int_equal(vm_devices_restore(&b, blob, len), 0);

    /* a second save of the restored set is byte-identical */
    static uint8_t blob2[VM_DEVICES_SAVE_MAX];
    assert_int_equal(vm_devices_save(&b, blob2, sizeof blob2), len);
    assert_memory_equal(blob, blob2, len);

    na = 0;
    workload(&a, 20000000, 60000000, ta, &na);
    workload(&b, 20000000, 60000000, tb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, na);
}

static void test_bad_blobs_leave_state_untouched(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    linux_pic_init(&d, 0);
    static uint8_t before[VM_DEVICES_SAVE_MAX], blob[VM_DEVICES_SAVE_MAX];
    size_t len = vm_devices_save(&d, before, sizeof before);
    assert_true(len > 0);
    memcpy(blob, before, len);

    assert_int_equal(vm_devices_restore(&d, blob, len / 2), -1); /* truncated */
    blob[0] ^= 0xff;                                             /* bad tag */
    assert_int_equal(vm_devices_restore(&d, blob, len), -1);
    assert_int_equal(vm_devices_restore(&d, NULL, 0), -1);

    static uint8_t after[VM_DEVICES_SAVE_MAX];
    assert_int_equal(vm_devices_save(&d, after, sizeof after), len);
    assert_memory_equal(before, after, len);
    assert_int_equal(vm_devices_save(&d, after, 16), 0); /* too small a buffer */
}

/* Each bus range carries the IRQ its device drives (the recorder copies it
 * into the trace header): PIT 0, 8042 1, COM1 its configured line, RTC 8,
 * the rest none. */
static void test_ranges_carry_their_irq(void **state)
{
    (void)state;
    static struct vm_devices d;
    const struct vm_devices_config cfg = {.com1_irq = 3};
    vm_devices_init(&d, &cfg, NULL, 0);
    unsigned seen = 0;
    for (unsigned i = 0; i < d.bus.n; i++) {
        const struct iobus_range *r = &d.bus.r[i];
        int want = !strcmp(r->name, "pit")                                       ? 0
                   : !strcmp(r->name, "kbc-data") || !strcmp(r->name, "kbc-cmd") ? 1
                   : !strcmp(r->name, "com1")                                    ? 3
                   : !strcmp(r->name, "cmos")                                    ? 8
                                                                                 : -1;
        assert_int_equal(r->irq, want);
        seen += want >= 0;
    }
    assert_int_equal(seen, 5);
}

/* ---- the advance fast path (vm_devices_advance skips the device ticks
 * while no output can change) ---- */

/* After every advance the IRQ0 line the hooks reported is the PIT's OUT0 at
 * that instant, falls included: the fast path skips no output change (as
 * when every advance ticked every device). Mode 2 (OUT low one clock before
 * the reload), mode 3 (square wave, low half), mode 4 (one-clock strobe). */
static void check_irq0_follows_out0(uint8_t control, uint16_t count, unsigned min_lows)
{
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    out8(&d, 0x43, control, 1000);
    out8(&d, 0x40, (uint8_t)count, 1000);
    out8(&d, 0x40, (uint8_t)(count >> 8), 1000);
    unsigned lows = 0;
    for (uint64_t t = 1000; t < 1000 + 3 * count * 839ull; t += 97) {
        unsigned before = o.irq_changes[0];
        vm_devices_advance(&d, t);
        if (o.irq_changes[0] != before && !o.irq_level[0])
            lows++;
        assert_int_equal(o.irq_level[0], pit_out(&d.pit, 0, t));
    }
    assert_true(lows >= min_lows);
}

static void test_fast_path_skips_no_irq0_change(void **state)
{
    (void)state;
    check_irq0_follows_out0(0x34, 100, 2); /* mode 2 */
    check_irq0_follows_out0(0x36, 101, 2); /* mode 3, odd count */
    check_irq0_follows_out0(0x38, 100, 1); /* mode 4: strobe once */
}

/* Many small advances then vm_devices_sync() give the state of one advance
 * to the same instant, byte for byte (what checkpoints compare), with the
 * PIT periodic, the RTC periodic interrupt and a UART timeout pending. */
static void test_sync_state_is_independent_of_the_steps(void **state)
{
    (void)state;
    static struct vm_devices a, b;
    struct obs oa, ob;
    setup(&a, &oa);
    setup(&b, &ob);
    struct vm_devices *both[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        struct vm_devices *d = both[i];
        out8(d, 0x43, 0x34, 0);
        out8(d, 0x40, 0x9c, 0);
        out8(d, 0x40, 0x2e, 0);
        out8(d, 0x70, 0x0a, 0);
        out8(d, 0x71, 0x26, 0); /* 1024 Hz */
        out8(d, 0x70, 0x0b, 0);
        out8(d, 0x71, 0x42, 0);  /* PIE, 24 h */
        out8(d, 0x3f9, 0x01, 0); /* ERBFI */
        out8(d, 0x3fc, 0x08, 0); /* OUT2 */
        uint8_t c = 'x';
        vm_devices_com1_rx(d, &c, 1, 0);
    }
    for (uint64_t t = 1; t <= 3000000; t += 1237)
        vm_devices_advance(&a, t);
    vm_devices_advance(&a, 3000000);
    vm_devices_advance(&b, 3000000);
    vm_devices_sync(&a);
    vm_devices_sync(&b);
    static uint8_t ba[VM_DEVICES_SAVE_MAX], bb[VM_DEVICES_SAVE_MAX];
    size_t na = vm_devices_save(&a, ba, sizeof ba), nb = vm_devices_save(&b, bb, sizeof bb);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na);
    assert_int_equal(oa.irq_level[0], ob.irq_level[0]);
    assert_int_equal(oa.intr, ob.intr);
}

/* The cached deadlines answer what vm_devices_next_event_ns() computes,
 * through port accesses, advances, acknowledges and RX. */
static void test_cached_next_event_matches(void **state)
{
    (void)state;
    static struct vm_devices d;
    struct obs o;
    setup(&d, &o);
    linux_pic_init(&d, 0);
    out8(&d, 0x21, 0xe8, 0);
    uint64_t t = 0;
    for (unsigned i = 0; i < 400; i++) {
        t += 1000 + (i * 7919) % 50000;
        switch (i % 7) {
        case 0:
            out8(&d, 0x43, (uint8_t)(0x30 | ((i / 7) % 6) << 1), t), out8(&d, 0x40, 200, t),
                out8(&d, 0x40, 0, t);
            break;
        case 1: out8(&d, 0x70, 0x0c, t), in8(&d, 0x71, t); break;
        case 2: vm_devices_advance(&d, t); break;
        case 3:
            if (vm_devices_intr(&d)) {
                vm_devices_ack(&d, t);
                out8(&d, 0x20, 0x20, t);
            }
            break;
        case 4: {
            uint8_t c = (uint8_t)i;
            vm_devices_com1_rx(&d, &c, 1, t);
            break;
        }
        case 5: out8(&d, 0x3f9, (uint8_t)(i & 1), t), out8(&d, 0x3fc, 0x08, t); break;
        default: out8(&d, 0x80, (uint8_t)i, t); break;
        }
        for (uint64_t q = d.now_ns; q < d.now_ns + 3000000; q += 700001)
            assert_int_equal(vm_devices_next_event_cached(&d, q), vm_devices_next_event_ns(&d, q));
    }
}

/* Each device's cached deadline follows an access to that device alone
 * (the cache recomputes only the devices touched since): with one device's
 * deadline pending at a time, an access that moves it shows in the cached
 * answer. A device whose port accesses, or COM1 input, left its own deadline
 * marked fresh would answer the old one. */
static uint64_t cached_checked(struct vm_devices *d)
{
    uint64_t c = vm_devices_next_event_cached(d, d->now_ns);
    assert_int_equal(c, vm_devices_next_event_ns(d, d->now_ns));
    return c;
}

static void test_cached_deadline_follows_each_device(void **state)
{
    (void)state;
    static struct vm_devices d;
    struct obs o;
    /* PIT channel 0: mode 2 with count 1000, then mode 0 with count 16. */
    setup(&d, &o);
    assert_true(cached_checked(&d) == TIME_NEVER);
    out8(&d, 0x43, 0x34, 1000);
    out8(&d, 0x40, 0xe8, 1000);
    out8(&d, 0x40, 0x03, 1000);
    uint64_t was = cached_checked(&d);
    assert_true(was != TIME_NEVER);
    out8(&d, 0x43, 0x30, 2000);
    out8(&d, 0x40, 0x10, 2000);
    out8(&d, 0x40, 0x00, 2000);
    assert_true(cached_checked(&d) != was);
    /* COM1, FIFO on with trigger level 4: one byte arms the character
     * timeout (a deadline); reading it leaves nothing to time out. */
    setup(&d, &o);
    out8(&d, 0x3fa, 0x41, 1000);
    out8(&d, 0x3f9, 0x01, 1000); /* ERBFI */
    out8(&d, 0x3fc, 0x08, 1000); /* OUT2 */
    assert_true(cached_checked(&d) == TIME_NEVER);
    uint8_t c = 'x';
    vm_devices_com1_rx(&d, &c, 1, 2000);
    assert_true(cached_checked(&d) != TIME_NEVER);
    assert_int_equal(in8(&d, 0x3f8, 3000), 'x');
    assert_true(cached_checked(&d) == TIME_NEVER);
    /* RTC: periodic interrupt at 1024 Hz, then at 2 Hz. */
    setup(&d, &o);
    out8(&d, 0x70, 0x0a, 1000);
    out8(&d, 0x71, 0x26, 1000);
    out8(&d, 0x70, 0x0b, 1000);
    out8(&d, 0x71, 0x42, 1000); /* PIE, 24 h */
    was = cached_checked(&d);
    assert_true(was != TIME_NEVER);
    out8(&d, 0x70, 0x0a, 2000);
    out8(&d, 0x71, 0x2f, 2000);
    assert_true(cached_checked(&d) != was);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_tick_reaches_cpu_as_vector_0x30),
        cmocka_unit_test(test_next_event_predicts_the_timer_tick),
        cmocka_unit_test(test_missed_ticks_coalesce),
        cmocka_unit_test(test_com1_output_reaches_hook),
        cmocka_unit_test(test_com1_rx_interrupt_is_irq4_vector_0x34),
        cmocka_unit_test(test_unknown_ports_all_ones_and_counted),
        cmocka_unit_test(test_pci_host_bridge_visible),
        cmocka_unit_test(test_kbc_reset_pulse_is_a_platform_request),
        cmocka_unit_test(test_time_never_goes_backwards),
        cmocka_unit_test(test_checkpoint_restore_replays_identically),
        cmocka_unit_test(test_bad_blobs_leave_state_untouched),
        cmocka_unit_test(test_ranges_carry_their_irq),
        cmocka_unit_test(test_fast_path_skips_no_irq0_change),
        cmocka_unit_test(test_sync_state_is_independent_of_the_steps),
        cmocka_unit_test(test_cached_next_event_matches),
        cmocka_unit_test(test_cached_deadline_follows_each_device),
    };
    return cmocka_run_group_tests_name("vm_devices", tests, NULL, NULL);
}
