/* Names for divergence reports: which device and register a port is, which
 * device an IRQ line belongs to, and which device sections of two
 * vm_devices_save() blobs differ. Host only. */
#ifndef HVRR_HOSTSIM_DEVINFO_H
#define HVRR_HOSTSIM_DEVINFO_H

#include <stddef.h>
#include <stdint.h>

#include "hv/devs/vm_devices.h"

/* "pit ch2 count (0x42)", "uart LSR (0x3fd)", ...; uses d for modes that
 * change a register's meaning (UART DLAB, CMOS index, PCI address). */
void devinfo_port(const struct vm_devices *d, uint16_t port, bool write, char *buf, size_t len);
/* The device state a register name depends on, captured cheaply. */
struct devinfo_regs {
    uint16_t com1_base;
    uint8_t uart_lcr, cmos_index;
    uint32_t pci_addr;
};
static inline void devinfo_regs_get(const struct vm_devices *d, struct devinfo_regs *r)
{
    r->com1_base = d->cfg.com1_base;
    r->uart_lcr = d->com1.lcr;
    r->cmos_index = d->cmos.index;
    r->pci_addr = d->pci.addr;
}
void devinfo_port_regs(const struct devinfo_regs *rg, uint16_t port, bool write, char *buf,
                       size_t len);
/* Device name of a port ("pit", "com1", "unmapped"). */
const char *devinfo_port_device(const struct vm_devices *d, uint16_t port);
/* Device driving a PIC input ("pit", "com1", "cmos", "kbc", "-"). */
const char *devinfo_irq_device(const struct vm_devices *d, unsigned irq);

#define DEVINFO_MAX_SECTIONS 16
struct devinfo_section {
    uint32_t tag; /* SV_TAG; 0 for the VM header (time, requests) */
    size_t off, len;
};
/* Splits a vm_devices_save() blob into its top-level device sections.
 * Returns how many, or -1 if the blob is malformed. */
int devinfo_sections(const void *blob, size_t len, struct devinfo_section *out, int max);
/* "pic", "pit", ... for a section tag ("vm" for 0, the tag's letters otherwise). */
const char *devinfo_section_name(uint32_t tag, char buf[8]);
/* Writes "pit (byte 17), com1 (byte 3)"-style list of sections that differ
 * between a and b into buf; returns how many differ (-1 if either blob is
 * malformed). */
int devinfo_diff(const void *a, size_t alen, const void *b, size_t blen, char *buf, size_t len);

#endif
