/* Port 0x80, the POST-code / I/O-delay port: remembers the last byte
 * written and counts writes; reads return the last byte written. */
#ifndef HVRR_DEBUGPORT_H
#define HVRR_DEBUGPORT_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

struct debugport {
    uint8_t last;
    uint64_t writes;
};

void debugport_init(struct debugport *d);
int debugport_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
void debugport_save(const struct debugport *d, struct sv *s);
int debugport_restore(struct debugport *d, struct sv *s);

#endif
