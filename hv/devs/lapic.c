/* Local APIC (Intel SDM Vol. 3A ch. 11, "Advanced Programmable Interrupt
 * Controller (APIC)"). Section names in comments are the SDM's.
 *
 * One struct per vCPU. Every observable value is a function of the calls
 * made and the now_ns they carry: the timer counts bus clocks
 * floor(ns * bus_hz / 1e9), divided; TSC-deadline compares virtual ns with
 * the deadline converted exactly (integer maths only). After every state
 * change update() recomputes the interrupt output and calls the sink only
 * if it changed.
 */
#include "hv/devs/lapic.h"

#define LAPIC_TAG SV_TAG('L', 'A', 'P', 'C')

/* Bits of each LVT a write may set, and the bits defined at all (the
 * read-only delivery status / remote IRR included): "Local Vector Table". */
static const uint32_t lvt_writable[LAPIC_LVT_N] = {
    0x000700ffu, /* timer: vector, mask, timer mode */
    0x000107ffu, /* thermal: vector, delivery mode, mask */
    0x000107ffu, /* performance counters */
    0x0001a7ffu, /* LINT0: vector, delivery mode, polarity, trigger, mask */
    0x0001a7ffu, /* LINT1 */
    0x000100ffu, /* error: vector, mask */
};
static const uint32_t lvt_defined[LAPIC_LVT_N] = {
    0x000710ffu, 0x000117ffu, 0x000117ffu, 0x0001f7ffu, 0x0001f7ffu, 0x000110ffu,
};
#define SVR_WRITABLE 0x11ffu /* vector, APIC enable, EOI-broadcast suppression */
#define ICR_WRITABLE 0x000ccfffu
#define TDCR_BITS    0xbu
#define BASE_RSVD    0xfff00000000002ffull /* above 52-bit addresses; bits 0-7, 9 */

/* ---- 256-bit registers --------------------------------------------------- */

static bool bit_get(const uint8_t *r, unsigned v)
{
    return (r[v >> 3] >> (v & 7u)) & 1u;
}

static void bit_put(uint8_t *r, unsigned v, bool on)
{
    uint8_t m = (uint8_t)(1u << (v & 7u));
    r[v >> 3] = on ? (uint8_t)(r[v >> 3] | m) : (uint8_t)(r[v >> 3] & ~m);
}

/* Highest vector set, or -1. */
static int highest(const uint8_t *r)
{
    for (int i = 31; i >= 0; i--)
        if (r[i])
            for (int b = 7; b >= 0; b--)
                if (r[i] & (1u << b))
                    return i * 8 + b;
    return -1;
}

static uint32_t word_get(const uint8_t *r, unsigned w)
{
    const uint8_t *p = r + 4 * w;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- modes ---------------------------------------------------------------- */

static bool hw_enabled(const struct lapic *l)
{
    return (l->apic_base & APIC_BASE_EN) != 0;
}

static bool x2apic(const struct lapic *l)
{
    return hw_enabled(l) && (l->apic_base & APIC_BASE_EXTD);
}

static bool sw_enabled(const struct lapic *l)
{
    return (l->svr & APIC_SVR_ENABLE) != 0;
}

bool lapic_xapic_mode(const struct lapic *l)
{
    return hw_enabled(l) && !(l->apic_base & APIC_BASE_EXTD);
}

uint64_t lapic_mmio_base(const struct lapic *l)
{
    return l->apic_base & 0x000ffffffffff000ull;
}

static unsigned timer_mode(const struct lapic *l)
{
    return (l->lvt[LAPIC_LVT_TIMER] >> 17) & 3u;
}

static bool deadline_mode(const struct lapic *l)
{
    return timer_mode(l) == 2 && l->cfg.tsc_hz;
}

static uint32_t x2apic_ldr(uint32_t id)
{
    /* "Logical Destination Mode in x2APIC Mode": cluster ID in bits 31:16,
     * one bit of the 16 in the cluster in bits 15:0. */
    return ((id >> 4) << 16) | (1u << (id & 0xfu));
}

/* ---- priorities ("Task Priority", "Processor Priority", "Arbitration
 * Priority") --------------------------------------------------------------- */

uint8_t lapic_ppr(const struct lapic *l)
{
    int isrv = highest(l->isr);
    unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv & 0xf0u;
    /* TPR[7:4] = ISRV[7:4]: the sub-class is model specific; we keep TPR's. */
    if ((l->tpr & 0xf0u) >= isr_class)
        return l->tpr;
    return (uint8_t)isr_class;
}

/* APR as the SDM writes it: IF TPR[7:4] >= IRRV[7:4] AND TPR[7:4] > ISRV[7:4]
 * THEN TPR ELSE max(TPR[7:4] AND ISRV[7:4], IRRV[7:4]) << 4. */
static uint8_t apr(const struct lapic *l)
{
    int isrv = highest(l->isr), irrv = highest(l->irr);
    unsigned tp = l->tpr >> 4, is = isrv < 0 ? 0 : (unsigned)isrv >> 4,
             ir = irrv < 0 ? 0 : (unsigned)irrv >> 4;
    if (tp >= ir && tp > is)
        return l->tpr;
    unsigned a = tp & is;
    return (uint8_t)((a > ir ? a : ir) << 4);
}

/* ---- time ----------------------------------------------------------------- */

static uint64_t bus_hz(const struct lapic *l)
{
    return l->cfg.bus_hz ? l->cfg.bus_hz : LAPIC_DEFAULT_BUS_HZ;
}

/* Bus clock edges in (0, ns]: floor(ns * hz / 1e9), exact. */
static uint64_t ns_to_clk(uint64_t ns, uint64_t hz)
{
    return (ns / NS_PER_SEC) * hz + (ns % NS_PER_SEC) * hz / NS_PER_SEC;
}

/* First ns at which clock edge clk has happened: ceil(clk * 1e9 / hz). */
static uint64_t clk_to_ns(uint64_t clk, uint64_t hz)
{
    uint64_t q = clk / hz, r = clk % hz;
    if (q > (TIME_NEVER - NS_PER_SEC) / NS_PER_SEC)
        return TIME_NEVER;
    return q * NS_PER_SEC + (r * NS_PER_SEC + hz - 1) / hz;
}

/* The platform's virtual TSC -> ns (vm_rec_tsc_to_ns, hv/record). */
static uint64_t tsc_to_ns(uint64_t tsc, uint64_t hz)
{
    if (tsc / hz > (TIME_NEVER - NS_PER_SEC) / NS_PER_SEC)
        return TIME_NEVER;
    return tsc / hz * NS_PER_SEC + tsc % hz * NS_PER_SEC / hz;
}

/* First ns whose TSC values are all >= the deadline: the interrupt never
 * arrives while RDTSC could still read below it. */
static uint64_t deadline_ns(const struct lapic *l)
{
    if (!l->tsc_deadline || !l->cfg.tsc_hz)
        return TIME_NEVER;
    uint64_t t = tsc_to_ns(l->tsc_deadline - 1, l->cfg.tsc_hz);
    return t == TIME_NEVER ? t : t + 1;
}

/* "Divide Configuration Register": bits 3,1,0 = 000 -> 2 ... 110 -> 128,
 * 111 -> 1. Returns log2 of the divisor. */
static unsigned divide_shift(const struct lapic *l)
{
    unsigned v = (l->timer_divide & 3u) | ((l->timer_divide >> 1) & 4u);
    return (v + 1u) & 7u;
}

static uint64_t timer_ticks(const struct lapic *l, uint64_t now_ns)
{
    uint64_t clk = ns_to_clk(now_ns, bus_hz(l));
    uint64_t d = clk > l->timer_start ? clk - l->timer_start : 0;
    return l->timer_base + (d >> divide_shift(l));
}

static bool count_armed(const struct lapic *l)
{
    if (deadline_mode(l) || !l->timer_initial)
        return false;
    return timer_mode(l) == 1 || l->timer_fired == 0;
}

/* Bus clock at which the next expiry happens (count_armed). */
static uint64_t next_expiry_clk(const struct lapic *l)
{
    uint64_t target = (l->timer_fired + 1) * (uint64_t)l->timer_initial;
    uint64_t left = target > l->timer_base ? target - l->timer_base : 0;
    unsigned sh = divide_shift(l);
    if (left > (UINT64_MAX - l->timer_start) >> sh)
        return UINT64_MAX;
    return l->timer_start + (left << sh);
}

/* "Current Count Register": counts down from the initial count; one-shot
 * stays at 0, periodic reloads; always 0 in TSC-deadline mode. */
static uint32_t current_count(const struct lapic *l, uint64_t now_ns)
{
    if (deadline_mode(l) || !l->timer_initial)
        return 0;
    uint64_t e = timer_ticks(l, now_ns), n = l->timer_initial;
    if (timer_mode(l) == 1)
        return (uint32_t)(n - e % n);
    return e >= n ? 0 : (uint32_t)(n - e);
}

/* A new counting segment from now (count written or divider changed). */
static void timer_rebase(struct lapic *l, uint64_t now_ns)
{
    l->timer_base = timer_ticks(l, now_ns);
    l->timer_start = ns_to_clk(now_ns, bus_hz(l));
}

/* ---- acceptance and delivery ---------------------------------------------- */

static void update(struct lapic *l);
static void lvt_fire(struct lapic *l, unsigned idx);

/* "Error Handling": errors collect until the next ESR write latches them;
 * a newly detected error raises the LVT error interrupt. */
static void signal_error(struct lapic *l, uint32_t bits)
{
    uint32_t fresh = bits & ~l->esr_pending;
    l->esr_pending |= bits;
    if (fresh)
        lvt_fire(l, LAPIC_LVT_ERROR);
}

/* A fixed interrupt reaches the IRR ("Interrupt Acceptance for Fixed
 * Interrupts"): vectors 0-15 are illegal; the TMR bit records the trigger
 * mode; a vector already requested is not queued twice. A software-disabled
 * APIC accepts none. */
static void accept(struct lapic *l, unsigned vector, bool level)
{
    if (!sw_enabled(l))
        return;
    if (vector < 16) {
        signal_error(l, APIC_ESR_RECV_ILLEGAL);
        return;
    }
    bit_put(l->irr, vector, true);
    bit_put(l->tmr, vector, level);
}

/* An LVT source signals (timer, error; LINT in fixed/NMI edge modes). The
 * timer and error entries are always fixed, edge ("Local Vector Table"). */
static void lvt_fire(struct lapic *l, unsigned idx)
{
    uint32_t e = l->lvt[idx];
    if (e & APIC_LVT_MASKED)
        return;
    unsigned mode = (idx == LAPIC_LVT_TIMER || idx == LAPIC_LVT_ERROR) ? 0 : (e >> 8) & 7u;
    if (mode == APIC_DM_FIXED)
        accept(l, e & 0xffu, false);
    else if (mode == APIC_DM_NMI)
        l->nmi = true;
}

static bool lint_asserted(const struct lapic *l, unsigned pin)
{
    return l->lint[pin] != ((l->lvt[LAPIC_LVT_LINT0_I + pin] & APIC_LVT_LOW) != 0);
}

/* Level-triggered fixed LINT: while asserted and no remote IRR, the vector
 * is accepted and remote IRR set; the EOI of that vector clears it. */
static void lint_level_eval(struct lapic *l, unsigned pin)
{
    uint32_t *e = &l->lvt[LAPIC_LVT_LINT0_I + pin];
    if ((*e & (APIC_LVT_MASKED | APIC_LVT_REMOTE | APIC_LVT_LEVEL)) != APIC_LVT_LEVEL)
        return;
    if (((*e >> 8) & 7u) != APIC_DM_FIXED || !lint_asserted(l, pin) || !sw_enabled(l))
        return;
    accept(l, *e & 0xffu, true);
    *e |= APIC_LVT_REMOTE;
}

static bool extint_pending(const struct lapic *l)
{
    if (!hw_enabled(l))
        return l->lint[0]; /* no APIC: LINT0 is the INTR pin */
    uint32_t e = l->lvt[LAPIC_LVT_LINT0_I];
    bool lint0 = !(e & APIC_LVT_MASKED) && ((e >> 8) & 7u) == APIC_DM_EXTINT && lint_asserted(l, 0);
    return l->extint_msg || lint0;
}

enum lapic_intr lapic_pending(const struct lapic *l, uint8_t *vector)
{
    if (extint_pending(l))
        return LAPIC_INTR_EXTINT;
    if (!hw_enabled(l))
        return LAPIC_INTR_NONE;
    /* "Interrupt, Task, and Processor Priority": only a priority class above
     * the processor-priority class is delivered. */
    int v = highest(l->irr);
    if (v < 0 || ((unsigned)v & 0xf0u) <= (lapic_ppr(l) & 0xf0u))
        return LAPIC_INTR_NONE;
    if (vector)
        *vector = (uint8_t)v;
    return LAPIC_INTR_FIXED;
}

bool lapic_intr(const struct lapic *l)
{
    return lapic_pending(l, NULL) != LAPIC_INTR_NONE;
}

static void update(struct lapic *l)
{
    bool intr = lapic_intr(l) || l->nmi;
    if (intr != l->intr) {
        l->intr = intr;
        irq_sink_set(&l->intr_out, 0, intr);
    }
}

static bool dest_match(const struct lapic *l, uint32_t dest, bool logical)
{
    if (x2apic(l)) {
        if (dest == 0xffffffffu)
            return true;
        if (!logical)
            return dest == l->id;
        return (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xffffu);
    }
    dest &= 0xffu;
    if (dest == 0xffu)
        return true; /* broadcast, physical and logical */
    if (!logical)
        return dest == (l->id & 0xffu);
    uint32_t ldr = l->ldr >> 24;
    if ((l->dfr >> 28) == 0xfu) /* flat model: a bit per APIC */
        return (ldr & dest) != 0;
    /* cluster model: cluster in bits 7:4, members in 3:0 */
    return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xfu);
}

bool lapic_is_dest(const struct lapic *l, const struct apic_msg *m)
{
    if (!hw_enabled(l))
        return false;
    switch (m->shorthand) {
    case APIC_SH_SELF: return m->src_id == l->id;
    case APIC_SH_ALL: return true;
    case APIC_SH_ALL_BUT_SELF: return m->src_id != l->id;
    default: return dest_match(l, m->dest, m->logical);
    }
}

static void power_on_regs(struct lapic *l);

/* "INIT Reset": the state after INIT is the power-on state except the APIC
 * ID (and IA32_APIC_BASE, an MSR INIT leaves alone); an AP waits for a SIPI
 * ("Local APIC State After an INIT Reset"), the BSP restarts at the reset
 * vector ("MP Initialization Protocol"): that is the core's business, the
 * INIT event tells it. */
static void init_reset(struct lapic *l)
{
    power_on_regs(l);
    l->timer_base = 0;
    l->timer_start = ns_to_clk(l->last_ns, bus_hz(l));
    l->wait_sipi = !l->cfg.bsp;
    l->events = (uint8_t)((l->events | LAPIC_EV_INIT) & ~LAPIC_EV_SIPI);
}

void lapic_deliver(struct lapic *l, const struct apic_msg *m)
{
    if (!lapic_is_dest(l, m))
        return;
    switch (m->mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST: /* the platform chose this APIC (arbitration) */
        accept(l, m->vector, m->level);
        break;
    case APIC_DM_NMI: l->nmi = true; break;
    case APIC_DM_EXTINT: l->extint_msg = true; break;
    case APIC_DM_INIT: init_reset(l); break;
    case APIC_DM_STARTUP:
        /* "MP Initialization Protocol": a SIPI outside wait-for-SIPI (the
         * second SIPI of the INIT-SIPI-SIPI sequence) is ignored. */
        if (l->wait_sipi) {
            l->wait_sipi = false;
            l->sipi_vector = m->vector;
            l->events |= LAPIC_EV_SIPI;
        }
        break;
    default: break; /* SMI: no SMM */
    }
    update(l);
}

uint32_t lapic_events(const struct lapic *l)
{
    return l->events;
}

void lapic_events_take(struct lapic *l, uint32_t bits)
{
    l->events = (uint8_t)(l->events & ~bits);
}

uint8_t lapic_sipi_vector(const struct lapic *l)
{
    return l->sipi_vector;
}

bool lapic_wait_sipi(const struct lapic *l)
{
    return l->wait_sipi;
}

/* "Interrupt Command Register": builds the message; a self shorthand never
 * leaves the APIC, anything else goes out on the bus (or, with no bus, to
 * this APIC if it is a destination). Delivery is immediate: the delivery
 * status bit always reads idle. */
static void send_ipi(struct lapic *l)
{
    unsigned mode = (l->icr_lo >> 8) & 7u;
    struct apic_msg m = {
        .dest = x2apic(l) ? l->icr_hi : l->icr_hi >> 24,
        .src_id = l->id,
        .vector = (uint8_t)l->icr_lo,
        .mode = (uint8_t)mode,
        .shorthand = (uint8_t)((l->icr_lo >> 18) & 3u),
        .logical = (l->icr_lo & 0x800u) != 0,
        .level = (l->icr_lo & 0x8000u) != 0,
    };
    if (mode == APIC_DM_INIT && m.level && !(l->icr_lo & 0x4000u))
        return; /* INIT level de-assert: no message on a modern APIC bus */
    if ((mode == APIC_DM_INIT || mode == APIC_DM_STARTUP) && m.shorthand == APIC_SH_SELF)
        return; /* ICR "valid combinations": INIT and SIPI to self are not */
    if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && m.vector < 16) {
        signal_error(l, APIC_ESR_SEND_ILLEGAL);
        return;
    }
    if (m.shorthand == APIC_SH_SELF || !l->msg_out.send)
        lapic_deliver(l, &m);
    else
        l->msg_out.send(l->msg_out.ctx, &m);
}

/* "EOI Register": the highest in-service vector is done; a level-triggered
 * one (TMR) is broadcast to the I/O APICs unless the SVR suppresses it, and
 * clears a level LINT's remote IRR. */
static void eoi(struct lapic *l)
{
    int v = highest(l->isr);
    if (v < 0)
        return;
    bit_put(l->isr, (unsigned)v, false);
    if (bit_get(l->tmr, (unsigned)v)) {
        if (!(l->svr & APIC_SVR_NO_BCAST) && l->eoi_out.eoi)
            l->eoi_out.eoi(l->eoi_out.ctx, (uint8_t)v);
        for (unsigned pin = 0; pin < 2; pin++) {
            uint32_t *e = &l->lvt[LAPIC_LVT_LINT0_I + pin];
            if ((*e & APIC_LVT_REMOTE) && (*e & 0xffu) == (unsigned)v) {
                *e &= ~APIC_LVT_REMOTE;
                lint_level_eval(l, pin);
            }
        }
    }
}

/* ---- timer ---------------------------------------------------------------- */

void lapic_advance(struct lapic *l, uint64_t now_ns)
{
    if (now_ns < l->last_ns)
        now_ns = l->last_ns;
    l->last_ns = now_ns;
    if (!hw_enabled(l))
        return;
    if (deadline_mode(l)) {
        /* "TSC-Deadline Mode": fires once and disarms (the MSR reads 0). */
        if (l->tsc_deadline && now_ns >= deadline_ns(l)) {
            l->tsc_deadline = 0;
            lvt_fire(l, LAPIC_LVT_TIMER);
        }
    } else if (count_armed(l)) {
        uint64_t e = timer_ticks(l, now_ns), n = l->timer_initial;
        if (e >= (l->timer_fired + 1) * n) {
            l->timer_fired = timer_mode(l) == 1 ? e / n : 1;
            lvt_fire(l, LAPIC_LVT_TIMER);
        }
    }
    update(l);
}

uint64_t lapic_next_event_ns(const struct lapic *l, uint64_t now_ns)
{
    if (!hw_enabled(l))
        return TIME_NEVER;
    uint64_t t;
    if (deadline_mode(l))
        t = deadline_ns(l);
    else if (count_armed(l)) {
        uint64_t clk = next_expiry_clk(l);
        t = clk == UINT64_MAX ? TIME_NEVER : clk_to_ns(clk, bus_hz(l));
    } else
        return TIME_NEVER;
    return t < now_ns ? now_ns : t;
}

/* ---- registers ------------------------------------------------------------ */

static void write_svr(struct lapic *l, uint32_t v)
{
    l->svr = v & SVR_WRITABLE;
    if (!(LAPIC_VERSION & (1u << 24)))
        l->svr &= ~APIC_SVR_NO_BCAST;
    /* "Enabling or Disabling the Local APIC": software disable masks every
     * LVT entry (and unmasking is refused while disabled, write_lvt). */
    if (!sw_enabled(l))
        for (unsigned i = 0; i < LAPIC_LVT_N; i++)
            l->lvt[i] |= APIC_LVT_MASKED;
}

static void write_lvt(struct lapic *l, unsigned idx, uint32_t v, uint64_t now_ns)
{
    uint32_t old = l->lvt[idx];
    uint32_t ro = lvt_defined[idx] & ~lvt_writable[idx];
    uint32_t nv = (v & lvt_writable[idx]) | (old & ro & APIC_LVT_REMOTE);
    if (!sw_enabled(l))
        nv |= APIC_LVT_MASKED;
    if (idx == LAPIC_LVT_TIMER) {
        bool was_dl = ((old >> 17) & 3u) == 2, is_dl = ((nv >> 17) & 3u) == 2;
        if (was_dl != is_dl) {
            /* "TSC-Deadline Mode": a transition between TSC-deadline and the
             * other modes disarms the timer. */
            l->timer_initial = 0;
            l->timer_fired = 0;
            l->tsc_deadline = 0;
            timer_rebase(l, now_ns);
        }
    }
    /* A LINT leaving level-triggered fixed mode forgets its remote IRR. */
    if ((idx == LAPIC_LVT_LINT0_I || idx == LAPIC_LVT_LINT1_I) &&
        (!(nv & APIC_LVT_LEVEL) || ((nv >> 8) & 7u) != APIC_DM_FIXED))
        nv &= ~APIC_LVT_REMOTE;
    l->lvt[idx] = nv;
    if (idx == LAPIC_LVT_LINT0_I || idx == LAPIC_LVT_LINT1_I)
        lint_level_eval(l, idx - LAPIC_LVT_LINT0_I);
}

static int lvt_index(uint32_t off)
{
    if (off >= LAPIC_LVT_TMR && off <= LAPIC_LVT_ERR)
        return (int)((off - LAPIC_LVT_TMR) >> 4);
    return -1;
}

/* Register read common to both modes. Returns 0, or -1 for a register the
 * mode does not have (x2APIC: #GP; xAPIC: illegal register address). */
static int reg_read(struct lapic *l, uint32_t off, uint32_t *val, uint64_t now_ns)
{
    bool x2 = x2apic(l);
    int lvt = lvt_index(off);
    *val = 0;
    if (lvt >= 0) {
        *val = l->lvt[lvt];
        return 0;
    }
    if (off >= LAPIC_ISR && off < LAPIC_ESR) {
        const uint8_t *r = off < LAPIC_TMR ? l->isr : off < LAPIC_IRR ? l->tmr : l->irr;
        *val = word_get(r, (off >> 4) & 7u);
        return 0;
    }
    switch (off) {
    case LAPIC_ID: *val = x2 ? l->id : (l->id & 0xffu) << 24; return 0;
    case LAPIC_VER: *val = LAPIC_VERSION; return 0;
    case LAPIC_TPR: *val = l->tpr; return 0;
    case LAPIC_PPR: *val = lapic_ppr(l); return 0;
    case LAPIC_LDR: *val = l->ldr; return 0;
    case LAPIC_SVR: *val = l->svr; return 0;
    case LAPIC_ESR: *val = l->esr; return 0;
    case LAPIC_ICR_LO: *val = l->icr_lo; return 0;
    case LAPIC_TMICT: *val = deadline_mode(l) ? 0 : l->timer_initial; return 0;
    case LAPIC_TMCCT: *val = current_count(l, now_ns); return 0;
    case LAPIC_TDCR: *val = l->timer_divide; return 0;
    default: break;
    }
    if (x2)
        return -1;
    switch (off) {
    case LAPIC_APR: *val = apr(l); return 0;
    case LAPIC_EOI:
    case LAPIC_RRD: return 0; /* write-only / remote read not supported: 0 */
    case LAPIC_DFR: *val = l->dfr; return 0;
    case LAPIC_ICR_HI: *val = l->icr_hi; return 0;
    default: return -1;
    }
}

uint32_t lapic_read(struct lapic *l, uint32_t offset, uint64_t now_ns)
{
    uint32_t v = 0;
    lapic_advance(l, now_ns);
    if (!lapic_xapic_mode(l))
        return 0;
    if (reg_read(l, offset & 0xff0u, &v, now_ns) != 0) {
        signal_error(l, APIC_ESR_ILLEGAL_REG);
        update(l);
        return 0;
    }
    return v;
}

/* Writes the two modes share; returns 1 if the offset is not one of them. */
static int reg_write_common(struct lapic *l, uint32_t off, uint32_t v, uint64_t now_ns)
{
    int lvt = lvt_index(off);
    if (lvt >= 0) {
        write_lvt(l, (unsigned)lvt, v, now_ns);
        return 0;
    }
    switch (off) {
    case LAPIC_TPR: l->tpr = (uint8_t)v; return 0;
    case LAPIC_SVR: write_svr(l, v); return 0;
    case LAPIC_TMICT:
        /* "APIC Timer": a write restarts the count (0 stops the timer);
         * ignored in TSC-deadline mode. */
        if (deadline_mode(l))
            return 0;
        timer_rebase(l, now_ns);
        l->timer_base = 0;
        l->timer_fired = 0;
        l->timer_initial = v;
        return 0;
    case LAPIC_TDCR:
        timer_rebase(l, now_ns);
        l->timer_divide = (uint8_t)(v & TDCR_BITS);
        return 0;
    default: return 1;
    }
}

void lapic_write(struct lapic *l, uint32_t offset, uint32_t v, uint64_t now_ns)
{
    lapic_advance(l, now_ns);
    if (!lapic_xapic_mode(l))
        return;
    uint32_t off = offset & 0xff0u;
    if (reg_write_common(l, off, v, now_ns) != 0) {
        switch (off) {
        case LAPIC_ID: l->id = v >> 24; break;
        case LAPIC_EOI: eoi(l); break;
        case LAPIC_LDR: l->ldr = v & 0xff000000u; break;
        case LAPIC_DFR: l->dfr = v | 0x0fffffffu; break;
        case LAPIC_ESR:
            l->esr = l->esr_pending;
            l->esr_pending = 0;
            break;
        case LAPIC_ICR_LO:
            l->icr_lo = v & ICR_WRITABLE;
            send_ipi(l);
            break;
        case LAPIC_ICR_HI: l->icr_hi = v & 0xff000000u; break;
        case LAPIC_VER:
        case LAPIC_APR:
        case LAPIC_PPR:
        case LAPIC_RRD:
        case LAPIC_TMCCT: break; /* read-only: ignored */
        default:
            if (off >= LAPIC_ISR && off < LAPIC_ESR)
                break; /* ISR/TMR/IRR: read-only */
            signal_error(l, APIC_ESR_ILLEGAL_REG);
            break;
        }
    }
    /* An expiry the write made due (a timer switched from one-shot to
     * periodic after its count ran out, a divider change) fires now, as
     * the MSR path does: not at whatever tick comes next, which a
     * checkpoint at this instant would be. */
    lapic_advance(l, now_ns);
    update(l);
}

/* ---- MSRs ------------------------------------------------------------------ */

bool lapic_msr_owned(uint32_t msr)
{
    return msr == MSR_IA32_APIC_BASE || msr == MSR_IA32_TSC_DEADLINE ||
           (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

/* "x2APIC State Transitions": disabled -> xAPIC -> x2APIC, and back to
 * disabled from either; x2APIC -> xAPIC, disabled -> x2APIC and EN=0 with
 * EXTD=1 are #GP. A global disable returns the registers to their power-on
 * values ("Local APIC Status and Location"). */
static int write_apic_base(struct lapic *l, uint64_t v, uint64_t now_ns)
{
    if (v & BASE_RSVD)
        return -1;
    bool en = v & APIC_BASE_EN, ext = v & APIC_BASE_EXTD;
    bool was_en = hw_enabled(l), was_x2 = x2apic(l);
    if (ext && !en)
        return -1;
    if ((was_x2 && en && !ext) || (!was_en && ext))
        return -1;
    uint64_t bsp = l->cfg.bsp ? APIC_BASE_BSP : 0;
    l->apic_base = (v & ~APIC_BASE_BSP) | bsp;
    if (!en) {
        power_on_regs(l);
        timer_rebase(l, now_ns);
    } else if (ext && !was_x2) {
        /* "x2APIC ID" and "Logical Destination Mode in x2APIC Mode". */
        l->id = l->cfg.apic_id;
        l->ldr = x2apic_ldr(l->id);
    }
    return 0;
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val, uint64_t now_ns)
{
    lapic_advance(l, now_ns);
    *val = 0;
    if (msr == MSR_IA32_APIC_BASE) {
        *val = l->apic_base;
        return 0;
    }
    if (msr == MSR_IA32_TSC_DEADLINE) {
        if (!l->cfg.tsc_hz)
            return -1;
        /* Reads 0 outside TSC-deadline mode. */
        *val = deadline_mode(l) ? l->tsc_deadline : 0;
        return 0;
    }
    if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !x2apic(l))
        return -1;
    uint32_t off = (msr - MSR_X2APIC_FIRST) << 4, v;
    if (off == LAPIC_ICR_LO) {
        *val = (uint64_t)l->icr_hi << 32 | l->icr_lo;
        return 0;
    }
    if (reg_read(l, off, &v, now_ns) != 0)
        return -1;
    *val = v;
    return 0;
}

/* Bits a WRMSR may set in an x2APIC register; a reserved bit set is #GP. */
static uint32_t x2_defined(uint32_t off)
{
    int lvt = lvt_index(off);
    if (lvt >= 0)
        return lvt_defined[lvt];
    switch (off) {
    case LAPIC_TPR: return 0xffu;
    case LAPIC_SVR: return SVR_WRITABLE | 0x200u; /* bit 9 (focus) ignored */
    case LAPIC_TMICT: return 0xffffffffu;
    case LAPIC_TDCR: return TDCR_BITS;
    case LAPIC_SELF_IPI: return 0xffu;
    default: return 0; /* EOI, ESR: only 0 may be written */
    }
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val, uint64_t now_ns)
{
    lapic_advance(l, now_ns);
    int rc = 0;
    if (msr == MSR_IA32_APIC_BASE) {
        rc = write_apic_base(l, val, now_ns);
    } else if (msr == MSR_IA32_TSC_DEADLINE) {
        if (!l->cfg.tsc_hz)
            return -1;
        /* Writes are ignored outside TSC-deadline mode; 0 disarms. */
        if (deadline_mode(l))
            l->tsc_deadline = val;
    } else if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !x2apic(l)) {
        return -1;
    } else {
        uint32_t off = (msr - MSR_X2APIC_FIRST) << 4;
        if (off == LAPIC_ICR_LO) {
            if (val & ~(0xffffffff00000000ull | ICR_WRITABLE))
                return -1;
            l->icr_hi = (uint32_t)(val >> 32);
            l->icr_lo = (uint32_t)val;
            send_ipi(l);
        } else if (val >> 32 || ((uint32_t)val & ~x2_defined(off))) {
            return -1;
        } else if (off == LAPIC_EOI) {
            eoi(l);
        } else if (off == LAPIC_ESR) {
            l->esr = l->esr_pending;
            l->esr_pending = 0;
        } else if (off == LAPIC_SELF_IPI) {
            /* "Self IPI Register": fixed, edge, to this APIC only. */
            if (val < 16)
                signal_error(l, APIC_ESR_RECV_ILLEGAL);
            else
                accept(l, (unsigned)val, false);
        } else if (reg_write_common(l, off, (uint32_t)val, now_ns) != 0) {
            return -1; /* read-only or reserved */
        }
    }
    lapic_advance(l, now_ns); /* a deadline already passed fires now */
    update(l);
    return rc;
}

/* ---- pins, acknowledge ------------------------------------------------------ */

void lapic_set_lint(struct lapic *l, unsigned pin, bool level)
{
    if (pin > 1)
        return;
    bool was = hw_enabled(l) ? lint_asserted(l, pin) : l->lint[pin];
    l->lint[pin] = level;
    if (!hw_enabled(l)) {
        if (pin == 1 && level && !was)
            l->nmi = true; /* no APIC: LINT1 is the NMI pin */
    } else {
        uint32_t e = l->lvt[LAPIC_LVT_LINT0_I + pin];
        unsigned mode = (e >> 8) & 7u;
        bool now = lint_asserted(l, pin);
        if (!(e & APIC_LVT_MASKED) && now && !was) {
            /* Rising edge: fixed edge-triggered and NMI (always edge). */
            if (mode == APIC_DM_NMI || (mode == APIC_DM_FIXED && !(e & APIC_LVT_LEVEL)))
                lvt_fire(l, LAPIC_LVT_LINT0_I + pin);
        }
        lint_level_eval(l, pin);
    }
    update(l);
}

unsigned lapic_ack(struct lapic *l)
{
    uint8_t v = 0;
    switch (lapic_pending(l, &v)) {
    case LAPIC_INTR_EXTINT:
        l->extint_msg = false;
        update(l);
        return LAPIC_ACK_EXTINT;
    case LAPIC_INTR_FIXED:
        bit_put(l->irr, v, false);
        bit_put(l->isr, v, true);
        update(l);
        return v;
    default:
        /* "Spurious Interrupt": the request went away (TPR raised) between
         * INTR and INTA; no ISR bit is set. */
        return l->svr & 0xffu;
    }
}

bool lapic_nmi_pending(const struct lapic *l)
{
    return l->nmi;
}

void lapic_nmi_take(struct lapic *l)
{
    l->nmi = false;
    update(l);
}

/* ---- init ------------------------------------------------------------------ */

/* "Local APIC State After Power-Up or Reset": IRR, ISR, TMR, ICR, LDR, TPR,
 * timer registers and the divide configuration 0; DFR all ones; LVT entries
 * masked; SVR 0xff (software disabled). */
static void power_on_regs(struct lapic *l)
{
    l->ldr = 0;
    l->dfr = 0xffffffffu;
    l->svr = 0xffu;
    l->tpr = 0;
    for (unsigned i = 0; i < 32; i++)
        l->isr[i] = l->irr[i] = l->tmr[i] = 0;
    l->esr = l->esr_pending = 0;
    l->icr_lo = l->icr_hi = 0;
    for (unsigned i = 0; i < LAPIC_LVT_N; i++)
        l->lvt[i] = APIC_LVT_MASKED;
    l->timer_initial = 0;
    l->timer_divide = 0;
    l->timer_base = l->timer_fired = 0;
    l->tsc_deadline = 0;
    l->nmi = false;
    l->extint_msg = false;
}

void lapic_init(struct lapic *l, const struct lapic_config *cfg, const struct irq_sink *intr_out,
                const struct apic_msg_sink *msg_out, const struct apic_eoi_sink *eoi_out,
                uint64_t now_ns)
{
    *l = (struct lapic){0};
    if (cfg)
        l->cfg = *cfg;
    if (intr_out)
        l->intr_out = *intr_out;
    if (msg_out)
        l->msg_out = *msg_out;
    if (eoi_out)
        l->eoi_out = *eoi_out;
    lapic_reset(l, now_ns);
}

void lapic_reset(struct lapic *l, uint64_t now_ns)
{
    l->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_EN | (l->cfg.bsp ? APIC_BASE_BSP : 0);
    l->id = l->cfg.apic_id;
    power_on_regs(l);
    l->wait_sipi = !l->cfg.bsp;
    l->events = 0;
    l->sipi_vector = 0;
    l->last_ns = now_ns;
    timer_rebase(l, now_ns);
    update(l);
}

/* ---- save / restore ---------------------------------------------------------- */

static bool lapic_valid(const void *obj)
{
    const struct lapic *l = obj;
    if (l->apic_base & BASE_RSVD)
        return false;
    if ((l->apic_base & APIC_BASE_EXTD) && !(l->apic_base & APIC_BASE_EN))
        return false;
    if (l->isr[0] | l->isr[1] | l->irr[0] | l->irr[1]) /* vectors 0-15 */
        return false;
    if ((l->svr & ~SVR_WRITABLE) || (l->timer_divide & ~TDCR_BITS))
        return false;
    if ((l->ldr & 0x00ffffffu) && !(l->apic_base & APIC_BASE_EXTD))
        return false;
    for (unsigned i = 0; i < LAPIC_LVT_N; i++) {
        if (l->lvt[i] & ~lvt_defined[i])
            return false;
        if (!sw_enabled(l) && !(l->lvt[i] & APIC_LVT_MASKED))
            return false;
    }
    uint64_t clk = ns_to_clk(l->last_ns, bus_hz(l));
    if (l->timer_start > clk)
        return false;
    if (l->events & ~(LAPIC_EV_INIT | LAPIC_EV_SIPI))
        return false;
    if ((l->events & LAPIC_EV_SIPI) && l->wait_sipi)
        return false; /* the SIPI ended the wait */
    return l->intr == (lapic_intr(l) || l->nmi);
}

#define SV_U32_ARRAY(T, m) SV_SCALAR_(T, m, SVK_U32, 4, sizeof(((T *)0)->m) / 4, 1, 0, 0)

static const struct sv_field lapic_fields[] = {
    SV_U64(struct lapic, apic_base),
    SV_U32(struct lapic, id),
    SV_U32(struct lapic, ldr),
    SV_U32(struct lapic, dfr),
    SV_U32(struct lapic, svr),
    SV_U8(struct lapic, tpr),
    SV_U8_ARRAY(struct lapic, isr),
    SV_U8_ARRAY(struct lapic, irr),
    SV_U8_ARRAY(struct lapic, tmr),
    SV_U32(struct lapic, esr),
    SV_U32(struct lapic, esr_pending),
    SV_U32(struct lapic, icr_lo),
    SV_U32(struct lapic, icr_hi),
    SV_U32_ARRAY(struct lapic, lvt),
    SV_U32(struct lapic, timer_initial),
    SV_U8(struct lapic, timer_divide),
    SV_U64(struct lapic, timer_start),
    SV_U64(struct lapic, timer_base),
    SV_U64(struct lapic, timer_fired),
    SV_U64(struct lapic, tsc_deadline),
    SV_U64(struct lapic, last_ns),
    SV_SCALAR_(struct lapic, lint, SVK_BOOL, 1, 2, 1, 0, 0),
    SV_BOOL(struct lapic, nmi),
    SV_BOOL(struct lapic, extint_msg),
    SV_BOOL(struct lapic, intr),
    SV_BOOL_SINCE(struct lapic, wait_sipi, 2, 0),
    /* The core's to clear (vm_devices_cpu_events_take): not compared. */
    SV_SCALAR_(struct lapic, events, SVK_U8, 1, 1, 2, 0, SVF_NOCMP),
    SV_U8_SINCE(struct lapic, sipi_vector, 2, 0),
};

const struct sv_desc lapic_sv_desc = {
    .name = "lapic",
    .tag = LAPIC_TAG,
    .version = LAPIC_STATE_VERSION,
    .min_version = 1,
    .fields = lapic_fields,
    .nfields = SV_NFIELDS(lapic_fields),
    .valid = lapic_valid,
};

void lapic_save(const struct lapic *l, struct sv *s)
{
    sv_save(s, &lapic_sv_desc, l);
}

int lapic_restore(struct lapic *l, struct sv *s)
{
    struct lapic t = *l;
    if (!sv_load(s, &lapic_sv_desc, &t))
        return -1;
    *l = t; /* wiring and configuration are the same in t; no sink is called */
    return 0;
}
