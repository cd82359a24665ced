/* Port 0x61, "system control port B": PIT channel 2 gate (bit 0), speaker
 * data (bit 1), refresh toggle (bit 4, flips every 15.085 us of virtual
 * time), channel 2 OUT (bit 5). */
#ifndef HVRR_PORT61_H
#define HVRR_PORT61_H

#include "hv/devs/pit8254.h"

struct port61 {
    uint8_t reg;      /* writable bits as last written */
    struct pit *pit;  /* wiring, not state */
};

void port61_init(struct port61 *p, struct pit *pit);
void port61_reset(struct port61 *p, uint64_t now_ns);
int port61_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
void port61_save(const struct port61 *p, struct sv *s);
int port61_restore(struct port61 *p, struct sv *s);

#endif
