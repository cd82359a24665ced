/* Intel 8254 PIT model: datasheet waveforms and the byte sequences Linux 6.1 sends.
 *
 * Time convention: clock edge k happens at T(k) = ceil(k * 1e9 / 1193182) ns.
 * A write at T(K) + 100 ns falls between edges K and K+1, so a count written
 * then is loaded by edge L = K + 1. Expected values below come from the
 * datasheet text ("OUT goes high N+1 CLK pulses after the count is written",
 * ...), expressed in edges after L. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/pit8254.h"

/* Independent oracle for the ns -> clock mapping (host only: __int128). */
static uint64_t oracle_clk(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_SEC);
}

static uint64_t T(uint64_t k)
{
    return pit_clk_to_ns(k);
}

/* IRQ0 recorder: fails if called without a level change. */
struct rec {
    unsigned calls, rises, falls;
    bool level;
};

static void rec_set(void *ctx, unsigned line, bool level)
{
    struct rec *r = ctx;
    assert_int_equal(line, 0);
    assert_true(level != r->level);
    r->level = level;
    r->calls++;
    if (level)
        r->rises++;
    else
        r->falls++;
}

struct fx {
    struct pit p;
    struct rec r;
};

static int setup(void **st)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    struct irq_sink s = {rec_set, &f.r};
    pit_init(&f.p, &s, 0);
    *st = &f;
    return 0;
}

static void outb(struct pit *p, uint16_t port, uint8_t v, uint64_t t)
{
    uint32_t x = v;
    assert_int_equal(pit_io(p, port, 1, true, &x, t), DEV_IO_OK);
}

static uint8_t inb(struct pit *p, uint16_t port, uint64_t t)
{
    uint32_t x = 0xdeadbeef;
    assert_int_equal(pit_io(p, port, 1, false, &x, t), DEV_IO_OK);
    assert_true(x <= 0xff);
    return (uint8_t)x;
}

/* LSB then MSB through the read flip-flop, both at time t. */
static uint16_t in16(struct pit *p, uint16_t port, uint64_t t)
{
    uint8_t lo = inb(p, port, t);
    return (uint16_t)(lo | inb(p, port, t) << 8);
}

/* Control word, then an LSB/MSB count, all at T(K) + 100: returns L = K + 1. */
static uint64_t program(struct pit *p, unsigned ch, uint8_t cw, uint16_t count, uint64_t K)
{
    uint64_t t = T(K) + 100;
    outb(p, 0x43, cw, t);
    outb(p, (uint16_t)(0x40 + ch), (uint8_t)count, t);
    outb(p, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8), t);
    return K + 1;
}

static uint8_t status(struct pit *p, unsigned ch, uint64_t t)
{
    outb(p, 0x43, (uint8_t)(0xe0 | 2u << ch), t); /* read-back: status only */
    return inb(p, (uint16_t)(0x40 + ch), t);
}

/* ---- time mapping ---- */

static void test_clock_mapping_exact(void **st)
{
    (void)st;
    assert_int_equal(pit_ns_to_clk(NS_PER_SEC), PIT_HZ);
    assert_int_equal(pit_ns_to_clk(838), 0); /* first edge at 838.09 ns */
    assert_int_equal(pit_ns_to_clk(839), 1);
    assert_int_equal(T(1), 839);
    assert_int_equal(T(PIT_HZ), NS_PER_SEC);
    static const uint64_t ks[] = {1,
                                  2,
                                  255,
                                  256,
                                  4773,
                                  65536,
                                  1193181,
                                  1193183,
                                  123456789ull,
                                  1ull << 40,
                                  (1ull << 50) + 12345};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        uint64_t k = ks[i];
        assert_int_equal(pit_ns_to_clk(T(k)), k);
        assert_int_equal(pit_ns_to_clk(T(k) - 1), k - 1);
        assert_int_equal(pit_ns_to_clk(T(k)), oracle_clk(T(k)));
    }
    /* Against the 128-bit oracle at times far past where ns * PIT_HZ overflows. */
    uint64_t prev = 0;
    for (uint64_t ns = 0; ns < (1ull << 62); ns = ns * 3 + 7919) {
        assert_int_equal(pit_ns_to_clk(ns), oracle_clk(ns));
        assert_true(pit_ns_to_clk(ns) >= prev);
        prev = pit_ns_to_clk(ns);
    }
    assert_true(pit_clk_to_ns(UINT64_MAX) == TIME_NEVER);
    assert_true(pit_clk_to_ns(UINT64_MAX / 2) == TIME_NEVER);
}

/* ---- reset / port decoding ---- */

static void test_reset_state(void **st)
{
    struct fx *f = *st;
    assert_false(pit_out(&f->p, 0, 5000));
    assert_false(f->r.level);
    assert_true(pit_next_event_ns(&f->p, 0) == TIME_NEVER);
    assert_true(pit_get_gate(&f->p, 0));
    assert_true(pit_get_gate(&f->p, 1));
    assert_false(pit_get_gate(&f->p, 2));
    assert_int_equal(inb(&f->p, 0x43, 100), 0xff);
    /* Control words 0x30/0x70/0xb0 with no count: mode 0, OUT low, null count. */
    assert_int_equal(status(&f->p, 0, 200), 0x70);
    assert_int_equal(status(&f->p, 2, 200), 0x70);
    /* Gates 0/1 are tied high: pit_set_gate ignores them. */
    pit_set_gate(&f->p, 0, false, 300);
    assert_true(pit_get_gate(&f->p, 0));
    pit_set_gate(&f->p, 2, true, 300);
    assert_true(pit_get_gate(&f->p, 2));
}

static void test_reset_keeps_gates_drops_irq(void **st)
{
    struct fx *f = *st;
    pit_set_gate(&f->p, 2, true, T(1));
    uint64_t L = program(&f->p, 0, 0x34, 100, 10);
    program(&f->p, 2, 0xb6, 100, 10);
    assert_true(f->r.level);
    unsigned calls = f->r.calls;
    pit_reset(&f->p, T(L + 50));
    assert_false(f->r.level); /* mode 0, no count: OUT0 low */
    assert_int_equal(f->r.calls, calls + 1);
    assert_true(pit_get_gate(&f->p, 2)); /* an input pin, not PIT state */
    assert_true(pit_next_event_ns(&f->p, T(L + 50)) == TIME_NEVER);
    assert_false(pit_out(&f->p, 2, T(L + 60)));
    assert_int_equal(status(&f->p, 2, T(L + 60)), 0x70);
    pit_tick(&f->p, T(L + 100000));
    assert_int_equal(f->r.calls, calls + 1);
}

static void test_bad_sizes_and_ports(void **st)
{
    struct fx *f = *st;
    uint32_t v = 0x1234;
    assert_int_equal(pit_io(&f->p, 0x40, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pit_io(&f->p, 0x43, 4, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pit_io(&f->p, 0x44, 1, false, &v, 0), DEV_IO_UNMAPPED);
    /* The refused word write must not have been taken as a control word. */
    assert_int_equal(status(&f->p, 0, 10), 0x70);
}

/* ---- mode 0 ---- */

static void test_mode0_out_and_count(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x30, 100, 1000);
    assert_false(pit_out(&f->p, 0, T(L) - 1));
    assert_int_equal(in16(&f->p, 0x40, T(L)), 100); /* the load clock does not decrement */
    assert_int_equal(in16(&f->p, 0x40, T(L + 1)), 99);
    assert_int_equal(in16(&f->p, 0x40, T(L + 99)), 1);
    assert_false(pit_out(&f->p, 0, T(L + 100) - 1));
    /* OUT goes high N+1 clocks after the write: edge L + N. */
    assert_true(pit_out(&f->p, 0, T(L + 100)));
    assert_int_equal(in16(&f->p, 0x40, T(L + 100)), 0);
    assert_int_equal(in16(&f->p, 0x40, T(L + 101)), 0xffff); /* wraps, keeps counting */
    assert_true(pit_out(&f->p, 0, T(L + 100 + 65536 * 3)));
    assert_int_equal(in16(&f->p, 0x40, T(L + 300)), 0xffff - 199);
}

static void test_mode0_first_byte_stops_counting(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x30, 10, 50);
    assert_true(pit_out(&f->p, 0, T(L + 10)));
    /* Writing the LSB of a new count: counting stops and OUT goes low at once. */
    uint64_t t = T(L + 20) + 5;
    outb(&f->p, 0x40, 0x00, t);
    assert_false(pit_out(&f->p, 0, t));
    uint16_t held = in16(&f->p, 0x40, T(L + 30));
    assert_int_equal(held, (uint16_t)(10 - 20));
    assert_int_equal(in16(&f->p, 0x40, T(L + 400)), held);
    /* The MSB loads the new count (0x0200) on the next clock. */
    outb(&f->p, 0x40, 0x02, T(L + 500) + 5);
    assert_int_equal(in16(&f->p, 0x40, T(L + 501)), 0x200);
    assert_false(pit_out(&f->p, 0, T(L + 501 + 0x200) - 1));
    assert_true(pit_out(&f->p, 0, T(L + 501 + 0x200)));
}

static void test_mode0_irq_once(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x30, 500, 10);
    assert_true(pit_next_event_ns(&f->p, T(L)) == T(L + 500));
    pit_tick(&f->p, T(L + 500) - 1);
    assert_int_equal(f->r.rises, 0);
    pit_tick(&f->p, T(L + 500));
    assert_int_equal(f->r.rises, 1);
    assert_true(f->r.level);
    assert_true(pit_next_event_ns(&f->p, T(L + 500)) == TIME_NEVER);
    pit_tick(&f->p, T(L + 500 + 10 * 65536));
    assert_int_equal(f->r.calls, 1);
}

/* ---- mode 1 (channel 2, gate triggered) ---- */

static void test_mode1_one_shot_retrigger(void **st)
{
    struct fx *f = *st;
    program(&f->p, 2, 0xb2, 30, 100);
    assert_true(pit_out(&f->p, 2, T(200))); /* armed: OUT high, waits for a trigger */
    assert_true(pit_out(&f->p, 2, T(5000)));
    uint64_t G = 6000;
    pit_set_gate(&f->p, 2, true, T(G) + 50);
    assert_true(pit_out(&f->p, 2, T(G + 1) - 1));
    assert_false(pit_out(&f->p, 2, T(G + 1))); /* low on the clock after the trigger */
    assert_int_equal(in16(&f->p, 0x42, T(G + 1)), 30);
    assert_int_equal(in16(&f->p, 0x42, T(G + 11)), 20);
    /* Gate falls (no effect), rises again mid-pulse: the count restarts. */
    pit_set_gate(&f->p, 2, false, T(G + 10) + 5);
    assert_false(pit_out(&f->p, 2, T(G + 15)));
    pit_set_gate(&f->p, 2, true, T(G + 20) + 10);
    assert_false(pit_out(&f->p, 2, T(G + 31)));
    assert_false(pit_out(&f->p, 2, T(G + 51) - 1));
    assert_true(pit_out(&f->p, 2, T(G + 51))); /* N = 30 clocks after the retrigger load */
    /* A new count does not affect the finished one-shot until the next trigger. */
    outb(&f->p, 0x42, 5, T(G + 60));
    outb(&f->p, 0x42, 0, T(G + 60));
    assert_true(pit_out(&f->p, 2, T(G + 70)));
    pit_set_gate(&f->p, 2, false, T(G + 80));
    pit_set_gate(&f->p, 2, true, T(G + 90) + 1);
    assert_false(pit_out(&f->p, 2, T(G + 91)));
    assert_true(pit_out(&f->p, 2, T(G + 96)));
}

/* ---- mode 2 ---- */

static void test_mode2_waveform(void **st)
{
    struct fx *f = *st;
    const uint64_t N = 5;
    uint64_t L = program(&f->p, 0, 0x34, N, 777);
    assert_true(pit_out(&f->p, 0, T(L)));
    for (uint64_t m = 1; m <= 50; m++) {
        /* Low for exactly one clock: the clock at which the count is 1. */
        assert_true(pit_out(&f->p, 0, T(L + m * N - 1) - 1));
        assert_false(pit_out(&f->p, 0, T(L + m * N - 1)));
        assert_false(pit_out(&f->p, 0, T(L + m * N) - 1));
        assert_true(pit_out(&f->p, 0, T(L + m * N)));
    }
    static const uint16_t seq[] = {5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 5};
    for (unsigned j = 0; j < sizeof seq / sizeof seq[0]; j++)
        assert_int_equal(in16(&f->p, 0x40, T(L + j)), seq[j]);
}

static void test_mode2_count0_is_65536(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x34, 0, 3);
    assert_int_equal(in16(&f->p, 0x40, T(L)), 0);
    assert_int_equal(in16(&f->p, 0x40, T(L + 1)), 0xffff);
    assert_false(pit_out(&f->p, 0, T(L + 65535)));
    assert_true(pit_out(&f->p, 0, T(L + 65536)));
    assert_true(pit_next_event_ns(&f->p, T(L + 1)) == T(L + 65536));
}

static void test_mode2_new_count_at_period_end(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x34, 10, 40);
    /* Rewrite to 4 mid-period: the running period (ends at L+30) is kept. */
    outb(&f->p, 0x40, 4, T(L + 23) + 1);
    outb(&f->p, 0x40, 0, T(L + 23) + 1);
    /* Control-word edge, then L+10 and L+20 coalesced into one pulse. */
    unsigned r0 = f->r.rises;
    assert_int_equal(r0, 2);
    assert_int_equal(status(&f->p, 0, T(L + 29)) & 0x40, 0x40); /* null count: not loaded */
    assert_false(pit_out(&f->p, 0, T(L + 29)));
    assert_int_equal(f->r.rises, r0);
    /* Loaded at L+30; this access also delivers the period's edge. */
    assert_int_equal(status(&f->p, 0, T(L + 30)) & 0x40, 0);
    assert_int_equal(f->r.rises, r0 + 1);
    static const uint64_t rises[] = {34, 38, 42};
    uint64_t now = T(L + 30);
    for (unsigned i = 0; i < 3; i++) {
        uint64_t t = pit_next_event_ns(&f->p, now);
        assert_true(t == T(L + rises[i]));
        pit_tick(&f->p, t);
        assert_int_equal(f->r.rises, r0 + 2 + i);
        now = t;
    }
    assert_false(pit_out(&f->p, 0, T(L + 33)));
    assert_true(pit_out(&f->p, 0, T(L + 32)));
}

static void test_modes_6_7_alias_2_3(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x3c, 5, 10); /* mode 6 = mode 2 */
    assert_false(pit_out(&f->p, 0, T(L + 4)));
    assert_true(pit_out(&f->p, 0, T(L + 5)));
    assert_false(pit_out(&f->p, 0, T(L + 9)));
    /* The status reports the mode bits exactly as written (110). */
    assert_int_equal(status(&f->p, 0, T(L + 6)), 0x80 | 0x30 | 0x0c);
    L = program(&f->p, 1, 0x7e, 6, 100); /* mode 7 = mode 3 */
    assert_true(pit_out(&f->p, 1, T(L + 2)));
    assert_false(pit_out(&f->p, 1, T(L + 3)));
    assert_true(pit_out(&f->p, 1, T(L + 6)));
    assert_int_equal(status(&f->p, 1, T(L + 7)), 0x80 | 0x30 | 0x0e);
}

/* ---- mode 3 ---- */

static void test_mode3_even_square_wave(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x36, 10, 300);
    for (uint64_t m = 0; m < 20; m++) {
        for (uint64_t j = 0; j < 10; j++)
            assert_int_equal(pit_out(&f->p, 0, T(L + 10 * m + j)), j < 5);
    }
    /* Loaded with N, decremented by two per clock, reloaded at each half. */
    static const uint16_t seq[] = {10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10};
    for (unsigned j = 0; j < sizeof seq / sizeof seq[0]; j++)
        assert_int_equal(in16(&f->p, 0x40, T(L + j)), seq[j]);
}

static void test_mode3_odd_count(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x36, 7, 300);
    /* Odd N: high (N+1)/2 = 4 clocks, low (N-1)/2 = 3 clocks. */
    for (uint64_t m = 0; m < 20; m++) {
        for (uint64_t j = 0; j < 7; j++)
            assert_int_equal(pit_out(&f->p, 0, T(L + 7 * m + j)), j < 4);
    }
    /* N-1 is loaded; the count expires one clock before OUT goes low. */
    static const uint16_t seq[] = {6, 4, 2, 0, 6, 4, 2, 6};
    for (unsigned j = 0; j < sizeof seq / sizeof seq[0]; j++)
        assert_int_equal(in16(&f->p, 0x40, T(L + j)), seq[j]);
}

static void test_mode3_new_count_at_half_cycle(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x36, 10, 1000);
    /* In the high half (ends at L+15): the new count 6 takes over there,
     * starting with its low half (3 clocks), then high 3, low 3. */
    outb(&f->p, 0x40, 6, T(L + 12) + 1);
    outb(&f->p, 0x40, 0, T(L + 12) + 1);
    static const bool want[] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1};
    for (unsigned j = 0; j < sizeof want / sizeof want[0]; j++)
        assert_int_equal(pit_out(&f->p, 0, T(L + 12 + j)), want[j]);
    pit_tick(&f->p, T(L + 12) + 1);
    assert_true(pit_next_event_ns(&f->p, T(L + 12) + 1) == T(L + 18));
    pit_tick(&f->p, T(L + 18));
    assert_true(pit_next_event_ns(&f->p, T(L + 18)) == T(L + 24));
    /* In a low half: the new count starts with its high half. */
    L = program(&f->p, 1, 0x76, 10, 5000);
    outb(&f->p, 0x41, 4, T(L + 7) + 1);
    outb(&f->p, 0x41, 0, T(L + 7) + 1);
    static const bool want2[] = {0, 0, 0, 1, 1, 0, 0, 1, 1};
    for (unsigned j = 0; j < sizeof want2 / sizeof want2[0]; j++)
        assert_int_equal(pit_out(&f->p, 1, T(L + 7 + j)), want2[j]);
}

/* ---- modes 4 and 5 ---- */

static void test_mode4_strobe_and_irq(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x38, 20, 2000);
    assert_true(pit_out(&f->p, 0, T(L)));
    assert_true(pit_out(&f->p, 0, T(L + 20) - 1));
    assert_false(pit_out(&f->p, 0, T(L + 20))); /* N+1 clocks after the write */
    assert_true(pit_out(&f->p, 0, T(L + 21)));
    assert_true(pit_out(&f->p, 0, T(L + 20 + 65536)));
    /* The rising edge at the end of the strobe is the interrupt. */
    unsigned r0 = f->r.rises;
    assert_true(pit_next_event_ns(&f->p, T(L)) == T(L + 21));
    pit_tick(&f->p, T(L + 20)); /* inside the strobe: the line drops */
    assert_false(f->r.level);
    assert_true(pit_next_event_ns(&f->p, T(L + 20)) == T(L + 21));
    pit_tick(&f->p, T(L + 21));
    assert_int_equal(f->r.rises, r0 + 1);
    assert_true(pit_next_event_ns(&f->p, T(L + 21)) == TIME_NEVER);
    /* A count written during the strobe clock: the strobe still ends on the
     * next clock (the load), then the new count strobes N+1 clocks later. */
    uint64_t L2 = program(&f->p, 0, 0x38, 20, L + 1000);
    uint64_t t = T(L2 + 20) + 5;
    outb(&f->p, 0x40, 10, t);
    assert_false(pit_out(&f->p, 0, t));
    outb(&f->p, 0x40, 0, t);
    assert_false(pit_out(&f->p, 0, t));
    assert_true(pit_next_event_ns(&f->p, t) == T(L2 + 21));
    pit_tick(&f->p, T(L2 + 21));
    assert_true(pit_out(&f->p, 0, T(L2 + 21)));
    assert_false(pit_out(&f->p, 0, T(L2 + 31)));
    assert_true(pit_next_event_ns(&f->p, T(L2 + 21)) == T(L2 + 32));
}

static void test_mode5_gate_triggered_strobe(void **st)
{
    struct fx *f = *st;
    program(&f->p, 2, 0xba, 15, 10);
    assert_true(pit_out(&f->p, 2, T(100000)));
    uint64_t G = 200000;
    pit_set_gate(&f->p, 2, true, T(G) + 1);
    assert_true(pit_out(&f->p, 2, T(G + 16) - 1));
    assert_false(pit_out(&f->p, 2, T(G + 16))); /* N+1 clocks after the trigger */
    assert_true(pit_out(&f->p, 2, T(G + 17)));
    /* Retrigger before the strobe postpones it. */
    pit_set_gate(&f->p, 2, false, T(G + 30));
    pit_set_gate(&f->p, 2, true, T(G + 40) + 1);
    pit_set_gate(&f->p, 2, false, T(G + 45));
    pit_set_gate(&f->p, 2, true, T(G + 50) + 1);
    assert_true(pit_out(&f->p, 2, T(G + 56)));
    assert_false(pit_out(&f->p, 2, T(G + 66)));
}

/* ---- BCD ---- */

static void test_bcd_counting(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x31, 0x0100, 10); /* mode 0, BCD 100 */
    assert_int_equal(in16(&f->p, 0x40, T(L)), 0x0100);
    assert_int_equal(in16(&f->p, 0x40, T(L + 1)), 0x0099);
    assert_int_equal(in16(&f->p, 0x40, T(L + 55)), 0x0045);
    assert_false(pit_out(&f->p, 0, T(L + 99)));
    assert_true(pit_out(&f->p, 0, T(L + 100)));
    assert_int_equal(in16(&f->p, 0x40, T(L + 101)), 0x9999);
    assert_int_equal(status(&f->p, 0, T(L + 102)), 0x80 | 0x30 | 0x01);
    L = program(&f->p, 1, 0x71, 0x1250, 300); /* every digit weighs 10x the next */
    assert_int_equal(in16(&f->p, 0x41, T(L + 1)), 0x1249);
    assert_int_equal(in16(&f->p, 0x41, T(L + 51)), 0x1199);
    assert_false(pit_out(&f->p, 1, T(L + 1249)));
    assert_true(pit_out(&f->p, 1, T(L + 1250)));
    /* BCD count 0 is 10000. */
    L = program(&f->p, 0, 0x35, 0, 500);
    assert_int_equal(in16(&f->p, 0x40, T(L)), 0x0000);
    assert_int_equal(in16(&f->p, 0x40, T(L + 1)), 0x9999);
    assert_int_equal(in16(&f->p, 0x40, T(L + 1234)), 0x8766);
    assert_false(pit_out(&f->p, 0, T(L + 9999)));
    assert_true(pit_out(&f->p, 0, T(L + 10000)));
    assert_true(pit_next_event_ns(&f->p, T(L + 10000)) == T(L + 10000)); /* due, not ticked */
    pit_tick(&f->p, T(L + 10000));
    assert_true(pit_next_event_ns(&f->p, T(L + 10000)) == T(L + 20000));
}

/* ---- latches and flip-flops ---- */

static void test_counter_latch(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x34, 1000, 10);
    outb(&f->p, 0x43, 0x00, T(L + 100) + 5); /* latch ch0: 900 */
    assert_int_equal(inb(&f->p, 0x40, T(L + 500)), 900 & 0xff);
    outb(&f->p, 0x43, 0x00, T(L + 600)); /* second latch before the read: ignored */
    assert_int_equal(inb(&f->p, 0x40, T(L + 700)), 900 >> 8);
    /* Released: live reads again. */
    assert_int_equal(in16(&f->p, 0x40, T(L + 701)), 299);
    outb(&f->p, 0x43, 0x00, T(L + 702));
    assert_int_equal(in16(&f->p, 0x40, T(L + 900)), 298);
    /* The latch command does not change the mode. */
    assert_int_equal(status(&f->p, 0, T(L + 901)), 0x80 | 0x34);
    /* A control word resets the control logic: a pending latch is dropped. */
    outb(&f->p, 0x43, 0x00, T(L + 950));
    uint64_t L2 = program(&f->p, 0, 0x34, 0x4321, L + 960);
    assert_int_equal(in16(&f->p, 0x40, T(L2 + 1)), 0x4320);
}

static void test_readback_status_byte(void **st)
{
    struct fx *f = *st;
    uint64_t t = T(100) + 100;
    outb(&f->p, 0x43, 0x34, t);
    assert_int_equal(status(&f->p, 0, t), 0x80 | 0x40 | 0x34); /* OUT high, null count */
    outb(&f->p, 0x40, 0x10, t);
    assert_int_equal(status(&f->p, 0, t), 0x80 | 0x40 | 0x34); /* half a count: still null */
    outb(&f->p, 0x40, 0x00, t);
    assert_int_equal(status(&f->p, 0, t), 0x80 | 0x40 | 0x34); /* written, not yet loaded */
    assert_int_equal(status(&f->p, 0, T(101)), 0x80 | 0x34);   /* loaded by clock 101 */
    assert_int_equal(status(&f->p, 0, T(101 + 15)), 0x34);     /* OUT low: count is 1 */
    /* A second status latch before reading is ignored. */
    outb(&f->p, 0x43, 0xe2, T(101 + 15));
    outb(&f->p, 0x43, 0xe2, T(101 + 16));
    assert_int_equal(inb(&f->p, 0x40, T(101 + 17)), 0x34);
    /* Status gone: the next read is the count (LSB). */
    assert_int_equal(inb(&f->p, 0x40, T(101 + 17)), 16 - 1);
    /* Mode 1 on channel 2: null count until the gate trigger loads the CE. */
    outb(&f->p, 0x43, 0x92, T(300)); /* ch2, LSB only, mode 1 */
    outb(&f->p, 0x42, 9, T(300));
    assert_int_equal(status(&f->p, 2, T(400)), 0x80 | 0x40 | 0x12);
    pit_set_gate(&f->p, 2, true, T(500) + 3);
    assert_int_equal(status(&f->p, 2, T(501)), 0x12);
}

static void test_readback_count_and_status(void **st)
{
    struct fx *f = *st;
    uint64_t L0 = program(&f->p, 0, 0x34, 5000, 10);
    uint64_t L1 = program(&f->p, 1, 0x74, 3000, 10);
    pit_set_gate(&f->p, 2, true, 0);
    uint64_t L2 = program(&f->p, 2, 0xb0, 2000, 10);
    assert_true(L0 == L1 && L1 == L2);
    /* 0xc2: count and status of channel 0: status first, then LSB, MSB. */
    outb(&f->p, 0x43, 0xc2, T(L0 + 10));
    assert_int_equal(inb(&f->p, 0x40, T(L0 + 20)), 0x80 | 0x34);
    assert_int_equal(inb(&f->p, 0x40, T(L0 + 30)), (5000 - 10) & 0xff);
    assert_int_equal(inb(&f->p, 0x40, T(L0 + 40)), (5000 - 10) >> 8);
    /* 0xde: counts of all three channels at one instant. */
    outb(&f->p, 0x43, 0xde, T(L0 + 100));
    assert_int_equal(in16(&f->p, 0x40, T(L0 + 900)), 4900);
    assert_int_equal(in16(&f->p, 0x41, T(L0 + 900)), 2900);
    assert_int_equal(in16(&f->p, 0x42, T(L0 + 900)), 1900);
    /* 0xe8: status of channel 2 only; channel 0 reads live. */
    outb(&f->p, 0x43, 0xe8, T(L0 + 1000));
    assert_int_equal(inb(&f->p, 0x42, T(L0 + 1000)), 0x30);
    assert_int_equal(in16(&f->p, 0x40, T(L0 + 1000)), 4000);
    /* A read-back count latch on an already latched counter is ignored. */
    outb(&f->p, 0x43, 0x00, T(L0 + 1100));
    outb(&f->p, 0x43, 0xd2, T(L0 + 1200));
    assert_int_equal(in16(&f->p, 0x40, T(L0 + 1300)), 3900);
}

static void test_lsb_only_and_msb_only(void **st)
{
    struct fx *f = *st;
    uint64_t t = T(50) + 100;
    outb(&f->p, 0x43, 0x14, t); /* ch0, LSB only, mode 2 */
    outb(&f->p, 0x40, 0x20, t); /* N = 32, MSB implied 0 */
    assert_int_equal(inb(&f->p, 0x40, T(53)), 30);
    assert_int_equal(inb(&f->p, 0x40, T(53)), 30); /* no flip-flop: LSB again */
    assert_true(pit_out(&f->p, 0, T(51 + 32)));
    assert_false(pit_out(&f->p, 0, T(51 + 31)));
    outb(&f->p, 0x43, 0x24, t + T(1000)); /* ch0, MSB only, mode 2 */
    uint64_t K = pit_ns_to_clk(t + T(1000));
    outb(&f->p, 0x40, 0x01, t + T(1000)); /* N = 0x100 */
    assert_int_equal(inb(&f->p, 0x40, T(K + 1)), 0x01);
    assert_int_equal(inb(&f->p, 0x40, T(K + 2)), 0x00); /* 0xff */
    assert_false(pit_out(&f->p, 0, T(K + 256)));
    assert_true(pit_out(&f->p, 0, T(K + 257)));
    assert_int_equal(status(&f->p, 0, T(K + 258)), 0x80 | 0x24);
}

static void test_flipflops_independent(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x34, 0x1234, 10);
    uint64_t t = T(L + 0x34);
    /* Datasheet: read LSB, write LSB, read MSB, write MSB. */
    assert_int_equal(inb(&f->p, 0x40, t), 0x00);
    outb(&f->p, 0x40, 0x78, t);
    assert_int_equal(inb(&f->p, 0x40, t), 0x12);
    outb(&f->p, 0x40, 0x56, t);
    /* The new count 0x5678 takes effect at the end of the current period. */
    assert_true(pit_next_event_ns(&f->p, t) == T(L + 0x1234));
    assert_int_equal(in16(&f->p, 0x40, T(L + 0x1234)), 0x5678);
    assert_int_equal(in16(&f->p, 0x40, T(L + 0x1234 + 8)), 0x5670);
    /* A control word resets both flip-flops (here both are half-way). */
    inb(&f->p, 0x40, t + T(100000));
    outb(&f->p, 0x40, 0x99, t + T(100000));
    outb(&f->p, 0x43, 0x34, t + T(100001));
    outb(&f->p, 0x40, 0x02, t + T(100001)); /* LSB, not MSB */
    outb(&f->p, 0x40, 0x00, t + T(100001));
    uint64_t K = pit_ns_to_clk(t + T(100001));
    assert_int_equal(in16(&f->p, 0x40, T(K + 1)), 2);
}

/* ---- gate behaviour (channel 2) ---- */

static void test_gate_mode0_pauses(void **st)
{
    struct fx *f = *st;
    pit_set_gate(&f->p, 2, true, T(5));
    uint64_t L = program(&f->p, 2, 0xb0, 100, 10);
    pit_set_gate(&f->p, 2, false, T(L + 30) + 10);
    assert_int_equal(in16(&f->p, 0x42, T(L + 31)), 70);
    assert_int_equal(in16(&f->p, 0x42, T(L + 79)), 70);
    assert_false(pit_out(&f->p, 2, T(L + 500)));
    pit_set_gate(&f->p, 2, true, T(L + 80) + 10);
    assert_int_equal(in16(&f->p, 0x42, T(L + 80) + 20), 70);
    assert_int_equal(in16(&f->p, 0x42, T(L + 81)), 69);
    /* 50 clocks paused: OUT goes high 50 clocks late. */
    assert_false(pit_out(&f->p, 2, T(L + 150) - 1));
    assert_true(pit_out(&f->p, 2, T(L + 150)));
    /* Gate low when the count is loaded: OUT high N clocks after the gate rises. */
    pit_set_gate(&f->p, 2, false, T(L + 1000));
    uint64_t L2 = program(&f->p, 2, 0xb0, 100, L + 1000);
    assert_int_equal(in16(&f->p, 0x42, T(L2 + 30)), 100);
    pit_set_gate(&f->p, 2, true, T(L2 + 40) + 10);
    assert_false(pit_out(&f->p, 2, T(L2 + 140) - 1));
    assert_true(pit_out(&f->p, 2, T(L2 + 140)));
    /* Gate low at the write but high again before the loading clock: as if
     * it had stayed high (OUT at L + N). */
    pit_set_gate(&f->p, 2, false, T(L2 + 1000));
    uint64_t L3 = program(&f->p, 2, 0xb0, 100, L2 + 1000);
    pit_set_gate(&f->p, 2, true, T(L3 - 1) + 300);
    assert_false(pit_out(&f->p, 2, T(L3 + 100) - 1));
    assert_true(pit_out(&f->p, 2, T(L3 + 100)));
}

static void test_gate_mode4_pauses(void **st)
{
    struct fx *f = *st;
    pit_set_gate(&f->p, 2, true, T(5));
    uint64_t L = program(&f->p, 2, 0xb8, 40, 10);
    pit_set_gate(&f->p, 2, false, T(L + 10) + 1);
    assert_true(pit_out(&f->p, 2, T(L + 40)));
    pit_set_gate(&f->p, 2, true, T(L + 20) + 1);
    assert_true(pit_out(&f->p, 2, T(L + 50) - 1));
    assert_false(pit_out(&f->p, 2, T(L + 50)));
    assert_true(pit_out(&f->p, 2, T(L + 51)));
}

static void test_gate_mode2_forces_high_and_reloads(void **st)
{
    struct fx *f = *st;
    pit_set_gate(&f->p, 2, true, T(5));
    uint64_t L = program(&f->p, 2, 0xb4, 10, 10);
    assert_false(pit_out(&f->p, 2, T(L + 9)));
    /* Gate low during the low pulse: OUT high at once, counting stops. */
    pit_set_gate(&f->p, 2, false, T(L + 9) + 10);
    assert_true(pit_out(&f->p, 2, T(L + 9) + 10));
    assert_true(pit_out(&f->p, 2, T(L + 19)));
    assert_int_equal(in16(&f->p, 0x42, T(L + 25)), 1);
    /* Rising gate reloads the count on the next clock. */
    pit_set_gate(&f->p, 2, true, T(L + 30) + 10);
    assert_int_equal(in16(&f->p, 0x42, T(L + 31)), 10);
    assert_true(pit_out(&f->p, 2, T(L + 39) - 1));
    assert_false(pit_out(&f->p, 2, T(L + 40)));
    assert_true(pit_out(&f->p, 2, T(L + 41)));
}

static void test_gate_mode3(void **st)
{
    struct fx *f = *st;
    pit_set_gate(&f->p, 2, true, T(5));
    uint64_t L = program(&f->p, 2, 0xb6, 8, 10);
    assert_false(pit_out(&f->p, 2, T(L + 5)));
    pit_set_gate(&f->p, 2, false, T(L + 5) + 1); /* while OUT low: high at once */
    assert_true(pit_out(&f->p, 2, T(L + 5) + 1));
    assert_true(pit_out(&f->p, 2, T(L + 100)));
    pit_set_gate(&f->p, 2, true, T(L + 100) + 1);
    for (uint64_t j = 0; j < 16; j++)
        assert_int_equal(pit_out(&f->p, 2, T(L + 101 + j)), j % 8 < 4);
}

/* ---- IRQ0 ---- */

static void test_irq0_linux_periodic_exact(void **st)
{
    struct fx *f = *st;
    /* Linux 6.1 HZ=250: out 0x43,0x34; out 0x40,0xa5; out 0x40,0x12. */
    const uint64_t N = 0x12a5;
    uint64_t L = program(&f->p, 0, 0x34, 0x12a5, 123456);
    assert_int_equal(f->r.rises, 1); /* OUT0 went high with the control word */
    uint64_t now = T(L);
    for (uint64_t m = 1; m <= 2000; m++) {
        uint64_t t = pit_next_event_ns(&f->p, now);
        assert_true(t == T(L + m * N));
        pit_tick(&f->p, t - 1);
        assert_int_equal(f->r.rises, m);
        pit_tick(&f->p, t);
        assert_int_equal(f->r.rises, m + 1);
        assert_true(f->r.level);
        now = t;
    }
    /* 2000 periods of 4773 clocks: 8.0006 s of virtual time. */
    assert_true(now == T(L + 2000 * N));
    assert_true(now - T(L) > 8000000000ull && now - T(L) < 8001000000ull);
}

static void test_irq0_missed_periods_coalesce(void **st)
{
    struct fx *f = *st;
    uint64_t L = program(&f->p, 0, 0x34, 100, 10);
    unsigned calls = f->r.calls, rises = f->r.rises;
    pit_tick(&f->p, T(L + 1050)); /* ten rising edges missed */
    assert_int_equal(f->r.rises, rises + 1);
    assert_int_equal(f->r.calls, calls + 2); /* one low->high pulse */
    assert_true(f->r.level);
    assert_true(pit_next_event_ns(&f->p, T(L + 1050)) == T(L + 1100));
    /* Ticking again at the same time delivers nothing. */
    pit_tick(&f->p, T(L + 1050));
    assert_int_equal(f->r.calls, calls + 2);
    /* A tick inside the low clock drops the line; the next rise raises it. */
    pit_tick(&f->p, T(L + 1099));
    assert_false(f->r.level);
    pit_tick(&f->p, T(L + 1100));
    assert_int_equal(f->r.rises, rises + 2);
    /* Time going backwards is treated as the latest time seen. */
    pit_tick(&f->p, T(L + 10));
    assert_int_equal(f->r.rises, rises + 2);
    assert_true(pit_next_event_ns(&f->p, T(L + 1100)) == T(L + 1200));
    /* An overdue edge: next_event_ns says "now". */
    assert_true(pit_next_event_ns(&f->p, T(L + 1250)) == T(L + 1250));
}

static void test_irq0_linux_oneshot_and_shutdown(void **st)
{
    struct fx *f = *st;
    program(&f->p, 0, 0x34, 0x12a5, 10);
    /* NOHZ: out 0x43,0x38 then LSB/MSB deltas (drivers/clocksource/i8253.c). */
    uint64_t t = T(50000) + 7;
    outb(&f->p, 0x43, 0x38, t);
    assert_true(pit_next_event_ns(&f->p, t) == TIME_NEVER); /* no count yet */
    outb(&f->p, 0x40, 0x2c, t);
    outb(&f->p, 0x40, 0x01, t);
    unsigned r0 = f->r.rises;
    assert_true(pit_next_event_ns(&f->p, t) == T(50001 + 0x12c + 1));
    pit_tick(&f->p, T(50001 + 0x12c + 1));
    assert_int_equal(f->r.rises, r0 + 1);
    assert_true(pit_next_event_ns(&f->p, T(60000)) == TIME_NEVER);
    /* Next delta: only the count is written. */
    outb(&f->p, 0x40, 0x10, T(60000) + 1);
    outb(&f->p, 0x40, 0x00, T(60000) + 1);
    assert_true(pit_next_event_ns(&f->p, T(60000) + 1) == T(60001 + 17));
    /* Shutdown: 0x30 then 0, 0: OUT0 low at once; one last edge 65537 clocks on. */
    t = T(70000) + 3;
    outb(&f->p, 0x43, 0x30, t);
    assert_false(f->r.level);
    assert_true(pit_next_event_ns(&f->p, t) == TIME_NEVER);
    outb(&f->p, 0x40, 0, t);
    outb(&f->p, 0x40, 0, t);
    r0 = f->r.rises;
    assert_true(pit_next_event_ns(&f->p, t) == T(70001 + 65536));
    pit_tick(&f->p, T(70001 + 65536));
    assert_int_equal(f->r.rises, r0 + 1);
    assert_true(pit_next_event_ns(&f->p, T(70001 + 65536)) == TIME_NEVER);
}

static void test_linux_quick_pit_calibrate(void **st)
{
    struct fx *f = *st;
    /* arch/x86/kernel/tsc.c: gate on, mode 0, 0xffff, then inb;inb(0x42)
     * polled; the MSB must step down by one every 256 clocks (214.6 us). */
    uint64_t t = 3000000007ull;
    pit_set_gate(&f->p, 2, true, t);
    outb(&f->p, 0x43, 0xb0, t);
    outb(&f->p, 0x42, 0xff, t);
    outb(&f->p, 0x42, 0xff, t);
    uint64_t L = oracle_clk(t) + 1;
    uint8_t expect = 0xff;
    unsigned reads = 0, changes = 0;
    uint64_t last_change = 0;
    for (int i = 0; i <= 93; i++) { /* 94 MSB steps: 24064 clocks */
        unsigned count = 0;
        for (;;) {
            t += 3000; /* one read pair every 3 us of virtual time */
            inb(&f->p, 0x42, t);
            uint8_t msb = inb(&f->p, 0x42, t + 500);
            reads++;
            uint64_t k = oracle_clk(t + 500);
            assert_int_equal(msb, (uint8_t)((0xffff - (k - L)) >> 8));
            if (msb != expect) {
                assert_int_equal(msb, (uint8_t)(expect - 1)); /* steady, never skips */
                if (last_change) {
                    uint64_t d = t - last_change;
                    assert_true(d > 214550 - 3000 && d < 214550 + 3000);
                }
                last_change = t;
                changes++;
                break;
            }
            count++;
        }
        assert_true(count > 5); /* pit_expect_msb's "count > 5" */
        expect--;
    }
    assert_int_equal(changes, 94);
    assert_true(reads > 94 * 60);
}

/* quick_pit_calibrate() of Linux 6.1 run against the model, with a 1 GHz
 * "TSC" equal to virtual time and each port access taking 700 ns: it must
 * succeed and measure 1 000 000 kHz (the 1.4 us read quantum over ~11 ms
 * allows ~130 ppm). */
struct qpc {
    struct pit *p;
    uint64_t t; /* virtual ns == TSC cycles */
};

static uint8_t qpc_in42(struct qpc *q)
{
    q->t += 700;
    return inb(q->p, 0x42, q->t);
}

static bool qpc_verify_msb(struct qpc *q, uint8_t val)
{
    qpc_in42(q); /* LSB ignored */
    return qpc_in42(q) == val;
}

static bool qpc_expect_msb(struct qpc *q, uint8_t val, uint64_t *tscp, uint64_t *deltap)
{
    uint64_t tsc = 0, prev = 0;
    int count;
    for (count = 0; count < 50000; count++) {
        if (!qpc_verify_msb(q, val))
            break;
        prev = tsc;
        tsc = q->t;
    }
    *deltap = q->t - prev;
    *tscp = tsc;
    return count > 5;
}

static void test_linux_quick_pit_calibrate_result(void **st)
{
    struct fx *f = *st;
    struct qpc q = {&f->p, 7 * NS_PER_SEC + 12345};
    const int max_iter = 50 * 1193182 / 1000 / 256; /* MAX_QUICK_PIT_ITERATIONS = 233 */
    pit_set_gate(&f->p, 2, true, q.t);
    outb(&f->p, 0x43, 0xb0, q.t += 700);
    outb(&f->p, 0x42, 0xff, q.t += 700);
    outb(&f->p, 0x42, 0xff, q.t += 700);
    qpc_verify_msb(&q, 0);
    uint64_t tsc, delta = 0, d1, d2;
    int i = 0;
    bool ok = false;
    assert_true(qpc_expect_msb(&q, 0xff, &tsc, &d1));
    for (i = 1; i <= max_iter; i++) {
        assert_true(qpc_expect_msb(&q, (uint8_t)(0xff - i), &delta, &d2));
        delta -= tsc;
        assert_false(i == 1 && d1 + d2 >= (delta * (uint64_t)max_iter) >> 11);
        if (d1 + d2 >= delta >> 11)
            continue;
        assert_true(qpc_verify_msb(&q, (uint8_t)(0xfe - i)));
        ok = true;
        break;
    }
    assert_true(ok);
    uint64_t khz = delta * 1193182 / ((uint64_t)i * 256 * 1000);
    assert_true(khz > 999850 && khz < 1000150); /* measured here: 1000049 kHz at i = 54 */
}

/* Random programming of channel 0 (all modes, access modes, BCD, small
 * counts, rewrites mid-count): the edges seen by sampling OUT0 at every
 * clock, those a tick at every clock delivers, and those reached by jumping
 * from one pit_next_event_ns() to the next must be the same edges. */
static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_next_event_matches_per_clock_edges(void **st)
{
    (void)st;
    struct pit a, b;
    struct rec ra = {0}, rb = {0};
    struct irq_sink sa = {rec_set, &ra}, sb = {rec_set, &rb};
    pit_init(&a, &sa, 0);
    pit_init(&b, &sb, 0);
    uint64_t x = 0x9e3779b97f4a7c15ull, k = 10, edges_total = 0;
    for (int step = 0; step < 3000; step++) {
        uint64_t t = T(k) + rng(&x) % 800;
        uint64_t r = rng(&x) % 10;
        uint8_t v, port = 0x40;
        if (r < 2) {
            port = 0x43;
            v = (uint8_t)(((rng(&x) % 3 + 1) << 4) | (rng(&x) % 8) << 1 | (rng(&x) % 4 == 0));
        } else {
            v = r < 8 ? (uint8_t)(rng(&x) % 40) : (uint8_t)(rng(&x) % 2);
        }
        outb(&a, port, v, t);
        outb(&b, port, v, t);
        assert_int_equal(ra.level, rb.level);
        unsigned a0 = ra.rises, b0 = rb.rises, edges = 0;
        uint64_t end = k + 1 + rng(&x) % 150;
        bool prev = pit_out(&a, 0, t);
        for (uint64_t j = k + 1; j <= end; j++) {
            bool o = pit_out(&a, 0, T(j));
            edges += !prev && o;
            prev = o;
            pit_tick(&a, T(j));
            assert_int_equal(ra.level, o);
        }
        uint64_t now = t;
        for (;;) {
            uint64_t de, dc; /* the combined query answers both */
            pit_deadlines(&b, &de, &dc);
            assert_true(de == pit_next_event_ns(&b, 0));
            assert_true(dc == pit_next_change_ns(&b));
            uint64_t e = pit_next_event_ns(&b, now);
            if (e == TIME_NEVER || e > T(end))
                break;
            uint64_t c = pit_ns_to_clk(e);
            assert_true(e == T(c)); /* exactly on an edge */
            assert_false(pit_out(&b, 0, e - 1) && pit_out(&b, 0, e));
            assert_true(pit_out(&b, 0, e));
            if (rng(&x) % 3 == 0) { /* an exit just before the edge changes nothing */
                pit_tick(&b, e - 1);
                assert_true(pit_next_event_ns(&b, e - 1) == e);
            }
            unsigned before = rb.rises;
            pit_tick(&b, e);
            assert_int_equal(rb.rises, before + 1);
            now = e;
        }
        pit_tick(&b, T(end));
        assert_int_equal(ra.rises - a0, edges);
        assert_int_equal(rb.rises - b0, edges);
        edges_total += edges;
        k = end;
    }
    assert_true(edges_total > 1000); /* the walk really exercised periodic modes */
}

/* A second, independent reading of the datasheet: a clock-by-clock stepper
 * (decrement per edge, reload on expiry, mode 3 by twos) for channel 2. The
 * model's closed form must agree with it at every clock edge under random
 * control words, counts, rewrites and gate changes. */
struct ref {
    int mode, rw;
    bool bcd, gate, out;
    uint32_t m, cur_n, ln, ce; /* ce in 0..m (m = a full count not yet counted) */
    bool loaded, load_next, trig, cr_valid, frozen, strobed, pend_low, wr_msb, odd;
    uint8_t lsb;
};

static uint32_t ref_count(const struct ref *r, uint16_t raw)
{
    uint32_t v = raw;
    if (r->bcd)
        v = (((raw >> 12) & 15) * 1000u + ((raw >> 8) & 15) * 100u + ((raw >> 4) & 15) * 10u +
             (raw & 15)) %
            10000u;
    return v ? v : r->m;
}

static void ref_reload3(struct ref *r)
{
    r->ln = r->cur_n;
    r->odd = r->cur_n & 1;
    r->ce = r->odd ? r->cur_n - 1 : r->cur_n;
    if (r->ln == 1) /* illegal count 1: the model keeps OUT high */
        r->out = true;
}

static void ref_count_written(struct ref *r, uint32_t n)
{
    switch (r->mode) {
    case 0: r->out = false; /* fall through */
    case 4:
        r->cur_n = n;
        r->load_next = true;
        r->frozen = false;
        break;
    case 1:
    case 5:
        r->cur_n = n;
        r->cr_valid = true;
        break;
    default:
        r->cur_n = n;
        r->cr_valid = true;
        if (!r->loaded)
            r->load_next = true;
        break;
    }
}

static void ref_write(struct ref *r, uint8_t v)
{
    if (r->rw == 1) {
        ref_count_written(r, ref_count(r, v));
    } else if (r->rw == 2) {
        ref_count_written(r, ref_count(r, (uint16_t)(v << 8)));
    } else if (!r->wr_msb) {
        r->lsb = v;
        r->wr_msb = true;
        if (r->mode == 0) { /* first byte: counting disabled, OUT low */
            r->frozen = true;
            r->out = false;
        }
    } else {
        r->wr_msb = false;
        ref_count_written(r, ref_count(r, (uint16_t)(r->lsb | v << 8)));
    }
}

static void ref_control(struct ref *r, uint8_t cw)
{
    uint32_t keep = r->ce % r->m;
    if (r->load_next || r->trig) /* documented: a pending load already reads as loaded */
        keep = (r->mode == 3 && (r->cur_n & 1) ? r->cur_n - 1 : r->cur_n) % r->m;
    r->rw = (cw >> 4) & 3;
    r->mode = (cw >> 1) & 7;
    if (r->mode >= 6)
        r->mode -= 4;
    r->bcd = cw & 1;
    r->m = r->bcd ? 10000 : 65536;
    r->ce = keep % r->m;
    r->out = r->mode != 0;
    r->loaded = r->load_next = r->trig = r->cr_valid = r->frozen = false;
    r->pend_low = r->wr_msb = false;
}

static void ref_gate(struct ref *r, bool g)
{
    bool rise = g && !r->gate;
    if (g == r->gate)
        return;
    r->gate = g;
    if ((r->mode == 1 || r->mode == 5) && rise && r->cr_valid)
        r->trig = true;
    if (r->mode == 2 || r->mode == 3) {
        if (!g) {
            r->out = true;
            r->pend_low = false;
        } else if (r->cr_valid) {
            r->load_next = true;
        }
    }
}

static void ref_dec(struct ref *r)
{
    r->ce = r->ce == 0 ? r->m - 1 : r->ce - 1;
}

static void ref_edge(struct ref *r)
{
    switch (r->mode) {
    case 0:
        if (r->load_next) {
            r->ce = r->cur_n;
            r->loaded = true;
            r->load_next = false;
        } else if (r->loaded && r->gate && !r->frozen) {
            ref_dec(r);
            if (r->ce == 0)
                r->out = true;
        }
        break;
    case 4:
    case 5:
        if (r->load_next || r->trig) {
            r->ce = r->cur_n;
            r->loaded = true;
            r->load_next = r->trig = false;
            r->strobed = false;
            r->out = true;
        } else if (r->loaded && (r->gate || r->mode == 5)) {
            r->out = true;
            ref_dec(r);
            if (r->ce == 0 && !r->strobed) {
                r->out = false;
                r->strobed = true;
            }
        }
        break;
    case 1:
        if (r->trig) {
            r->ce = r->cur_n;
            r->loaded = true;
            r->trig = false;
            r->out = false;
        } else if (r->loaded) {
            ref_dec(r);
            if (r->ce == 0)
                r->out = true;
        }
        break;
    case 2:
        if (r->load_next) {
            r->ce = r->cur_n;
            r->loaded = true;
            r->load_next = false;
            r->out = true;
        } else if (r->loaded && r->gate) {
            if (r->ce == 1) {
                r->ce = r->cur_n;
                r->out = true;
            } else {
                r->ce--;
                r->out = r->ce != 1;
            }
        }
        break;
    default: /* 3 */
        if (r->load_next) {
            ref_reload3(r);
            r->loaded = true;
            r->load_next = false;
            r->pend_low = false;
            r->out = true;
        } else if (r->loaded && r->gate) {
            if (r->pend_low) { /* odd count: OUT falls one clock after expiry */
                r->pend_low = false;
                r->out = false;
                ref_reload3(r);
            } else if (r->ln == 1) { /* a count of 1: every clock ends a period */
                ref_reload3(r);
            } else {
                r->ce -= 2;
                if (r->ce == 0) {
                    if (r->out && r->odd) {
                        r->pend_low = true;
                    } else {
                        r->out = !r->out;
                        ref_reload3(r);
                    }
                }
            }
        }
        break;
    }
}

static uint16_t ref_raw(const struct ref *r)
{
    uint32_t v = r->ce % r->m;
    if (!r->bcd)
        return (uint16_t)v;
    return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | (v % 10));
}

static void test_matches_clock_stepper(void **st)
{
    struct fx *f = *st;
    struct ref r = {.rw = 3, .m = 65536};
    uint64_t x = 0x1234567887654321ull, k = 100, compared = 0;
    for (int step = 0; step < 4000; step++) {
        /* A few operations between edge k and edge k+1, in time order. */
        uint64_t t = T(k) + 1;
        int nops = (int)(rng(&x) % 3);
        for (int i = 0; i < nops; i++, t += 200) {
            uint64_t c = rng(&x) % 16;
            if (c < 2) {
                uint8_t cw = (uint8_t)(0x80 | ((rng(&x) % 3 + 1) << 4) | (rng(&x) % 8) << 1 |
                                       (rng(&x) % 5 == 0));
                outb(&f->p, 0x43, cw, t);
                ref_control(&r, cw);
            } else if (c < 10) {
                uint8_t v = rng(&x) % 4 == 0 ? (uint8_t)rng(&x) : (uint8_t)(rng(&x) % 24);
                if (r.rw == 2 || (r.rw == 3 && r.wr_msb))
                    v = rng(&x) % 8 == 0 ? 1 : 0;
                outb(&f->p, 0x42, v, t);
                ref_write(&r, v);
            } else {
                bool g = rng(&x) & 1;
                pit_set_gate(&f->p, 2, g, t);
                ref_gate(&r, g);
            }
        }
        uint64_t run = 1 + rng(&x) % 40;
        for (uint64_t j = 0; j < run; j++) {
            k++;
            ref_edge(&r);
            if (!r.loaded && !(r.mode == 0 && r.frozen))
                continue; /* CE undefined until the first load: not compared */
            if (pit_out(&f->p, 2, T(k)) != r.out || pit_peek_count(&f->p, 2, T(k)) != ref_raw(&r))
                fail_msg("step %d clock %lu mode %d bcd %d gate %d: model %d/%04x, stepper %d/%04x",
                         step, (unsigned long)k, r.mode, r.bcd, r.gate, pit_out(&f->p, 2, T(k)),
                         pit_peek_count(&f->p, 2, T(k)), r.out, ref_raw(&r));
            compared++;
        }
    }
    assert_true(compared > 30000);
}

/* ---- save / restore ---- */

static void drive_and_compare(struct pit *a, struct rec *ra, struct pit *b, struct rec *rb,
                              uint64_t t0)
{
    unsigned a0 = ra->rises, b0 = rb->rises;
    for (uint64_t i = 1; i <= 3000; i++) {
        uint64_t t = t0 + i * 2377;
        assert_true(pit_next_event_ns(a, t) == pit_next_event_ns(b, t));
        for (unsigned ch = 0; ch < 3; ch++) {
            assert_int_equal(pit_out(a, ch, t), pit_out(b, ch, t));
            assert_int_equal(inb(a, (uint16_t)(0x40 + ch), t), inb(b, (uint16_t)(0x40 + ch), t));
        }
        if (i == 1 || i == 1000) { /* status of all three, then reads */
            outb(a, 0x43, 0xee, t);
            outb(b, 0x43, 0xee, t);
        }
        if (i == 1000) {
            pit_set_gate(a, 2, true, t);
            pit_set_gate(b, 2, true, t);
        }
        if (i == 2000) {
            outb(a, 0x40, 0x10, t);
            outb(b, 0x40, 0x10, t);
        }
        assert_int_equal(ra->rises - a0, rb->rises - b0);
        assert_int_equal(ra->level, rb->level);
    }
    uint8_t sa[512], sb[512];
    struct sv s;
    sv_init_write(&s, sa, sizeof sa);
    pit_save(a, &s);
    size_t na = sv_len(&s);
    sv_init_write(&s, sb, sizeof sb);
    pit_save(b, &s);
    assert_int_equal(na, sv_len(&s));
    assert_memory_equal(sa, sb, na);
}

/* A busy state: ch0 periodic with a pending rewrite, ch1 odd square wave,
 * ch2 paused in mode 0 with a half-read latch and a half-written count. */
static uint64_t busy_state(struct pit *p)
{
    program(p, 0, 0x34, 4773, 1000);
    program(p, 1, 0x77, 0x0777, 1200);
    outb(p, 0x41, 0x55, T(1250)); /* half of a new count */
    pit_set_gate(p, 2, true, T(1300));
    program(p, 2, 0xb0, 30000, 1400);
    pit_set_gate(p, 2, false, T(9000) + 3);
    outb(p, 0x43, 0x80, T(9100)); /* latch ch2 ... */
    inb(p, 0x42, T(9200));        /* ... and read half of it */
    outb(p, 0x43, 0xe4, T(9250)); /* status of ch1 latched */
    outb(p, 0x43, 0x40, T(9260)); /* count of ch1 latched */
    outb(p, 0x40, 0x00, T(9300)); /* ch0 rewritten: loads at 10547 */
    outb(p, 0x40, 0x10, T(9300));
    return T(9400) + 17;
}

static size_t save(const struct pit *p, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    pit_save(p, &s);
    return s.err ? 0 : sv_len(&s);
}

static int restore(struct pit *p, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return pit_restore(p, &s);
}

static void test_save_restore_mid_count(void **st)
{
    struct fx *f = *st;
    uint64_t t = busy_state(&f->p);
    pit_tick(&f->p, t);
    uint8_t buf[512];
    size_t n = save(&f->p, buf, sizeof buf);
    assert_true(n > 0);
    struct pit b;
    struct rec rb = {0};
    struct irq_sink sb = {rec_set, &rb};
    pit_init(&b, &sb, 0);
    rb.level = f->r.level; /* the new sink sees what the old line was */
    assert_int_equal(restore(&b, buf, n), 0);
    assert_ptr_equal(b.irq.ctx, &rb); /* wiring kept */
    assert_int_equal(rb.calls, 0);
    drive_and_compare(&f->p, &f->r, &b, &rb, t);
}

static void test_save_too_small(void **st)
{
    struct fx *f = *st;
    uint8_t buf[512];
    size_t n = save(&f->p, buf, sizeof buf);
    assert_true(n > 10);
    assert_int_equal(save(&f->p, buf, n - 1), 0);
}

/* A layout-2 blob (before each channel's `mode` was saved) still restores:
 * the upgrade derives mode from the control word, the device then runs as
 * the original, and saving writes layout 3 with the very same values. */
static void test_restore_layout2_upgrades(void **st)
{
    struct fx *f = *st;
    uint64_t t = busy_state(&f->p);
    pit_tick(&f->p, t);
    outb(&f->p, 0x43, 0xbe, t + 1); /* ch2 control word mode 7: effective mode 3 */
    uint8_t v3[512], v2[512], again[512];
    size_t n = save(&f->p, v3, sizeof v3);
    assert_int_equal(n, 10 + 1 + 8 + 3 * 72);
    assert_int_equal(v3[4], 3);
    /* layout 2 = layout 3 without the byte after each ctrl_mode */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t in_ch = i >= 19 ? (i - 19) % 72 : 99;
        if (in_ch != 1)
            v2[m++] = v3[i];
    }
    assert_int_equal(m, n - 3);
    v2[4] = 2;
    v2[6] = (uint8_t)(m - 10);
    v2[7] = (uint8_t)((m - 10) >> 8);
    struct pit b;
    struct rec rb = {0};
    struct irq_sink sb = {rec_set, &rb};
    pit_init(&b, &sb, 0);
    rb.level = f->r.level;
    assert_int_equal(restore(&b, v2, m), 0);
    assert_int_equal(b.ch[2].ctrl_mode, 7);
    assert_int_equal(b.ch[2].mode, 3);
    assert_int_equal(save(&b, again, sizeof again), n);
    assert_memory_equal(again, v3, n);
    drive_and_compare(&f->p, &f->r, &b, &rb, t + 1);
}

static void test_restore_rejects_corrupt(void **st)
{
    struct fx *f = *st;
    busy_state(&f->p);
    uint8_t good[512], before[512], after[512], bad[512];
    size_t n = save(&f->p, good, sizeof good);
    size_t nb = save(&f->p, before, sizeof before);
    /* Truncated at every length. */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(restore(&f->p, good, len), -1);
    /* Layout 3: 10-byte header, irq_level, last_ns, then 72 bytes per channel:
     * ctrl_mode +0, mode +1, rw +2, bcd +3, gate +4, ..., run +16, n +25. */
    const size_t ch0 = 10 + 1 + 8, ch2 = ch0 + 2 * 72;
    struct {
        size_t off, width;
        uint32_t val;
    } cases[] = {
        {0, 1, 'X'},          /* tag */
        {4, 2, 1},            /* version 1: older than the oldest accepted */
        {4, 2, 2},            /* layout 2 header on layout 3 bytes */
        {4, 2, 4},            /* newer */
        {10, 1, 2},           /* bool out of range */
        {ch0 + 0, 1, 8},      /* mode bits */
        {ch0 + 1, 1, 7},      /* effective mode not what the control word gives */
        {ch0 + 2, 1, 0},      /* rw 0 is the latch command, never a state */
        {ch0 + 2, 1, 4},      /* rw */
        {ch0 + 4, 1, 0},      /* gate 0 is tied high */
        {ch0 + 16, 1, 4},     /* run state */
        {ch0 + 16, 1, 1},     /* armed in mode 2 */
        {ch0 + 25, 4, 0},     /* n = 0 */
        {ch0 + 25, 4, 65537}, /* n > 65536 */
        {ch0 + 41, 4, 0},     /* pending n = 0 */
        {ch2 + 57, 4, 65536}, /* frozen >= modulus */
        {ch2 + 3, 1, 1},      /* BCD with a count above 10000 */
        {ch2 + 16, 1, 1},     /* armed in mode 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, good, n);
        for (size_t b = 0; b < cases[i].width; b++)
            bad[cases[i].off + b] = (uint8_t)(cases[i].val >> (8 * b));
        assert_true(memcmp(bad, good, n) != 0);
        if (restore(&f->p, bad, n) != -1)
            fail_msg("corrupt case %zu accepted", i);
    }
    /* Trailing garbage inside the section length. */
    memcpy(bad, good, n);
    bad[n] = 0;
    bad[6]++;
    assert_int_equal(restore(&f->p, bad, n + 1), -1);
    /* Nothing was touched. */
    assert_int_equal(save(&f->p, after, sizeof after), nb);
    assert_memory_equal(before, after, nb);
    assert_int_equal(restore(&f->p, good, n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_mapping_exact),
        cmocka_unit_test_setup(test_reset_state, setup),
        cmocka_unit_test_setup(test_reset_keeps_gates_drops_irq, setup),
        cmocka_unit_test_setup(test_bad_sizes_and_ports, setup),
        cmocka_unit_test_setup(test_mode0_out_and_count, setup),
        cmocka_unit_test_setup(test_mode0_first_byte_stops_counting, setup),
        cmocka_unit_test_setup(test_mode0_irq_once, setup),
        cmocka_unit_test_setup(test_mode1_one_shot_retrigger, setup),
        cmocka_unit_test_setup(test_mode2_waveform, setup),
        cmocka_unit_test_setup(test_mode2_count0_is_65536, setup),
        cmocka_unit_test_setup(test_mode2_new_count_at_period_end, setup),
        cmocka_unit_test_setup(test_modes_6_7_alias_2_3, setup),
        cmocka_unit_test_setup(test_mode3_even_square_wave, setup),
        cmocka_unit_test_setup(test_mode3_odd_count, setup),
        cmocka_unit_test_setup(test_mode3_new_count_at_half_cycle, setup),
        cmocka_unit_test_setup(test_mode4_strobe_and_irq, setup),
        cmocka_unit_test_setup(test_mode5_gate_triggered_strobe, setup),
        cmocka_unit_test_setup(test_bcd_counting, setup),
        cmocka_unit_test_setup(test_counter_latch, setup),
        cmocka_unit_test_setup(test_readback_status_byte, setup),
        cmocka_unit_test_setup(test_readback_count_and_status, setup),
        cmocka_unit_test_setup(test_lsb_only_and_msb_only, setup),
        cmocka_unit_test_setup(test_flipflops_independent, setup),
        cmocka_unit_test_setup(test_gate_mode0_pauses, setup),
        cmocka_unit_test_setup(test_gate_mode4_pauses, setup),
        cmocka_unit_test_setup(test_gate_mode2_forces_high_and_reloads, setup),
        cmocka_unit_test_setup(test_gate_mode3, setup),
        cmocka_unit_test_setup(test_irq0_linux_periodic_exact, setup),
        cmocka_unit_test_setup(test_irq0_missed_periods_coalesce, setup),
        cmocka_unit_test_setup(test_irq0_linux_oneshot_and_shutdown, setup),
        cmocka_unit_test_setup(test_linux_quick_pit_calibrate, setup),
        cmocka_unit_test_setup(test_linux_quick_pit_calibrate_result, setup),
        cmocka_unit_test(test_next_event_matches_per_clock_edges),
        cmocka_unit_test_setup(test_matches_clock_stepper, setup),
        cmocka_unit_test_setup(test_save_restore_mid_count, setup),
        cmocka_unit_test_setup(test_save_too_small, setup),
        cmocka_unit_test_setup(test_restore_layout2_upgrades, setup),
        cmocka_unit_test_setup(test_restore_rejects_corrupt, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
