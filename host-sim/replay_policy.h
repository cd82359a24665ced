/* Replay of the exit policy's decisions (docs/replay.md, "The exit policy
 * itself"): with the header's policy_records flag, the replayer runs
 * hv/vm_policy.c itself, on an operations table fed by the recorded inputs
 * (the guest registers of PolicyIo records, RFLAGS and blocking of Halt and
 * IntrBlocked records, the trace's TSCs) and the replayed devices, and
 * compares what it decides with what the trace recorded: the registers an
 * IN or a string I/O exit leaves, whether the instruction retired or a #PF
 * was injected, the HLT outcome and wake-up TSC, the injection / interrupt
 * window at each entry, and the preemption-timer deadline armed.
 *
 * Host only; used by host-sim/replay.c through the hooks below. */
#ifndef HVRR_HOSTSIM_REPLAY_POLICY_H
#define HVRR_HOSTSIM_REPLAY_POLICY_H

#include "hv/vm_policy.h"
#include "trace/trace.h"

/* What the replayer gives the policy check. */
struct rpol_host {
    void *ctx;
    struct vm_devices *dev;
    /* bring the replayed devices to tsc (pending recorded outputs first) */
    void (*advance)(void *ctx, uint64_t tsc);
    /* comparing now (not before --from, not after damage) */
    bool (*active)(void *ctx);
    /* a divergence: during / register / expected / actual */
    void (*report)(void *ctx, const char *during, const char *reg, const char *expected,
                   const char *actual);
};

#define RPOL_MAX_CPUS 4

struct rpol {
    bool on;  /* header policy_records */
    bool smp; /* several vCPUs: entries per vCPU, no Halt records */
    struct rpol_host h;
    struct vm_policy pol;
    /* the entry after the last exit */
    enum { RPOL_NONE, RPOL_PENDING, RPOL_RAN } entry;
    bool halt_wait; /* an HLT exit waits for its Halt record */
    uint64_t entry_tsc;
    bool saw_inject, saw_blocked, saw_deadline;
    uint64_t blocked_rflags;
    uint32_t blocked_blocking;
    /* what the policy did at the entry */
    bool did_inject, did_blocked, did_window, did_arm;
    uint64_t did_deadline;
    uint64_t armed; /* last recorded deadline */
    bool armed_valid;
    /* the exit being checked (PolicyIo / Halt) */
    struct trace_exit exit;
    const struct trace_dev_event *rec;
    uint64_t regs[8], cur_tsc;
    unsigned nbytes;
    uint8_t bytes[4];
    bool io_called, retired;
    uint32_t fault;
    char msg[2][160];
    /* counts */
    uint64_t entries_checked, io_checked, halts_checked;
    uint64_t entries_cpu[RPOL_MAX_CPUS]; /* entries checked per vCPU */
};

/* Header: on when h->policy_records and the models are hv/devs (real).
 * With several vCPUs the one policy runs each entry on the vCPU of the
 * entry's first record (Inject, IntrBlocked, Deadline) or of the exit that
 * follows it, as the hypervisor's one policy does with vm_policy.cpu;
 * reports name that vCPU (vm_policy.cpu). */
void rpol_init(struct rpol *p, const struct trace_header *h, bool real_models,
               const struct rpol_host *host);
/* An exit record arrives (before the replayer handles it) / was handled. */
void rpol_exit_begin(struct rpol *p, const struct trace_exit *e);
void rpol_exit_end(struct rpol *p, const struct trace_exit *e);
/* A device event arrives, before the replayer handles it. */
void rpol_dev(struct rpol *p, const struct trace_dev_event *ev);
/* A checkpoint or the end: the entry in progress is complete. */
void rpol_flush(struct rpol *p, bool end);
/* Damage: forget the entry in progress. */
void rpol_reset(struct rpol *p);

#endif
