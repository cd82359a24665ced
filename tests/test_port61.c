/* Port 0x61 (system control port B) and the PIT channel 2 paths Linux uses
 * through it; plus IRQ0 from the PIT through the whole device set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/port61.h"
#include "hv/devs/vm_devices.h"

static uint64_t T(uint64_t k)
{
    return pit_clk_to_ns(k);
}

struct fx {
    struct pit pit;
    struct port61 p61;
};

static int setup(void **st)
{
    static struct fx f;
    memset(&f, 0xa5, sizeof f);
    pit_init(&f.pit, NULL, 0);
    port61_init(&f.p61, &f.pit);
    port61_reset(&f.p61, 0);
    *st = &f;
    return 0;
}

static uint8_t in61(struct fx *f, uint64_t t)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(port61_io(&f->p61, 0x61, 1, false, &v, t), DEV_IO_OK);
    assert_true(v <= 0xff);
    return (uint8_t)v;
}

static void out61(struct fx *f, uint8_t v, uint64_t t)
{
    uint32_t x = v;
    assert_int_equal(port61_io(&f->p61, 0x61, 1, true, &x, t), DEV_IO_OK);
}

static void outb(struct fx *f, uint16_t port, uint8_t v, uint64_t t)
{
    uint32_t x = v;
    assert_int_equal(pit_io(&f->pit, port, 1, true, &x, t), DEV_IO_OK);
}

static uint8_t inb(struct fx *f, uint16_t port, uint64_t t)
{
    uint32_t x = 0;
    assert_int_equal(pit_io(&f->pit, port, 1, false, &x, t), DEV_IO_OK);
    return (uint8_t)x;
}

/* A time inside a refresh half-period where bit 4 reads 0. */
#define QUIET 1000

static void test_reset_value(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in61(f, QUIET), 0x00); /* gate low, OUT2 low (mode 0, no count) */
    assert_false(pit_get_gate(&f->pit, 2));
}

static void test_writable_bits_read_back(void **st)
{
    struct fx *f = *st;
    out61(f, 0xff, QUIET);
    /* Bits 0-3 read back; 4 and 5 are status, 6-7 read 0 (no NMI sources). */
    assert_int_equal(in61(f, QUIET) & 0xcf, 0x0f);
    out61(f, 0x0a, QUIET);
    assert_int_equal(in61(f, QUIET), 0x0a);
    out61(f, 0xf4, QUIET);
    assert_int_equal(in61(f, QUIET), 0x04);
}

static void test_gate_bit_drives_channel2(void **st)
{
    struct fx *f = *st;
    out61(f, 0x01, QUIET);
    assert_true(pit_get_gate(&f->pit, 2));
    out61(f, 0x02, QUIET);
    assert_false(pit_get_gate(&f->pit, 2));
    /* The gate acts on the count: mode 0 pauses while bit 0 is clear. */
    out61(f, 0x01, T(10));
    outb(f, 0x43, 0xb0, T(10) + 100);
    outb(f, 0x42, 100, T(10) + 100);
    outb(f, 0x42, 0, T(10) + 100);
    out61(f, 0x00, T(11 + 40) + 1);
    assert_int_equal(inb(f, 0x42, T(500)), 60);
    assert_int_equal(inb(f, 0x42, T(500)), 0);
    out61(f, 0x01, T(1000) + 1);
    assert_int_equal(inb(f, 0x42, T(1000) + 2), 60); /* LSB then MSB */
    assert_int_equal(inb(f, 0x42, T(1000) + 2), 0);
    assert_int_equal(inb(f, 0x42, T(1010)), 50);
}

static void test_refresh_toggle_from_time(void **st)
{
    struct fx *f = *st;
    /* Bit 4 flips every 15.085 us of virtual time, whatever the reads. */
    for (uint64_t i = 0; i < 200; i++) {
        uint64_t edge = i * 15085;
        bool hi = i & 1;
        if (i)
            assert_int_equal(in61(f, edge - 1) & 0x10, hi ? 0 : 0x10);
        assert_int_equal(in61(f, edge) & 0x10, hi ? 0x10 : 0);
        assert_int_equal(in61(f, edge) & 0x10, hi ? 0x10 : 0); /* a re-read changes nothing */
        assert_int_equal(in61(f, edge + 15084) & 0x10, hi ? 0x10 : 0);
    }
    /* Far in the future it is still a pure function of time. */
    uint64_t t = 3600ull * NS_PER_SEC;
    assert_int_equal(in61(f, t) & 0x10, (t / 15085) & 1 ? 0x10 : 0);
    /* 1000 toggles per 15.085 ms. */
    unsigned flips = 0;
    bool last = false;
    for (uint64_t ns = 0; ns < 15085000; ns += 997) {
        bool b = in61(f, ns) & 0x10;
        flips += b != last;
        last = b;
    }
    assert_int_equal(flips, 999);
}

static void test_bit5_follows_out2(void **st)
{
    struct fx *f = *st;
    out61(f, 0x01, 0);
    /* Channel 2 as the PC speaker: mode 3, count 8 -> 4 clocks high, 4 low. */
    outb(f, 0x43, 0xb6, T(100) + 50);
    outb(f, 0x42, 8, T(100) + 50);
    outb(f, 0x42, 0, T(100) + 50);
    for (uint64_t j = 0; j < 40; j++) {
        uint64_t t = T(101 + j);
        assert_int_equal(in61(f, t) & 0x20, j % 8 < 4 ? 0x20 : 0);
        assert_int_equal(in61(f, t) & 0x20, pit_out(&f->pit, 2, t) ? 0x20 : 0);
    }
    /* Gate low forces OUT2 high in mode 3. */
    assert_int_equal(in61(f, T(145) + 1) & 0x20, 0);
    out61(f, 0x00, T(145) + 1);
    assert_int_equal(in61(f, T(145) + 1) & 0x20, 0x20);
    assert_int_equal(in61(f, T(500)) & 0x20, 0x20);
}

static void test_bad_size_and_port(void **st)
{
    struct fx *f = *st;
    uint32_t v = 0xffff;
    assert_int_equal(port61_io(&f->p61, 0x61, 2, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(port61_io(&f->p61, 0x61, 4, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(port61_io(&f->p61, 0x62, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(in61(f, QUIET), 0x00); /* the refused write changed nothing */
    assert_false(pit_get_gate(&f->pit, 2));
}

static void test_reset_drops_gate(void **st)
{
    struct fx *f = *st;
    out61(f, 0x0d, QUIET);
    assert_true(pit_get_gate(&f->pit, 2));
    port61_reset(&f->p61, QUIET + 1);
    assert_false(pit_get_gate(&f->pit, 2));
    assert_int_equal(in61(f, QUIET + 2), 0x00);
}

static void test_linux_gate_setup_sequence(void **st)
{
    struct fx *f = *st;
    out61(f, 0x0e, QUIET); /* speaker on, check enables set */
    /* tsc.c: outb((inb(0x61) & ~0x02) | 0x01, 0x61) */
    uint8_t v = in61(f, QUIET);
    out61(f, (uint8_t)((v & ~0x02) | 0x01), QUIET);
    assert_int_equal(in61(f, QUIET) & 0x0f, 0x0d);
    assert_true(pit_get_gate(&f->pit, 2));
}

static void test_linux_pit_calibrate_tsc(void **st)
{
    struct fx *f = *st;
    /* pit_calibrate_tsc(): mode 0 with CAL_LATCH = 0x2e9b (10 ms), then
     * spin until port 0x61 bit 5 (OUT2) goes high, >= 1000 loops. */
    uint64_t t = 5 * NS_PER_SEC + 123;
    uint8_t v = in61(f, t);
    out61(f, (uint8_t)((v & ~0x02) | 0x01), t);
    outb(f, 0x43, 0xb0, t);
    outb(f, 0x42, 0x9b, t);
    outb(f, 0x42, 0x2e, t);
    uint64_t L = pit_ns_to_clk(t) + 1;
    unsigned loops = 0;
    while (!(in61(f, t) & 0x20)) {
        loops++;
        t += 2000;
        assert_true(loops < 100000);
    }
    assert_true(loops >= 1000);
    /* OUT2 went high exactly at clock L + 0x2e9b. */
    assert_true(t >= T(L + 0x2e9b) && t < T(L + 0x2e9b) + 2000);
    assert_false(pit_out(&f->pit, 2, T(L + 0x2e9b) - 1));
    /* 11932 clocks from the write: 10.000 ms. */
    uint64_t d = T(L + 0x2e9b) - (5 * NS_PER_SEC + 123);
    assert_true(d > 9999000 && d < 10001000);
    assert_true(in61(f, t + 50 * 1000000ull) & 0x20); /* stays high */
}

static size_t save61(const struct port61 *p, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    port61_save(p, &s);
    return s.err ? 0 : sv_len(&s);
}

static int restore61(struct port61 *p, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return port61_restore(p, &s);
}

static void test_save_restore(void **st)
{
    struct fx *f = *st;
    out61(f, 0x0b, QUIET);
    uint8_t buf[32];
    size_t n = save61(&f->p61, buf, sizeof buf);
    assert_int_equal(n, 11);
    uint8_t small[32];
    assert_int_equal(save61(&f->p61, small, n - 1), 0);
    struct pit other;
    pit_init(&other, NULL, 0);
    struct port61 q;
    port61_init(&q, &other);
    assert_int_equal(restore61(&q, buf, n), 0);
    assert_ptr_equal(q.pit, &other); /* wiring untouched */
    assert_int_equal(q.reg, 0x0b);
    /* Same reads from the same time on (the PIT carries the gate itself). */
    pit_set_gate(&other, 2, true, QUIET);
    for (uint64_t t = QUIET; t < 200000; t += 777) {
        uint32_t a = 0, b = 0;
        port61_io(&f->p61, 0x61, 1, false, &a, t);
        port61_io(&q, 0x61, 1, false, &b, t);
        assert_int_equal(a, b);
    }
}

static void test_restore_rejects_corrupt(void **st)
{
    struct fx *f = *st;
    out61(f, 0x05, QUIET);
    uint8_t good[32], bad[32];
    size_t n = save61(&f->p61, good, sizeof good);
    for (size_t len = 0; len < n; len++)
        assert_int_equal(restore61(&f->p61, good, len), -1);
    static const struct {
        size_t off;
        uint8_t val;
    } cases[] = {{0, 'Q'}, {4, 2}, {4, 0}, {10, 0x10}, {10, 0x80}, {6, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, good, n);
        bad[n] = 0;
        bad[cases[i].off] = cases[i].val;
        if (restore61(&f->p61, bad, cases[i].off == 6 ? n + 1 : n) != -1)
            fail_msg("corrupt case %zu accepted", i);
    }
    assert_int_equal(f->p61.reg, 0x05);
    assert_ptr_equal(f->p61.pit, &f->pit);
}

/* ---- through the whole device set ---- */

static void io(struct vm_devices *d, uint16_t port, uint8_t v, uint64_t t)
{
    uint32_t x = v;
    assert_int_equal(vm_devices_io(d, port, 1, true, &x, t), DEV_IO_OK);
}

static uint8_t ior(struct vm_devices *d, uint16_t port, uint64_t t)
{
    uint32_t x = 0;
    assert_int_equal(vm_devices_io(d, port, 1, false, &x, t), DEV_IO_OK);
    return (uint8_t)x;
}

static void test_vm_devices_ch2_msb_and_irq0(void **st)
{
    (void)st;
    static struct vm_devices d;
    vm_devices_init(&d, NULL, NULL, 0);
    uint64_t t = 1000000;
    /* quick_pit_calibrate through the bus. */
    uint8_t v = ior(&d, 0x61, t);
    io(&d, 0x61, (uint8_t)((v & ~0x02) | 0x01), t);
    io(&d, 0x43, 0xb0, t);
    io(&d, 0x42, 0xff, t);
    io(&d, 0x42, 0xff, t);
    uint64_t L = pit_ns_to_clk(t) + 1;
    for (uint64_t j = 0; j < 4000; j += 37) {
        ior(&d, 0x42, T(L + j));
        assert_int_equal(ior(&d, 0x42, T(L + j)), (0xffff - j) >> 8);
    }
    /* Master PIC as Linux programs it, IRQ0 unmasked; PIT ch0 at 250 Hz. */
    t = T(L + 5000);
    static const uint8_t icw[] = {0x11, 0x30, 0x04, 0x01};
    io(&d, 0x20, icw[0], t);
    for (int i = 1; i < 4; i++)
        io(&d, 0x21, icw[i], t);
    io(&d, 0x21, 0xfe, t);
    io(&d, 0x43, 0x34, t);
    io(&d, 0x40, 0xa5, t);
    io(&d, 0x40, 0x12, t);
    uint64_t L0 = pit_ns_to_clk(t) + 1;
    /* The control word raised OUT0: one pending request; take it and EOI. */
    if (vm_devices_intr(&d)) {
        assert_int_equal(vm_devices_ack(&d, t), 0x30);
        io(&d, 0x20, 0x60, t);
    }
    for (uint64_t m = 1; m <= 20; m++) {
        uint64_t next = vm_devices_next_event_ns(&d, t);
        assert_true(next <= T(L0 + m * 0x12a5));
        vm_devices_advance(&d, T(L0 + m * 0x12a5) - 1);
        assert_false(vm_devices_intr(&d));
        vm_devices_advance(&d, T(L0 + m * 0x12a5));
        assert_true(vm_devices_intr(&d));
        assert_int_equal(vm_devices_ack(&d, T(L0 + m * 0x12a5)), 0x30);
        io(&d, 0x20, 0x60, T(L0 + m * 0x12a5));
        t = T(L0 + m * 0x12a5);
    }
}

static void test_vm_devices_checkpoint_mid_count(void **st)
{
    (void)st;
    static struct vm_devices a, b;
    static uint8_t blob[VM_DEVICES_SAVE_MAX];
    vm_devices_init(&a, NULL, NULL, 0);
    vm_devices_init(&b, NULL, NULL, 0);
    uint64_t t = 2000000;
    io(&a, 0x61, 0x01, t);
    io(&a, 0x43, 0xb0, t);
    io(&a, 0x42, 0x9b, t);
    io(&a, 0x42, 0x2e, t);
    io(&a, 0x43, 0x34, t);
    io(&a, 0x40, 0xa5, t);
    io(&a, 0x40, 0x12, t);
    t += 3000000;     /* mid-count on both channels */
    ior(&a, 0x42, t); /* read flip-flop half-way */
    size_t n = vm_devices_save(&a, blob, sizeof blob);
    assert_true(n > 0);
    assert_int_equal(vm_devices_restore(&b, blob, n), 0);
    for (int i = 0; i < 2000; i++) {
        t += 7919;
        assert_int_equal(ior(&a, 0x61, t) & 0x3f, ior(&b, 0x61, t) & 0x3f);
        assert_int_equal(ior(&a, 0x42, t), ior(&b, 0x42, t));
        assert_int_equal(ior(&a, 0x40, t), ior(&b, 0x40, t));
        assert_true(vm_devices_next_event_ns(&a, t) == vm_devices_next_event_ns(&b, t));
    }
    /* A truncated checkpoint is refused and leaves the devices alone. */
    assert_int_equal(vm_devices_restore(&b, blob, n - 1), -1);
    assert_int_equal(ior(&a, 0x42, t + 1), ior(&b, 0x42, t + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_value, setup),
        cmocka_unit_test_setup(test_writable_bits_read_back, setup),
        cmocka_unit_test_setup(test_gate_bit_drives_channel2, setup),
        cmocka_unit_test_setup(test_refresh_toggle_from_time, setup),
        cmocka_unit_test_setup(test_bit5_follows_out2, setup),
        cmocka_unit_test_setup(test_bad_size_and_port, setup),
        cmocka_unit_test_setup(test_reset_drops_gate, setup),
        cmocka_unit_test_setup(test_linux_gate_setup_sequence, setup),
        cmocka_unit_test_setup(test_linux_pit_calibrate_tsc, setup),
        cmocka_unit_test_setup(test_save_restore, setup),
        cmocka_unit_test_setup(test_restore_rejects_corrupt, setup),
        cmocka_unit_test(test_vm_devices_ch2_msb_and_irq0),
        cmocka_unit_test(test_vm_devices_checkpoint_mid_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
