/* ACPI tables describing the APIC platform to the guest: RSDP, RSDT, XSDT,
 * FADT, FACS, DSDT and MADT, built into one buffer that the hypervisor
 * copies to guest-physical `base` (docs/devices/lapic.md, "Wiring").
 * Pure code (no hypervisor state), unit-tested on the host
 * (tests/test_acpi.c). Table layouts: ACPI 6.x spec, ch. 5.2. */
#ifndef HVRR_ACPI_H
#define HVRR_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Where Linux looks for the RSDP: the first KiB of the EBDA, then
 * 0xe0000-0xfffff on 16-byte boundaries. vlbl's E820 map reserves
 * 0xf0000-0xfffff; the tables go there. */
#define ACPI_TABLES_GPA 0xf0000u
#define ACPI_TABLES_MAX 0x1000u

struct acpi_config {
    uint32_t base;        /* guest-physical address of the buffer (16-byte aligned) */
    uint32_t lapic_base;  /* 0: 0xfee00000 */
    uint32_t ioapic_base; /* 0: 0xfec00000 */
    uint8_t ioapic_id;
    uint8_t ncpus; /* local APICs with IDs 0..ncpus-1 (0 means 1) */
    /* Fixed power-management hardware, I/O ports; 0 = absent. With
     * pm1a_evt the FADT announces SCI `sci_irq` (level, active high in the
     * MADT), PM1a event/control blocks and, if pm_tmr, a 24-bit PM timer. */
    uint16_t pm1a_evt, pm1a_cnt, pm_tmr;
    uint8_t sci_irq;
    uint8_t s5_slp_typ; /* with pm1a_cnt: the DSDT's \_S5 sleep type (power off) */
};

/* Builds the tables into buf (zeroed first); the RSDP is at buf[0].
 * Returns the bytes used, 0 if cap is too small or the config impossible
 * (base not 16-byte aligned or above 4 GiB - len). */
size_t acpi_build(const struct acpi_config *c, void *buf, size_t cap);

/* Byte sum of n bytes (a valid table sums to 0). */
uint8_t acpi_sum(const void *p, size_t n);

#endif
