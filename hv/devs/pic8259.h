/* Intel 8259A programmable interrupt controller: master/slave pair cascaded
 * on IRQ2, plus the ELCR (edge/level control, ports 0x4d0/0x4d1).
 * Ports: 0x20-0x21 (master), 0xa0-0xa1 (slave), 0x4d0-0x4d1 (ELCR). */
#ifndef HVRR_PIC8259_H
#define HVRR_PIC8259_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t vector_base; /* ICW2 & 0xf8 */
    /* (state is completed by the PIC implementation) */
};

struct pic_pair {
    struct pic_chip chip[2]; /* 0 = master, 1 = slave */
    uint8_t elcr[2];
    bool intr;               /* INTR output level towards the CPU */
    struct irq_sink intr_out; /* wiring, not state: line 0 = INTR */
};

/* intr_out is called (line 0) whenever the INTR output level changes. */
void pic_init(struct pic_pair *p, const struct irq_sink *intr_out);
void pic_reset(struct pic_pair *p);
int pic_io(void *pic, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Input pin `irq` (0..15) changes level. */
void pic_set_irq(struct pic_pair *p, unsigned irq, bool level);
/* INTR output level. */
bool pic_intr(const struct pic_pair *p);
/* Interrupt-acknowledge cycle: returns the vector the pair puts on the bus
 * (the IRQ7/IRQ15 spurious vector if the request went away). */
uint8_t pic_ack(struct pic_pair *p);
void pic_save(const struct pic_pair *p, struct sv *s);
int pic_restore(struct pic_pair *p, struct sv *s); /* 0 or -1 */

#endif
