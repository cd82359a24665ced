/* Intel 8259A PIC pair (master at 0x20, slave at 0xa0 on the master's IR2)
 * and the PIIX/ICH edge/level control registers at 0x4d0/0x4d1.
 *
 * Section names in comments refer to the Intel 8259A datasheet (231468):
 * "Interrupt Sequence", "Initialization Command Words", "Operation Command
 * Words", "Fully Nested Mode", "Automatic Rotation", "Specific Rotation",
 * "Special Mask Mode", "Poll Command", "Reading the 8259A Status",
 * "Edge and Level Triggered Modes", "The Special Fully Nested Mode".
 *
 * Model of one chip's request logic:
 *  - `pins` are the IR input levels last seen, which doubles as the edge
 *    sense memory: a 0->1 change sets the IRR bit.
 *  - Edge mode: the IRR bit is set by a rising edge and cleared by the
 *    interrupt acknowledge, by ICW1, or by the input falling again before the
 *    acknowledge ("the IR input must remain high until after the falling edge
 *    of the first INTA" - otherwise the acknowledge yields the default IR7).
 *  - Level mode (ELCR bit or ICW1.LTIM): the IRR bit is the input level.
 *  - The master's IR2 input is the slave's INT output. A rising INT latches
 *    master IRR2, and only the master's acknowledge of IR2 (or ICW1) clears
 *    it: a slave request withdrawn after it reached the master is answered
 *    as the slave's default IR7 (IRQ15) with IR2 in service on the master,
 *    which is why OSes EOI the master after a spurious IRQ15.
 * Everything observable is recomputed by update() after each state change.
 */
#include "hv/devs/pic8259.h"

#define PIC_TAG    SV_TAG('P', 'I', 'C', '2')
#define CASCADE_IR 2u
#define CASCADE    (1u << CASCADE_IR)

/* ELCR bits that can be set: IRQ0, 1, 2, 8 and 13 are hard-wired edge. */
static const uint8_t elcr_writable[2] = {0xf8, 0xde};

/* ---- priority resolution ---------------------------------------------- */

/* Rank of an IR: 0 = highest priority, 7 = lowest (the `lowest` IR). */
static unsigned rank(const struct pic_chip *c, unsigned ir)
{
    return (ir - c->lowest - 1u) & 7u;
}

/* The highest-priority IR among `bits`, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
    /* Rotated so that bit k is the IR of rank k (lowest + 1 + k): the
     * lowest set bit is the highest-priority IR. */
    unsigned s = (c->lowest + 1u) & 7u;
    unsigned rot = ((unsigned)bits >> s | (unsigned)bits << (8u - s)) & 0xffu;
    if (!rot)
        return -1;
    return (int)(((unsigned)__builtin_ctz(rot) + s) & 7u);
}

static bool cascaded(const struct pic_chip *m)
{
    return !(m->icw1 & PIC_ICW1_SNGL) && (m->icw3 & CASCADE);
}

/* The IR this chip signals on its INT output, or -1.
 * Fully nested mode: a request must outrank every in-service level.
 * Special mask mode: in-service levels inhibit nothing but themselves; any
 * unmasked level not in service may interrupt ("Special Mask Mode").
 * Special fully nested mode (master only): the cascade IR in service does
 * not block a new request on the cascade IR itself (the slave has already
 * let only its higher-priority requests through); it still blocks every
 * master IR of lower priority ("The Special Fully Nested Mode"). */
static int chip_pending(const struct pic_chip *c, bool master)
{
    uint8_t req = c->irr & ~c->imr;
    if (c->special_mask)
        return highest(c, req & ~c->isr);
    int ir = highest(c, req);
    if (ir < 0)
        return -1;
    int in = highest(c, c->isr);
    if (master && (c->icw4 & PIC_ICW4_SFNM) && cascaded(c)) {
        if (in == (int)CASCADE_IR && ir == (int)CASCADE_IR)
            return ir;
    }
    if (in >= 0 && rank(c, (unsigned)in) <= rank(c, (unsigned)ir))
        return -1;
    return ir;
}

/* ---- inputs and outputs ----------------------------------------------- */

static uint8_t level_mask(const struct pic_pair *p, unsigned i)
{
    return (p->chip[i].icw1 & PIC_ICW1_LTIM) ? 0xff : p->elcr[i];
}

/* New input levels for chip i ("Edge and Level Triggered Modes"). */
static void chip_inputs(struct pic_pair *p, unsigned i, uint8_t pins)
{
    struct pic_chip *c = &p->chip[i];
    uint8_t level = level_mask(p, i);
    uint8_t keep = i == 0 ? CASCADE : 0; /* the cascade latch, see top */
    uint8_t rise = pins & ~c->pins, fall = c->pins & ~pins;
    c->irr = (uint8_t)((c->irr | rise) & ~(fall & ~keep));
    c->irr = (uint8_t)((c->irr & ~level) | (pins & level));
    c->pins = pins;
}

/* Propagates the slave's INT to the master's IR2 and the master's INT to
 * INTR; calls the sink only if INTR changes. */
static void update(struct pic_pair *p)
{
    struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
    chip_inputs(p, 1, s->pins); /* refreshes level-triggered IRR bits */
    bool slave_int = chip_pending(s, false) >= 0;
    chip_inputs(p, 0, (uint8_t)((m->pins & ~CASCADE) | (slave_int ? CASCADE : 0)));
    bool intr = chip_pending(m, true) >= 0;
    if (intr != p->intr) {
        p->intr = intr;
        irq_sink_set(&p->intr_out, 0, intr);
    }
}

/* One chip's part of an acknowledge ("Interrupt Sequence"): the IS bit is
 * set and the request consumed (a level-triggered IRR bit comes back from
 * its pin in the caller's update()). With AEOI the EOI follows at once, so
 * the IS bit is never seen set. */
static void chip_ack(struct pic_chip *c, unsigned ir)
{
    uint8_t bit = (uint8_t)(1u << ir);
    c->irr &= (uint8_t)~bit;
    if (!(c->icw4 & PIC_ICW4_AEOI))
        c->isr |= bit;
    else if (c->rotate_aeoi)
        c->lowest = (uint8_t)ir;
}

/* ---- command words ---------------------------------------------------- */

/* ICW1 starts initialisation ("Initialization Command Words"): edge sense
 * reset (a high input must fall and rise again), IMR and ISR cleared, IR7
 * lowest priority, special mask mode off, status read set to IRR, and every
 * ICW4 function zero until an ICW4 says otherwise. */
static void write_icw1(struct pic_chip *c, uint8_t v)
{
    c->icw1 = v;
    c->icw4 = 0;
    c->init_step = 2;
    c->irr = 0; /* level-triggered bits are restored from the pins by update() */
    c->isr = 0;
    c->imr = 0;
    c->lowest = 7;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    c->rotate_aeoi = false;
}

/* OCW2: R, SL, EOI in bits 7..5, level in bits 2..0. */
static void write_ocw2(struct pic_chip *c, uint8_t v)
{
    unsigned level = v & 7u;
    switch (v >> 5) {
    case 0: /* rotate in automatic EOI mode (clear) */ c->rotate_aeoi = false; break;
    case 4: /* rotate in automatic EOI mode (set) */ c->rotate_aeoi = true; break;
    case 1:   /* non-specific EOI */
    case 5: { /* rotate on non-specific EOI */
        /* The highest IS bit; in special mask mode masked IS bits are not
         * reset by a non-specific EOI. */
        int ir = highest(c, c->special_mask ? (uint8_t)(c->isr & ~c->imr) : c->isr);
        if (ir < 0)
            break;
        c->isr &= (uint8_t) ~(1u << ir);
        if (v & 0x80)
            c->lowest = (uint8_t)ir;
        break;
    }
    case 3: /* specific EOI */
    case 7: /* rotate on specific EOI */
        c->isr &= (uint8_t) ~(1u << level);
        if (v & 0x80)
            c->lowest = (uint8_t)level;
        break;
    case 6: /* set priority: `level` becomes the lowest */ c->lowest = (uint8_t)level; break;
    default: /* 2: no operation */ break;
    }
}

/* OCW3: ESMM/SMM in bits 6/5, P in bit 2, RR/RIS in bits 1/0. */
static void write_ocw3(struct pic_chip *c, uint8_t v)
{
    if (v & 0x02)
        c->read_isr = v & 0x01;
    if (v & 0x04)
        c->poll = true;
    if (v & 0x40)
        c->special_mask = (v & 0x20) != 0;
}

static void write_cmd(struct pic_pair *p, unsigned i, uint8_t v)
{
    struct pic_chip *c = &p->chip[i];
    if (v & PIC_ICW1_INIT)
        write_icw1(c, v);
    else if (v & 0x08)
        write_ocw3(c, v);
    else
        write_ocw2(c, v);
}

/* A0 = 1: the next ICW of an init sequence, else OCW1 (the IMR). ICW3 is
 * expected only in cascade mode, ICW4 only if ICW1.IC4 asked for it. */
static void write_data(struct pic_chip *c, uint8_t v)
{
    bool ic4 = c->icw1 & PIC_ICW1_IC4;
    switch (c->init_step) {
    case 2:
        c->vector_base = v & 0xf8; /* T7..T3; low bits ignored in 8086 mode */
        c->init_step = !(c->icw1 & PIC_ICW1_SNGL) ? 3 : ic4 ? 4 : 0;
        break;
    case 3:
        c->icw3 = v;
        c->init_step = ic4 ? 4 : 0;
        break;
    case 4:
        c->icw4 = v & 0x1f;
        c->init_step = 0;
        break;
    default: c->imr = v; break;
    }
}

/* "Poll Command": the read is the acknowledge. Returns 0x80 | IR, or 0 if
 * nothing is requesting. Polling the master's IR2 consumes the cascade
 * request but does not acknowledge the slave: software polls it next. */
static uint8_t poll_read(struct pic_pair *p, unsigned i)
{
    struct pic_chip *c = &p->chip[i];
    c->poll = false;
    int ir = chip_pending(c, i == 0);
    if (ir < 0)
        return 0;
    chip_ack(c, (unsigned)ir);
    return (uint8_t)(0x80u | (unsigned)ir);
}

/* ---- public interface ------------------------------------------------- */

void pic_init(struct pic_pair *p, const struct irq_sink *intr_out)
{
    *p = (struct pic_pair){0};
    if (intr_out)
        p->intr_out = *intr_out;
    pic_reset(p);
}

void pic_reset(struct pic_pair *p)
{
    for (unsigned i = 0; i < 2; i++) {
        struct pic_chip *c = &p->chip[i];
        uint8_t pins = c->pins;
        *c = (struct pic_chip){
            .imr = 0xff,
            .pins = pins,
            .lowest = 7,
            .icw1 = PIC_ICW1_INIT | PIC_ICW1_IC4,
            .icw3 = i == 0 ? CASCADE : CASCADE_IR,
            .icw4 = PIC_ICW4_UPM,
        };
    }
    p->elcr[0] = p->elcr[1] = 0;
    update(p);
}

int pic_io(void *pic, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct pic_pair *p = pic;
    (void)now_ns;
    unsigned i;
    switch (port) {
    case 0x20:
    case 0x21: i = 0; break;
    case 0xa0:
    case 0xa1: i = 1; break;
    case 0x4d0:
    case 0x4d1: i = port & 1u; break;
    default: return DEV_IO_UNMAPPED;
    }
    if (size != 1)
        return DEV_IO_BADSIZE;

    uint8_t v = (uint8_t)*val;
    if (port >= 0x4d0) {
        if (write)
            p->elcr[i] = v & elcr_writable[i];
        else
            *val = p->elcr[i];
    } else if (write) {
        if (port & 1u)
            write_data(&p->chip[i], v);
        else
            write_cmd(p, i, v);
    } else {
        /* "Reading the 8259A Status": after a poll command the next read of
         * either port is the poll; otherwise A0=1 reads the IMR and A0=0 the
         * IRR or ISR as OCW3 selected. */
        const struct pic_chip *c = &p->chip[i];
        if (c->poll)
            *val = poll_read(p, i);
        else if (port & 1u)
            *val = c->imr;
        else
            *val = c->read_isr ? c->isr : c->irr;
    }
    update(p);
    return DEV_IO_OK;
}

void pic_set_irq(struct pic_pair *p, unsigned irq, bool level)
{
    if (irq > 15 || irq == CASCADE_IR)
        return;
    unsigned i = irq >> 3;
    uint8_t bit = (uint8_t)(1u << (irq & 7u));
    uint8_t pins = p->chip[i].pins;
    chip_inputs(p, i, level ? (uint8_t)(pins | bit) : (uint8_t)(pins & ~bit));
    update(p);
}

bool pic_intr(const struct pic_pair *p)
{
    return p->intr;
}

/* The INTA sequence of the pair ("Interrupt Sequence", cascade mode): the
 * master resolves; if it picked the cascade IR the slave supplies the vector.
 * No request left means the default IR7 of the chip that was asked, with no
 * IS bit set on that chip. */
uint8_t pic_ack(struct pic_pair *p)
{
    struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
    uint8_t vec;
    int ir = chip_pending(m, true);
    if (ir < 0) {
        vec = m->vector_base | 7u;
    } else {
        chip_ack(m, (unsigned)ir);
        if ((unsigned)ir == CASCADE_IR && cascaded(m)) {
            m->pins &= (uint8_t)~CASCADE; /* the slave's INT falls as it answers */
            int sir = chip_pending(s, false);
            if (sir < 0) {
                vec = s->vector_base | 7u;
            } else {
                chip_ack(s, (unsigned)sir);
                vec = (uint8_t)(s->vector_base | (unsigned)sir);
            }
        } else {
            vec = (uint8_t)(m->vector_base | (unsigned)ir);
        }
    }
    update(p);
    return vec;
}

/* ---- save / restore --------------------------------------------------- */

static bool chip_valid(const struct pic_pair *p, unsigned i)
{
    const struct pic_chip *c = &p->chip[i];
    uint8_t level = level_mask(p, i);
    return (c->vector_base & 7u) == 0 && c->lowest <= 7 && (c->icw1 & PIC_ICW1_INIT) &&
           c->icw4 <= 0x1f && (c->init_step == 0 || (c->init_step >= 2 && c->init_step <= 4)) &&
           (c->irr & level) == (c->pins & level);
}

/* A blob is accepted only if it is a state update() could have produced:
 * level-triggered IRR bits equal the pins, master IR2's pin is the slave's
 * INT, and INTR is what the registers imply. */
static bool pair_valid(const void *obj)
{
    const struct pic_pair *p = obj;
    if (!chip_valid(p, 0) || !chip_valid(p, 1))
        return false;
    if ((p->elcr[0] & ~elcr_writable[0]) || (p->elcr[1] & ~elcr_writable[1]))
        return false;
    bool slave_int = chip_pending(&p->chip[1], false) >= 0;
    if (((p->chip[0].pins & CASCADE) != 0) != slave_int)
        return false;
    return p->intr == (chip_pending(&p->chip[0], true) >= 0);
}

static const struct sv_field chip_fields[] = {
    SV_U8(struct pic_chip, irr),
    SV_U8(struct pic_chip, isr),
    SV_U8(struct pic_chip, imr),
    SV_U8(struct pic_chip, vector_base),
    SV_U8(struct pic_chip, pins),
    SV_U8(struct pic_chip, lowest),
    SV_U8(struct pic_chip, icw1),
    SV_U8(struct pic_chip, icw3),
    SV_U8(struct pic_chip, icw4),
    SV_U8(struct pic_chip, init_step),
    SV_BOOL(struct pic_chip, special_mask),
    SV_BOOL(struct pic_chip, read_isr),
    SV_BOOL(struct pic_chip, poll),
    SV_BOOL(struct pic_chip, rotate_aeoi),
};

static const struct sv_desc chip_desc = {
    .name = "chip",
    .fields = chip_fields,
    .nfields = SV_NFIELDS(chip_fields),
};

static const struct sv_field pair_fields[] = {
    SV_STRUCT(struct pic_pair, chip, 2, &chip_desc), /* master, slave */
    SV_U8_ARRAY(struct pic_pair, elcr),
    SV_BOOL(struct pic_pair, intr),
};

const struct sv_desc pic_sv_desc = {
    .name = "pic",
    .tag = PIC_TAG,
    .version = PIC_STATE_VERSION,
    .min_version = 1,
    .fields = pair_fields,
    .nfields = SV_NFIELDS(pair_fields),
    .valid = pair_valid,
};

void pic_save(const struct pic_pair *p, struct sv *s)
{
    sv_save(s, &pic_sv_desc, p);
}

int pic_restore(struct pic_pair *p, struct sv *s)
{
    struct pic_pair t = *p;
    if (!sv_load(s, &pic_sv_desc, &t))
        return -1;
    /* State only: the INTR sink (wiring) is the same in t and not called. */
    *p = t;
    return 0;
}
