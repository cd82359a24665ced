/* x86-64 instruction wrappers used by the hypervisor core (not VMX). */
#ifndef HVRR_ARCH_H
#define HVRR_ARCH_H

#include <stdint.h>

#include "hv/portio.h"

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t sub)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(sub));
    return r;
}
static inline uint64_t xgetbv(uint32_t idx)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(idx));
    return ((uint64_t)hi << 32) | lo;
}
static inline void xsetbv(uint32_t idx, uint64_t v)
{
    __asm__ volatile("xsetbv" : : "c"(idx), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
#define DEF_CR(n)                                                                                  \
    static inline uint64_t read_cr##n(void)                                                        \
    {                                                                                              \
        uint64_t v;                                                                                \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                          \
        return v;                                                                                  \
    }                                                                                              \
    static inline void write_cr##n(uint64_t v)                                                     \
    {                                                                                              \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                                 \
    }
DEF_CR(0)
DEF_CR(2)
DEF_CR(3)
DEF_CR(4)
#undef DEF_CR

static inline void cpu_pause(void)
{
    __asm__ volatile("pause");
}
static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#define MSR_EFER            0xc0000080u
#define MSR_FEATURE_CONTROL 0x3au
#define MSR_PAT             0x277u
#define MSR_XSS             0xda0u

#define CR0_PE      (1ull << 0)
#define CR0_NE      (1ull << 5)
#define CR0_PG      (1ull << 31)
#define CR4_PAE     (1ull << 5)
#define CR4_VMXE    (1ull << 13)
#define CR4_OSXSAVE (1ull << 18)

#endif
