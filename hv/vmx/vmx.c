/* VMX bring-up, VMCS construction, guest entry and exit decoding.
 * Control values come from the TRUE capability MSRs (SDM Vol. 3 A.3-A.5):
 * a control is forced to 1 where allowed-0 has it, and may only be 1 where
 * allowed-1 has it. */
#include "hv/vmx/vmx.h"
#include "hv/arch.h"
#include "hv/cpu.h"
#include "hv/lib.h"
#include "hv/mm.h"
#include "hv/vmx/vmcs.h"
#include "hv/xstate.h"

struct vmx_caps vmx_caps;
static uint64_t vmxon_pa;

int vmx_enter(struct vmx_gprs *g, int launched);
extern char vmx_exit_point[];

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Wanted controls that must be available, wanted ones that are optional. */
static int adjust(const char *what, uint32_t msr, uint32_t need, uint32_t opt, uint32_t *out)
{
    uint64_t cap = rdmsr(msr);
    uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);
    uint32_t missing = need & ~may1;
    if (missing) {
        hv_log("VMX: %s controls 0x%x not supported (allowed-1 0x%x)", what, missing, may1);
        return -1;
    }
    *out = (need | (opt & may1) | must1) & may1;
    return 0;
}

static int check(bool ok, const char *msg)
{
    if (!ok)
        hv_log("VMX: missing feature: %s", msg);
    return ok ? 0 : -1;
}

/* Run the XSAVE self-check (hv/xstate.h) and hide from guests what the
 * host gets wrong: XSAVES through the VM-execution control and CPUID, XSAVEC
 * through CPUID. Guest kernels then fall back to the standard format. */
static void check_xstate(struct vmx_caps *c)
{
    struct xstate_check x;
    bool xsaves = c->xsaves && (cpuid(0xd, 1).eax & 8);
    if (xsaves && rdmsr(MSR_XSS) != 0)
        wrmsr(MSR_XSS, 0);
    xstate_check(c->host_xcr0, xsaves, &x);
    if (!x.xsave_ok)
        hv_log("XSAVE check: standard format broken (%s): guests may lose register state",
               x.xsave_why);
    if (x.xsavec && !x.xsavec_ok) {
        c->xsavec_hidden = true;
        hv_log("XSAVE check: XSAVEC hidden from guests (%s)", x.xsavec_why);
    }
    if (c->xsaves && !x.xsaves_ok) {
        c->xsaves = false;
        c->proc2 &= ~PROC2_XSAVES;
        hv_log("XSAVE check: XSAVES hidden from guests (%s)", x.xsaves_why);
    }
    if (x.xsave_ok && x.xsavec_ok == x.xsavec && x.xsaves_ok == x.xsaves)
        hv_log("XSAVE check: XSAVE%s%s ok for XCR0 0x%lx", x.xsavec ? ", XSAVEC" : "",
               x.xsaves ? ", XSAVES" : "", c->host_xcr0);
}

int vmx_init(void)
{
    struct vmx_caps *c = &vmx_caps;
    struct cpuid_regs r1 = cpuid(1, 0);
    int bad = 0;
    if (check(r1.ecx & (1u << 5), "VMX (CPUID.01H:ECX.VMX[bit 5])"))
        return -1;
    bad |= check(r1.ecx & (1u << 26), "XSAVE (CPUID.01H:ECX[bit 26])");

    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & 1)) {
        wrmsr(MSR_FEATURE_CONTROL, fc | 0x5); /* VMX outside SMX + lock */
        fc = rdmsr(MSR_FEATURE_CONTROL);
    }
    bad |= check(fc & 0x4, "VMX enabled in IA32_FEATURE_CONTROL (locked off by firmware)");

    uint64_t basic = rdmsr(MSR_VMX_BASIC);
    c->revision = (uint32_t)basic & 0x7fffffff;
    bad |= check(basic & (1ull << 55), "TRUE VMX capability MSRs (IA32_VMX_BASIC[55])");
    bad |= check(((basic >> 50) & 0xf) == 6, "write-back VMCS memory type");
    if (bad)
        return -1;

    bad |= adjust("pin-based", MSR_VMX_TRUE_PINBASED, PIN_PREEMPT_TIMER | PIN_EXT_INTR_EXIT,
                  PIN_NMI_EXIT | PIN_VIRTUAL_NMI, &c->pin);
    bad |= adjust("processor-based", MSR_VMX_TRUE_PROCBASED,
                  PROC_INTR_WINDOW | PROC_TSC_OFFSET | PROC_HLT_EXIT | PROC_IO_BITMAPS |
                      PROC_MSR_BITMAPS | PROC_SECONDARY | PROC_CR8_LOAD | PROC_CR8_STORE,
                  PROC_MWAIT_EXIT | PROC_MONITOR_EXIT | PROC_RDPMC_EXIT, &c->proc);
    if (bad)
        return -1;
    c->pause_exit = (rdmsr(MSR_VMX_TRUE_PROCBASED) >> 32) & PROC_PAUSE_EXIT;
    c->proc &= ~(PROC_INTR_WINDOW | PROC_CR3_LOAD | PROC_CR3_STORE | PROC_UNCOND_IO) |
               (uint32_t)rdmsr(MSR_VMX_TRUE_PROCBASED);
    bad |= adjust("secondary", MSR_VMX_PROCBASED2, PROC2_EPT | PROC2_UNRESTRICTED,
                  PROC2_VPID | PROC2_RDTSCP | PROC2_XSAVES | PROC2_RDRAND_EXIT | PROC2_RDSEED_EXIT,
                  &c->proc2);
    bad |= adjust("VM-exit", MSR_VMX_TRUE_EXIT,
                  EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT | EXIT_LOAD_PAT |
                      EXIT_ACK_INTR,
                  0, &c->exit);
    bad |= adjust("VM-entry", MSR_VMX_TRUE_ENTRY, ENTRY_LOAD_EFER | ENTRY_LOAD_PAT, 0, &c->entry);
    c->entry &= ~ENTRY_IA32E;
    if (bad)
        return -1;
    /* Guest NMIs (SDM Vol. 3 24.6.1, 25.3 IRET, 26.6.1.2): with virtual
     * NMIs (which need NMI exiting) the CPU keeps the guest's NMI blocking
     * from an injected NMI to its IRET, and NMI-window exiting may be offered. */
    if (!(c->pin & PIN_NMI_EXIT))
        c->pin &= ~PIN_VIRTUAL_NMI;
    c->virtual_nmis = c->pin & PIN_VIRTUAL_NMI;
    c->nmi_window = c->virtual_nmis && ((rdmsr(MSR_VMX_TRUE_PROCBASED) >> 32) & PROC_NMI_WINDOW);
    hv_log("VMX: virtual NMIs %s, NMI-window exiting %s", c->virtual_nmis ? "yes" : "no",
           c->nmi_window ? "yes" : "no");
    c->vpid = c->proc2 & PROC2_VPID;
    c->xsaves = c->proc2 & PROC2_XSAVES;
    c->rdtscp = c->proc2 & PROC2_RDTSCP;

    c->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
    bad |= check(c->ept_vpid & (1ull << 6), "EPT page-walk length 4");
    bad |= check(c->ept_vpid & (1ull << 14), "EPT write-back memory type");
    bad |= check(c->ept_vpid & (1ull << 16), "EPT 2 MiB pages");
    bad |= check(c->ept_vpid & (1ull << 20), "INVEPT");
    bad |= check(c->ept_vpid & (1ull << 26), "INVEPT all-context");
    if (c->vpid && !((c->ept_vpid & (1ull << 32)) && (c->ept_vpid & (1ull << 42)))) {
        hv_log("VMX: INVVPID all-context missing: running without VPID");
        c->vpid = false;
        c->proc2 &= ~PROC2_VPID;
    }
    c->preempt_shift = rdmsr(MSR_VMX_MISC) & 0x1f;
    c->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    c->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    c->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    c->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    if (bad)
        return -1;

    /* Host: XSAVE on, XCR0 = every component a guest may enable. */
    write_cr4(read_cr4() | CR4_OSXSAVE);
    struct cpuid_regs d0 = cpuid(0xd, 0);
    c->host_xcr0 = d0.eax & 0xe7; /* x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM */
    xsetbv(0, c->host_xcr0);
    if (!(cpuid(1, 0).ecx & (1u << 27)))
        hv_log("VMX: warning: OSXSAVE not reflected");
    check_xstate(c);

    write_cr0((read_cr0() | c->cr0_fixed0) & c->cr0_fixed1);
    write_cr4((read_cr4() | c->cr4_fixed0 | CR4_VMXE) & c->cr4_fixed1);
    vmxon_pa = mm_alloc(PAGE_SIZE, PAGE_SIZE);
    *(uint32_t *)phys_to_virt(vmxon_pa) = c->revision;
    if (!vmx_on(vmxon_pa)) {
        hv_log("VMX: VMXON failed");
        return -1;
    }
    invept(2, 0);
    if (c->vpid)
        invvpid(2, 0);
    hv_log("VMX on: revision 0x%x pin 0x%x proc 0x%x proc2 0x%x exit 0x%x entry 0x%x", c->revision,
           c->pin, c->proc, c->proc2, c->exit, c->entry);
    hv_log("VMX: EPT/VPID cap 0x%lx, preemption timer TSC>>%u, host XCR0 0x%lx%s", c->ept_vpid,
           c->preempt_shift, c->host_xcr0, c->xsaves ? ", XSAVES" : "");
    return 0;
}

static void bitmap_clear(uint8_t *bm, unsigned bit)
{
    bm[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
}

/* MSRs the guest reads and writes directly: their guest values are either in
 * the VMCS or untouched by the host (which never uses SYSCALL or swapgs). */
static const uint32_t passthrough_msrs[] = {
    0x174,      0x175,      0x176,      /* SYSENTER_CS/ESP/EIP (VMCS) */
    0xc0000081, 0xc0000082, 0xc0000083, /* STAR LSTAR CSTAR */
    0xc0000084,                         /* SFMASK */
    0xc0000100, 0xc0000101, 0xc0000102, /* FS_BASE GS_BASE KERNEL_GS_BASE */
};

static void msr_bitmap_init(uint8_t *bm)
{
    memset(bm, 0xff, PAGE_SIZE);
    for (unsigned i = 0; i < sizeof passthrough_msrs / sizeof passthrough_msrs[0]; i++) {
        uint32_t m = passthrough_msrs[i];
        unsigned base = m >= 0xc0000000u ? 1024 * 8 : 0;
        unsigned bit = m & 0x1fff;
        bitmap_clear(bm, base + bit);            /* read */
        bitmap_clear(bm, base + 2048 * 8 + bit); /* write */
    }
    if (vmx_caps.rdtscp) { /* TSC_AUX: guest-owned, the host never reads it */
        bitmap_clear(bm, 1024 * 8 + 0x103);
        bitmap_clear(bm, 1024 * 8 + 2048 * 8 + 0x103);
    }
}

/* ES, SS, DS, FS, GS: selector, base, limit and access rights fields. */
static const enum vmcs_field data_segs[5][4] = {
    {GUEST_ES_SEL, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR},
    {GUEST_SS_SEL, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR},
    {GUEST_DS_SEL, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR},
    {GUEST_FS_SEL, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR},
    {GUEST_GS_SEL, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR},
};

/* Guest state: real mode at cs:ip with SP = sp (unrestricted guest), the
 * processor state after INIT as far as the VMCS holds it. */
static void guest_real_mode(uint16_t cs, uint16_t ip, uint16_t sp)
{
    const struct vmx_caps *c = &vmx_caps;
    for (unsigned i = 0; i < 5; i++) {
        vmwrite(data_segs[i][0], 0);
        vmwrite(data_segs[i][1], 0);
        vmwrite(data_segs[i][2], 0xffff);
        vmwrite(data_segs[i][3], 0x93); /* present, read/write data, accessed */
    }
    vmwrite(GUEST_CS_SEL, cs);
    vmwrite(GUEST_CS_BASE, (uint64_t)cs << 4);
    vmwrite(GUEST_CS_LIMIT, 0xffff);
    vmwrite(GUEST_CS_AR, 0x9b); /* present, execute/read code, accessed */
    vmwrite(GUEST_LDTR_SEL, 0);
    vmwrite(GUEST_LDTR_BASE, 0);
    vmwrite(GUEST_LDTR_LIMIT, 0xffff);
    vmwrite(GUEST_LDTR_AR, 0x10000); /* unusable */
    vmwrite(GUEST_TR_SEL, 0);
    vmwrite(GUEST_TR_BASE, 0);
    vmwrite(GUEST_TR_LIMIT, 0xffff);
    vmwrite(GUEST_TR_AR, 0x8b); /* present, busy TSS */
    vmwrite(GUEST_GDTR_BASE, 0);
    vmwrite(GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(GUEST_IDTR_BASE, 0);
    vmwrite(GUEST_IDTR_LIMIT, 0x3ff);
    vmwrite(GUEST_CR0, ((0x10 | c->cr0_fixed0) & ~(CR0_PE | CR0_PG)) & c->cr0_fixed1);
    vmwrite(GUEST_CR3, 0);
    vmwrite(GUEST_CR4, c->cr4_fixed0 & c->cr4_fixed1);
    vmwrite(GUEST_DR7, 0x400);
    vmwrite(GUEST_RSP, sp);
    vmwrite(GUEST_RIP, ip);
    vmwrite(GUEST_RFLAGS, 0x2);
    vmwrite(GUEST_PENDING_DBG, 0);
    vmwrite(GUEST_SYSENTER_CS, 0);
    vmwrite(GUEST_SYSENTER_ESP, 0);
    vmwrite(GUEST_SYSENTER_EIP, 0);
    vmwrite(GUEST_INTERRUPTIBILITY, 0);
    vmwrite(GUEST_ACTIVITY, 0);
    vmwrite(VMCS_LINK_PTR, ~0ull);
    vmwrite(GUEST_DEBUGCTL, 0);
    vmwrite(GUEST_PAT, 0x0007040600070406ull);
    vmwrite(GUEST_EFER, 0);
    vmwrite(GUEST_PREEMPT_TIMER, 0xffffffffu);
}

int vmx_vcpu_init(struct vmx_vcpu *v, const struct ept *e, uint16_t vpid, uint16_t rip16,
                  uint16_t sp16, uint64_t tsc_offset)
{
    const struct vmx_caps *c = &vmx_caps;
    *v = (struct vmx_vcpu){0};
    v->vmcs_pa = mm_alloc(PAGE_SIZE, PAGE_SIZE);
    v->msr_bitmap_pa = mm_alloc(PAGE_SIZE, PAGE_SIZE);
    v->io_bitmap_pa = mm_alloc(2 * PAGE_SIZE, PAGE_SIZE);
    if (!v->vmcs_pa || !v->msr_bitmap_pa || !v->io_bitmap_pa)
        return -1;
    *(uint32_t *)phys_to_virt(v->vmcs_pa) = c->revision;
    memset(phys_to_virt(v->io_bitmap_pa), 0xff, 2 * PAGE_SIZE); /* every port traps */
    msr_bitmap_init(phys_to_virt(v->msr_bitmap_pa));
    if (!vmx_clear(v->vmcs_pa) || !vmx_ptrld(v->vmcs_pa))
        return -1;
    v->vpid = c->vpid ? vpid : 0;
    v->tsc_offset = tsc_offset;
    v->tsc_written = 0;
    v->host_exit_tsc = rdtsc();
    v->guest_xcr0 = 1;
    v->preempt_deadline = UINT64_MAX;

    /* Controls */
    vmwrite(PIN_CTLS, c->pin);
    vmwrite(PROC_CTLS, c->proc);
    v->proc_ctls = c->proc;
    vmwrite(PROC_CTLS2, c->proc2);
    vmwrite(EXIT_CTLS, c->exit);
    vmwrite(ENTRY_CTLS, c->entry);
    vmwrite(EXCEPTION_BITMAP, 0);
    vmwrite(PF_ERR_MASK, 0);
    vmwrite(PF_ERR_MATCH, 0);
    vmwrite(CR3_TARGET_COUNT, 0);
    vmwrite(EXIT_MSR_STORE_COUNT, 0);
    vmwrite(EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(ENTRY_INTR_INFO, 0);
    vmwrite(IO_BITMAP_A, v->io_bitmap_pa);
    vmwrite(IO_BITMAP_B, v->io_bitmap_pa + PAGE_SIZE);
    vmwrite(MSR_BITMAP, v->msr_bitmap_pa);
    vmwrite(TSC_OFFSET, tsc_offset);
    vmwrite(EPT_POINTER, e->eptp);
    if (v->vpid)
        vmwrite(VMCS_VPID, v->vpid);
    if (c->xsaves)
        vmwrite(XSS_EXIT_BITMAP, 0);
    /* The guest owns CR0/CR4 except the bits VMX fixes (NE, VMXE) and PG,
     * whose changes we track to keep EFER.LMA and IA-32e mode in step. */
    uint64_t cr0_own = (c->cr0_fixed0 & ~(CR0_PE | CR0_PG)) | CR0_PG | ~c->cr0_fixed1;
    vmwrite(CR0_MASK, cr0_own);
    vmwrite(CR0_SHADOW, 0x10);
    vmwrite(CR4_MASK, c->cr4_fixed0 | ~c->cr4_fixed1);
    vmwrite(CR4_SHADOW, 0);

    /* Host state */
    vmwrite(HOST_CR0, read_cr0());
    vmwrite(HOST_CR3, read_cr3());
    vmwrite(HOST_CR4, read_cr4());
    vmwrite(HOST_CS_SEL, SEL_CODE);
    vmwrite(HOST_SS_SEL, SEL_DATA);
    vmwrite(HOST_DS_SEL, SEL_DATA);
    vmwrite(HOST_ES_SEL, SEL_DATA);
    vmwrite(HOST_FS_SEL, 0);
    vmwrite(HOST_GS_SEL, 0);
    vmwrite(HOST_TR_SEL, SEL_TSS);
    vmwrite(HOST_FS_BASE, rdmsr(0xc0000100)); /* the libraries' TCB (hv/recording.c) */
    vmwrite(HOST_GS_BASE, 0);
    vmwrite(HOST_TR_BASE, cpu_tss_base());
    vmwrite(HOST_GDTR_BASE, cpu_gdt_base());
    vmwrite(HOST_IDTR_BASE, cpu_idt_base());
    vmwrite(HOST_SYSENTER_CS, 0);
    vmwrite(HOST_SYSENTER_ESP, 0);
    vmwrite(HOST_SYSENTER_EIP, 0);
    vmwrite(HOST_EFER, rdmsr(MSR_EFER));
    vmwrite(HOST_PAT, rdmsr(MSR_PAT));
    vmwrite(HOST_RIP, (uint64_t)vmx_exit_point);

    guest_real_mode(0, rip16, sp16);
    v->g.r[R_RSP] = sp16;
    return 0;
}

/* Multiboot hand-over (Multiboot Specification 0.6.96, 3.2): 32-bit
 * protected mode, paging off; CS a 32-bit execute/read code segment and
 * DS/ES/FS/GS/SS 32-bit read/write data segments, all base 0 limit 4 GiB;
 * EFLAGS.IF = 0, VM = 0; EAX = eax, EBX = ebx. GDTR/IDTR stay as they are
 * (the kernel must load its own before touching a segment register); A20
 * is always on under VMX. ESP is ours to choose: the spec leaves it
 * undefined. */
void vmx_vcpu_set_pm32(struct vmx_vcpu *v, uint32_t eip, uint32_t esp, uint32_t eax, uint32_t ebx)
{
    const struct vmx_caps *c = &vmx_caps;
    for (unsigned i = 0; i < 5; i++) {
        vmwrite(data_segs[i][0], 0x10);
        vmwrite(data_segs[i][1], 0);
        vmwrite(data_segs[i][2], 0xffffffffu);
        vmwrite(data_segs[i][3], 0xc093); /* G, D/B, present, DPL 0, read/write data, accessed */
    }
    vmwrite(GUEST_CS_SEL, 0x08);
    vmwrite(GUEST_CS_BASE, 0);
    vmwrite(GUEST_CS_LIMIT, 0xffffffffu);
    vmwrite(GUEST_CS_AR, 0xc09b); /* G, D/B, present, DPL 0, execute/read code, accessed */
    vmwrite(CR0_SHADOW, 0x11);    /* PE | ET */
    vmwrite(GUEST_CR0, ((0x11 | c->cr0_fixed0) & ~CR0_PG) & c->cr0_fixed1);
    vmwrite(GUEST_RIP, eip);
    vmwrite(GUEST_RSP, esp);
    vmwrite(GUEST_RFLAGS, 0x2);
    v->g.r[R_RSP] = esp;
    v->g.r[R_RAX] = eax;
    v->g.r[R_RBX] = ebx;
}

/* Guest MSRs not in the VMCS that the guest accesses without an exit
 * (passthrough_msrs beyond the VMCS ones, and TSC_AUX). */
static const uint32_t shared_msrs[6] = {0xc0000081, 0xc0000082, 0xc0000083,
                                        0xc0000084, 0xc0000102, 0xc0000103};

void vmx_vcpu_switch(struct vmx_vcpu *from, struct vmx_vcpu *to)
{
    if (from == to)
        return;
    unsigned n = vmx_caps.rdtscp ? 6 : 5;
    for (unsigned i = 0; i < n; i++) {
        from->shared_msrs[i] = rdmsr(shared_msrs[i]);
        wrmsr(shared_msrs[i], to->shared_msrs[i]);
    }
    if (!vmx_ptrld(to->vmcs_pa))
        hv_panic("VMX: VMPTRLD of a vCPU's VMCS failed");
    to->tsc_offset = from->tsc_offset;
    to->host_exit_tsc = from->host_exit_tsc;
    to->hidden_tsc = from->hidden_tsc;
    to->tsc_written = from->tsc_written;
    to->hide_host_time = from->hide_host_time;
    vmwrite(TSC_OFFSET, to->tsc_offset);
}

void vmx_vcpu_start_sipi(struct vmx_vcpu *v, uint8_t vector)
{
    const struct vmx_caps *c = &vmx_caps;
    guest_real_mode((uint16_t)(vector << 8), 0, 0);
    vmwrite(CR0_SHADOW, 0x10);
    vmwrite(CR4_SHADOW, 0);
    vmwrite(ENTRY_CTLS, c->entry);
    vmwrite(ENTRY_INTR_INFO, 0);
    vmwrite(PROC_CTLS, v->proc_ctls & ~PROC_INTR_WINDOW);
    v->proc_ctls &= ~PROC_INTR_WINDOW;
    for (unsigned r = 0; r < R_NUM; r++)
        v->g.r[r] = 0;
    v->g.cr2 = 0;
    /* EDX after INIT: the processor signature (CPUID.01H:EAX) */
    v->g.r[R_RDX] = cpuid(1, 0).eax;
    v->efer_shadow = 0;
    v->cr8 = 0;
    v->guest_xcr0 = 1;
    v->guest_xss = 0;
    v->preempt_deadline = UINT64_MAX;
    unsigned n = vmx_caps.rdtscp ? 6 : 5;
    for (unsigned i = 0; i < n; i++) { /* v is current: its MSRs are the live ones */
        v->shared_msrs[i] = 0;
        wrmsr(shared_msrs[i], 0);
    }
}

void vmx_set_pause_exit(struct vmx_vcpu *v, bool on)
{
    uint32_t p = on ? v->proc_ctls | PROC_PAUSE_EXIT : v->proc_ctls & ~PROC_PAUSE_EXIT;
    if (p != v->proc_ctls) {
        vmwrite(PROC_CTLS, p);
        v->proc_ctls = p;
    }
}

void vmx_vcpu_destroy(struct vmx_vcpu *v)
{
    if (v->vmcs_pa)
        vmx_clear(v->vmcs_pa);
    if (v->vpid)
        invvpid(2, 0);
    invept(2, 0);
    v->vmcs_pa = 0;
}

/* The virtual-time TSC at host TSC `host`: the guest's TSC without its own
 * writes (vmx.h, tsc_written). */
static uint64_t virtual_tsc(const struct vmx_vcpu *v, uint64_t host)
{
    return host + v->tsc_offset - v->tsc_written;
}

static void decode(struct vmx_vcpu *v, struct vm_exit *e)
{
    uint32_t raw = (uint32_t)vmread(EXIT_REASON);
    e->raw_reason = raw;
    e->reason = raw & 0xffff;
    e->qual = vmread(EXIT_QUAL);
    e->rip = vmread(GUEST_RIP);
    e->insn_len = (uint32_t)vmread(EXIT_INSN_LEN);
    e->intr_info = (uint32_t)vmread(EXIT_INTR_INFO);
    e->idt_vec_info = (uint32_t)vmread(IDT_VEC_INFO);
    v->g.r[R_RSP] = vmread(GUEST_RSP);
    const uint64_t *r = v->g.r;
    if (e->reason != EXIT_IO)
        memset(&e->cpuid, 0, sizeof *e - offsetof(struct vm_exit, cpuid));
    switch (e->reason) {
    case EXIT_IO: {
        e->io.size = (uint8_t)((e->qual & 7) + 1);
        e->io.in = e->qual & (1u << 3);
        e->io.string = e->qual & (1u << 4);
        e->io.rep = e->qual & (1u << 5);
        e->io.port = (uint16_t)(e->qual >> 16);
        e->io.addr_bits = 0;
        if (e->io.string) {
            /* INS/OUTS: the linear address of the memory operand and the
             * address size (VM-exit instruction information, bits 9:7). */
            e->gla = vmread(GUEST_LINEAR_ADDR);
            unsigned as = (unsigned)(vmread(EXIT_INSN_INFO) >> 7) & 7;
            e->io.addr_bits = as == 0 ? 16 : as == 1 ? 32 : 64;
        }
        uint32_t mask = e->io.size == 4 ? 0xffffffffu : (1u << (8 * e->io.size)) - 1;
        e->io.value = e->io.in ? 0 : (uint32_t)r[R_RAX] & mask;
        break;
    }
    case EXIT_CPUID:
        e->cpuid.leaf = (uint32_t)r[R_RAX];
        e->cpuid.subleaf = (uint32_t)r[R_RCX];
        break;
    case EXIT_RDMSR:
    case EXIT_WRMSR:
        e->msr.index = (uint32_t)r[R_RCX];
        e->msr.value = e->reason == EXIT_WRMSR ? ((r[R_RDX] << 32) | (uint32_t)r[R_RAX]) : 0;
        break;
    case EXIT_XSETBV:
        e->xsetbv.index = (uint32_t)r[R_RCX];
        e->xsetbv.value = (r[R_RDX] << 32) | (uint32_t)r[R_RAX];
        break;
    case EXIT_CR_ACCESS:
        e->cr.cr = e->qual & 0xf;
        e->cr.type = (e->qual >> 4) & 3;
        e->cr.gpr = (e->qual >> 8) & 0xf;
        e->cr.lmsw = (uint16_t)(e->qual >> 16);
        break;
    case EXIT_EPT_VIOLATION:
    case EXIT_EPT_MISCONFIG:
        e->gpa = vmread(GUEST_PHYS_ADDR);
        e->gla = (e->qual & (1u << 7)) ? vmread(GUEST_LINEAR_ADDR) : 0;
        break;
    default: break;
    }
}

void vmx_vcpu_run(struct vmx_vcpu *v, struct vm_exit *out)
{
    struct vm_exit *const e = out;
    if (v->hide_host_time) {
        /* Take the time since the exit out of the guest TSC, so the guest
         * resumes at the TSC it left with (plus deliberate changes such as
         * a HLT fast-forward). Only the entry/exit transitions themselves
         * remain visible to the guest. */
        uint64_t t = rdtsc();
        uint64_t d = t - v->host_exit_tsc;
        v->hidden_tsc += d;
        vmx_set_tsc_offset(v, v->tsc_offset - d);
        v->host_exit_tsc = t;
    }
    if (v->preempt_deadline != UINT64_MAX) {
        uint64_t now = virtual_tsc(v, rdtsc());
        uint64_t d = v->preempt_deadline > now ? v->preempt_deadline - now : 0;
        d >>= vmx_caps.preempt_shift;
        vmwrite(GUEST_PREEMPT_TIMER, d > 0xffffffffu ? 0xffffffffu : d);
    } else {
        vmwrite(GUEST_PREEMPT_TIMER, 0xffffffffu);
    }
    vmwrite(GUEST_RSP, v->g.r[R_RSP]);
    if (v->guest_xcr0 != vmx_caps.host_xcr0)
        xsetbv(0, v->guest_xcr0);
    if (v->guest_xss && vmx_caps.xsaves)
        wrmsr(MSR_XSS, v->guest_xss);
    int rc = vmx_enter(&v->g, v->launched);
    v->host_exit_tsc = rdtsc();
    e->guest_tsc = virtual_tsc(v, v->host_exit_tsc);
    e->gpa = e->gla = 0;
    e->vm_insn_error = 0;
    if (v->guest_xss && vmx_caps.xsaves)
        wrmsr(MSR_XSS, 0);
    if (v->guest_xcr0 != vmx_caps.host_xcr0)
        xsetbv(0, vmx_caps.host_xcr0);
    if (rc) {
        *e = (struct vm_exit){.guest_tsc = e->guest_tsc,
                              .reason = EXIT_VMFAIL,
                              .vm_insn_error = (uint32_t)vmread(VM_INSN_ERROR),
                              .rip = vmread(GUEST_RIP)};
        return;
    }
    v->launched = true;
    decode(v, e);
}

void vmx_end_interrupt_shadow(void)
{
    uint64_t intr = vmread(GUEST_INTERRUPTIBILITY);
    if (intr & 3)
        vmwrite(GUEST_INTERRUPTIBILITY, intr & ~3ull);
}

void vmx_skip_insn(struct vmx_vcpu *v, const struct vm_exit *e)
{
    (void)v;
    vmwrite(GUEST_RIP, e->rip + e->insn_len);
    vmx_end_interrupt_shadow();
}

uint64_t vmx_guest_rflags(void)
{
    return vmread(GUEST_RFLAGS);
}

uint64_t vmx_guest_cr(unsigned cr)
{
    switch (cr) {
    case 0:
        return (vmread(GUEST_CR0) & ~vmread(CR0_MASK)) | (vmread(CR0_SHADOW) & vmread(CR0_MASK));
    case 3: return vmread(GUEST_CR3);
    case 4:
        return (vmread(GUEST_CR4) & ~vmread(CR4_MASK)) | (vmread(CR4_SHADOW) & vmread(CR4_MASK));
    default: return 0;
    }
}

uint64_t vmx_guest_reg(const struct vmx_vcpu *v, unsigned r)
{
    return v->g.r[r & 15];
}
void vmx_set_guest_reg(struct vmx_vcpu *v, unsigned r, uint64_t val)
{
    v->g.r[r & 15] = val;
}

bool vmx_event_pending(void)
{
    return vmread(ENTRY_INTR_INFO) & INTR_INFO_VALID;
}

uint32_t vmx_blocking(void)
{
    return (uint32_t)(vmread(GUEST_INTERRUPTIBILITY) & 3) | (vmx_event_pending() ? 0x100u : 0);
}

bool vmx_interruptible(void)
{
    return (vmread(GUEST_RFLAGS) & (1u << 9)) && !(vmread(GUEST_INTERRUPTIBILITY) & 3) &&
           !vmx_event_pending();
}

/* No blocking by NMI (bit 3) or MOV SS (bit 1), no event queued: an NMI
 * may be injected (SDM Vol. 3 26.3.1.5: NMI injection needs both clear with
 * virtual NMIs; STI blocking does not hold NMIs). */
bool vmx_nmi_ready(void)
{
    return !(vmread(GUEST_INTERRUPTIBILITY) & 0xa) && !vmx_event_pending();
}

uint32_t vmx_nmi_blocking(void)
{
    return (uint32_t)(vmread(GUEST_INTERRUPTIBILITY) & 8);
}

void vmx_inject_nmi(void)
{
    vmwrite(ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | 2);
}

void vmx_set_nmi_window(struct vmx_vcpu *v, bool on)
{
    uint32_t p = v->proc_ctls;
    uint32_t n = on && vmx_caps.nmi_window ? p | PROC_NMI_WINDOW : p & ~PROC_NMI_WINDOW;
    if (n != p) {
        vmwrite(PROC_CTLS, n);
        v->proc_ctls = n;
    }
}

void vmx_inject_extint(uint8_t vector)
{
    vmwrite(ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT | vector);
}

void vmx_inject_exception(uint8_t vector, bool has_err, uint32_t err)
{
    /* Real mode has no error codes. */
    if (!(vmx_guest_cr(0) & CR0_PE))
        has_err = false;
    vmwrite(ENTRY_INTR_INFO,
            INTR_INFO_VALID | INTR_TYPE_HW_EXC | vector | (has_err ? INTR_INFO_ERR : 0));
    if (has_err)
        vmwrite(ENTRY_EXC_ERR, err);
}

void vmx_set_intr_window(struct vmx_vcpu *v, bool on)
{
    uint32_t p = v->proc_ctls;
    uint32_t n = on ? p | PROC_INTR_WINDOW : p & ~PROC_INTR_WINDOW;
    if (n != p) {
        vmwrite(PROC_CTLS, n);
        v->proc_ctls = n;
    }
}

void vmx_requeue_idt_vectoring(const struct vm_exit *e)
{
    uint32_t info = e->idt_vec_info;
    if (!(info & INTR_INFO_VALID))
        return;
    vmwrite(ENTRY_INTR_INFO, info & ~(1u << 12));
    if (info & INTR_INFO_ERR)
        vmwrite(ENTRY_EXC_ERR, vmread(IDT_VEC_ERR));
    uint32_t type = info & INTR_TYPE_MASK;
    if (type == INTR_TYPE_SW_INT || type == (5u << 8) || type == (6u << 8))
        vmwrite(ENTRY_INSN_LEN, e->insn_len);
}

uint64_t vmx_guest_tsc_now(const struct vmx_vcpu *v)
{
    return virtual_tsc(v, v->hide_host_time ? v->host_exit_tsc : rdtsc());
}

void vmx_set_tsc_offset(struct vmx_vcpu *v, uint64_t off)
{
    v->tsc_offset = off;
    vmwrite(TSC_OFFSET, off);
}

unsigned vmx_guest_code_bits(uint64_t *base)
{
    uint64_t ar = vmread(GUEST_CS_AR);
    *base = vmread(GUEST_CS_BASE);
    if ((vmread(GUEST_EFER) & (1ull << 10)) && (ar & (1u << 13))) /* EFER.LMA, CS.L */
        return 64;
    return (ar & (1u << 14)) ? 32 : 16; /* CS.D */
}

uint64_t vmx_guest_efer(const struct vmx_vcpu *v)
{
    (void)v;
    return vmread(GUEST_EFER);
}

static void set_ia32e(bool on)
{
    uint32_t en = (uint32_t)vmread(ENTRY_CTLS);
    vmwrite(ENTRY_CTLS, on ? en | ENTRY_IA32E : en & ~ENTRY_IA32E);
}

bool vmx_set_guest_efer(struct vmx_vcpu *v, uint64_t efer)
{
    uint64_t cur = vmread(GUEST_EFER);
    if (efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
        return false;
    bool paging = vmx_guest_cr(0) & CR0_PG;
    if (paging && ((efer ^ cur) & EFER_LME))
        return false;
    efer = (efer & ~EFER_LMA) | (cur & EFER_LMA);
    vmwrite(GUEST_EFER, efer);
    v->efer_shadow = efer;
    return true;
}

bool vmx_write_cr(struct vmx_vcpu *v, unsigned cr, uint64_t val)
{
    const struct vmx_caps *c = &vmx_caps;
    (void)v;
    if (cr == 0) {
        if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)))
            return false;
        if (!(val & (1ull << 30)) && (val & (1ull << 29))) /* NW without CD */
            return false;
        uint64_t old = vmx_guest_cr(0);
        uint64_t efer = vmread(GUEST_EFER);
        if ((val & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
            if (!(vmx_guest_cr(4) & CR4_PAE))
                return false;
            vmwrite(GUEST_EFER, efer | EFER_LMA);
            set_ia32e(true);
        } else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
            vmwrite(GUEST_EFER, efer & ~EFER_LMA);
            set_ia32e(false);
        }
        vmwrite(CR0_SHADOW, val);
        uint64_t fixed0 = c->cr0_fixed0 & ~(CR0_PE | CR0_PG);
        vmwrite(GUEST_CR0, (val | fixed0) & (c->cr0_fixed1 | CR0_PE | CR0_PG));
        return true;
    }
    if (cr == 4) {
        if (val & CR4_VMXE)
            return false;
        if (val & ~c->cr4_fixed1)
            return false;
        if ((vmread(GUEST_EFER) & EFER_LMA) && !(val & CR4_PAE))
            return false;
        vmwrite(CR4_SHADOW, val);
        vmwrite(GUEST_CR4, (val | c->cr4_fixed0) & c->cr4_fixed1);
        return true;
    }
    return false;
}

uint64_t vmx_guest_pat(void)
{
    return vmread(GUEST_PAT);
}
void vmx_set_guest_pat(uint64_t pat)
{
    vmwrite(GUEST_PAT, pat);
}

uint64_t vmx_guest_msr_base(uint32_t msr)
{
    switch (msr) {
    case 0x174: return vmread(GUEST_SYSENTER_CS);
    case 0x175: return vmread(GUEST_SYSENTER_ESP);
    case 0x176: return vmread(GUEST_SYSENTER_EIP);
    case 0xc0000100: return vmread(GUEST_FS_BASE);
    case 0xc0000101: return vmread(GUEST_GS_BASE);
    default: return 0;
    }
}

void vmx_set_guest_msr_base(uint32_t msr, uint64_t val)
{
    switch (msr) {
    case 0x174: vmwrite(GUEST_SYSENTER_CS, val); break;
    case 0x175: vmwrite(GUEST_SYSENTER_ESP, val); break;
    case 0x176: vmwrite(GUEST_SYSENTER_EIP, val); break;
    case 0xc0000100: vmwrite(GUEST_FS_BASE, val); break;
    case 0xc0000101: vmwrite(GUEST_GS_BASE, val); break;
    default: break;
    }
}

static const char *const exit_names[EXIT_REASON_MAX] = {
    [EXIT_EXCEPTION] = "exception or NMI",
    [EXIT_EXT_INTR] = "external interrupt",
    [EXIT_TRIPLE_FAULT] = "triple fault",
    [EXIT_INIT] = "INIT",
    [EXIT_SIPI] = "SIPI",
    [EXIT_INTR_WINDOW] = "interrupt window",
    [EXIT_NMI_WINDOW] = "NMI window",
    [EXIT_TASK_SWITCH] = "task switch",
    [EXIT_CPUID] = "CPUID",
    [EXIT_GETSEC] = "GETSEC",
    [EXIT_HLT] = "HLT",
    [EXIT_INVD] = "INVD",
    [EXIT_INVLPG] = "INVLPG",
    [EXIT_RDPMC] = "RDPMC",
    [EXIT_RDTSC] = "RDTSC",
    [EXIT_VMCALL] = "VMCALL",
    [19] = "VMCLEAR",
    [20] = "VMLAUNCH",
    [21] = "VMPTRLD",
    [22] = "VMPTRST",
    [23] = "VMREAD",
    [24] = "VMRESUME",
    [25] = "VMWRITE",
    [26] = "VMXOFF",
    [27] = "VMXON",
    [EXIT_CR_ACCESS] = "CR access",
    [EXIT_DR_ACCESS] = "MOV DR",
    [EXIT_IO] = "I/O instruction",
    [EXIT_RDMSR] = "RDMSR",
    [EXIT_WRMSR] = "WRMSR",
    [EXIT_BAD_GUEST_STATE] = "VM-entry failure: invalid guest state",
    [EXIT_BAD_MSR_LOAD] = "VM-entry failure: MSR loading",
    [EXIT_MWAIT] = "MWAIT",
    [EXIT_MTF] = "monitor trap flag",
    [EXIT_MONITOR] = "MONITOR",
    [EXIT_PAUSE] = "PAUSE",
    [EXIT_MCE_ENTRY] = "VM-entry failure: machine check",
    [EXIT_EPT_VIOLATION] = "EPT violation",
    [EXIT_EPT_MISCONFIG] = "EPT misconfiguration",
    [EXIT_INVEPT] = "INVEPT",
    [EXIT_RDTSCP] = "RDTSCP",
    [EXIT_PREEMPT_TIMER] = "preemption timer",
    [EXIT_INVVPID] = "INVVPID",
    [EXIT_WBINVD] = "WBINVD",
    [EXIT_XSETBV] = "XSETBV",
    [EXIT_RDRAND] = "RDRAND",
    [EXIT_INVPCID] = "INVPCID",
    [EXIT_RDSEED] = "RDSEED",
    [EXIT_XSAVES] = "XSAVES",
    [EXIT_XRSTORS] = "XRSTORS",
};

const char *vmx_exit_name(unsigned reason)
{
    if (reason == EXIT_VMFAIL)
        return "VMLAUNCH/VMRESUME failed";
    if (reason < EXIT_REASON_MAX && exit_names[reason])
        return exit_names[reason];
    return "unknown";
}

void vmx_dump_guest(const struct vmx_vcpu *v, const struct vm_exit *e)
{
    const uint64_t *r = v->g.r;
    hv_log("  exit reason %u (%s) raw 0x%x qualification 0x%lx", e->reason,
           vmx_exit_name(e->reason), e->raw_reason, e->qual);
    if (e->reason == EXIT_VMFAIL)
        hv_log("  VM-instruction error %u", e->vm_insn_error);
    hv_log("  rip %04lx:%016lx insn_len %u rflags %016lx guest_tsc %lu", vmread(GUEST_CS_SEL),
           e->rip, e->insn_len, vmread(GUEST_RFLAGS), e->guest_tsc);
    hv_log("  rax %016lx rbx %016lx rcx %016lx rdx %016lx", r[R_RAX], r[R_RBX], r[R_RCX], r[R_RDX]);
    hv_log("  rsi %016lx rdi %016lx rbp %016lx rsp %016lx", r[R_RSI], r[R_RDI], r[R_RBP],
           vmread(GUEST_RSP));
    hv_log("  r8  %016lx r9  %016lx r10 %016lx r11 %016lx", r[R_R8], r[R_R9], r[R_R10], r[R_R11]);
    hv_log("  r12 %016lx r13 %016lx r14 %016lx r15 %016lx", r[R_R12], r[R_R13], r[R_R14], r[R_R15]);
    hv_log("  cr0 %016lx cr2 %016lx cr3 %016lx cr4 %016lx efer %lx", vmx_guest_cr(0), v->g.cr2,
           vmread(GUEST_CR3), vmx_guest_cr(4), vmread(GUEST_EFER));
    hv_log("  cs ar 0x%lx ss %04lx ds %04lx intr_info 0x%x idt_vec 0x%x interruptibility 0x%lx "
           "activity %lu",
           vmread(GUEST_CS_AR), vmread(GUEST_SS_SEL), vmread(GUEST_DS_SEL), e->intr_info,
           e->idt_vec_info, vmread(GUEST_INTERRUPTIBILITY), vmread(GUEST_ACTIVITY));
    if (e->reason == EXIT_EPT_VIOLATION || e->reason == EXIT_EPT_MISCONFIG)
        hv_log("  guest-physical 0x%lx guest-linear 0x%lx", e->gpa, e->gla);
}

unsigned vmx_guest_cpl(void)
{
    return (unsigned)(vmread(GUEST_SS_AR) >> 5) & 3;
}
