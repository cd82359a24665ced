/* I/O APIC (Intel 82093AA): 24 input pins, a redirection table, edge and
 * level triggering with remote IRR, EOI from the local APIC's broadcast or
 * (version 0x20) the EOI register. MMIO at IOAPIC_DEFAULT_BASE: IOREGSEL
 * at +0x00, IOWIN at +0x10, EOI at +0x40.
 * What is and is not modelled: docs/devices/ioapic.md. */
#ifndef HVRR_IOAPIC_H
#define HVRR_IOAPIC_H

#include "hv/devs/apic_bus.h"
#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define IOAPIC_STATE_VERSION 1
#define IOAPIC_DEFAULT_BASE  0xfec00000ull
#define IOAPIC_PINS          24
#define IOAPIC_MMIO_SIZE     0x1000u

/* MMIO offsets. */
#define IOAPIC_IOREGSEL 0x00u
#define IOAPIC_IOWIN    0x10u
#define IOAPIC_EOIR     0x40u /* version 0x20 only */

/* Indirect registers (IOREGSEL). */
#define IOAPIC_REG_ID    0x00u
#define IOAPIC_REG_VER   0x01u
#define IOAPIC_REG_ARB   0x02u
#define IOAPIC_REG_REDIR 0x10u /* entry n: 0x10 + 2n (low), 0x11 + 2n (high) */

/* Redirection entry bits. */
#define IOAPIC_RTE_PENDING (1ull << 12) /* delivery status (read-only) */
#define IOAPIC_RTE_LOW     (1ull << 13) /* polarity: active low */
#define IOAPIC_RTE_REMOTE  (1ull << 14) /* remote IRR (read-only) */
#define IOAPIC_RTE_LEVEL   (1ull << 15)
#define IOAPIC_RTE_MASKED  (1ull << 16)

struct ioapic {
    uint8_t regsel;
    uint8_t id;      /* IOAPICID bits 27:24 */
    uint8_t arb;     /* IOAPICARB bits 27:24 */
    uint8_t version; /* 0x11 (82093AA) or 0x20 (with the EOI register) */
    uint32_t pins;   /* input levels, bit n = pin n */
    uint64_t rte[IOAPIC_PINS];
    struct apic_msg_sink out; /* wiring, not state */
};

/* Power-on ("Register Description"): every entry masked (other bits 0), ID
 * 0, IOREGSEL 0. version: 0x11 or 0x20 (anything else means 0x20). Pin
 * levels start low. */
void ioapic_init(struct ioapic *io, const struct apic_msg_sink *out, uint8_t version);
void ioapic_reset(struct ioapic *io);
/* 32-bit access at `offset` in the MMIO page; other sizes or offsets give
 * DEV_IO_BADSIZE / DEV_IO_UNMAPPED (the caller reads all-ones, drops
 * writes). */
int ioapic_mmio(struct ioapic *io, uint32_t offset, unsigned size, bool write, uint32_t *val);
/* Electrical level of input `pin` (0..23). */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
/* EOI for `vector` (the local APIC's broadcast or the EOI register). */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* ISA wiring of a PC (ACPI MADT): ISA IRQ -> pin. IRQ0 (PIT) is on pin 2
 * (interrupt source override), the others identity. */
static inline unsigned ioapic_isa_pin(unsigned irq)
{
    return irq == 0 ? 2u : irq;
}

/* Section 'IOAP' (savestate.h field table). */
extern const struct sv_desc ioapic_sv_desc;
void ioapic_save(const struct ioapic *io, struct sv *s);
int ioapic_restore(struct ioapic *io, struct sv *s); /* 0 or -1; state untouched on error */

#endif
