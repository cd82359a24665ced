/* The guest-visible CPU: what CPUID answers and which MSRs exist, as pure
 * functions of explicit inputs. Compiled into the hypervisor (hv/vcpu.c
 * calls it on CPUID/RDMSR/WRMSR/XSETBV exits) and into libhvrr.a (the
 * replayer recomputes every recorded answer from the trace's header and the
 * recorded XSETBV/WRMSR exits). No VMX, no libc, freestanding.
 *
 * Inputs:
 *  - the host: a snapshot of the host CPUID leaves the policy reads
 *    (vcpu_policy_snapshot_want() says which), the host XCR0 and whether
 *    XSAVES / RDTSCP are usable (struct trace_host_cpu, recorded in the
 *    trace header);
 *  - the guest configuration: the TSC frequency it is told;
 *  - the vCPU state the answers depend on: XCR0, IA32_XSS, MISC_ENABLE
 *    (kept here, changed only through the functions below) and CR4.OSXSAVE
 *    (guest-owned, not trapped: the caller sets `osxsave` before a CPUID).
 *
 * The guest sees a GenuineIntel CPU with one logical processor, no local
 * APIC or x2APIC, no VMX, no RDRAND/RDSEED (non-deterministic), no
 * MTRR/MCE, no hypervisor leaves, invariant TSC, TSC frequency in leaves
 * 0x15/0x16, and the XSAVE components the host XCR0 enables.
 */
#ifndef HVRR_VCPU_POLICY_H
#define HVRR_VCPU_POLICY_H

#include "trace/trace.h"

/* Highest basic leaf the guest is offered. */
#define VCPU_POLICY_MAX_LEAF 0x16u
/* Highest extended leaf the policy takes from the host. */
#define VCPU_POLICY_MAX_EXT_LEAF 0x80000008u

struct vcpu_policy {
    const struct trace_host_cpu *host;
    uint64_t tsc_hz;      /* guest TSC frequency (CPUID 0x15/0x16) */
    uint64_t xcr0;        /* guest XCR0 */
    uint64_t xss;         /* guest IA32_XSS */
    uint64_t misc_enable; /* IA32_MISC_ENABLE as the guest last wrote it */
    bool osxsave;         /* guest CR4.OSXSAVE (CPUID.1:ECX[27]) */
    uint8_t apic_id;      /* the vCPU's APIC ID = its index (CPUID.1:EBX[31:24]); 0 = BSP */
};

/* Reset state: XCR0 = x87 only, XSS = 0, MISC_ENABLE = fast strings. */
void vcpu_policy_init(struct vcpu_policy *p, const struct trace_host_cpu *host, uint64_t tsc_hz);

/* Whether the snapshot must hold host leaf (leaf, subleaf), given the host's
 * highest basic and extended leaves (CPUID 0 and 0x80000000 EAX). Leaves the
 * snapshot lacks answer as all zeros. Walk leaf 0..max_basic with subleaf
 * 0..63 and 0x80000000..max_ext with subleaf 0 (at most TRACE_HOST_CPUID_MAX
 * are wanted). */
bool vcpu_policy_snapshot_want(uint32_t leaf, uint32_t subleaf, uint32_t max_basic,
                               uint32_t max_ext);

/* The guest's EAX, EBX, ECX, EDX for CPUID(leaf, subleaf). */
void vcpu_policy_cpuid(const struct vcpu_policy *p, uint32_t leaf, uint32_t subleaf,
                       uint32_t out[4]);

enum vcpu_msr_result {
    VCPU_MSR_OK,       /* read: *val is the answer; write: done */
    VCPU_MSR_GP,       /* the guest gets #GP */
    VCPU_MSR_GUEST_REG /* the MSR is guest register state the caller owns (TSC
                          offset, PAT, EFER, SYSENTER_*, FS/GS base): the caller
                          reads it / writes it (and may still refuse: #GP) */
};

/* RDMSR; guest_tsc is the guest TSC at the exit (IA32_TSC reads it). */
enum vcpu_msr_result vcpu_policy_rdmsr(const struct vcpu_policy *p, uint32_t msr,
                                       uint64_t guest_tsc, uint64_t *val);
/* WRMSR: updates the policy's state on VCPU_MSR_OK. */
enum vcpu_msr_result vcpu_policy_wrmsr(struct vcpu_policy *p, uint32_t msr, uint64_t val);

/* XSETBV (the caller raises #UD first when CR4.OSXSAVE is clear): true and
 * XCR0 updated, or false: #GP. */
bool vcpu_policy_xsetbv(struct vcpu_policy *p, uint32_t xcr, uint64_t val);

#endif
