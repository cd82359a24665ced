/* Baseline for the out 0x80 benchmark: same guest, no loop. */
#define BENCH_N 0
#include "bench_loop.inc"
