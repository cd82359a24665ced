/* The exit policy replayed on its recorded inputs (replay_policy.h). */
#include "host-sim/replay_policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool active(struct rpol *p)
{
    return p->h.active(p->h.ctx);
}

static void report(struct rpol *p, const char *during, const char *reg)
{
    p->h.report(p->h.ctx, during, reg, p->msg[0], p->msg[1]);
}

/* ---- the policy's operations on the recorded vCPU ---- */

static uint64_t op_reg(void *ctx, unsigned r)
{
    struct rpol *p = ctx;
    return r < 8 ? p->regs[r] : 0;
}

static void op_set_reg(void *ctx, unsigned r, uint64_t val)
{
    struct rpol *p = ctx;
    if (r < 8)
        p->regs[r] = val;
}

static uint64_t op_rflags(void *ctx)
{
    struct rpol *p = ctx;
    if (p->rec && p->rec->kind == TRACE_DEV_POLICY_IO)
        return p->rec->u.pio.rflags;
    if (p->rec && p->rec->kind == TRACE_DEV_HALT)
        return p->rec->u.halt.rflags;
    if (p->saw_blocked)
        return p->blocked_rflags;
    return VM_POLICY_RFLAGS_IF | 2; /* an injection: the guest could take it */
}

/* An entry's interruptibility: false exactly when it left an IntrBlocked
 * record (an entry with neither record had INTR low and never asks). */
static bool op_interruptible(void *ctx)
{
    struct rpol *p = ctx;
    return !p->saw_blocked;
}

static void op_inject_extint(void *ctx, uint8_t vector)
{
    (void)vector;
    ((struct rpol *)ctx)->did_inject = true;
}

static void op_inject_pf(void *ctx, uint64_t cr2, uint32_t err)
{
    (void)cr2;
    ((struct rpol *)ctx)->fault = err + 1;
}

static void op_set_intr_window(void *ctx, bool on)
{
    ((struct rpol *)ctx)->did_window = on;
}

static void op_skip_insn(void *ctx)
{
    ((struct rpol *)ctx)->retired = true;
}

/* The operand bytes: a #PF where the recording had one, else the bytes the
 * recorded access moved (an OUTS reads the value the trace says it wrote). */
static enum vm_policy_map op_map_operand(void *ctx, uint64_t la, bool write, uint8_t **b,
                                         uint32_t *pf_err)
{
    (void)la;
    (void)write;
    struct rpol *p = ctx;
    if (p->rec->u.pio.fault) {
        *pf_err = p->rec->u.pio.fault - 1;
        return VM_POLICY_MAP_PF;
    }
    *b = &p->bytes[p->nbytes++ & 3];
    return VM_POLICY_MAP_OK;
}

static uint64_t op_tsc_now(void *ctx)
{
    return ((struct rpol *)ctx)->cur_tsc;
}

static void op_skip_tsc(void *ctx, uint64_t delta)
{
    ((struct rpol *)ctx)->cur_tsc += delta;
}

static void op_arm_timer(void *ctx, uint64_t tsc)
{
    struct rpol *p = ctx;
    p->did_arm = true;
    p->did_deadline = tsc;
}

/* Host input ended an idle wait when the recording says so. */
static bool op_idle_wait(void *ctx, uint64_t deadline)
{
    (void)deadline;
    struct rpol *p = ctx;
    return p->rec && p->rec->kind == TRACE_DEV_HALT && p->rec->u.halt.input;
}

/* The device access of a port I/O exit: the replayer re-issues it from the
 * exit record; here it is only checked that the policy makes it as
 * recorded, and the recorded value is returned. */
static uint32_t op_io(void *ctx, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                      bool write, uint32_t value)
{
    (void)x;
    struct rpol *p = ctx;
    p->io_called = true;
    const struct trace_exit *e = &p->exit;
    if (e->detail != TRACE_DETAIL_IO) {
        if (active(p)) {
            snprintf(p->msg[0], sizeof p->msg[0], "no device access (nothing moved)");
            snprintf(p->msg[1], sizeof p->msg[1], "%s port 0x%x, size %u",
                     write ? "out to" : "in from", port, size);
            report(p, "string port I/O", "device access");
        }
        return 0;
    }
    if (active(p) && (e->u.io.port != port || e->u.io.size != size || e->u.io.write != write ||
                      (write && e->u.io.value != value))) {
        snprintf(p->msg[0], sizeof p->msg[0], "%s port 0x%x, size %u, value 0x%x",
                 e->u.io.write ? "out to" : "in from", e->u.io.port, e->u.io.size, e->u.io.value);
        snprintf(p->msg[1], sizeof p->msg[1], "%s port 0x%x, size %u, value 0x%x",
                 write ? "out to" : "in from", port, size, value);
        report(p, "port I/O", "device access");
    }
    return e->u.io.value;
}

static void op_advance(void *ctx, uint64_t tsc)
{
    struct rpol *p = ctx;
    p->h.advance(p->h.ctx, tsc);
}

static uint8_t op_ack(void *ctx, uint64_t tsc)
{
    (void)tsc;
    ((struct rpol *)ctx)->did_inject = true;
    return 0; /* the replayer acknowledges at the Inject record */
}

static void op_blocked(void *ctx, uint64_t tsc)
{
    (void)tsc;
    ((struct rpol *)ctx)->did_blocked = true;
}

static const struct vm_policy_ops rpol_ops = {
    .reg = op_reg,
    .set_reg = op_set_reg,
    .rflags = op_rflags,
    .interruptible = op_interruptible,
    .inject_extint = op_inject_extint,
    .inject_pf = op_inject_pf,
    .set_intr_window = op_set_intr_window,
    .skip_insn = op_skip_insn,
    .map_operand = op_map_operand,
    .tsc_now = op_tsc_now,
    .skip_tsc = op_skip_tsc,
    .arm_timer = op_arm_timer,
    .idle_wait = op_idle_wait,
    .io = op_io,
    .advance = op_advance,
    .ack = op_ack,
    .blocked = op_blocked,
};

void rpol_init(struct rpol *p, const struct trace_header *h, bool real_models,
               const struct rpol_host *host)
{
    memset(p, 0, sizeof *p);
    p->on = h->policy_records && real_models;
    /* Several vCPUs: one policy whose vCPU is the entry's (as the
     * hypervisor's), HLT decided by its scheduler (no Halt records). */
    p->smp = h->vcpus > 1;
    p->h = *host;
    const struct vm_policy_config cfg = {.tsc_hz = h->tsc_hz ? h->tsc_hz : 1000000000ull,
                                         .time_limit_ns = h->time_limit_ns};
    vm_policy_init(&p->pol, &rpol_ops, p, host->dev, &cfg);
    p->entry = RPOL_PENDING; /* the first entry, before exit 0 */
    p->entry_tsc = h->has_start ? h->start.tsc : 0;
}

void rpol_reset(struct rpol *p)
{
    p->entry = RPOL_NONE;
    p->halt_wait = false;
    p->armed_valid = false;
}

static void fmt_deadline(char *b, size_t n, uint64_t tsc)
{
    if (tsc == UINT64_MAX)
        snprintf(b, n, "no preemption-timer deadline");
    else
        snprintf(b, n, "preemption timer at TSC %" PRIu64, tsc);
}

/* Runs vm_policy_prepare_entry for the pending entry, on vCPU cpu (the
 * vCPU of its first record or of the exit after it). */
static void entry_run(struct rpol *p, uint32_t cpu)
{
    p->pol.cpu = cpu;
    p->entry = RPOL_RAN;
    p->rec = NULL;
    p->did_inject = p->did_blocked = p->did_window = p->did_arm = false;
    p->cur_tsc = p->entry_tsc;
    p->pol.stop = VM_RUNNING;
    vm_policy_prepare_entry(&p->pol);
}

static const char *decision_name(bool inject, bool blocked)
{
    return inject    ? "an injection"
           : blocked ? "IntrBlocked (interrupt window asked for)"
                     : "no interrupt decision";
}

/* The entry's records are all in: compare. */
static void entry_close(struct rpol *p)
{
    if (p->entry != RPOL_RAN) {
        p->entry = RPOL_NONE;
        return;
    }
    p->entry = RPOL_NONE;
    if (!active(p))
        return;
    p->entries_checked++;
    if (p->pol.cpu < RPOL_MAX_CPUS)
        p->entries_cpu[p->pol.cpu]++;
    if (p->pol.stop != VM_RUNNING) {
        snprintf(p->msg[0], sizeof p->msg[0], "the VM entered");
        snprintf(p->msg[1], sizeof p->msg[1], "the policy stopped the VM (%s)",
                 vm_stop_name(p->pol.stop));
        report(p, "the exit policy at a VM entry", "stop");
        p->pol.stop = VM_RUNNING;
        return;
    }
    if (p->did_inject != p->saw_inject || p->did_blocked != p->saw_blocked) {
        snprintf(p->msg[0], sizeof p->msg[0], "%s", decision_name(p->saw_inject, p->saw_blocked));
        snprintf(p->msg[1], sizeof p->msg[1], "%s", decision_name(p->did_inject, p->did_blocked));
        report(p, "the exit policy at a VM entry", "interrupt decision");
    } else if (p->did_window != p->saw_blocked) {
        snprintf(p->msg[0], sizeof p->msg[0], "interrupt window %s",
                 p->saw_blocked ? "asked for" : "off");
        snprintf(p->msg[1], sizeof p->msg[1], "interrupt window %s",
                 p->did_window ? "asked for" : "off");
        report(p, "the exit policy at a VM entry", "interrupt-window exiting");
    }
    if (!p->armed_valid || !p->did_arm || p->did_deadline == p->armed)
        return;
    fmt_deadline(p->msg[0], sizeof p->msg[0], p->armed);
    fmt_deadline(p->msg[1], sizeof p->msg[1], p->did_deadline);
    report(p, "the exit policy at a VM entry", "preemption-timer deadline");
}

/* The entry in progress is complete (its records are all in). With several
 * vCPUs a pending entry's vCPU is that of the next exit: at a checkpoint
 * it stays pending until then (an entry that advanced the devices or
 * decided left a record, so it ran at that record). */
static void flush_entry(struct rpol *p, bool run, uint32_t cpu)
{
    if (p->entry == RPOL_PENDING && run)
        entry_run(p, cpu);
    if (p->entry == RPOL_RAN)
        entry_close(p);
    else if (!(p->entry == RPOL_PENDING && p->smp))
        p->entry = RPOL_NONE;
}

void rpol_flush(struct rpol *p, bool end)
{
    if (!p->on)
        return;
    flush_entry(p, !end && !p->smp, 0);
    if (end)
        p->entry = RPOL_NONE;
}

void rpol_exit_begin(struct rpol *p, const struct trace_exit *e)
{
    (void)e;
    if (!p->on)
        return;
    if (p->halt_wait && active(p)) {
        snprintf(p->msg[0], sizeof p->msg[0], "a Halt record after the HLT exit");
        snprintf(p->msg[1], sizeof p->msg[1], "another exit");
        report(p, "HLT", "policy record");
    }
    p->halt_wait = false;
    flush_entry(p, true, e->vcpu);
}

void rpol_exit_end(struct rpol *p, const struct trace_exit *e)
{
    if (!p->on)
        return;
    p->exit = *e;
    p->pol.cpu = e->vcpu; /* the PolicyIo / Halt records that follow are its */
    p->saw_inject = p->saw_blocked = p->saw_deadline = false;
    if (e->reason == TRACE_EXIT_HLT && !p->smp) {
        p->halt_wait = true;
        p->entry = RPOL_NONE;
        return;
    }
    p->entry = RPOL_PENDING;
    p->entry_tsc = e->tsc;
}

/* ---- PolicyIo: the port I/O exit's register effects ---- */

static void io_check(struct rpol *p, const struct trace_dev_event *ev)
{
    const struct trace_exit *e = &p->exit;
    if (e->reason != TRACE_EXIT_IO_INSTRUCTION)
        return;
    /* the exit qualification (SDM vol. 3, table 28-5) */
    struct vm_policy_io io = {.x = {.tsc = e->tsc, .rip = e->rip, .qual = e->qual},
                              .port = (uint16_t)(e->qual >> 16),
                              .size = (uint8_t)((e->qual & 7) + 1),
                              .in = (e->qual >> 3) & 1,
                              .string = (e->qual >> 4) & 1,
                              .rep = (e->qual >> 5) & 1,
                              .addr_bits = (uint8_t)ev->u.pio.addr_bits,
                              .gla = ev->u.pio.gla};
    if (io.size != 1 && io.size != 2 && io.size != 4) {
        /* a crafted qualification (the VMCS encodes 1, 2, 4 only): the
         * policy must not see it (its operand bytes are four) */
        if (active(p)) {
            snprintf(p->msg[0], sizeof p->msg[0], "an access size of 1, 2 or 4");
            snprintf(p->msg[1], sizeof p->msg[1], "size %u (qualification 0x%" PRIx64 ")", io.size,
                     e->qual);
            report(p, "port I/O", "exit qualification");
        }
        return;
    }
    if (e->detail == TRACE_DETAIL_IO && !io.in)
        io.value = e->u.io.value;
    memset(p->regs, 0, sizeof p->regs);
    p->regs[VM_POLICY_RAX] = ev->u.pio.rax;
    p->regs[VM_POLICY_RCX] = ev->u.pio.rcx;
    p->regs[io.in ? VM_POLICY_RDI : VM_POLICY_RSI] = ev->u.pio.index;
    uint32_t v = e->detail == TRACE_DETAIL_IO ? e->u.io.value : 0;
    for (unsigned i = 0; i < 4; i++)
        p->bytes[i] = (uint8_t)(v >> (8 * i));
    p->nbytes = 0;
    p->io_called = p->retired = false;
    p->fault = 0;
    p->rec = ev;
    vm_policy_io(&p->pol, &io);
    p->rec = NULL;
    p->pol.stop = VM_RUNNING;
    if (!active(p))
        return;
    p->io_checked++;
    const char *during = io.string ? "string port I/O" : "port I/O";
    if (e->detail == TRACE_DETAIL_IO && !p->io_called) {
        snprintf(p->msg[0], sizeof p->msg[0], "a device access (port 0x%x)", e->u.io.port);
        snprintf(p->msg[1], sizeof p->msg[1], "none");
        report(p, during, "device access");
    }
    if (!io.string) {
        if (p->regs[VM_POLICY_RAX] != ev->u.pio.rax_after) {
            snprintf(p->msg[0], sizeof p->msg[0], "0x%016" PRIx64 " (before 0x%016" PRIx64 ")",
                     ev->u.pio.rax_after, ev->u.pio.rax);
            snprintf(p->msg[1], sizeof p->msg[1], "0x%016" PRIx64, p->regs[VM_POLICY_RAX]);
            report(p, during, "RAX after IN");
        }
    } else {
        unsigned idx = io.in ? VM_POLICY_RDI : VM_POLICY_RSI;
        if (p->regs[VM_POLICY_RCX] != ev->u.pio.rcx_after ||
            p->regs[idx] != ev->u.pio.index_after) {
            snprintf(p->msg[0], sizeof p->msg[0],
                     "RCX 0x%" PRIx64 " %s 0x%" PRIx64 " (before 0x%" PRIx64 " 0x%" PRIx64 ")",
                     ev->u.pio.rcx_after, io.in ? "RDI" : "RSI", ev->u.pio.index_after,
                     ev->u.pio.rcx, ev->u.pio.index);
            snprintf(p->msg[1], sizeof p->msg[1], "RCX 0x%" PRIx64 " %s 0x%" PRIx64,
                     p->regs[VM_POLICY_RCX], io.in ? "RDI" : "RSI", p->regs[idx]);
            report(p, during, "registers after INS/OUTS");
        }
    }
    if (p->retired != ev->u.pio.retired || p->fault != ev->u.pio.fault) {
        snprintf(p->msg[0], sizeof p->msg[0], "%s%s", ev->u.pio.retired ? "retired" : "re-executed",
                 ev->u.pio.fault ? ", #PF injected" : "");
        snprintf(p->msg[1], sizeof p->msg[1], "%s%s", p->retired ? "retired" : "re-executed",
                 p->fault ? ", #PF injected" : "");
        report(p, during, "instruction outcome");
    }
}

/* ---- Halt: the HLT decision ---- */

static void halt_check(struct rpol *p, const struct trace_dev_event *ev)
{
    p->halt_wait = false;
    const struct trace_exit *e = &p->exit;
    p->rec = ev;
    p->cur_tsc = e->tsc;
    p->pol.stop = VM_RUNNING;
    vm_policy_halt(&p->pol, e->tsc);
    p->rec = NULL;
    uint32_t stop =
        p->pol.stop == VM_STOP_POWEROFF || p->pol.stop == VM_STOP_IDLE ? (uint32_t)p->pol.stop : 0;
    p->pol.stop = VM_RUNNING;
    if (active(p)) {
        p->halts_checked++;
        if (stop != ev->u.halt.stop || (!stop && p->cur_tsc != ev->tsc)) {
            static const char *const what[] = {[0] = "resume", [1] = "power-off", [4] = "idle"};
            snprintf(p->msg[0], sizeof p->msg[0], "%s at TSC %" PRIu64,
                     what[ev->u.halt.stop <= 4 ? ev->u.halt.stop : 0], ev->tsc);
            snprintf(p->msg[1], sizeof p->msg[1], "%s at TSC %" PRIu64,
                     stop <= 4 && what[stop] ? what[stop] : "?", p->cur_tsc);
            report(p, "HLT", "HLT outcome (stop, wake-up TSC)");
        }
    }
    if (!ev->u.halt.stop) {
        p->entry = RPOL_PENDING;
        p->entry_tsc = ev->tsc;
    }
}

void rpol_dev(struct rpol *p, const struct trace_dev_event *ev)
{
    if (!p->on)
        return;
    switch (ev->kind) {
    case TRACE_DEV_POLICY_IO: io_check(p, ev); return;
    case TRACE_DEV_HALT:
        if (p->halt_wait) {
            halt_check(p, ev);
        } else if (p->smp && p->entry == RPOL_PENDING) {
            /* every vCPU idle: the BSP's HLT decision, between an exit and
             * the next entry */
            p->entry = RPOL_NONE;
            p->pol.cpu = ev->vcpu;
            halt_check(p, ev);
        }
        return;
    case TRACE_DEV_INJECT:
    case TRACE_DEV_INTR_BLOCKED:
    case TRACE_DEV_DEADLINE:
        if (ev->kind == TRACE_DEV_INJECT)
            p->saw_inject = true;
        if (ev->kind == TRACE_DEV_INTR_BLOCKED) {
            p->saw_blocked = true;
            p->blocked_rflags = ev->u.blocked.rflags;
            p->blocked_blocking = ev->u.blocked.blocking;
        }
        if (ev->kind == TRACE_DEV_DEADLINE) {
            p->saw_deadline = true;
            p->armed = ev->u.deadline.tsc;
            p->armed_valid = true;
        }
        if (p->entry == RPOL_PENDING) {
            p->entry_tsc = ev->tsc; /* the entry's own TSC */
            entry_run(p, ev->vcpu);
        }
        return;
    default:
        /* Outputs may be the entry's advance or the next exit's call: an
         * entry that advanced or decided left a Deadline, Inject or
         * IntrBlocked record with its TSC; one that did neither runs at the
         * next exit (its TSC then is the last exit's: the same outcome). */
        return;
    }
}
