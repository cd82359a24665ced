/* Host CPU tables: GDT (with a 64-bit TSS), IDT with exception reports. */
#ifndef HVRR_CPU_H
#define HVRR_CPU_H

#include <stdint.h>

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS  0x18

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

void cpu_tables_init(void);
uint64_t cpu_gdt_base(void);
uint64_t cpu_idt_base(void);
uint64_t cpu_tss_base(void);

#endif
