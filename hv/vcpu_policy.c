/* The guest-visible CPU as pure functions (vcpu_policy.h). */
#include "hv/vcpu_policy.h"

#define BIT(n) (1u << (n))

struct regs {
    uint32_t eax, ebx, ecx, edx;
};

void vcpu_policy_init(struct vcpu_policy *p, const struct trace_host_cpu *host, uint64_t tsc_hz)
{
    p->host = host;
    p->tsc_hz = tsc_hz;
    p->xcr0 = 1; /* x87 */
    p->xss = 0;
    p->misc_enable = 1; /* fast strings */
    p->osxsave = false;
    p->apic_id = 0;
}

/* Leaves whose answer depends on the subleaf (among those taken from the
 * host); the others are stored and looked up as subleaf 0. */
static bool indexed(uint32_t leaf)
{
    return leaf == 4 || leaf == 7 || leaf == 0xd;
}

/* Leaves the policy answers without the host's values. */
static bool synthesized(uint32_t leaf)
{
    switch (leaf) {
    case 6:    /* thermal/power: none */
    case 0xa:  /* performance monitoring: none */
    case 0xb:  /* x2APIC topology: no x2APIC */
    case 0xf:  /* RDT monitoring: hidden in leaf 7 */
    case 0x10: /* RDT allocation: hidden in leaf 7 */
    case 0x12: /* SGX: hidden in leaf 7 */
    case 0x14: /* processor trace: hidden in leaf 7 */
    case 0x15: /* TSC frequency: from the guest configuration */
    case 0x16: return true;
    default: return false;
    }
}

bool vcpu_policy_snapshot_want(uint32_t leaf, uint32_t subleaf, uint32_t max_basic,
                               uint32_t max_ext)
{
    if (leaf >= 0x80000000u)
        return subleaf == 0 && leaf <= max_ext && leaf <= VCPU_POLICY_MAX_EXT_LEAF;
    if (leaf > max_basic || leaf > VCPU_POLICY_MAX_LEAF || synthesized(leaf))
        return false;
    switch (leaf) {
    case 4: return subleaf < 8;   /* cache levels */
    case 0xd: return subleaf < 8; /* x87 .. Hi16_ZMM: every component XCR0 can enable */
    default: return subleaf == 0;
    }
}

static struct regs host_leaf(const struct trace_host_cpu *h, uint32_t leaf, uint32_t sub)
{
    if (!indexed(leaf))
        sub = 0;
    for (size_t i = 0; h && i < h->nleaves; i++) {
        const struct trace_cpuid_leaf *l = &h->leaves[i];
        if (l->leaf == leaf && l->subleaf == sub)
            return (struct regs){l->eax, l->ebx, l->ecx, l->edx};
    }
    return (struct regs){0};
}

/* XSAVE area size for the components in xcr0, from the per-component
 * offsets and sizes of CPUID leaf 0xD (SDM Vol. 1 13.4): the standard format
 * ends at the highest enabled component's offset + size; the compacted
 * (XSAVES) format packs enabled components after the 576-byte legacy area
 * and header, 64-byte aligning those with ECX bit 1 set. Computed rather
 * than taken from the host's sub-leaf 0/1, which describe the host's XCR0
 * (and emulators such as Bochs 2.7 report the compacted figure there). */
static uint32_t xsave_size(const struct trace_host_cpu *h, uint64_t xcr0, bool compacted)
{
    uint32_t size = 576;
    for (unsigned i = 2; i < 63; i++) {
        if (!(xcr0 & (1ull << i)))
            continue;
        struct regs c = host_leaf(h, 0xd, i);
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

void vcpu_policy_cpuid(const struct vcpu_policy *p, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    const struct trace_host_cpu *h = p->host;
    uint32_t features = h ? h->features : 0;
    uint64_t allowed = h ? h->xcr0 : 1;
    uint32_t max_ext = host_leaf(h, 0x80000000u, 0).eax;
    if (max_ext > VCPU_POLICY_MAX_EXT_LEAF)
        max_ext = VCPU_POLICY_MAX_EXT_LEAF;
    struct regs r = {0};
    if (!synthesized(leaf))
        r = host_leaf(h, leaf, sub);
    switch (leaf) {
    case 0:
        r.eax = VCPU_POLICY_MAX_LEAF;
        r.ebx = 0x756e6547; /* "GenuineIntel" */
        r.edx = 0x49656e69;
        r.ecx = 0x6c65746e;
        break;
    case 1:
        /* one logical processor per package, initial APIC ID = the vCPU's */
        r.ebx = (r.ebx & 0x0000ffffu) | (uint32_t)p->apic_id << 24;
        /* DTES64 MONITOR DS-CPL VMX SMX EST TM2 xTPR PDCM PCID DCA x2APIC
         * TSC-deadline OSXSAVE (set below from CR4) RDRAND hypervisor */
        r.ecx &= ~(BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(14) |
                   BIT(15) | BIT(17) | BIT(18) | BIT(21) | BIT(24) | BIT(27) | BIT(30) | BIT(31));
        if (p->osxsave)
            r.ecx |= BIT(27);
        /* MCE MCA MTRR APIC ACPI DS TM PBE HTT */
        r.edx &= ~(BIT(7) | BIT(9) | BIT(12) | BIT(14) | BIT(21) | BIT(22) | BIT(28) | BIT(29) |
                   BIT(31));
        if (features & TRACE_HOST_APIC) /* the APIC platform: an xAPIC, no x2APIC/deadline */
            r.edx |= BIT(9);
        break;
    case 4: r.eax &= 0x3ff; break; /* one core, one thread per cache */
    case 7:
        if (sub == 0) {
            r.eax = 0;
            /* TSC_ADJUST SGX HLE TSX... RTM RDT-M INVPCID RDT-A RDSEED PT */
            r.ebx &= ~(BIT(1) | BIT(2) | BIT(4) | BIT(10) | BIT(11) | BIT(12) | BIT(14) | BIT(15) |
                       BIT(18) | BIT(25));
            r.ecx &= ~(BIT(3) | BIT(4) | BIT(5) | BIT(16) | BIT(30));
            r.edx = 0;
        } else {
            r = (struct regs){0};
        }
        break;
    case 0xd:
        if (sub == 0) {
            r.eax = (uint32_t)allowed;
            r.edx = (uint32_t)(allowed >> 32);
            r.ebx = xsave_size(h, p->xcr0, false);
            r.ecx = xsave_size(h, allowed, false);
        } else if (sub == 1) {
            r.eax &= BIT(0) | ((features & TRACE_HOST_NO_XSAVEC) ? 0 : BIT(1)) |
                     ((features & TRACE_HOST_XSAVES) ? BIT(3) : 0);
            r.ebx = xsave_size(h, p->xcr0 | p->xss, true);
            r.ecx = r.edx = 0;
        } else if (sub >= 64 || !(allowed & (1ull << sub))) {
            r = (struct regs){0};
        }
        break;
    case 0x15: /* TSC = ECX * EBX / EAX */
        if (p->host->features & TRACE_HOST_NO_TSC_LEAVES) {
            r = (struct regs){0};
            break;
        }
        r.eax = 1;
        r.ebx = 1;
        r.ecx = (uint32_t)p->tsc_hz;
        r.edx = 0;
        break;
    case 0x16:
        if (p->host->features & TRACE_HOST_NO_TSC_LEAVES) {
            r = (struct regs){0};
            break;
        }
        r.eax = (uint32_t)(p->tsc_hz / 1000000);
        r.ebx = r.eax;
        r.ecx = 0;
        r.edx = 0;
        break;
    case 0x80000000u:
        if (r.eax > VCPU_POLICY_MAX_EXT_LEAF)
            r.eax = VCPU_POLICY_MAX_EXT_LEAF;
        break;
    case 0x80000001u:
        r.ecx &= BIT(0) | BIT(5) | BIT(8); /* LAHF, LZCNT, PREFETCHW */
        r.edx &= BIT(11) | BIT(20) | BIT(26) | BIT(29) |
                 ((features & TRACE_HOST_RDTSCP) ? BIT(27) : 0); /* SYSCALL NX 1G LM RDTSCP */
        break;
    case 0x80000007u: r = (struct regs){.edx = BIT(8)}; break; /* invariant TSC */
    default:
        if ((leaf > VCPU_POLICY_MAX_LEAF && leaf < 0x80000000u) ||
            (leaf >= 0x80000000u && leaf > max_ext))
            r = (struct regs){0};
        break;
    }
    out[0] = r.eax;
    out[1] = r.ebx;
    out[2] = r.ecx;
    out[3] = r.edx;
}

static bool guest_reg_msr(uint32_t msr)
{
    switch (msr) {
    case 0x277:                    /* PAT */
    case 0xc0000080u:              /* EFER */
    case 0x174:                    /* SYSENTER_CS */
    case 0x175:                    /* SYSENTER_ESP */
    case 0x176:                    /* SYSENTER_EIP */
    case 0xc0000100u:              /* FS base */
    case 0xc0000101u: return true; /* GS base */
    default: return false;
    }
}

enum vcpu_msr_result vcpu_policy_rdmsr(const struct vcpu_policy *p, uint32_t msr,
                                       uint64_t guest_tsc, uint64_t *val)
{
    uint32_t features = p->host ? p->host->features : 0;
    if (guest_reg_msr(msr))
        return VCPU_MSR_GUEST_REG;
    switch (msr) {
    case 0x10: *val = guest_tsc; return VCPU_MSR_OK;       /* TSC */
    case 0x3a: *val = 1; return VCPU_MSR_OK;               /* FEATURE_CONTROL: locked, VMX off */
    case 0x17:                                             /* PLATFORM_ID */
    case 0x8b: *val = 0; return VCPU_MSR_OK;               /* microcode revision */
    case 0x1a0: *val = p->misc_enable; return VCPU_MSR_OK; /* MISC_ENABLE */
    case 0xda0:                                            /* XSS */
        if (!(features & TRACE_HOST_XSAVES))
            return VCPU_MSR_GP;
        *val = p->xss;
        return VCPU_MSR_OK;
    default: return VCPU_MSR_GP;
    }
}

enum vcpu_msr_result vcpu_policy_wrmsr(struct vcpu_policy *p, uint32_t msr, uint64_t val)
{
    uint32_t features = p->host ? p->host->features : 0;
    switch (msr) {
    case 0x10: return VCPU_MSR_GUEST_REG; /* TSC: the caller moves the TSC offset */
    case 0x8b: return VCPU_MSR_OK;        /* microcode update signature: ignored */
    case 0x1a0: p->misc_enable = val; return VCPU_MSR_OK;
    case 0x277: /* PAT: types 2, 3 and above 7 are reserved */
        for (int i = 0; i < 8; i++) {
            uint8_t t = (uint8_t)(val >> (8 * i));
            if (t == 2 || t == 3 || t > 7)
                return VCPU_MSR_GP;
        }
        return VCPU_MSR_GUEST_REG;
    case 0xda0: /* XSS: no supervisor state components offered */
        if (!(features & TRACE_HOST_XSAVES) || val != 0)
            return VCPU_MSR_GP;
        p->xss = val;
        return VCPU_MSR_OK;
    default: return guest_reg_msr(msr) ? VCPU_MSR_GUEST_REG : VCPU_MSR_GP;
    }
}

bool vcpu_policy_xsetbv(struct vcpu_policy *p, uint32_t xcr, uint64_t x)
{
    uint64_t allowed = p->host ? p->host->xcr0 : 1;
    if (xcr != 0 || !(x & 1) || (x & ~allowed))
        return false;
    if ((x & 4) && !(x & 2))
        return false; /* AVX needs SSE */
    if ((x & 0xe0) && ((x & 0xe0) != 0xe0 || !(x & 4)))
        return false; /* AVX-512: all three components, and AVX */
    p->xcr0 = x;
    return true;
}
