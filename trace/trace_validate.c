/* Field checks of decoded records (trace_reader.h, "Record checks"): what
 * the recording convention (docs/replay.md) and the VMX exit format (SDM
 * vol. 3, 28.2.1 / table 28-5: I/O exit qualification sizes 1, 2, 4) make
 * impossible. The reader turns a failed check into a damage report. */
#include <stdarg.h>
#include <stdio.h>

#include "trace/trace_reader.h"

__attribute__((format(printf, 3, 4))) static bool fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return false;
}

static const char *detail_name(const struct trace_exit *e)
{
    switch (e->detail) {
    case TRACE_DETAIL_IO: return "port I/O";
    case TRACE_DETAIL_CPUID: return "CPUID";
    case TRACE_DETAIL_MSR: return e->u.msr.write ? "WRMSR" : "RDMSR";
    case TRACE_DETAIL_XSETBV: return "XSETBV";
    case TRACE_DETAIL_CR: return "CR access";
    case TRACE_DETAIL_EPT: return "EPT";
    case TRACE_DETAIL_EXTINT: return "external interrupt";
    default: return "none";
    }
}

/* The exit reason a detail may come with (SDM vol. 3 appendix C). */
static bool reason_fits(const struct trace_exit *e)
{
    switch (e->detail) {
    case TRACE_DETAIL_NONE: return true;
    case TRACE_DETAIL_IO: return e->reason == TRACE_EXIT_IO_INSTRUCTION;
    case TRACE_DETAIL_CPUID: return e->reason == TRACE_EXIT_CPUID;
    case TRACE_DETAIL_MSR:
        return e->reason == (e->u.msr.write ? TRACE_EXIT_WRMSR : TRACE_EXIT_RDMSR);
    case TRACE_DETAIL_XSETBV: return e->reason == TRACE_EXIT_XSETBV;
    case TRACE_DETAIL_CR: return e->reason == TRACE_EXIT_CR_ACCESS;
    case TRACE_DETAIL_EPT:
        return e->reason == TRACE_EXIT_EPT_VIOLATION || e->reason == TRACE_EXIT_EPT_MISCONFIG;
    case TRACE_DETAIL_EXTINT: return e->reason == TRACE_EXIT_EXTERNAL_INTERRUPT;
    default: return false;
    }
}

bool trace_check_exit(const struct trace_exit *e, uint32_t vcpus, char *why, size_t n)
{
    if (vcpus && e->vcpu >= vcpus)
        return fail(why, n, "vCPU %u of a %u-vCPU VM", e->vcpu, vcpus);
    if (!reason_fits(e))
        return fail(why, n, "exit reason %s (%u) contradicts its detail (%s)",
                    trace_exit_reason_name(e->reason), e->reason, detail_name(e));
    if (e->detail == TRACE_DETAIL_IO) {
        unsigned s = e->u.io.size;
        if (s != 1 && s != 2 && s != 4)
            return fail(why, n, "port access of size %u (1, 2 or 4)", s);
        uint32_t mask = s == 4 ? 0xffffffffu : (1u << (8 * s)) - 1;
        if (e->u.io.value & ~mask)
            return fail(why, n, "value 0x%x wider than the access size %u", e->u.io.value, s);
    }
    if (e->detail == TRACE_DETAIL_EPT && e->u.ept.size) {
        /* An emulated MMIO access (vm_rec_mmio): one MOV, a load or a store. */
        unsigned s = e->u.ept.size;
        if (s != 1 && s != 2 && s != 4 && s != 8)
            return fail(why, n, "MMIO access of size %u (1, 2, 4 or 8)", s);
        if (e->u.ept.access != TRACE_EPT_READ && e->u.ept.access != TRACE_EPT_WRITE)
            return fail(why, n, "MMIO access type %u (a read or a write)", e->u.ept.access);
        if (s < 8 && (e->u.ept.value >> (8 * s)))
            return fail(why, n, "MMIO value 0x%llx wider than the access size %u",
                        (unsigned long long)e->u.ept.value, s);
    }
    if (e->detail == TRACE_DETAIL_CR && (e->u.cr.access > 3 || e->u.cr.gpr > 15))
        return fail(why, n, "CR access type %u / register %u out of range", e->u.cr.access,
                    e->u.cr.gpr);
    return true;
}

bool trace_check_dev(const struct trace_dev_event *d, uint32_t vcpus, char *why, size_t n)
{
    if (vcpus && d->vcpu >= vcpus)
        return fail(why, n, "device event on vCPU %u of a %u-vCPU VM", d->vcpu, vcpus);
    switch (d->kind) {
    case TRACE_DEV_IRQ_LINE:
        if (d->u.irq.irq > 15)
            return fail(why, n, "IRQ line %u (the PIC pair has 0..15)", d->u.irq.irq);
        break;
    case TRACE_DEV_REQUEST:
        if (d->u.request.what < 1 || d->u.request.what > 3)
            return fail(why, n, "device request %u (1 reset, 2 power-off, 3 debug-exit)",
                        d->u.request.what);
        break;
    case TRACE_DEV_TIMER_EDGE:
        if (d->u.timer.source > TRACE_TIMER_PREEMPTION)
            return fail(why, n, "timer source %u", d->u.timer.source);
        break;
    case TRACE_DEV_POLICY_IO: {
        unsigned b = d->u.pio.addr_bits;
        if (b != 0 && b != 16 && b != 32 && b != 64)
            return fail(why, n, "string I/O address size %u (16, 32 or 64)", b);
        break;
    }
    case TRACE_DEV_HALT:
        if (d->u.halt.stop != 0 && d->u.halt.stop != 1 && d->u.halt.stop != 4)
            return fail(why, n, "HLT stop %u (0 resumed, 1 power-off, 4 idle)", d->u.halt.stop);
        break;
    case TRACE_DEV_CPU_START:
        if (d->u.cpu_start.vector > 0xff)
            return fail(why, n, "SIPI vector 0x%x (8 bits)", d->u.cpu_start.vector);
        if (vcpus && d->u.cpu_start.vcpu >= vcpus)
            return fail(why, n, "start of vCPU %u of a %u-vCPU VM", d->u.cpu_start.vcpu, vcpus);
        if (d->u.cpu_start.vcpu == 0)
            return fail(why, n, "start of vCPU 0 (the BSP is never started by a SIPI)");
        break;
    default: break;
    }
    return true;
}
