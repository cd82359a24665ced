/* host-sim: replays a trace through the same device code (hv/devs) and the
 * same recording convention (hv/record/recorder.h), comparing every output
 * the trace recorded. docs/replay.md describes what is compared. Host only.
 *
 *   struct replay_opts o = {.out = stdout};
 *   struct replay_stats st;
 *   int rc = replay_file("boot.hvt", &o, &st);   // -1 unreadable, else 0
 *   st.divergences == 0 means the models did exactly what was recorded.
 */
#ifndef HVRR_HOSTSIM_REPLAY_H
#define HVRR_HOSTSIM_REPLAY_H

#include <stdio.h>

#include "hv/devs/vm_devices.h"
#include "trace/trace_reader.h"

/* The device-model entry points the replayer calls. replay_opts.devs NULL
 * means hv/devs itself (vm_devices_real_ops); tests point it at a mutated
 * copy of hv/devs (tests/mutants/, docs/mutants.md) linked beside the real
 * one under other symbol names. */
struct vm_devices_ops {
    void (*init)(struct vm_devices *d, const struct vm_devices_config *cfg,
                 const struct vm_devices_hooks *hooks, uint64_t now_ns);
    int (*restore)(struct vm_devices *d, const void *buf, size_t len);
    size_t (*save)(const struct vm_devices *d, void *buf, size_t cap);
    void (*advance)(struct vm_devices *d, uint64_t now_ns);
    int (*io)(struct vm_devices *d, uint16_t port, unsigned size, bool write, uint32_t *val,
              uint64_t now_ns);
    uint8_t (*ack)(struct vm_devices *d, uint64_t now_ns);
    size_t (*com1_rx)(struct vm_devices *d, const uint8_t *buf, size_t n, uint64_t now_ns);
    bool (*intr)(const struct vm_devices *d);
    void (*sync)(struct vm_devices *d); /* NULL: none (models that tick at every advance) */
    int (*mmio)(struct vm_devices *d, uint64_t gpa, unsigned size, bool write, uint32_t *val,
                uint64_t now_ns);
    int (*msr)(struct vm_devices *d, uint32_t msr, bool write, uint64_t *val, uint64_t now_ns);
    /* Per-vCPU forms (vm_devices.h); NULL: the vCPU 0 forms above, and a
     * trace of several vCPUs cannot be replayed. */
    bool (*intr_cpu)(const struct vm_devices *d, unsigned cpu);
    uint8_t (*ack_cpu)(struct vm_devices *d, unsigned cpu, uint64_t now_ns);
    int (*mmio_cpu)(struct vm_devices *d, unsigned cpu, uint64_t gpa, unsigned size, bool write,
                    uint32_t *val, uint64_t now_ns);
    int (*msr_cpu)(struct vm_devices *d, unsigned cpu, uint32_t msr, bool write, uint64_t *val,
                   uint64_t now_ns);
    uint32_t (*cpu_events)(const struct vm_devices *d, unsigned cpu);
    void (*cpu_events_take)(struct vm_devices *d, unsigned cpu, uint32_t bits);
    uint8_t (*sipi_vector)(const struct vm_devices *d, unsigned cpu);
    /* NMIs waiting for a vCPU; NULL: none (an NMI Inject record diverges) */
    bool (*nmi_cpu)(const struct vm_devices *d, unsigned cpu);
    void (*nmi_take_cpu)(struct vm_devices *d, unsigned cpu);
};
extern const struct vm_devices_ops vm_devices_real_ops;

struct replay_opts {
    uint64_t from;  /* compare from exit `from` on (earlier checkpoints restored) */
    uint64_t until; /* with has_until: stop after exit `until` */
    bool has_until;
    bool stop_at_first;
    unsigned max_reports; /* full divergence reports printed; 0 means 10 */
    FILE *out;            /* reports and summary; NULL: silent */
    FILE *err;            /* "cannot replay" errors; NULL: to out (or stderr if silent) */
    const struct vm_devices_ops *devs; /* NULL: hv/devs (test-only model variants) */
};

struct replay_stats {
    uint64_t records;          /* records read (damage reports excluded) */
    uint64_t exits;            /* exits replayed */
    uint64_t io_exits;         /* port accesses re-issued */
    uint64_t in_checked;       /* IN values compared */
    uint64_t mmio_exits;       /* APIC platform: MMIO accesses re-issued */
    uint64_t mmio_checked;     /* ... MMIO load values compared */
    uint64_t apic_msrs;        /* ... local APIC MSR accesses re-issued */
    uint64_t apic_msr_checked; /* ... their RDMSR values compared */
    uint64_t outputs;          /* IRQ/INTR/request outputs compared */
    uint64_t injects;          /* acknowledged vectors compared */
    uint64_t nmis;             /* NMIs injected (taken from the local APICs) */
    uint64_t rx;               /* UART RX records fed */
    uint64_t checkpoints;      /* checkpoints compared */
    uint64_t restored;        /* checkpoints restored (before --from, after damage or divergence) */
    uint64_t cpuid_checked;   /* CPUID answers compared (header has the host CPUID) */
    uint64_t msr_checked;     /* RDMSR values compared */
    uint64_t not_checked;     /* other CPUID/MSR/XSETBV/CR answers (no host CPUID in the
                                 header; XSETBV, CR, WRMSR, guest-register MSRs) */
    uint64_t other_exits;     /* exits without device work (HLT, preemption timer, EPT, ...) */
    uint64_t entries_checked; /* exit-policy entry decisions checked (header entry_decisions) */
    uint64_t cpu_starts;      /* CpuStart records checked against the local APICs' SIPIs */
    uint64_t switches;        /* consecutive exits of different vCPUs */
    uint64_t vcpu_exits[VM_DEVICES_MAX_CPUS]; /* exits replayed per vCPU */
    unsigned vcpus;                           /* vCPUs of the replayed platform */
    /* the exit policy run on the recorded inputs (header policy_records,
     * host-sim/replay_policy.h): entries, IN / string I/O exits, HLTs */
    uint64_t policy_entries, policy_io, policy_halts;
    uint64_t damage;        /* damage reports from the reader */
    uint64_t damage_offset; /* byte offset and frame of the first one */
    uint32_t damage_frame;
    uint64_t divergences;
    uint64_t first_record; /* record number of the first divergence */
    uint64_t first_seq;    /* exit of the first divergence (the last exit read) */
    bool header_seen, end_seen;
};
/* Divergence reports of a trace with several vCPUs name the vCPU of the
 * record ("..., vcpu 1"); CPUID/MSR answers, entry decisions, injections
 * and interrupt-request outputs are per vCPU; a CpuStart must match a SIPI
 * that vCPU's local APIC received (docs/replay.md, "Several vCPUs"). */

struct replayer;

/* Allocates a replayer; NULL on out of memory. */
struct replayer *replayer_new(const struct replay_opts *o);
void replayer_free(struct replayer *r);
/* One item from the trace reader. Returns 0 to go on, 1 when replay is
 * done (--until reached, --stop-at-first hit). */
int replayer_item(struct replayer *r, const struct trace_item *it);
/* End of input: leftover checks and the summary. */
void replayer_finish(struct replayer *r, struct replay_stats *st);

/* Whole file / whole buffer. Return 0 when the trace could be read (see
 * st->divergences), -1 (after printing why to o->out or stderr) if not. */
int replay_file(const char *path, const struct replay_opts *o, struct replay_stats *st);
int replay_buffer(const void *buf, size_t len, const struct replay_opts *o,
                  struct replay_stats *st);

#endif
