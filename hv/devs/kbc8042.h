/* Just enough of the i8042 keyboard controller (ports 0x60 data, 0x64
 * status/command) for Linux's drivers/input/serio/i8042.c: the controller
 * answers its commands, no keyboard and no mouse are attached, and the
 * pulse-reset commands (0xfe, 0xd1 with bit 0 clear) request a reset.
 *
 * Bytes are processed at once, so the input buffer is always empty (status
 * bit 1 reads 0; Linux's reboot path spins on it). There is one output
 * buffer byte; a new byte replaces an unread one. A byte sent to the absent
 * keyboard (0x60 without a pending command) or mouse (0xd4) is answered with
 * 0xfe and the timeout bit (status bit 6), as AT-compatible controllers do
 * when no device answers: Linux's libps2 takes it as a NAK/abort at once
 * instead of waiting out its command timeouts. See docs/devices/platform.md.
 */
#ifndef HVRR_KBC8042_H
#define HVRR_KBC8042_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define KBC_DATA_PORT 0x60
#define KBC_CMD_PORT  0x64

/* Status register (0x64 read). */
#define KBC_STS_OBF     0x01 /* output buffer full */
#define KBC_STS_IBF     0x02 /* input buffer full: always 0 here */
#define KBC_STS_SYS     0x04 /* system flag (set by self-test / CTR bit 2) */
#define KBC_STS_CMD     0x08 /* last write was to 0x64 */
#define KBC_STS_UNLOCK  0x10 /* keyboard not inhibited by the key lock */
#define KBC_STS_AUXDATA 0x20 /* output byte comes from the AUX side */
#define KBC_STS_TIMEOUT 0x40 /* the device did not answer */
#define KBC_STS_PARITY  0x80

/* Controller configuration byte (CTR, controller RAM byte 0). */
#define KBC_CTR_KBDINT 0x01
#define KBC_CTR_AUXINT 0x02
#define KBC_CTR_SYS    0x04
#define KBC_CTR_KBDDIS 0x10
#define KBC_CTR_AUXDIS 0x20
#define KBC_CTR_XLATE  0x40

#define KBC_RESET_STATUS  (KBC_STS_UNLOCK | KBC_STS_CMD | KBC_STS_SYS)
#define KBC_RESET_CTR     (KBC_CTR_XLATE | KBC_CTR_SYS | KBC_CTR_KBDINT)
#define KBC_RESET_OUTPORT 0x03 /* reset line released, A20 enabled */

#define KBC_IRQ_KBD 1
#define KBC_IRQ_AUX 12

struct kbc8042 {
    uint8_t status, ctr, out;
    uint8_t outport;             /* output port (0xd0/0xd1) */
    uint8_t pending;             /* command waiting for its data byte, 0 if none */
    uint8_t ram[32];             /* controller RAM 0x01-0x1f (0x20+n / 0x60+n) */
    bool irq_kbd, irq_aux;       /* current levels of IRQ1 / IRQ12 */
    uint64_t resets;             /* reset pulses requested */
    struct irq_sink irq;         /* wiring: lines 1 (keyboard) and 12 (aux) */
    struct dev_request_sink req; /* wiring: reset requests */
};

/* Initialises and resets (kbc_reset). */
void kbc_init(struct kbc8042 *k, const struct irq_sink *irq, const struct dev_request_sink *req);
/* State after firmware POST: status 0x1c, CTR 0x45, output buffer empty. Drops
 * IRQ1/IRQ12 through the sink if they were high. */
void kbc_reset(struct kbc8042 *k);
/* Ports 0x60 and 0x64, byte access only (else DEV_IO_BADSIZE). */
int kbc_io(void *kbc, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Section 'KBC0' (savestate.h field table). */
extern const struct sv_desc kbc_sv_desc;
void kbc_save(const struct kbc8042 *k, struct sv *s);
/* 0, or -1 with *k untouched for a missing, malformed or inconsistent section.
 * The IRQ levels are restored as saved; the sink is not called. */
int kbc_restore(struct kbc8042 *k, struct sv *s);

#endif
