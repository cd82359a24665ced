/* Port 0x80, the POST-code / I/O-delay port.
 *
 * Linux writes a byte here as an I/O delay (outb_p / slow_down_io), firmware
 * writes POST codes. The model remembers the last byte written and counts the
 * writes. Writes of any size are accepted (only the low byte is latched, like
 * a POST-code display); reads are byte-only and return the last byte written,
 * which is what LPC chipsets that latch POST codes return (docs/devices/platform.md).
 */
#ifndef HVRR_DEBUGPORT_H
#define HVRR_DEBUGPORT_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define DEBUGPORT_PORT 0x80

struct debugport {
    uint8_t last;    /* last byte written (0 after init) */
    uint64_t writes; /* number of writes since init */
};

void debugport_init(struct debugport *d);
/* DEV_IO_OK; DEV_IO_BADSIZE for a read wider than a byte; DEV_IO_UNMAPPED for
 * a port other than 0x80. */
int debugport_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                 uint64_t now_ns);
/* Section 'POST' (savestate.h field table). */
extern const struct sv_desc debugport_sv_desc;
void debugport_save(const struct debugport *d, struct sv *s);
/* 0, or -1 with *d untouched when the section is missing, malformed or newer. */
int debugport_restore(struct debugport *d, struct sv *s);

#endif
