/* VM layer: owns guest memory, the device set and virtual time, and runs the
 * vCPU loop: prepare the entry (inject a pending PIC interrupt or ask for an
 * interrupt window, arm the preemption timer for the next device deadline),
 * enter, then let the vCPU handle local exits and handle the rest here. */
#include "hv/vm.h"
#include "hv/guest_walk.h"
#include "hv/arch.h"
#include "hv/lib.h"
#include "hv/mm.h"
#include "hv/recording.h"
#include "hv/tsc.h"
#include "hv/xstate.h"

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

uint64_t vm_now_ns(const struct vm *vm, uint64_t guest_tsc)
{
    return vm_rec_tsc_to_ns(guest_tsc, vm->cfg.tsc_hz);
}

/* ---- device hooks ---- */
static void on_com1_tx(void *ctx, uint8_t byte)
{
    struct vm *vm = ctx;
    char c = (char)byte;
    hvrec_console_byte(byte);
    if (c == '\n')
        serial_putc('\r');
    serial_putc(c);
    if (c == '\n' || vm->line_len + 1 >= sizeof vm->line) {
        vm->line[vm->line_len] = 0;
        if (!strncmp(vm->line, "PASS", 4))
            vm->pass_lines++;
        else if (!strncmp(vm->line, "FAIL", 4))
            vm->fail_lines++;
        vm->line_len = 0;
    } else if (c != '\r') {
        vm->line[vm->line_len++] = c;
    }
}

static void on_request(void *ctx, enum dev_request what)
{
    struct vm *vm = ctx;
    if (vm->stop == VM_RUNNING)
        vm->stop = what == DEV_REQ_RESET  ? VM_STOP_RESET
                   : what == DEV_REQ_EXIT ? VM_STOP_DEBUG_EXIT
                                          : VM_STOP_POWEROFF;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
    vcpu_hide_tsc_leaves(cfg->hide_tsc_leaves); /* before the recorder copies the snapshot */
    /* A new vCPU's x87/SSE/AVX state, before the recorder's FPU section
     * (hv/recording.c) saves it as the guest's: nothing the last VM left in
     * those registers reaches this one. */
    xstate_reset(vmx_caps.host_xcr0);
    memset(vm, 0, sizeof *vm);
    vm->cfg = *cfg;
    vm->ram_hpa = mm_alloc_raw(cfg->ram_bytes, 2ull << 20);
    if (!vm->ram_hpa) {
        hv_log("vm: cannot allocate %lu MiB of guest RAM", cfg->ram_bytes >> 20);
        return -1;
    }
    memset(phys_to_virt(vm->ram_hpa), 0, cfg->ram_bytes);
    if (ept_build(&vm->ept, vm->ram_hpa, cfg->ram_bytes) != 0)
        return -1;
    struct vm_devices_config dc = {.rtc_epoch_sec = cfg->rtc_epoch_sec,
                                   .debug_exit = cfg->debug_exit};
    struct vm_devices_hooks hooks = {.com1_tx = on_com1_tx, .request = on_request, .ctx = vm};
    vm->rec = hvrec_vm_begin(&vm->devs, &dc, &hooks, cfg->ram_bytes, cfg->tsc_hz, cfg->cmdline,
                             &vm->vcpu.vmx);
    if (!vm->rec)
        vm_devices_init(&vm->devs, &dc, &hooks, 0);
    vm->vcpu.vm = vm;
    vm->vcpu.tsc_hz = cfg->tsc_hz;
    vm->vcpu.misc_enable = 1; /* fast strings */
    /* Guest TSC starts at 0 when the VM is created. */
    uint64_t now = rdtsc();
    vm->start_tsc = now;
    if (vmx_vcpu_init(&vm->vcpu.vmx, &vm->ept, cfg->vpid, 0x8000, 0x6ff0, -now) != 0) {
        hv_log("vm: VMCS setup failed");
        return -1;
    }
    vm->vcpu.vmx.hide_host_time = !cfg->show_host_time;
    return 0;
}

void vm_destroy(struct vm *vm)
{
    vmx_vcpu_destroy(&vm->vcpu.vmx);
}

void vm_port_io(struct vm_devices *d, struct vm_exit *e, uint64_t now_ns)
{
    uint32_t val = e->io.in ? 0 : e->io.value;
    vm_devices_io(d, e->io.port, e->io.size, !e->io.in, &val, now_ns);
    if (e->io.in)
        e->io.value = val & dev_size_mask(e->io.size);
}

/* ---- the VM layer's device calls: through the recorder when recording
 * (docs/replay.md), straight to the models otherwise; same behaviour ---- */
static uint32_t dev_io(struct vm *vm, const struct vm_exit *e, uint16_t port, unsigned size,
                       bool write, uint32_t value)
{
    if (vm->rec) {
        const struct vm_rec_exit_info x = {
            .tsc = e->guest_tsc, .rip = e->rip, .qual = e->qual, .insn_len = e->insn_len};
        return hvrec_io(vm->rec, &x, port, size, write, value);
    }
    uint32_t val = write ? value : 0;
    vm_devices_io(&vm->devs, port, size, write, &val, vm_now_ns(vm, e->guest_tsc));
    return val & dev_size_mask(size);
}

static void dev_advance(struct vm *vm, uint64_t tsc)
{
    if (vm->rec)
        hvrec_advance(vm->rec, tsc);
    else
        vm_devices_advance(&vm->devs, vm_now_ns(vm, tsc));
}

static uint8_t dev_ack(struct vm *vm, uint64_t tsc)
{
    return vm->rec ? hvrec_ack(vm->rec, tsc) : vm_devices_ack(&vm->devs, vm_now_ns(vm, tsc));
}

static void dev_com1_rx(struct vm *vm, const uint8_t *buf, size_t n, uint64_t tsc)
{
    if (vm->rec)
        hvrec_com1_rx(vm->rec, buf, n, tsc);
    else
        vm_devices_com1_rx(&vm->devs, buf, n, vm_now_ns(vm, tsc));
}

/* Every exit that is not a port access handled by dev_io, with its answers
 * (CPUID result, MSR value, CR value) once the handler has filled them. */
static void rec_exit(struct vm *vm, const struct vm_exit *e)
{
    if (!vm->rec)
        return;
    struct trace_exit t = {.tsc = e->guest_tsc,
                           .rip = e->rip,
                           .qual = e->qual,
                           .reason = e->reason,
                           .insn_len = e->insn_len};
    switch (e->reason) {
    case EXIT_CPUID:
        t.detail = TRACE_DETAIL_CPUID;
        t.u.cpuid.leaf = e->cpuid.leaf;
        t.u.cpuid.subleaf = e->cpuid.subleaf;
        t.u.cpuid.eax = e->cpuid.eax;
        t.u.cpuid.ebx = e->cpuid.ebx;
        t.u.cpuid.ecx = e->cpuid.ecx;
        t.u.cpuid.edx = e->cpuid.edx;
        break;
    case EXIT_RDMSR:
    case EXIT_WRMSR:
        t.detail = TRACE_DETAIL_MSR;
        t.u.msr.index = e->msr.index;
        t.u.msr.write = e->reason == EXIT_WRMSR;
        t.u.msr.value = e->msr.value;
        break;
    case EXIT_XSETBV:
        t.detail = TRACE_DETAIL_XSETBV;
        t.u.xsetbv.xcr = e->xsetbv.index;
        t.u.xsetbv.value = e->xsetbv.value;
        break;
    case EXIT_CR_ACCESS:
        t.detail = TRACE_DETAIL_CR;
        t.u.cr.cr = e->cr.cr;
        t.u.cr.access = e->cr.type;
        t.u.cr.gpr = e->cr.gpr;
        t.u.cr.value = e->cr.type == 3   ? e->cr.lmsw
                       : e->cr.type == 2 ? 0
                                         : vmx_guest_reg(&vm->vcpu.vmx, e->cr.gpr);
        break;
    case EXIT_EPT_VIOLATION:
        t.detail = TRACE_DETAIL_EPT;
        t.u.ept.gpa = e->gpa;
        t.u.ept.access = (uint32_t)(e->qual & 7);
        t.u.ept.gla = (e->qual & (1u << 7)) ? e->gla : 0;
        break;
    case EXIT_EXT_INTR:
        t.detail = TRACE_DETAIL_EXTINT;
        t.u.extint.vector = (uint8_t)(e->intr_info & 0xff);
        break;
    default: break;
    }
    hvrec_exit(vm->rec, &t);
}

static void fatal(struct vm *vm, const struct vm_exit *e, const char *why)
{
    hv_log("VM stopped: %s", why);
    vmx_dump_guest(&vm->vcpu.vmx, e);
    vm->stop = VM_STOP_FATAL;
}

/* Guest RAM [gpa, gpa + len) for the page walker, NULL outside RAM. */
static void *ram_map(void *ctx, uint64_t gpa, unsigned len)
{
    struct vm *vm = ctx;
    if (gpa >= vm->cfg.ram_bytes || vm->cfg.ram_bytes - gpa < len)
        return NULL;
    return vm_gpa(vm, gpa);
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
 * hardware. The memory operand is translated through the guest's paging
 * (hv/guest_walk.h); a fault there is injected as #PF before any device
 * access, so a restarted instruction repeats nothing. */
static void handle_string_io(struct vm *vm, struct vm_exit *e)
{
    struct vmx_vcpu *v = &vm->vcpu.vmx;
    unsigned bits = e->io.addr_bits, size = e->io.size;
    uint64_t amask = bits == 64 ? ~0ull : (1ull << bits) - 1;
    uint64_t rcx = vmx_guest_reg(v, R_RCX);
    if (e->io.rep && !(rcx & amask)) { /* nothing to do */
        rec_exit(vm, e);
        vmx_skip_insn(v, e);
        return;
    }
    struct gw_mode m = {.cr0 = vmx_guest_cr(0),
                        .cr3 = vmx_guest_cr(3),
                        .cr4 = vmx_guest_cr(4),
                        .efer = vmx_guest_efer(v),
                        .cpl = vmx_guest_cpl()};
    uint8_t *p[4];
    for (unsigned i = 0; i < size; i++) {
        uint64_t la = e->gla + i;
        if (bits != 64) /* the operand wraps at 4 GiB outside 64-bit mode */
            la &= 0xffffffffull;
        struct gw_result r;
        enum gw_status st = guest_walk(&m, la, e->io.in, ram_map, vm, &r);
        if (st == GW_PAGE_FAULT) {
            rec_exit(vm, e);
            v->g.cr2 = la;
            vmx_inject_exception(14, true, r.pf_err);
            return;
        }
        p[i] = st == GW_OK ? ram_map(vm, r.gpa, 1) : NULL;
        if (!p[i]) {
            rec_exit(vm, e);
            fatal(vm, e, "string port I/O: memory operand outside guest RAM");
            return;
        }
    }
    uint32_t val = 0;
    if (!e->io.in)
        for (unsigned i = 0; i < size; i++)
            val |= (uint32_t)*p[i] << (8 * i);
    e->io.value = dev_io(vm, e, e->io.port, size, !e->io.in, val);
    if (e->io.in)
        for (unsigned i = 0; i < size; i++)
            *p[i] = (uint8_t)(e->io.value >> (8 * i));
    uint64_t step = (vmx_guest_rflags() & (1u << 10)) ? -(uint64_t)size : size; /* DF */
    unsigned idx = e->io.in ? R_RDI : R_RSI;
    vmx_set_guest_reg(v, idx, addr_add(vmx_guest_reg(v, idx), step, bits));
    if (e->io.rep) {
        rcx = addr_add(rcx, ~0ull, bits);
        vmx_set_guest_reg(v, R_RCX, rcx);
        if (rcx & amask) {
            /* re-executed for the next element; an element has retired, so
             * an STI / MOV SS shadow is over and an interrupt may come in
             * between, as on hardware */
            vmx_end_interrupt_shadow();
            return;
        }
    }
    vmx_skip_insn(v, e);
}

static void handle_io(struct vm *vm, struct vm_exit *e)
{
    if (e->io.string) {
        handle_string_io(vm, e);
        return;
    }
    e->io.value = dev_io(vm, e, e->io.port, e->io.size, !e->io.in, e->io.value);
    if (e->io.in) {
        uint64_t rax = vmx_guest_reg(&vm->vcpu.vmx, R_RAX);
        uint64_t mask = dev_size_mask(e->io.size);
        if (e->io.size == 4)
            rax = e->io.value; /* 32-bit destination zero-extends */
        else
            rax = (rax & ~mask) | e->io.value;
        vmx_set_guest_reg(&vm->vcpu.vmx, R_RAX, rax);
    }
    vmx_skip_insn(&vm->vcpu.vmx, e);
}

static void poll_console(struct vm *vm, uint64_t tsc)
{
    uint8_t buf[16];
    size_t n = 0;
    int c;
    while (n < sizeof buf && (c = serial_getc()) >= 0)
        buf[n++] = (uint8_t)c;
    if (n)
        dev_com1_rx(vm, buf, n, tsc);
}

/* HLT retired. IF=0: nothing can wake the vCPU -> power-off. IF=1: move
 * virtual time to the next device deadline by raising the TSC offset. */
static void handle_halt(struct vm *vm, const struct vm_exit *e)
{
    struct vmx_vcpu *v = &vm->vcpu.vmx;
    if (!(vmx_guest_rflags() & (1u << 9))) {
        vm->stop = VM_STOP_POWEROFF;
        return;
    }
    uint64_t now = vm_now_ns(vm, e->guest_tsc);
    poll_console(vm, e->guest_tsc);
    dev_advance(vm, e->guest_tsc);
    if (vm_devices_intr(&vm->devs))
        return;
    uint64_t next = vm_devices_next_event_ns(&vm->devs, now);
    if (next == TIME_NEVER && vm->cfg.interactive) {
        /* Nothing will happen until someone types: wait for COM1 input
         * (the guest TSC keeps running with the host's meanwhile). */
        int c;
        while ((c = serial_getc()) < 0)
            cpu_pause();
        uint8_t b = (uint8_t)c;
        dev_com1_rx(vm, &b, 1, vmx_guest_tsc_now(v));
        return;
    }
    if (next == TIME_NEVER) {
        vm->stop = VM_STOP_IDLE;
        return;
    }
    if (vm->cfg.time_limit_ns && next > vm->cfg.time_limit_ns)
        next = vm->cfg.time_limit_ns;
    uint64_t target = ns_to_tsc_ceil(next, vm->cfg.tsc_hz);
    uint64_t cur = vmx_guest_tsc_now(v);
    if (vm->cfg.realtime && target > cur) {
        /* realtime=1: let the host clock run for the idle time first, so
         * that an idle guest's clock keeps pace with the wall clock (guest
         * TSC ticks are host TSC ticks). Typing ends the wait; either way
         * the guest sees the same jump, as the wait is hypervisor time. */
        uint64_t t0 = rdtsc();
        while (rdtsc() - t0 < target - cur) {
            poll_console(vm, cur);
            if (vm_devices_intr(&vm->devs))
                return;
            cpu_pause();
        }
    }
    if (target > cur) {
        vmx_set_tsc_offset(v, v->tsc_offset + (target - cur));
        vm->hlt_skipped_ns += next - now;
    }
    dev_advance(vm, vmx_guest_tsc_now(v));
}

#define INTR_TYPE_MASK_VM (7u << 8) /* interruption type in the exit's interruption info */

static void vm_handle_exit(struct vm *vm, struct vm_exit *e)
{
    switch (e->reason) {
    case EXIT_IO: handle_io(vm, e); break;
    case EXIT_PREEMPT_TIMER:
    case EXIT_INTR_WINDOW: break; /* the next entry's preparation does the work */
    case EXIT_EXT_INTR:
        /* A physical interrupt (acknowledged by the exit): not the guest's. */
        if (vm->exits[EXIT_EXT_INTR] <= 4)
            hv_log("physical interrupt vector 0x%x during the guest: dropped", e->intr_info & 0xff);
        break;
    case EXIT_EXCEPTION:
        if ((e->intr_info & INTR_TYPE_MASK_VM) ==
            (2u << 8)) { /* NMI: the host's, not the guest's */
            if (vm->exits[EXIT_EXCEPTION] <= 4)
                hv_log("physical NMI during the guest: dropped");
            break;
        }
        fatal(vm, e, "unexpected guest exception exit");
        break;
    case EXIT_TRIPLE_FAULT:
        hv_log("guest triple fault (shutdown) at rip 0x%lx", e->rip);
        vmx_dump_guest(&vm->vcpu.vmx, e);
        vm->stop = VM_STOP_TRIPLE_FAULT;
        break;
    case EXIT_EPT_VIOLATION: fatal(vm, e, "EPT violation: guest access outside its RAM"); break;
    case EXIT_EPT_MISCONFIG: fatal(vm, e, "EPT misconfiguration"); break;
    case EXIT_VMFAIL: fatal(vm, e, "VM entry failed (VMfail)"); break;
    case EXIT_BAD_GUEST_STATE:
    case EXIT_BAD_MSR_LOAD:
    case EXIT_MCE_ENTRY: fatal(vm, e, "VM entry failed"); break;
    default: fatal(vm, e, "unhandled VM exit"); break;
    }
}

/* Before each entry: bring devices up to date, deliver or wait for INTR,
 * arm the preemption timer for the next device event. */
static void prepare_entry(struct vm *vm)
{
    struct vmx_vcpu *v = &vm->vcpu.vmx;
    uint64_t tsc = vmx_guest_tsc_now(v);
    uint64_t now = vm_now_ns(vm, tsc);
    if (vm->cfg.time_limit_ns && now >= vm->cfg.time_limit_ns) {
        vm->stop = VM_STOP_TIMEOUT;
        return;
    }
    if ((vm->total_exits & 255) == 0)
        poll_console(vm, tsc);
    /* Time-driven device work only when some device has an event due since
     * the devices' last time (an advance with nothing due changes nothing,
     * and is the costliest part of an exit). */
    uint64_t next = vm_devices_next_event_ns(&vm->devs, vm->devs.now_ns);
    bool touched = false;
    if (next <= now) {
        dev_advance(vm, tsc);
        touched = true;
    }
    bool want_window = false;
    if (vm_devices_intr(&vm->devs)) {
        if (vmx_interruptible()) {
            uint8_t vec = dev_ack(vm, tsc);
            vmx_inject_extint(vec);
            vm->injected_irqs++;
            touched = true;
        } else {
            want_window = true; /* exit as soon as the guest can take it */
        }
    }
    vmx_set_intr_window(v, want_window);
    if (touched)
        next = vm_devices_next_event_ns(&vm->devs, now);
    if (vm->cfg.time_limit_ns && (next == TIME_NEVER || next > vm->cfg.time_limit_ns))
        next = vm->cfg.time_limit_ns;
    v->preempt_deadline = next == TIME_NEVER ? UINT64_MAX : ns_to_tsc_ceil(next, vm->cfg.tsc_hz);
}

enum vm_stop vm_run_vcpu(struct vm *vm)
{
    struct vcpu *vc = &vm->vcpu;
    while (vm->stop == VM_RUNNING) {
        prepare_entry(vm);
        if (vm->stop != VM_RUNNING)
            break;
        hvrec_before_entry(); /* the guest's FPU state back, if recording took it */
        struct vm_exit e = vmx_vcpu_run(&vc->vmx);
        vm->total_exits++;
        vm->exits[e.reason < EXIT_REASON_MAX ? e.reason : EXIT_REASON_MAX]++;
        if (e.reason != EXIT_VMFAIL && !(e.raw_reason & (1u << 31)))
            vmx_requeue_idt_vectoring(&e);
        switch (vcpu_handle_exit(vc, &e)) {
        case VCPU_HANDLED: rec_exit(vm, &e); break;
        case VCPU_HALTED:
            rec_exit(vm, &e);
            handle_halt(vm, &e);
            break;
        case VCPU_NOT_MINE:
            if (e.reason != EXIT_IO)
                rec_exit(vm, &e); /* port I/O is recorded by dev_io */
            vm_handle_exit(vm, &e);
            break;
        }
    }
    if (vm->rec) {
        static const uint8_t end_reason[] = {
            [VM_STOP_POWEROFF] = TRACE_END_POWEROFF,         [VM_STOP_RESET] = TRACE_END_RESET,
            [VM_STOP_TRIPLE_FAULT] = TRACE_END_TRIPLE_FAULT, [VM_STOP_IDLE] = TRACE_END_STOPPED,
            [VM_STOP_TIMEOUT] = TRACE_END_STOPPED,           [VM_STOP_FATAL] = TRACE_END_ERROR,
            [VM_STOP_DEBUG_EXIT] = TRACE_END_DEBUG_EXIT,
        };
        hvrec_vm_end(vm->rec, end_reason[vm->stop]);
        vm->rec = NULL;
    }
    return vm->stop;
}

void vm_print_stats(const struct vm *vm)
{
    char buf[400];
    int n = 0;
    for (unsigned r = 0; r <= EXIT_REASON_MAX; r++) {
        if (!vm->exits[r] || n > (int)sizeof buf - 40)
            continue;
        n += hv_snprintf(buf + n, sizeof buf - (size_t)n, " %s=%lu",
                         r < EXIT_REASON_MAX ? vmx_exit_name(r) : "other", vm->exits[r]);
    }
    hv_log("  exits %lu:%s", vm->total_exits, buf);
    hv_log("  irqs injected %lu, idle time skipped %lu us, unknown ports r/w %lu/%lu",
           vm->injected_irqs, vm->hlt_skipped_ns / 1000, vm->devs.bus.unknown_reads,
           vm->devs.bus.unknown_writes);
    /* The same counts in a parseable line, per basic exit reason number
     * (compared with the recorded trace by tests/e2e/check-trace.sh). */
    n = 0;
    buf[0] = 0;
    for (unsigned r = 0; r <= EXIT_REASON_MAX; r++)
        if (vm->exits[r] && n < (int)sizeof buf - 24)
            n += hv_snprintf(buf + n, sizeof buf - (size_t)n, " r%u=%lu", r, vm->exits[r]);
    hv_log("EXIT-COUNTS total=%lu%s", vm->total_exits, buf);
}
