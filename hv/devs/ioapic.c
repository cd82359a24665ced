/* Intel 82093AA I/O APIC (datasheet 290566). Section names in comments are
 * the datasheet's: "Register Description" (IOREGSEL, IOWIN, IOAPICID,
 * IOAPICVER, IOAPICARB, IOREDTBL), "Interrupt Signals"; the EOI register
 * of version 0x20 parts is the ICH's (Intel ICH datasheets, "EOI Register").
 *
 * A pin is asserted when its level differs from the entry's polarity
 * (active low: asserted while low). Edge entries send a message on each
 * assertion while unmasked (an edge while masked is lost). Level entries
 * (fixed or lowest priority) send while asserted with remote IRR clear and
 * set remote IRR; the EOI of the entry's vector clears it and, if the pin
 * is still asserted, sends again. Messages go out immediately: the
 * delivery status bit always reads idle.
 */
#include "hv/devs/ioapic.h"

#define IOAPIC_TAG SV_TAG('I', 'O', 'A', 'P')

/* Bits an IOREDTBL write changes: vector, delivery mode, destination mode,
 * polarity, trigger, mask, destination (63:56). */
#define RTE_WRITABLE 0xff0000000001afffull
#define RTE_RO       (IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE)

static bool asserted(const struct ioapic *io, unsigned pin)
{
    bool level = (io->pins >> pin) & 1u;
    return level != ((io->rte[pin] & IOAPIC_RTE_LOW) != 0);
}

static bool level_entry(uint64_t e)
{
    unsigned mode = (e >> 8) & 7u;
    return (e & IOAPIC_RTE_LEVEL) && (mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST);
}

static void send(struct ioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    struct apic_msg m = {
        .dest = (uint32_t)(e >> 56),
        .vector = (uint8_t)e,
        .mode = (uint8_t)((e >> 8) & 7u),
        .logical = (e >> 11) & 1u,
        .level = level_entry(e),
    };
    if (m.level)
        io->rte[pin] |= IOAPIC_RTE_REMOTE;
    if (io->out.send)
        io->out.send(io->out.ctx, &m);
}

/* A level entry sends while asserted, unmasked and not awaiting its EOI. */
static void service_level(struct ioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    if (level_entry(e) && !(e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE)) && asserted(io, pin))
        send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
    if (pin >= IOAPIC_PINS)
        return;
    bool was = asserted(io, pin);
    uint32_t bit = 1u << pin;
    io->pins = level ? io->pins | bit : io->pins & ~bit;
    uint64_t e = io->rte[pin];
    if (level_entry(e))
        service_level(io, pin);
    else if (asserted(io, pin) && !was && !(e & IOAPIC_RTE_MASKED))
        send(io, pin);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if ((e & IOAPIC_RTE_REMOTE) && (uint8_t)e == vector) {
            io->rte[pin] &= ~IOAPIC_RTE_REMOTE;
            service_level(io, pin);
        }
    }
}

static void write_rte(struct ioapic *io, unsigned pin, bool high, uint32_t v)
{
    uint64_t e = io->rte[pin];
    uint64_t nv = high ? ((uint64_t)v << 32) | (e & 0xffffffffu) : (e & ~0xffffffffull) | v;
    nv = (nv & RTE_WRITABLE) | (e & RTE_RO);
    /* Remote IRR means nothing outside level mode: leaving it clears it. */
    if (!level_entry(nv))
        nv &= ~IOAPIC_RTE_REMOTE;
    io->rte[pin] = nv;
    service_level(io, pin); /* unmasked while asserted */
}

static uint32_t read_reg(const struct ioapic *io)
{
    unsigned r = io->regsel;
    switch (r) {
    case IOAPIC_REG_ID: return (uint32_t)io->id << 24;
    case IOAPIC_REG_VER: return (uint32_t)(IOAPIC_PINS - 1) << 16 | io->version;
    case IOAPIC_REG_ARB: return (uint32_t)io->arb << 24;
    default: break;
    }
    if (r >= IOAPIC_REG_REDIR && r < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
        uint64_t e = io->rte[(r - IOAPIC_REG_REDIR) / 2];
        return (r & 1u) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0; /* undecoded register index */
}

static void write_reg(struct ioapic *io, uint32_t v)
{
    unsigned r = io->regsel;
    if (r == IOAPIC_REG_ID) {
        /* IOAPICID bits 27:24; the same value is loaded into the
         * arbitration ID. */
        io->id = (uint8_t)((v >> 24) & 0xfu);
        io->arb = io->id;
    } else if (r >= IOAPIC_REG_REDIR && r < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
        write_rte(io, (r - IOAPIC_REG_REDIR) / 2, r & 1u, v);
    }
    /* IOAPICVER, IOAPICARB: read-only; others undecoded. */
}

int ioapic_mmio(struct ioapic *io, uint32_t offset, unsigned size, bool write, uint32_t *val)
{
    if (offset != IOAPIC_IOREGSEL && offset != IOAPIC_IOWIN &&
        !(offset == IOAPIC_EOIR && io->version >= 0x20))
        return DEV_IO_UNMAPPED;
    if (size != 4)
        return DEV_IO_BADSIZE;
    switch (offset) {
    case IOAPIC_IOREGSEL:
        if (write)
            io->regsel = (uint8_t)*val;
        else
            *val = io->regsel;
        break;
    case IOAPIC_IOWIN:
        if (write)
            write_reg(io, *val);
        else
            *val = read_reg(io);
        break;
    default: /* EOI register: write-only, bits 7:0 the vector */
        if (write)
            ioapic_eoi(io, (uint8_t)*val);
        else
            *val = 0;
        break;
    }
    return DEV_IO_OK;
}

void ioapic_init(struct ioapic *io, const struct apic_msg_sink *out, uint8_t version)
{
    *io = (struct ioapic){0};
    if (out)
        io->out = *out;
    io->version = version == 0x11 ? 0x11 : 0x20;
    ioapic_reset(io);
}

void ioapic_reset(struct ioapic *io)
{
    io->regsel = 0;
    io->id = io->arb = 0;
    for (unsigned i = 0; i < IOAPIC_PINS; i++)
        io->rte[i] = IOAPIC_RTE_MASKED;
}

/* ---- save / restore ------------------------------------------------------- */

static bool ioapic_valid(const void *obj)
{
    const struct ioapic *io = obj;
    if ((io->version != 0x11 && io->version != 0x20) || io->id > 15 || io->arb > 15)
        return false;
    if (io->pins >> IOAPIC_PINS)
        return false;
    for (unsigned i = 0; i < IOAPIC_PINS; i++) {
        uint64_t e = io->rte[i];
        if (e & ~(RTE_WRITABLE | IOAPIC_RTE_REMOTE))
            return false;
        if ((e & IOAPIC_RTE_REMOTE) && !level_entry(e))
            return false;
    }
    return true;
}

static const struct sv_field ioapic_fields[] = {
    SV_U8(struct ioapic, regsel), SV_U8(struct ioapic, id),
    SV_U8(struct ioapic, arb),    SV_U8(struct ioapic, version),
    SV_U32(struct ioapic, pins),  SV_SCALAR_(struct ioapic, rte, SVK_U64, 8, IOAPIC_PINS, 1, 0, 0),
};

const struct sv_desc ioapic_sv_desc = {
    .name = "ioapic",
    .tag = IOAPIC_TAG,
    .version = IOAPIC_STATE_VERSION,
    .min_version = 1,
    .fields = ioapic_fields,
    .nfields = SV_NFIELDS(ioapic_fields),
    .valid = ioapic_valid,
};

void ioapic_save(const struct ioapic *io, struct sv *s)
{
    sv_save(s, &ioapic_sv_desc, io);
}

int ioapic_restore(struct ioapic *io, struct sv *s)
{
    struct ioapic t = *io;
    if (!sv_load(s, &ioapic_sv_desc, &t))
        return -1;
    *io = t;
    return 0;
}
