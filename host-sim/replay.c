/* host-sim replayer (replay.h). Re-issues every recorded device call at its
 * recorded time and compares what the models answer with what was recorded:
 *  - outputs (IrqLine, IntrLine, DevRequest records) are queued as they are
 *    read; the outputs the models produce are matched against that queue in
 *    order, time included; what is still queued after the next input call
 *    (IO exit, Inject, UartRx) is missing;
 *  - IN values, acknowledged vectors;
 *  - device state at checkpoints, field by field (a recorded blob of an
 *    older layout is upgraded first: vm_devices_compare);
 *  - CPUID answers and RDMSR values, recomputed by the hypervisor's own
 *    vCPU policy (hv/vcpu_policy.h) from the header's host CPUID snapshot
 *    and the vCPU state the recorded XSETBV/WRMSR exits set;
 *  - the exit policy's entry decisions (hv/vm_policy.h), when the header
 *    says they are recorded: an Inject or IntrBlocked record only with INTR
 *    high, and one of them at every entry with INTR high.
 * Several vCPUs (header vcpus 2..4, APIC platform): each exit's device calls
 * go to its vCPU's local APIC, injections, interrupt-request outputs, entry
 * decisions and the CPUID/MSR policy are per vCPU, and a CpuStart record
 * must match the SIPI the models delivered to that vCPU.
 */
#include "host-sim/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "host-sim/devinfo.h"
#include "host-sim/replay_policy.h"
#include "hv/record/recorder.h"
#include "hv/vcpu_policy.h"
#include "hv/vm_policy.h"

#define QCAP 256

struct expect {
    enum trace_dev_kind kind;
    uint32_t a;    /* irq number / request */
    uint32_t vcpu; /* IntrLine: whose interrupt request */
    bool level;
    uint64_t ns;
    uint64_t record;
};

const struct vm_devices_ops vm_devices_real_ops = {
    .init = vm_devices_init,
    .restore = vm_devices_restore,
    .save = vm_devices_save,
    .advance = vm_devices_advance,
    .io = vm_devices_io,
    .ack = vm_devices_ack,
    .com1_rx = vm_devices_com1_rx,
    .intr = vm_devices_intr,
    .sync = vm_devices_sync,
    .mmio = vm_devices_mmio,
    .msr = vm_devices_msr,
    .intr_cpu = vm_devices_intr_cpu,
    .ack_cpu = vm_devices_ack_cpu,
    .mmio_cpu = vm_devices_mmio_cpu,
    .msr_cpu = vm_devices_msr_cpu,
    .cpu_events = vm_devices_cpu_events,
    .cpu_events_take = vm_devices_cpu_events_take,
    .sipi_vector = vm_devices_sipi_vector,
};

#define MAXV VM_DEVICES_MAX_CPUS

struct replayer {
    struct replay_opts o;
    const struct vm_devices_ops *ops;
    struct replay_stats st;
    struct vm_devices dev;
    uint64_t tsc_hz;
    uint64_t ns_per_tick;   /* 1e9 / tsc_hz when that is whole (Bochs: 20), else 0 */
    uint64_t rec;           /* number of the record being processed */
    uint64_t next_seq;      /* exit expected next */
    struct trace_exit last; /* last exit read (context for reports) */
    bool have_last;
    bool in_exit;       /* the record being processed is that exit */
    uint64_t end_exits; /* exits the End record counts */
    bool cannot_replay; /* the start state does not restore */
    bool header_lost;   /* records came after damage with no header before them */
    bool active;        /* comparing (from reached, not desynchronised) */
    bool desync;        /* after damage: compare again from the next checkpoint */
    bool done;
    bool adv_pending; /* outputs were read: advance to adv_tsc before the next call */
    uint64_t adv_tsc;
    const char *doing; /* what the current device call is, for reports */
    bool doing_io;     /* ... or the port access described by io/io_regs */
    struct trace_exit io;
    struct devinfo_regs io_regs; /* register-selecting state before the access */
    struct expect q[QCAP];
    unsigned qh, qn;
    uint8_t good[VM_DEVICES_SAVE_MAX]; /* last state known good */
    size_t good_len;
    uint64_t good_seq;
    uint8_t blob[VM_DEVICES_SAVE_MAX];
    struct vm_devices scratch[2]; /* checkpoint comparison: both states decoded */
    /* vCPU policy, when the header has the host CPU snapshot: one per vCPU */
    bool has_policy;
    struct vcpu_policy pol[MAXV];
    uint64_t tsc_written[MAXV]; /* guest TSC minus the trace's (virtual-time) TSC */
    struct trace_host_cpu host;
    struct trace_cpuid_leaf host_leaves[TRACE_HOST_CPUID_MAX];
    char doing_buf[96];
    /* exit policy decisions (header entry_decisions), per vCPU */
    bool decisions;
    bool entry_due[MAXV];    /* the vCPU's entry after its last exit has not been checked */
    bool decided[MAXV];      /* ... and it has its Inject / IntrBlocked record */
    bool apic;               /* header: MMIO and local APIC MSR exits are device calls */
    unsigned ncpus;          /* vCPUs of the platform (1 unless the header says more) */
    int cur_vcpu;            /* vCPU of the record being processed (reports), -1: none */
    bool waiting_told[MAXV]; /* an exit of the vCPU while waiting for a SIPI was reported */
    bool intr_per_vcpu;      /* header: IntrLine records are per vCPU (else vCPU 0's) */
    const char *cannot_why;  /* why the trace cannot be replayed at all */
    struct rpol rp;          /* the exit policy on the recorded inputs (header policy_records) */
};

static uint64_t ns_of(const struct replayer *r, uint64_t tsc)
{
    /* tsc = q hz + m: vm_rec_tsc_to_ns gives q 1e9 + m 1e9 / hz, which is
     * tsc * (1e9 / hz) when hz divides 1e9 (modulo 2^64 alike): one
     * multiplication instead of two divisions. */
    if (r->ns_per_tick)
        return tsc * r->ns_per_tick;
    return vm_rec_tsc_to_ns(tsc, r->tsc_hz);
}

static void remember_good(struct replayer *r, uint64_t seq)
{
    size_t n = r->ops->save(&r->dev, r->good, sizeof r->good);
    r->good_len = n;
    r->good_seq = seq;
}

/* ---- reporting ---- */

static bool report_begin(struct replayer *r)
{
    if (r->o.stop_at_first && r->st.divergences)
        return false; /* stopping: the first report stands alone */
    r->st.divergences++;
    if (r->st.divergences == 1) {
        r->st.first_record = r->rec;
        r->st.first_seq = r->have_last ? r->last.seq : 0;
    }
    if (r->o.stop_at_first)
        r->done = true;
    unsigned max = r->o.max_reports ? r->o.max_reports : 10;
    if (!r->o.out || r->st.divergences > max)
        return false;
    FILE *f = r->o.out;
    fprintf(f, "DIVERGENCE #%" PRIu64 " at record %" PRIu64, r->st.divergences, r->rec);
    if (r->have_last)
        fprintf(f, ", %s exit %" PRIu64 " %s rip 0x%" PRIx64, r->in_exit ? "in" : "after",
                r->last.seq, trace_exit_reason_name(r->last.reason), r->last.rip);
    else
        fprintf(f, ", before the first exit");
    if (r->ncpus > 1 && r->cur_vcpu >= 0)
        fprintf(f, ", vcpu %d", r->cur_vcpu);
    if (r->doing_io) {
        char reg[96];
        devinfo_port_regs(&r->io_regs, r->io.u.io.port, r->io.u.io.write, reg, sizeof reg);
        fprintf(f, "\n  during   %s %s, size %u\n", r->io.u.io.write ? "out to" : "in from", reg,
                r->io.u.io.size);
    } else {
        fprintf(f, "\n  during   %s\n", r->doing);
    }
    return true;
}

static void fmt_value(char *b, size_t n, uint64_t v)
{
    if (v < 10)
        snprintf(b, n, "%" PRIu64, v);
    else
        snprintf(b, n, "0x%" PRIx64, v);
}

/* The fields that changed since the last good checkpoint, with old and new
 * values (the first STATE_FIELDS of them). */
#define STATE_FIELDS 8
struct state_changes {
    char buf[640];
    size_t len;
    unsigned n;
};

static void state_changed(void *ctx, const char *path, uint64_t was, uint64_t now)
{
    struct state_changes *c = ctx;
    if (++c->n > STATE_FIELDS || c->len >= sizeof c->buf)
        return;
    char w[24], g[24];
    fmt_value(w, sizeof w, was);
    fmt_value(g, sizeof g, now);
    int k = snprintf(c->buf + c->len, sizeof c->buf - c->len, "%s%s %s -> %s", c->n > 1 ? ", " : "",
                     path, w, g);
    if (k > 0)
        c->len += (size_t)k;
}

static void report_state(struct replayer *r)
{
    size_t n = r->ops->save(&r->dev, r->blob, sizeof r->blob);
    struct state_changes c = {.len = 0};
    int nd = vm_devices_compare(r->good, r->good_len, r->blob, n, r->scratch, state_changed, &c);
    if (nd < 0) {
        char diff[512];
        devinfo_diff(r->good, r->good_len, r->blob, n, diff, sizeof diff);
        fprintf(r->o.out,
                "  state    sections changed since the last good checkpoint (exit %" PRIu64
                "): %s\n",
                r->good_seq, diff);
        return;
    }
    fprintf(r->o.out, "  state    changed since the last good checkpoint (exit %" PRIu64 "): %s",
            r->good_seq, nd ? c.buf : "nothing");
    if (nd > STATE_FIELDS)
        fprintf(r->o.out, " (%d more)", nd - STATE_FIELDS);
    fputc('\n', r->o.out);
}

static void fmt_expect(const struct replayer *r, const struct expect *e, char *b, size_t n)
{
    switch (e->kind) {
    case TRACE_DEV_IRQ_LINE:
        snprintf(b, n, "IRQ%u (%s) -> %s at %" PRIu64 " ns", e->a,
                 devinfo_irq_device(&r->dev, e->a), e->level ? "high" : "low", e->ns);
        break;
    case TRACE_DEV_INTR:
        if (r->ncpus > 1)
            snprintf(b, n, "vcpu %u interrupt request -> %s at %" PRIu64 " ns", e->vcpu,
                     e->level ? "high" : "low", e->ns);
        else
            snprintf(b, n, "pic INTR -> %s at %" PRIu64 " ns", e->level ? "high" : "low", e->ns);
        break;
    default: snprintf(b, n, "%s request at %" PRIu64 " ns", dev_request_name(e->a), e->ns); break;
    }
}

static const char *expect_device(const struct replayer *r, const struct expect *e)
{
    if (e->kind == TRACE_DEV_IRQ_LINE)
        return devinfo_irq_device(&r->dev, e->a);
    if (e->kind == TRACE_DEV_INTR)
        return "pic";
    return e->a == DEV_REQ_RESET ? "kbc/pci" : e->a == DEV_REQ_EXIT ? "debug-exit" : "platform";
}

static void report_output(struct replayer *r, const struct expect *want, const struct expect *got)
{
    if (!report_begin(r))
        return;
    char a[128], b[128];
    const struct expect *any = want ? want : got;
    fprintf(r->o.out, "  device   %s\n  register %s\n", expect_device(r, any),
            any->kind == TRACE_DEV_IRQ_LINE ? "PIC input pin"
            : any->kind == TRACE_DEV_INTR   ? "PIC INTR output"
                                            : "platform request");
    if (want)
        fmt_expect(r, want, a, sizeof a);
    else
        snprintf(a, sizeof a, "(no output)");
    if (got)
        fmt_expect(r, got, b, sizeof b);
    else
        snprintf(b, sizeof b, "(no output)");
    fprintf(r->o.out, "  expected %s", a);
    if (want)
        fprintf(r->o.out, " (record %" PRIu64 ")", want->record);
    fprintf(r->o.out, "\n  actual   %s\n", b);
    report_state(r);
}

/* ---- outputs ---- */

static void actual_output(struct replayer *r, enum trace_dev_kind kind, uint32_t a, bool level,
                          uint64_t now_ns, unsigned vcpu)
{
    if (!r->active)
        return;
    if (kind == TRACE_DEV_INTR && vcpu > 0 && !r->intr_per_vcpu)
        return; /* the trace records vCPU 0's request only: the APs' unchecked here */
    struct expect got = {
        .kind = kind, .a = a, .vcpu = vcpu, .level = level, .ns = now_ns, .record = r->rec};
    r->st.outputs++;
    if (!r->qn) {
        report_output(r, NULL, &got);
        return;
    }
    struct expect *want = &r->q[r->qh];
    r->qh = (r->qh + 1) % QCAP;
    r->qn--;
    if (want->kind != kind || want->a != a || want->vcpu != vcpu || want->level != level ||
        want->ns != now_ns)
        report_output(r, want, &got);
}

static void on_irq_line(void *ctx, unsigned irq, bool level, uint64_t now_ns)
{
    actual_output(ctx, TRACE_DEV_IRQ_LINE, irq, level, now_ns, 0);
}
/* Every vCPU's interrupt request (vCPU 0's is the PIC's INTR without the
 * APIC): IntrLine records carry the vCPU. */
static void on_intr_cpu(void *ctx, unsigned cpu, bool level, uint64_t now_ns)
{
    actual_output(ctx, TRACE_DEV_INTR, 0, level, now_ns, cpu);
}
static void on_request(void *ctx, enum dev_request what)
{
    struct replayer *r = ctx;
    actual_output(r, TRACE_DEV_REQUEST, (uint32_t)what, false, r->dev.now_ns, 0);
}

/* ---- per-vCPU device calls (the vCPU 0 forms if the ops lack them) ---- */

static bool dev_intr(struct replayer *r, unsigned cpu)
{
    return r->ops->intr_cpu ? r->ops->intr_cpu(&r->dev, cpu) : r->ops->intr(&r->dev);
}

static uint8_t dev_ack(struct replayer *r, unsigned cpu, uint64_t now_ns)
{
    return r->ops->ack_cpu ? r->ops->ack_cpu(&r->dev, cpu, now_ns) : r->ops->ack(&r->dev, now_ns);
}

static int dev_msr(struct replayer *r, unsigned cpu, uint32_t msr, bool write, uint64_t *val,
                   uint64_t now_ns)
{
    return r->ops->msr_cpu ? r->ops->msr_cpu(&r->dev, cpu, msr, write, val, now_ns)
                           : r->ops->msr(&r->dev, msr, write, val, now_ns);
}

/* vm_rec_mmio_calls() takes a vCPU-less device call: this one finds the
 * replayer around the devices and uses the vCPU of the exit in hand. */
static int mmio_cur_cpu(struct vm_devices *d, uint64_t gpa, unsigned size, bool write,
                        uint32_t *val, uint64_t now_ns)
{
    struct replayer *r = (struct replayer *)(void *)((char *)d - offsetof(struct replayer, dev));
    unsigned cpu = r->cur_vcpu > 0 ? (unsigned)r->cur_vcpu : 0;
    return r->ops->mmio_cpu ? r->ops->mmio_cpu(d, cpu, gpa, size, write, val, now_ns)
                            : r->ops->mmio(d, gpa, size, write, val, now_ns);
}

/* After an input call: whatever is still expected did not happen. */
static void check_missing(struct replayer *r)
{
    while (r->qn) {
        struct expect want = r->q[r->qh];
        r->qh = (r->qh + 1) % QCAP;
        r->qn--;
        if (r->active)
            report_output(r, &want, NULL);
    }
}

static void expect_output(struct replayer *r, const struct trace_dev_event *ev)
{
    if (!r->active)
        return;
    if (r->qn == QCAP) { /* nothing consumed them: report the oldest as missing */
        struct expect want = r->q[r->qh];
        r->qh = (r->qh + 1) % QCAP;
        r->qn--;
        report_output(r, &want, NULL);
    }
    struct expect *e = &r->q[(r->qh + r->qn++) % QCAP];
    e->kind = ev->kind;
    e->vcpu = ev->kind == TRACE_DEV_INTR && r->intr_per_vcpu ? ev->vcpu : 0;
    e->a = ev->kind == TRACE_DEV_IRQ_LINE  ? ev->u.irq.irq
           : ev->kind == TRACE_DEV_REQUEST ? ev->u.request.what
                                           : 0;
    e->level = ev->kind == TRACE_DEV_IRQ_LINE ? ev->u.irq.level
               : ev->kind == TRACE_DEV_INTR   ? ev->u.intr.level
                                              : false;
    e->ns = ns_of(r, ev->tsc);
    e->record = r->rec;
}

/* ---- records ---- */

static void set_active(struct replayer *r)
{
    r->active = !r->desync && r->next_seq >= r->o.from;
}

static void do_advance(struct replayer *r, uint64_t tsc);
static void flush_advance(struct replayer *r);

/* ---- the exit policy's own decisions (host-sim/replay_policy.h) ---- */

static void rp_advance(void *ctx, uint64_t tsc)
{
    struct replayer *r = ctx;
    const char *was = r->doing;
    bool was_io = r->doing_io;
    r->doing = "the exit policy's device advance";
    r->doing_io = false;
    if (r->adv_pending && r->adv_tsc <= tsc)
        flush_advance(r); /* the outputs recorded for it */
    if (ns_of(r, tsc) >= r->dev.now_ns)
        do_advance(r, tsc);
    r->doing = was;
    r->doing_io = was_io;
}

static bool rp_active(void *ctx)
{
    return ((struct replayer *)ctx)->active;
}

static void rp_report(void *ctx, const char *during, const char *reg, const char *expected,
                      const char *actual)
{
    struct replayer *r = ctx;
    const char *was = r->doing;
    bool was_io = r->doing_io, was_in = r->in_exit;
    int was_cpu = r->cur_vcpu;
    r->doing = during;
    r->doing_io = false;
    r->in_exit = false;               /* the policy's work after the last exit */
    r->cur_vcpu = (int)r->rp.pol.cpu; /* the vCPU the policy decided for */
    if (report_begin(r)) {
        fprintf(r->o.out,
                "  device   vm exit policy (hv/vm_policy.c, on the recorded inputs)\n"
                "  register %s\n  expected %s\n  actual   %s\n",
                reg, expected, actual);
        report_state(r);
    }
    r->doing = was;
    r->doing_io = was_io;
    r->in_exit = was_in;
    r->cur_vcpu = was_cpu;
}

static void policy_start(struct replayer *r, const struct trace_header *h)
{
    const struct rpol_host host = {
        .ctx = r, .dev = &r->dev, .advance = rp_advance, .active = rp_active, .report = rp_report};
    rpol_init(&r->rp, h, r->ops == &vm_devices_real_ops, &host);
}

static void start_devices(struct replayer *r, const struct trace_header *h)
{
    struct vm_devices_config dc = {0};
    for (size_t i = 0; i < h->ndevices; i++)
        if (h->devices[i].name && !strcmp(h->devices[i].name, "com1")) {
            dc.com1_base = h->devices[i].port_base;
            dc.com1_irq = h->devices[i].irq > 0 ? (uint8_t)h->devices[i].irq : 0;
        }
    /* isa-debug-exit is on the bus only when the recorded VM had it. */
    for (size_t i = 0; i < h->ndevices; i++)
        if (h->devices[i].name && !strcmp(h->devices[i].name, "debug-exit") &&
            h->devices[i].port_base == DEBUGEXIT_PORT)
            dc.debug_exit = true;
    r->tsc_hz = h->tsc_hz ? h->tsc_hz : 1000000000ull;
    r->ns_per_tick = r->tsc_hz <= 1000000000ull && 1000000000ull % r->tsc_hz == 0
                         ? 1000000000ull / r->tsc_hz
                         : 0;
    r->apic = h->apic;
    r->intr_per_vcpu = h->intr_per_vcpu;
    dc.apic = h->apic;
    dc.tsc_hz = h->apic ? r->tsc_hz : 0; /* the TSC-deadline timer runs on the trace's TSC */
    dc.cpus = h->vcpus;
    const struct vm_devices_hooks hooks = {
        .irq_line = on_irq_line, .intr_cpu = on_intr_cpu, .request = on_request, .ctx = r};
    r->ops->init(&r->dev, &dc, NULL, 0);
    r->ncpus = r->dev.ncpus ? r->dev.ncpus : 1;
    r->cur_vcpu = -1;
    if (h->vcpus > 1 && !r->ops->intr_cpu) {
        r->cannot_why = "these device models have no per-vCPU entry points";
    } else if (h->vcpus > 1 && !h->apic) {
        r->cannot_why = "several vCPUs without the APIC platform (VmConfig.apic) is no platform "
                        "hvrr builds";
    } else if (h->vcpus > VM_DEVICES_MAX_CPUS) {
        r->cannot_why = "more vCPUs than the device models support (VM_DEVICES_MAX_CPUS)";
    } else if (h->has_start && r->ops->restore(&r->dev, h->start.devices, h->start.devices_len)) {
        /* Not a divergence: these models cannot even start where the trace
         * starts (e.g. a saved-state layout changed since the capture). */
        r->cannot_why = "its start state does not restore into these device models "
                        "(saved-state layout or version, or vCPU count, changed since the "
                        "capture)";
    }
    if (r->cannot_why) {
        r->cannot_replay = true;
        r->done = true;
    }
    r->dev.hooks = hooks;
    r->has_policy = h->host_cpu.nleaves > 0 && h->host_cpu.nleaves <= TRACE_HOST_CPUID_MAX;
    if (r->has_policy) {
        r->host = h->host_cpu;
        memcpy(r->host_leaves, h->host_cpu.leaves, h->host_cpu.nleaves * sizeof r->host_leaves[0]);
        r->host.leaves = r->host_leaves;
        for (unsigned i = 0; i < MAXV; i++) {
            vcpu_policy_init(&r->pol[i], &r->host, r->tsc_hz);
            r->pol[i].apic_id = (uint8_t)i; /* CPUID.01H:EBX[31:24], as the hv answers */
        }
    }
    remember_good(r, 0);
    policy_start(r, h);
    r->decisions = h->entry_decisions;
    for (unsigned i = 0; i < MAXV; i++) {
        r->entry_due[i] = i == 0; /* the BSP's first entry, before exit 0 */
        r->decided[i] = false;
        r->waiting_told[i] = false;
    }
    r->st.vcpus = r->ncpus;
}

static void do_advance(struct replayer *r, uint64_t tsc)
{
    r->ops->advance(&r->dev, ns_of(r, tsc));
}

/* Outputs of one device call share its TSC and are all recorded before the
 * next record of another kind; advance once they are all queued. */
static void flush_advance(struct replayer *r)
{
    if (!r->adv_pending)
        return;
    r->adv_pending = false;
    const char *was = r->doing;
    bool was_io = r->doing_io;
    r->doing = "advancing time to recorded outputs";
    r->doing_io = false;
    do_advance(r, r->adv_tsc);
    r->doing = was;
    r->doing_io = was_io;
}

static void exit_io(struct replayer *r, const struct trace_exit *e)
{
    r->doing_io = true;
    r->io = *e;
    devinfo_regs_get(&r->dev, &r->io_regs);
    r->st.io_exits++;
    uint32_t val = e->u.io.write ? e->u.io.value : 0;
    r->ops->io(&r->dev, e->u.io.port, e->u.io.size, e->u.io.write, &val, ns_of(r, e->tsc));
    val &= dev_size_mask(e->u.io.size);
    if (!e->u.io.write && r->active) {
        r->st.in_checked++;
        if (val != e->u.io.value && report_begin(r)) {
            char reg[96];
            devinfo_port_regs(&r->io_regs, e->u.io.port, false, reg, sizeof reg);
            fprintf(r->o.out,
                    "  device   %s\n  register %s\n  expected 0x%0*x\n  actual   0x%0*x\n",
                    devinfo_port_device(&r->dev, e->u.io.port), reg, 2 * e->u.io.size,
                    e->u.io.value, 2 * e->u.io.size, val);
            report_state(r);
        }
    }
    check_missing(r);
    r->doing_io = false;
}

/* An MMIO access of the APIC platform (vm_rec_mmio's convention: an
 * 8-byte access is two 4-byte ones, low half first). */
static void exit_mmio(struct replayer *r, const struct trace_exit *e)
{
    unsigned size = e->u.ept.size;
    bool write = (e->u.ept.access & TRACE_EPT_WRITE) != 0;
    snprintf(r->doing_buf, sizeof r->doing_buf, "MMIO %s gpa 0x%" PRIx64 ", size %u",
             write ? "store to" : "load from", e->u.ept.gpa, size);
    r->doing = r->doing_buf;
    r->st.mmio_exits++;
    uint64_t got = vm_rec_mmio_calls(mmio_cur_cpu, &r->dev, e->u.ept.gpa, size, write,
                                     e->u.ept.value, ns_of(r, e->tsc));
    if (!write && r->active) {
        r->st.mmio_checked++;
        if (got != e->u.ept.value && report_begin(r)) {
            fprintf(r->o.out,
                    "  device   %s\n  register offset 0x%03" PRIx64 "\n  expected 0x%0*" PRIx64
                    "\n  actual   0x%0*" PRIx64 "\n",
                    (e->u.ept.gpa & ~0xfffull) == IOAPIC_DEFAULT_BASE ? "ioapic" : "lapic",
                    e->u.ept.gpa & 0xfffu, (int)(2 * size), e->u.ept.value, (int)(2 * size), got);
            report_state(r);
        }
    }
    check_missing(r);
}

/* RDMSR/WRMSR of a local APIC MSR: a device call (vm_rec_msr). */
static void exit_dev_msr(struct replayer *r, const struct trace_exit *e)
{
    snprintf(r->doing_buf, sizeof r->doing_buf, "%s 0x%x", e->u.msr.write ? "WRMSR" : "RDMSR",
             e->u.msr.index);
    r->doing = r->doing_buf;
    r->st.apic_msrs++;
    uint64_t v = e->u.msr.write ? e->u.msr.value : 0;
    int rc = dev_msr(r, e->vcpu, e->u.msr.index, e->u.msr.write, &v, ns_of(r, e->tsc));
    if (!e->u.msr.write && r->active) {
        r->st.apic_msr_checked++;
        if (rc != 0)
            v = 0; /* #GP: recorded as 0 */
        if (v != e->u.msr.value && report_begin(r)) {
            fprintf(r->o.out,
                    "  device   lapic\n  register MSR 0x%x\n  expected 0x%016" PRIx64
                    "\n  actual   0x%016" PRIx64 "%s\n",
                    e->u.msr.index, e->u.msr.value, v, rc ? " (#GP)" : "");
            report_state(r);
        }
    }
    check_missing(r);
}

/* ---- vCPU answers ---- */

static void exit_cpuid(struct replayer *r, const struct trace_exit *e)
{
    uint32_t want[4] = {e->u.cpuid.eax, e->u.cpuid.ebx, e->u.cpuid.ecx, e->u.cpuid.edx};
    uint32_t got[4];
    /* CR4.OSXSAVE is guest-owned (no exit when it changes), so the trace
     * cannot tell it: CPUID.1:ECX[27] is taken from the recorded answer. */
    struct vcpu_policy *pol = &r->pol[e->vcpu];
    pol->osxsave = e->u.cpuid.leaf == 1 && (e->u.cpuid.ecx & (1u << 27));
    vcpu_policy_cpuid(pol, e->u.cpuid.leaf, e->u.cpuid.subleaf, got);
    if (!r->active)
        return;
    r->st.cpuid_checked++;
    if (!memcmp(want, got, sizeof want))
        return;
    snprintf(r->doing_buf, sizeof r->doing_buf, "CPUID leaf 0x%x subleaf 0x%x", e->u.cpuid.leaf,
             e->u.cpuid.subleaf);
    r->doing = r->doing_buf;
    if (!report_begin(r))
        return;
    static const char *const name[] = {"EAX", "EBX", "ECX", "EDX"};
    fprintf(r->o.out, "  device   vcpu (CPUID policy, host CPUID from the header)\n  register");
    for (int i = 0; i < 4; i++)
        if (want[i] != got[i])
            fprintf(r->o.out, " %s", name[i]);
    fprintf(r->o.out, "\n  expected 0x%08x 0x%08x 0x%08x 0x%08x (EAX EBX ECX EDX)\n", want[0],
            want[1], want[2], want[3]);
    fprintf(r->o.out, "  actual   0x%08x 0x%08x 0x%08x 0x%08x\n", got[0], got[1], got[2], got[3]);
}

/* Returns whether the answer was compared. */
static bool exit_msr(struct replayer *r, const struct trace_exit *e)
{
    if (e->u.msr.write) {
        /* The outcome (#GP or not) is not recorded: the policy decides it
         * again and keeps its state as the hypervisor did. */
        vcpu_policy_wrmsr(&r->pol[e->vcpu], e->u.msr.index, e->u.msr.value);
        if (e->u.msr.index == 0x10) /* the guest's TSC = virtual-time TSC + this */
            r->tsc_written[e->vcpu] = e->u.msr.value - e->tsc;
        return false;
    }
    uint64_t got = 0;
    enum vcpu_msr_result res =
        vcpu_policy_rdmsr(&r->pol[e->vcpu], e->u.msr.index, e->tsc + r->tsc_written[e->vcpu], &got);
    if (res == VCPU_MSR_GUEST_REG || !r->active)
        return false; /* guest register state (PAT, EFER, bases): not in the trace */
    r->st.msr_checked++;
    /* A RDMSR that raised #GP is recorded with value 0. */
    if (e->u.msr.value == got)
        return true;
    snprintf(r->doing_buf, sizeof r->doing_buf, "RDMSR 0x%x", e->u.msr.index);
    r->doing = r->doing_buf;
    if (report_begin(r)) {
        fprintf(r->o.out, "  device   vcpu (MSR policy)\n  register MSR 0x%x\n", e->u.msr.index);
        fprintf(r->o.out, "  expected 0x%016" PRIx64 "\n", e->u.msr.value);
        if (res == VCPU_MSR_GP)
            fprintf(r->o.out, "  actual   #GP (recorded as 0)\n");
        else
            fprintf(r->o.out, "  actual   0x%016" PRIx64 "\n", got);
    }
    return true;
}

/* Returns whether the exit's answer was checked. */
static bool exit_vcpu(struct replayer *r, const struct trace_exit *e)
{
    if (!r->has_policy)
        return false;
    switch (e->detail) {
    case TRACE_DETAIL_CPUID: exit_cpuid(r, e); return r->active;
    case TRACE_DETAIL_MSR: return exit_msr(r, e);
    case TRACE_DETAIL_XSETBV:
        /* #UD when CR4.OSXSAVE is clear is not recorded; a guest that
         * executes XSETBV has set it. */
        vcpu_policy_xsetbv(&r->pol[e->vcpu], e->u.xsetbv.xcr, e->u.xsetbv.value);
        return false;
    default: return false;
    }
}

/* ---- exit policy decisions ---- */

static void report_decision(struct replayer *r, const char *expected, const char *actual)
{
    if (!report_begin(r))
        return;
    fprintf(r->o.out,
            "  device   vm exit policy (hv/vm_policy.c)\n"
            "  register interrupt decision at the VM entry\n"
            "  expected %s\n  actual   %s\n",
            expected, actual);
    report_state(r);
}

/* An Inject or IntrBlocked record: the policy decided with INTR high
 * (intr: intr_at_decision()). Reported after the
 * record's own device comparisons, so a model that lost INTR is named
 * first. */
static void entry_decision(struct replayer *r, unsigned cpu, bool intr, const char *what)
{
    if (!r->decisions)
        return;
    r->decided[cpu] = true;
    if (!r->active)
        return;
    r->st.entries_checked++;
    if (!intr)
        report_decision(r, "no interrupt decision (PIC INTR low at this entry)", what);
}

/* Exit e follows an entry of its vCPU that left no decision record: that
 * vCPU's interrupt request must have been low then. Outputs still pending
 * with an earlier TSC than e's came from the entry's own device advance.
 * (vCPUs multiplexed on one CPU: the entry just before an exit of a vCPU
 * is that vCPU's, made after the previous exit record.) */
static void check_undecided_entry(struct replayer *r, const struct trace_exit *e)
{
    unsigned v = e->vcpu;
    bool due = r->decisions && r->entry_due[v] && !r->decided[v];
    r->entry_due[v] = true;
    r->decided[v] = false;
    if (!due)
        return;
    if (r->adv_pending) {
        if (r->adv_tsc == e->tsc)
            return; /* the entry's outputs and this exit's cannot be told apart */
        flush_advance(r);
    }
    if (!r->active)
        return;
    r->st.entries_checked++;
    if (!dev_intr(r, v))
        return;
    const char *was = r->doing;
    bool was_io = r->doing_io;
    r->doing = "the VM entry after this exit";
    r->doing_io = false;
    report_decision(r,
                    "an injection (or IntrBlocked: the guest could not take it): PIC INTR "
                    "high at the entry",
                    "the guest entered with nothing injected");
    r->doing = was;
    r->doing_io = was_io;
}

/* A record names a vCPU the platform does not have (a header of fewer
 * vCPUs, or none): nothing to replay it on. */
static void no_such_vcpu(struct replayer *r, uint32_t vcpu, const char *what)
{
    r->doing = "a record of a vCPU the replayed platform lacks";
    r->doing_io = false;
    if (!r->active || !report_begin(r))
        return;
    fprintf(r->o.out,
            "  device   vcpu %" PRIu32 "\n  register vCPU index\n  expected %s of vCPU 0..%u\n"
            "  actual   %s of vCPU %" PRIu32 "\n",
            vcpu, what, r->ncpus - 1, what, vcpu);
}

static void on_exit_rec(struct replayer *r, const struct trace_exit *e)
{
    if (r->o.has_until && e->seq > r->o.until) {
        r->qn = 0; /* outputs of calls beyond --until are not ours to check */
        r->done = true;
        return;
    }
    r->next_seq = e->seq;
    set_active(r);
    r->cur_vcpu = (int)e->vcpu;
    if (e->vcpu >= r->ncpus) {
        flush_advance(r);
        r->last = *e;
        r->have_last = true;
        r->next_seq = e->seq + 1;
        r->st.exits++;
        r->st.other_exits++;
        no_such_vcpu(r, e->vcpu, "an exit");
        return;
    }
    rpol_exit_begin(&r->rp, e);
    check_undecided_entry(r, e);
    flush_advance(r);
    if (vm_devices_cpu_waiting(&r->dev, e->vcpu) && !r->waiting_told[e->vcpu]) {
        /* A vCPU in wait-for-SIPI does not run: the models lost (or never
         * got) the SIPI the hypervisor acted on. Told once per wait. */
        r->waiting_told[e->vcpu] = true;
        r->doing = "an exit of a vCPU the models have waiting for a SIPI";
        r->doing_io = false;
        if (r->active && report_begin(r)) {
            fprintf(r->o.out,
                    "  device   lapic (vcpu %" PRIu32 ")\n  register INIT/SIPI state\n"
                    "  expected vcpu %" PRIu32 " started by a SIPI (it runs)\n"
                    "  actual   waiting for a SIPI\n",
                    e->vcpu, e->vcpu);
            report_state(r);
        }
    } else if (!vm_devices_cpu_waiting(&r->dev, e->vcpu)) {
        r->waiting_told[e->vcpu] = false;
    }
    if (r->have_last && r->last.vcpu != e->vcpu)
        r->st.switches++;
    r->last = *e;
    r->have_last = true;
    r->next_seq = e->seq + 1;
    r->st.exits++;
    r->st.vcpu_exits[e->vcpu]++;
    if (e->reason == TRACE_EXIT_IO_INSTRUCTION && e->detail == TRACE_DETAIL_IO) {
        exit_io(r, e);
    } else if (r->apic && e->detail == TRACE_DETAIL_EPT && e->u.ept.size) {
        exit_mmio(r, e);
    } else if (r->apic && e->detail == TRACE_DETAIL_MSR && lapic_msr_owned(e->u.msr.index)) {
        exit_dev_msr(r, e);
    } else if (e->detail == TRACE_DETAIL_CPUID || e->detail == TRACE_DETAIL_MSR ||
               e->detail == TRACE_DETAIL_XSETBV || e->detail == TRACE_DETAIL_CR) {
        if (!exit_vcpu(r, e))
            r->st.not_checked++;
    } else {
        r->st.other_exits++;
    }
    set_active(r);
    rpol_exit_end(&r->rp, e);
}

/* The PIC's INTR as the exit policy saw it deciding at the entry whose
 * Inject / IntrBlocked record ev is: after the entry's own advance when an
 * event was due (the policy's rule), else before the outputs at ev's TSC
 * (those of the acknowledge's own advance). */
static bool intr_at_decision(struct replayer *r, const struct trace_dev_event *ev)
{
    if (r->adv_pending && r->adv_tsc != ev->tsc)
        flush_advance(r); /* earlier calls' outputs */
    if (vm_policy_advance_due(&r->dev, ns_of(r, ev->tsc))) {
        flush_advance(r);
        /* A trace of several vCPUs without intr_per_vcpu lacks the APs'
         * interrupt-request outputs, so an entry's advance that fired an
         * AP's timer left no record: advance when due (an approximation: a
         * device deadline that changed no output may make replay's time run
         * ahead of the recording's at a checkpoint). */
        if (r->ncpus > 1 && !r->intr_per_vcpu)
            do_advance(r, ev->tsc);
    }
    return dev_intr(r, ev->vcpu);
}

/* CpuStart: the hypervisor started vCPU n at a SIPI; the models' local APIC
 * of n must have received one with that vector since the last start. The
 * core events are taken as the hypervisor takes them (both, at the start). */
static void cpu_start(struct replayer *r, const struct trace_dev_event *ev)
{
    unsigned n = ev->u.cpu_start.vcpu;
    r->cur_vcpu = (int)n;
    if (n >= r->ncpus) {
        no_such_vcpu(r, n, "a CpuStart");
        return;
    }
    r->doing = "start of a vCPU at a SIPI (CpuStart)";
    uint32_t evs = r->ops->cpu_events ? r->ops->cpu_events(&r->dev, n) : 0;
    uint8_t vec = r->ops->sipi_vector ? r->ops->sipi_vector(&r->dev, n) : 0;
    if (r->ops->cpu_events_take)
        r->ops->cpu_events_take(&r->dev, n, VM_CPU_EV_INIT | VM_CPU_EV_SIPI);
    r->entry_due[n] = true; /* its first entry */
    r->decided[n] = false;
    if (!r->active)
        return;
    r->st.cpu_starts++;
    bool sipi = evs & VM_CPU_EV_SIPI;
    if (sipi && vec == ev->u.cpu_start.vector)
        return;
    if (!report_begin(r))
        return;
    fprintf(r->o.out, "  device   lapic (vcpu %u)\n  register INIT/SIPI state\n", n);
    fprintf(r->o.out, "  expected a SIPI with vector 0x%02x\n", ev->u.cpu_start.vector);
    if (sipi)
        fprintf(r->o.out, "  actual   a SIPI with vector 0x%02x\n", vec);
    else
        fprintf(r->o.out, "  actual   no SIPI received%s\n",
                evs & VM_CPU_EV_INIT ? " (INIT received)" : "");
    report_state(r);
}

static void on_dev(struct replayer *r, const struct trace_dev_event *ev)
{
    set_active(r);
    bool per_vcpu = ev->kind == TRACE_DEV_INJECT || ev->kind == TRACE_DEV_INTR_BLOCKED ||
                    (ev->kind == TRACE_DEV_INTR && r->intr_per_vcpu);
    r->cur_vcpu = per_vcpu ? (int)ev->vcpu : -1;
    if (per_vcpu && ev->vcpu >= r->ncpus) {
        flush_advance(r);
        no_such_vcpu(r, ev->vcpu, trace_dev_kind_name(ev->kind));
        return;
    }
    rpol_dev(&r->rp, ev);
    bool intr = (ev->kind == TRACE_DEV_INJECT || ev->kind == TRACE_DEV_INTR_BLOCKED) &&
                r->decisions && intr_at_decision(r, ev);
    if (ev->kind != TRACE_DEV_IRQ_LINE && ev->kind != TRACE_DEV_INTR &&
        ev->kind != TRACE_DEV_REQUEST)
        flush_advance(r);
    switch (ev->kind) {
    case TRACE_DEV_IRQ_LINE:
    case TRACE_DEV_INTR:
    case TRACE_DEV_REQUEST:
        if (r->adv_pending && r->adv_tsc != ev->tsc)
            flush_advance(r);
        expect_output(r, ev);
        r->adv_pending = true;
        r->adv_tsc = ev->tsc;
        return;
    case TRACE_DEV_INJECT: {
        r->doing = "interrupt acknowledge (vector injection)";
        uint8_t vec = dev_ack(r, ev->vcpu, ns_of(r, ev->tsc));
        if (r->active) {
            r->st.injects++;
            if (vec != ev->u.inject.vector && report_begin(r)) {
                fprintf(r->o.out,
                        "  device   pic\n  register INTA vector\n  expected 0x%02x\n"
                        "  actual   0x%02x\n",
                        ev->u.inject.vector, vec);
                report_state(r);
            }
        }
        check_missing(r);
        entry_decision(r, ev->vcpu, intr, "an injection");
        break;
    }
    case TRACE_DEV_UART_RX:
        r->doing = "host bytes into the UART";
        r->st.rx++;
        r->ops->com1_rx(&r->dev, ev->u.uart_rx.data, ev->u.uart_rx.len, ns_of(r, ev->tsc));
        check_missing(r);
        break;
    case TRACE_DEV_INTR_BLOCKED:
        r->doing = "VM entry with the interrupt blocked";
        entry_decision(r, ev->vcpu, intr, "IntrBlocked (interrupt window asked for)");
        break;
    case TRACE_DEV_CPU_START: cpu_start(r, ev); break;
    default: break; /* TimerEdge: informational */
    }
}

/* Checkpoint comparison, field by field (vm_devices_compare): the recorded
 * blob may be of an older layout than the models write now. */
#define FIELD_LINES 16
struct field_report {
    FILE *out;
    unsigned n;
};

static void field_differs(void *ctx, const char *path, uint64_t want, uint64_t got)
{
    struct field_report *f = ctx;
    if (++f->n > FIELD_LINES || !f->out)
        return;
    char w[24], g[24];
    fmt_value(w, sizeof w, want);
    fmt_value(g, sizeof g, got);
    fprintf(f->out, "  field    %s expected %s actual %s\n", path, w, g);
}

static void on_checkpoint(struct replayer *r, const struct trace_checkpoint *c)
{
    set_active(r);
    rpol_flush(&r->rp, false);
    flush_advance(r);
    r->doing = "checkpoint";
    r->cur_vcpu = -1;
    do_advance(r, c->tsc);
    if (r->ops->sync)
        r->ops->sync(&r->dev);
    check_missing(r);
    if (r->active) {
        size_t n = r->ops->save(&r->dev, r->blob, sizeof r->blob);
        r->st.checkpoints++;
        bool same = n == c->devices_len && memcmp(r->blob, c->devices, n) == 0;
        if (!same) /* another layout, or a real difference */
            same = vm_devices_compare(c->devices, c->devices_len, r->blob, n, r->scratch, NULL,
                                      NULL) == 0;
        if (same) {
            memcpy(r->good, r->blob, n);
            r->good_len = n;
            r->good_seq = c->seq;
            return;
        }
        if (report_begin(r)) {
            struct field_report fr = {r->o.out, 0};
            fprintf(r->o.out, "  device   state at checkpoint before exit %" PRIu64 "\n", c->seq);
            int nd = vm_devices_compare(c->devices, c->devices_len, r->blob, n, r->scratch,
                                        field_differs, &fr);
            if (nd < 0) { /* the recorded blob does not decode: say where bytes differ */
                char diff[512];
                devinfo_diff(c->devices, c->devices_len, r->blob, n, diff, sizeof diff);
                fprintf(r->o.out,
                        "  recorded state does not decode; sections that differ: %s\n"
                        "  expected %zu bytes of recorded state\n  actual   %zu bytes\n",
                        diff, c->devices_len, n);
            } else if (nd > FIELD_LINES) {
                fprintf(r->o.out, "  (%d fields differ, %d more not shown)\n", nd,
                        nd - FIELD_LINES);
            }
            report_state(r);
        }
    }
    /* Resynchronise on the recorded state: later reports stand on their own. */
    if (r->ops->restore(&r->dev, c->devices, c->devices_len) == 0) {
        if (!r->active)
            r->st.restored++;
        r->desync = false;
        remember_good(r, c->seq);
    }
    set_active(r);
}

int replayer_item(struct replayer *r, const struct trace_item *it)
{
    if (r->done)
        return 1;
    r->in_exit = it->type == TRACE_ITEM_EXIT;
    if (it->type == TRACE_ITEM_DAMAGE) {
        if (!r->st.damage++) {
            r->st.damage_offset = it->u.damage.offset;
            r->st.damage_frame = it->frame;
        }
        r->adv_pending = false;
        r->desync = true;
        r->qn = 0;
        rpol_reset(&r->rp);
        set_active(r);
        if (r->o.out)
            fprintf(r->o.out,
                    "damage at byte %" PRIu64 " (frame %u): %s: %s (comparisons resume at the "
                    "next checkpoint)\n",
                    it->u.damage.offset, it->frame, trace_damage_kind_name(it->u.damage.kind),
                    it->u.damage.msg);
        return 0;
    }
    if (!r->st.header_seen && r->st.damage && it->type != TRACE_ITEM_HEADER) {
        /* Records after lost damage but no header: the clock rate, wiring
         * and start state are unknown; comparing would only report noise. */
        r->header_lost = true;
        r->done = true;
        return 1;
    }
    switch (it->type) {
    case TRACE_ITEM_HEADER:
        r->st.header_seen = true;
        start_devices(r, &it->u.header);
        break;
    case TRACE_ITEM_EXIT: on_exit_rec(r, &it->u.exit); break;
    case TRACE_ITEM_DEV: on_dev(r, &it->u.dev); break;
    case TRACE_ITEM_CHECKPOINT: on_checkpoint(r, &it->u.checkpoint); break;
    case TRACE_ITEM_END:
        r->st.end_seen = true;
        r->end_exits = it->u.end.exits;
        rpol_flush(&r->rp, true);
        flush_advance(r);
        r->doing = "end of trace";
        check_missing(r);
        break;
    default: break;
    }
    if (!r->done)
        r->rec++;
    r->st.records = r->rec;
    return r->done ? 1 : 0;
}

struct replayer *replayer_new(const struct replay_opts *o)
{
    struct replayer *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->o = *o;
    r->ops = o->devs ? o->devs : &vm_devices_real_ops;
    r->doing = "start";
    /* A trace without a header replays from the power-on state at 1 GHz. */
    struct trace_header none = {0};
    start_devices(r, &none);
    set_active(r);
    return r;
}

void replayer_free(struct replayer *r)
{
    free(r);
}

void replayer_finish(struct replayer *r, struct replay_stats *st)
{
    if (!r->done) {
        flush_advance(r);
        r->doing = "end of input";
        check_missing(r);
    }
    r->st.policy_entries = r->rp.entries_checked;
    r->st.policy_io = r->rp.io_checked;
    r->st.policy_halts = r->rp.halts_checked;
    FILE *f = r->o.out;
    if (f) {
        const struct replay_stats *s = &r->st;
        unsigned max = r->o.max_reports ? r->o.max_reports : 10;
        if (s->divergences > max)
            fprintf(f, "(%" PRIu64 " more divergences not shown)\n", s->divergences - max);
        fprintf(f,
                "replayed %" PRIu64 " records, %" PRIu64 " exits: %" PRIu64
                " port accesses (%" PRIu64 " IN values compared), %" PRIu64 " outputs, %" PRIu64
                " injected vectors, %" PRIu64 " checkpoints compared; %" PRIu64
                " UART RX fed, %" PRIu64 " checkpoints restored\n",
                s->records, s->exits, s->io_exits, s->in_checked, s->outputs, s->injects,
                s->checkpoints, s->rx, s->restored);
        if (r->ncpus > 1) {
            fprintf(f, "vcpus: %u; exits", r->ncpus);
            for (unsigned i = 0; i < r->ncpus; i++)
                fprintf(f, "%s vcpu %u %" PRIu64, i ? "," : "", i, s->vcpu_exits[i]);
            fprintf(f, "; %" PRIu64 " switches; %" PRIu64 " vCPU starts checked\n", s->switches,
                    s->cpu_starts);
        }
        if (r->apic)
            fprintf(f,
                    "apic: %" PRIu64 " MMIO accesses (%" PRIu64 " loads compared), %" PRIu64
                    " local APIC MSR accesses (%" PRIu64 " RDMSR values compared)\n",
                    s->mmio_exits, s->mmio_checked, s->apic_msrs, s->apic_msr_checked);
        if (r->decisions)
            fprintf(f,
                    "exit policy: %" PRIu64
                    " entry decisions checked (injection or IntrBlocked with PIC INTR high, none "
                    "with it low)\n",
                    s->entries_checked);
        if (r->rp.on)
            fprintf(f,
                    "exit policy on the recorded inputs: %" PRIu64 " entries, %" PRIu64
                    " IN/string I/O exits, %" PRIu64 " HLTs compared\n",
                    s->policy_entries, s->policy_io, s->policy_halts);
        if (r->rp.on && r->ncpus > 1) {
            fprintf(f, "exit policy per vCPU: entries");
            for (unsigned i = 0; i < r->ncpus && i < RPOL_MAX_CPUS; i++)
                fprintf(f, "%s vcpu %u %" PRIu64, i ? "," : "", i, r->rp.entries_cpu[i]);
            fprintf(f, "\n");
        }
        if (r->has_policy)
            fprintf(f,
                    "vcpu: %" PRIu64 " CPUID answers, %" PRIu64
                    " RDMSR values compared (vCPU policy on the header's host CPUID)\n",
                    s->cpuid_checked, s->msr_checked);
        fprintf(f,
                "not checked: %" PRIu64 " CPUID/MSR/XSETBV/CR answers (%s), %" PRIu64
                " other exits without device work\n",
                s->not_checked,
                r->has_policy ? "XSETBV, CR, WRMSR, guest-register MSRs"
                              : "no host CPUID in the header",
                s->other_exits);
        if (!s->header_seen)
            fprintf(f, "warning: no header (replayed from the power-on state)\n");
        if (!s->end_seen && !r->done)
            fprintf(f, "warning: trace has no end record (incomplete capture)\n");
        if (s->damage)
            fprintf(f, "damage: %" PRIu64 " report(s)\n", s->damage);
        if (s->end_seen && !r->done && !s->damage && r->end_exits != r->next_seq)
            fprintf(f,
                    "warning: the end record counts %" PRIu64 " exits, the trace holds %" PRIu64
                    "\n",
                    r->end_exits, r->next_seq);
        if (s->divergences)
            fprintf(f,
                    "result: %" PRIu64 " divergence(s), first at record %" PRIu64 " (exit %" PRIu64
                    ")\n",
                    s->divergences, s->first_record, s->first_seq);
        else
            fprintf(f, "result: 0 divergences\n");
    }
    if (st)
        *st = r->st;
}

static int run(struct replayer *r, FILE *f, const void *buf, size_t len, struct replay_stats *st,
               const char *name)
{
    struct trace_reader *rd = trace_reader_new();
    if (!rd)
        return -1;
    if (buf) {
        if (trace_reader_feed(rd, buf, len) < 0) {
            trace_reader_free(rd);
            return -1;
        }
        trace_reader_eof(rd);
    }
    int ret = 0;
    struct trace_item it;
    for (;;) {
        int rc = trace_reader_next(rd, &it);
        if (rc == TRACE_R_ITEM) {
            if (replayer_item(r, &it))
                break;
        } else if (rc == TRACE_R_MORE && f) {
            if (r->o.out)
                fflush(r->o.out); /* reports stream while the input trickles in */
            if (trace_reader_read_file(rd, f) < 0) {
                ret = -1;
                break;
            }
        } else if (rc == TRACE_R_END) {
            break;
        } else {
            ret = -1;
            break;
        }
    }
    FILE *ef = r->o.err ? r->o.err : r->o.out ? r->o.out : stderr;
    if (ret) {
        fprintf(ef, "hvrr replay: '%s': %s\n", name, trace_reader_error(rd));
    }
    trace_reader_free(rd);
    if (!ret && r->header_lost) {
        fprintf(ef,
                "hvrr replay: '%s': cannot replay: the header is lost (damage at byte %" PRIu64
                ", frame %u, before any header): clock rate, device wiring and start state "
                "unknown; nothing compared\n",
                name, r->st.damage_offset, r->st.damage_frame);
        ret = -1;
    }
    if (!ret && !r->st.header_seen && !r->st.records) {
        fprintf(ef, "hvrr replay: '%s': no trace records\n", name);
        ret = -1;
    }
    if (!ret && r->cannot_replay) {
        fprintf(ef, "hvrr replay: '%s': cannot replay: %s; nothing compared\n", name,
                r->cannot_why ? r->cannot_why : "unknown");
        ret = -1;
    }
    if (!ret)
        replayer_finish(r, st);
    return ret;
}

int replay_file(const char *path, const struct replay_opts *o, struct replay_stats *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(o->err   ? o->err
                : o->out ? o->out
                         : stderr,
                "hvrr replay: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    struct replayer *r = replayer_new(o);
    int ret = r ? run(r, f, NULL, 0, st, path) : -1;
    replayer_free(r);
    fclose(f);
    return ret;
}

int replay_buffer(const void *buf, size_t len, const struct replay_opts *o, struct replay_stats *st)
{
    struct replayer *r = replayer_new(o);
    int ret = r ? run(r, NULL, buf, len, st, "(buffer)") : -1;
    replayer_free(r);
    return ret;
}
