/* Intel 8254 PIT driven by virtual time (Intel 8254 datasheet, 231164).
 *
 * Nothing counts calls: every counter value and OUT level is a function of
 * the channel's programming and the absolute clock index pit_ns_to_clk(now).
 * A running channel is a "segment": count n loaded into the counting element
 * (CE) at clock `start`; e = k - start + phase clocks have been counted by
 * clock k. Gate pauses shift `start`; reloads start a new segment.
 */
#include "hv/devs/pit8254.h"

#define PIT_TAG SV_TAG('P', 'I', 'T', '4')

/* ---- time <-> clocks ---------------------------------------------------- */

uint64_t pit_ns_to_clk(uint64_t ns)
{
    /* floor(ns * PIT_HZ / 1e9), split so that nothing overflows. */
    return (ns / NS_PER_SEC) * PIT_HZ + (ns % NS_PER_SEC) * PIT_HZ / NS_PER_SEC;
}

uint64_t pit_clk_to_ns(uint64_t clk)
{
    /* ceil(clk * 1e9 / PIT_HZ): the first ns at which edge clk has happened. */
    uint64_t q = clk / PIT_HZ, r = clk % PIT_HZ;
    if (clk == PIT_NEVER || q > (TIME_NEVER - NS_PER_SEC) / NS_PER_SEC)
        return TIME_NEVER;
    return q * NS_PER_SEC + (r * NS_PER_SEC + PIT_HZ - 1) / PIT_HZ;
}

/* ---- count encoding ------------------------------------------------------- */

static uint32_t modulus(const struct pit_channel *c)
{
    return c->bcd ? 10000u : 65536u;
}

/* Written count -> n. 0 means the full modulus (65536, or 10000 in BCD).
 * Invalid BCD digits (A-F) are undefined on hardware; we weight them like
 * decimal digits and reduce modulo 10000. */
static uint32_t count_from_raw(const struct pit_channel *c, uint16_t raw)
{
    uint32_t v = raw;
    if (c->bcd) {
        v = ((raw >> 12) & 15) * 1000u + ((raw >> 8) & 15) * 100u + ((raw >> 4) & 15) * 10u +
            (raw & 15);
        v %= 10000u;
    }
    return v ? v : modulus(c);
}

static uint16_t count_to_raw(const struct pit_channel *c, uint32_t v)
{
    v %= modulus(c);
    if (!c->bcd)
        return (uint16_t)v;
    return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | (v % 10));
}

/* ---- pure evaluation of a segment --------------------------------------- */

struct seg {
    uint64_t start;
    uint32_t n, phase;
};

/* The segment in force at clock k (a pending mode 2/3 reload takes over at pend_clk). */
static struct seg seg_at(const struct pit_channel *c, uint64_t k)
{
    if (c->pend_clk != PIT_NEVER && k >= c->pend_clk)
        return (struct seg){c->pend_clk, c->pend_n, c->pend_phase};
    return (struct seg){c->start, c->n, c->phase};
}

static uint64_t elapsed(const struct seg *s, uint64_t k)
{
    return (k >= s->start ? k - s->start : 0) + s->phase;
}

/* Mode 3 half lengths: OUT high for (n+1)/2 clocks, low for n/2 (odd n: the
 * datasheet's "(N+1)/2 high, (N-1)/2 low"). */
static uint32_t high_len(uint32_t n)
{
    return (n + 1) / 2;
}

/* CE value (binary, < modulus) after e counted clocks of a segment of count n. */
static uint32_t ce_of(const struct pit_channel *c, uint32_t n, uint64_t e)
{
    uint32_t m = modulus(c);
    switch (c->mode) {
    case 2:
        if (n == 1)
            return 1;
        return (n - (uint32_t)(e % n)) % m;
    case 3: {
        /* Even n: loaded with n, minus 2 per clock, reload at expiry.
         * Odd n: loaded with n-1, minus 2 per clock; the high half holds
         * one extra clock at 0 (datasheet, mode 3 "odd counts"). */
        uint32_t p = (uint32_t)(e % n);
        if (n % 2 == 0)
            return (n - 2 * (p % (n / 2))) % m;
        uint32_t hl = high_len(n);
        uint32_t q = p < hl ? p : p - hl;
        return (n - 1 - 2 * q) % m;
    }
    default: /* 0, 1, 4, 5: count down, wrap to the top after terminal count */
        return (uint32_t)(((uint64_t)n + m - e % m) % m);
    }
}

static bool out_of(const struct pit_channel *c, uint32_t n, uint64_t e)
{
    switch (c->mode) {
    case 0:
    case 1: return e >= n;                   /* high at terminal count, stays high */
    case 2: return n == 1 || e % n != n - 1; /* low for one clock when the count is 1 */
    case 3: return e % n < high_len(n);
    default: return e != n; /* modes 4/5: one-clock strobe at terminal count */
    }
}

static bool ch_out(const struct pit_channel *c, uint64_t k)
{
    switch (c->run) {
    case PIT_IDLE: return c->idle_out;
    case PIT_ARMED: return true;
    case PIT_PAUSED:
        if (c->mode == 0 || c->mode == 4)
            return out_of(c, c->n, c->paused_e);
        return true; /* modes 2/3: gate low forces OUT high */
    default: {
        struct seg s = seg_at(c, k);
        if (k < s.start)
            return c->pre_out;
        return out_of(c, s.n, elapsed(&s, k));
    }
    }
}

static uint32_t ch_ce(const struct pit_channel *c, uint64_t k)
{
    switch (c->run) {
    case PIT_RUNNING: {
        struct seg s = seg_at(c, k);
        return ce_of(c, s.n, elapsed(&s, k));
    }
    case PIT_PAUSED:
        if (c->mode == 0 || c->mode == 4)
            return ce_of(c, c->n, c->paused_e);
        return c->frozen;
    default: return c->frozen;
    }
}

/* First clock > k at which the segment's OUT rises (k >= s->start). */
static uint64_t seg_rise_after(const struct pit_channel *c, const struct seg *s, uint64_t k)
{
    uint64_t e = elapsed(s, k);
    switch (c->mode) {
    case 0:
    case 1: return e < s->n ? s->start + s->n - s->phase : PIT_NEVER;
    case 4:
    case 5: return e < (uint64_t)s->n + 1 ? s->start + s->n + 1 - s->phase : PIT_NEVER;
    default: /* 2, 3: OUT rises when the period wraps */
        if (s->n == 1)
            return PIT_NEVER;
        return k + (s->n - e % s->n);
    }
}

/* First clock > k at which OUT rises, assuming no further gate or port activity. */
static uint64_t ch_next_rise(const struct pit_channel *c, uint64_t k)
{
    if (c->run != PIT_RUNNING)
        return PIT_NEVER;
    struct seg s = seg_at(c, k);
    uint64_t r;
    if (k < s.start) {
        if (!c->pre_out && out_of(c, s.n, s.phase))
            return s.start;
        r = seg_rise_after(c, &s, s.start);
    } else {
        r = seg_rise_after(c, &s, k);
    }
    if (c->pend_clk != PIT_NEVER && k < c->pend_clk && r > c->pend_clk) {
        /* The current half-cycle ends at pend_clk with OUT going low; the
         * pending segment starts there in its low half. */
        struct seg ps = {c->pend_clk, c->pend_n, c->pend_phase};
        r = seg_rise_after(c, &ps, c->pend_clk);
    }
    return r;
}

/* ---- state changes -------------------------------------------------------- */

/* Fold what has already happened by clock k into the state. */
static void normalize(struct pit_channel *c, uint64_t k)
{
    if (c->pend_clk != PIT_NEVER && k >= c->pend_clk) {
        c->start = c->pend_clk;
        c->n = c->pend_n;
        c->phase = c->pend_phase;
        c->pend_clk = PIT_NEVER;
        c->pend_n = 1;
        c->pend_phase = 0;
    }
    if (c->null_count && k >= c->load_clk)
        c->null_count = false;
}

static void clear_pending(struct pit_channel *c)
{
    c->pend_clk = PIT_NEVER;
    c->pend_n = 1;
    c->pend_phase = 0;
}

/* Load count n at clock k+1 and count from there (gate permitting). */
static void start_segment(struct pit_channel *c, uint64_t k, uint32_t n, bool pre_out)
{
    c->start = k + 1;
    c->n = n;
    c->phase = 0;
    c->paused_e = 0;
    c->pre_out = pre_out;
    clear_pending(c);
    if (c->null_count)
        c->load_clk = k + 1;
}

static void control_word(struct pit_channel *c, uint8_t v, uint64_t k)
{
    uint32_t ce = ch_ce(c, k);
    c->rw = (v >> 4) & 3;
    c->ctrl_mode = (v >> 1) & 7;
    c->mode = c->ctrl_mode >= 6 ? c->ctrl_mode - 4 : c->ctrl_mode;
    c->bcd = v & 1;
    /* "All control logic is immediately reset and OUT goes to a known
     * initial state": low in mode 0, high in every other mode. */
    c->wr_msb = c->rd_msb = false;
    c->cr_valid = false;
    c->count_latched = c->status_latched = false;
    c->run = PIT_IDLE;
    c->frozen = ce % modulus(c);
    c->idle_out = c->mode != 0;
    c->pre_out = c->idle_out;
    c->n = 1;
    c->phase = 0;
    c->paused_e = 0;
    clear_pending(c);
    c->null_count = true;
    c->load_clk = PIT_NEVER;
}

/* A complete count was written to the count register at clock k. */
static void count_written(struct pit_channel *c, uint16_t raw, uint64_t k)
{
    bool out_now = ch_out(c, k);
    c->cr = raw;
    c->cr_valid = true;
    c->null_count = true;
    c->load_clk = PIT_NEVER;
    uint32_t n = count_from_raw(c, raw);
    switch (c->mode) {
    case 0:
    case 4:
        /* Loaded on the next clock, which does not decrement; a new count
         * restarts counting. Mode 0 OUT goes low at once. */
        start_segment(c, k, n, c->mode == 0 ? false : out_now);
        c->run = c->gate ? PIT_RUNNING : PIT_PAUSED;
        break;
    case 1:
    case 5:
        /* Armed; the count is used by the next gate trigger. A trigger
         * whose loading clock has not come yet loads this count. */
        if (c->run == PIT_IDLE) {
            c->run = PIT_ARMED;
        } else if (c->run == PIT_RUNNING && k < c->start) {
            c->n = n;
            c->load_clk = c->start;
        }
        break;
    default: /* 2, 3 */
        if (c->run == PIT_IDLE) {
            start_segment(c, k, n, true);
            if (c->gate) {
                c->run = PIT_RUNNING;
            } else {
                c->run = PIT_PAUSED;
                c->frozen = ce_of(c, n, 0);
            }
        } else if (c->run == PIT_RUNNING) {
            if (k < c->start) { /* not loaded yet: the new count replaces it */
                c->n = n;
                c->load_clk = c->start;
                break;
            }
            /* The current period (mode 2) or half-cycle (mode 3) finishes
             * first; the new count is loaded at its end. */
            uint64_t e = elapsed(&(struct seg){c->start, c->n, c->phase}, k);
            uint32_t p = (uint32_t)(e % c->n), hl = high_len(c->n);
            if (c->n == 1) {
                c->pend_clk = k + 1;
                c->pend_phase = 0;
            } else if (c->mode == 3 && p < hl) {
                c->pend_clk = k + (hl - p);
                c->pend_phase = n > 1 ? high_len(n) : 0; /* starts in the low half */
            } else {
                c->pend_clk = k + (c->n - p);
                c->pend_phase = 0;
            }
            c->pend_n = n;
            c->load_clk = c->pend_clk;
        } else if (k < c->start) { /* paused, first load still to come */
            c->n = n;
            c->frozen = ce_of(c, n, 0);
            c->load_clk = c->start;
        }
        /* Otherwise paused: loaded by the gate's next rising edge. */
        break;
    }
}

static void data_write(struct pit_channel *c, uint8_t v, uint64_t k)
{
    switch (c->rw) {
    case 1: count_written(c, v, k); break;
    case 2: count_written(c, (uint16_t)(v << 8), k); break;
    default:
        if (!c->wr_msb) {
            c->cr_lsb = v;
            c->wr_msb = true;
            /* Mode 0: writing the first byte stops counting and sets OUT low. */
            if (c->mode == 0) {
                c->frozen = ch_ce(c, k);
                c->run = PIT_IDLE;
                c->idle_out = false;
                clear_pending(c);
            }
        } else {
            c->wr_msb = false;
            count_written(c, (uint16_t)(c->cr_lsb | v << 8), k);
        }
        break;
    }
}

static uint8_t data_read(struct pit_channel *c, uint64_t k)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v = c->count_latched ? c->ol : count_to_raw(c, ch_ce(c, k));
    uint8_t b;
    switch (c->rw) {
    case 1:
        b = (uint8_t)v;
        c->count_latched = false;
        break;
    case 2:
        b = (uint8_t)(v >> 8);
        c->count_latched = false;
        break;
    default:
        b = c->rd_msb ? (uint8_t)(v >> 8) : (uint8_t)v;
        if (c->rd_msb)
            c->count_latched = false; /* released once both bytes are read */
        c->rd_msb = !c->rd_msb;
        break;
    }
    return b;
}

static void latch_count(struct pit_channel *c, uint64_t k)
{
    if (c->count_latched) /* a second latch before the read is ignored */
        return;
    c->ol = count_to_raw(c, ch_ce(c, k));
    c->count_latched = true;
}

static void latch_status(struct pit_channel *c, uint64_t k)
{
    if (c->status_latched)
        return;
    bool null = c->null_count && k < c->load_clk;
    c->status = (uint8_t)((ch_out(c, k) ? 0x80 : 0) | (null ? 0x40 : 0) | c->rw << 4 |
                          c->ctrl_mode << 1 | (c->bcd ? 1 : 0));
    c->status_latched = true;
}

static void gate_change(struct pit_channel *c, bool level, uint64_t k)
{
    if (c->gate == level)
        return;
    bool out_now = ch_out(c, k);
    c->gate = level;
    switch (c->mode) {
    case 0:
    case 4:
        if (!level && c->run == PIT_RUNNING) {
            c->paused_e = k >= c->start ? k - c->start : 0;
            c->run = PIT_PAUSED;
        } else if (level && c->run == PIT_PAUSED) {
            /* Counting resumes with the clock after the gate rises. */
            uint64_t s = k >= c->paused_e ? k - c->paused_e : 0;
            c->start = s > c->start ? s : c->start;
            c->pre_out = out_now;
            c->paused_e = 0;
            c->run = PIT_RUNNING;
        }
        break;
    case 1:
    case 5:
        /* Rising edge triggers (and retriggers): load on the next clock. */
        if (level && c->cr_valid) {
            start_segment(c, k, count_from_raw(c, c->cr), out_now);
            c->run = PIT_RUNNING;
        }
        break;
    default: /* 2, 3 */
        if (!level && c->run == PIT_RUNNING) {
            c->frozen = ch_ce(c, k);
            clear_pending(c);
            c->run = PIT_PAUSED;
        } else if (level && c->run == PIT_PAUSED) {
            /* Trigger: reload with the latest count on the next clock. */
            start_segment(c, k, count_from_raw(c, c->cr), true);
            c->run = PIT_RUNNING;
        }
        break;
    }
}

/* ---- IRQ0 ----------------------------------------------------------------- */

static void set_line(struct pit *p, bool level)
{
    if (p->irq_level == level)
        return;
    p->irq_level = level;
    irq_sink_set(&p->irq, 0, level);
}

void pit_tick(struct pit *p, uint64_t now_ns)
{
    if (now_ns < p->last_ns)
        now_ns = p->last_ns;
    uint64_t k0 = pit_ns_to_clk(p->last_ns), k1 = pit_ns_to_clk(now_ns);
    const struct pit_channel *c = &p->ch[0];
    bool rose = ch_next_rise(c, k0) <= k1;
    bool cur = ch_out(c, k1);
    if (rose) {
        /* One or more rising edges happened since the last tick: deliver a
         * single low->high transition (an edge-triggered PIC latches one). */
        set_line(p, false);
        set_line(p, true);
    }
    set_line(p, cur);
    p->last_ns = now_ns;
    normalize(&p->ch[0], k1);
}

uint64_t pit_next_event_ns(const struct pit *p, uint64_t now_ns)
{
    uint64_t r = ch_next_rise(&p->ch[0], pit_ns_to_clk(p->last_ns));
    if (r == PIT_NEVER)
        return TIME_NEVER;
    uint64_t t = pit_clk_to_ns(r);
    return t > now_ns ? t : now_ns;
}

/* A bound on OUT0's next change after clock k of a running channel 0, r
 * being its next rise (ch_next_rise(c, k)). */
static uint64_t change_after(const struct pit_channel *c, uint64_t k, uint64_t r)
{
    struct seg s = seg_at(c, k);
    uint64_t b = PIT_NEVER;
    if (k < s.start)
        b = s.start; /* counting starts: OUT leaves its pre-count level */
    if (c->pend_clk != PIT_NEVER && c->pend_clk > k && c->pend_clk < b)
        b = c->pend_clk; /* a pending reload ends the half-cycle, OUT low */
    if (r != PIT_NEVER) {
        /* OUT falls before it rises again: one clock before in modes 2/4/5
         * (count 1, the strobe), half a period in mode 3 (the low half) */
        uint64_t lead = c->mode == 3 ? s.n / 2 + 1 : 1;
        uint64_t f = r > k + lead ? r - lead : k + 1;
        if (f < b)
            b = f;
    }
    return b;
}

uint64_t pit_next_change_ns(const struct pit *p)
{
    const struct pit_channel *c = &p->ch[0];
    if (c->run != PIT_RUNNING)
        return TIME_NEVER; /* idle, armed, paused: only a port access changes OUT */
    uint64_t k = pit_ns_to_clk(p->last_ns);
    return pit_clk_to_ns(change_after(c, k, ch_next_rise(c, k)));
}

void pit_deadlines(const struct pit *p, uint64_t *event_ns, uint64_t *change_ns)
{
    const struct pit_channel *c = &p->ch[0];
    if (c->run != PIT_RUNNING) { /* ch_next_rise: never */
        *event_ns = *change_ns = TIME_NEVER;
        return;
    }
    uint64_t k = pit_ns_to_clk(p->last_ns), r = ch_next_rise(c, k);
    *event_ns = pit_clk_to_ns(r); /* TIME_NEVER for PIT_NEVER */
    *change_ns = pit_clk_to_ns(change_after(c, k, r));
}

/* ---- public API ------------------------------------------------------------ */

static void reset_channel(struct pit_channel *c, bool gate, uint64_t k)
{
    *c = (struct pit_channel){0};
    c->gate = gate;
    control_word(c, 0x30, k);
    c->frozen = 0;
}

void pit_init(struct pit *p, const struct irq_sink *irq, uint64_t now_ns)
{
    *p = (struct pit){0};
    if (irq)
        p->irq = *irq;
    p->last_ns = now_ns;
    for (unsigned i = 0; i < 3; i++)
        reset_channel(&p->ch[i], i != 2, pit_ns_to_clk(now_ns));
}

void pit_reset(struct pit *p, uint64_t now_ns)
{
    if (now_ns < p->last_ns)
        now_ns = p->last_ns;
    p->last_ns = now_ns;
    for (unsigned i = 0; i < 3; i++) /* gates are input pins: kept */
        reset_channel(&p->ch[i], p->ch[i].gate, pit_ns_to_clk(now_ns));
    set_line(p, ch_out(&p->ch[0], pit_ns_to_clk(now_ns)));
}

int pit_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct pit *p = dev;
    if (size != 1)
        return DEV_IO_BADSIZE;
    if (port < 0x40 || port > 0x43)
        return DEV_IO_UNMAPPED;
    pit_tick(p, now_ns); /* edges before this access are delivered first */
    uint64_t k = pit_ns_to_clk(p->last_ns);
    unsigned idx = port & 3;
    if (!write) {
        if (idx == 3) {
            *val = 0xff; /* the control register is write-only: bus floats */
            return DEV_IO_OK;
        }
        normalize(&p->ch[idx], k);
        *val = data_read(&p->ch[idx], k);
        return DEV_IO_OK;
    }
    uint8_t v = (uint8_t)*val;
    if (idx < 3) {
        normalize(&p->ch[idx], k);
        data_write(&p->ch[idx], v, k);
    } else if ((v & 0xc0) == 0xc0) {
        /* Read-back: bit 5 = 0 latches counts, bit 4 = 0 latches status,
         * bits 1-3 select channels 0-2 (bit 0 is reserved, ignored). */
        for (unsigned i = 0; i < 3; i++) {
            if (!(v & (2u << i)))
                continue;
            normalize(&p->ch[i], k);
            if (!(v & 0x20))
                latch_count(&p->ch[i], k);
            if (!(v & 0x10))
                latch_status(&p->ch[i], k);
        }
    } else {
        struct pit_channel *c = &p->ch[v >> 6];
        normalize(c, k);
        if ((v & 0x30) == 0)
            latch_count(c, k);
        else
            control_word(c, v, k);
    }
    set_line(p, ch_out(&p->ch[0], k)); /* a write may move OUT0 at once */
    return DEV_IO_OK;
}

void pit_set_gate(struct pit *p, unsigned ch, bool level, uint64_t now_ns)
{
    if (ch != 2) /* gates 0 and 1 are tied high on the PC */
        return;
    uint64_t k = pit_ns_to_clk(now_ns > p->last_ns ? now_ns : p->last_ns);
    normalize(&p->ch[2], k);
    gate_change(&p->ch[2], level, k);
}

bool pit_get_gate(const struct pit *p, unsigned ch)
{
    return ch < 3 && p->ch[ch].gate;
}

bool pit_out(const struct pit *p, unsigned ch, uint64_t now_ns)
{
    return ch < 3 && ch_out(&p->ch[ch], pit_ns_to_clk(now_ns));
}

uint16_t pit_peek_count(const struct pit *p, unsigned ch, uint64_t now_ns)
{
    if (ch >= 3)
        return 0;
    const struct pit_channel *c = &p->ch[ch];
    return count_to_raw(c, ch_ce(c, pit_ns_to_clk(now_ns)));
}

/* ---- save / restore ---------------------------------------------------------- */

/* The effective mode follows from the control word (6/7 alias 2/3). */
static uint8_t effective_mode(uint8_t ctrl_mode)
{
    return ctrl_mode >= 6 ? (uint8_t)(ctrl_mode - 4) : ctrl_mode;
}

/* Layout 2 lacks `mode`: the upgrade derives it from the control word. */
static void channel_post_load(void *obj, uint16_t version)
{
    struct pit_channel *c = obj;
    if (version < 3)
        c->mode = effective_mode(c->ctrl_mode);
}

/* False if the values could not come from this model. */
static bool channel_valid(const void *obj)
{
    const struct pit_channel *c = obj;
    if (c->ctrl_mode > 7 || c->mode != effective_mode(c->ctrl_mode) || c->rw < 1 || c->rw > 3 ||
        c->run > PIT_PAUSED)
        return false;
    uint32_t m = modulus(c);
    bool one_shot = c->mode == 1 || c->mode == 5;
    if (c->n < 1 || c->n > m || c->pend_n < 1 || c->pend_n > m || c->frozen >= m ||
        c->phase >= c->n || c->pend_phase >= c->pend_n || c->start > PIT_NEVER / 2)
        return false;
    if ((c->run == PIT_ARMED && !one_shot) || (c->run == PIT_PAUSED && one_shot))
        return false;
    if (c->pend_clk != PIT_NEVER && (c->pend_clk > PIT_NEVER / 2 || c->mode < 2 || c->mode > 3))
        return false;
    return true;
}

static const struct sv_field channel_fields[] = {
    SV_U8(struct pit_channel, ctrl_mode),
    SV_U8_DERIVED(struct pit_channel, mode, 3), /* layout 3 */
    SV_U8(struct pit_channel, rw),
    SV_BOOL(struct pit_channel, bcd),
    SV_BOOL(struct pit_channel, gate),
    SV_U16(struct pit_channel, cr),
    SV_U8(struct pit_channel, cr_lsb),
    SV_BOOL(struct pit_channel, wr_msb),
    SV_BOOL(struct pit_channel, rd_msb),
    SV_BOOL(struct pit_channel, cr_valid),
    SV_BOOL(struct pit_channel, count_latched),
    SV_U16(struct pit_channel, ol),
    SV_BOOL(struct pit_channel, status_latched),
    SV_U8(struct pit_channel, status),
    SV_U8(struct pit_channel, run),
    SV_U64(struct pit_channel, start),
    SV_U32(struct pit_channel, n),
    SV_U32(struct pit_channel, phase),
    SV_U64(struct pit_channel, pend_clk),
    SV_U32(struct pit_channel, pend_n),
    SV_U32(struct pit_channel, pend_phase),
    SV_U64(struct pit_channel, paused_e),
    SV_U32(struct pit_channel, frozen),
    SV_BOOL(struct pit_channel, idle_out),
    SV_BOOL(struct pit_channel, pre_out),
    SV_BOOL(struct pit_channel, null_count),
    SV_U64(struct pit_channel, load_clk),
};

static const struct sv_desc channel_desc = {
    .name = "ch",
    .fields = channel_fields,
    .nfields = SV_NFIELDS(channel_fields),
    .post_load = channel_post_load,
    .valid = channel_valid,
};

static bool pit_valid(const void *obj)
{
    const struct pit *p = obj;
    return p->ch[0].gate && p->ch[1].gate; /* gates 0/1 are tied high */
}

static const struct sv_field pit_fields[] = {
    SV_BOOL(struct pit, irq_level),
    SV_U64(struct pit, last_ns),
    SV_STRUCT(struct pit, ch, 3, &channel_desc),
};

/* Layouts: 2 (the oldest accepted; 1 predates the corpus); 3 adds each
 * channel's effective `mode` after ctrl_mode (for layout 2 derived from
 * ctrl_mode, so a comparison with a layout-2 checkpoint checks it too). */
const struct sv_desc pit_sv_desc = {
    .name = "pit",
    .tag = PIT_TAG,
    .version = PIT_STATE_VERSION,
    .min_version = 2,
    .fields = pit_fields,
    .nfields = SV_NFIELDS(pit_fields),
    .valid = pit_valid,
};

void pit_save(const struct pit *p, struct sv *s)
{
    sv_save(s, &pit_sv_desc, p);
}

int pit_restore(struct pit *p, struct sv *s)
{
    struct pit t = *p; /* keeps the wiring; copied back only if all is well */
    if (!sv_load(s, &pit_sv_desc, &t))
        return -1;
    *p = t;
    return 0;
}
