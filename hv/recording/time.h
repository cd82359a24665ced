/* Hiding recording time from the guest (docs/hypervisor.md, "Recording"):
 * a recorder call that compressed or sent a frame is recorder work the
 * guest would not have waited for without recording. Taking its duration
 * out of the guest TSC (lowering the offset, raising nothing) keeps the
 * guest's view of time the same with recording on or off; it stays
 * monotonic because all of it elapsed after the exit and after every TSC
 * the devices have seen. With hide_host_time the entry hides all hypervisor
 * time, this included: the call is only counted. */
#ifndef HVRR_HV_RECORDING_TIME_H
#define HVRR_HV_RECORDING_TIME_H

#include <stdbool.h>
#include <stdint.h>

struct vmx_vcpu;

struct rec_time {
    struct vmx_vcpu *vcpu; /* NULL: nothing to hide (no VM) */
    bool emitted;          /* a frame left the writer during the current call */
    uint64_t hidden;       /* TSC ticks of recorder work, this VM */
};

/* Around every recorder call; the trace sink sets t->emitted. */
uint64_t rec_time_begin(struct rec_time *t);
void rec_time_end(struct rec_time *t, uint64_t t0);

#endif
