/* Local APIC of one vCPU: xAPIC registers (MMIO page, by offset) and x2APIC
 * MSRs, the APIC timer (one-shot, periodic, TSC-deadline), LINT0/LINT1
 * inputs and interrupt acceptance/priority as in the Intel SDM Vol. 3A
 * ch. 11 "Advanced Programmable Interrupt Controller (APIC)".
 * What is and is not modelled: docs/devices/lapic.md. */
#ifndef HVRR_LAPIC_H
#define HVRR_LAPIC_H

#include "hv/devs/apic_bus.h"
#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define LAPIC_STATE_VERSION  2 /* 2: wait-for-SIPI state, INIT/SIPI core events */
#define LAPIC_DEFAULT_BASE   0xfee00000ull
#define LAPIC_VERSION        0x01050014u /* EOI-broadcast suppression, max LVT 5, version 0x14 */
#define LAPIC_DEFAULT_BUS_HZ 1000000000ull

/* MSRs. */
#define MSR_IA32_APIC_BASE    0x1bu
#define MSR_IA32_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC_FIRST      0x800u
#define MSR_X2APIC_LAST       0x8ffu

/* IA32_APIC_BASE bits. */
#define APIC_BASE_BSP  (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode */
#define APIC_BASE_EN   (1ull << 11) /* global enable */

/* Register offsets in the xAPIC page (x2APIC MSR = 0x800 + offset / 16). */
#define LAPIC_ID        0x020u
#define LAPIC_VER       0x030u
#define LAPIC_TPR       0x080u
#define LAPIC_APR       0x090u
#define LAPIC_PPR       0x0a0u
#define LAPIC_EOI       0x0b0u
#define LAPIC_RRD       0x0c0u
#define LAPIC_LDR       0x0d0u
#define LAPIC_DFR       0x0e0u
#define LAPIC_SVR       0x0f0u
#define LAPIC_ISR       0x100u /* 8 registers, 0x10 apart */
#define LAPIC_TMR       0x180u
#define LAPIC_IRR       0x200u
#define LAPIC_ESR       0x280u
#define LAPIC_ICR_LO    0x300u
#define LAPIC_ICR_HI    0x310u
#define LAPIC_LVT_TMR   0x320u
#define LAPIC_LVT_THM   0x330u
#define LAPIC_LVT_PMC   0x340u
#define LAPIC_LVT_LINT0 0x350u
#define LAPIC_LVT_LINT1 0x360u
#define LAPIC_LVT_ERR   0x370u
#define LAPIC_TMICT     0x380u /* timer initial count */
#define LAPIC_TMCCT     0x390u /* timer current count */
#define LAPIC_TDCR      0x3e0u /* timer divide configuration */
#define LAPIC_SELF_IPI  0x3f0u /* x2APIC only */

/* SVR bits. */
#define APIC_SVR_ENABLE   0x100u
#define APIC_SVR_NO_BCAST 0x1000u /* EOI-broadcast suppression */

/* LVT bits. */
#define APIC_LVT_PENDING    (1u << 12)
#define APIC_LVT_LOW        (1u << 13)
#define APIC_LVT_REMOTE     (1u << 14)
#define APIC_LVT_LEVEL      (1u << 15)
#define APIC_LVT_MASKED     (1u << 16)
#define APIC_TIMER_ONESHOT  (0u << 17)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_TIMER_DEADLINE (2u << 17)

/* ESR bits (SDM "Error Handling"). */
#define APIC_ESR_SEND_ILLEGAL 0x20u
#define APIC_ESR_RECV_ILLEGAL 0x40u
#define APIC_ESR_ILLEGAL_REG  0x80u

enum {
    LAPIC_LVT_TIMER,
    LAPIC_LVT_THERMAL,
    LAPIC_LVT_PERF,
    LAPIC_LVT_LINT0_I,
    LAPIC_LVT_LINT1_I,
    LAPIC_LVT_ERROR,
    LAPIC_LVT_N
};

struct lapic_config {
    uint32_t apic_id; /* initial APIC ID (x2APIC ID; xAPIC ID is its low 8 bits) */
    bool bsp;         /* an AP (!bsp) starts in the wait-for-SIPI state */
    uint64_t bus_hz;  /* APIC timer input clock before the divider (0: 1 GHz) */
    uint64_t tsc_hz;  /* virtual TSC rate (TSC-deadline); 0: no TSC-deadline timer */
};

struct lapic {
    uint64_t apic_base; /* IA32_APIC_BASE */
    uint32_t id;        /* x2APIC ID; the xAPIC ID register holds id << 24 */
    uint32_t ldr, dfr, svr;
    uint8_t tpr;
    uint8_t isr[32], irr[32], tmr[32]; /* 256-bit registers, vector v = bit v%8 of byte v/8 */
    uint32_t esr;                      /* ESR as last latched by a write */
    uint32_t esr_pending;              /* errors since that write */
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[LAPIC_LVT_N];
    /* Timer: `ticks` divided clocks counted = timer_base + (clk(now) -
     * timer_start) >> divide shift; it expires when ticks reach
     * (timer_fired + 1) * initial. TSC-deadline: tsc_deadline (0 = disarmed),
     * in virtual TSC units. */
    uint32_t timer_initial;
    uint8_t timer_divide; /* divide configuration register, bits 0, 1, 3 */
    uint64_t timer_start; /* bus clock the current segment started */
    uint64_t timer_base;  /* ticks counted before that segment */
    uint64_t timer_fired; /* expirations already signalled */
    uint64_t tsc_deadline;
    uint64_t last_ns; /* time the timer was last brought up to date */
    bool lint[2];     /* LINT0/LINT1 input levels */
    bool nmi;         /* an NMI waits for the core */
    bool extint_msg;  /* an ExtINT message waits for its INTA */
    bool intr;        /* interrupt output as last given to the sink */
    /* The core's INIT/SIPI state ("MP Initialization Protocol"): wait_sipi
     * is the wait-for-SIPI state (set by INIT; an AP starts in it), events
     * the LAPIC_EV_* bits not yet taken by the core, sipi_vector the vector
     * of the SIPI that ended the wait. */
    bool wait_sipi;
    uint8_t events;
    uint8_t sipi_vector;
    /* Configuration and wiring, not state. */
    struct lapic_config cfg;
    struct irq_sink intr_out;     /* line 0: lapic_pending() != NONE (or an NMI) */
    struct apic_msg_sink msg_out; /* IPIs that may leave this APIC (NULL: self only) */
    struct apic_eoi_sink eoi_out; /* level-triggered EOIs for the I/O APIC */
};

/* Power-on state (SDM "Local APIC State After Power-Up or Reset"): xAPIC
 * mode enabled at LAPIC_DEFAULT_BASE, software-disabled (SVR 0xff), every
 * LVT masked, DFR all ones. Sinks are copied (any may be NULL). */
void lapic_init(struct lapic *l, const struct lapic_config *cfg, const struct irq_sink *intr_out,
                const struct apic_msg_sink *msg_out, const struct apic_eoi_sink *eoi_out,
                uint64_t now_ns);
void lapic_reset(struct lapic *l, uint64_t now_ns);

/* xAPIC register access at `offset` in the 4 KiB page (32-bit, 16-byte
 * aligned; the low 4 bits are ignored). Valid only in xAPIC mode
 * (lapic_xapic_mode()); the caller maps the page at lapic_mmio_base(). */
uint32_t lapic_read(struct lapic *l, uint32_t offset, uint64_t now_ns);
void lapic_write(struct lapic *l, uint32_t offset, uint32_t val, uint64_t now_ns);
bool lapic_xapic_mode(const struct lapic *l); /* enabled, not x2APIC */
uint64_t lapic_mmio_base(const struct lapic *l);

/* IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs. Return 0, or -1
 * where the SDM says #GP (unknown or mode-invalid MSR, reserved bits,
 * illegal mode transition, RDMSR of a write-only register). TSC-deadline
 * values are virtual TSC (the count lapic time is derived from:
 * ns = floor(tsc * 1e9 / tsc_hz)); a guest TSC offset is the caller's. */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val, uint64_t now_ns);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val, uint64_t now_ns);
bool lapic_msr_owned(uint32_t msr); /* one of the above */

/* Time: fires the timer for every expiry up to now_ns (periodic
 * expirations missed coalesce into one interrupt). */
void lapic_advance(struct lapic *l, uint64_t now_ns);
/* Next time the timer expires (now_ns if due), TIME_NEVER if not armed. */
uint64_t lapic_next_event_ns(const struct lapic *l, uint64_t now_ns);

/* A message on the APIC bus (from the I/O APIC or an IPI): accepted if this
 * APIC is a destination. */
void lapic_deliver(struct lapic *l, const struct apic_msg *m);
/* LINT0 / LINT1 input level (the 8259A's INTR on LINT0, NMI on LINT1). */
void lapic_set_lint(struct lapic *l, unsigned pin, bool level);

/* What the core would take now: a fixed vector above the processor
 * priority, or the external controller (ExtINT: LINT0 in ExtINT mode with
 * the input high, an ExtINT message, or the APIC globally disabled with
 * LINT0 high: the pin is then the plain INTR). */
enum lapic_intr { LAPIC_INTR_NONE = 0, LAPIC_INTR_FIXED, LAPIC_INTR_EXTINT };
enum lapic_intr lapic_pending(const struct lapic *l, uint8_t *vector);
bool lapic_intr(const struct lapic *l); /* lapic_pending() != NONE */
/* Interrupt acknowledge: the vector (IRR -> ISR), LAPIC_ACK_EXTINT (the
 * caller runs the 8259A's INTA), or the spurious vector if nothing is
 * deliverable any more (no ISR bit set). */
#define LAPIC_ACK_EXTINT 0x100u
unsigned lapic_ack(struct lapic *l);
/* NMI towards the core (LINT1/LVT/IPI in NMI mode); take clears it. */
bool lapic_nmi_pending(const struct lapic *l);
void lapic_nmi_take(struct lapic *l);
/* INIT and SIPI are core events, not interrupts. An INIT message puts an
 * AP in wait-for-SIPI (the BSP restarts at the reset vector: the core's
 * business), registers back to their power-on values (the APIC ID,
 * IA32_APIC_BASE and the timer clock kept), a pending SIPI event dropped,
 * and raises LAPIC_EV_INIT; a SIPI while waiting ends the wait,
 * keeps its vector and raises LAPIC_EV_SIPI; a SIPI otherwise is ignored.
 * lapic_events_take clears the given bits. */
#define LAPIC_EV_INIT 1u
#define LAPIC_EV_SIPI 2u
uint32_t lapic_events(const struct lapic *l);
void lapic_events_take(struct lapic *l, uint32_t bits);
uint8_t lapic_sipi_vector(const struct lapic *l);
bool lapic_wait_sipi(const struct lapic *l);
/* Whether message m names this APIC as a destination (shorthand, physical
 * or logical destination; a hardware-disabled APIC is never one). */
bool lapic_is_dest(const struct lapic *l, const struct apic_msg *m);
/* Processor priority (PPR) as the SDM computes it. */
uint8_t lapic_ppr(const struct lapic *l);

/* Section 'LAPC' (savestate.h field table). */
extern const struct sv_desc lapic_sv_desc;
void lapic_save(const struct lapic *l, struct sv *s);
int lapic_restore(struct lapic *l, struct sv *s); /* 0 or -1; state untouched on error */

#endif
