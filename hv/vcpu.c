/* vCPU-local exit handling. Each handler is small and returns whether the
 * exit is done; the guest-visible CPU is GenuineIntel with no local APIC, no
 * x2APIC, no VMX, no RDRAND/RDSEED (non-deterministic), no MTRR/MCE, and
 * XSAVE state components limited to what the host XCR0 enables. */
#include "hv/vcpu.h"
#include "hv/arch.h"
#include "hv/lib.h"

#define GP 13
#define UD 6

static void reg_set32(struct vcpu *v, unsigned r, uint32_t val)
{
    vmx_set_guest_reg(&v->vmx, r, val); /* 32-bit results zero-extend */
}

/* XSAVE area size for the components in xcr0, from the per-component
 * offsets and sizes of CPUID leaf 0xD (SDM Vol. 1 13.4): the standard format
 * ends at the highest enabled component's offset + size; the compacted
 * (XSAVES) format packs enabled components after the 576-byte legacy area
 * and header, 64-byte aligning those with ECX bit 1 set. Computed rather
 * than read back with XCR0 switched, because emulators (Bochs 2.7) report
 * the compacted figure in sub-leaf 0. */
static uint32_t xsave_size(uint64_t xcr0, bool compacted)
{
    uint32_t size = 576;
    for (unsigned i = 2; i < 63; i++) {
        if (!(xcr0 & (1ull << i)))
            continue;
        struct cpuid_regs c = cpuid(0xd, i);
        if (compacted) {
            if (c.ecx & 2)
                size = (size + 63) & ~63u;
            size += c.eax;
        } else if (c.ebx + c.eax > size) {
            size = c.ebx + c.eax;
        }
    }
    return size;
}

void vcpu_cpuid(const struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    struct cpuid_regs r = {0};
    uint32_t max = cpuid(0, 0).eax;
    uint32_t max_ext = cpuid(0x80000000u, 0).eax;
    if (leaf < 0x80000000u && leaf <= max)
        r = cpuid(leaf, sub);
    else if (leaf >= 0x80000000u && leaf <= max_ext)
        r = cpuid(leaf, sub);
    uint64_t cr4 = vmx_guest_cr(4);
    switch (leaf) {
    case 0:
        r.eax = 0x16;
        r.ebx = 0x756e6547; /* "GenuineIntel" */
        r.edx = 0x49656e69;
        r.ecx = 0x6c65746e;
        break;
    case 1:
        r.ebx &= 0x0000ffffu; /* one logical processor, APIC id 0 */
        r.ecx &= ~((1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) |
                   (1u << 8) | (1u << 14) | (1u << 15) | (1u << 17) | (1u << 18) | (1u << 21) |
                   (1u << 24) | (1u << 27) | (1u << 30) | (1u << 31));
        if (cr4 & CR4_OSXSAVE)
            r.ecx |= 1u << 27;
        r.edx &= ~((1u << 7) | (1u << 9) | (1u << 12) | (1u << 14) | (1u << 21) | (1u << 22) |
                   (1u << 28) | (1u << 29) | (1u << 31));
        break;
    case 4:
        r.eax &= 0x3ff; /* one core, one thread per cache */
        break;
    case 7:
        if (sub == 0) {
            r.eax = 0;
            r.ebx &= ~((1u << 1) | (1u << 2) | (1u << 4) | (1u << 10) | (1u << 11) | (1u << 12) |
                       (1u << 14) | (1u << 15) | (1u << 18) | (1u << 25));
            r.ecx &= ~((1u << 3) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 30));
            r.edx = 0;
        } else {
            r = (struct cpuid_regs){0};
        }
        break;
    case 0xd: {
        uint64_t allowed = vmx_caps.host_xcr0;
        if (sub == 0) {
            r.eax = (uint32_t)allowed;
            r.edx = (uint32_t)(allowed >> 32);
            r.ebx = xsave_size(v->vmx.guest_xcr0, false);
            r.ecx = xsave_size(allowed, false);
        } else if (sub == 1) {
            r.eax &= (1u << 0) | (1u << 1) | (vmx_caps.xsaves ? (1u << 3) : 0);
            r.ebx = xsave_size(v->vmx.guest_xcr0, true); /* XCR0 | XSS, XSS = 0 */
            r.ecx = r.edx = 0;
        } else if (sub >= 64 || !(allowed & (1ull << sub))) {
            r = (struct cpuid_regs){0};
        }
        break;
    }
    case 6:
    case 0xa:
    case 0xb:
    case 0x1f: r = (struct cpuid_regs){0}; break;
    case 0x15: /* TSC = ECX * EBX / EAX */
        r.eax = 1;
        r.ebx = 1;
        r.ecx = (uint32_t)v->tsc_hz;
        r.edx = 0;
        break;
    case 0x16:
        r.eax = (uint32_t)(v->tsc_hz / 1000000);
        r.ebx = r.eax;
        r.ecx = 0;
        r.edx = 0;
        break;
    case 0x80000001:
        r.ecx &= (1u << 0) | (1u << 5) | (1u << 8); /* LAHF, LZCNT, PREFETCHW */
        r.edx &= (1u << 11) | (1u << 20) | (1u << 26) | (1u << 29) |
                 (vmx_caps.rdtscp ? (1u << 27) : 0); /* SYSCALL NX 1G LM RDTSCP */
        break;
    case 0x80000007:
        r = (struct cpuid_regs){.edx = 1u << 8}; /* invariant TSC */
        break;
    default:
        if ((leaf > 0x16 && leaf < 0x80000000u) || (leaf >= 0x80000000u && leaf > max_ext) ||
            (leaf >= 0x40000000u && leaf < 0x80000000u))
            r = (struct cpuid_regs){0};
        break;
    }
    out[0] = r.eax;
    out[1] = r.ebx;
    out[2] = r.ecx;
    out[3] = r.edx;
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

/* Returns false if the MSR does not exist for the guest (-> #GP). */
static bool msr_read(struct vcpu *v, const struct vm_exit *e, uint32_t msr, uint64_t *val)
{
    switch (msr) {
    case 0x10: *val = e->guest_tsc; return true;    /* TSC */
    case 0x3a: *val = 1; return true;               /* FEATURE_CONTROL: locked, VMX off */
    case 0x17: *val = 0; return true;               /* PLATFORM_ID */
    case 0x8b: *val = 0; return true;               /* microcode revision */
    case 0x1a0: *val = v->misc_enable; return true; /* MISC_ENABLE */
    case 0x277: *val = vmx_guest_pat(); return true;
    case 0xc0000080: *val = vmx_guest_efer(&v->vmx); return true;
    case 0xda0:
        if (!vmx_caps.xsaves)
            return false;
        *val = v->vmx.guest_xss;
        return true;
    case 0x174:
    case 0x175:
    case 0x176:
    case 0xc0000100:
    case 0xc0000101: *val = vmx_guest_msr_base(msr); return true;
    default: return false;
    }
}

static bool msr_write(struct vcpu *v, const struct vm_exit *e, uint32_t msr, uint64_t val)
{
    switch (msr) {
    case 0x10: /* TSC: the guest sets its own clock by moving the offset */
        vmx_set_tsc_offset(&v->vmx, v->vmx.tsc_offset + (val - e->guest_tsc));
        return true;
    case 0x8b: return true;
    case 0x1a0: v->misc_enable = val; return true;
    case 0x277:
        for (int i = 0; i < 8; i++) {
            uint8_t t = (uint8_t)(val >> (8 * i));
            if (t == 2 || t == 3 || t > 7)
                return false;
        }
        vmx_set_guest_pat(val);
        return true;
    case 0xc0000080: return vmx_set_guest_efer(&v->vmx, val);
    case 0xda0:
        if (!vmx_caps.xsaves || val != 0)
            return false;
        v->vmx.guest_xss = val;
        return true;
    case 0x174:
    case 0x175:
    case 0x176:
    case 0xc0000100:
    case 0xc0000101: vmx_set_guest_msr_base(msr, val); return true;
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
    bool ok = e->xsetbv.index == 0 && (x & 1) && !(x & ~vmx_caps.host_xcr0);
    if ((x & 4) && !(x & 2))
        ok = false; /* AVX needs SSE */
    if ((x & 0xe0) && ((x & 0xe0) != 0xe0 || !(x & 4)))
        ok = false; /* AVX-512: all three components, and AVX */
    if (!ok) {
        inject_gp();
        return VCPU_HANDLED;
    }
    v->vmx.guest_xcr0 = x;
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
