/* Deterministic synthetic "Linux-like" trace for tests, benchmarks and
 * `hvrr synth` (host only). The mix follows what Linux 6.1 does on the
 * legacy devices: console output dominates (per character an LSR poll and a THR write, IER
 * save/restore around each line), a 250 Hz PIT tick costs a preemption-timer
 * or HLT exit, timer/IRQ/INTR/inject device events and 3-4 PIC port exits,
 * occasional PIT latch reads, idle stretches in HLT, UART input with its
 * interrupt, and a boot prologue with CPUID, MSR, CR, XSETBV and EPT exits.
 */
#ifndef HVRR_TRACE_SYNTH_H
#define HVRR_TRACE_SYNTH_H

#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

struct trace_synth_config {
    uint64_t seed;             /* 0 means 1 */
    uint64_t exits;            /* stop after this many exits */
    uint32_t tsc_jitter;       /* cycles of uniform noise per exit; 0 means none */
    uint64_t checkpoint_every; /* exits between checkpoints; 0: none */
};

#define TRACE_SYNTH_DEFAULT_JITTER 64
#define TRACE_SYNTH_TSC_HZ         3000000000ull
#define TRACE_SYNTH_BLOB_LEN       1024
#define TRACE_SYNTH_QUEUE          2048

/* One generated record: type is TRACE_ITEM_EXIT, _DEV or _CHECKPOINT. */
struct trace_synth_item {
    enum trace_item_type type;
    union {
        struct trace_exit exit;
        struct trace_dev_event dev;
        struct trace_checkpoint checkpoint;
    } u;
};

struct trace_synth {
    struct trace_synth_config cfg;
    uint64_t rng;
    uint64_t tsc, next_tick, seq, exits_made;
    uint64_t next_checkpoint;
    uint32_t ticks, lines;
    bool prologue_done;
    struct trace_synth_item q[TRACE_SYNTH_QUEUE];
    unsigned qhead, qlen;
    uint8_t blob[TRACE_SYNTH_BLOB_LEN];
    uint8_t rx[32];
};

void trace_synth_init(struct trace_synth *s, const struct trace_synth_config *cfg);
/* The header the synthetic capture carries (static strings and devices). */
void trace_synth_header(struct trace_synth *s, struct trace_header *h);
/* Next record; false once cfg.exits exits were produced. Pointers in the
 * item stay valid until the next call. */
bool trace_synth_next(struct trace_synth *s, struct trace_synth_item *it);
/* Header, all records and the end record into w. Returns 0 or the writer's
 * error. */
int trace_synth_write(struct trace_writer *w, const struct trace_synth_config *cfg);

#endif
