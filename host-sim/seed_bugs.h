/* Deliberately wrong device-model variants, for tests only: each wraps one
 * device's port handler on the replayer's bus (replay_opts.patch) so that
 * the model misbehaves in one specific way. Nothing in hv/devs changes.
 *
 *   pic_eoi    the master PIC ignores the specific EOI for IR0 (OCW2 0x60):
 *              IR0 stays in service and the next timer tick never raises INTR
 *   pit_bcd    every PIT control word is taken with its BCD bit set: the
 *              channels count in BCD and reads of the counters differ
 *   uart_thre  the UART drops IER bit 1 (ETBEI) on writes: the IER readback
 *              and the THRE interrupt of the 8250 autoconfig test differ
 */
#ifndef HVRR_HOSTSIM_SEED_BUGS_H
#define HVRR_HOSTSIM_SEED_BUGS_H

#include "hv/devs/vm_devices.h"

enum seed_bug { SEED_BUG_NONE = 0, SEED_BUG_PIC_EOI, SEED_BUG_PIT_BCD, SEED_BUG_UART_THRE };

/* "pic_eoi", "pit_bcd", "uart_thre" -> the bug; SEED_BUG_NONE if unknown. */
enum seed_bug seed_bug_by_name(const char *name);
/* replay_opts.patch: ctx points to an enum seed_bug. */
void seed_bug_patch(struct vm_devices *d, void *ctx);

#endif
