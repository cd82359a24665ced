/* isa-debug-exit: a port a test guest writes to end the run with a status.
 *
 * Semantics of QEMU's isa-debug-exit (as configured with iobase=0xf4,
 * iosize=4): a write of value V, of any width, to any of its ports ends
 * the machine, and QEMU's own exit status is (V << 1) | 1, so a guest can
 * never produce status 0. The model keeps V, the width of the write and a
 * count of writes, and asks the platform to end the VM (DEV_REQ_EXIT); the
 * hypervisor reports V (docs/hypervisor.md, "Multiboot guests"). The port
 * is write-only: reads are not decoded (they float to all-ones on the bus).
 *
 * Wired only for guests that ask for it (vm_devices_config.debug_exit:
 * guest=multiboot), so no other guest sees a port that ends the VM.
 */
#ifndef HVRR_DEBUGEXIT_H
#define HVRR_DEBUGEXIT_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define DEBUGEXIT_PORT 0xf4
#define DEBUGEXIT_LEN  4

struct debugexit {
    uint32_t value;              /* last value written (0 after init) */
    uint8_t size;                /* its width in bytes (0: never written) */
    uint32_t writes;             /* writes since init */
    struct dev_request_sink req; /* wiring: DEV_REQ_EXIT */
};

void debugexit_init(struct debugexit *d, const struct dev_request_sink *req);
/* Writes: DEV_IO_OK and DEV_REQ_EXIT. Reads: DEV_IO_UNMAPPED. */
int debugexit_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                 uint64_t now_ns);
/* QEMU's process exit status for the last value written. */
static inline uint32_t debugexit_qemu_status(const struct debugexit *d)
{
    return (d->value << 1) | 1;
}
/* Section 'DBGX' (savestate.h field table). */
extern const struct sv_desc debugexit_sv_desc;

#endif
