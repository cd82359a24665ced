/* TEMPORARY, drop when hv/devs has per-CPU local APICs: the per-CPU device
 * entry points of the SMP contract (issue 16; vCPU index = APIC ID), in
 * their one-CPU forms, so that the hypervisor's N-vCPU code builds and runs
 * with cpus=1 before the device side is in. Once hv/devs/vm_devices.h
 * defines VM_DEVICES_MAX_CPUS (and the functions), this file is empty. */
#ifndef HVRR_SMP_SHIM_H
#define HVRR_SMP_SHIM_H

#include "hv/devs/vm_devices.h"

#ifndef VM_DEVICES_MAX_CPUS
#define VM_DEVICES_MAX_CPUS 1
#define VM_CPU_EV_INIT      1u /* INIT received: the core enters wait-for-SIPI */
#define VM_CPU_EV_SIPI      2u /* SIPI received while waiting: vm_devices_sipi_vector */

static inline bool vm_devices_intr_cpu(const struct vm_devices *d, unsigned cpu)
{
    return cpu == 0 && vm_devices_intr(d);
}
static inline uint8_t vm_devices_ack_cpu(struct vm_devices *d, unsigned cpu, uint64_t now_ns)
{
    (void)cpu;
    return vm_devices_ack(d, now_ns);
}
static inline int vm_devices_mmio_cpu(struct vm_devices *d, unsigned cpu, uint64_t gpa,
                                      unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    (void)cpu;
    return vm_devices_mmio(d, gpa, size, write, val, now_ns);
}
static inline int vm_devices_msr_cpu(struct vm_devices *d, unsigned cpu, uint32_t msr, bool write,
                                     uint64_t *val, uint64_t now_ns)
{
    (void)cpu;
    return vm_devices_msr(d, msr, write, val, now_ns);
}
static inline uint32_t vm_devices_cpu_events(const struct vm_devices *d, unsigned cpu)
{
    (void)d;
    (void)cpu;
    return 0;
}
static inline uint8_t vm_devices_sipi_vector(const struct vm_devices *d, unsigned cpu)
{
    (void)d;
    (void)cpu;
    return 0;
}
static inline void vm_devices_cpu_events_take(struct vm_devices *d, unsigned cpu, uint32_t bits)
{
    (void)d;
    (void)cpu;
    (void)bits;
}
#endif

#endif
