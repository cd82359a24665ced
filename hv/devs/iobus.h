/* Port-I/O bus: maps port ranges to device handlers. Unknown ports read as
 * all-ones, ignore writes, and are counted. The caller serialises access. */
#ifndef HVRR_IOBUS_H
#define HVRR_IOBUS_H

#include "hv/devs/dev.h"

#define IOBUS_MAX_RANGES 32

struct iobus_range {
    uint16_t base;
    uint16_t len; /* ports base .. base+len-1 */
    dev_io_fn fn;
    void *dev;
    const char *name;
    int irq; /* the IRQ line the device drives (trace header), -1: none; set by the
                platform wiring after registration (vm_devices_init) */
};

struct iobus {
    struct iobus_range r[IOBUS_MAX_RANGES];
    unsigned n;
    uint64_t unknown_reads, unknown_writes; /* accesses to unmapped ports */
    uint64_t bad_size;                      /* accesses a device refused for their size */
    /* ports 0..0x3ff (the ISA range: PIC, PIT, RTC, COM1 ...): index + 1 of
     * their range, 0 = none; a lookup without the scan for the ports a guest
     * hits most */
    uint8_t low[0x400];
};

void iobus_init(struct iobus *bus);
/* Returns 0, or -1 if the range is empty, wraps past 0xffff, overlaps an
 * existing range, or the table is full. */
int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, dev_io_fn fn, void *dev,
                   const char *name);
/* The range a port belongs to, or NULL. */
const struct iobus_range *iobus_find(const struct iobus *bus, uint16_t port);
/* Performs the access. size must be 1, 2 or 4 (else treated as unmapped with
 * all-ones). A read always stores a value in *val. Returns the device's
 * dev_io_result (DEV_IO_UNMAPPED for unknown ports). */
int iobus_access(struct iobus *bus, uint16_t port, unsigned size, bool write, uint32_t *val,
                 uint64_t now_ns);

#endif
