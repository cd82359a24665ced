/* MC146818A CMOS RAM + RTC: see cmos_rtc.h.
 *
 * Time model. The divider chain is described by a reference second boundary
 * ref_ns and the wall-clock second ref_sec that starts there. With the
 * divider running (A.DV = 010):
 *     ticks(t)   = floor((t - ref_ns) * 32768 / 1e9)   (32.768 kHz cycles)
 *     seconds(t) = ref_sec + floor((t - ref_ns) / 1e9)
 * An update happens at every ref_ns + k * 1e9 (unless SET is 1), the
 * periodic flag is set every 2^(RS-1) cycles (RS 1, 2: 128, 256 cycles), UIP
 * is high for the last 73 cycles (2227.8 us: 244 us before the update cycle
 * and the 1984 us cycle itself) of each second. Differences are
 * taken as signed 64-bit, so ref_ns may lie in the future (just after the
 * divider leaves reset). Flags are computed lazily for the interval
 * (last_ns, now]: within one such interval the configuration is constant
 * because every register write first brings the flags up to its time.
 */
#include "hv/devs/cmos_rtc.h"

#define CMOS_TAG     SV_TAG('C', 'M', 'O', 'S')
#define CMOS_VERSION 1

#define NS    ((int64_t)NS_PER_SEC)
#define HZ32K 32768
/* UIP (datasheet table "update cycle times", 32.768 kHz time base) is high
 * tBUC = 244 us (8 cycles) before the update cycle begins and through the
 * update cycle, tUC = 1984 us (65 cycles). The model's update instant (new
 * time visible, UF set) is the end of the update cycle, at each second
 * boundary; the time bytes, undefined on the chip during the cycle, show the
 * old time until then. */
#define TBUC_CYCLES 8
#define TUC_CYCLES  65
#define UIP_TICK    (HZ32K - TBUC_CYCLES - TUC_CYCLES) /* UIP from this cycle of the second on */
#define DV_RUN      0x20
#define SEC_DAY     86400

/* Sanity bounds that keep every product below 2^63: wall seconds within
 * +-2^40 (about 34,000 years) and the reference boundary within 2^62 ns
 * (146 years) of the present. */
#define SEC_LIMIT ((int64_t)1 << 40)
#define REL_LIMIT ((int64_t)1 << 62)

/* ---- integer helpers (64-bit only) ---- */

static int64_t fdiv(int64_t a, int64_t b) /* floor division, b > 0 */
{
    int64_t q = a / b;
    if (a % b < 0)
        q--;
    return q;
}

static int64_t fmod64(int64_t a, int64_t b)
{
    return a - fdiv(a, b) * b;
}

static uint8_t to_bcd(unsigned v)
{
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
    return (v >> 4) * 10u + (v & 15u);
}

/* ---- calendar ---- */

static bool is_leap(int64_t y)
{
    return (fmod64(y, 4) == 0 && fmod64(y, 100) != 0) || fmod64(y, 400) == 0;
}

static const uint16_t days_before_month[13] = {0,   0,   31,  59,  90,  120, 151,
                                               181, 212, 243, 273, 304, 334};

static unsigned month_len(int64_t y, unsigned m)
{
    static const uint8_t len[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m] + (m == 2 && is_leap(y) ? 1u : 0u);
}

/* Leap years in 1..y (negative y counts backwards, consistently). */
static int64_t leaps_through(int64_t y)
{
    return fdiv(y, 4) - fdiv(y, 100) + fdiv(y, 400);
}

static int64_t days_from_date(int64_t y, unsigned m, unsigned d)
{
    int64_t days = 365 * (y - 1970) + leaps_through(y - 1) - leaps_through(1969);
    days += days_before_month[m] + (m > 2 && is_leap(y) ? 1 : 0);
    return days + (int64_t)d - 1;
}

int64_t cmos_tm_to_secs(const struct cmos_tm *tm)
{
    unsigned m = tm->mon < 1 ? 1 : tm->mon > 12 ? 12 : tm->mon;
    int64_t days = days_from_date(tm->year, m, tm->mday);
    return days * SEC_DAY + tm->hour * 3600 + tm->min * 60 + tm->sec;
}

#define DAYS_400Y 146097
#define DAYS_2000 10957 /* 1970-01-01 .. 2000-01-01 */

void cmos_secs_to_tm(int64_t secs, struct cmos_tm *tm)
{
    int64_t days = fdiv(secs, SEC_DAY);
    int64_t sod = secs - days * SEC_DAY;
    tm->hour = (unsigned)(sod / 3600);
    tm->min = (unsigned)(sod / 60 % 60);
    tm->sec = (unsigned)(sod % 60);
    tm->wday = (unsigned)fmod64(days + 4, 7) + 1; /* 1970-01-01 was a Thursday */

    /* Whole 400-year cycles from 2000-01-01, then centuries, 4-year groups
     * and single years inside the cycle. */
    int64_t d = days - DAYS_2000;
    int64_t cyc = fdiv(d, DAYS_400Y);
    d -= cyc * DAYS_400Y;
    int64_t y = 2000 + 400 * cyc;
    for (int c = 0; c < 3; c++) {
        int64_t clen = c == 0 ? 36525 : 36524; /* the first century has y%400==0 */
        if (d < clen)
            break;
        d -= clen;
        y += 100;
    }
    for (;;) {
        int64_t glen = 1460 + (is_leap(y) ? 1 : 0);
        if (d < glen)
            break;
        d -= glen;
        y += 4;
    }
    for (;;) {
        int64_t ylen = 365 + (is_leap(y) ? 1 : 0);
        if (d < ylen)
            break;
        d -= ylen;
        y++;
    }
    unsigned m = 1;
    while (d >= month_len(y, m)) {
        d -= month_len(y, m);
        m++;
    }
    tm->year = y;
    tm->mon = m;
    tm->mday = (unsigned)d + 1;
}

/* ---- register encoding in the format register B selects ---- */

static uint8_t enc(const struct cmos_rtc *c, unsigned v)
{
    return (c->ram[CMOS_REG_B] & CMOS_B_DM) ? (uint8_t)v : to_bcd(v);
}

static unsigned dec(const struct cmos_rtc *c, uint8_t v)
{
    return (c->ram[CMOS_REG_B] & CMOS_B_DM) ? v : from_bcd(v);
}

static uint8_t enc_hour(const struct cmos_rtc *c, unsigned h)
{
    if (c->ram[CMOS_REG_B] & CMOS_B_24H)
        return enc(c, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(enc(c, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct cmos_rtc *c, uint8_t v)
{
    if (c->ram[CMOS_REG_B] & CMOS_B_24H)
        return dec(c, v);
    return dec(c, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

static bool is_clock_reg(unsigned idx)
{
    return idx == CMOS_SEC || idx == CMOS_MIN || idx == CMOS_HOUR ||
           (idx >= CMOS_WDAY && idx <= CMOS_YEAR) || idx == CMOS_CENTURY;
}

static uint8_t clock_reg(const struct cmos_rtc *c, unsigned idx, int64_t secs)
{
    struct cmos_tm tm;
    cmos_secs_to_tm(secs, &tm);
    int64_t y = fmod64(tm.year, 10000);
    switch (idx) {
    case CMOS_SEC: return enc(c, tm.sec);
    case CMOS_MIN: return enc(c, tm.min);
    case CMOS_HOUR: return enc_hour(c, tm.hour);
    case CMOS_WDAY: return enc(c, tm.wday);
    case CMOS_MDAY: return enc(c, tm.mday);
    case CMOS_MON: return enc(c, tm.mon);
    case CMOS_YEAR: return enc(c, (unsigned)(y % 100));
    default: return enc(c, (unsigned)(y / 100)); /* century */
    }
}

static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The time held in the clock bytes (while SET), out-of-range fields clamped;
 * the weekday byte is not used (it follows from the date). */
static int64_t secs_from_regs(const struct cmos_rtc *c)
{
    const uint8_t *r = c->ram;
    struct cmos_tm tm = {
        .year = (int64_t)dec(c, r[CMOS_CENTURY]) * 100 + dec(c, r[CMOS_YEAR]),
        .mon = clamp(dec(c, r[CMOS_MON]), 1, 12),
        .mday = clamp(dec(c, r[CMOS_MDAY]), 1, 31),
        .hour = clamp(dec_hour(c, r[CMOS_HOUR]), 0, 23),
        .min = clamp(dec(c, r[CMOS_MIN]), 0, 59),
        .sec = clamp(dec(c, r[CMOS_SEC]), 0, 59),
    };
    return cmos_tm_to_secs(&tm);
}

static void regs_from_secs(struct cmos_rtc *c, int64_t secs)
{
    static const uint8_t idx[] = {CMOS_SEC,  CMOS_MIN, CMOS_HOUR, CMOS_WDAY,
                                  CMOS_MDAY, CMOS_MON, CMOS_YEAR, CMOS_CENTURY};
    for (unsigned i = 0; i < sizeof idx; i++)
        c->ram[idx[i]] = clock_reg(c, idx[i], secs);
}

/* ---- divider chain ---- */

static bool running(const struct cmos_rtc *c)
{
    return (c->ram[CMOS_REG_A] & CMOS_A_DV) == DV_RUN;
}

static bool set_mode(const struct cmos_rtc *c)
{
    return c->ram[CMOS_REG_B] & CMOS_B_SET;
}

static int64_t rel(const struct cmos_rtc *c, uint64_t t)
{
    return (int64_t)(t - c->ref_ns);
}

static int64_t cur_secs(const struct cmos_rtc *c, uint64_t t)
{
    return running(c) ? c->ref_sec + fdiv(rel(c, t), NS) : c->ref_sec;
}

static int64_t ticks(const struct cmos_rtc *c, uint64_t t)
{
    int64_t d = rel(c, t);
    int64_t s = fdiv(d, NS);
    return s * HZ32K + (d - s * NS) * HZ32K / NS;
}

/* Time (relative to ref_ns) at which tick k begins: ceil(k * 1e9 / 32768). */
static int64_t tick_start(int64_t k)
{
    int64_t s = fdiv(k, HZ32K);
    int64_t j = k - s * HZ32K;
    return s * NS + (j * NS + HZ32K - 1) / HZ32K;
}

static int64_t period_ticks(const struct cmos_rtc *c)
{
    unsigned rs = c->ram[CMOS_REG_A] & CMOS_A_RS;
    if (rs == 0)
        return 0;
    if (rs <= 2)
        return rs == 1 ? 128 : 256; /* 256 Hz, 128 Hz (datasheet table) */
    return (int64_t)1 << (rs - 1);
}

/* Keep the divider phase; the new time applies from the last boundary. */
static void rebase(struct cmos_rtc *c, uint64_t t, int64_t secs)
{
    if (running(c))
        c->ref_ns += (uint64_t)(fdiv(rel(c, t), NS) * NS);
    c->ref_sec = secs;
}

/* ---- alarm ---- */

/* The chip compares each alarm byte with its time byte as the time byte is
 * written in the format register B selects (the datasheet's "Time,
 * Calendar and Alarm Data Modes" table): an alarm byte that is no valid
 * encoding (hour 0x00 in 12-hour mode, a bad BCD digit) never matches;
 * 0xc0-0xff is "don't care". */
static bool alarm_field(const struct cmos_rtc *c, unsigned idx, bool hour, unsigned v)
{
    uint8_t a = c->ram[idx];
    if ((a & 0xc0) == 0xc0)
        return true; /* don't care */
    return a == (hour ? enc_hour(c, v) : enc(c, v));
}

/* First second-of-day >= from (looking at most two days ahead) whose time
 * matches the alarm bytes, or -1. */
static int64_t alarm_next_sod(const struct cmos_rtc *c, int64_t from)
{
    for (int64_t day = 0; day < 2; day++)
        for (unsigned h = 0; h < 24; h++) {
            int64_t hb = day * SEC_DAY + h * 3600;
            if (hb + 3599 < from || !alarm_field(c, CMOS_HOUR_ALM, true, h))
                continue;
            for (unsigned m = 0; m < 60; m++) {
                int64_t mb = hb + m * 60;
                if (mb + 59 < from || !alarm_field(c, CMOS_MIN_ALM, false, m))
                    continue;
                for (unsigned s = 0; s < 60; s++)
                    if (mb + s >= from && alarm_field(c, CMOS_SEC_ALM, false, s))
                        return mb + s;
            }
        }
    return -1;
}

/* Time of the first update after x whose new time matches the alarm. */
static uint64_t next_alarm_ns(const struct cmos_rtc *c, uint64_t x)
{
    int64_t k = fdiv(rel(c, x), NS) + 1; /* next boundary: ref + k s */
    int64_t s1 = c->ref_sec + k;
    int64_t sod = fmod64(s1, SEC_DAY);
    int64_t m = alarm_next_sod(c, sod);
    if (m < 0)
        return TIME_NEVER;
    return c->ref_ns + (uint64_t)((k + (m - sod)) * NS);
}

static uint64_t next_update_ns(const struct cmos_rtc *c, uint64_t x)
{
    return c->ref_ns + (uint64_t)((fdiv(rel(c, x), NS) + 1) * NS);
}

static uint64_t next_periodic_ns(const struct cmos_rtc *c, uint64_t x)
{
    int64_t p = period_ticks(c);
    int64_t k = (fdiv(ticks(c, x), p) + 1) * p;
    return c->ref_ns + (uint64_t)tick_start(k);
}

/* ---- flags and IRQ8 ---- */

static void update_irq(struct cmos_rtc *c)
{
    uint8_t *rc = &c->ram[CMOS_REG_C];
    bool irqf = (*rc & c->ram[CMOS_REG_B] & (CMOS_C_PF | CMOS_C_AF | CMOS_C_UF)) != 0;
    *rc = (uint8_t)((*rc & ~CMOS_C_IRQF) | (irqf ? CMOS_C_IRQF : 0));
    if (irqf != c->irq_out) {
        c->irq_out = irqf;
        irq_sink_set(&c->irq, c->irq_line, irqf);
    }
}

void cmos_tick(struct cmos_rtc *c, uint64_t now_ns)
{
    if (now_ns <= c->last_ns)
        return;
    uint64_t last = c->last_ns;
    c->last_ns = now_ns;
    if (!running(c))
        return;
    uint8_t f = 0;
    int64_t p = period_ticks(c);
    if (p && fdiv(ticks(c, now_ns), p) != fdiv(ticks(c, last), p))
        f |= CMOS_C_PF;
    if (!set_mode(c) && cur_secs(c, now_ns) != cur_secs(c, last)) {
        f |= CMOS_C_UF;
        if (next_alarm_ns(c, last) <= now_ns)
            f |= CMOS_C_AF;
    }
    if (f) {
        c->ram[CMOS_REG_C] |= f;
        update_irq(c);
    }
}

uint64_t cmos_next_event_ns(const struct cmos_rtc *c, uint64_t now_ns)
{
    (void)now_ns;
    uint8_t b = c->ram[CMOS_REG_B];
    if (c->irq_out || !running(c))
        return TIME_NEVER;
    uint64_t t = TIME_NEVER, x = c->last_ns;
    if ((b & CMOS_B_PIE) && period_ticks(c)) {
        uint64_t e = next_periodic_ns(c, x);
        t = e < t ? e : t;
    }
    if (!set_mode(c) && (b & CMOS_B_UIE)) {
        uint64_t e = next_update_ns(c, x);
        t = e < t ? e : t;
    }
    if (!set_mode(c) && (b & CMOS_B_AIE)) {
        uint64_t e = next_alarm_ns(c, x);
        t = e < t ? e : t;
    }
    return t;
}

/* ---- life cycle ---- */

void cmos_init(struct cmos_rtc *c, const struct irq_sink *irq, unsigned irq_line,
               uint64_t epoch_sec)
{
    c->irq = irq ? *irq : (struct irq_sink){0};
    c->irq_line = irq_line;
    c->index = 0;
    for (unsigned i = 0; i < sizeof c->ram; i++)
        c->ram[i] = 0;
    c->ram[CMOS_REG_A] = CMOS_POWERON_A;
    c->ram[CMOS_REG_B] = CMOS_POWERON_B;
    c->ram[CMOS_REG_D] = CMOS_D_VRT;
    c->ref_ns = 0;
    c->ref_sec = epoch_sec > (uint64_t)SEC_LIMIT ? SEC_LIMIT : (int64_t)epoch_sec;
    c->last_ns = 0;
    c->irq_out = false;
}

void cmos_reset(struct cmos_rtc *c, uint64_t now_ns)
{
    if (now_ns > c->last_ns)
        c->last_ns = now_ns;
    c->ram[CMOS_REG_B] &= (uint8_t) ~(CMOS_B_PIE | CMOS_B_AIE | CMOS_B_UIE | CMOS_B_SQWE);
    c->ram[CMOS_REG_C] = 0;
    update_irq(c);
}

void cmos_set_byte(struct cmos_rtc *c, uint8_t index, uint8_t val)
{
    index &= 0x7f;
    if (index <= CMOS_REG_D || index == CMOS_CENTURY)
        return;
    c->ram[index] = val;
}

bool cmos_nmi_disabled(const struct cmos_rtc *c)
{
    return c->index & 0x80;
}

/* ---- register access ---- */

static uint8_t read_reg(struct cmos_rtc *c, unsigned idx, uint64_t t)
{
    if (is_clock_reg(idx))
        return set_mode(c) ? c->ram[idx] : clock_reg(c, idx, cur_secs(c, t));
    switch (idx) {
    case CMOS_REG_A: {
        bool uip = running(c) && !set_mode(c) && fmod64(ticks(c, t), HZ32K) >= UIP_TICK;
        return (uint8_t)((c->ram[CMOS_REG_A] & 0x7f) | (uip ? CMOS_A_UIP : 0));
    }
    case CMOS_REG_C: {
        uint8_t v = c->ram[CMOS_REG_C];
        c->ram[CMOS_REG_C] = 0;
        update_irq(c);
        return v;
    }
    default: return c->ram[idx];
    }
}

static void write_a(struct cmos_rtc *c, uint8_t v, uint64_t t)
{
    bool was = running(c);
    if (was) {
        /* Re-anchor at the last boundary: if the divider stops now, ref_sec
         * is the time it shows while stopped. */
        int64_t k = fdiv(rel(c, t), NS);
        c->ref_ns += (uint64_t)(k * NS);
        c->ref_sec += k;
    }
    c->ram[CMOS_REG_A] = v & 0x7f;
    if (!was && running(c)) {
        /* Leaving reset/stop: the first update comes 500 ms later. */
        c->ref_ns = t + (uint64_t)(NS / 2);
        c->ref_sec += 1;
    }
}

static void write_b(struct cmos_rtc *c, uint8_t v, uint64_t t)
{
    bool was_set = set_mode(c);
    if (!was_set && (v & CMOS_B_SET)) {
        v &= (uint8_t)~CMOS_B_UIE; /* SET going high clears UIE */
        c->ram[CMOS_REG_B] = v;
        regs_from_secs(c, cur_secs(c, t)); /* in the new format */
    } else if (was_set && !(v & CMOS_B_SET)) {
        c->ram[CMOS_REG_B] = v;
        rebase(c, t, secs_from_regs(c)); /* read in the format now in force */
    } else {
        c->ram[CMOS_REG_B] = v;
    }
    update_irq(c);
}

static void write_reg(struct cmos_rtc *c, unsigned idx, uint8_t v, uint64_t t)
{
    if (is_clock_reg(idx)) {
        if (set_mode(c)) {
            c->ram[idx] = v;
        } else {
            /* Written while running: the clock continues from the new value. */
            regs_from_secs(c, cur_secs(c, t));
            c->ram[idx] = v;
            rebase(c, t, secs_from_regs(c));
        }
        return;
    }
    switch (idx) {
    case CMOS_REG_A: write_a(c, v, t); break;
    case CMOS_REG_B: write_b(c, v, t); break;
    case CMOS_REG_C:
    case CMOS_REG_D: break; /* read-only */
    default: c->ram[idx] = v; break;
    }
}

int cmos_io(void *cmos, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct cmos_rtc *c = cmos;
    if (port != CMOS_INDEX_PORT && port != CMOS_DATA_PORT)
        return DEV_IO_UNMAPPED;
    if (size != 1)
        return DEV_IO_BADSIZE;
    if (port == CMOS_INDEX_PORT) {
        if (write)
            c->index = (uint8_t)*val;
        else
            *val = 0xff;
        return DEV_IO_OK;
    }
    cmos_tick(c, now_ns);
    /* Time never goes backwards for the model either. */
    uint64_t t = now_ns > c->last_ns ? now_ns : c->last_ns;
    unsigned idx = c->index & 0x7f;
    if (write)
        write_reg(c, idx, (uint8_t)*val, t);
    else
        *val = read_reg(c, idx, t);
    return DEV_IO_OK;
}

/* ---- save / restore ---- */

/* Register C's low nibble reads 0, D is VRT only, IRQF is the OR of the
 * enabled flags and drives IRQ8, UIP is computed (never stored), and the
 * times are within the model's range. */
static bool cmos_valid(const void *obj)
{
    const struct cmos_rtc *t = obj;
    uint8_t rc = t->ram[CMOS_REG_C];
    bool irqf = (rc & t->ram[CMOS_REG_B] & 0x70) != 0;
    return !((t->ram[CMOS_REG_A] & CMOS_A_UIP) || (rc & 0x0f) || t->ram[CMOS_REG_D] != CMOS_D_VRT ||
             irqf != !!(rc & CMOS_C_IRQF) || irqf != t->irq_out || t->ref_sec > SEC_LIMIT ||
             t->ref_sec < -SEC_LIMIT || rel(t, t->last_ns) > REL_LIMIT || rel(t, t->last_ns) < -NS);
}

static const struct sv_field cmos_fields[] = {
    SV_U8(struct cmos_rtc, index),    SV_U8_ARRAY(struct cmos_rtc, ram),
    SV_U64(struct cmos_rtc, ref_ns),  SV_U64(struct cmos_rtc, ref_sec),
    SV_U64(struct cmos_rtc, last_ns), SV_BOOL(struct cmos_rtc, irq_out),
};

const struct sv_desc cmos_sv_desc = {
    .name = "cmos",
    .tag = CMOS_TAG,
    .version = CMOS_VERSION,
    .min_version = 1,
    .fields = cmos_fields,
    .nfields = SV_NFIELDS(cmos_fields),
    .valid = cmos_valid,
};

void cmos_save(const struct cmos_rtc *c, struct sv *s)
{
    sv_save(s, &cmos_sv_desc, c);
}

int cmos_restore(struct cmos_rtc *c, struct sv *s)
{
    struct cmos_rtc t = *c;
    if (!sv_load(s, &cmos_sv_desc, &t))
        return -1;
    *c = t;
    return 0;
}
