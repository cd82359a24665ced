/* Just enough of the i8042 keyboard controller (ports 0x60 data, 0x64
 * status/command) for Linux: controller commands answer, no keyboard or
 * mouse is attached, and the 0xfe pulse-reset command requests a reset. */
#ifndef HVRR_KBC8042_H
#define HVRR_KBC8042_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

struct kbc8042 {
    uint8_t status, ctr, out; /* (completed by the implementation) */
    struct irq_sink irq;          /* wiring: lines 1 (keyboard) and 12 (aux) */
    struct dev_request_sink req;  /* wiring: reset requests */
};

void kbc_init(struct kbc8042 *k, const struct irq_sink *irq, const struct dev_request_sink *req);
void kbc_reset(struct kbc8042 *k);
int kbc_io(void *kbc, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
void kbc_save(const struct kbc8042 *k, struct sv *s);
int kbc_restore(struct kbc8042 *k, struct sv *s);

#endif
