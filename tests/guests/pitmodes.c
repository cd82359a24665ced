/* The 8254 through the hypervisor, datasheet behaviour by behaviour (Intel
 * 8254 datasheet 231164): the status byte after each control word, modes 0-5
 * sampled by read-back (status and count latched together), odd and even
 * counts in mode 3, count reload in modes 2/3, gate 2 through port 0x61 (modes
 * 1/5 triggers, mode 2 held by a low gate), the first byte of a two-byte
 * count stopping mode 0, counter latch (a second latch is ignored), read-back
 * of several channels, LSB-only/MSB-only access, BCD counting, OUT2 on port
 * 0x61 bit 5, and IRQ0 from channel 0 in modes 0, 2 and 3 (odd count).
 * Every value read is compared by replay; the checks below are the
 * datasheet's rules, so the guest also tests the model. */
#include "guest.h"

#define NS 240 /* samples per run */

static uint32_t hz;
static uint8_t st[NS];
static uint16_t cnt[NS];
static uint8_t p61[NS];

static void delay_ns(uint32_t ns)
{
    uint64_t end = rdtsc() + muldiv(ns, hz, 1000000000u);
    while (rdtsc() < end)
        ;
}

static void ctrl(uint8_t v)
{
    outb(0x43, v);
}

static void load(unsigned ch, uint16_t n)
{
    outb((uint16_t)(0x40 + ch), (uint8_t)n);
    outb((uint16_t)(0x40 + ch), (uint8_t)(n >> 8));
}

static uint16_t rd16(unsigned ch)
{
    uint8_t lo = inb((uint16_t)(0x40 + ch));
    return (uint16_t)(lo | inb((uint16_t)(0x40 + ch)) << 8);
}

/* Read-back of status only: 11 1 0 CNT2 CNT1 CNT0 0. */
static uint8_t status(unsigned ch)
{
    ctrl((uint8_t)(0xe0 | 2u << ch));
    return inb((uint16_t)(0x40 + ch));
}

/* Counter latch command, then both bytes. */
static uint16_t latched(unsigned ch)
{
    ctrl((uint8_t)(ch << 6));
    return rd16(ch);
}

static void gate2(bool on)
{
    outb(0x61, (uint8_t)((inb(0x61) & 0x0c) | (on ? 1 : 0)));
}

/* n samples of channel ch (LSB/MSB access): status and count latched by one
 * read-back command, plus port 0x61. */
static void sample(unsigned ch, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        ctrl((uint8_t)(0xc0 | 2u << ch));
        st[i] = inb((uint16_t)(0x40 + ch));
        cnt[i] = rd16(ch);
        p61[i] = inb(0x61);
    }
}

#define OUT(i) (st[i] >> 7)

/* ---- control word and status ----------------------------------------- */

static void test_status_after_control_word(void)
{
    static const char *const name[6] = {
        "pit status after control word mode 0 (OUT low, null count)",
        "pit status after control word mode 1 (OUT high, null count)",
        "pit status after control word mode 2 (OUT high, null count)",
        "pit status after control word mode 3 (OUT high, null count)",
        "pit status after control word mode 4 (OUT high, null count)",
        "pit status after control word mode 5 (OUT high, null count)",
    };
    for (unsigned m = 0; m < 6; m++) {
        uint8_t cw = (uint8_t)(0x70 | m << 1); /* ch1, LSB/MSB */
        ctrl(cw);
        uint8_t want = (uint8_t)((m ? 0x80 : 0) | 0x40 | (cw & 0x3f));
        check_eq(name[m], status(1), want);
    }
    ctrl(0x7f); /* mode 7 (= 3), BCD: status shows the bits as written */
    check_eq("pit status keeps mode 7 and BCD as written", status(1), 0xff);
}

/* ---- mode 0 ----------------------------------------------------------- */

static void test_mode0(void)
{
    ctrl(0x70);
    load(1, 60);
    sample(1, 120);
    bool ok = true, seen_hi = false;
    unsigned bad = 0;
    for (unsigned i = 0; i < 120; i++) {
        bool wrapped = cnt[i] == 0 || cnt[i] > 60;
        if (OUT(i) != wrapped || ((st[i] & 0x40) && cnt[i] < 59)) {
            ok = false;
            bad = i;
        }
        seen_hi |= OUT(i);
        if (i && !wrapped && cnt[i] > cnt[i - 1])
            ok = false;
    }
    check("pit mode 0 OUT low while counting, high from terminal count", ok && seen_hi,
          (uint32_t)st[bad] << 16 | cnt[bad]);

    /* Writing the first byte of a new count stops counting and drops OUT. */
    ctrl(0x70);
    load(1, 1000);
    delay_ns(20000);
    outb(0x41, 0x34);
    uint16_t a = latched(1);
    delay_ns(20000);
    uint16_t b = latched(1);
    check("pit mode 0 first byte of a new count stops counting", a == b && a < 1000 && a > 900,
          (uint32_t)a << 16 | b);
    check_eq("pit mode 0 first byte drops OUT (status)", status(1) & 0x80, 0);
    outb(0x41, 0x02); /* 0x0234 */
    delay_ns(10000);
    uint16_t c = latched(1);
    check("pit mode 0 second byte loads the new count", c < 0x234 && c > 0x234 - 20, c);
}

/* ---- mode 1 and mode 5 on channel 2 (gate = port 0x61 bit 0) ------------ */

static void test_mode1(void)
{
    gate2(false);
    ctrl(0xb2); /* ch2, LSB/MSB, mode 1 */
    load(2, 50);
    delay_ns(5000);
    uint8_t s0 = status(2);
    check_eq("pit mode 1 before the trigger: OUT high, null count", s0, 0xf2);
    gate2(true); /* trigger */
    sample(2, 140);
    bool ok = true;
    unsigned lows = 0, lows61 = 0;
    for (unsigned i = 0; i < 140; i++) {
        lows61 += !(p61[i] & 0x20);
        if (st[i] & 0x40)
            continue; /* the trigger's loading edge not yet there */
        bool low = cnt[i] != 0 && cnt[i] <= 50;
        if (OUT(i) == low)
            ok = false;
        lows += !OUT(i);
    }
    check("pit mode 1 one-shot: OUT low from the trigger to terminal count", ok && lows, lows);
    check("pit mode 1 OUT2 low seen on port 0x61 bit 5", lows61 > 0, lows61);
    /* Retrigger: the count starts again from 50. */
    ctrl(0xb2);
    load(2, 50);
    gate2(false);
    gate2(true);
    delay_ns(25 * 838);
    uint16_t a = latched(2);
    gate2(false);
    gate2(true);
    delay_ns(5 * 838);
    uint16_t b = latched(2);
    check("pit mode 1 retriggered reloads the count", a < 35 && b > 40 && b <= 50,
          (uint32_t)a << 16 | b);
}

static void test_mode5(void)
{
    gate2(false);
    ctrl(0xba); /* ch2, LSB/MSB, mode 5 */
    load(2, 40);
    delay_ns(5000);
    check_eq("pit mode 5 before the trigger: OUT high, null count", status(2), 0xfa);
    gate2(true);
    sample(2, 140);
    bool ok = true;
    unsigned lows = 0;
    for (unsigned i = 0; i < 140; i++) {
        if (st[i] & 0x40)
            continue;
        if (!OUT(i)) {
            lows++;
            if (cnt[i] != 0)
                ok = false;
        }
    }
    check("pit mode 5 hardware strobe: one low clock at count 0", ok, lows);
}

/* ---- modes 2 and 3: reload, odd counts, gate ------------------------- */

static void test_mode2(void)
{
    ctrl(0x74); /* ch1 mode 2 */
    load(1, 17);
    sample(1, 200);
    bool ok = true;
    unsigned lows = 0, max = 0;
    for (unsigned i = 0; i < 200; i++) {
        if (cnt[i] == 0 || cnt[i] > 17 || OUT(i) != (cnt[i] != 1))
            ok = false;
        lows += !OUT(i);
        if (cnt[i] > max && cnt[i] <= 17)
            max = cnt[i];
    }
    check("pit mode 2 counts 17..1, OUT low only at 1, reloads", ok && lows && max >= 16, max);

    /* A new count takes effect at the end of the current period. */
    ctrl(0x74);
    load(1, 3000);
    delay_ns(200 * 838);
    load(1, 100);
    uint16_t a = latched(1);
    check("pit mode 2 new count waits for the end of the period", a > 2700 && a < 2810, a);
    delay_ns(3000 * 838);
    uint16_t b = latched(1);
    check("pit mode 2 next period uses the new count", b <= 100, b);
}

static void mode3_run(unsigned ch, uint16_t n, const char *name_even, const char *name_halves)
{
    ctrl((uint8_t)(ch << 6 | 0x36));
    load(ch, n);
    sample(ch, NS);
    /* Odd N: N-1 is loaded; the count reads 0 for one clock before OUT
     * falls, but OUT rises as the low half expires. Even N: 0 never shows. */
    bool ok = true;
    unsigned zeros = 0;
    for (unsigned i = 0; i < NS; i++) {
        if ((cnt[i] & 1) || cnt[i] > (n & ~1u))
            ok = false;
        if (cnt[i] == 0 && !(st[i] & 0x40)) {
            zeros++;
            if (!(n & 1) || !OUT(i))
                ok = false;
        }
    }
    check(name_even, ok, zeros);
    /* OUT high (n+1)/2 clocks, low n/2: count the clocks of each half from
     * the counts seen (each half counts down by 2 per clock from n or n-1). */
    unsigned hi = 0, lo = 0;
    for (unsigned i = 0; i < NS; i++) {
        if (st[i] & 0x40)
            continue;
        if (OUT(i))
            hi++;
        else
            lo++;
    }
    check(name_halves, hi && lo, hi << 16 | lo);
}

static void test_mode3(void)
{
    mode3_run(1, 21, "pit mode 3 odd count 21: counts even, at most 20, 0 only while OUT high",
              "pit mode 3 odd count 21: both OUT halves seen");
    mode3_run(1, 20, "pit mode 3 even count 20: counts even, at most 20, never 0",
              "pit mode 3 even count 20: both OUT halves seen");
    /* Odd count: OUT high for (N+1)/2 clocks, low for (N-1)/2. Measured on
     * OUT2 (port 0x61 bit 5) with N = 2001: high half 1001 clocks, low 1000,
     * timed by TSC over 8 periods each. */
    gate2(true);
    ctrl(0xb6);
    load(2, 2001);
    uint64_t t_hi = 0, t_lo = 0;
    for (unsigned k = 0; k < 8; k++) {
        while (inb(0x61) & 0x20)
            ;
        uint64_t t0 = rdtsc();
        while (!(inb(0x61) & 0x20))
            ;
        uint64_t t1 = rdtsc();
        while (inb(0x61) & 0x20)
            ;
        uint64_t t2 = rdtsc();
        t_lo += t1 - t0;
        t_hi += t2 - t1;
    }
    /* In PIT clocks x 8: ticks * 1193182 / hz. */
    uint32_t c_hi = muldiv((uint32_t)t_hi, 1193182u, hz),
             c_lo = muldiv((uint32_t)t_lo, 1193182u, hz);
    info("pit: mode 3 N=2001 OUT2 clocks x8: high ", c_hi);
    info("pit: mode 3 N=2001 OUT2 clocks x8: low ", c_lo);
    /* Each edge is found by polling (about 1 us per IN): only the period is
     * checked here; replay compares every poll. */
    check("pit mode 3 N=2001 on OUT2: 8 periods of 2001 clocks (+-60)",
          c_hi + c_lo >= 8 * 2001 - 60 && c_hi + c_lo <= 8 * 2001 + 60, c_hi + c_lo);
}

static void test_gate_mode2(void)
{
    gate2(true);
    ctrl(0xb4); /* ch2 mode 2 */
    load(2, 5000);
    delay_ns(1000 * 838);
    gate2(false);
    uint16_t a = latched(2);
    delay_ns(300 * 838);
    uint16_t b = latched(2);
    check("pit mode 2 gate low holds the count", a == b && a < 4100 && a > 3900,
          (uint32_t)a << 16 | b);
    check_eq("pit mode 2 gate low forces OUT2 high", inb(0x61) & 0x20, 0x20);
    gate2(true);
    delay_ns(10 * 838);
    uint16_t c = latched(2);
    check("pit mode 2 gate rising reloads the initial count", c > 4980 && c < 5000, c);
}

/* Terminal count hunt: OUT and count sampled together around count 0, in
 * 48 runs whose phase against the PIT clock drifts, so some samples fall on
 * the one clock where the count reads 0. Modes 0 and 1: OUT is high from
 * the clock the count reaches 0 (N clocks after loading). */
static void test_terminal_count(void)
{
    unsigned zeros0 = 0, bad0 = 0, zeros1 = 0, bad1 = 0;
    for (unsigned run = 0; run < 48; run++) {
        ctrl(0x70);
        load(1, (uint16_t)(12 + run % 5));
        for (unsigned i = 0; i < 8; i++) {
            ctrl(0xc4);
            uint8_t s0 = inb(0x41);
            uint16_t c = rd16(1);
            if (c == 0 && !(s0 & 0x40)) {
                zeros0++;
                bad0 += !(s0 & 0x80);
            }
        }
        gate2(false);
        ctrl(0xb2);
        load(2, (uint16_t)(12 + run % 7));
        gate2(true);
        for (unsigned i = 0; i < 8; i++) {
            ctrl(0xc8);
            uint8_t s0 = inb(0x42);
            uint16_t c = rd16(2);
            if (c == 0 && !(s0 & 0x40)) {
                zeros1++;
                bad1 += !(s0 & 0x80);
            }
        }
        delay_ns(run * 97);
    }
    info("pit: terminal count samples at count 0, mode 0: ", zeros0);
    info("pit: terminal count samples at count 0, mode 1: ", zeros1);
    check("pit mode 0 OUT high when the count reads 0", bad0 == 0, bad0);
    check("pit mode 1 OUT high when the count reads 0", bad1 == 0, bad1);
}

/* Mode 3 count rewritten while counting, at drifting phases: the new count
 * is loaded at the end of the current half-cycle (counts sampled after). */
static void test_mode3_rewrite(void)
{
    bool ok = true;
    for (unsigned run = 0; run < 40; run++) {
        ctrl(0x76);
        load(1, 6);
        delay_ns(run * 131);
        load(1, 40);
        for (unsigned i = 0; i < 4; i++) {
            uint16_t c = latched(1);
            if (c & 1 || c > 40)
                ok = false;
        }
    }
    check("pit mode 3 count 6 -> 40 rewritten at 40 phases: even counts up to 40", ok, 0);
}

/* Control word modes 6 and 7 count as modes 2 and 3. */
static void test_mode6_7(void)
{
    ctrl(0x7c); /* ch1, mode 6 */
    load(1, 17);
    sample(1, 120);
    bool ok = true;
    for (unsigned i = 0; i < 120; i++)
        if (cnt[i] == 0 || cnt[i] > 17 || (st[i] & 0x0e) != 0x0c)
            ok = false;
    check("pit mode 6 counts like mode 2 (17..1), status shows 110", ok, 0);
    ctrl(0x7e); /* mode 7 */
    load(1, 17);
    sample(1, 120);
    ok = true;
    for (unsigned i = 0; i < 120; i++)
        if ((cnt[i] & 1) || cnt[i] > 16)
            ok = false;
    check("pit mode 7 counts like mode 3 (even, at most 16)", ok, 0);
}

/* ---- mode 4 ------------------------------------------------------------ */

static void test_mode4(void)
{
    ctrl(0x78); /* ch1 mode 4 */
    load(1, 45);
    sample(1, 150);
    bool ok = true, wrapped = false;
    unsigned lows = 0;
    for (unsigned i = 0; i < 150; i++) {
        if (st[i] & 0x40)
            continue;
        if (!OUT(i)) {
            lows++;
            if (cnt[i] != 0)
                ok = false;
        }
        wrapped |= cnt[i] > 45;
    }
    check("pit mode 4 software strobe: low only at count 0, then wraps", ok && wrapped, lows);
}

/* ---- latches, read-back, access modes, BCD ---------------------------- */

static void test_latches(void)
{
    ctrl(0x74);
    load(1, 0x8000);
    delay_ns(100 * 838);
    ctrl(0x40); /* latch */
    delay_ns(500 * 838);
    ctrl(0x40); /* ignored: the first latch is still unread */
    uint16_t v = rd16(1);
    uint16_t w = latched(1);
    check("pit second counter latch before the read is ignored",
          v > w && v - w > 480 && v - w < 530, (uint32_t)v << 16 | w);

    /* Read-back: a second status latch is ignored too (mode 0: OUT rises
     * between the two latches). */
    ctrl(0x70);
    load(1, 30);
    delay_ns(5 * 838);
    ctrl(0xe4); /* status ch1: OUT low */
    delay_ns(60 * 838);
    ctrl(0xe4); /* ignored */
    check_eq("pit second status latch is ignored (old status read)", inb(0x41), 0x30);
    check_eq("pit new status after the first is read", status(1), 0xb0);
    /* Count and status latched for channels 1 and 2 at once. */
    ctrl(0x74);
    load(1, 1000);
    gate2(true);
    ctrl(0xb4);
    load(2, 2000);
    delay_ns(50 * 838);
    ctrl(0xcc); /* read-back count+status, ch1 and ch2 */
    delay_ns(100 * 838);
    uint8_t s1 = inb(0x41);
    uint16_t c1 = rd16(1);
    uint8_t s2 = inb(0x42);
    uint16_t c2 = rd16(2);
    check_eq("pit read-back status ch1", s1, 0xb4);
    check_eq("pit read-back status ch2", s2, 0xb4);
    check("pit read-back counts latched together", c1 < 950 && c2 > c1 + 1000 && c2 < c1 + 1030,
          (uint32_t)c1 << 16 | c2);
    /* Count-only read-back, then the live count again. */
    ctrl(0xd4);
    delay_ns(100 * 838);
    uint16_t d = rd16(1);
    uint16_t e = latched(1);
    check("pit read-back count only", d > e + 90 || e > d + 800, (uint32_t)d << 16 | e);
}

static void test_access_modes(void)
{
    ctrl(0x54); /* ch1, LSB only, mode 2 */
    outb(0x41, 0xc8);
    delay_ns(20 * 838);
    ctrl(0x40);
    uint8_t a = inb(0x41);
    uint8_t a2 = inb(0x41); /* the live LSB: the latch was released */
    check("pit LSB-only count 200: one byte per read", a < 0xc8 && a > 0xa0 && a2 < a, a);
    ctrl(0x64); /* ch1, MSB only, mode 2: count 0x0300 */
    outb(0x41, 0x03);
    delay_ns(300 * 838);
    ctrl(0x40);
    check_eq("pit MSB-only count 0x300: MSB reads 1 after 300 clocks", inb(0x41), 0x01);
    check_eq("pit MSB-only status", status(1), 0xa4);
    /* Read and write flip-flops are independent: LSB read, write both, MSB. */
    ctrl(0x74);
    load(1, 0x1234);
    delay_ns(4 * 838);
    ctrl(0x40);
    uint8_t lo = inb(0x41);
    load(1, 0x4321);
    uint8_t hi = inb(0x41);
    check("pit read flip-flop independent of the write one", hi == 0x12 && lo < 0x34,
          (uint32_t)hi << 8 | lo);
}

static void test_bcd(void)
{
    ctrl(0x75); /* ch1 mode 2 BCD, count 100 */
    load(1, 0x0100);
    sample(1, 200);
    bool ok = true;
    for (unsigned i = 0; i < 200; i++) {
        uint16_t v = cnt[i];
        if ((v & 0xf) > 9 || ((v >> 4) & 0xf) > 9 || v > 0x100 || v == 0)
            ok = false;
    }
    check("pit BCD mode 2 count 100: every count a BCD number 1..100", ok, 0);
    ctrl(0x71); /* mode 0 BCD, count 0 = 10000 */
    load(1, 0);
    delay_ns(30 * 838);
    uint16_t v = latched(1);
    check("pit BCD count 0 is 10000: reads 99xx", (v >> 8) == 0x99 && (v & 0xf) <= 9, v);
}

/* ---- IRQ0 --------------------------------------------------------------- */

static volatile uint32_t irq0_n;
static volatile uint32_t irq0_tsc[8];

GUEST_ISR(irq0_stub, irq0_fn);
void irq0_fn(void)
{
    uint32_t t = (uint32_t)rdtsc();
    if (irq0_n < 8)
        irq0_tsc[irq0_n] = t;
    irq0_n++;
    outb(0x20, 0x20);
}

static void test_irq0(void)
{
    set_ivt(0x20, irq0_stub);
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0xa1, 0xff);
    outb(0x21, 0xfe);

    /* Mode 0 one-shot: exactly one IRQ0, N+1 clocks after the write. */
    irq0_n = 0;
    ctrl(0x30);
    uint64_t t0 = rdtsc();
    load(0, 3000);
    sti();
    while ((uint32_t)(rdtsc() - t0) < muldiv(10000u, hz, 1193182u))
        ;
    cli();
    check_eq("pit mode 0 one-shot IRQ0 fires once", irq0_n, 1);
    uint32_t clk = muldiv(irq0_tsc[0] - (uint32_t)t0, 1193182u, hz);
    check("pit mode 0 IRQ0 about 3001 clocks after the count", clk >= 2995 && clk <= 3010, clk);

    /* Mode 3 odd count 1001: IRQ0 every 1001 clocks (rising edges). */
    irq0_n = 0;
    ctrl(0x36);
    load(0, 1001);
    sti();
    while (irq0_n < 8)
        __asm__ volatile("hlt");
    cli();
    uint32_t span = irq0_tsc[7] - irq0_tsc[1];
    uint32_t c6 = muldiv(span, 1193182u, hz);
    check("pit mode 3 N=1001 IRQ0 period 1001 clocks (6 periods)", c6 >= 6000 && c6 <= 6012, c6);
    /* Mode 2 with a count change: the new period from the next reload. */
    irq0_n = 0;
    ctrl(0x34);
    load(0, 700);
    sti();
    while (irq0_n < 3)
        __asm__ volatile("hlt");
    load(0, 1400);
    while (irq0_n < 8)
        __asm__ volatile("hlt");
    cli();
    uint32_t c7 = muldiv(irq0_tsc[7] - irq0_tsc[4], 1193182u, hz);
    check("pit mode 2 IRQ0 period follows the new count (3 x 1400)", c7 >= 4195 && c7 <= 4205, c7);
    ctrl(0x30); /* stop: mode 0, no count */
    outb(0x21, 0xff);
}

void guest_main(void)
{
    hz = tsc_hz();
    if (!hz) {
        check("pit CPUID 0x15 gives the TSC frequency", false, 0);
        return;
    }
    test_status_after_control_word();
    test_mode0();
    test_mode1();
    test_mode2();
    test_mode3();
    test_mode4();
    test_terminal_count();
    test_mode3_rewrite();
    test_mode6_7();
    test_mode5();
    test_gate_mode2();
    test_latches();
    test_access_modes();
    test_bcd();
    test_irq0();
    /* Port 0x61 bit 4 toggles every 15.085 us: time two toggles. */
    uint8_t b = inb(0x61) & 0x10;
    while ((inb(0x61) & 0x10) == b)
        ;
    uint32_t t0 = (uint32_t)rdtsc();
    while ((inb(0x61) & 0x10) != b)
        ;
    while ((inb(0x61) & 0x10) == b)
        ;
    uint32_t ns = muldiv((uint32_t)rdtsc() - t0, 1000000000u, hz);
    check("pit port 0x61 bit 4 toggles every 15.085 us (2 toggles, +-3 us)",
          ns > 2 * 15085 - 3000 && ns < 2 * 15085 + 3000, ns);
}
