/* Intel 8254 programmable interval timer, 1.193182 MHz, driven by virtual
 * time. Ports 0x40-0x43. Channel 0 OUT drives IRQ0; channel 2's gate and OUT
 * are reached through port 0x61 (port61.h).
 * What is and is not modelled, and how time maps to counts:
 * docs/devices/pit8254.md. */
#ifndef HVRR_PIT8254_H
#define HVRR_PIT8254_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define PIT_HZ            1193182ull
#define PIT_STATE_VERSION 3
#define PIT_NEVER         UINT64_MAX /* "no such clock" */

/* Clock k is the k-th rising edge of the 1.193182 MHz input since virtual
 * time 0; it happens at pit_clk_to_ns(k). pit_ns_to_clk(t) is the number of
 * clock edges in (0, t]. Both are exact 64-bit integer maths and inverse:
 * pit_ns_to_clk(pit_clk_to_ns(k)) == k and pit_ns_to_clk(pit_clk_to_ns(k) - 1)
 * == k - 1. */
uint64_t pit_ns_to_clk(uint64_t ns);
uint64_t pit_clk_to_ns(uint64_t clk); /* TIME_NEVER if it does not fit */

/* Counting element state. */
enum pit_run {
    PIT_IDLE = 0,    /* no count since the control word: CE frozen */
    PIT_ARMED = 1,   /* modes 1/5: count written, waiting for a gate trigger */
    PIT_RUNNING = 2, /* counting the segment (start, n, phase) */
    PIT_PAUSED = 3,  /* gate low: modes 0/4 hold the count, modes 2/3 force OUT high */
};

struct pit_channel {
    /* Programming (control word). */
    uint8_t ctrl_mode; /* M2..M0 exactly as written (status byte) */
    uint8_t mode;      /* effective mode 0-5 (6/7 alias 2/3) */
    uint8_t rw;        /* 1 = LSB, 2 = MSB, 3 = LSB then MSB */
    bool bcd;
    bool gate;
    /* Count register and the flip-flops (independent for write and read). */
    uint16_t cr;    /* last complete count written, raw (binary or BCD) */
    uint8_t cr_lsb; /* first byte of an LSB/MSB pair in progress */
    bool wr_msb;    /* next data write is the MSB */
    bool rd_msb;    /* next data read is the MSB */
    bool cr_valid;  /* a complete count was written since the control word */
    bool count_latched;
    uint16_t ol; /* output latch, raw */
    bool status_latched;
    uint8_t status;
    /* Counting element: a segment of count n (1..65536, or 1..10000 in BCD)
     * loaded at clock `start`, `phase` clocks into its period (mode 3 may start
     * a segment in the low half). Modes 2/3 may have a rewritten count waiting
     * for the end of the current period / half-cycle (pend_*). */
    uint8_t run; /* enum pit_run */
    uint64_t start;
    uint32_t n, phase;
    uint64_t pend_clk; /* PIT_NEVER: nothing pending */
    uint32_t pend_n, pend_phase;
    uint64_t paused_e; /* modes 0/4: clocks counted when the gate went low */
    uint32_t frozen;   /* CE (binary, < modulus) while idle/armed, or paused in 2/3 */
    bool idle_out;     /* OUT while idle */
    bool pre_out;      /* OUT between a (re)load request and the clock that loads */
    bool null_count;   /* a written count has not reached the CE yet ... */
    uint64_t load_clk; /* ... until this clock (PIT_NEVER: waiting for a trigger) */
};

struct pit {
    struct pit_channel ch[3];
    bool irq_level;      /* IRQ0 level last given to the sink */
    uint64_t last_ns;    /* time IRQ0 was last brought up to date */
    struct irq_sink irq; /* wiring: line 0 = IRQ0 (channel 0 OUT) */
};

/* Power-on: all channels as after control word 0x30/0x70/0xb0 (mode 0, LSB
 * then MSB, binary) with no count: OUTs low, no events. Gates 0/1 high, 2 low. */
void pit_init(struct pit *p, const struct irq_sink *irq, uint64_t now_ns);
/* The same channel state as pit_init; gate input levels are kept, IRQ0 is
 * driven low if it was high. */
void pit_reset(struct pit *p, uint64_t now_ns);
/* Ports 0x40-0x43, byte access only (else DEV_IO_BADSIZE). 0x43 reads 0xff. */
int pit_io(void *pit, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Only channel 2's gate is wired (0 and 1 are tied high): other channels ignore it. */
void pit_set_gate(struct pit *p, unsigned ch, bool level, uint64_t now_ns);
bool pit_get_gate(const struct pit *p, unsigned ch);
bool pit_out(const struct pit *p, unsigned ch, uint64_t now_ns);
/* The value a read of the channel's counting element would see (binary or
 * BCD as programmed), without touching latches or flip-flops. */
uint16_t pit_peek_count(const struct pit *p, unsigned ch, uint64_t now_ns);
/* Bring channel 0's OUT -> IRQ0 up to date: every rising edge that happened
 * up to now is delivered (missed periods coalesce into one edge). */
void pit_tick(struct pit *p, uint64_t now_ns);
/* Virtual time of the next rising edge of OUT0 (the only OUT0 change that
 * raises IRQ0; falling edges are applied lazily by the next tick). Returns
 * now_ns if an edge is already due, TIME_NEVER if none will come. */
uint64_t pit_next_event_ns(const struct pit *p, uint64_t now_ns);
/* No earlier than this virtual time can OUT0 change level (rise or fall)
 * counting from the last tick: until then pit_tick() would deliver nothing
 * and may be left out (a lower bound: it may come early, never late).
 * TIME_NEVER if channel 0 will not change by itself. */
uint64_t pit_next_change_ns(const struct pit *p);
/* Both at once, sharing the next-edge computation: *event_ns =
 * pit_next_event_ns(p, 0), *change_ns = pit_next_change_ns(p). */
void pit_deadlines(const struct pit *p, uint64_t *event_ns, uint64_t *change_ns);
/* Section 'PIT4' (savestate.h field table). */
extern const struct sv_desc pit_sv_desc;
void pit_save(const struct pit *p, struct sv *s);
/* 0, or -1 with *p untouched. Wiring (the sink) is never changed. */
int pit_restore(struct pit *p, struct sv *s);

#endif
