/* C test guests (tests/guests/NAME.c): compiled with gcc -m16, entered like
 * the assembly ones in real mode at 0000:8000 with DS=ES=SS=0, IF=0; the
 * whole image and its data live below 64 KiB, so flat 32-bit pointers with
 * segment 0 address it. Output goes to COM1 polled through LSR; a check
 * prints "PASS name" or "FAIL name got=X want=Y", which the hypervisor counts.
 * Include this once per guest; the guest defines guest_main(). */
#ifndef HVRR_GUEST_H
#define HVRR_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/portio.h"

void guest_main(void);

__asm__(".section .text.start, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "    cli\n"
        "    xorl %eax, %eax\n"
        "    movw %ax, %ds\n"
        "    movw %ax, %es\n"
        "    movw %ax, %ss\n"
        "    movl $0x6ff0, %esp\n"
        "    cld\n"
        "    calll guest_main\n"
        "1:  cli\n" /* power-off: HLT with interrupts disabled */
        "    hlt\n"
        "    jmp 1b\n"
        ".previous\n");

/* An interrupt handler: saves every register, calls fn(), returns by IRET. */
#define GUEST_ISR(stub, fn)                                                                        \
    void fn(void);                                                                                 \
    extern char stub[];                                                                            \
    __asm__(".text\n" #stub ":\n"                                                                  \
            "    pushal\n"                                                                         \
            "    cld\n"                                                                            \
            "    calll " #fn "\n"                                                                  \
            "    popal\n"                                                                          \
            "    iretw\n")

static inline void sti(void)
{
    __asm__ volatile("sti" ::: "memory");
}

static inline void cli(void)
{
    __asm__ volatile("cli" ::: "memory");
}

/* STI; HLT back to back: an interrupt pending before the HLT still wakes it. */
static inline void sti_hlt(void)
{
    __asm__ volatile("sti; hlt" ::: "memory");
}

static inline void barrier(void)
{
    __asm__ volatile("" ::: "memory");
}

/* Real-mode IVT entry `vec` -> 0000:handler. */
static inline void set_ivt(unsigned vec, const void *handler)
{
    uint32_t addr = vec * 4u;
    __asm__ volatile("movw %w0, (%1)\n\tmovw $0, 2(%1)" ::"r"((uint16_t)(uintptr_t)handler),
                     "r"(addr)
                     : "memory");
}

/* n / d for a quotient below 2^32 (no libgcc here: one DIV). */
static inline uint32_t div64(uint64_t n, uint32_t d)
{
    uint32_t q, r;
    __asm__("divl %4" : "=a"(q), "=d"(r) : "a"((uint32_t)n), "d"((uint32_t)(n >> 32)), "rm"(d));
    (void)r;
    return q;
}

/* a * b / d for a result below 2^32. */
static inline uint32_t muldiv(uint32_t a, uint32_t b, uint32_t d)
{
    return div64((uint64_t)a * b, d);
}

/* Guest TSC frequency from CPUID leaf 0x15 (the hv fills it). */
static inline uint32_t tsc_hz(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x15), "c"(0));
    return a ? muldiv(c, b, a) : 0;
}

/* ---- console ---------------------------------------------------------- */

static void putc_(char c)
{
    for (unsigned n = 0; n < 1000 && !(inb(0x3fd) & 0x20); n++)
        ;
    outb(0x3f8, (uint8_t)c);
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void puthex(uint32_t v)
{
    for (int i = 28; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 15]);
}

static void putdec(uint32_t v)
{
    char b[12];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_(b[--n]);
}

static unsigned n_fail;

static void result(const char *name, bool ok, uint32_t got, uint32_t want)
{
    puts_(ok ? "PASS " : "FAIL ");
    puts_(name);
    if (!ok) {
        n_fail++;
        puts_(" got=");
        puthex(got);
        puts_(" want=");
        puthex(want);
    }
    putc_('\n');
}

static inline void check_eq(const char *name, uint32_t got, uint32_t want)
{
    result(name, got == want, got, want);
}

/* ok, with `got` printed on failure (want 0). */
static inline void check(const char *name, bool ok, uint32_t got)
{
    result(name, ok, got, 0);
}

/* Informational line (not counted). */
static inline void info(const char *s, uint32_t v)
{
    puts_(s);
    putdec(v);
    putc_('\n');
}

#endif
