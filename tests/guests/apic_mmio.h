/* Local APIC and I/O APIC access for the test guests that run with the
 * APIC platform (apic.c, smp.c): 32-bit MMIO through FS (flat, base 0),
 * the I/O APIC through its index (IOREGSEL) and data (IOWIN) registers. */
#ifndef HVRR_GUEST_APIC_MMIO_H
#define HVRR_GUEST_APIC_MMIO_H

#include "guest.h"

/* FS: base 0, limit 4 GiB, kept after the return to real mode. */
static inline void unreal_fs(void)
{
    static const uint64_t gdt[2] = {0, 0x00cf92000000ffffull};
    static struct __attribute__((packed)) {
        uint16_t lim;
        uint32_t base;
    } gdtr;
    gdtr.lim = sizeof gdt - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    __asm__ volatile("lgdtl %0\n\t"
                     "movl %%cr0, %%eax\n\t"
                     "orb $1, %%al\n\t"
                     "movl %%eax, %%cr0\n\t"
                     "jmp 1f\n"
                     "1: movw $8, %%bx\n\t"
                     "movw %%bx, %%fs\n\t"
                     "andb $0xfe, %%al\n\t"
                     "movl %%eax, %%cr0\n\t"
                     "jmp 2f\n"
                     "2:" ::"m"(gdtr)
                     : "eax", "ebx", "memory");
}

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
