/* The VM-level exit policy (vm_policy.h). */
#include "hv/vm_policy.h"

const char *vm_stop_name(enum vm_stop s)
{
    switch (s) {
    case VM_RUNNING: return "running";
    case VM_STOP_POWEROFF: return "poweroff";
    case VM_STOP_RESET: return "reset";
    case VM_STOP_TRIPLE_FAULT: return "triple-fault";
    case VM_STOP_IDLE: return "idle-forever";
    case VM_STOP_TIMEOUT: return "timeout";
    case VM_STOP_FATAL: return "fatal";
    case VM_STOP_DEBUG_EXIT: return "debug-exit";
    }
    return "?";
}

uint64_t vm_policy_ns_to_tsc_ceil(uint64_t ns, uint64_t hz)
{
    uint64_t q = ns / 1000000000ull, r = ns % 1000000000ull;
    return q * hz + (r * hz + 999999999ull) / 1000000000ull;
}

void vm_policy_init(struct vm_policy *p, const struct vm_policy_ops *ops, void *ctx,
                    struct vm_devices *dev, const struct vm_policy_config *cfg)
{
    *p = (struct vm_policy){.ops = ops, .ctx = ctx, .dev = dev, .cfg = *cfg};
    p->limit_tsc =
        cfg->time_limit_ns ? vm_policy_ns_to_tsc_ceil(cfg->time_limit_ns, cfg->tsc_hz) : UINT64_MAX;
}

static uint64_t tsc_ceil_or_never(const struct vm_policy *p, uint64_t ns)
{
    return ns == TIME_NEVER ? UINT64_MAX : vm_policy_ns_to_tsc_ceil(ns, p->cfg.tsc_hz);
}

static uint64_t ns_of(const struct vm_policy *p, uint64_t tsc)
{
    return vm_rec_tsc_to_ns(tsc, p->cfg.tsc_hz);
}

bool vm_policy_advance_due(struct vm_devices *d, uint64_t now_ns)
{
    return vm_devices_next_event_cached(d, d->now_ns) <= now_ns;
}

void vm_policy_prepare_entry(struct vm_policy *p)
{
    const struct vm_policy_ops *o = p->ops;
    uint64_t tsc = o->tsc_now(p->ctx);
    /* ns(tsc) >= t exactly when tsc >= vm_policy_ns_to_tsc_ceil(t): the
     * comparisons below are the nanosecond ones, made in TSC units */
    if (tsc >= p->limit_tsc) {
        p->stop = VM_STOP_TIMEOUT;
        return;
    }
    if ((p->entries++ & 255) == 0 && o->poll_input)
        o->poll_input(p->ctx, tsc);
    if (!p->due_valid || p->due_gen != p->dev->gen) {
        /* the earliest device deadline (vm_policy_advance_due's test,
         * as the devices' own time is never ahead of the entry's) */
        p->due_tsc = tsc_ceil_or_never(p, vm_devices_next_event_cached(p->dev, 0));
        p->due_gen = p->dev->gen;
        p->due_valid = true;
    }
    /* Time-driven device work only when some device has an event due since
     * the devices' last time: an advance with nothing due changes nothing,
     * and is the costliest part of an exit. */
    bool touched = false;
    if (tsc >= p->due_tsc) {
        o->advance(p->ctx, tsc);
        touched = true;
    }
    /* NMIs first (SDM Vol. 3 "Event Priority": an NMI before a maskable
     * interrupt). They are held by blocking by NMI (from an NMI's delivery
     * to the next IRET) and by MOV-SS blocking, not by IF=0 or an STI
     * shadow (SDM Vol. 3 24.4.2, 26.3.1.5). With one injected, the INTR
     * below finds an event queued and asks for the interrupt window. */
    bool want_nmi_window = false;
    if (o->inject_nmi && vm_devices_nmi_cpu(p->dev, p->cpu)) {
        if (o->nmi_ready(p->ctx)) {
            o->take_nmi(p->ctx, tsc);
            o->inject_nmi(p->ctx);
            p->injected_nmis++;
            touched = true;
        } else {
            want_nmi_window = true;
            p->nmi_windows++;
            if (o->nmi_blocked)
                o->nmi_blocked(p->ctx, tsc);
        }
    }
    if (o->set_nmi_window)
        o->set_nmi_window(p->ctx, want_nmi_window);
    bool want_window = false;
    if (vm_devices_intr_cpu(p->dev, p->cpu)) {
        if (o->interruptible(p->ctx)) {
            uint8_t vec = o->ack(p->ctx, tsc);
            o->inject_extint(p->ctx, vec);
            p->injected_irqs++;
            touched = true;
        } else {
            /* exit as soon as the guest can take it */
            want_window = true;
            p->windows++;
            if (o->blocked)
                o->blocked(p->ctx, tsc);
        }
    }
    if (o->set_intr_window)
        o->set_intr_window(p->ctx, want_window);
    if (!o->arm_timer)
        return;
    /* the preemption timer: the next device event, capped by the limit */
    uint64_t dl = p->due_tsc;
    if (touched)
        dl = tsc_ceil_or_never(p, vm_devices_next_event_cached(p->dev, ns_of(p, tsc)));
    o->arm_timer(p->ctx, dl < p->limit_tsc ? dl : p->limit_tsc);
}

/* reg + delta in an address-size register: 16 bits keep the upper bits, 32
 * bits zero-extend (as a 32-bit register write does), 64 bits wrap. */
static uint64_t addr_add(uint64_t reg, uint64_t delta, unsigned bits)
{
    if (bits == 16)
        return (reg & ~0xffffull) | ((reg + delta) & 0xffff);
    if (bits == 32)
        return (reg + delta) & 0xffffffffull;
    return reg + delta;
}

/* INS/OUTS, with or without REP: one element per exit, through the same
 * device call (and trace record) as IN/OUT. A REP instruction is re-entered
 * until rCX reaches 0, so interrupts are taken between elements as on
 * hardware. A fault on the memory operand is injected as #PF before any
 * device access, so a restarted instruction repeats nothing. */
static enum vm_policy_io_result string_io(struct vm_policy *p, struct vm_policy_io *io)
{
    const struct vm_policy_ops *o = p->ops;
    unsigned bits = io->addr_bits, size = io->size;
    uint64_t amask = bits == 64 ? ~0ull : (1ull << bits) - 1;
    uint64_t rcx = o->reg(p->ctx, VM_POLICY_RCX);
    if (io->rep && !(rcx & amask)) { /* nothing to do */
        o->skip_insn(p->ctx);
        return VM_POLICY_IO_NO_ACCESS;
    }
    uint8_t *b[4];
    for (unsigned i = 0; i < size; i++) {
        uint64_t la = io->gla + i;
        if (bits != 64) /* the operand wraps at 4 GiB outside 64-bit mode */
            la &= 0xffffffffull;
        uint32_t err = 0;
        switch (o->map_operand(p->ctx, la, io->in, &b[i], &err)) {
        case VM_POLICY_MAP_OK: break;
        case VM_POLICY_MAP_PF: o->inject_pf(p->ctx, la, err); return VM_POLICY_IO_NO_ACCESS;
        default: p->stop = VM_STOP_FATAL; return VM_POLICY_IO_FATAL;
        }
    }
    uint32_t val = 0;
    if (!io->in)
        for (unsigned i = 0; i < size; i++)
            val |= (uint32_t)*b[i] << (8 * i);
    io->value = o->io(p->ctx, &io->x, io->port, size, !io->in, val);
    if (io->in)
        for (unsigned i = 0; i < size; i++)
            *b[i] = (uint8_t)(io->value >> (8 * i));
    uint64_t step = (o->rflags(p->ctx) & VM_POLICY_RFLAGS_DF) ? -(uint64_t)size : size;
    unsigned idx = io->in ? VM_POLICY_RDI : VM_POLICY_RSI;
    o->set_reg(p->ctx, idx, addr_add(o->reg(p->ctx, idx), step, bits));
    if (io->rep) {
        rcx = addr_add(rcx, ~0ull, bits);
        o->set_reg(p->ctx, VM_POLICY_RCX, rcx);
        if (rcx & amask) {
            /* re-executed for the next element; an element has retired, so
             * an STI / MOV SS shadow is over and an interrupt may come in
             * between, as on hardware */
            if (o->end_interrupt_shadow)
                o->end_interrupt_shadow(p->ctx);
            return VM_POLICY_IO_DEVICE;
        }
    }
    o->skip_insn(p->ctx);
    return VM_POLICY_IO_DEVICE;
}

enum vm_policy_io_result vm_policy_io(struct vm_policy *p, struct vm_policy_io *io)
{
    const struct vm_policy_ops *o = p->ops;
    if (io->string)
        return string_io(p, io);
    io->value = o->io(p->ctx, &io->x, io->port, io->size, !io->in, io->value);
    if (io->in) {
        uint64_t rax = o->reg(p->ctx, VM_POLICY_RAX);
        uint64_t mask = dev_size_mask(io->size);
        if (io->size == 4)
            rax = io->value; /* a 32-bit destination zero-extends */
        else
            rax = (rax & ~mask) | io->value;
        o->set_reg(p->ctx, VM_POLICY_RAX, rax);
    }
    o->skip_insn(p->ctx);
    return VM_POLICY_IO_DEVICE;
}

void vm_policy_halt(struct vm_policy *p, uint64_t exit_tsc)
{
    const struct vm_policy_ops *o = p->ops;
    /* an NMI wakes HLT whatever IF says */
    if (o->inject_nmi && vm_devices_nmi_cpu(p->dev, p->cpu))
        return;
    if (!(o->rflags(p->ctx) & VM_POLICY_RFLAGS_IF)) {
        p->stop = VM_STOP_POWEROFF;
        return;
    }
    uint64_t now = ns_of(p, exit_tsc);
    if (o->poll_input)
        o->poll_input(p->ctx, exit_tsc);
    o->advance(p->ctx, exit_tsc);
    if (vm_devices_intr_cpu(p->dev, p->cpu) ||
        (o->inject_nmi && vm_devices_nmi_cpu(p->dev, p->cpu)))
        return;
    uint64_t next = vm_devices_next_event_cached(p->dev, now);
    if (next == TIME_NEVER) {
        /* nothing will happen unless the host has input */
        if (!o->idle_wait || !o->idle_wait(p->ctx, UINT64_MAX))
            p->stop = VM_STOP_IDLE;
        return;
    }
    if (p->cfg.time_limit_ns && next > p->cfg.time_limit_ns)
        next = p->cfg.time_limit_ns;
    uint64_t target = vm_policy_ns_to_tsc_ceil(next, p->cfg.tsc_hz);
    uint64_t cur = o->tsc_now(p->ctx);
    if (o->idle_wait && o->idle_wait(p->ctx, target))
        return;
    if (target > cur) {
        o->skip_tsc(p->ctx, target - cur);
        p->hlt_skipped_ns += next - now;
    }
    o->advance(p->ctx, o->tsc_now(p->ctx));
}
