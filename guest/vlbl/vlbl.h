/* vlbl internals shared by entry.S and the C files (docs/vlbl.md). */
#ifndef HVRR_VLBL_H
#define HVRR_VLBL_H

#define VLBL_STACK_TOP 0x6ff0 /* vlbl's own stack (also used by its BIOS handlers) */
#define VLBL_STUB_SIZE 8      /* bytes between two interrupt stubs */
#define VLBL_SETUP_SEG 0x1000 /* Linux real-mode setup at 0x10000 */
#define VLBL_SETUP_MAX 0x8000 /* boot sector + setup sectors */
#define VLBL_HEAP_END  0xf000 /* setup heap end and initial SP, offset in VLBL_SETUP_SEG */
#define VLBL_EBDA_SEG  0x9fc0
#define VLBL_LOWMEM_KB 639

#ifndef __ASSEMBLER__
#include <stdint.h>

#include "hv/portio.h"

/* What the interrupt stub leaves on the caller's stack; vlbl_int may edit
 * it, the stub restores the registers from it. */
struct vlbl_frame {
    uint16_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint16_t vec, ip, cs, flags;
} __attribute__((packed));

void vlbl_main(void) __attribute__((noreturn));
void vlbl_int(struct vlbl_frame *f);
void vlbl_halt(void) __attribute__((noreturn));
void vlbl_start_linux(uint32_t seg, uint32_t sp) __attribute__((noreturn));
extern char vlbl_int_stubs[];

/* Flat access to guest-physical memory (DS/ES have 4 GiB limits). The
 * address goes through a register: gas in .code16gcc mode would truncate
 * an absolute displacement above 0xffff to 16 bits. */
static inline uintptr_t phys_reg(uintptr_t a)
{
    __asm__("" : "+r"(a));
    return a;
}
#define PHYS8(a)  (*(volatile uint8_t *)phys_reg((uintptr_t)(a)))
#define PHYS16(a) (*(volatile uint16_t *)phys_reg((uintptr_t)(a)))
#define PHYS32(a) (*(volatile uint32_t *)phys_reg((uintptr_t)(a)))

/* console.c: COM1 output */
void con_init(void);
void con_putc(char c);
void con_puts(const char *s);
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vlbl_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* bios.c: the BIOS services vlbl provides to Linux's real-mode setup */
void bios_init(uint64_t ram_bytes, int debug);

/* lib.c */
void *memset(void *d, int c, uint32_t n);
void *memcpy(void *d, const void *s, uint32_t n);
void phys_move(uint32_t dst, uint32_t src, uint32_t n);
#endif

#endif
