/* Synthetic SMP capture on the real device models (smp_synth.h). */
#include "host-sim/smp_synth.h"

#include <stdlib.h>
#include <string.h>

#include "hv/devs/vm_devices.h"
#include "hv/record/recorder.h"
#include "hv/vm_policy.h"
#include "trace/xorshift.h"

#define HZ          2000000000ull
#define LAPIC       0xfee00000ull
#define IOAPIC      0xfec00000ull
#define COM1        0x3f8
#define QUANTUM     400000u /* preemption-timer quantum, TSC cycles (200 us) */
#define KBASE       0xffffffff81000000ull
#define V_TIMER     0xec /* LOCAL_TIMER_VECTOR */
#define V_RESCHED   0xfd /* RESCHEDULE_VECTOR */
#define V_CALL      0xfb /* CALL_FUNCTION_VECTOR */
#define V_PIT       0x30 /* IRQ0 through the I/O APIC */
#define V_COM1      0x34 /* IRQ4 through the I/O APIC, to vCPU 1 */
#define SIPI_VECTOR 0x9f /* trampoline at 0x9f000 */

struct gen {
    struct vm_devices d;
    struct trace_writer *w;
    struct smp_synth_config cfg;
    uint64_t rng, tsc, seq, last_tsc, quantum_end;
    unsigned cur;     /* vCPU running */
    unsigned started; /* vCPUs started (BSP first) */
    bool halted[VM_DEVICES_MAX_CPUS];
    uint8_t pending_eoi[VM_DEVICES_MAX_CPUS]; /* injected, handler not run yet */
    int err;
    struct trace_device devices[IOBUS_MAX_RANGES];
    uint8_t blob[VM_DEVICES_SAVE_MAX];
};

static uint64_t rnd(struct gen *g)
{
    return xorshift64s(&g->rng);
}

static unsigned below(struct gen *g, unsigned n)
{
    return (unsigned)((rnd(g) >> 32) % n);
}

static uint64_t ns(uint64_t tsc)
{
    return vm_rec_tsc_to_ns(tsc, HZ);
}

static void note(struct gen *g, int rc)
{
    if (rc && !g->err)
        g->err = rc;
}

/* ---- the recording convention (hv/record/recorder.h), per vCPU ---- */

static void output(struct gen *g, struct trace_dev_event *ev)
{
    ev->tsc = g->last_tsc;
    note(g, trace_write_dev(g->w, ev));
}

static void on_irq_line(void *ctx, unsigned irq, bool level, uint64_t now_ns)
{
    struct gen *g = ctx;
    (void)now_ns;
    struct trace_dev_event ev = {.kind = TRACE_DEV_IRQ_LINE, .vcpu = g->cur};
    ev.u.irq.irq = irq;
    ev.u.irq.level = level;
    output(g, &ev);
}

static void on_intr_cpu(void *ctx, unsigned cpu, bool level, uint64_t now_ns)
{
    struct gen *g = ctx;
    (void)now_ns;
    struct trace_dev_event ev = {.kind = TRACE_DEV_INTR, .vcpu = cpu};
    ev.u.intr.level = level;
    output(g, &ev);
}

static void on_request(void *ctx, enum dev_request what)
{
    struct gen *g = ctx;
    struct trace_dev_event ev = {.kind = TRACE_DEV_REQUEST, .vcpu = g->cur};
    ev.u.request.what = (uint32_t)what;
    output(g, &ev);
}

static void fill_checkpoint(struct gen *g, struct trace_checkpoint *c)
{
    vm_devices_sync(&g->d);
    size_t len = vm_devices_save(&g->d, g->blob, sizeof g->blob);
    c->seq = g->seq;
    c->tsc = g->last_tsc;
    c->time_ns = g->d.now_ns;
    c->devices_version = VM_DEVICES_STATE_VERSION;
    c->devices = g->blob;
    c->devices_len = len;
    if (!len)
        note(g, TRACE_W_E_ARG);
}

static void entries(struct gen *g);

/* A new exit of the running vCPU: time moves, a checkpoint when due. */
static struct trace_exit raw_begin(struct gen *g, uint32_t reason, uint64_t site, uint32_t cost)
{
    g->tsc += cost + below(g, 64);
    if (g->cfg.checkpoint_every && g->seq && g->seq % g->cfg.checkpoint_every == 0) {
        struct trace_checkpoint c;
        fill_checkpoint(g, &c);
        note(g, trace_write_checkpoint(g->w, &c));
    }
    struct trace_exit e = {
        .seq = g->seq, .tsc = g->tsc, .rip = KBASE + site, .vcpu = g->cur, .reason = reason};
    return e;
}

static void exit_end(struct gen *g, const struct trace_exit *e)
{
    note(g, trace_write_exit(g->w, e));
    g->seq++;
}

/* Every exit follows an entry of its vCPU (and the handlers of what that
 * entry injected). */
static struct trace_exit exit_begin(struct gen *g, uint32_t reason, uint64_t site, uint32_t cost)
{
    entries(g);
    return raw_begin(g, reason, site, cost);
}

static uint32_t io_exit(struct gen *g, struct trace_exit e, uint16_t port, bool write,
                        uint32_t value)
{
    g->last_tsc = e.tsc;
    uint32_t v = write ? value : 0;
    vm_devices_io(&g->d, port, 1, write, &v, ns(e.tsc));
    v &= 0xff;
    e.insn_len = 1;
    e.qual = (uint64_t)port << 16 | (write ? 0 : 8u);
    e.detail = TRACE_DETAIL_IO;
    e.u.io.port = port;
    e.u.io.size = 1;
    e.u.io.write = write;
    e.u.io.value = v;
    exit_end(g, &e);
    return v;
}

static uint32_t io(struct gen *g, uint16_t port, bool write, uint32_t value)
{
    struct trace_exit e = exit_begin(g, TRACE_EXIT_IO_INSTRUCTION, 0x6a1c42 + port, 2500);
    return io_exit(g, e, port, write, value);
}

static uint32_t mmio_exit(struct gen *g, struct trace_exit e, uint64_t gpa, bool write,
                          uint32_t value)
{
    g->last_tsc = e.tsc;
    uint32_t v = write ? value : 0;
    vm_devices_mmio_cpu(&g->d, g->cur, gpa, 4, write, &v, ns(e.tsc));
    e.insn_len = 6;
    e.qual = write ? 0x182 : 0x181;
    e.detail = TRACE_DETAIL_EPT;
    e.u.ept.gpa = gpa;
    e.u.ept.gla = 0xffffffffff5fc000ull + (gpa & 0xfff);
    e.u.ept.access = write ? TRACE_EPT_WRITE : TRACE_EPT_READ;
    e.u.ept.size = 4;
    e.u.ept.value = v;
    exit_end(g, &e);
    return v;
}

static uint32_t mmio(struct gen *g, uint64_t gpa, bool write, uint32_t value)
{
    struct trace_exit e = exit_begin(g, TRACE_EXIT_EPT_VIOLATION, 0x5a000 + (gpa & 0xfff), 6000);
    return mmio_exit(g, e, gpa, write, value);
}

static void lapic_wr(struct gen *g, uint32_t off, uint32_t v)
{
    mmio(g, LAPIC + off, true, v);
}

static uint64_t rdmsr(struct gen *g, uint32_t msr)
{
    struct trace_exit e = exit_begin(g, TRACE_EXIT_RDMSR, 0x512e0, 7000);
    g->last_tsc = e.tsc;
    uint64_t v = 0;
    if (vm_devices_msr_cpu(&g->d, g->cur, msr, false, &v, ns(e.tsc)) != 0)
        v = 0;
    e.insn_len = 2;
    e.detail = TRACE_DETAIL_MSR;
    e.u.msr.index = msr;
    e.u.msr.value = v;
    exit_end(g, &e);
    return v;
}

static void plain_exit(struct gen *g, uint32_t reason, uint64_t site, uint32_t insn_len)
{
    struct trace_exit e = exit_begin(g, reason, site, 1500);
    e.insn_len = insn_len;
    exit_end(g, &e);
}

/* The VM entry of the running vCPU: the devices advanced when an event is
 * due (the exit policy's rule), then at most one vector injected. */
static void entry(struct gen *g)
{
    unsigned v = g->cur;
    if (vm_policy_advance_due(&g->d, ns(g->tsc))) {
        g->last_tsc = g->tsc;
        vm_devices_advance(&g->d, ns(g->tsc));
    }
    if (!vm_devices_intr_cpu(&g->d, v) || g->pending_eoi[v])
        return;
    g->last_tsc = g->tsc;
    uint8_t vec = vm_devices_ack_cpu(&g->d, v, ns(g->tsc));
    struct trace_dev_event ev = {.tsc = g->tsc, .vcpu = v, .kind = TRACE_DEV_INJECT};
    ev.u.inject.vector = vec;
    note(g, trace_write_dev(g->w, &ev));
    g->pending_eoi[v] = vec;
    g->halted[v] = false;
}

/* An entry inside an interrupt handler (IF = 0): a pending request is not
 * taken; the policy asks for the interrupt window (IntrBlocked). */
static void entry_if0(struct gen *g)
{
    if (vm_policy_advance_due(&g->d, ns(g->tsc))) {
        g->last_tsc = g->tsc;
        vm_devices_advance(&g->d, ns(g->tsc));
    }
    if (!vm_devices_intr_cpu(&g->d, g->cur))
        return;
    struct trace_dev_event ev = {.tsc = g->tsc, .vcpu = g->cur, .kind = TRACE_DEV_INTR_BLOCKED};
    note(g, trace_write_dev(g->w, &ev));
}

/* Entries of the running vCPU until one injects nothing: each injected
 * vector's handler ends with its EOI (an exit of its own). */
static void entries(struct gen *g)
{
    for (;;) {
        entry(g);
        if (!g->pending_eoi[g->cur])
            return;
        uint8_t vec = g->pending_eoi[g->cur];
        g->pending_eoi[g->cur] = 0;
        if (vec == V_COM1) { /* serial8250_handle_irq: IIR (clears THRE), then EOI */
            struct trace_exit x = raw_begin(g, TRACE_EXIT_IO_INSTRUCTION, 0x6a3102, 6000);
            io_exit(g, x, COM1 + 2, false, 0);
            entry_if0(g);
        }
        struct trace_exit e = raw_begin(g, TRACE_EXIT_EPT_VIOLATION, 0x5a0b0, 9000);
        mmio_exit(g, e, LAPIC + LAPIC_EOI, true, 0);
    }
}

/* ICR write as apic_icr_write(): destination first, then the command. */
static void icr(struct gen *g, unsigned dest, uint32_t lo)
{
    lapic_wr(g, LAPIC_ICR_HI, dest << 24);
    lapic_wr(g, LAPIC_ICR_LO, lo);
}

/* ---- the script ---- */

static void ioapic_entry(struct gen *g, unsigned pin, uint64_t e)
{
    mmio(g, IOAPIC, true, 0x11 + 2 * pin);
    mmio(g, IOAPIC + 0x10, true, (uint32_t)(e >> 32));
    mmio(g, IOAPIC, true, 0x10 + 2 * pin);
    mmio(g, IOAPIC + 0x10, true, (uint32_t)e);
}

/* setup_local_APIC() on the running vCPU, then its periodic timer. */
static void local_apic_setup(struct gen *g, uint32_t tmict)
{
    unsigned v = g->cur;
    rdmsr(g, MSR_IA32_APIC_BASE);
    lapic_wr(g, LAPIC_TPR, 0);
    lapic_wr(g, LAPIC_DFR, 0xffffffffu);
    lapic_wr(g, LAPIC_LDR, (1u << v) << 24);
    lapic_wr(g, LAPIC_SVR, APIC_SVR_ENABLE | 0xff);
    lapic_wr(g, LAPIC_LVT_LINT0, APIC_LVT_MASKED | (APIC_DM_EXTINT << 8));
    lapic_wr(g, LAPIC_LVT_LINT1, APIC_DM_NMI << 8);
    lapic_wr(g, LAPIC_TDCR, 0xb); /* divide by 1 */
    lapic_wr(g, LAPIC_LVT_TMR, APIC_TIMER_PERIODIC | V_TIMER);
    lapic_wr(g, LAPIC_TMICT, tmict);
}

static void bsp_boot(struct gen *g)
{
    static const uint8_t pic[][2] = {{0x21, 0xff}, {0xa1, 0xff}, {0x20, 0x11}, {0x21, 0x30},
                                     {0x21, 0x04}, {0x21, 0x01}, {0xa0, 0x11}, {0xa1, 0x38},
                                     {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0xff}, {0xa1, 0xff}};
    for (unsigned i = 0; i < sizeof pic / sizeof pic[0]; i++)
        io(g, pic[i][0], true, pic[i][1]);
    local_apic_setup(g, 4000000); /* 4 ms at the 1 GHz APIC bus: HZ=250 */
    ioapic_entry(g, 2, V_PIT);    /* PIT: physical APIC ID 0, edge */
    io(g, 0x43, true, 0x34);      /* PIT ch0 mode 2, 10 ms */
    io(g, 0x40, true, 0x9c);
    io(g, 0x40, true, 0x2e);
}

/* wakeup_secondary_cpu_via_init(): INIT assert, INIT de-assert, then two
 * SIPIs; the hypervisor starts the AP at the first one (CpuStart), the
 * second finds it running. */
static void wake_ap(struct gen *g, unsigned n)
{
    lapic_wr(g, LAPIC_ESR, 0);
    icr(g, n, 0xc500u);
    mmio(g, LAPIC + LAPIC_ICR_LO, false, 0);
    icr(g, n, 0x8500u);
    for (unsigned j = 0; j < 2; j++) {
        lapic_wr(g, LAPIC_ESR, 0);
        icr(g, n, 0x0600u | SIPI_VECTOR);
        mmio(g, LAPIC + LAPIC_ICR_LO, false, 0);
        uint32_t evs = vm_devices_cpu_events(&g->d, n);
        if (evs & VM_CPU_EV_SIPI) {
            struct trace_dev_event ev = {
                .tsc = g->tsc, .vcpu = g->cur, .kind = TRACE_DEV_CPU_START};
            ev.u.cpu_start.vcpu = n;
            ev.u.cpu_start.vector = vm_devices_sipi_vector(&g->d, n);
            note(g, trace_write_dev(g->w, &ev));
            vm_devices_cpu_events_take(&g->d, n, VM_CPU_EV_INIT | VM_CPU_EV_SIPI);
            g->started = n + 1;
        }
    }
    /* The AP runs its start-up on the same physical CPU, then the BSP
     * resumes. */
    unsigned bsp = g->cur;
    g->cur = n;
    local_apic_setup(g, 4000000 + 250000 * n);
    g->cur = bsp;
}

static bool runnable(struct gen *g, unsigned v)
{
    return !g->halted[v] || vm_devices_intr_cpu(&g->d, v);
}

/* Next vCPU to run after the current one; if none can, time moves to the
 * next device event. */
static void switch_next(struct gen *g)
{
    for (unsigned k = 1; k <= g->started; k++) {
        unsigned v = (g->cur + k) % g->started;
        if (runnable(g, v)) {
            g->cur = v;
            g->quantum_end = g->tsc + QUANTUM;
            return;
        }
    }
    uint64_t t = vm_devices_next_event_ns(&g->d, ns(g->tsc));
    if (t != TIME_NEVER) {
        uint64_t tsc =
            t / 1000000000ull * HZ + (t % 1000000000ull * HZ + 999999999ull) / 1000000000ull;
        if (tsc > g->tsc)
            g->tsc = tsc;
    }
    g->cur = (g->cur + 1) % g->started;
    g->halted[g->cur] = false; /* it wakes on the event */
    g->quantum_end = g->tsc + QUANTUM;
}

/* One step of the running vCPU: its entry, then the exit it makes. */
static void step(struct gen *g)
{
    unsigned v = g->cur;
    if (g->tsc >= g->quantum_end) {
        plain_exit(g, TRACE_EXIT_PREEMPTION_TIMER, 0x12c4a0, 0);
        switch_next(g);
        return;
    }
    unsigned r = below(g, 100);
    if (r < 45) { /* a console character */
        io(g, COM1 + 5, false, 0);
        io(g, COM1, true, 'a' + below(g, 26));
    } else if (r < 55 && g->started > 1) { /* reschedule another vCPU */
        unsigned to = (v + 1 + below(g, g->started - 1)) % g->started;
        icr(g, to, V_RESCHED);
    } else if (r < 58 && g->started > 1) { /* smp_call_function */
        lapic_wr(g, LAPIC_ICR_LO, APIC_SH_ALL_BUT_SELF << 18 | V_CALL);
    } else if (r < 60 && g->started > 2) { /* lowest priority to the APs (logical) */
        icr(g, (0xfu & ~1u) & ((1u << g->started) - 1), 0x800u | (APIC_DM_LOWEST << 8) | 0xe1);
    } else if (r < 63) {
        mmio(g, LAPIC + (below(g, 2) ? LAPIC_TPR : LAPIC_ISR + 0x70), false, 0);
    } else if (r < 80) { /* idle */
        plain_exit(g, TRACE_EXIT_HLT, 0xd1f6e2, 1);
        g->halted[v] = true;
        switch_next(g);
    } else {
        g->tsc += 20000 + below(g, 40000); /* guest work without exits */
    }
}

int smp_synth_write(struct trace_writer *w, const struct smp_synth_config *cfg)
{
    if (!cfg || cfg->vcpus < 2 || cfg->vcpus > VM_DEVICES_MAX_CPUS)
        return 1;
    struct gen *g = calloc(1, sizeof *g);
    if (!g)
        return TRACE_W_E_NOMEM;
    g->w = w;
    g->cfg = *cfg;
    g->rng = cfg->seed ? cfg->seed : 1;
    g->tsc = g->last_tsc = 1000000;
    const struct vm_devices_config dc = {
        .rtc_epoch_sec = 1764115200, .apic = true, .tsc_hz = HZ, .cpus = cfg->vcpus};
    vm_devices_init(&g->d, &dc, NULL, ns(g->tsc));
    const struct vm_devices_hooks hooks = {
        .irq_line = on_irq_line, .intr_cpu = on_intr_cpu, .request = on_request, .ctx = g};
    g->d.hooks = hooks;
    unsigned n = g->d.bus.n < IOBUS_MAX_RANGES ? g->d.bus.n : IOBUS_MAX_RANGES;
    for (unsigned i = 0; i < n; i++)
        g->devices[i] = (struct trace_device){g->d.bus.r[i].name, g->d.bus.r[i].base,
                                              g->d.bus.r[i].len, g->d.bus.r[i].irq};
    struct trace_header h = {.format_version = TRACE_FORMAT_VERSION,
                             .hv_build_id = "synthetic-smp",
                             .devmodel_version = "synthetic-smp",
                             .cmdline = "console=ttyS0 nokaslr panic=-1",
                             .ram_bytes = 128ull << 20,
                             .vcpus = cfg->vcpus,
                             .tsc_hz = HZ,
                             .ndevices = n,
                             .devices = g->devices,
                             .has_start = true,
                             .entry_decisions = true,
                             .intr_per_vcpu = true,
                             .apic = true};
    fill_checkpoint(g, &h.start);
    note(g, trace_write_header(w, &h));
    g->started = 1;
    bsp_boot(g);
    for (unsigned a = 1; a < cfg->vcpus && !g->err; a++)
        wake_ap(g, a);
    /* COM1's interrupt (THRE) to vCPU 1: logical flat destination 0x02 */
    ioapic_entry(g, 4, (0x02ull << 56) | (1u << 11) | V_COM1);
    io(g, COM1 + 4, true, 0x08); /* MCR OUT2: the IRQ line to the PIC/I/O APIC */
    io(g, COM1 + 1, true, 0x02); /* IER: THRE interrupt */
    g->quantum_end = g->tsc + QUANTUM;
    while (g->seq < cfg->exits && !g->err)
        step(g);
    if (!g->err) {
        struct trace_end end = {.exits = g->seq, .reason = TRACE_END_STOPPED};
        note(g, trace_writer_finish(w, &end));
    }
    int rc = g->err;
    free(g);
    return rc;
}
