/* The per-VM device set: the legacy platform one VM sees, wired together.
 *
 *   PIT ch0 OUT -> IRQ0, 8042 -> IRQ1/12, COM1 -> IRQ4, RTC -> IRQ8,
 *   PIC pair INTR -> the vCPU (vm_devices_intr / vm_devices_ack).
 *
 * Everything that happens here is a function of the calls made and the
 * now_ns they carry, so replaying the same calls reproduces it exactly.
 * The struct holds pointers into itself: initialise it in place, never copy.
 */
#ifndef HVRR_VM_DEVICES_H
#define HVRR_VM_DEVICES_H

#include "hv/devs/cmos_rtc.h"
#include "hv/devs/debugport.h"
#include "hv/devs/iobus.h"
#include "hv/devs/kbc8042.h"
#include "hv/devs/pci_cam.h"
#include "hv/devs/pic8259.h"
#include "hv/devs/pit8254.h"
#include "hv/devs/port61.h"
#include "hv/devs/uart16550.h"

#define VM_DEVICES_STATE_VERSION 1
#define VM_DEVICES_SAVE_MAX      4096 /* upper bound of vm_devices_save()'s output */

struct vm_devices_config {
    uint64_t rtc_epoch_sec; /* wall-clock seconds at virtual time 0 */
    uint16_t com1_base;     /* 0 means the default 0x3f8 */
    uint8_t com1_irq;       /* 0 means the default 4 */
};

/* Observers for the recorder and the replayer; every member is optional. */
struct vm_devices_hooks {
    void (*irq_line)(void *ctx, unsigned irq, bool level, uint64_t now_ns); /* PIC input pins */
    void (*intr)(void *ctx, bool level, uint64_t now_ns);                   /* PIC INTR output */
    void (*com1_tx)(void *ctx, uint8_t byte);                               /* guest console */
    void (*request)(void *ctx, enum dev_request what);                      /* reset/power-off */
    void *ctx;
};

struct vm_devices {
    struct pic_pair pic;
    struct pit pit;
    struct port61 port61;
    struct uart com1;
    struct cmos_rtc cmos;
    struct pci_cam pci;
    struct debugport post;
    struct kbc8042 kbc;
    struct iobus bus;
    struct vm_devices_config cfg;
    struct vm_devices_hooks hooks;
    uint64_t now_ns;   /* time of the last call that carried a time */
    uint32_t requests; /* bitmask (1 << enum dev_request) seen since last cleared */
    /* Derived from the device state, not saved: valid until the next call
     * that changes it (port access, acknowledge, RX, a device tick, restore).
     * change_ns: no device output can change before it (vm_devices_advance
     * skips the device ticks until then); event_ns, event_unclamped: what
     * vm_devices_next_event_ns() answers is min(max(event_ns, now),
     * event_unclamped). */
    bool cache_valid;
    uint64_t change_ns, event_ns, event_unclamped;
    uint64_t gen; /* counts the changes that made the cache stale (users caching more) */
};

void vm_devices_init(struct vm_devices *d, const struct vm_devices_config *cfg,
                     const struct vm_devices_hooks *hooks, uint64_t now_ns);
/* Brings time-driven behaviour (PIT, UART timeouts, RTC) up to now_ns. Time
 * never goes backwards: an older now_ns is treated as the latest one seen.
 * While no device output can change (before the next possible change, from
 * the cached device deadlines) only now_ns moves: the devices' own clocks
 * catch up at the next tick, port access or vm_devices_sync(), with the same
 * outputs and the same state as if every advance had ticked them. */
void vm_devices_advance(struct vm_devices *d, uint64_t now_ns);
/* Ticks every device to now_ns (what advances skipped): call before saving
 * state that is compared (checkpoints). Changes no output. */
void vm_devices_sync(struct vm_devices *d);
/* A guest port access (advances time first). Unknown ports read all-ones. */
int vm_devices_io(struct vm_devices *d, uint16_t port, unsigned size, bool write, uint32_t *val,
                  uint64_t now_ns);
/* Earliest virtual time at which some device will change an output. */
uint64_t vm_devices_next_event_ns(const struct vm_devices *d, uint64_t now_ns);
/* The same, from the cache (computed once per device state change). */
uint64_t vm_devices_next_event_cached(struct vm_devices *d, uint64_t now_ns);
static inline bool vm_devices_intr(const struct vm_devices *d)
{
    return d->pic.intr; /* pic_intr() */
}
/* Interrupt acknowledge: the vector to inject. */
uint8_t vm_devices_ack(struct vm_devices *d, uint64_t now_ns);
/* Host console input for COM1; returns bytes accepted. */
size_t vm_devices_com1_rx(struct vm_devices *d, const uint8_t *buf, size_t n, uint64_t now_ns);

/* Whole device state as one versioned blob. save returns its length (0 if
 * cap is too small); restore returns 0 or -1 (state untouched on error). */
size_t vm_devices_save(const struct vm_devices *d, void *buf, size_t cap);
int vm_devices_restore(struct vm_devices *d, const void *buf, size_t len);

#endif
