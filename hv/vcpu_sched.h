/* Which vCPU of a VM runs next on the one physical CPU (hv/vm.c): round
 * robin, deterministic, over the vCPUs that can run. Pure code, no VMX,
 * unit-tested on the host (tests/test_vcpu_sched.c).
 *
 * A vCPU can run when it is runnable, or halted with an interrupt pending
 * for it (the HLT ends). A vCPU waiting for a SIPI never runs. The running
 * vCPU keeps the CPU until it yields: its quantum ran out (VMX preemption
 * timer), it halted, or it spun (PAUSE exit). Then the search starts with
 * the vCPU after it and comes back to it last. */
#ifndef HVRR_VCPU_SCHED_H
#define HVRR_VCPU_SCHED_H

#include <stdbool.h>
#include <stdint.h>

/* Where a vCPU is in the VM's schedule. */
enum vcpu_run_state {
    VCPU_RUNNABLE = 0, /* runs when its turn comes */
    VCPU_IN_HLT,       /* HLT retired: runs again when an interrupt is pending for it */
    VCPU_WAIT_SIPI,    /* an AP before its start (or after INIT): runs only after a SIPI */
};

/* Can a vCPU in state `run` run, with `pending` an interrupt pending for it? */
static inline bool vcpu_sched_can_run(enum vcpu_run_state run, bool pending)
{
    return run == VCPU_RUNNABLE || (run == VCPU_IN_HLT && pending);
}

/* The next vCPU of n (1..32) to run after `cur`: cur itself if it can run
 * and does not yield, else the first that can run of cur+1, cur+2, ...,
 * wrapping, cur last. run[i] / pending[i]: vCPU i. -1: none can run (every
 * vCPU halted with nothing pending or waiting for a SIPI: virtual time
 * moves on to the next device event). */
int vcpu_sched_next(const enum vcpu_run_state *run, const bool *pending, unsigned n, unsigned cur,
                    bool cur_yields);

#endif
