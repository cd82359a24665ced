/* vCPU-local exit handling. Each handler is small and returns whether the
 * exit is done. What the guest-visible CPU answers (CPUID, which MSRs exist,
 * XSETBV) is hv/vcpu_policy.c, pure code the replayer runs too; this file
 * feeds it the host CPUID snapshot and the guest's CR4, and applies the
 * answers to the VMCS. */
#include "hv/vcpu.h"
#include "hv/arch.h"
#include "hv/lib.h"

#define GP 13
#define UD 6

static void reg_set32(struct vcpu *v, unsigned r, uint32_t val)
{
    vmx_set_guest_reg(&v->vmx, r, val); /* 32-bit results zero-extend */
}

/* The host CPUID leaves the policy reads, XCR0 and usable features: read
 * once (after vmx_init), then the same for every VM and in every trace
 * header (hv/vcpu_policy.h). */
static struct trace_cpuid_leaf host_leaves[TRACE_HOST_CPUID_MAX];
static struct trace_host_cpu host_cpu;

static void snapshot_range(uint32_t first, uint32_t last, uint32_t max_basic, uint32_t max_ext)
{
    for (uint32_t leaf = first; leaf <= last; leaf++)
        for (uint32_t sub = 0; sub < 64; sub++) {
            if (!vcpu_policy_snapshot_want(leaf, sub, max_basic, max_ext))
                continue;
            if (host_cpu.nleaves == TRACE_HOST_CPUID_MAX) {
                hv_log("vcpu: host CPUID snapshot full at leaf 0x%x.%u", leaf, sub);
                return;
            }
            struct cpuid_regs c = cpuid(leaf, sub);
            host_leaves[host_cpu.nleaves++] = (struct trace_cpuid_leaf){.leaf = leaf,
                                                                        .subleaf = sub,
                                                                        .eax = c.eax,
                                                                        .ebx = c.ebx,
                                                                        .ecx = c.ecx,
                                                                        .edx = c.edx};
        }
}

const struct trace_host_cpu *vcpu_host_cpu(void)
{
    if (host_cpu.nleaves)
        return &host_cpu;
    uint32_t max = cpuid(0, 0).eax;
    uint32_t max_ext = cpuid(0x80000000u, 0).eax;
    host_cpu.leaves = host_leaves;
    snapshot_range(0, VCPU_POLICY_MAX_LEAF, max, max_ext);
    snapshot_range(0x80000000u, VCPU_POLICY_MAX_EXT_LEAF, max, max_ext);
    host_cpu.xcr0 = vmx_caps.host_xcr0;
    host_cpu.features = (vmx_caps.xsaves ? TRACE_HOST_XSAVES : 0) |
                        (vmx_caps.rdtscp ? TRACE_HOST_RDTSCP : 0) |
                        (vmx_caps.xsavec_hidden ? TRACE_HOST_NO_XSAVEC : 0);
    return &host_cpu;
}

void vcpu_hide_tsc_leaves(bool hide)
{
    struct trace_host_cpu *h = (struct trace_host_cpu *)vcpu_host_cpu();
    if (hide)
        h->features |= TRACE_HOST_NO_TSC_LEAVES;
    else
        h->features &= ~TRACE_HOST_NO_TSC_LEAVES;
}

void vcpu_set_apic(bool apic)
{
    struct trace_host_cpu *h = (struct trace_host_cpu *)vcpu_host_cpu();
    if (apic)
        h->features |= TRACE_HOST_APIC;
    else
        h->features &= ~TRACE_HOST_APIC;
}

/* The policy for this VM's vCPU, set up on its first exit. */
static struct vcpu_policy *policy(struct vcpu *v)
{
    if (!v->pol.host) {
        vcpu_policy_init(&v->pol, vcpu_host_cpu(), v->tsc_hz);
        v->pol.misc_enable = v->misc_enable;
        v->pol.xcr0 = v->vmx.guest_xcr0;
        v->pol.xss = v->vmx.guest_xss;
        v->pol.apic_id = (uint8_t)v->index;
    }
    v->pol.osxsave = (vmx_guest_cr(4) & CR4_OSXSAVE) != 0;
    return &v->pol;
}

void vcpu_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    vcpu_policy_cpuid(policy(v), leaf, sub, out);
}

static enum vcpu_result handle_cpuid(struct vcpu *v, struct vm_exit *e)
{
    uint32_t o[4];
    vcpu_cpuid(v, e->cpuid.leaf, e->cpuid.subleaf, o);
    e->cpuid.eax = o[0];
    e->cpuid.ebx = o[1];
    e->cpuid.ecx = o[2];
    e->cpuid.edx = o[3];
    reg_set32(v, R_RAX, o[0]);
    reg_set32(v, R_RBX, o[1]);
    reg_set32(v, R_RCX, o[2]);
    reg_set32(v, R_RDX, o[3]);
    vmx_skip_insn(&v->vmx, e);
    return VCPU_HANDLED;
}

static void inject_gp(void)
{
    vmx_inject_exception(GP, true, 0);
}

/* The MSRs the policy leaves to us: guest register state in the VMCS. */
static uint64_t guest_reg_read(struct vcpu *v, uint32_t msr)
{
    switch (msr) {
    case 0x277: return vmx_guest_pat();
    case 0xc0000080: return vmx_guest_efer(&v->vmx);
    default: return vmx_guest_msr_base(msr); /* SYSENTER_*, FS/GS base */
    }
}

static bool guest_reg_write(struct vcpu *v, const struct vm_exit *e, uint32_t msr, uint64_t val)
{
    switch (msr) {
    case 0x10: { /* TSC: the guest sets its own clock by moving the offset;
                  * virtual time (devices) stays where it was */
        uint64_t delta = val - (e->guest_tsc + v->vmx.tsc_written);
        vmx_set_tsc_offset(&v->vmx, v->vmx.tsc_offset + delta);
        v->vmx.tsc_written += delta;
        return true;
    }
    case 0x277: vmx_set_guest_pat(val); return true;
    case 0xc0000080: return vmx_set_guest_efer(&v->vmx, val);
    default: vmx_set_guest_msr_base(msr, val); return true;
    }
}

/* Returns false if the MSR does not exist for the guest (-> #GP). */
static bool msr_read(struct vcpu *v, const struct vm_exit *e, uint32_t msr, uint64_t *val)
{
    switch (vcpu_policy_rdmsr(policy(v), msr, e->guest_tsc + v->vmx.tsc_written, val)) {
    case VCPU_MSR_OK: return true;
    case VCPU_MSR_GUEST_REG: *val = guest_reg_read(v, msr); return true;
    default: return false;
    }
}

static bool msr_write(struct vcpu *v, const struct vm_exit *e, uint32_t msr, uint64_t val)
{
    struct vcpu_policy *p = policy(v);
    enum vcpu_msr_result res = vcpu_policy_wrmsr(p, msr, val);
    v->vmx.guest_xss = p->xss;
    v->misc_enable = p->misc_enable;
    switch (res) {
    case VCPU_MSR_OK: return true;
    case VCPU_MSR_GUEST_REG: return guest_reg_write(v, e, msr, val);
    default: return false;
    }
}

static enum vcpu_result handle_msr(struct vcpu *v, struct vm_exit *e)
{
    bool ok;
    if (e->reason == EXIT_RDMSR) {
        uint64_t val = 0;
        ok = msr_read(v, e, e->msr.index, &val);
        if (ok) {
            e->msr.value = val;
            reg_set32(v, R_RAX, (uint32_t)val);
            reg_set32(v, R_RDX, (uint32_t)(val >> 32));
        }
    } else {
        ok = msr_write(v, e, e->msr.index, e->msr.value);
    }
    if (!ok) {
        if (v->unknown_msrs++ < 16)
            hv_log("guest %s of unhandled MSR 0x%x -> #GP",
                   e->reason == EXIT_RDMSR ? "rdmsr" : "wrmsr", e->msr.index);
        inject_gp();
        return VCPU_HANDLED;
    }
    vmx_skip_insn(&v->vmx, e);
    return VCPU_HANDLED;
}

static enum vcpu_result handle_xsetbv(struct vcpu *v, struct vm_exit *e)
{
    uint64_t x = e->xsetbv.value;
    if (!(vmx_guest_cr(4) & CR4_OSXSAVE)) {
        vmx_inject_exception(UD, false, 0);
        return VCPU_HANDLED;
    }
    struct vcpu_policy *p = policy(v);
    if (!vcpu_policy_xsetbv(p, e->xsetbv.index, x)) {
        inject_gp();
        return VCPU_HANDLED;
    }
    v->vmx.guest_xcr0 = p->xcr0;
    vmx_skip_insn(&v->vmx, e);
    return VCPU_HANDLED;
}

static enum vcpu_result handle_cr(struct vcpu *v, struct vm_exit *e)
{
    unsigned cr = e->cr.cr, gpr = e->cr.gpr;
    switch (e->cr.type) {
    case 0: { /* MOV to CR */
        uint64_t val = vmx_guest_reg(&v->vmx, gpr);
        if (cr == 8) {
            v->vmx.cr8 = val & 0xf;
        } else if (!vmx_write_cr(&v->vmx, cr, val)) {
            inject_gp();
            return VCPU_HANDLED;
        }
        break;
    }
    case 1: /* MOV from CR (only CR8 exits) */
        vmx_set_guest_reg(&v->vmx, gpr, cr == 8 ? v->vmx.cr8 : vmx_guest_cr(cr));
        break;
    case 3: { /* LMSW: only PE can be set, MP/EM/TS copied */
        uint64_t cr0 = vmx_guest_cr(0);
        uint64_t val = (cr0 & ~0xeull) | (e->cr.lmsw & 0xf) | (cr0 & 1);
        if (!vmx_write_cr(&v->vmx, 0, val)) {
            inject_gp();
            return VCPU_HANDLED;
        }
        break;
    }
    default: /* CLTS */
        if (!vmx_write_cr(&v->vmx, 0, vmx_guest_cr(0) & ~(1ull << 3))) {
            inject_gp();
            return VCPU_HANDLED;
        }
        break;
    }
    vmx_skip_insn(&v->vmx, e);
    return VCPU_HANDLED;
}

enum vcpu_result vcpu_handle_exit(struct vcpu *v, struct vm_exit *e)
{
    switch (e->reason) {
    case EXIT_CPUID: return handle_cpuid(v, e);
    case EXIT_RDMSR:
    case EXIT_WRMSR: return handle_msr(v, e);
    case EXIT_XSETBV: return handle_xsetbv(v, e);
    case EXIT_CR_ACCESS: return handle_cr(v, e);
    case EXIT_HLT: vmx_skip_insn(&v->vmx, e); return VCPU_HALTED;
    case EXIT_MWAIT:
    case EXIT_MONITOR:
    case EXIT_RDPMC:
    case EXIT_RDRAND:
    case EXIT_RDSEED:
    case EXIT_INVPCID:
    case EXIT_VMCALL:
    case 19 ... 27:
    case EXIT_INVEPT:
    case EXIT_INVVPID: /* not offered in CPUID */
        vmx_inject_exception(UD, false, 0);
        return VCPU_HANDLED;
    case EXIT_WBINVD:
    case EXIT_INVD: vmx_skip_insn(&v->vmx, e); return VCPU_HANDLED;
    default: return VCPU_NOT_MINE;
    }
}
