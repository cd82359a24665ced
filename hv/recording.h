/* The hypervisor side of recording (docs/hypervisor.md, "Recording"): the
 * command-line options, the transport (physical COM2, stream or flight
 * ring), the FPU section the compressing libraries run in, and thin
 * wrappers that route the VM layer's device calls through hv/record's
 * struct vm_recorder.
 *
 * Options on the hv command line:
 *   record=off|stream|flight   (default off)
 *   record_port=0x2f8          UART base of the trace port
 *   record_baud=115200         its baud rate (115200 / divisor)
 *   flight_mib=4               flight ring size (flight_kib=N: in KiB, for tests)
 *   checkpoint=8192            exits between checkpoints (0 = none)
 *   record_level=3             zstd level
 *
 * Time: a call that compressed or sent a frame is taken out of the guest
 * TSC (TSC offset lowered by its duration), so the guest sees the same
 * time with recording on or off; stream mode still holds it back in wall
 * time when the line is slower than the trace.
 *
 * FPU: the writer enters the FPU section (saves the guest's x87/SSE state)
 * only before it runs zstd or protobuf-c, i.e. when a frame is compressed
 * or a header, checkpoint or end record is packed; hvrec_before_entry()
 * restores the state before the next VM entry.
 */
#ifndef HVRR_HV_RECORDING_H
#define HVRR_HV_RECORDING_H

#include "hv/options.h"
#include "hv/record/recorder.h"
#include "hv/vmx/vmx.h"

/* Guest port whose OUT dumps the flight ring (any value, any size). */
#define HVREC_MAGIC_PORT 0x0bf0

enum hvrec_mode { HVREC_OFF = 0, HVREC_STREAM, HVREC_FLIGHT };

/* Takes the record* / checkpoint / flight_* options (hv/options.h), sets
 * up the library runtime (heap, %fs canary, SSE enabled in CR4), the trace
 * port and the writer memory. Call once, after mm_init and before any VM
 * is created. */
void hvrec_setup(const struct hv_options *o);
enum hvrec_mode hvrec_mode(void);

/* Starts a trace for a new VM: initialises d through the recorder (which
 * calls vm_devices_init) and writes the header. Returns the recorder, or
 * NULL when recording is off or failed (the caller then initialises the
 * devices itself). */
struct vm_recorder *hvrec_vm_begin(struct vm_devices *d, const struct vm_devices_config *dc,
                                   const struct vm_devices_hooks *hooks, uint64_t ram_bytes,
                                   uint64_t tsc_hz, const char *cmdline, uint64_t time_limit_ns,
                                   struct vmx_vcpu *vcpu);
/* Ends the trace: End record (reason: enum trace_end_reason), final frame;
 * in flight mode the ring is dumped if something asked for it. */
void hvrec_vm_end(struct vm_recorder *r, uint32_t reason);

uint32_t hvrec_io(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint16_t port,
                  unsigned size, bool write, uint32_t value);
uint64_t hvrec_mmio(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint64_t gpa,
                    unsigned size, bool write, uint64_t value);
int hvrec_msr(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint32_t msr, bool write,
              uint64_t *val);
void hvrec_advance(struct vm_recorder *r, uint64_t tsc);
uint8_t hvrec_ack(struct vm_recorder *r, uint64_t tsc);
void hvrec_policy(struct vm_recorder *r, struct trace_dev_event *ev);
void hvrec_deadline(struct vm_recorder *r, uint64_t tsc, uint64_t deadline);
size_t hvrec_com1_rx(struct vm_recorder *r, const uint8_t *buf, size_t n, uint64_t tsc);
void hvrec_exit(struct vm_recorder *r, struct trace_exit *e);

/* One byte of guest console output, watched for a Linux panic (flight mode
 * dumps its ring then). */
void hvrec_console_byte(uint8_t c);
/* Has the guest console shown "Kernel panic - not syncing"? */
bool hvrec_guest_panicked(void);
/* Flight mode: dump the ring now (magic port, panic) and stream from then on. */
void hvrec_trigger(const char *why);
/* Before every VM entry: leave the FPU section (guest state back). */
void hvrec_before_entry(void);

#endif
