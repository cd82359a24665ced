/* MC146818A CMOS/RTC: calendar, formats, UIP, SET, divider, periodic /
 * update / alarm interrupts at exact virtual times, save/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/cmos_rtc.h"
#include "hv/devs/vm_devices.h"

#define S(x)  ((uint64_t)(x)*1000000000ull)
#define MS(x) ((uint64_t)(x)*1000000ull)

struct fx {
    struct cmos_rtc c;
    bool level;
    unsigned raises, lowers;
};

static void on_irq(void *ctx, unsigned line, bool level)
{
    struct fx *f = ctx;
    assert_int_equal(line, 8);
    assert_true(level != f->level); /* only real changes */
    f->level = level;
    if (level)
        f->raises++;
    else
        f->lowers++;
}

static void fx_init(struct fx *f, uint64_t epoch)
{
    memset(f, 0x3c, sizeof *f);
    f->level = false;
    f->raises = f->lowers = 0;
    const struct irq_sink s = {on_irq, f};
    cmos_init(&f->c, &s, 8, epoch);
    cmos_reset(&f->c, 0);
}

static uint8_t rd(struct fx *f, uint8_t idx, uint64_t t)
{
    uint32_t v = idx;
    assert_int_equal(cmos_io(&f->c, 0x70, 1, true, &v, t), DEV_IO_OK);
    v = 0xdeadbeef;
    assert_int_equal(cmos_io(&f->c, 0x71, 1, false, &v, t), DEV_IO_OK);
    assert_true(v <= 0xff);
    return (uint8_t)v;
}

static void wr(struct fx *f, uint8_t idx, uint8_t val, uint64_t t)
{
    uint32_t v = idx;
    assert_int_equal(cmos_io(&f->c, 0x70, 1, true, &v, t), DEV_IO_OK);
    v = val;
    assert_int_equal(cmos_io(&f->c, 0x71, 1, true, &v, t), DEV_IO_OK);
}

static void check_tm(int64_t secs, int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                     unsigned s, unsigned wday)
{
    struct cmos_tm tm;
    cmos_secs_to_tm(secs, &tm);
    assert_int_equal(tm.year, y);
    assert_int_equal(tm.mon, mo);
    assert_int_equal(tm.mday, d);
    assert_int_equal(tm.hour, h);
    assert_int_equal(tm.min, mi);
    assert_int_equal(tm.sec, s);
    assert_int_equal(tm.wday, wday);
    assert_int_equal(cmos_tm_to_secs(&tm), secs);
}

static void test_date_known_values(void **st)
{
    (void)st;
    check_tm(0, 1970, 1, 1, 0, 0, 0, 5);                   /* Thursday */
    check_tm(946684799, 1999, 12, 31, 23, 59, 59, 6);      /* Friday */
    check_tm(946684800, 2000, 1, 1, 0, 0, 0, 7);           /* Saturday */
    check_tm(951782400, 2000, 2, 29, 0, 0, 0, 3);          /* 2000 is leap */
    check_tm(1709214356, 2024, 2, 29, 13, 45, 56, 5);      /* Thursday */
    check_tm(4102444799, 2099, 12, 31, 23, 59, 59, 5);     /* Thursday */
    check_tm(4102444800, 2100, 1, 1, 0, 0, 0, 6);          /* Friday */
    check_tm(4107499200, 2100, 2, 28, 12, 0, 0, 1);        /* Sunday */
    check_tm(4107499200 + 86400, 2100, 3, 1, 12, 0, 0, 2); /* 2100 not leap */
    check_tm(13574563200, 2400, 2, 29, 0, 0, 0, 3);        /* 2400 is leap */
    check_tm(-2203891200, 1900, 3, 1, 0, 0, 0, 5);         /* 1900 not leap */
    check_tm(-2203891200 - 1, 1900, 2, 28, 23, 59, 59, 4);
    /* A day past the month's end carries. */
    struct cmos_tm tm = {.year = 2023, .mon = 2, .mday = 29};
    assert_int_equal(cmos_tm_to_secs(&tm), 1677628800); /* 2023-03-01 */
}

/* Independent check: walk the calendar day by day from 1900-01-01 (Monday)
 * to 2500 with the plain leap rule and compare every day. */
static void test_date_walk_1900_2500(void **st)
{
    (void)st;
    static const unsigned ml[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y = 1900;
    unsigned m = 1, d = 1, wday = 2;
    int64_t day = -25567; /* 1900-01-01 relative to 1970-01-01 */
    while (y < 2500) {
        int64_t secs = day * 86400 + 45296; /* 12:34:56 */
        struct cmos_tm tm;
        cmos_secs_to_tm(secs, &tm);
        if (tm.year != y || tm.mon != m || tm.mday != d || tm.wday != wday || tm.hour != 12 ||
            tm.min != 34 || tm.sec != 56)
            fail_msg("day %lld: got %lld-%u-%u wd %u, want %lld-%u-%u wd %u", (long long)day,
                     (long long)tm.year, tm.mon, tm.mday, tm.wday, (long long)y, m, d, wday);
        assert_int_equal(cmos_tm_to_secs(&tm), secs);
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        unsigned len = ml[m - 1] + (m == 2 && leap);
        day++;
        wday = wday % 7 + 1;
        if (++d > len) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    assert_int_equal(day, 193579); /* 2500-01-01 */
}

static void test_bcd_registers(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356); /* 2024-02-29 13:45:56 Thu */
    assert_int_equal(rd(&f, 0x00, 0), 0x56);
    assert_int_equal(rd(&f, 0x02, 0), 0x45);
    assert_int_equal(rd(&f, 0x04, 0), 0x13);
    assert_int_equal(rd(&f, 0x06, 0), 5);
    assert_int_equal(rd(&f, 0x07, 0), 0x29);
    assert_int_equal(rd(&f, 0x08, 0), 0x02);
    assert_int_equal(rd(&f, 0x09, 0), 0x24);
    assert_int_equal(rd(&f, 0x32, 0), 0x20);
    assert_int_equal(rd(&f, 0x0a, 0), 0x26);
    assert_int_equal(rd(&f, 0x0b, 0), 0x02);
    assert_int_equal(rd(&f, 0x0d, 0), 0x80);
    assert_int_equal(rd(&f, 0x00, S(3) + 999999999), 0x59);
    /* 4.5 s later: 13:46:00. */
    assert_int_equal(rd(&f, 0x00, MS(4500)), 0x00);
    assert_int_equal(rd(&f, 0x02, MS(4500)), 0x46);
    /* Time never goes backwards: an older now_ns reads as the latest. */
    assert_int_equal(rd(&f, 0x02, MS(1000)), 0x46);
}

static void test_binary_registers(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x06, 0); /* DM=1, 24h */
    const uint8_t want[] = {56, 0, 45, 0, 13, 0, 5, 29, 2, 24};
    for (uint8_t i = 0; i < 10; i += 1)
        if (i != 1 && i != 3 && i != 5)
            assert_int_equal(rd(&f, i, 0), want[i]);
    assert_int_equal(rd(&f, 0x32, 0), 20);
}

static void test_12_hour_mode(void **st)
{
    (void)st;
    const struct {
        int64_t secs;
        uint8_t bcd, bin;
    } cases[] = {
        {1709164800, 0x12, 12},          /* 00:00 -> 12 AM */
        {1709164800 + 3600, 0x01, 1},    /* 01:00 AM */
        {1709208000, 0x92, 0x8c},        /* 12:00 -> 12 PM */
        {1709208000 + 3600, 0x81, 0x81}, /* 13:00 -> 1 PM */
        {1709251199, 0x91, 0x8b},        /* 23:59:59 -> 11 PM */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx f;
        fx_init(&f, (uint64_t)cases[i].secs);
        wr(&f, 0x0b, 0x00, 0); /* BCD, 12 h */
        assert_int_equal(rd(&f, 0x04, 0), cases[i].bcd);
        wr(&f, 0x0b, 0x04, 0); /* binary, 12 h */
        assert_int_equal(rd(&f, 0x04, 0), cases[i].bin);
    }
}

static void test_rollover_into_2100(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 4102444799); /* 2099-12-31 23:59:59 Thu */
    uint64_t t = 999999999;
    assert_int_equal(rd(&f, 0x09, t), 0x99);
    assert_int_equal(rd(&f, 0x32, t), 0x20);
    assert_int_equal(rd(&f, 0x00, t), 0x59);
    t = S(1);
    assert_int_equal(rd(&f, 0x00, t), 0x00);
    assert_int_equal(rd(&f, 0x02, t), 0x00);
    assert_int_equal(rd(&f, 0x04, t), 0x00);
    assert_int_equal(rd(&f, 0x06, t), 6); /* Friday */
    assert_int_equal(rd(&f, 0x07, t), 0x01);
    assert_int_equal(rd(&f, 0x08, t), 0x01);
    assert_int_equal(rd(&f, 0x09, t), 0x00);
    assert_int_equal(rd(&f, 0x32, t), 0x21);
    /* 2100-02-28 -> 03-01 (not a leap year). */
    t = S(1) + S(59ull * 86400);
    assert_int_equal(rd(&f, 0x08, t), 0x03);
    assert_int_equal(rd(&f, 0x07, t), 0x01);
}

static void test_uip_window(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1000);
    /* UIP is high tBUC (244 us, 8 cycles) before the update cycle and
     * through it (tUC 1984 us, 65 cycles); the update ends at the second:
     * cycles [32695, 32768) -> [997772216.797 ns, 1e9), first whole ns
     * 997772217. UF comes as UIP falls. */
    assert_int_equal(rd(&f, 0x0a, 0), 0x26);
    assert_int_equal(rd(&f, 0x0a, 997772216), 0x26);
    assert_int_equal(rd(&f, 0x0a, 997772217), 0xa6);
    assert_int_equal(rd(&f, 0x0a, 999755859), 0xa6); /* the update cycle itself */
    assert_int_equal(rd(&f, 0x0a, 999999999), 0xa6);
    assert_int_equal(rd(&f, 0x0c, 999999999) & 0x10, 0);
    assert_int_equal(rd(&f, 0x0c, S(1)) & 0x10, 0x10);
    assert_int_equal(rd(&f, 0x0a, S(1)), 0x26);
    assert_int_equal(rd(&f, 0x0a, S(2) - 100000), 0xa6);
    /* Linux mc146818_get_time(): read seconds, then A; retry while UIP. */
    uint64_t t = S(5) - 200000;
    uint8_t sec;
    unsigned tries = 0;
    for (;;) {
        sec = rd(&f, 0x00, t);
        if (!(rd(&f, 0x0a, t) & 0x80))
            break;
        t += 100000; /* udelay(100) */
        tries++;
    }
    assert_int_equal(tries, 2);
    assert_int_equal(sec, 0x45); /* 1005 s = 00:16:45 */
    /* SET and a stopped divider keep UIP low. */
    wr(&f, 0x0b, 0x82, S(6));
    assert_int_equal(rd(&f, 0x0a, S(7) - 1000), 0x26);
    wr(&f, 0x0b, 0x02, S(7));
    wr(&f, 0x0a, 0x76, S(7));
    assert_int_equal(rd(&f, 0x0a, S(8) - 1000), 0x76);
}

static void test_linux_set_time_sequence(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    uint64_t t = MS(2300);
    /* mc146818_set_time() on Intel: save B, B|SET, save A, A|DIV_RESET2,
     * year, mon, mday, hour, min, sec (BCD), restore B, restore A. */
    uint8_t save_control = rd(&f, 0x0b, t);
    wr(&f, 0x0b, save_control | 0x80, t);
    uint8_t save_freq = rd(&f, 0x0a, t);
    assert_int_equal(save_freq, 0x26);
    wr(&f, 0x0a, save_freq | 0x70, t);
    wr(&f, 0x09, 0x30, t);
    wr(&f, 0x08, 0x01, t);
    wr(&f, 0x07, 0x02, t);
    wr(&f, 0x04, 0x03, t);
    wr(&f, 0x02, 0x04, t);
    wr(&f, 0x00, 0x05, t);
    t += 7000;
    wr(&f, 0x0b, save_control, t);
    wr(&f, 0x0a, save_freq, t);
    /* The clock shows the written time and ticks 500 ms after the divider
     * leaves reset. */
    assert_int_equal(rd(&f, 0x00, t), 0x05);
    assert_int_equal(rd(&f, 0x09, t), 0x30);
    assert_int_equal(rd(&f, 0x32, t), 0x20);
    assert_int_equal(rd(&f, 0x06, t), 4); /* 2030-01-02 is a Wednesday */
    assert_int_equal(rd(&f, 0x00, t + MS(500) - 1), 0x05);
    assert_int_equal(rd(&f, 0x00, t + MS(500)), 0x06);
    assert_int_equal(rd(&f, 0x00, t + MS(1500)), 0x07);
    assert_int_equal(rd(&f, 0x02, t + MS(500) + S(55)), 0x05);
}

static void test_set_freezes_and_clears_uie(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x12, 0);       /* UIE */
    wr(&f, 0x0b, 0x92, MS(500)); /* SET: UIE cleared */
    assert_int_equal(rd(&f, 0x0b, MS(500)), 0x82);
    assert_int_equal(rd(&f, 0x00, MS(3200)), 0x56); /* frozen */
    rd(&f, 0x0c, MS(3200));
    assert_int_equal(rd(&f, 0x0c, MS(3300)) & 0x10, 0); /* no update while SET */
    wr(&f, 0x0b, 0x02, MS(3700)); /* no writes: continue from the frozen time */
    assert_int_equal(rd(&f, 0x00, MS(3700)), 0x56);
    assert_int_equal(rd(&f, 0x00, S(4) - 1), 0x56);
    assert_int_equal(rd(&f, 0x00, S(4)), 0x57); /* divider phase kept */
    assert_int_equal(f.raises, 0);
}

static void test_write_time_while_running(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x00, 0x30, MS(2500));
    assert_int_equal(rd(&f, 0x00, MS(2500)), 0x30);
    assert_int_equal(rd(&f, 0x02, MS(2500)), 0x45);
    assert_int_equal(rd(&f, 0x00, S(3) - 1), 0x30);
    assert_int_equal(rd(&f, 0x00, S(3)), 0x31);
    wr(&f, 0x04, 0x23, S(3));
    wr(&f, 0x02, 0x59, S(3));
    wr(&f, 0x00, 0x59, S(3));
    assert_int_equal(rd(&f, 0x07, S(4)), 0x01); /* 2024-03-01 */
    assert_int_equal(rd(&f, 0x08, S(4)), 0x03);
}

static void test_periodic_1024hz_exact_times(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), TIME_NEVER);
    wr(&f, 0x0b, 0x42, 0); /* PIE */
    /* 32 cycles of 32.768 kHz = 976562.5 ns. */
    assert_int_equal(cmos_next_event_ns(&f.c, 0), 976563);
    cmos_tick(&f.c, 976562);
    assert_false(f.level);
    cmos_tick(&f.c, 976563);
    assert_true(f.level);
    assert_int_equal(cmos_next_event_ns(&f.c, 976563), TIME_NEVER); /* already high */
    assert_int_equal(rd(&f, 0x0c, 976563), 0xc0);
    assert_false(f.level);
    assert_int_equal(cmos_next_event_ns(&f.c, 976563), 1953125);
    cmos_tick(&f.c, 1953125);
    assert_true(f.level);
    rd(&f, 0x0c, 1953125);
    assert_int_equal(cmos_next_event_ns(&f.c, 1953125), 2929688);
    /* 1000 periods later, still on the grid: no drift. */
    cmos_tick(&f.c, 976562500ull);
    rd(&f, 0x0c, 976562500ull);
    assert_int_equal(cmos_next_event_ns(&f.c, 976562500ull), 977539063ull);
    assert_int_equal(f.raises, 3);
    assert_int_equal(f.lowers, 3);
}

static void test_periodic_rate_table(void **st)
{
    (void)st;
    const uint64_t want[16] = {TIME_NEVER, 3906250,   7812500,   122071,   244141,   488282,
                               976563,     1953125,   3906250,   7812500,  15625000, 31250000,
                               62500000,   125000000, 250000000, 500000000};
    for (unsigned rs = 0; rs < 16; rs++) {
        struct fx f;
        fx_init(&f, 0);
        wr(&f, 0x0a, (uint8_t)(0x20 | rs), 0);
        wr(&f, 0x0b, 0x42, 0);
        assert_int_equal(cmos_next_event_ns(&f.c, 0), want[rs]);
        if (want[rs] != TIME_NEVER) {
            cmos_tick(&f.c, want[rs] - 1);
            assert_false(f.level);
            cmos_tick(&f.c, want[rs]);
            assert_true(f.level);
        }
    }
}

static void test_rate_change_keeps_phase_and_time(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x42, 0);
    rd(&f, 0x0c, MS(5001));
    /* 1024 -> 512 Hz at 5.0013 s: the next 64-cycle boundary of the same
     * divider chain is 5 s + 2 x 976562.5 ns. */
    wr(&f, 0x0a, 0x27, 5001300000ull);
    assert_int_equal(cmos_next_event_ns(&f.c, 5001300000ull), S(5) + 1953125);
    assert_int_equal(rd(&f, 0x00, 5001300000ull), 0x01); /* 13:46:01 */
    assert_int_equal(rd(&f, 0x00, S(6)), 0x02);
}

static void test_update_interrupt(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x12, MS(300)); /* UIE */
    assert_int_equal(cmos_next_event_ns(&f.c, MS(300)), S(1));
    cmos_tick(&f.c, S(1) - 1);
    assert_false(f.level);
    cmos_tick(&f.c, S(1));
    assert_true(f.level);
    /* PF is set too (RS=6 keeps running) though PIE is off. */
    assert_int_equal(rd(&f, 0x0c, S(1)), 0xd0);
    assert_false(f.level);
    assert_int_equal(rd(&f, 0x00, S(1)), 0x57);
    assert_int_equal(cmos_next_event_ns(&f.c, S(1)), S(2));
}

static void test_alarm_interrupt(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356); /* 13:45:56 */
    wr(&f, 0x01, 0x00, 0);
    wr(&f, 0x03, 0x46, 0);
    wr(&f, 0x05, 0x13, 0);
    wr(&f, 0x0b, 0x22, 0); /* AIE */
    assert_int_equal(cmos_next_event_ns(&f.c, 0), S(4));
    cmos_tick(&f.c, S(4) - 1);
    assert_false(f.level);
    cmos_tick(&f.c, S(4));
    assert_true(f.level);
    assert_int_equal(rd(&f, 0x0c, S(4)), 0xf0); /* IRQF AF PF UF */
    /* Same time tomorrow. */
    assert_int_equal(cmos_next_event_ns(&f.c, S(4)), S(4) + S(86400));
    /* 12-hour BCD alarm at 1:46:10 PM. */
    wr(&f, 0x0b, 0x20, S(5));
    wr(&f, 0x05, 0x81, S(5));
    wr(&f, 0x01, 0x10, S(5));
    assert_int_equal(cmos_next_event_ns(&f.c, S(5)), S(14));
}

static void test_alarm_dont_care(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356); /* 13:45:56 */
    wr(&f, 0x01, 0x30, 0);
    wr(&f, 0x03, 0xc0, 0);
    wr(&f, 0x05, 0xff, 0);
    wr(&f, 0x0b, 0x22, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), S(34));
    cmos_tick(&f.c, S(34));
    assert_int_equal(rd(&f, 0x0c, S(34)) & 0xa0, 0xa0);
    assert_int_equal(cmos_next_event_ns(&f.c, S(34)), S(94));
    /* All don't-care: every second. */
    wr(&f, 0x01, 0xc0, S(40));
    assert_int_equal(cmos_next_event_ns(&f.c, S(40)), S(41));
    /* An impossible alarm never fires. */
    wr(&f, 0x01, 0x75, S(40));
    assert_int_equal(cmos_next_event_ns(&f.c, S(40)), TIME_NEVER);
}

/* MC146818A: only a byte with both high bits set (0xc0-0xff) is "don't
 * care"; in 12-hour mode an hour alarm with just bit 7 set is a PM hour and
 * matches that hour only. 3 PM alarm at 13:45:56: 15:00:00, not 14:00:00. */
static void test_alarm_pm_hour_is_not_dont_care(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356); /* 13:45:56 */
    wr(&f, 0x0b, 0x20, 0);   /* AIE, 12-hour, BCD */
    wr(&f, 0x05, 0x83, 0);   /* 3 PM */
    wr(&f, 0x03, 0x00, 0);
    wr(&f, 0x01, 0x00, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), S(4444));
}

/* MC146818A datasheet, "Time, Calendar and Alarm Data Modes" table: in
 * 12-hour mode the hours and hours-alarm bytes hold 01-12 (AM) and 81-92
 * (PM) in BCD, 01-0C and 81-8C in binary; the alarm fires when each alarm
 * byte equals its time byte ("don't care": 0xc0-0xff). Midnight is 12 AM,
 * 0x12 (BCD) or 0x0c (binary): an hours-alarm byte of 0x00, the power-on
 * RAM value and no 12-hour hour, never matches. */
static void test_alarm_12h_midnight_compares_bytes(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709251199); /* 2024-02-29 23:59:59 */
    wr(&f, 0x0b, 0x20, 0);   /* AIE, 12-hour, BCD */
    wr(&f, 0x01, 0x00, 0);
    wr(&f, 0x03, 0x00, 0);
    wr(&f, 0x05, 0x12, 0); /* 12 AM */
    assert_int_equal(cmos_next_event_ns(&f.c, 0), S(1));
    wr(&f, 0x05, 0x00, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), TIME_NEVER);
    cmos_tick(&f.c, S(1));
    assert_false(f.level);
    assert_int_equal(rd(&f, 0x04, S(1)), 0x12);
    assert_int_equal(rd(&f, 0x0c, S(1)) & 0x20, 0); /* no AF at 12:00:00 AM */

    /* Binary 12-hour: 12 AM is 0x0c; 0x00 does not match either. */
    fx_init(&f, 1709251199);
    wr(&f, 0x0b, 0x24, 0); /* AIE, 12-hour, binary */
    wr(&f, 0x01, 0x00, 0);
    wr(&f, 0x03, 0x00, 0);
    wr(&f, 0x05, 0x0c, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), S(1));
    wr(&f, 0x05, 0x00, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), TIME_NEVER);
    cmos_tick(&f.c, S(1));
    assert_int_equal(rd(&f, 0x04, S(1)), 0x0c);
    assert_int_equal(rd(&f, 0x0c, S(1)) & 0x20, 0);
}

/* MC146818A register B SET = 1 "prevents any update transfer": no update
 * ends while it is set, so UF stays 0 across second boundaries (and AF too);
 * once SET is cleared, the next boundary sets UF again. */
static void test_no_update_flag_while_set(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x82, 0); /* SET, 24-hour, BCD */
    rd(&f, 0x0c, 0);
    cmos_tick(&f.c, S(3) + 1);
    assert_int_equal(rd(&f, 0x0c, S(3) + 1) & 0x30, 0);
    wr(&f, 0x0b, 0x02, S(3) + 2);
    cmos_tick(&f.c, S(5));
    assert_int_equal(rd(&f, 0x0c, S(5)) & 0x10, 0x10);
}

static void test_register_c_read_clears_and_lowers(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 0);
    wr(&f, 0x0b, 0x52, 0); /* PIE | UIE */
    cmos_tick(&f.c, S(3)); /* many events: one rising edge */
    assert_true(f.level);
    assert_int_equal(f.raises, 1);
    assert_int_equal(rd(&f, 0x0c, S(3)), 0xd0);
    assert_false(f.level);
    assert_int_equal(f.lowers, 1);
    assert_int_equal(rd(&f, 0x0c, S(3)), 0x00);
    assert_int_equal(f.lowers, 1);
    /* C and D are read-only. */
    wr(&f, 0x0c, 0xf0, S(3));
    wr(&f, 0x0d, 0x00, S(3));
    assert_int_equal(rd(&f, 0x0c, S(3)), 0x00);
    assert_int_equal(rd(&f, 0x0d, S(3)), 0x80);
    assert_false(f.level);
}

static void test_flags_without_enables_and_late_enable(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 0);
    assert_int_equal(cmos_next_event_ns(&f.c, 0), TIME_NEVER);
    cmos_tick(&f.c, MS(1100));
    assert_false(f.level);
    assert_int_equal(rd(&f, 0x0c, MS(1100)), 0x50); /* PF, UF, no IRQF */
    cmos_tick(&f.c, MS(1200));
    /* Enabling PIE while PF is pending raises IRQ8 at once. */
    wr(&f, 0x0b, 0x42, MS(1200));
    assert_true(f.level);
    assert_int_equal(rd(&f, 0x0b, MS(1200)), 0x42);
    /* Disabling it drops IRQF again (IRQF = PF&PIE | AF&AIE | UF&UIE). */
    wr(&f, 0x0b, 0x02, MS(1200));
    assert_false(f.level);
    assert_int_equal(rd(&f, 0x0c, MS(1200)), 0x40);
}

static void test_divider_reset(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x52, MS(1200));
    rd(&f, 0x0c, MS(1200));
    wr(&f, 0x0a, 0x76, MS(1200)); /* divider held in reset */
    assert_int_equal(cmos_next_event_ns(&f.c, MS(1200)), TIME_NEVER);
    assert_int_equal(rd(&f, 0x00, S(5)), 0x57);
    assert_int_equal(rd(&f, 0x0c, S(5)), 0x00);
    wr(&f, 0x0a, 0x26, S(5));
    assert_int_equal(cmos_next_event_ns(&f.c, S(5)), S(5) + 976563);
    rd(&f, 0x0c, S(5) + 976563);
    wr(&f, 0x0b, 0x12, S(5) + 976563);
    assert_int_equal(cmos_next_event_ns(&f.c, S(5) + 976563), MS(5500));
    assert_int_equal(rd(&f, 0x00, MS(5500) - 1), 0x57);
    assert_int_equal(rd(&f, 0x00, MS(5500)), 0x58);
}

static void test_index_port_nmi_and_ram(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 0);
    uint32_t v = 0;
    assert_int_equal(cmos_io(&f.c, 0x70, 1, false, &v, 0), DEV_IO_OK);
    assert_int_equal(v, 0xff);
    assert_false(cmos_nmi_disabled(&f.c));
    cmos_set_byte(&f.c, 0x34, 0x12);
    cmos_set_byte(&f.c, 0x35, 0x05);
    cmos_set_byte(&f.c, 0x00, 0x99); /* clock byte: ignored */
    cmos_set_byte(&f.c, 0x0b, 0xff); /* register: ignored */
    cmos_set_byte(&f.c, 0xb4, 0x77); /* index is 7 bits: 0x34 */
    /* Linux's CMOS_READ: outb(0x80 | idx) when NMIs are to stay masked. */
    assert_int_equal(rd(&f, 0x80 | 0x34, 0), 0x77);
    assert_true(cmos_nmi_disabled(&f.c));
    assert_int_equal(rd(&f, 0x35, 0), 0x05);
    assert_false(cmos_nmi_disabled(&f.c));
    assert_int_equal(rd(&f, 0x00, 0), 0x00);
    assert_int_equal(rd(&f, 0x0b, 0), 0x02);
    wr(&f, 0x7f, 0xa5, 0);
    assert_int_equal(rd(&f, 0xff, 0), 0xa5);
    wr(&f, 0x0e, 0x00, 0);
    wr(&f, 0x0f, 0x0a, 0); /* shutdown status byte */
    assert_int_equal(rd(&f, 0x0f, 0), 0x0a);
    wr(&f, 0x0a, 0xa6, 0); /* UIP is read-only */
    assert_int_equal(rd(&f, 0x0a, 0), 0x26);
}

static void test_bad_sizes_and_ports(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 0);
    uint32_t v = 0x0b;
    assert_int_equal(cmos_io(&f.c, 0x70, 2, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(cmos_io(&f.c, 0x71, 4, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(cmos_io(&f.c, 0x72, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(f.c.index, 0);
}

static void test_reset_pin(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356);
    wr(&f, 0x0b, 0x7a, 0); /* PIE AIE UIE SQWE 24h */
    cmos_tick(&f.c, S(2));
    assert_true(f.level);
    cmos_reset(&f.c, S(2));
    assert_false(f.level);
    assert_int_equal(rd(&f, 0x0b, S(2)), 0x02);
    assert_int_equal(rd(&f, 0x0c, S(2)), 0x00);
    assert_int_equal(rd(&f, 0x00, S(2)), 0x58);
    assert_int_equal(rd(&f, 0x0a, S(2)), 0x26);
}

static void test_long_gap_alarm_flag(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, 1709214356); /* 13:45:56 */
    wr(&f, 0x01, 0x00, 0);
    wr(&f, 0x03, 0x00, 0);
    wr(&f, 0x05, 0x15, 0); /* 15:00:00 */
    rd(&f, 0x0c, S(10));
    assert_int_equal(rd(&f, 0x0c, S(3600)) & 0x20, 0); /* 14:45:56 */
    assert_int_equal(rd(&f, 0x0c, S(2 * 86400)) & 0x30, 0x30);
    assert_false(f.level); /* AIE off */
}

static void test_extreme_epoch_is_clamped(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f, UINT64_MAX); /* clamped to 2^40 s: year 36812 */
    assert_int_equal(rd(&f, 0x32, 0), 0x68);
    assert_int_equal(rd(&f, 0x09, 0), 0x12);
    wr(&f, 0x0b, 0x72, 0);
    cmos_tick(&f.c, S(100000));
    assert_true(f.level);
    assert_int_equal(rd(&f, 0x0c, S(100000)), 0xf0);
}

/* Through the per-VM device set: IRQ8 reaches the PIC input, the RTC's
 * next event is the set's next event, CMOS bytes and the NMI bit via ports. */
struct vm_obs {
    unsigned irq8_up, irq8_down;
};

static void vm_irq_line(void *ctx, unsigned irq, bool level, uint64_t now_ns)
{
    struct vm_obs *o = ctx;
    (void)now_ns;
    if (irq == 8)
        level ? o->irq8_up++ : o->irq8_down++;
}

static void test_wired_in_vm_devices(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct vm_obs o = {0};
    const struct vm_devices_config cfg = {.rtc_epoch_sec = 1709214356};
    const struct vm_devices_hooks hooks = {.irq_line = vm_irq_line, .ctx = &o};
    vm_devices_init(&d, &cfg, &hooks, 0);
    uint32_t v = 0x0b;
    vm_devices_io(&d, 0x70, 1, true, &v, 0);
    v = 0x12; /* UIE */
    vm_devices_io(&d, 0x71, 1, true, &v, 0);
    assert_true(vm_devices_next_event_ns(&d, 0) <= S(1));
    vm_devices_advance(&d, S(1));
    assert_int_equal(o.irq8_up, 1);
    v = 0x8c;
    vm_devices_io(&d, 0x70, 1, true, &v, S(1));
    assert_true(cmos_nmi_disabled(&d.cmos));
    vm_devices_io(&d, 0x71, 1, false, &v, S(1));
    assert_int_equal(v & 0x90, 0x90);
    assert_int_equal(o.irq8_down, 1);
    v = 0x00;
    vm_devices_io(&d, 0x70, 1, true, &v, S(1));
    vm_devices_io(&d, 0x71, 1, false, &v, S(1));
    assert_int_equal(v, 0x57);
    v = 0;
    vm_devices_io(&d, 0x70, 1, false, &v, S(1));
    assert_int_equal(v, 0xff);
}

static size_t save(const struct cmos_rtc *c, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    cmos_save(c, &s);
    return s.err ? 0 : sv_len(&s);
}

static int restore(struct cmos_rtc *c, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return cmos_restore(c, &s);
}

static void test_save_restore_identical(void **st)
{
    (void)st;
    struct fx a, b;
    fx_init(&a, 1709214356);
    fx_init(&b, 42);
    wr(&a, 0x0a, 0x2a, 0); /* 64 Hz */
    wr(&a, 0x01, 0x10, 0);
    wr(&a, 0x03, 0x46, 0);
    wr(&a, 0x05, 0x13, 0);
    wr(&a, 0x00, 0x20, MS(700)); /* re-based clock */
    wr(&a, 0x0b, 0x72, MS(1300));
    cmos_tick(&a.c, MS(1400));
    assert_true(a.level);
    uint8_t buf[512], buf2[512];
    size_t n = save(&a.c, buf, sizeof buf);
    assert_true(n > 128);
    assert_int_equal(restore(&b.c, buf, n), 0);
    assert_int_equal(b.raises, 0); /* sink not called */
    b.level = true;
    assert_int_equal(cmos_next_event_ns(&b.c, MS(1400)), cmos_next_event_ns(&a.c, MS(1400)));
    /* Same answers to the same accesses from here on. */
    const uint8_t idx[] = {0x0c, 0x00, 0x0a, 0x0c, 0x02, 0x0c, 0x00, 0x0a};
    uint64_t t = MS(1400);
    for (int round = 0; round < 40; round++)
        for (unsigned i = 0; i < sizeof idx; i++) {
            t += 3333333 + (uint64_t)round * 7777777;
            assert_int_equal(rd(&a, idx[i], t), rd(&b, idx[i], t));
            assert_int_equal(a.level, b.level);
            assert_int_equal(cmos_next_event_ns(&a.c, t), cmos_next_event_ns(&b.c, t));
        }
    save(&a.c, buf, sizeof buf);
    assert_int_equal(save(&b.c, buf2, sizeof buf2), n);
    assert_memory_equal(buf, buf2, n);
    /* Also while SET is on. */
    wr(&a, 0x0b, 0x82, t);
    wr(&a, 0x00, 0x11, t);
    n = save(&a.c, buf, sizeof buf);
    assert_int_equal(restore(&b.c, buf, n), 0);
    b.level = a.level;
    wr(&a, 0x0b, 0x02, t + S(3));
    wr(&b, 0x0b, 0x02, t + S(3));
    assert_int_equal(rd(&a, 0x00, t + S(9)), rd(&b, 0x00, t + S(9)));
}

static void test_restore_corrupt_rejected(void **st)
{
    (void)st;
    struct fx a, b;
    fx_init(&a, 1709214356);
    fx_init(&b, 0);
    wr(&b, 0x40, 0x99, 0);
    uint8_t buf[512], bad[512];
    size_t n = save(&a.c, buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut += 7)
        assert_int_equal(restore(&b.c, buf, cut), -1);
    assert_int_equal(restore(&b.c, buf, n - 1), -1);
    const size_t ram = 10 + 1; /* payload: index, ram[128], ... */
    memcpy(bad, buf, n);
    bad[ram + 0x0d] = 0x00; /* VRT must be 1 */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[ram + 0x0c] = 0x40; /* PF without IRQF while PIE off is fine ... */
    assert_int_equal(restore(&b.c, bad, n), 0);
    fx_init(&b, 0);
    wr(&b, 0x40, 0x99, 0);
    bad[ram + 0x0b] = 0x42; /* ... but with PIE on, IRQF must be set */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[ram + 0x0c] = 0x01; /* C bits 0-3 read 0 */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[ram + 0x0a] = 0xa6; /* UIP is not state */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[n - 1] = 1; /* IRQ8 high with IRQF clear */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[ram + 128 + 8 + 7] = 0x40; /* ref_sec beyond +-2^40 s */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[ram + 128 + 16 + 7] = 0x70; /* last_ns 2^62 ns past the reference */
    assert_int_equal(restore(&b.c, bad, n), -1);
    memcpy(bad, buf, n);
    bad[4] = 9; /* unknown version */
    assert_int_equal(restore(&b.c, bad, n), -1);
    assert_int_equal(rd(&b, 0x40, 0), 0x99); /* untouched */
    assert_int_equal(restore(&b.c, buf, n), 0);
    assert_int_equal(rd(&b, 0x40, 0), 0x00);
    assert_int_equal(rd(&b, 0x00, 0), 0x56);
}

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* Random corruption of a saved blob: restore either refuses it or yields a
 * state that runs (under ASan/UBSan) with IRQ8 equal to C.IRQF throughout. */
static void test_restore_mutations_safe(void **st)
{
    (void)st;
    struct fx a;
    fx_init(&a, 1709214356);
    wr(&a, 0x0b, 0x72, MS(100));
    wr(&a, 0x01, 0xc5, MS(100));
    cmos_tick(&a.c, MS(2100));
    uint8_t buf[512], m[512];
    size_t n = save(&a.c, buf, sizeof buf);
    uint32_t x = 12345;
    unsigned accepted = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, buf, n);
        for (unsigned k = 1 + lcg(&x) % 3; k; k--)
            m[10 + lcg(&x) % (n - 10)] ^= (uint8_t)(1u << (lcg(&x) % 8));
        struct fx b;
        fx_init(&b, 0);
        if (restore(&b.c, m, n) != 0)
            continue;
        accepted++;
        b.level = b.c.irq_out;
        uint64_t t = b.c.last_ns;
        for (int i = 0; i < 6; i++) {
            t += lcg(&x) % S(3);
            uint64_t e = cmos_next_event_ns(&b.c, t);
            for (uint8_t r = 0; r < 0x0e; r++)
                (void)rd(&b, r, t);
            (void)rd(&b, 0x32, t);
            if (e != TIME_NEVER && e > t && e - t < S(100))
                cmos_tick(&b.c, e);
            assert_int_equal(b.level, (b.c.ram[0x0c] & 0x80) != 0);
        }
    }
    assert_true(accepted > 100); /* RAM, index and time flips are legal */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_known_values),
        cmocka_unit_test(test_date_walk_1900_2500),
        cmocka_unit_test(test_bcd_registers),
        cmocka_unit_test(test_binary_registers),
        cmocka_unit_test(test_12_hour_mode),
        cmocka_unit_test(test_rollover_into_2100),
        cmocka_unit_test(test_uip_window),
        cmocka_unit_test(test_linux_set_time_sequence),
        cmocka_unit_test(test_set_freezes_and_clears_uie),
        cmocka_unit_test(test_write_time_while_running),
        cmocka_unit_test(test_periodic_1024hz_exact_times),
        cmocka_unit_test(test_periodic_rate_table),
        cmocka_unit_test(test_rate_change_keeps_phase_and_time),
        cmocka_unit_test(test_update_interrupt),
        cmocka_unit_test(test_alarm_interrupt),
        cmocka_unit_test(test_alarm_dont_care),
        cmocka_unit_test(test_alarm_pm_hour_is_not_dont_care),
        cmocka_unit_test(test_alarm_12h_midnight_compares_bytes),
        cmocka_unit_test(test_no_update_flag_while_set),
        cmocka_unit_test(test_register_c_read_clears_and_lowers),
        cmocka_unit_test(test_flags_without_enables_and_late_enable),
        cmocka_unit_test(test_divider_reset),
        cmocka_unit_test(test_index_port_nmi_and_ram),
        cmocka_unit_test(test_bad_sizes_and_ports),
        cmocka_unit_test(test_reset_pin),
        cmocka_unit_test(test_long_gap_alarm_flag),
        cmocka_unit_test(test_extreme_epoch_is_clamped),
        cmocka_unit_test(test_wired_in_vm_devices),
        cmocka_unit_test(test_save_restore_identical),
        cmocka_unit_test(test_restore_corrupt_rejected),
        cmocka_unit_test(test_restore_mutations_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
