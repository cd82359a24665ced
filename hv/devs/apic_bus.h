/* The APIC bus vocabulary shared by the local APIC (lapic.h) and the I/O
 * APIC (ioapic.h): an interrupt message and the two sinks that carry
 * messages and EOIs between them. The platform (vm_devices) routes them;
 * neither model knows the other. */
#ifndef HVRR_APIC_BUS_H
#define HVRR_APIC_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes (ICR / LVT / redirection entry bits 10:8). */
#define APIC_DM_FIXED   0u
#define APIC_DM_LOWEST  1u
#define APIC_DM_SMI     2u
#define APIC_DM_NMI     4u
#define APIC_DM_INIT    5u
#define APIC_DM_STARTUP 6u
#define APIC_DM_EXTINT  7u

/* Destination shorthands (ICR bits 19:18). */
#define APIC_SH_NONE         0u
#define APIC_SH_SELF         1u
#define APIC_SH_ALL          2u
#define APIC_SH_ALL_BUT_SELF 3u

struct apic_msg {
    uint32_t dest;   /* physical APIC ID or logical destination (8 bits in xAPIC) */
    uint32_t src_id; /* sender's APIC ID (shorthands); 0 from an I/O APIC */
    uint8_t vector;
    uint8_t mode;      /* APIC_DM_* */
    uint8_t shorthand; /* APIC_SH_* (an I/O APIC sends APIC_SH_NONE) */
    bool logical;      /* destination mode */
    bool level;        /* trigger mode: level (TMR set on acceptance) */
};

struct apic_msg_sink {
    void (*send)(void *ctx, const struct apic_msg *m);
    void *ctx;
};

/* An EOI for a level-triggered vector, broadcast by a local APIC. */
struct apic_eoi_sink {
    void (*eoi)(void *ctx, uint8_t vector);
    void *ctx;
};

#endif
