/* One virtual machine. Per VM: guest RAM behind EPT, the device set
 * (hv/devs), virtual time derived from the one guest TSC all its vCPUs
 * share, the exit policy and why the VM stopped. Per vCPU (struct vcpu,
 * hv/vcpu.h): VMCS, registers, XSAVE area, CPUID/MSR policy, run state.
 * All vCPUs take turns on the one physical CPU (hv/vm.c, docs/hypervisor.md
 * "vCPUs"). */
#ifndef HVRR_VM_H
#define HVRR_VM_H

#include "hv/devs/vm_devices.h"
#include "hv/record/recorder.h"
#include "hv/vcpu.h"
#include "hv/vm_policy.h"
#include "hv/vm_polrec.h"
#include "hv/vmx/vmx.h"

struct vm_config {
    uint64_t ram_bytes;
    uint64_t tsc_hz;
    uint64_t time_limit_ns; /* 0 = none */
    bool interactive;       /* idle with no device deadline waits for COM1 input */
    bool realtime;          /* idle time passes on the host clock before it is skipped */
    uint64_t rtc_epoch_sec; /* the guest RTC's time at VM creation (Unix seconds) */
    bool show_host_time;    /* hidetime=0: the guest TSC also runs while the hv handles exits */
    bool hide_tsc_leaves;   /* CPUID 0x15/0x16 read 0: the guest calibrates its TSC on the PIT */
    bool debug_exit;        /* isa-debug-exit on port 0xf4 (multiboot guests) */
    bool apic;              /* the APIC platform (hv option apic=1, vm_devices_config.apic) */
    unsigned cpus;          /* vCPUs, 1..VM_MAX_VCPUS (0 = 1); more than 1 needs apic */
    uint16_t vpid;
    const char *cmdline; /* what ran, for the trace header (hv/recording.h) */
};

/* The most vCPUs a VM has (hv option cpus=). */
#define VM_MAX_VCPUS 4

struct vm {
    /* ---- per VM ---- */
    struct vm_devices devs;
    struct ept ept;
    struct vm_config cfg;
    struct vm_recorder *rec; /* every device call goes through it (hv/record/recorder.h) */
    bool recording;          /* rec writes a trace (hv/recording.h); else rec is
                                &unrecorded, a null sink */
    struct vm_recorder unrecorded;
    struct vm_policy pol;       /* the exit policy; pol.stop: why the VM stopped */
    struct vm_polrec polrec;    /* recording its inputs and outputs (hv/vm_polrec.h) */
    const struct vm_exit *exit; /* the exit being handled */
    uint64_t ram_hpa;
    uint64_t exits[EXIT_REASON_MAX + 1]; /* per reason; the last slot counts the rest */
    uint64_t total_exits;
    uint64_t start_tsc;     /* host TSC at VM creation (wall-ish cost measurement) */
    uint64_t trace_end_tsc; /* host TSC ticks the trace's end took (last frame, line drain) */
    /* Guest console line tracking: PASS/FAIL lines seen. */
    char line[128];
    unsigned line_len;
    unsigned pass_lines, fail_lines;
    /* ---- per vCPU ---- */
    struct vcpu vcpus[VM_MAX_VCPUS]; /* [0] the bootstrap processor */
    unsigned nvcpus;
    struct vcpu *cur;       /* the vCPU whose VMCS is current: running, or its exit handled */
    struct vcpu *fpu_owner; /* whose x87/SSE/AVX state the physical registers hold */
    /* the scheduler (several vCPUs): the current vCPU's slice ends at
     * guest TSC slice_end (VMX preemption timer), or earlier on yield */
    uint64_t quantum_tsc, slice_end;
    bool yield;     /* the current vCPU spun (PAUSE exit): the next one's turn */
    bool contended; /* another vCPU can run: slices and PAUSE exits matter */
    uint64_t switches;
};

/* Creates the VM (RAM, EPT, devices, the bootstrap vCPU in real mode at
 * 0:0x8000, the other vCPUs waiting for a SIPI) using memory from mm;
 * returns 0 or -1. Guest RAM is zeroed. The BSP's VMCS is current. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);
static inline void *vm_gpa(struct vm *vm, uint64_t gpa)
{
    return (void *)(uintptr_t)(vm->ram_hpa + gpa);
}
/* Runs the vCPUs until the VM stops; returns why. */
enum vm_stop vm_run(struct vm *vm);
/* The VM's virtual-time guest TSC now (hv/vmx/vmx.h vmx_guest_tsc_now). */
uint64_t vm_guest_tsc_now(const struct vm *vm);
uint64_t vm_now_ns(const struct vm *vm, uint64_t guest_tsc);
void vm_print_stats(const struct vm *vm);

#endif
