/* The MC146818A through the hypervisor (Motorola MC146818A datasheet):
 * every periodic rate RS 1-15 timed on IRQ8 through the slave PIC, RS 0 off,
 * flags set without their enables, register C clearing, the update-ended
 * interrupt, UIP timing around an update (tBUC 244 us before the update
 * cycle, high through the 1984 us update cycle, UF at its end), the divider
 * reset and the first update 500 ms after it, SET (freezes the clock, clears
 * UIE, no updates), alarms with don't-care bytes, 12-hour and binary modes
 * across midnight/noon, month/year/century rollovers (2100 is not a leap
 * year) with the weekday, and a time byte written while the clock runs. */
#include "guest.h"

static uint32_t hz;

static uint8_t rd(uint8_t idx)
{
    outb(0x70, idx);
    return inb(0x71);
}

static void wr(uint8_t idx, uint8_t v)
{
    outb(0x70, idx);
    outb(0x71, v);
}

static uint32_t us_between(uint32_t a, uint32_t b)
{
    return muldiv(b - a, 1000000u, hz);
}

/* ---- IRQ8 ------------------------------------------------------------- */

#define NIRQ 8
static volatile unsigned nirq;
static volatile uint32_t irq_tsc[NIRQ];
static volatile uint8_t irq_c[NIRQ];

GUEST_ISR(irq8_stub, irq8_fn);
void irq8_fn(void)
{
    uint32_t t = (uint32_t)rdtsc();
    uint8_t c = rd(0x0c);
    if (nirq < NIRQ) {
        irq_tsc[nirq] = t;
        irq_c[nirq] = c;
    }
    nirq++;
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

/* IRQ8 withdrawn (register C read with interrupts off) after it reached the
 * master: the acknowledge gets the slave's IR7, vector 0x2f, with IS2 set on
 * the master only. */
static volatile unsigned nspurious;
GUEST_ISR(irq15_stub, irq15_fn);
void irq15_fn(void)
{
    nspurious++;
    outb(0x20, 0x20);
}

/* Sleeps in HLT until `n` IRQ8s have come (counted from the last reset). */
static void wait_irqs(unsigned n)
{
    while (nirq < n)
        sti_hlt();
    cli();
}

static void irq_reset(void)
{
    nirq = 0;
}

/* ---- periodic rates ---------------------------------------------------- */

static void test_rates(void)
{
    static const char *const name[16] = {
        0,
        "rtc RS 1: 256 Hz (32.768 kHz time base)",
        "rtc RS 2: 128 Hz",
        "rtc RS 3: 8192 Hz",
        "rtc RS 4: 4096 Hz",
        "rtc RS 5: 2048 Hz",
        "rtc RS 6: 1024 Hz",
        "rtc RS 7: 512 Hz",
        "rtc RS 8: 256 Hz",
        "rtc RS 9: 128 Hz",
        "rtc RS 10: 64 Hz",
        "rtc RS 11: 32 Hz",
        "rtc RS 12: 16 Hz",
        "rtc RS 13: 8 Hz",
        "rtc RS 14: 4 Hz",
        "rtc RS 15: 2 Hz",
    };
    wr(0x0b, 0x42); /* PIE, 24 h */
    for (unsigned rs = 1; rs <= 15; rs++) {
        uint32_t f = rs == 1 ? 256 : rs == 2 ? 128 : 32768u >> (rs - 1);
        wr(0x0a, (uint8_t)(0x20 | rs));
        (void)rd(0x0c);
        irq_reset();
        wait_irqs(4);
        uint32_t us = us_between(irq_tsc[1], irq_tsc[3]); /* two periods */
        uint32_t want = 2000000u / f;
        uint32_t tol = want / 100 > 8 ? want / 100 : 8;
        result(name[rs], us + tol >= want && us <= want + tol, us, want);
    }
    bool ok = true;
    for (unsigned i = 0; i < 4; i++)
        ok &= (irq_c[i] & 0xe0) == 0xc0;
    check("rtc periodic IRQ8: register C shows IRQF|PF", ok, irq_c[0]);
    wr(0x0b, 0x02);
    wr(0x0a, 0x20); /* RS 0: no periodic flag */
    (void)rd(0x0c);
    uint32_t t0 = (uint32_t)rdtsc();
    while (us_between(t0, (uint32_t)rdtsc()) < 20000)
        ;
    check_eq("rtc RS 0: no PF in 20 ms", rd(0x0c) & 0x40, 0);
    wr(0x0a, 0x26); /* PF without PIE: flag, no IRQF */
    (void)rd(0x0c);
    t0 = (uint32_t)rdtsc();
    while (us_between(t0, (uint32_t)rdtsc()) < 1100)
        ;
    uint8_t c1 = rd(0x0c), c2 = rd(0x0c);
    check_eq("rtc PF set without PIE, IRQF clear", c1 & 0xc0, 0x40);
    check_eq("rtc register C read clears the flags", c2 & 0xc0, 0x00);
    wr(0x0a, 0x26);
}

/* ---- update cycle, UIP -------------------------------------------------- */

static void test_update_uip(void)
{
    wr(0x0a, 0x26);
    wr(0x0b, 0x12); /* UIE */
    (void)rd(0x0c);
    irq_reset();
    wait_irqs(2);
    uint32_t per = us_between(irq_tsc[0], irq_tsc[1]);
    result("rtc update-ended IRQ8 every second", per > 999000 && per < 1001000, per, 1000000);
    check_eq("rtc update-ended IRQ8: register C IRQF|UF", irq_c[1] & 0xb0, 0x90);
    wr(0x0b, 0x02);
    /* Spin to 995 ms after the update, then poll register A. */
    uint32_t base = irq_tsc[1];
    while (us_between(base, (uint32_t)rdtsc()) < 995000)
        ;
    uint8_t sec0 = rd(0x00);
    (void)rd(0x0c);
    outb(0x70, 0x0a);
    uint32_t t_rise = 0, t_fall = 0;
    uint8_t c_high = 0xff;
    for (unsigned i = 0; i < 20000; i++) {
        uint8_t a = inb(0x71);
        if (!t_rise && (a & 0x80)) {
            t_rise = (uint32_t)rdtsc();
            c_high = rd(0x0c);
            outb(0x70, 0x0a);
        } else if (t_rise && !(a & 0x80)) {
            t_fall = (uint32_t)rdtsc();
            break;
        }
    }
    uint8_t c = rd(0x0c);
    uint8_t sec1 = rd(0x00);
    uint32_t rise = us_between(base, t_rise), high = us_between(t_rise, t_fall);
    info("rtc: UIP rises us after the previous update: ", rise);
    info("rtc: UIP high for us: ", high);
    /* tBUC + tUC = 244 + 1984 us (datasheet table "update cycle times"). */
    result("rtc UIP high 244 us before and through the 1984 us update cycle",
           high > 2228 - 15 && high < 2228 + 15, high, 2228);
    result("rtc UIP rises 2228 us before the next update ends",
           rise > 997772 - 30 && rise < 997772 + 30, rise, 997772);
    check_eq("rtc no UF while UIP is high (before the update ends)", c_high & 0x10, 0);
    check_eq("rtc UF set when UIP falls", c & 0x10, 0x10);
    unsigned s0 = (sec0 >> 4) * 10u + (sec0 & 15u), s1 = (sec1 >> 4) * 10u + (sec1 & 15u);
    check_eq("rtc seconds advanced by the update (BCD, modulo 60)", (s1 + 60 - s0) % 60, 1);

    /* Divider reset: clock stopped, no UIP; the first update comes 500 ms
     * after DV returns to 010. */
    wr(0x0a, 0x66);
    check_eq("rtc divider reset: UIP low", rd(0x0a), 0x66);
    wr(0x0b, 0x12);
    (void)rd(0x0c);
    irq_reset();
    uint32_t t0 = (uint32_t)rdtsc();
    wr(0x0a, 0x26);
    wait_irqs(1);
    uint32_t first = us_between(t0, irq_tsc[0]);
    result("rtc first update 500 ms after the divider reset", first > 499000 && first < 501000,
           first, 500000);
    wr(0x0b, 0x02);
}

/* ---- SET, clock setting, modes ------------------------------------------ */

struct tm_bytes {
    uint8_t sec, min, hour, wday, mday, mon, year, cent;
};

static void set_clock(uint8_t b, const struct tm_bytes *t)
{
    wr(0x0b, (uint8_t)(0x80 | b));
    wr(0x00, t->sec);
    wr(0x02, t->min);
    wr(0x04, t->hour);
    wr(0x06, t->wday);
    wr(0x07, t->mday);
    wr(0x08, t->mon);
    wr(0x09, t->year);
    wr(0x32, t->cent);
    wr(0x0b, (uint8_t)(b | 0x10)); /* SET off, UIE on */
}

static void get_clock(struct tm_bytes *t)
{
    t->sec = rd(0x00);
    t->min = rd(0x02);
    t->hour = rd(0x04);
    t->wday = rd(0x06);
    t->mday = rd(0x07);
    t->mon = rd(0x08);
    t->year = rd(0x09);
    t->cent = rd(0x32);
}

/* Sets the clock, waits for the next update, reads it back. */
static void roll(const char *name, uint8_t b, struct tm_bytes from, struct tm_bytes want)
{
    set_clock(b, &from);
    (void)rd(0x0c);
    irq_reset();
    wait_irqs(1);
    struct tm_bytes got;
    get_clock(&got);
    uint32_t g1 =
        (uint32_t)got.hour << 24 | (uint32_t)got.min << 16 | (uint32_t)got.sec << 8 | got.wday;
    uint32_t w1 =
        (uint32_t)want.hour << 24 | (uint32_t)want.min << 16 | (uint32_t)want.sec << 8 | want.wday;
    uint32_t g2 =
        (uint32_t)got.cent << 24 | (uint32_t)got.year << 16 | (uint32_t)got.mon << 8 | got.mday;
    uint32_t w2 =
        (uint32_t)want.cent << 24 | (uint32_t)want.year << 16 | (uint32_t)want.mon << 8 | want.mday;
    result(name, g1 == w1 && g2 == w2, g1 == w1 ? g2 : g1, g1 == w1 ? w2 : w1);
}

static void test_modes(void)
{
    wr(0x0a, 0x26);
    /* 24-hour BCD: year, century and leap-year rollovers, weekday. */
    roll("rtc BCD 24h: 2099-12-31 23:59:59 -> 2100-01-01 00:00:00 Friday", 0x02,
         (struct tm_bytes){0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x99, 0x20},
         (struct tm_bytes){0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21});
    roll("rtc BCD 24h: 2100-02-28 -> 2100-03-01 (no leap day)", 0x02,
         (struct tm_bytes){0x59, 0x59, 0x23, 1, 0x28, 0x02, 0x00, 0x21},
         (struct tm_bytes){0x00, 0x00, 0x00, 2, 0x01, 0x03, 0x00, 0x21});
    roll("rtc BCD 24h: 2024-02-28 -> 2024-02-29 (leap day)", 0x02,
         (struct tm_bytes){0x59, 0x59, 0x23, 4, 0x28, 0x02, 0x24, 0x20},
         (struct tm_bytes){0x00, 0x00, 0x00, 5, 0x29, 0x02, 0x24, 0x20});
    /* 12-hour BCD: 11:59:59 PM -> 12:00:00 AM, 11:59:59 AM -> 12:00:00 PM. */
    roll("rtc BCD 12h: 11:59:59 PM -> 12:00:00 AM next day", 0x00,
         (struct tm_bytes){0x59, 0x59, 0x91, 5, 0x29, 0x02, 0x24, 0x20},
         (struct tm_bytes){0x00, 0x00, 0x12, 6, 0x01, 0x03, 0x24, 0x20});
    roll("rtc BCD 12h: 11:59:59 AM -> 12:00:00 PM", 0x00,
         (struct tm_bytes){0x59, 0x59, 0x11, 6, 0x01, 0x03, 0x24, 0x20},
         (struct tm_bytes){0x00, 0x00, 0x92, 6, 0x01, 0x03, 0x24, 0x20});
    roll("rtc BCD 12h: 12:59:59 PM -> 1:00:00 PM", 0x00,
         (struct tm_bytes){0x59, 0x59, 0x92, 6, 0x01, 0x03, 0x24, 0x20},
         (struct tm_bytes){0x00, 0x00, 0x81, 6, 0x01, 0x03, 0x24, 0x20});
    /* Binary. */
    roll("rtc binary 24h: 23:59:59 -> 00:00:00, 31 Dec -> 1 Jan", 0x06,
         (struct tm_bytes){59, 59, 23, 3, 31, 12, 24, 20},
         (struct tm_bytes){0, 0, 0, 4, 1, 1, 25, 20});
    roll("rtc binary 12h: 11:59:59 PM -> 12:00:00 AM", 0x04,
         (struct tm_bytes){59, 59, 0x80 | 11, 4, 1, 1, 25, 20},
         (struct tm_bytes){0, 0, 12, 5, 2, 1, 25, 20});
    wr(0x0b, 0x02);

    /* SET clears UIE; no update while SET (the periodic flag still runs). */
    wr(0x0b, 0x92);
    check_eq("rtc SET clears UIE", rd(0x0b), 0x82);
    wr(0x00, 0x10);
    wr(0x0a, 0x2f); /* 2 Hz periodic */
    wr(0x0b, 0xc2); /* SET, PIE */
    check_eq("rtc SET: UIP low", rd(0x0a) & 0x80, 0);
    (void)rd(0x0c);
    irq_reset();
    wait_irqs(3);
    bool uf = false;
    for (unsigned i = 0; i < 3; i++)
        uf |= (irq_c[i] & 0x10) != 0;
    check("rtc SET: no update flag for 1.5 s", !uf, irq_c[2]);
    check_eq("rtc SET: seconds frozen", rd(0x00), 0x10);
    wr(0x0b, 0x02);
    wr(0x0a, 0x26);

    /* A time byte written while the clock runs takes effect at once; the
     * others run on. */
    struct tm_bytes a, b;
    get_clock(&a);
    wr(0x02, 0x42);
    get_clock(&b);
    check("rtc minutes written while running: read back, hour and date kept",
          b.min == 0x42 && b.hour == a.hour && b.mday == a.mday && b.year == a.year,
          (uint32_t)b.min << 8 | b.hour);
}

/* ---- alarm ------------------------------------------------------------- */

static void test_alarm(void)
{
    wr(0x0a, 0x26);
    wr(0x0b, 0x82);
    wr(0x00, 0x30);
    wr(0x02, 0x15);
    wr(0x04, 0x10);
    wr(0x01, 0x32); /* alarm at xx:xx:32 */
    wr(0x03, 0xc0); /* any minute */
    wr(0x05, 0xff); /* any hour */
    wr(0x0b, 0x22); /* AIE */
    (void)rd(0x0c);
    irq_reset();
    uint32_t t0 = (uint32_t)rdtsc();
    wait_irqs(1);
    uint32_t s = us_between(t0, irq_tsc[0]);
    check_eq("rtc alarm xx:xx:32 (don't-care hours/minutes): IRQF|AF|UF", irq_c[0] & 0xb0, 0xb0);
    check_eq("rtc alarm at second 32", rd(0x00), 0x32);
    result("rtc alarm 2 s after 10:15:30", s > 1000000 && s < 2000000, s, 2000000);
    /* Minutes must match when not don't-care: alarm 10:16:xx. */
    wr(0x0b, 0x82);
    wr(0x00, 0x57);
    wr(0x02, 0x15);
    wr(0x01, 0xc0);
    wr(0x03, 0x16);
    wr(0x05, 0x10);
    wr(0x0b, 0x22);
    (void)rd(0x0c);
    irq_reset();
    wait_irqs(1);
    check_eq("rtc alarm 10:16:xx: first at 10:16:00", (uint32_t)rd(0x02) << 8 | rd(0x00), 0x1600);
    irq_reset();
    wait_irqs(1);
    check_eq("rtc alarm 10:16:xx: again at 10:16:01", (uint32_t)rd(0x02) << 8 | rd(0x00), 0x1601);
    /* 0x80 is not don't-care: an impossible hour never matches. */
    wr(0x0b, 0x82);
    wr(0x00, 0x58);
    wr(0x01, 0xc0);
    wr(0x03, 0xc0);
    wr(0x05, 0x80);
    wr(0x0a, 0x2f); /* 2 Hz periodic to wake up */
    wr(0x0b, 0x62); /* PIE, AIE */
    (void)rd(0x0c);
    irq_reset();
    wait_irqs(5);
    bool af = false;
    for (unsigned i = 0; i < 5; i++)
        af |= (irq_c[i] & 0x20) != 0;
    check("rtc alarm hour 0x80 is not don't-care (no AF in 2 s)", !af, irq_c[4]);
    wr(0x0b, 0x02);
    wr(0x0a, 0x26);
}

void guest_main(void)
{
    hz = tsc_hz();
    set_ivt(0x28, irq8_stub);
    set_ivt(0x2f, irq15_stub);
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0xa0, 0x11);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0x21, 0xfb);
    outb(0xa1, 0xfe);
    check_eq("rtc register D: VRT", rd(0x0d), 0x80);
    check_eq("rtc index port reads 0xff", inb(0x70), 0xff);
    test_rates();
    test_update_uip();
    test_modes();
    test_alarm();
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    info("rtc: spurious IRQ15 after IRQ8 was withdrawn: ", nspurious);
}
