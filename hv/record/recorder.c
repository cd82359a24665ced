/* Recorder: the VM layer's single path into the device layer (recorder.h). */
#include "hv/record/recorder.h"

static void note_err(struct vm_recorder *r, int rc)
{
    if (rc && !r->err)
        r->err = rc;
}

static void write_output(struct vm_recorder *r, struct trace_dev_event *ev)
{
    if (!r->w)
        return; /* null sink */
    ev->tsc = r->cur_tsc;
    ev->vcpu = r->vcpu;
    note_err(r, trace_write_dev(r->w, ev));
    r->outputs++;
}

static void on_irq_line(void *ctx, unsigned irq, bool level, uint64_t now_ns)
{
    struct vm_recorder *r = ctx;
    struct trace_dev_event ev = {.kind = TRACE_DEV_IRQ_LINE};
    ev.u.irq.irq = irq;
    ev.u.irq.level = level;
    write_output(r, &ev);
    if (r->user.irq_line)
        r->user.irq_line(r->user.ctx, irq, level, now_ns);
}

/* Every vCPU's interrupt request (the header's intr_per_vcpu with several):
 * IntrLine.vcpu is whose request changed, not the vCPU being handled, so
 * replay sees an AP's local APIC timer fire at the advance that fired it. */
static void on_intr_cpu(void *ctx, unsigned cpu, bool level, uint64_t now_ns)
{
    struct vm_recorder *r = ctx;
    struct trace_dev_event ev = {.kind = TRACE_DEV_INTR};
    ev.u.intr.level = level;
    uint32_t cur = r->vcpu;
    r->vcpu = cpu;
    write_output(r, &ev);
    r->vcpu = cur;
    if (cpu == 0 && r->user.intr)
        r->user.intr(r->user.ctx, level, now_ns);
    if (r->user.intr_cpu)
        r->user.intr_cpu(r->user.ctx, cpu, level, now_ns);
}

static void on_request(void *ctx, enum dev_request what)
{
    struct vm_recorder *r = ctx;
    struct trace_dev_event ev = {.kind = TRACE_DEV_REQUEST};
    ev.u.request.what = (uint32_t)what;
    write_output(r, &ev);
    if (r->user.request)
        r->user.request(r->user.ctx, what);
}

static void on_com1_tx(void *ctx, uint8_t byte)
{
    struct vm_recorder *r = ctx;
    if (r->user.com1_tx)
        r->user.com1_tx(r->user.ctx, byte);
}

static void checkpoint_fill(struct vm_recorder *r, struct trace_checkpoint *c, uint64_t seq)
{
    vm_devices_sync(r->dev); /* the devices' own clocks to now: state as the time means */
    size_t len = vm_devices_save(r->dev, r->blob, sizeof r->blob);
    c->seq = seq;
    c->tsc = r->last_tsc;
    c->time_ns = r->dev->now_ns;
    c->devices_version = VM_DEVICES_STATE_VERSION;
    c->devices = r->blob;
    c->devices_len = len;
    if (!len)
        note_err(r, TRACE_W_E_ARG);
}

int vm_recorder_init(struct vm_recorder *r, struct vm_devices *d,
                     const struct vm_devices_config *dc, const struct vm_devices_hooks *user,
                     const struct vm_recorder_config *cfg)
{
    if (!r || !d || !cfg || !cfg->tsc_hz || !cfg->w != cfg->off)
        return TRACE_W_E_ARG;
    r->dev = d;
    r->w = cfg->w;
    r->user = user ? *user : (struct vm_devices_hooks){0};
    r->tsc_hz = cfg->tsc_hz;
    r->seq = 0;
    r->cur_tsc = r->last_tsc = cfg->start_tsc;
    r->checkpoint_every = cfg->checkpoint_every;
    r->outputs = 0;
    r->vcpu = 0;
    r->err = 0;

    const struct vm_devices_hooks hooks = {.irq_line = on_irq_line,
                                           .intr_cpu = on_intr_cpu,
                                           .com1_tx = on_com1_tx,
                                           .request = on_request,
                                           .ctx = r};
    vm_devices_init(d, dc, NULL, vm_rec_now_ns(r, cfg->start_tsc));
    d->hooks = hooks; /* after init: nothing before the header is recorded */
    if (!r->w)
        return 0; /* null sink: no header */

    unsigned n = d->bus.n < IOBUS_MAX_RANGES ? d->bus.n : IOBUS_MAX_RANGES;
    for (unsigned i = 0; i < n; i++) {
        r->devices[i].name = d->bus.r[i].name;
        r->devices[i].port_base = d->bus.r[i].base;
        r->devices[i].port_count = d->bus.r[i].len;
        r->devices[i].irq = d->bus.r[i].irq;
    }
    struct trace_header h = {.format_version = TRACE_FORMAT_VERSION,
                             .hv_build_id = cfg->hv_build_id,
                             .devmodel_version = cfg->devmodel_version,
                             .cmdline = cfg->cmdline,
                             .ram_bytes = cfg->ram_bytes,
                             .vcpus = cfg->vcpus ? cfg->vcpus : 1,
                             .tsc_hz = cfg->tsc_hz,
                             .ndevices = n,
                             .devices = r->devices,
                             .has_start = true,
                             .entry_decisions = cfg->entry_decisions,
                             .apic = dc && dc->apic,
                             .intr_per_vcpu = cfg->vcpus > 1,
                             .policy_records = cfg->policy_records,
                             .time_limit_ns = cfg->policy_records ? cfg->time_limit_ns : 0};
    if (cfg->host_cpu)
        h.host_cpu = *cfg->host_cpu;
    checkpoint_fill(r, &h.start, 0);
    note_err(r, trace_write_header(r->w, &h));
    return r->err;
}

/* Before exit r->seq is recorded: a checkpoint when one is due. */
static void exit_begin(struct vm_recorder *r)
{
    if (r->w && r->checkpoint_every && r->seq && r->seq % r->checkpoint_every == 0) {
        struct trace_checkpoint c;
        checkpoint_fill(r, &c, r->seq);
        note_err(r, trace_write_checkpoint(r->w, &c));
    }
}

static void call_begin(struct vm_recorder *r, uint64_t tsc)
{
    r->cur_tsc = tsc;
    r->last_tsc = tsc;
}

uint32_t vm_rec_io_recorded(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint16_t port,
                            unsigned size, bool write, uint32_t value)
{
    exit_begin(r);
    r->vcpu = x->vcpu;
    call_begin(r, x->tsc);
    uint32_t val = write ? value : 0;
    vm_devices_io(r->dev, port, size, write, &val, vm_rec_now_ns(r, x->tsc));
    val &= dev_size_mask(size);
    struct trace_exit e = {.seq = r->seq++,
                           .tsc = x->tsc,
                           .rip = x->rip,
                           .qual = x->qual,
                           .vcpu = x->vcpu,
                           .reason = TRACE_EXIT_IO_INSTRUCTION,
                           .insn_len = x->insn_len,
                           .detail = TRACE_DETAIL_IO};
    e.u.io.port = port;
    e.u.io.size = (uint8_t)size;
    e.u.io.write = write;
    e.u.io.value = val;
    note_err(r, trace_write_exit(r->w, &e));
    return val;
}

/* vm_rec_mmio_calls for vCPU cpu's local APIC (the same splitting rule). */
static uint64_t mmio_calls_cpu(struct vm_devices *d, unsigned cpu, uint64_t gpa, unsigned size,
                               bool write, uint64_t value, uint64_t now_ns)
{
    uint64_t v = 0;
    unsigned part = size < 4 ? size : 4;
    for (unsigned off = 0; off < size; off += 4) {
        uint32_t val = write ? (uint32_t)(value >> (8 * off)) & dev_size_mask(part) : 0;
        vm_devices_mmio_cpu(d, cpu, gpa + off, part, write, &val, now_ns);
        v |= (uint64_t)(val & dev_size_mask(part)) << (8 * off);
    }
    return write ? value : v;
}

uint64_t vm_rec_mmio(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint64_t gpa,
                     unsigned size, bool write, uint64_t value)
{
    exit_begin(r);
    r->vcpu = x->vcpu;
    call_begin(r, x->tsc);
    uint64_t v = x->vcpu == 0 ? vm_rec_mmio_calls(vm_devices_mmio, r->dev, gpa, size, write, value,
                                                  vm_rec_now_ns(r, x->tsc))
                              : mmio_calls_cpu(r->dev, x->vcpu, gpa, size, write, value,
                                               vm_rec_now_ns(r, x->tsc));
    struct trace_exit e = {.seq = r->seq++,
                           .tsc = x->tsc,
                           .rip = x->rip,
                           .qual = x->qual,
                           .vcpu = x->vcpu,
                           .reason = TRACE_EXIT_EPT_VIOLATION,
                           .insn_len = x->insn_len,
                           .detail = TRACE_DETAIL_EPT};
    e.u.ept.gpa = gpa;
    e.u.ept.access = write ? TRACE_EPT_WRITE : TRACE_EPT_READ;
    e.u.ept.size = size;
    e.u.ept.value = v;
    if (r->w)
        note_err(r, trace_write_exit(r->w, &e));
    return v;
}

int vm_rec_msr(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint32_t msr, bool write,
               uint64_t *val)
{
    if (!r->dev->cfg.apic || !lapic_msr_owned(msr))
        return 1; /* not a device MSR: nothing called, nothing recorded */
    exit_begin(r);
    r->vcpu = x->vcpu;
    call_begin(r, x->tsc);
    uint64_t v = write ? *val : 0;
    int rc = vm_devices_msr_cpu(r->dev, x->vcpu, msr, write, &v, vm_rec_now_ns(r, x->tsc));
    if (!write)
        *val = rc == 0 ? v : 0; /* a #GP RDMSR is recorded as 0, like the vCPU policy's */
    struct trace_exit e = {.seq = r->seq++,
                           .tsc = x->tsc,
                           .rip = x->rip,
                           .qual = x->qual,
                           .vcpu = x->vcpu,
                           .reason = write ? TRACE_EXIT_WRMSR : TRACE_EXIT_RDMSR,
                           .insn_len = x->insn_len,
                           .detail = TRACE_DETAIL_MSR};
    e.u.msr.index = msr;
    e.u.msr.write = write;
    e.u.msr.value = *val;
    if (r->w)
        note_err(r, trace_write_exit(r->w, &e));
    return rc;
}

void vm_rec_advance(struct vm_recorder *r, uint64_t tsc)
{
    call_begin(r, tsc);
    vm_devices_advance(r->dev, vm_rec_now_ns(r, tsc));
}

uint8_t vm_rec_ack(struct vm_recorder *r, uint64_t tsc)
{
    call_begin(r, tsc);
    uint8_t vec = vm_devices_ack_cpu(r->dev, r->vcpu, vm_rec_now_ns(r, tsc));
    if (!r->w)
        return vec;
    struct trace_dev_event ev = {.tsc = tsc, .vcpu = r->vcpu, .kind = TRACE_DEV_INJECT};
    ev.u.inject.vector = vec;
    note_err(r, trace_write_dev(r->w, &ev));
    return vec;
}

void vm_rec_nmi(struct vm_recorder *r, uint64_t tsc)
{
    call_begin(r, tsc);
    vm_devices_nmi_take_cpu(r->dev, r->vcpu);
    if (!r->w)
        return;
    struct trace_dev_event ev = {.tsc = tsc, .vcpu = r->vcpu, .kind = TRACE_DEV_INJECT};
    ev.u.inject.vector = 2;
    ev.u.inject.nmi = true;
    note_err(r, trace_write_dev(r->w, &ev));
}

void vm_rec_blocked(struct vm_recorder *r, uint64_t tsc)
{
    if (!r->w)
        return;
    struct trace_dev_event ev = {.tsc = tsc, .vcpu = r->vcpu, .kind = TRACE_DEV_INTR_BLOCKED};
    note_err(r, trace_write_dev(r->w, &ev));
}

void vm_rec_policy(struct vm_recorder *r, struct trace_dev_event *ev)
{
    if (!r->w)
        return;
    ev->vcpu = r->vcpu;
    note_err(r, trace_write_dev(r->w, ev));
}

void vm_rec_deadline(struct vm_recorder *r, uint64_t tsc, uint64_t deadline)
{
    if (!r->w || (r->armed_valid && r->armed == deadline))
        return;
    r->armed = deadline;
    r->armed_valid = true;
    struct trace_dev_event ev = {.tsc = tsc, .vcpu = r->vcpu, .kind = TRACE_DEV_DEADLINE};
    ev.u.deadline.tsc = deadline;
    note_err(r, trace_write_dev(r->w, &ev));
}

size_t vm_rec_com1_rx(struct vm_recorder *r, const uint8_t *buf, size_t n, uint64_t tsc)
{
    call_begin(r, tsc);
    size_t got = vm_devices_com1_rx(r->dev, buf, n, vm_rec_now_ns(r, tsc));
    if (!r->w)
        return got;
    struct trace_dev_event ev = {.tsc = tsc, .vcpu = r->vcpu, .kind = TRACE_DEV_UART_RX};
    ev.u.uart_rx.port = r->dev->cfg.com1_base;
    ev.u.uart_rx.data = buf;
    ev.u.uart_rx.len = n;
    note_err(r, trace_write_dev(r->w, &ev));
    return got;
}

int vm_rec_exit(struct vm_recorder *r, struct trace_exit *e)
{
    exit_begin(r);
    r->vcpu = e->vcpu;
    e->seq = r->seq++;
    if (r->w)
        note_err(r, trace_write_exit(r->w, e));
    return r->err;
}

int vm_rec_finish(struct vm_recorder *r, uint32_t reason)
{
    if (!r->w)
        return 0;
    struct trace_writer_stats st;
    trace_writer_get_stats(r->w, &st);
    struct trace_end end = {.exits = r->seq, .records = st.records, .reason = reason};
    note_err(r, trace_writer_finish(r->w, &end));
    return r->err;
}
