/* Port 0x61, "system control port B": PIT channel 2 gate (bit 0), speaker
 * data (bit 1), parity/IOCHK check enables (bits 2-3, stored only), refresh
 * toggle (bit 4, flips every 15.085 us of virtual time), channel 2 OUT
 * (bit 5). Bits 6-7 (NMI sources) read 0. Byte access only. */
#ifndef HVRR_PORT61_H
#define HVRR_PORT61_H

#include "hv/devs/pit8254.h"

#define PORT61_STATE_VERSION 1
#define PORT61_RW_MASK       0x0f     /* bits the guest can write and read back */
#define PORT61_REFRESH_NS    15085ull /* half period of the bit 4 toggle */

struct port61 {
    uint8_t reg;     /* writable bits as last written (bits 0-3) */
    struct pit *pit; /* wiring, not state */
};

void port61_init(struct port61 *p, struct pit *pit);
/* reg = 0, which also drops channel 2's gate. */
void port61_reset(struct port61 *p, uint64_t now_ns);
int port61_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Section 'P61B' (savestate.h field table). */
extern const struct sv_desc port61_sv_desc;
void port61_save(const struct port61 *p, struct sv *s);
/* 0, or -1 with *p untouched. The PIT's own state carries the gate. */
int port61_restore(struct port61 *p, struct sv *s);

#endif
