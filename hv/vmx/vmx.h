/* The Intel VMX layer: capability checks, VMXON, one VMCS per vCPU, EPT,
 * and vmx_vcpu_run(), which enters the guest and returns the decoded exit.
 * Nothing outside hv/vmx/ touches a VMCS field. */
#ifndef HVRR_VMX_H
#define HVRR_VMX_H

#include <stdbool.h>
#include <stdint.h>

/* Basic exit reasons (SDM Vol. 3 Appendix C). */
enum vmx_exit_reason {
    EXIT_EXCEPTION = 0,
    EXIT_EXT_INTR = 1,
    EXIT_TRIPLE_FAULT = 2,
    EXIT_INIT = 3,
    EXIT_SIPI = 4,
    EXIT_INTR_WINDOW = 7,
    EXIT_NMI_WINDOW = 8,
    EXIT_TASK_SWITCH = 9,
    EXIT_CPUID = 10,
    EXIT_GETSEC = 11,
    EXIT_HLT = 12,
    EXIT_INVD = 13,
    EXIT_INVLPG = 14,
    EXIT_RDPMC = 15,
    EXIT_RDTSC = 16,
    EXIT_VMCALL = 18,
    EXIT_CR_ACCESS = 28,
    EXIT_DR_ACCESS = 29,
    EXIT_IO = 30,
    EXIT_RDMSR = 31,
    EXIT_WRMSR = 32,
    EXIT_BAD_GUEST_STATE = 33,
    EXIT_BAD_MSR_LOAD = 34,
    EXIT_MWAIT = 36,
    EXIT_MTF = 37,
    EXIT_MONITOR = 39,
    EXIT_PAUSE = 40,
    EXIT_MCE_ENTRY = 41,
    EXIT_EPT_VIOLATION = 48,
    EXIT_EPT_MISCONFIG = 49,
    EXIT_INVEPT = 50,
    EXIT_RDTSCP = 51,
    EXIT_PREEMPT_TIMER = 52,
    EXIT_INVVPID = 53,
    EXIT_WBINVD = 54,
    EXIT_XSETBV = 55,
    EXIT_RDRAND = 57,
    EXIT_INVPCID = 58,
    EXIT_RDSEED = 61,
    EXIT_XSAVES = 63,
    EXIT_XRSTORS = 64,
    EXIT_REASON_MAX = 80,
    /* Not an Intel reason: VMLAUNCH/VMRESUME itself failed (VMfail). */
    EXIT_VMFAIL = 0xffff,
};
const char *vmx_exit_name(unsigned reason);

/* General-purpose registers, in the x86 encoding order (for CR-access and
 * instruction-info decoding). rsp lives in the VMCS; the slot mirrors it. */
enum {
    R_RAX,
    R_RCX,
    R_RDX,
    R_RBX,
    R_RSP,
    R_RBP,
    R_RSI,
    R_RDI,
    R_R8,
    R_R9,
    R_R10,
    R_R11,
    R_R12,
    R_R13,
    R_R14,
    R_R15,
    R_NUM
};
struct vmx_gprs {
    uint64_t r[R_NUM];
    uint64_t cr2;
};

/* One decoded VM-exit: everything the vCPU/VM layers need, in a flat form a
 * recorder can serialise. Filled by vmx_vcpu_run(); the handlers fill the
 * `out` parts (port-in value, CPUID result, RDMSR value). */
struct vm_exit {
    uint32_t reason;     /* enum vmx_exit_reason */
    uint32_t raw_reason; /* the full exit-reason field (bit 31 = entry failure) */
    uint64_t qual;       /* exit qualification */
    uint64_t rip;        /* guest RIP of the exiting instruction */
    uint32_t insn_len;
    uint32_t intr_info;     /* exit interruption information */
    uint32_t idt_vec_info;  /* IDT-vectoring information */
    uint64_t guest_tsc;     /* virtual-time TSC at the exit: the guest TSC minus tsc_written */
    uint64_t gpa, gla;      /* EPT violation / misconfig; gla: also INS/OUTS operand */
    uint32_t vm_insn_error; /* for EXIT_VMFAIL */
    union {
        struct {
            uint16_t port;
            uint8_t size; /* 1, 2, 4 */
            bool in, string, rep;
            uint8_t addr_bits; /* string: address size 16, 32 or 64 */
            uint32_t value;    /* out: value written; in: value to return */
        } io;
        struct {
            uint32_t leaf, subleaf;
            uint32_t eax, ebx, ecx, edx; /* result */
        } cpuid;
        struct {
            uint32_t index;
            uint64_t value; /* wrmsr: written; rdmsr: result */
        } msr;
        struct {
            uint32_t index;
            uint64_t value;
        } xsetbv;
        struct {
            uint8_t cr, type, gpr; /* type 0 mov-to-CR, 1 mov-from-CR, 2 CLTS, 3 LMSW */
            uint16_t lmsw;
        } cr;
    };
};

struct vmx_caps {
    uint32_t revision;
    uint32_t pin, proc, proc2, exit, entry; /* the control values we run with */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t ept_vpid;
    unsigned preempt_shift; /* preemption timer counts TSC >> shift */
    bool xsaves, rdtscp, invpcid, vpid;
    bool pause_exit;    /* PAUSE exiting may be set (multi-vCPU VMs: a spinning vCPU yields) */
    bool virtual_nmis;  /* guest NMIs injected (their blocking kept by the CPU) */
    bool nmi_window;    /* NMI-window exiting may be set */
    bool xsavec_hidden; /* XSAVEC failed the boot-time check (hv/xstate.h) */
    uint64_t host_xcr0; /* XCR0 the host runs with (all components we allow guests) */
};
extern struct vmx_caps vmx_caps;

/* Guest-physical memory: RAM [0, ram_bytes) backed by host memory at ram_hpa. */
struct ept {
    uint64_t pml4_pa;
    uint64_t eptp;
};
/* Builds 4-level write-back EPT tables mapping guest RAM (2 MiB pages; both
 * ram_hpa and ram_bytes 2 MiB aligned). Returns 0 or -1 (out of memory). */
int ept_build(struct ept *e, uint64_t ram_hpa, uint64_t ram_bytes);

struct vmx_vcpu {
    struct vmx_gprs g;
    uint64_t vmcs_pa, msr_bitmap_pa, io_bitmap_pa;
    bool launched;
    uint16_t vpid;
    uint64_t tsc_offset;
    /* Guest time stands still while the hypervisor runs: the host TSC at the
     * last exit, and whether the time spent until the next entry is taken
     * out of the guest TSC (docs/hypervisor.md, "Virtual time"). */
    uint64_t host_exit_tsc;
    bool hide_host_time;
    uint64_t hidden_tsc; /* host TSC ticks hidden so far */
    /* What the guest's own TSC writes (WRMSR 0x10) moved its TSC by, in
     * total. Virtual time (devices, traces) runs on the guest TSC minus
     * this: on a PC, setting the TSC does not move the PIT or the RTC. */
    uint64_t tsc_written;
    uint64_t guest_xcr0, guest_xss;
    uint64_t preempt_deadline; /* guest TSC; UINT64_MAX = none */
    uint64_t cr8;
    uint64_t efer_shadow; /* EFER as the guest set it (LMA tracked here too) */
    uint32_t proc_ctls;   /* primary processor-based controls, as in the VMCS */
    /* MSRs the guest reads and writes directly (not in the VMCS): what
     * this vCPU last had in them, while another vCPU runs. */
    uint64_t shared_msrs[6];
};

/* Checks every VMX feature we need (printing one line per missing one),
 * enables VMX and executes VMXON. Returns 0 or -1. */
int vmx_init(void);
/* Builds a fresh VMCS for a vCPU that starts in real mode at CS:IP = 0:rip16
 * with SP = sp16, running on EPT `e`, with TSC offset `tsc_offset`. */
int vmx_vcpu_init(struct vmx_vcpu *v, const struct ept *e, uint16_t vpid, uint16_t rip16,
                  uint16_t sp16, uint64_t tsc_offset);
/* Before the first entry: start instead in 32-bit protected mode, paging
 * off, flat 4 GiB segments, at eip with the given ESP, EAX and EBX (the
 * Multiboot machine state; the VMCS must be current). */
void vmx_vcpu_set_pm32(struct vmx_vcpu *v, uint32_t eip, uint32_t esp, uint32_t eax, uint32_t ebx);
void vmx_vcpu_destroy(struct vmx_vcpu *v);
/* Several vCPUs on one physical CPU: makes to's VMCS the current one, hands
 * it the VM's one clock from `from` (the vCPU that ran last: TSC offset,
 * hidden time, the guest's TSC writes; so all vCPUs read the same TSC) and
 * swaps the MSRs guests use directly (STAR, LSTAR, CSTAR, SFMASK,
 * KERNEL_GS_BASE, TSC_AUX). The x87/SSE/AVX registers are the caller's. */
void vmx_vcpu_switch(struct vmx_vcpu *from, struct vmx_vcpu *to);
/* The current VMCS's vCPU to its state after INIT (SDM Vol. 3 10.1.1;
 * real mode, as vmx_vcpu_init leaves it), then started by a SIPI with
 * vector `vector`: CS = vector << 8 (base vector << 12), IP = 0. Clears
 * any pending event and the interrupt window; the clock is kept. */
void vmx_vcpu_start_sipi(struct vmx_vcpu *v, uint8_t vector);
/* PAUSE exiting on the current VMCS (vmx_caps.pause_exit must be set). */
void vmx_set_pause_exit(struct vmx_vcpu *v, bool on);
/* Enters the guest and fills *e with the decoded exit (every field the
 * exit reason defines; the others zero). */
void vmx_vcpu_run(struct vmx_vcpu *v, struct vm_exit *e);

/* Helpers for the vCPU/VM layers (all act on the current VMCS). */
void vmx_skip_insn(struct vmx_vcpu *v, const struct vm_exit *e);
/* Blocking by STI / MOV SS ends (an instruction, or a REP element, retired). */
void vmx_end_interrupt_shadow(void);
uint64_t vmx_guest_rflags(void);
uint64_t vmx_guest_cr(unsigned cr); /* guest-visible CR0/CR3/CR4 */
uint64_t vmx_guest_reg(const struct vmx_vcpu *v, unsigned r);
void vmx_set_guest_reg(struct vmx_vcpu *v, unsigned r, uint64_t val);
/* Can an external interrupt be delivered right now (IF=1, no STI/MOV-SS shadow)? */
bool vmx_interruptible(void);
bool vmx_event_pending(void); /* an injection is already queued for the next entry */
/* What blocks an interrupt besides RFLAGS.IF: bit 0 STI, bit 1 MOV SS
 * (interruptibility state), bit 8 an event queued (TRACE_BLOCK_*). */
uint32_t vmx_blocking(void);
void vmx_inject_extint(uint8_t vector);
/* NMIs (with vmx_caps.virtual_nmis): may one be injected now (no blocking
 * by NMI or MOV SS, nothing queued)? Inject it; NMI-window exiting (a no-op
 * without vmx_caps.nmi_window). */
bool vmx_nmi_ready(void);
uint32_t vmx_nmi_blocking(void); /* TRACE_BLOCK_NMI (8) while NMIs are blocked */
void vmx_inject_nmi(void);
void vmx_set_nmi_window(struct vmx_vcpu *v, bool on);
void vmx_inject_exception(uint8_t vector, bool has_err, uint32_t err);
void vmx_set_intr_window(struct vmx_vcpu *v, bool on);
/* Re-queues an event whose delivery the exit interrupted. */
void vmx_requeue_idt_vectoring(const struct vm_exit *e);
/* The virtual-time TSC now (guest TSC minus the guest's own writes): while
 * an exit is handled with hide_host_time, the value at the exit (plus any
 * offset change made since), else the running one. */
uint64_t vmx_guest_tsc_now(const struct vmx_vcpu *v);
void vmx_set_tsc_offset(struct vmx_vcpu *v, uint64_t off);
/* MOV to CR0/CR4 the hardware passed to us; returns false -> inject #GP. */
bool vmx_write_cr(struct vmx_vcpu *v, unsigned cr, uint64_t val);
uint64_t vmx_guest_efer(const struct vmx_vcpu *v);
unsigned vmx_guest_cpl(void); /* SS.DPL */
/* The code segment's operand width: 64 (IA-32e and CS.L), 32 (CS.D) or 16;
 * *base: CS base. */
unsigned vmx_guest_code_bits(uint64_t *base);
bool vmx_set_guest_efer(struct vmx_vcpu *v, uint64_t efer);
uint64_t vmx_guest_pat(void);
void vmx_set_guest_pat(uint64_t pat);
uint64_t vmx_guest_msr_base(uint32_t msr); /* FS/GS base, SYSENTER_* held in the VMCS */
void vmx_set_guest_msr_base(uint32_t msr, uint64_t val);
void vmx_dump_guest(const struct vmx_vcpu *v, const struct vm_exit *e);

#endif
