/* Local APIC and I/O APIC access for the test guests that run with the
 * APIC platform (apic.c, smp.c): 32-bit MMIO through FS (flat, base 0),
 * the I/O APIC through its index (IOREGSEL) and data (IOWIN) registers. */
#ifndef HVRR_GUEST_APIC_MMIO_H
#define HVRR_GUEST_APIC_MMIO_H

#include "guest.h"

#define LAPIC  0xfee00000u
#define IOAPIC 0xfec00000u

static inline uint32_t rd(uint32_t a)
{
    uint32_t v;
    __asm__ volatile("movl %%fs:(%1), %0" : "=r"(v) : "r"(a) : "memory");
    return v;
}

static inline void wr(uint32_t a, uint32_t v)
{
    __asm__ volatile("movl %0, %%fs:(%1)" ::"r"(v), "r"(a) : "memory");
}

static inline uint32_t lr(uint32_t off)
{
    return rd(LAPIC + off);
}

static inline void lw(uint32_t off, uint32_t v)
{
    wr(LAPIC + off, v);
}

static inline uint32_t io_rd(uint32_t idx)
{
    wr(IOAPIC, idx);
    return rd(IOAPIC + 0x10);
}

static inline void io_wr(uint32_t idx, uint32_t v)
{
    wr(IOAPIC, idx);
    wr(IOAPIC + 0x10, v);
}

#endif
