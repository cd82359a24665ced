/* Recording the exit policy's inputs and outputs (docs/trace-format.md,
 * VmConfig.policy_records): the guest registers a port I/O exit's policy
 * read and wrote, its HLT decisions, the interruptibility behind an
 * IntrBlocked, and the preemption-timer deadlines it armed. VMX glue for
 * hv/vm.c, read straight from the VMCS; replay runs the same policy on
 * these inputs and compares the outputs (host-sim/replay_policy.c). */
#ifndef HVRR_VM_POLREC_H
#define HVRR_VM_POLREC_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

struct vm;
struct vm_policy_io;

struct vm_polrec {
    struct trace_dev_event ev; /* the PolicyIo record being filled */
    bool io_on;                /* this exit gets one */
    bool in;                   /* ... an IN / INS */
    bool retired;              /* the policy skipped the instruction */
    uint32_t fault;            /* #PF injected: error code + 1 */
    bool input;                /* an idle wait ended by host input */
    uint64_t armed;            /* last deadline recorded */
    bool armed_valid;
};

/* Around vm_policy_io(): registers before, then the record after. */
void vm_polrec_io_begin(struct vm *vm, const struct vm_policy_io *io);
void vm_polrec_io_end(struct vm *vm);
/* After vm_policy_halt() of the HLT exit at exit_tsc. */
void vm_polrec_halt(struct vm *vm, uint64_t rflags);
/* The policy armed the preemption timer for the entry at tsc. */
void vm_polrec_deadline(struct vm *vm, uint64_t tsc, uint64_t deadline);
/* An IntrBlocked decision at tsc, with the guest's interruptibility. */
void vm_polrec_blocked(struct vm *vm, uint64_t tsc);
/* An entry with an NMI pending that the guest could not take: IntrBlocked
 * with nmi set, the guest's RFLAGS and blocking (NMI's bit 3 too). */
void vm_polrec_nmi_blocked(struct vm *vm, uint64_t tsc);

#endif
