/* MMIO exits as portable policy (issue 15 item 2), beside vm_policy_io():
 * an EPT violation on a device page (the local APIC, the I/O APIC) is the
 * guest's MOV to or from a device register. The instruction is fetched
 * through the guest's paging (vm_policy_ops.map_operand), decoded
 * (hv/mmio_decode.h), performed as one device access (through the
 * recorder, like port I/O), its load merged into the register, and RIP
 * moved past it. Not yet called by the hypervisor (docs/devices/lapic.md).
 * Pure C, unit-tested on the host (tests/test_vm_mmio.c). */
#ifndef HVRR_VM_MMIO_H
#define HVRR_VM_MMIO_H

#include "hv/mmio_decode.h"
#include "hv/vm_policy.h"

/* What MMIO needs beyond vm_policy_ops. */
struct vm_mmio_ops {
    /* one device access (recorded): returns the value a load reads */
    uint64_t (*access)(void *ctx, const struct vm_rec_exit_info *x, uint64_t gpa, unsigned size,
                       bool write, uint64_t value);
    /* RIP += len, blocking by STI/MOV SS over (an EPT violation's exit
     * carries no instruction length) */
    void (*advance_rip)(void *ctx, unsigned len);
};

struct vm_mmio_exit {
    struct vm_rec_exit_info x;
    uint64_t gpa;            /* the faulting guest-physical address */
    enum mmio_cpu_mode mode; /* from CS: 64 (L), 32 (D) or 16 */
    uint64_t code_la;        /* linear address of the instruction (CS base + RIP) */
    /* results */
    struct mmio_insn insn;
    uint64_t value;  /* the value stored or loaded */
    const char *why; /* VM_POLICY_IO_FATAL: the reason */
};

/* VM_POLICY_IO_DEVICE: the access was made (the recorder recorded it).
 * VM_POLICY_IO_NO_ACCESS: fetching the instruction faulted: #PF injected,
 * the instruction restarts. VM_POLICY_IO_FATAL: not an instruction we
 * emulate, or code outside guest RAM: p->stop = VM_STOP_FATAL, m->why
 * says why (the caller prints it with the bytes). */
enum vm_policy_io_result vm_policy_mmio(struct vm_policy *p, const struct vm_mmio_ops *mo,
                                        struct vm_mmio_exit *m);

#endif
