/* TSC frequency and conversions between guest TSC and virtual nanoseconds. */
#ifndef HVRR_TSC_H
#define HVRR_TSC_H

#include <stdint.h>

/* Measures the TSC against the physical PIT (channel 2, gated through port
 * 0x61) and returns Hz. */
uint64_t tsc_calibrate(void);

/* TSC -> ns is vm_rec_tsc_to_ns() (hv/record/recorder.h): the one
 * conversion the hypervisor, the recorder and the replayer share.
 * Smallest tsc with vm_rec_tsc_to_ns(tsc) >= ns. */
static inline uint64_t ns_to_tsc_ceil(uint64_t ns, uint64_t hz)
{
    uint64_t q = ns / 1000000000ull, r = ns % 1000000000ull;
    uint64_t t = q * hz + (r * hz + 999999999ull) / 1000000000ull;
    return t;
}

#endif
