/* Intel 8259A programmable interrupt controller: master/slave pair cascaded
 * on IRQ2, plus the ELCR (edge/level control, ports 0x4d0/0x4d1).
 * Ports: 0x20-0x21 (master), 0xa0-0xa1 (slave), 0x4d0-0x4d1 (ELCR).
 * What is and is not modelled: docs/devices/pic8259.md. */
#ifndef HVRR_PIC8259_H
#define HVRR_PIC8259_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define PIC_STATE_VERSION 1

/* ICW1 bits (A0 = 0, D4 = 1). */
#define PIC_ICW1_IC4  0x01 /* ICW4 follows */
#define PIC_ICW1_SNGL 0x02 /* single chip: no ICW3 */
#define PIC_ICW1_LTIM 0x08 /* all inputs level triggered */
#define PIC_ICW1_INIT 0x10
/* ICW4 bits. */
#define PIC_ICW4_UPM  0x01 /* 8086 mode */
#define PIC_ICW4_AEOI 0x02
#define PIC_ICW4_MS   0x04 /* buffered master */
#define PIC_ICW4_BUF  0x08
#define PIC_ICW4_SFNM 0x10 /* special fully nested mode */

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t vector_base;      /* ICW2 & 0xf8 */
    uint8_t pins;             /* input levels last seen: the edge-sense memory.
                               * Master bit 2 is the slave's INT output. */
    uint8_t lowest;           /* IR with the lowest priority (7 after ICW1) */
    uint8_t icw1, icw3, icw4; /* as programmed (icw4 = 0 when ICW1.IC4 = 0) */
    uint8_t init_step;        /* next ICW expected: 2, 3 or 4; 0 = initialised */
    bool special_mask;        /* OCW3 SMM */
    bool read_isr;            /* OCW3 RIS: A0=0 reads ISR (else IRR) */
    bool poll;                /* OCW3 P: the next read is a poll */
    bool rotate_aeoi;         /* OCW2 rotate in automatic EOI mode */
};

struct pic_pair {
    struct pic_chip chip[2];  /* 0 = master, 1 = slave */
    uint8_t elcr[2];          /* 1 = level triggered; IRQ0/1/2/8/13 always edge */
    bool intr;                /* INTR output level towards the CPU */
    struct irq_sink intr_out; /* wiring, not state: line 0 = INTR */
};

/* intr_out is called (line 0) whenever the INTR output level changes. */
void pic_init(struct pic_pair *p, const struct irq_sink *intr_out);
/* Power-on state: registers zero, IMR all masked, IR7 lowest priority,
 * cascade/8086 mode, vector bases 0. Input pin levels are kept. */
void pic_reset(struct pic_pair *p);
int pic_io(void *pic, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Input pin `irq` (0..15) changes level. IRQ2 is the cascade input and is
 * ignored here (on a PC/AT the bus's IRQ2 line is wired to IRQ9). */
void pic_set_irq(struct pic_pair *p, unsigned irq, bool level);
/* INTR output level. */
bool pic_intr(const struct pic_pair *p);
/* Interrupt-acknowledge cycle: returns the vector the pair puts on the bus
 * (the IRQ7/IRQ15 spurious vector if the request went away). */
uint8_t pic_ack(struct pic_pair *p);
/* Section 'PIC2' (savestate.h field table). */
extern const struct sv_desc pic_sv_desc;
void pic_save(const struct pic_pair *p, struct sv *s);
int pic_restore(struct pic_pair *p, struct sv *s); /* 0 or -1; state untouched on error */

#endif
