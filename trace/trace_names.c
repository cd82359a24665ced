/* Printable names for the trace's enumerations. */
#include "trace/trace.h"

const char *trace_exit_reason_name(uint32_t reason)
{
    switch (reason) {
    case TRACE_EXIT_EXCEPTION_NMI: return "EXCEPTION_NMI";
    case TRACE_EXIT_EXTERNAL_INTERRUPT: return "EXTERNAL_INTERRUPT";
    case TRACE_EXIT_TRIPLE_FAULT: return "TRIPLE_FAULT";
    case TRACE_EXIT_INIT_SIGNAL: return "INIT_SIGNAL";
    case TRACE_EXIT_SIPI: return "SIPI";
    case TRACE_EXIT_INTERRUPT_WINDOW: return "INTERRUPT_WINDOW";
    case TRACE_EXIT_NMI_WINDOW: return "NMI_WINDOW";
    case TRACE_EXIT_TASK_SWITCH: return "TASK_SWITCH";
    case TRACE_EXIT_CPUID: return "CPUID";
    case TRACE_EXIT_HLT: return "HLT";
    case TRACE_EXIT_INVD: return "INVD";
    case TRACE_EXIT_INVLPG: return "INVLPG";
    case TRACE_EXIT_RDPMC: return "RDPMC";
    case TRACE_EXIT_RDTSC: return "RDTSC";
    case TRACE_EXIT_VMCALL: return "VMCALL";
    case TRACE_EXIT_CR_ACCESS: return "CR_ACCESS";
    case TRACE_EXIT_DR_ACCESS: return "DR_ACCESS";
    case TRACE_EXIT_IO_INSTRUCTION: return "IO";
    case TRACE_EXIT_RDMSR: return "RDMSR";
    case TRACE_EXIT_WRMSR: return "WRMSR";
    case TRACE_EXIT_ENTRY_FAIL_GUEST_STATE: return "ENTRY_FAIL_GUEST_STATE";
    case TRACE_EXIT_ENTRY_FAIL_MSR_LOAD: return "ENTRY_FAIL_MSR_LOAD";
    case TRACE_EXIT_MWAIT: return "MWAIT";
    case TRACE_EXIT_MONITOR_TRAP_FLAG: return "MONITOR_TRAP_FLAG";
    case TRACE_EXIT_MONITOR: return "MONITOR";
    case TRACE_EXIT_PAUSE: return "PAUSE";
    case TRACE_EXIT_ENTRY_FAIL_MACHINE_CHECK: return "ENTRY_FAIL_MACHINE_CHECK";
    case TRACE_EXIT_TPR_BELOW_THRESHOLD: return "TPR_BELOW_THRESHOLD";
    case TRACE_EXIT_APIC_ACCESS: return "APIC_ACCESS";
    case TRACE_EXIT_EPT_VIOLATION: return "EPT_VIOLATION";
    case TRACE_EXIT_EPT_MISCONFIG: return "EPT_MISCONFIG";
    case TRACE_EXIT_PREEMPTION_TIMER: return "PREEMPTION_TIMER";
    case TRACE_EXIT_WBINVD: return "WBINVD";
    case TRACE_EXIT_XSETBV: return "XSETBV";
    case TRACE_EXIT_RDRAND: return "RDRAND";
    case TRACE_EXIT_RDSEED: return "RDSEED";
    default: return "UNKNOWN";
    }
}

const char *trace_dev_kind_name(enum trace_dev_kind kind)
{
    switch (kind) {
    case TRACE_DEV_IRQ_LINE: return "irq";
    case TRACE_DEV_INJECT: return "inject";
    case TRACE_DEV_UART_RX: return "uart-rx";
    case TRACE_DEV_TIMER_EDGE: return "timer";
    case TRACE_DEV_INTR: return "intr";
    case TRACE_DEV_REQUEST: return "request";
    case TRACE_DEV_INTR_BLOCKED: return "blocked";
    case TRACE_DEV_POLICY_IO: return "pio";
    case TRACE_DEV_HALT: return "halt";
    case TRACE_DEV_DEADLINE: return "deadline";
    case TRACE_DEV_CPU_START: return "cpu-start";
    default: return "unknown";
    }
}

const char *trace_end_reason_name(uint32_t reason)
{
    switch (reason) {
    case TRACE_END_STOPPED: return "stopped";
    case TRACE_END_POWEROFF: return "power-off";
    case TRACE_END_RESET: return "reset";
    case TRACE_END_TRIPLE_FAULT: return "triple-fault";
    case TRACE_END_ERROR: return "error";
    case TRACE_END_DEBUG_EXIT: return "debug-exit";
    default: return "unknown";
    }
}

const char *trace_timer_source_name(uint32_t source)
{
    switch (source) {
    case TRACE_TIMER_PIT0: return "pit0";
    case TRACE_TIMER_PIT2: return "pit2";
    case TRACE_TIMER_RTC: return "rtc";
    case TRACE_TIMER_PREEMPTION: return "preemption";
    default: return "unknown";
    }
}
