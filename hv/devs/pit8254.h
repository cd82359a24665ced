/* Intel 8254 programmable interval timer, 1.193182 MHz, driven by virtual
 * time. Ports 0x40-0x43. Channel 0 OUT drives IRQ0; channel 2's gate and OUT
 * are reached through port 0x61 (port61.h). */
#ifndef HVRR_PIT8254_H
#define HVRR_PIT8254_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define PIT_HZ 1193182ull

struct pit_channel {
    uint16_t count; /* (completed by the PIT implementation) */
};

struct pit {
    struct pit_channel ch[3];
    struct irq_sink irq; /* wiring: line 0 = IRQ0 (channel 0 OUT) */
};

void pit_init(struct pit *p, const struct irq_sink *irq, uint64_t now_ns);
void pit_reset(struct pit *p, uint64_t now_ns);
int pit_io(void *pit, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
void pit_set_gate(struct pit *p, unsigned ch, bool level, uint64_t now_ns);
bool pit_get_gate(const struct pit *p, unsigned ch);
bool pit_out(const struct pit *p, unsigned ch, uint64_t now_ns);
/* Bring channel 0's OUT -> IRQ0 up to date: every rising edge that happened
 * up to now is delivered (missed periods coalesce into one edge). */
void pit_tick(struct pit *p, uint64_t now_ns);
/* Virtual time of the next OUT0 change that matters for IRQ0, TIME_NEVER if none. */
uint64_t pit_next_event_ns(const struct pit *p, uint64_t now_ns);
void pit_save(const struct pit *p, struct sv *s);
int pit_restore(struct pit *p, struct sv *s);

#endif
