/* A synthetic SMP capture (hvrr synth --vcpus N): a scripted guest of 2..4
 * vCPUs on the APIC platform, run through the real device models (hv/devs)
 * and written with the recording convention of hv/record/recorder.h for
 * several vCPUs (docs/trace-format.md, "Several vCPUs"), so replay, stats,
 * dump and the Perfetto export have a multi-vCPU trace to work on before a
 * real capture exists. Deterministic: a function of the config.
 *
 * The script follows Linux 6.1's SMP bring-up and steady state: the BSP sets
 * up its local APIC and the I/O APIC (PIT on pin 2 to the BSP), wakes each
 * AP with INIT assert, INIT de-assert, SIPI, SIPI (the hypervisor's CpuStart
 * after the first SIPI), every AP reads IA32_APIC_BASE and starts its
 * periodic local APIC timer; COM1's THRE interrupt goes through the I/O
 * APIC to vCPU 1 (logical flat destination). Then the vCPUs share one CPU
 * round-robin (preemption-timer quantum, HLT when idle) doing console
 * output, reschedule IPIs (fixed, physical), call-function IPIs
 * (all-but-self), lowest-priority IPIs to the APs (logical), local APIC
 * reads, each taking and EOIing its own interrupts (a request arriving
 * inside a handler, IF = 0, is an IntrBlocked entry). Host only. */
#ifndef HVRR_SMP_SYNTH_H
#define HVRR_SMP_SYNTH_H

#include "trace/trace_writer.h"

struct smp_synth_config {
    unsigned vcpus;            /* 2..VM_DEVICES_MAX_CPUS */
    uint64_t seed;             /* 0 means 1 */
    uint64_t exits;            /* stop after about this many exits */
    uint64_t checkpoint_every; /* exits between checkpoints; 0: none */
};

/* Header, records and end record into w. Returns 0, a negative trace
 * writer error, or 1 for a bad config. */
int smp_synth_write(struct trace_writer *w, const struct smp_synth_config *cfg);

#endif
