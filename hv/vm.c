/* VM layer: owns guest memory, the device set and virtual time, and runs the
 * vCPU loop: the VM exit policy (hv/vm_policy.h) prepares each entry, the
 * vCPU handles its local exits, the policy the port I/O and HLT exits. What
 * is here is the VMX glue: the policy's operations on the VMCS, recording of
 * the other exits, and fatal exits. */
#include "hv/vm.h"
#include "hv/guest_walk.h"
#include "hv/arch.h"
#include "hv/lib.h"
#include "hv/mm.h"
#include "hv/recording.h"
#include "hv/vm_mmio.h"
#include "hv/vm_policy.h"
#include "hv/vm_polrec.h"
#include "hv/vcpu_sched.h"
#include "hv/xstate.h"

/* A vCPU's turn on the physical CPU when others can run: 1 ms of guest
 * time (the VMX preemption timer ends it). */
#define VM_QUANTUM_NS 1000000ull

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

static const struct vm_policy_ops vmx_policy_ops;

static void on_request(void *ctx, enum dev_request what)
{
    struct vm *vm = ctx;
    if (vm->pol.stop == VM_RUNNING)
        vm->pol.stop = what == DEV_REQ_RESET  ? VM_STOP_RESET
                       : what == DEV_REQ_EXIT ? VM_STOP_DEBUG_EXIT
                                              : VM_STOP_POWEROFF;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
    vcpu_hide_tsc_leaves(cfg->hide_tsc_leaves); /* before the recorder copies the snapshot */
    vcpu_set_apic(cfg->apic);
    if (cfg->apic && cfg->ram_bytes > IOAPIC_DEFAULT_BASE) {
        hv_log("vm: apic=1 needs guest RAM below the I/O APIC page (at most %lu MiB)",
               (uint64_t)(IOAPIC_DEFAULT_BASE >> 20));
        return -1;
    }
    /* A new vCPU's x87/SSE/AVX state, before the recorder's FPU section
     * (hv/recording.c) saves it as the guest's: nothing the last VM left in
     * those registers reaches this one. */
    xstate_reset(vmx_caps.host_xcr0);
    unsigned ncpu = cfg->cpus ? cfg->cpus : 1;
    if (ncpu > VM_MAX_VCPUS || ncpu > VM_DEVICES_MAX_CPUS || (ncpu > 1 && !cfg->apic)) {
        hv_log("vm: %u vCPUs: 1..%u, and more than one needs apic=1", ncpu, VM_MAX_VCPUS);
        return -1;
    }
    memset(vm, 0, sizeof *vm);
    vm->cfg = *cfg;
    vm->nvcpus = ncpu;
    vm->ram_hpa = mm_alloc_raw(cfg->ram_bytes, 2ull << 20);
    if (!vm->ram_hpa) {
        hv_log("vm: cannot allocate %lu MiB of guest RAM", cfg->ram_bytes >> 20);
        return -1;
    }
    memset(phys_to_virt(vm->ram_hpa), 0, cfg->ram_bytes);
    if (ept_build(&vm->ept, vm->ram_hpa, cfg->ram_bytes) != 0)
        return -1;
    struct vm_devices_config dc = {.rtc_epoch_sec = cfg->rtc_epoch_sec,
                                   .debug_exit = cfg->debug_exit,
                                   .apic = cfg->apic,
                                   .cpus = ncpu,
                                   .tsc_hz = cfg->apic ? cfg->tsc_hz : 0};
    struct vm_devices_hooks hooks = {.com1_tx = on_com1_tx, .request = on_request, .ctx = vm};
    vm->rec = hvrec_vm_begin(&vm->devs, &dc, &hooks, cfg->ram_bytes, cfg->tsc_hz, cfg->cmdline,
                             cfg->time_limit_ns, &vm->vcpus[0].vmx);
    vm->recording = vm->rec != NULL;
    if (!vm->recording) {
        /* recording off: the same recorder calls, into a null sink */
        const struct vm_recorder_config off = {.off = true, .tsc_hz = cfg->tsc_hz};
        vm->rec = &vm->unrecorded;
        if (vm_recorder_init(vm->rec, &vm->devs, &dc, &hooks, &off) != 0) {
            hv_log("vm: device set-up failed");
            return -1;
        }
    }
    const struct vm_policy_config pc = {.tsc_hz = cfg->tsc_hz, .time_limit_ns = cfg->time_limit_ns};
    vm_policy_init(&vm->pol, &vmx_policy_ops, vm, &vm->devs, &pc);
    /* Guest TSC starts at 0 when the VM is created, the same on every vCPU
     * (one TSC offset, carried from vCPU to vCPU at each switch). The APs
     * first, so that the BSP's VMCS is the current one at the end. */
    uint64_t now = rdtsc();
    vm->start_tsc = now;
    for (unsigned i = vm->nvcpus; i-- > 0;) {
        struct vcpu *v = &vm->vcpus[i];
        v->vm = vm;
        v->index = i;
        v->tsc_hz = cfg->tsc_hz;
        v->misc_enable = 1; /* fast strings */
        v->run = i == 0 ? VCPU_RUNNABLE : VCPU_WAIT_SIPI;
        /* VPIDs apart: each vCPU's TLB entries (Linux numbers PCIDs per CPU) */
        uint16_t vpid = (uint16_t)(cfg->vpid + i * 0x1000u);
        if (vmx_vcpu_init(&v->vmx, &vm->ept, vpid, 0x8000, 0x6ff0, -now) != 0) {
            hv_log("vm: VMCS setup failed (vCPU %u)", i);
            return -1;
        }
        v->vmx.hide_host_time = !cfg->show_host_time;
        if (vm->nvcpus > 1) {
            if (xstate_area_size() > XSTATE_AREA_MAX) {
                hv_log("vm: XSAVE area of %u bytes: more than %u", xstate_area_size(),
                       XSTATE_AREA_MAX);
                return -1;
            }
            uint64_t pa = mm_alloc(XSTATE_AREA_MAX, PAGE_SIZE);
            if (!pa) {
                hv_log("vm: no memory for vCPU %u's XSAVE area", i);
                return -1;
            }
            v->xsave = phys_to_virt(pa);
            xstate_area_init(v->xsave);
        }
    }
    vm->cur = vm->fpu_owner = &vm->vcpus[0];
    vm->quantum_tsc = vm_policy_ns_to_tsc_ceil(VM_QUANTUM_NS, cfg->tsc_hz);
    vm->slice_end = vm->quantum_tsc;
    return 0;
}

void vm_destroy(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nvcpus; i++)
        vmx_vcpu_destroy(&vm->vcpus[i].vmx);
    vm->cur = vm->fpu_owner = NULL;
}

uint64_t vm_guest_tsc_now(const struct vm *vm)
{
    return vmx_guest_tsc_now(&vm->cur->vmx);
}

/* ---- the policy's operations on this vCPU (struct vm_policy_ops) ---- */

static uint64_t op_reg(void *ctx, unsigned r)
{
    struct vm *vm = ctx;
    return vmx_guest_reg(&vm->cur->vmx, r);
}

static void op_set_reg(void *ctx, unsigned r, uint64_t val)
{
    struct vm *vm = ctx;
    vmx_set_guest_reg(&vm->cur->vmx, r, val);
}

static uint64_t op_rflags(void *ctx)
{
    (void)ctx;
    return vmx_guest_rflags();
}

static bool op_interruptible(void *ctx)
{
    (void)ctx;
    return vmx_interruptible();
}

static void op_inject_extint(void *ctx, uint8_t vector)
{
    (void)ctx;
    vmx_inject_extint(vector);
}

static void op_inject_pf(void *ctx, uint64_t cr2, uint32_t err)
{
    struct vm *vm = ctx;
    vm->cur->vmx.g.cr2 = cr2;
    vm->polrec.fault = err + 1;
    vmx_inject_exception(14, true, err);
}

static void op_set_intr_window(void *ctx, bool on)
{
    struct vm *vm = ctx;
    vmx_set_intr_window(&vm->cur->vmx, on);
}

static void op_skip_insn(void *ctx)
{
    struct vm *vm = ctx;
    vm->polrec.retired = true;
    vmx_skip_insn(&vm->cur->vmx, vm->exit);
}

static void op_end_interrupt_shadow(void *ctx)
{
    (void)ctx;
    vmx_end_interrupt_shadow();
}

/* Guest RAM [gpa, gpa + len) for the page walker, NULL outside RAM. */
static void *ram_map(void *ctx, uint64_t gpa, unsigned len)
{
    struct vm *vm = ctx;
    if (gpa >= vm->cfg.ram_bytes || vm->cfg.ram_bytes - gpa < len)
        return NULL;
    return vm_gpa(vm, gpa);
}

/* A string instruction's operand byte, through the guest's paging
 * (hv/guest_walk.h). */
static enum vm_policy_map op_map_operand(void *ctx, uint64_t la, bool write, uint8_t **p,
                                         uint32_t *pf_err)
{
    struct vm *vm = ctx;
    struct vmx_vcpu *v = &vm->cur->vmx;
    struct gw_mode m = {.cr0 = vmx_guest_cr(0),
                        .cr3 = vmx_guest_cr(3),
                        .cr4 = vmx_guest_cr(4),
                        .efer = vmx_guest_efer(v),
                        .cpl = vmx_guest_cpl()};
    struct gw_result r;
    enum gw_status st = guest_walk(&m, la, write, ram_map, vm, &r);
    if (st == GW_PAGE_FAULT) {
        *pf_err = r.pf_err;
        return VM_POLICY_MAP_PF;
    }
    *p = st == GW_OK ? ram_map(vm, r.gpa, 1) : NULL;
    return *p ? VM_POLICY_MAP_OK : VM_POLICY_MAP_OUTSIDE;
}

static uint64_t op_tsc_now(void *ctx)
{
    struct vm *vm = ctx;
    return vmx_guest_tsc_now(&vm->cur->vmx);
}

static void op_skip_tsc(void *ctx, uint64_t delta)
{
    struct vm *vm = ctx;
    vmx_set_tsc_offset(&vm->cur->vmx, vm->cur->vmx.tsc_offset + delta);
}

static void op_arm_timer(void *ctx, uint64_t tsc)
{
    struct vm *vm = ctx;
    vm->cur->vmx.preempt_deadline = tsc;
    vm_polrec_deadline(vm, vmx_guest_tsc_now(&vm->cur->vmx), tsc);
}

static void com1_rx(struct vm *vm, const uint8_t *buf, size_t n, uint64_t tsc)
{
    if (vm->recording)
        hvrec_com1_rx(vm->rec, buf, n, tsc);
    else
        vm_rec_com1_rx(vm->rec, buf, n, tsc);
}

static void op_poll_input(void *ctx, uint64_t tsc)
{
    struct vm *vm = ctx;
    uint8_t buf[16];
    size_t n = 0;
    int c;
    while (n < sizeof buf && (c = serial_getc()) >= 0)
        buf[n++] = (uint8_t)c;
    if (n)
        com1_rx(vm, buf, n, tsc);
}

/* interactive=1: with no device deadline, wait for COM1 input (the guest
 * TSC keeps running with the host's meanwhile). realtime=1: let the host
 * clock run for the idle time first, so that an idle guest's clock keeps
 * pace with the wall clock (guest TSC ticks are host TSC ticks); typing
 * ends the wait. Either way the guest sees the same jump afterwards, as the
 * wait is hypervisor time. */
static bool op_idle_wait(void *ctx, uint64_t deadline)
{
    struct vm *vm = ctx;
    struct vmx_vcpu *v = &vm->cur->vmx;
    if (deadline == UINT64_MAX) {
        if (!vm->cfg.interactive)
            return false;
        int c;
        while ((c = serial_getc()) < 0)
            cpu_pause();
        uint8_t b = (uint8_t)c;
        com1_rx(vm, &b, 1, vmx_guest_tsc_now(v));
        vm->polrec.input = true;
        return true;
    }
    uint64_t cur = vmx_guest_tsc_now(v);
    if (!vm->cfg.realtime || deadline <= cur)
        return false;
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < deadline - cur) {
        op_poll_input(vm, cur);
        if (vm_devices_intr(&vm->devs)) {
            vm->polrec.input = true;
            return true;
        }
        cpu_pause();
    }
    return false;
}

/* The devices, always through the recorder (docs/replay.md): recording,
 * through hv/recording.c's wrappers (FPU section, time hidden); recording
 * off, the same calls into a recorder with a null sink. */
static uint32_t op_io(void *ctx, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                      bool write, uint32_t value)
{
    struct vm *vm = ctx;
    if (vm->recording)
        return hvrec_io(vm->rec, x, port, size, write, value);
    return vm_rec_io(vm->rec, x, port, size, write, value);
}

static void op_advance(void *ctx, uint64_t tsc)
{
    struct vm *vm = ctx;
    if (vm->recording)
        hvrec_advance(vm->rec, tsc);
    else
        vm_rec_advance(vm->rec, tsc);
}

static uint8_t op_ack(void *ctx, uint64_t tsc)
{
    struct vm *vm = ctx;
    return vm->recording ? hvrec_ack(vm->rec, tsc) : vm_rec_ack(vm->rec, tsc);
}

static void op_blocked(void *ctx, uint64_t tsc)
{
    vm_polrec_blocked(ctx, tsc); /* to the recorder, recording or not */
}

static const struct vm_policy_ops vmx_policy_ops = {
    .reg = op_reg,
    .set_reg = op_set_reg,
    .rflags = op_rflags,
    .interruptible = op_interruptible,
    .inject_extint = op_inject_extint,
    .inject_pf = op_inject_pf,
    .set_intr_window = op_set_intr_window,
    .skip_insn = op_skip_insn,
    .end_interrupt_shadow = op_end_interrupt_shadow,
    .map_operand = op_map_operand,
    .tsc_now = op_tsc_now,
    .skip_tsc = op_skip_tsc,
    .arm_timer = op_arm_timer,
    .poll_input = op_poll_input,
    .idle_wait = op_idle_wait,
    .io = op_io,
    .advance = op_advance,
    .ack = op_ack,
    .blocked = op_blocked,
};

/* ---- the APIC platform: MMIO and the local APIC's MSRs ---- */

static uint64_t op_mmio(void *ctx, const struct vm_rec_exit_info *x, uint64_t gpa, unsigned size,
                        bool write, uint64_t value)
{
    struct vm *vm = ctx;
    if (vm->recording)
        return hvrec_mmio(vm->rec, x, gpa, size, write, value);
    return vm_rec_mmio(vm->rec, x, gpa, size, write, value);
}

static void op_advance_rip(void *ctx, unsigned len)
{
    struct vm *vm = ctx;
    struct vm_exit e = *vm->exit;
    e.insn_len = len;
    vmx_skip_insn(&vm->cur->vmx, &e);
}

static const struct vm_mmio_ops vmx_mmio_ops = {.access = op_mmio, .advance_rip = op_advance_rip};

static void rec_exit(struct vm *vm, const struct vm_exit *e);
static void fatal(struct vm *vm, const struct vm_exit *e, const char *why);

/* An EPT violation with the APIC platform: a device register access
 * (hv/vm_mmio.h), recorded by the recorder when it was one. */
static void handle_mmio(struct vm *vm, struct vm_exit *e)
{
    uint64_t cs_base;
    unsigned bits = vmx_guest_code_bits(&cs_base);
    struct vm_mmio_exit m = {
        .x = {.tsc = e->guest_tsc, .rip = e->rip, .qual = e->qual, .vcpu = vm->cur->index},
        .gpa = e->gpa,
        .mode = bits == 64   ? MMIO_MODE_64
                : bits == 32 ? MMIO_MODE_32
                             : MMIO_MODE_16,
        .code_la = cs_base + e->rip};
    enum vm_policy_io_result r = vm_policy_mmio(&vm->pol, &vmx_mmio_ops, &m);
    if (r == VM_POLICY_IO_DEVICE)
        return;
    rec_exit(vm, e);
    if (r == VM_POLICY_IO_FATAL) {
        static char why[96];
        hv_snprintf(why, sizeof why, "MMIO at gpa 0x%lx: %s", e->gpa, m.why ? m.why : "?");
        fatal(vm, e, why);
    }
}

/* RDMSR/WRMSR of a local APIC MSR: a device call (recorded as one). Returns
 * false for any other MSR (the vCPU's). */
static bool handle_apic_msr(struct vm *vm, struct vm_exit *e)
{
    if (!vm->cfg.apic || (e->reason != EXIT_RDMSR && e->reason != EXIT_WRMSR) ||
        !lapic_msr_owned(e->msr.index))
        return false;
    bool write = e->reason == EXIT_WRMSR;
    struct vm_rec_exit_info x = {.tsc = e->guest_tsc,
                                 .rip = e->rip,
                                 .qual = e->qual,
                                 .insn_len = e->insn_len,
                                 .vcpu = vm->cur->index};
    uint64_t v = write ? e->msr.value : 0;
    int rc = vm->recording ? hvrec_msr(vm->rec, &x, e->msr.index, write, &v)
                           : vm_rec_msr(vm->rec, &x, e->msr.index, write, &v);
    if (rc != 0) {
        vmx_inject_exception(13, true, 0);
        return true;
    }
    if (!write) {
        vmx_set_guest_reg(&vm->cur->vmx, R_RAX, (uint32_t)v);
        vmx_set_guest_reg(&vm->cur->vmx, R_RDX, v >> 32);
    }
    vmx_skip_insn(&vm->cur->vmx, e);
    return true;
}

/* Every exit that is not a port access handled by dev_io, with its answers
 * (CPUID result, MSR value, CR value) once the handler has filled them. */
static void rec_exit(struct vm *vm, const struct vm_exit *e)
{
    if (!vm->recording)
        return; /* the null sink would drop it */
    struct trace_exit t = {.vcpu = vm->cur->index,
                           .tsc = e->guest_tsc,
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
                                         : vmx_guest_reg(&vm->cur->vmx, e->cr.gpr);
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
    vmx_dump_guest(&vm->cur->vmx, e);
    vm->pol.stop = VM_STOP_FATAL;
}

static void handle_io(struct vm *vm, struct vm_exit *e)
{
    struct vm_policy_io io = {.x = {.tsc = e->guest_tsc,
                                    .rip = e->rip,
                                    .qual = e->qual,
                                    .insn_len = e->insn_len,
                                    .vcpu = vm->cur->index},
                              .port = e->io.port,
                              .size = e->io.size,
                              .in = e->io.in,
                              .string = e->io.string,
                              .rep = e->io.rep,
                              .addr_bits = e->io.addr_bits,
                              .gla = e->gla,
                              .value = e->io.value};
    vm_polrec_io_begin(vm, &io);
    enum vm_policy_io_result r = vm_policy_io(&vm->pol, &io);
    e->io.value = io.value;
    if (r != VM_POLICY_IO_DEVICE)
        rec_exit(vm, e); /* a device access is recorded by the recorder */
    vm_polrec_io_end(vm);
    if (r == VM_POLICY_IO_FATAL)
        fatal(vm, e, "string port I/O: memory operand outside guest RAM");
}

#define INTR_TYPE_MASK_VM (7u << 8) /* interruption type in the exit's interruption info */

static void vm_handle_exit(struct vm *vm, struct vm_exit *e)
{
    switch (e->reason) {
    case EXIT_IO: handle_io(vm, e); break;
    case EXIT_PREEMPT_TIMER:
    case EXIT_INTR_WINDOW: break; /* the next entry's preparation does the work */
    case EXIT_PAUSE:              /* several vCPUs: this one spins, give the others their turn */
        vmx_skip_insn(&vm->cur->vmx, e);
        vm->yield = true;
        break;
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
        vmx_dump_guest(&vm->cur->vmx, e);
        vm->pol.stop = VM_STOP_TRIPLE_FAULT;
        break;
    case EXIT_EPT_VIOLATION:
        if (vm->cfg.apic)
            handle_mmio(vm, e);
        else
            fatal(vm, e, "EPT violation: guest access outside its RAM");
        break;
    case EXIT_EPT_MISCONFIG: fatal(vm, e, "EPT misconfiguration"); break;
    case EXIT_VMFAIL: fatal(vm, e, "VM entry failed (VMfail)"); break;
    case EXIT_BAD_GUEST_STATE:
    case EXIT_BAD_MSR_LOAD:
    case EXIT_MCE_ENTRY: fatal(vm, e, "VM entry failed"); break;
    default: fatal(vm, e, "unhandled VM exit"); break;
    }
}

/* ---- several vCPUs on the one physical CPU ---- */

/* Makes next the current vCPU: its VMCS, the VM's clock, the shared MSRs;
 * device calls and the exit policy from now on are its (the recorder
 * stamps Inject / IntrBlocked with it); a new slice begins. */
static void switch_to(struct vm *vm, struct vcpu *next)
{
    struct vcpu *prev = vm->cur;
    if (next != prev) {
        vmx_vcpu_switch(&prev->vmx, &next->vmx);
        vm->cur = next;
        vm->pol.cpu = next->index;
        vm->rec->vcpu = next->index;
        vm->switches++;
    }
    vm->slice_end = vmx_guest_tsc_now(&next->vmx) + vm->quantum_tsc;
}

/* The physical x87/SSE/AVX registers to the current vCPU's state (after
 * the recorder's FPU section gave the guest's back: hvrec_before_entry). */
static void fpu_to_current(struct vm *vm)
{
    if (vm->fpu_owner == vm->cur)
        return;
    xstate_save(vm->fpu_owner->xsave, vmx_caps.host_xcr0);
    xstate_load(vm->cur->xsave, vmx_caps.host_xcr0);
    vm->fpu_owner = vm->cur;
}

/* An AP started by a SIPI: INIT state, real mode at vector << 8 : 0. */
static void start_ap(struct vm *vm, struct vcpu *ap, uint8_t vector)
{
    struct vcpu *prev = vm->cur;
    vmx_vcpu_switch(&prev->vmx, &ap->vmx);
    vmx_vcpu_start_sipi(&ap->vmx, vector);
    vmx_vcpu_switch(&ap->vmx, &prev->vmx);
    if (vm->fpu_owner == ap) /* its own INIT: its registers are the live ones */
        xstate_reset(vmx_caps.host_xcr0);
    else
        xstate_area_init(ap->xsave);
    ap->pol.host = NULL; /* the CPUID/MSR policy starts afresh on its first exit */
    ap->misc_enable = 1;
    ap->run = VCPU_RUNNABLE;
    if (vm->recording) { /* replay checks it against the model's SIPI */
        struct trace_dev_event ev = {.tsc = vmx_guest_tsc_now(&prev->vmx),
                                     .kind = TRACE_DEV_CPU_START};
        ev.u.cpu_start.vcpu = ap->index;
        ev.u.cpu_start.vector = vector;
        hvrec_policy(vm->rec, &ev);
    }
    hv_log("vm: vCPU %u started by SIPI vector 0x%02x (CS:IP %04x:0000)", ap->index, vector,
           (unsigned)vector << 8);
}

/* INIT and SIPI the local APICs received (the devices' core events). An
 * INIT stops an AP (it waits for a SIPI); a SIPI starts a waiting one, and
 * only then are the events taken, both at once, as replay takes them at
 * the CpuStart record. The BSP's INIT is not modelled (left pending). */
static void cpu_events(struct vm *vm)
{
    for (unsigned i = 1; i < vm->nvcpus; i++) {
        uint32_t ev = vm_devices_cpu_events(&vm->devs, i);
        if (!ev)
            continue;
        struct vcpu *v = &vm->vcpus[i];
        if (ev & VM_CPU_EV_INIT)
            v->run = VCPU_WAIT_SIPI;
        if ((ev & VM_CPU_EV_SIPI) && v->run == VCPU_WAIT_SIPI) {
            uint8_t vector = vm_devices_sipi_vector(&vm->devs, i);
            vm_devices_cpu_events_take(&vm->devs, i, VM_CPU_EV_INIT | VM_CPU_EV_SIPI);
            start_ap(vm, v, vector);
        }
    }
}

/* Every vCPU halted with nothing pending, or waiting for a SIPI: the BSP's
 * HLT decides as with one vCPU (IF=0: power-off; else virtual time skips
 * to the next device event, or the VM stops idle). */
static void all_idle(struct vm *vm)
{
    switch_to(vm, &vm->vcpus[0]);
    uint64_t now = vmx_guest_tsc_now(&vm->cur->vmx);
    op_advance(vm, now);
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i].run == VCPU_IN_HLT && vm->vcpus[i].hlt_if &&
            vm_devices_intr_cpu(&vm->devs, i))
            return; /* an interrupt came due: schedule again */
    vm_policy_halt(&vm->pol, now);
    vm_polrec_halt(vm, vmx_guest_rflags()); /* the BSP's (replay checks it) */
}

/* Before an entry with several vCPUs: INIT/SIPI, then whose turn it is.
 * The current vCPU keeps the CPU until its slice ends, it halts or spins,
 * or a halted one has an interrupt pending. Returns false when no vCPU
 * can run now (time moved on or the VM stopped: decide again). */
static bool schedule(struct vm *vm)
{
    cpu_events(vm);
    struct vcpu *cur = vm->cur;
    uint64_t now = vmx_guest_tsc_now(&cur->vmx);
    bool yields = vm->yield || now >= vm->slice_end || cur->run != VCPU_RUNNABLE;
    vm->yield = false;
    enum vcpu_run_state run[VM_MAX_VCPUS];
    bool pending[VM_MAX_VCPUS];
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        run[i] = vm->vcpus[i].run;
        pending[i] =
            run[i] == VCPU_IN_HLT && vm->vcpus[i].hlt_if && vm_devices_intr_cpu(&vm->devs, i);
        if (pending[i] && i != cur->index)
            yields = true; /* a halted vCPU woke: its turn */
    }
    int next = vcpu_sched_next(run, pending, vm->nvcpus, cur->index, yields);
    if (next < 0) {
        all_idle(vm);
        return false;
    }
    struct vcpu *nv = &vm->vcpus[next];
    nv->run = VCPU_RUNNABLE;
    vm->contended = false;
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (i != (unsigned)next && vcpu_sched_can_run(run[i], pending[i]))
            vm->contended = true;
    if (nv != cur || yields)
        switch_to(vm, nv);
    return true;
}

enum vm_stop vm_run(struct vm *vm)
{
    bool smp = vm->nvcpus > 1;
    while (vm->pol.stop == VM_RUNNING) {
        if (smp && !schedule(vm))
            continue;
        struct vcpu *vc = vm->cur;
        vm_policy_prepare_entry(&vm->pol);
        if (vm->pol.stop != VM_RUNNING)
            break;
        if (smp) {
            /* Alone (the others halted or waiting for a SIPI): no quantum,
             * and PAUSE runs natively (udelay loops, spin-waits); a device
             * deadline ends the entry when one of them may wake. */
            if (vm->contended && vc->vmx.preempt_deadline > vm->slice_end)
                vc->vmx.preempt_deadline = vm->slice_end; /* the quantum */
            if (vmx_caps.pause_exit)
                vmx_set_pause_exit(&vc->vmx, vm->contended);
        }
        hvrec_before_entry(); /* the guest's FPU state back, if recording took it */
        if (smp)
            fpu_to_current(vm);
        struct vm_exit e;
        vmx_vcpu_run(&vc->vmx, &e);
        vm->exit = &e;
        vc->exits++;
        vm->total_exits++;
        vm->exits[e.reason < EXIT_REASON_MAX ? e.reason : EXIT_REASON_MAX]++;
        if ((e.idt_vec_info & (1u << 31)) && e.reason != EXIT_VMFAIL &&
            !(e.raw_reason & (1u << 31)))
            vmx_requeue_idt_vectoring(&e); /* an event delivery the exit interrupted */
        if (e.reason == EXIT_IO) {         /* the most frequent exit, the VM's (no vCPU part) */
            handle_io(vm, &e);
            vm->exit = NULL;
            continue;
        }
        if (handle_apic_msr(vm, &e)) {
            vm->exit = NULL;
            continue;
        }
        switch (vcpu_handle_exit(vc, &e)) {
        case VCPU_HANDLED: rec_exit(vm, &e); break;
        case VCPU_HALTED:
            rec_exit(vm, &e);
            if (smp) { /* the scheduler decides what runs, or skips time */
                vc->run = VCPU_IN_HLT;
                vc->hlt_if = (vmx_guest_rflags() & VM_POLICY_RFLAGS_IF) != 0;
            } else {
                vm_policy_halt(&vm->pol, e.guest_tsc);
                vm_polrec_halt(vm, vmx_guest_rflags());
            }
            break;
        case VCPU_NOT_MINE:
            if (e.reason != EXIT_IO && !(e.reason == EXIT_EPT_VIOLATION && vm->cfg.apic))
                rec_exit(vm, &e); /* port I/O and MMIO are recorded by the recorder */
            vm_handle_exit(vm, &e);
            break;
        }
        vm->exit = NULL;
    }
    if (vm->recording) {
        static const uint8_t end_reason[] = {
            [VM_STOP_POWEROFF] = TRACE_END_POWEROFF,         [VM_STOP_RESET] = TRACE_END_RESET,
            [VM_STOP_TRIPLE_FAULT] = TRACE_END_TRIPLE_FAULT, [VM_STOP_IDLE] = TRACE_END_STOPPED,
            [VM_STOP_TIMEOUT] = TRACE_END_STOPPED,           [VM_STOP_FATAL] = TRACE_END_ERROR,
            [VM_STOP_DEBUG_EXIT] = TRACE_END_DEBUG_EXIT,
        };
        uint64_t t0 = rdtsc();
        hvrec_vm_end(vm->rec, end_reason[vm->pol.stop]);
        vm->trace_end_tsc = rdtsc() - t0;
        vm->recording = false;
    }
    return vm->pol.stop;
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
           vm->pol.injected_irqs, vm->pol.hlt_skipped_ns / 1000, vm->devs.bus.unknown_reads,
           vm->devs.bus.unknown_writes);
    /* The same counts in a parseable line, per basic exit reason number
     * (compared with the recorded trace by tests/e2e/check-trace.sh). */
    n = 0;
    buf[0] = 0;
    for (unsigned r = 0; r <= EXIT_REASON_MAX; r++)
        if (vm->exits[r] && n < (int)sizeof buf - 24)
            n += hv_snprintf(buf + n, sizeof buf - (size_t)n, " r%u=%lu", r, vm->exits[r]);
    hv_log("EXIT-COUNTS total=%lu%s", vm->total_exits, buf);
    if (vm->nvcpus > 1) {
        n = 0;
        buf[0] = 0;
        for (unsigned i = 0; i < vm->nvcpus; i++)
            n +=
                hv_snprintf(buf + n, sizeof buf - (size_t)n, " vcpu%u=%lu%s", i, vm->vcpus[i].exits,
                            vm->vcpus[i].run == VCPU_WAIT_SIPI ? " (never started)" : "");
        hv_log("  %u vCPUs, %lu switches, exits per vCPU:%s", vm->nvcpus, vm->switches, buf);
    }
}
