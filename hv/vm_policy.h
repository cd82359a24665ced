/* The VM-level exit policy as portable code: when the devices advance,
 * interrupt injection and the interrupt window, HLT (fast-forward to the
 * next device deadline, idle, power-off), port I/O (an IN merged into RAX,
 * string I/O one element per exit) and the preemption-timer deadline.
 *
 * One copy, used by the hypervisor (hv/vm.c: VMX glue only), by host-sim's
 * scripted guests (host-sim/scenario.c) and by the device soak
 * (tests/fuzz_devices.c), and by replay itself, on the inputs a trace
 * recorded (host-sim/replay_policy.c, docs/replay.md). It touches the vCPU and the devices only
 * through a table of operations (struct vm_policy_ops), so each user brings
 * its own: VMCS accesses in the hypervisor, a scripted CPU on the host, a
 * fake in tests/test_vm_policy.c. Pure C, no libc, freestanding-checked
 * (`make devs-freestanding`), in libhvrr.a for the host.
 *
 * Per exit, the caller:
 *   vm_policy_prepare_entry()   before every VM entry (stop set: don't enter)
 *   ... the guest runs, exits ...
 *   vm_policy_io()              port I/O exits (IN/OUT, INS/OUTS, REP)
 *   vm_policy_halt()            HLT exits (after recording the exit)
 * Preemption-timer and interrupt-window exits need nothing: the next
 * vm_policy_prepare_entry() does the work.
 */
#ifndef HVRR_VM_POLICY_H
#define HVRR_VM_POLICY_H

#include "hv/devs/vm_devices.h"
#include "hv/record/recorder.h"

/* Why the VM stopped (vm_policy.stop). */
enum vm_stop {
    VM_RUNNING = 0,
    VM_STOP_POWEROFF,     /* HLT with IF=0, or a device power-off request */
    VM_STOP_RESET,        /* a device reset request (8042 pulse, port 0xcf9) */
    VM_STOP_TRIPLE_FAULT, /* shutdown: ends this VM only */
    VM_STOP_IDLE,         /* HLT with IF=1 and no device event will ever come */
    VM_STOP_TIMEOUT,      /* virtual-time budget used up */
    VM_STOP_FATAL,        /* unhandled exit, EPT violation, failed entry */
    VM_STOP_DEBUG_EXIT,   /* the guest wrote isa-debug-exit (status: devs.dbgexit.value) */
};
const char *vm_stop_name(enum vm_stop s);

/* General-purpose register numbers the policy uses (the VMX save order). */
enum { VM_POLICY_RAX = 0, VM_POLICY_RCX = 1, VM_POLICY_RSI = 6, VM_POLICY_RDI = 7 };

#define VM_POLICY_RFLAGS_IF (1u << 9)
#define VM_POLICY_RFLAGS_DF (1u << 10)

/* Where a string instruction's memory operand byte is (ops->map_operand). */
enum vm_policy_map {
    VM_POLICY_MAP_OK,      /* *p is the byte in guest RAM */
    VM_POLICY_MAP_PF,      /* the guest's paging faults: *pf_err is the #PF error code */
    VM_POLICY_MAP_OUTSIDE, /* not guest RAM (fatal for the VM) */
};

/* What the policy asks of its user. ctx is vm_policy.ctx. Members marked
 * optional may be NULL. */
struct vm_policy_ops {
    /* the vCPU */
    uint64_t (*reg)(void *ctx, unsigned r);
    void (*set_reg)(void *ctx, unsigned r, uint64_t val);
    uint64_t (*rflags)(void *ctx);
    /* IF=1, no STI / MOV-SS blocking, no event already queued for the entry */
    bool (*interruptible)(void *ctx);
    void (*inject_extint)(void *ctx, uint8_t vector);
    /* NMIs (all three optional: without inject_nmi NMIs stay pending in the
     * devices). nmi_ready: no blocking by NMI, no MOV-SS blocking, no event
     * already queued for the entry (IF and STI blocking do not matter). */
    bool (*nmi_ready)(void *ctx);
    void (*inject_nmi)(void *ctx);
    /* exit as soon as the guest can take an NMI (NMI-window exiting) */
    void (*set_nmi_window)(void *ctx, bool on);
    /* #PF with error code err, CR2 = cr2 (string I/O operand fault) */
    void (*inject_pf)(void *ctx, uint64_t cr2, uint32_t err);
    void (*set_intr_window)(void *ctx, bool on);
    /* the exiting instruction retired: RIP past it, blocking by STI/MOV SS over */
    void (*skip_insn)(void *ctx);
    /* a REP element retired (the instruction is re-executed): blocking by
     * STI/MOV SS over (optional) */
    void (*end_interrupt_shadow)(void *ctx);
    /* the byte of a string instruction's operand at guest linear address la */
    enum vm_policy_map (*map_operand)(void *ctx, uint64_t la, bool write, uint8_t **p,
                                      uint32_t *pf_err);
    /* virtual-time guest TSC now (the exit's while it is handled) */
    uint64_t (*tsc_now)(void *ctx);
    /* move the guest's TSC (and so virtual time) forward by delta */
    void (*skip_tsc)(void *ctx, uint64_t delta);
    /* preemption-timer deadline for the next entry (UINT64_MAX: none) (optional) */
    void (*arm_timer)(void *ctx, uint64_t tsc);
    /* host console input into COM1, through ->com1_rx (optional) */
    void (*poll_input)(void *ctx, uint64_t tsc);
    /* HLT with nothing pending: wait on the host before time skips to
     * deadline (UINT64_MAX: no device deadline). True when the wait ended
     * because input arrived (time must not skip: the guest resumes). False:
     * go on (skip to the deadline, or stop idle when there is none). (optional) */
    bool (*idle_wait)(void *ctx, uint64_t deadline_tsc);

    /* the devices, through the recorder (hv/record/recorder.h) */
    uint32_t (*io)(void *ctx, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                   bool write, uint32_t value);
    void (*advance)(void *ctx, uint64_t tsc);
    uint8_t (*ack)(void *ctx, uint64_t tsc);
    /* the vCPU's pending NMI taken from the devices, to be injected (the
     * trace's Inject record with nmi set) (with inject_nmi) */
    void (*take_nmi)(void *ctx, uint64_t tsc);
    /* an entry with INTR high that cannot take the interrupt (the trace's
     * IntrBlocked record, docs/trace-format.md) (optional) */
    void (*blocked)(void *ctx, uint64_t tsc);
    /* an entry with an NMI pending that the guest cannot take (IntrBlocked
     * with nmi set) (optional) */
    void (*nmi_blocked)(void *ctx, uint64_t tsc);
};

struct vm_policy_config {
    uint64_t tsc_hz;
    uint64_t time_limit_ns; /* 0 = none */
};

struct vm_policy {
    const struct vm_policy_ops *ops;
    void *ctx;
    struct vm_devices *dev; /* read for INTR and deadlines; changed only through ops */
    unsigned cpu;           /* the vCPU whose entry / HLT is handled (its INTR is read; 0
                               with one vCPU); the caller sets it */
    struct vm_policy_config cfg;
    enum vm_stop stop;
    uint64_t entries; /* vm_policy_prepare_entry calls */
    uint64_t injected_irqs, windows, hlt_skipped_ns;
    uint64_t injected_nmis, nmi_windows;
    /* The entry's fast path, in guest TSC: the time limit, and the first
     * TSC at which a device event is due, valid while the devices'
     * deadlines are those of generation due_gen (vm_devices.gen). */
    uint64_t limit_tsc, due_tsc, due_gen;
    bool due_valid;
};

/* A port I/O exit, as the VMCS decodes it (SDM Vol. 3 27.2.1, table 27-5). */
struct vm_policy_io {
    struct vm_rec_exit_info x; /* tsc, rip, qualification, instruction length */
    uint16_t port;
    uint8_t size; /* 1, 2, 4 */
    bool in, string, rep;
    uint8_t addr_bits; /* string: address size 16, 32 or 64 */
    uint64_t gla;      /* string: linear address of the memory operand */
    uint32_t value;    /* OUT: the value written (from RAX); after the call: the
                          value the device access carried */
};

enum vm_policy_io_result {
    VM_POLICY_IO_DEVICE,    /* one device access made (the recorder recorded the exit) */
    VM_POLICY_IO_NO_ACCESS, /* no device access (REP with rCX = 0, #PF injected):
                               the caller records the exit like any other */
    VM_POLICY_IO_FATAL,     /* operand outside guest RAM: stop = VM_STOP_FATAL, caller
                               records the exit */
};

void vm_policy_init(struct vm_policy *p, const struct vm_policy_ops *ops, void *ctx,
                    struct vm_devices *dev, const struct vm_policy_config *cfg);

/* Before each VM entry: time limit, host input now and then, devices
 * brought up to date when some event is due, a pending NMI injected (or
 * the NMI window asked for), else an interrupt injected (or the interrupt
 * window asked for), the preemption timer armed for the next device
 * deadline. */
void vm_policy_prepare_entry(struct vm_policy *p);

/* A port I/O exit. */
enum vm_policy_io_result vm_policy_io(struct vm_policy *p, struct vm_policy_io *io);

/* HLT retired at guest TSC exit_tsc (the exit is recorded). An NMI
 * pending resumes the guest at once. IF=0: nothing else can wake the vCPU:
 * power-off. IF=1: an interrupt pending resumes the guest at once; else virtual time moves to the
 * next device deadline (capped by the time limit), or the VM stops idle when there is none. */
void vm_policy_halt(struct vm_policy *p, uint64_t exit_tsc);

/* Whether an entry at now_ns first brings the devices up to date: some
 * device event is due since the devices' last time (the policy's rule;
 * replay uses it to know the INTR level the decision saw). */
bool vm_policy_advance_due(struct vm_devices *d, uint64_t now_ns);

/* The smallest TSC value whose virtual time is at or after ns. */
uint64_t vm_policy_ns_to_tsc_ceil(uint64_t ns, uint64_t hz);

#endif
