/* out 0x80 benchmark guest: 300000 exits. */
#define BENCH_N 300000
#include "bench_loop.inc"
