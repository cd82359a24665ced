/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift
 * generators"): a small deterministic generator, the same stream on every
 * machine, for the synthetic trace generators and the device fuzzer. The
 * state must not be 0. */
#ifndef HVRR_XORSHIFT_H
#define HVRR_XORSHIFT_H

#include <stdint.h>

static inline uint64_t xorshift64s(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

#endif
