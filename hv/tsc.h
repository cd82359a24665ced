/* TSC frequency and conversions between guest TSC and virtual nanoseconds. */
#ifndef HVRR_TSC_H
#define HVRR_TSC_H

#include <stdint.h>

/* Measures the TSC against the physical PIT (channel 2, gated through port
 * 0x61) and returns Hz. */
uint64_t tsc_calibrate(void);

/* TSC -> ns is vm_rec_tsc_to_ns() (hv/record/recorder.h): the one
 * conversion the hypervisor, the recorder and the replayer share; ns -> TSC
 * (rounded up) is vm_policy_ns_to_tsc_ceil() (hv/vm_policy.h). */

#endif
