/* Reading the physical MC146818-style RTC (host_rtc.h). */
#include "hv/host_rtc.h"

#include <stdbool.h>

#include "hv/arch.h"
#include "hv/devs/cmos_rtc.h"

#define REG_A_UIP 0x80
#define REG_B_24H 0x02
#define REG_B_BIN 0x04

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg | 0x80); /* bit 7: NMI stays masked while we read */
    return inb(0x71);
}

static unsigned bcd(uint8_t v, bool binary)
{
    return binary ? v : (unsigned)(v >> 4) * 10 + (v & 15);
}

struct raw {
    uint8_t sec, min, hour, mday, mon, year, century;
};

static void read_raw(struct raw *r)
{
    for (unsigned i = 0; i < 100000 && (cmos(0x0a) & REG_A_UIP); i++)
        cpu_pause();
    r->sec = cmos(0x00);
    r->min = cmos(0x02);
    r->hour = cmos(0x04);
    r->mday = cmos(0x07);
    r->mon = cmos(0x08);
    r->year = cmos(0x09);
    r->century = cmos(0x32);
}

uint64_t host_rtc_read(void)
{
    struct raw a, b;
    read_raw(&a);
    for (unsigned i = 0; i < 5; i++) { /* the same twice: no update in between */
        read_raw(&b);
        if (a.sec == b.sec && a.min == b.min && a.hour == b.hour && a.mday == b.mday &&
            a.mon == b.mon && a.year == b.year)
            break;
        a = b;
    }
    uint8_t regb = cmos(0x0b);
    bool bin = regb & REG_B_BIN;
    unsigned hour = bcd(b.hour & 0x7f, bin);
    if (!(regb & REG_B_24H)) { /* 12-hour mode: bit 7 is PM, 12 means 0 */
        hour %= 12;
        if (b.hour & 0x80)
            hour += 12;
    }
    unsigned cent = bcd(b.century, bin);
    struct cmos_tm tm = {
        .sec = bcd(b.sec, bin),
        .min = bcd(b.min, bin),
        .hour = hour,
        .mday = bcd(b.mday, bin),
        .mon = bcd(b.mon, bin),
        .year = (int64_t)((cent >= 19 && cent <= 21 ? cent : 20) * 100 + bcd(b.year, bin)),
    };
    if (tm.sec > 59 || tm.min > 59 || tm.hour > 23 || tm.mday < 1 || tm.mday > 31 || tm.mon < 1 ||
        tm.mon > 12 || tm.year < 1980)
        return 0;
    int64_t s = cmos_tm_to_secs(&tm);
    return s > 0 ? (uint64_t)s : 0;
}
