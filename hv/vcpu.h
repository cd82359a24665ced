/* Per-vCPU state and handling: one struct vcpu per virtual processor of a
 * VM (its VMCS and registers, its XSAVE area, its CPUID/MSR policy, whether
 * it runs, halts or waits for a SIPI), and what a vCPU answers on its own
 * (CPUID, MSRs, XSETBV, control registers, HLT). What all vCPUs of a VM
 * share (RAM, devices, virtual time, the exit policy) is the VM's (vm.h);
 * every other exit goes to the VM layer (vm.c). */
#ifndef HVRR_VCPU_H
#define HVRR_VCPU_H

#include "hv/vcpu_policy.h"
#include "hv/vcpu_sched.h"
#include "hv/vmx/vmx.h"

struct vm;

struct vcpu {
    struct vmx_vcpu vmx; /* its VMCS, registers, TSC offset */
    struct vm *vm;
    unsigned index;          /* 0 = the bootstrap processor; also its APIC ID */
    enum vcpu_run_state run; /* hv/vm.c's scheduler */
    bool hlt_if;             /* in HLT with IF=1: an interrupt wakes it (IF=0: nothing we model) */
    void *xsave;             /* its x87/SSE/AVX state while another vCPU runs
                                (64-byte aligned; NULL with one vCPU: the
                                registers are never shared) */
    uint64_t exits;          /* VM exits of this vCPU */
    uint64_t tsc_hz;         /* frequency the guest is told (CPUID 0x15/0x16) */
    uint64_t misc_enable;    /* IA32_MISC_ENABLE as the guest last wrote it */
    uint64_t unknown_msrs;   /* accesses answered with #GP */
    struct vcpu_policy pol;  /* CPUID/MSR/XCR0 state; set up on the first exit */
};

enum vcpu_result {
    VCPU_HANDLED = 0, /* done: resume the guest */
    VCPU_NOT_MINE,    /* the VM layer handles this exit */
    VCPU_HALTED,      /* HLT retired: the VM decides how time moves on */
};

/* Handles e if it is local to the vCPU; fills the exit's result fields. */
enum vcpu_result vcpu_handle_exit(struct vcpu *v, struct vm_exit *e);
/* The guest-visible CPUID (hv/vcpu_policy.h on the vCPU's state). */
void vcpu_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4]);
/* The host CPUID snapshot, XCR0 and features the policy uses (read on the
 * first call, after vmx_init); recorded in every trace header. */
const struct trace_host_cpu *vcpu_host_cpu(void);
/* For the next VMs: CPUID 0x15/0x16 read as zeros (TRACE_HOST_NO_TSC_LEAVES
 * in the snapshot's features, so traces carry it), making a guest such as
 * Linux calibrate its TSC against the virtual PIT. */
void vcpu_hide_tsc_leaves(bool hide);
/* For the next VMs: CPUID.01H:EDX.APIC reads 1 (TRACE_HOST_APIC: the APIC
 * platform, carried in the trace header so replay agrees). */
void vcpu_set_apic(bool apic);

#endif
