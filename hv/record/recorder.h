/* The recording convention, shared by the hypervisor (recorder) and the host
 * replayer (host-sim). The VM layer makes EVERY call into the device layer
 * through a struct vm_recorder, so that each call and each output becomes a
 * trace record, in the order it happened (docs/replay.md):
 *
 *   device call                      records written, in this order
 *   vm_rec_io(port,size,dir,val)     outputs the call caused, then Exit IO_INSTRUCTION
 *                                    (PortIo: value written, or value returned)
 *   vm_rec_mmio(gpa,size,write,val)  outputs the call caused, then Exit EPT_VIOLATION
 *                                    (EptViolation: gpa, access read or write, size,
 *                                    value written or returned; APIC platform)
 *   vm_rec_msr(msr,write,val)        a local APIC MSR (APIC platform): outputs the
 *                                    call caused, then Exit RDMSR/WRMSR (Msr)
 *   vm_rec_ack()                     outputs the call caused, then DeviceEvent Inject
 *   vm_rec_com1_rx(bytes)            outputs the call caused, then DeviceEvent UartRx
 *   vm_rec_advance()                 only the outputs it caused (nothing if none)
 *   vm_rec_exit(other exit)          Exit (no device call is made)
 *   vm_rec_blocked()                 DeviceEvent IntrBlocked (no device call: the exit
 *                                    policy found INTR high at an entry the guest could
 *                                    not take it, hv/vm_policy.h)
 *
 * Outputs are DeviceEvent IrqLine (a PIC input pin changed), IntrLine (a
 * vCPU's interrupt request changed: the PIC pair's INTR, or that vCPU's
 * local APIC; DeviceEvent.vcpu says whose with several vCPUs, header
 * intr_per_vcpu) and DevRequest (reset/power-off), stamped with the
 * TSC of the call that caused them. Every timed record therefore means
 * "devices advanced to this time first"; an advance that changed no output
 * is not recorded (the models give the same state whether time moves in one
 * step or several while no output changes).
 *
 * Checkpoints: the header carries the start state; then every
 * checkpoint_every exits, just before exit seq is recorded, a Checkpoint of
 * the state after the last device call (its TSC is that call's TSC).
 *
 * Portable and freestanding: no libc beyond the trace writer, no allocation.
 */
#ifndef HVRR_RECORDER_H
#define HVRR_RECORDER_H

#include "hv/devs/vm_devices.h"
#include "trace/trace_writer.h"

/* Virtual nanoseconds from guest TSC: tsc * 1e9 / hz, exact (floor), in
 * 64-bit arithmetic (quotient and remainder apart). Valid for hz < 18.4 GHz.
 * The one conversion recorder and replayer both use. */
static inline uint64_t vm_rec_tsc_to_ns(uint64_t tsc, uint64_t hz)
{
    return tsc / hz * 1000000000ull + tsc % hz * 1000000000ull / hz;
}

/* One MMIO access of size 1, 2, 4 or 8 as device calls (fn: vm_devices_mmio
 * or a replay variant): an 8-byte access is two 4-byte calls, low half
 * first. Returns the loaded value (a store: the value stored). The one
 * splitting rule recorder, replayer and unrecorded hypervisor share. */
static inline uint64_t vm_rec_mmio_calls(int (*fn)(struct vm_devices *, uint64_t, unsigned, bool,
                                                   uint32_t *, uint64_t),
                                         struct vm_devices *d, uint64_t gpa, unsigned size,
                                         bool write, uint64_t value, uint64_t now_ns)
{
    uint64_t v = 0;
    unsigned part = size < 4 ? size : 4;
    for (unsigned off = 0; off < size; off += 4) {
        uint32_t val = write ? (uint32_t)(value >> (8 * off)) & dev_size_mask(part) : 0;
        fn(d, gpa + off, part, write, &val, now_ns);
        v |= (uint64_t)(val & dev_size_mask(part)) << (8 * off);
    }
    return write ? value : v;
}

struct vm_recorder_config {
    struct trace_writer *w; /* required unless off */
    /* Recording off: a null sink. w must be NULL; every call still goes to
     * the devices through the recorder, in the same order, and nothing is
     * written (no header, records or checkpoints). */
    bool off;
    uint64_t tsc_hz; /* required */
    uint64_t ram_bytes;
    uint32_t vcpus; /* 0 means 1 */
    const char *hv_build_id;
    const char *devmodel_version;
    const char *cmdline;
    uint64_t checkpoint_every; /* exits between checkpoints; 0: none */
    uint64_t start_tsc;        /* guest TSC when the devices are created */
    /* Inputs of the vCPU policy (hv/vcpu_policy.h) for the header, so a
     * replay can check CPUID/MSR answers; NULL: not recorded. */
    const struct trace_host_cpu *host_cpu;
    /* The caller runs the exit policy and records its decision at every
     * entry with INTR high (vm_rec_ack or vm_rec_blocked): header flag
     * entry_decisions, checked by replay. */
    bool entry_decisions;
    /* The caller also records the exit policy's register inputs and outputs
     * (vm_rec_policy: PolicyIo, Halt, IntrBlocked with rflags/blocking) and
     * every preemption-timer deadline (vm_rec_deadline): header flag
     * policy_records, with the policy's time limit. */
    bool policy_records;
    uint64_t time_limit_ns;
};

/* What the caller knows about the exit being handled (from the VMCS). */
struct vm_rec_exit_info {
    uint64_t tsc; /* guest TSC at the exit */
    uint64_t rip;
    uint64_t qual;
    uint32_t insn_len;
    uint32_t vcpu;
};

struct vm_recorder {
    struct vm_devices *dev;
    struct trace_writer *w;
    struct vm_devices_hooks user; /* the caller's hooks, called after recording */
    uint64_t tsc_hz;
    uint64_t seq;      /* sequence number of the next exit */
    uint64_t cur_tsc;  /* TSC of the device call in progress (stamps outputs) */
    uint64_t last_tsc; /* TSC of the last device call */
    uint64_t checkpoint_every;
    uint64_t outputs; /* output records written */
    uint32_t vcpu;
    uint64_t armed; /* last deadline vm_rec_deadline wrote */
    bool armed_valid;
    int err; /* first writer error (sticky), 0 if none */
    struct trace_device devices[IOBUS_MAX_RANGES];
    uint8_t blob[VM_DEVICES_SAVE_MAX];
};

/* Initialises d in place (vm_devices_init with the recorder's hooks, the
 * caller's hooks chained behind them) at cfg->start_tsc and writes the
 * header with the VM configuration and the start checkpoint. Returns 0 or a
 * negative trace_writer error. */
int vm_recorder_init(struct vm_recorder *r, struct vm_devices *d,
                     const struct vm_devices_config *dc, const struct vm_devices_hooks *user,
                     const struct vm_recorder_config *cfg);

/* A guest port access; returns the value for an IN (masked to size), the
 * written value for an OUT. Inline for the null sink (recording off: the
 * most frequent exit stays as cheap as a direct device call). */
uint32_t vm_rec_io_recorded(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint16_t port,
                            unsigned size, bool write, uint32_t value);
static inline uint32_t vm_rec_io(struct vm_recorder *r, const struct vm_rec_exit_info *x,
                                 uint16_t port, unsigned size, bool write, uint32_t value)
{
    if (r->w)
        return vm_rec_io_recorded(r, x, port, size, write, value);
    uint32_t val = write ? value : 0;
    vm_devices_io(r->dev, port, size, write, &val, vm_rec_tsc_to_ns(x->tsc, r->tsc_hz));
    r->seq++;
    return val & dev_size_mask(size);
}
/* A guest MMIO access to a device page (vm_devices_mmio; size 1, 2, 4 or 8,
 * an 8-byte one made as two 4-byte accesses, low half first); returns the
 * value a load reads, the written value for a store. */
uint64_t vm_rec_mmio(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint64_t gpa,
                     unsigned size, bool write, uint64_t value);
/* RDMSR/WRMSR of a local APIC MSR (vm_devices_msr): 1 = not a device MSR
 * (nothing called or recorded: the caller handles and records it), 0 =
 * done (*val read), -1 = #GP (a read is recorded as 0). */
int vm_rec_msr(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint32_t msr, bool write,
               uint64_t *val);
void vm_rec_advance(struct vm_recorder *r, uint64_t tsc);
uint8_t vm_rec_ack(struct vm_recorder *r, uint64_t tsc);
/* The vCPU's pending NMI taken for injection (vm_devices_nmi_take_cpu):
 * outputs the call caused, then DeviceEvent Inject {vector 2, nmi}. */
void vm_rec_nmi(struct vm_recorder *r, uint64_t tsc);
void vm_rec_blocked(struct vm_recorder *r, uint64_t tsc);
/* An exit-policy record (TRACE_DEV_POLICY_IO, TRACE_DEV_HALT,
 * TRACE_DEV_INTR_BLOCKED with its fields), filled by the caller but vcpu.
 * No device call. */
void vm_rec_policy(struct vm_recorder *r, struct trace_dev_event *ev);
/* The preemption-timer deadline armed at an entry at tsc (UINT64_MAX:
 * none); written only when it differs from the last one written. */
void vm_rec_deadline(struct vm_recorder *r, uint64_t tsc, uint64_t deadline);
size_t vm_rec_com1_rx(struct vm_recorder *r, const uint8_t *buf, size_t n, uint64_t tsc);
/* Any other exit (CPUID, MSR, XSETBV, CR, HLT, EPT, preemption timer, ...):
 * e is filled by the caller except seq, which the recorder assigns. */
int vm_rec_exit(struct vm_recorder *r, struct trace_exit *e);
/* Writes the End record (reason: enum trace_end_reason) and the last frame. */
int vm_rec_finish(struct vm_recorder *r, uint32_t reason);

static inline uint64_t vm_rec_now_ns(const struct vm_recorder *r, uint64_t tsc)
{
    return vm_rec_tsc_to_ns(tsc, r->tsc_hz);
}

#endif
