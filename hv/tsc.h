/* TSC frequency and conversions between guest TSC and virtual nanoseconds. */
#ifndef HVRR_TSC_H
#define HVRR_TSC_H

#include <stdint.h>

/* Measures the TSC against the physical PIT (channel 2, gated through port
 * 0x61) and returns Hz. */
uint64_t tsc_calibrate(void);

/* ns = tsc * 1e9 / hz without 128-bit division (hz < 18 GHz). */
static inline uint64_t tsc_to_ns(uint64_t tsc, uint64_t hz)
{
    return tsc / hz * 1000000000ull + tsc % hz * 1000000000ull / hz;
}
/* Smallest tsc with tsc_to_ns(tsc) >= ns. */
static inline uint64_t ns_to_tsc_ceil(uint64_t ns, uint64_t hz)
{
    uint64_t q = ns / 1000000000ull, r = ns % 1000000000ull;
    uint64_t t = q * hz + (r * hz + 999999999ull) / 1000000000ull;
    return t;
}

#endif
