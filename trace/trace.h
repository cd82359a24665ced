/* The trace's records as plain C values, shared by the writer (hypervisor and
 * host) and the reader (host). The wire schema is trace/hvrr.proto; the file
 * layout is docs/trace-format.md. Nothing here depends on hv/ or on libc
 * beyond the standard integer headers.
 */
#ifndef HVRR_TRACE_H
#define HVRR_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_FORMAT_VERSION                                                                       \
    4 /* 2: VmConfig.apic, MMIO EptViolation records replayed;                                     \
       * 3: several vCPUs (Exit/DeviceEvent.vcpu), CpuStart; 4: VmConfig.pio_coded */

/* VMX basic exit reasons (SDM vol. 3 appendix C); the proto's ExitReason. */
enum trace_exit_reason {
    TRACE_EXIT_EXCEPTION_NMI = 0,
    TRACE_EXIT_EXTERNAL_INTERRUPT = 1,
    TRACE_EXIT_TRIPLE_FAULT = 2,
    TRACE_EXIT_INIT_SIGNAL = 3,
    TRACE_EXIT_SIPI = 4,
    TRACE_EXIT_INTERRUPT_WINDOW = 7,
    TRACE_EXIT_NMI_WINDOW = 8,
    TRACE_EXIT_TASK_SWITCH = 9,
    TRACE_EXIT_CPUID = 10,
    TRACE_EXIT_HLT = 12,
    TRACE_EXIT_INVD = 13,
    TRACE_EXIT_INVLPG = 14,
    TRACE_EXIT_RDPMC = 15,
    TRACE_EXIT_RDTSC = 16,
    TRACE_EXIT_VMCALL = 18,
    TRACE_EXIT_CR_ACCESS = 28,
    TRACE_EXIT_DR_ACCESS = 29,
    TRACE_EXIT_IO_INSTRUCTION = 30,
    TRACE_EXIT_RDMSR = 31,
    TRACE_EXIT_WRMSR = 32,
    TRACE_EXIT_ENTRY_FAIL_GUEST_STATE = 33,
    TRACE_EXIT_ENTRY_FAIL_MSR_LOAD = 34,
    TRACE_EXIT_MWAIT = 36,
    TRACE_EXIT_MONITOR_TRAP_FLAG = 37,
    TRACE_EXIT_MONITOR = 39,
    TRACE_EXIT_PAUSE = 40,
    TRACE_EXIT_ENTRY_FAIL_MACHINE_CHECK = 41,
    TRACE_EXIT_TPR_BELOW_THRESHOLD = 43,
    TRACE_EXIT_APIC_ACCESS = 44,
    TRACE_EXIT_EPT_VIOLATION = 48,
    TRACE_EXIT_EPT_MISCONFIG = 49,
    TRACE_EXIT_PREEMPTION_TIMER = 52,
    TRACE_EXIT_WBINVD = 54,
    TRACE_EXIT_XSETBV = 55,
    TRACE_EXIT_RDRAND = 57,
    TRACE_EXIT_RDSEED = 61,
    TRACE_EXIT_REASON_MAX = 64 /* reasons are < this */
};

/* Which detail an exit carries (at most one). */
enum trace_detail {
    TRACE_DETAIL_NONE = 0,
    TRACE_DETAIL_IO,
    TRACE_DETAIL_CPUID,
    TRACE_DETAIL_MSR,
    TRACE_DETAIL_XSETBV,
    TRACE_DETAIL_CR,
    TRACE_DETAIL_EPT,
    TRACE_DETAIL_EXTINT
};

enum trace_cr_access {
    TRACE_CR_MOV_TO = 0,
    TRACE_CR_MOV_FROM = 1,
    TRACE_CR_CLTS = 2,
    TRACE_CR_LMSW = 3
};
enum trace_ept_access { TRACE_EPT_READ = 1, TRACE_EPT_WRITE = 2, TRACE_EPT_FETCH = 4 };

struct trace_exit {
    uint64_t seq;  /* exit sequence number, normally previous + 1 */
    uint64_t tsc;  /* guest TSC at the exit */
    uint64_t rip;  /* guest RIP */
    uint64_t qual; /* exit qualification */
    uint32_t vcpu;
    uint32_t reason; /* enum trace_exit_reason */
    uint32_t insn_len;
    enum trace_detail detail;
    union {
        struct {
            uint16_t port;
            uint8_t size; /* 1, 2, 4 */
            bool write;
            uint32_t value; /* written, or returned to the guest */
        } io;
        struct {
            uint32_t leaf, subleaf, eax, ebx, ecx, edx;
        } cpuid;
        struct {
            uint32_t index;
            bool write;
            uint64_t value;
        } msr;
        struct {
            uint32_t xcr;
            uint64_t value;
        } xsetbv;
        struct {
            uint8_t cr, access, gpr; /* access: enum trace_cr_access */
            uint64_t value;
        } cr;
        struct {
            uint64_t gpa, gla, value;
            uint32_t access; /* enum trace_ept_access bits */
            uint32_t size;
        } ept;
        struct {
            uint8_t vector;
        } extint;
    } u;
};

enum trace_dev_kind {
    TRACE_DEV_IRQ_LINE = 1, /* a PIC input pin changed level */
    TRACE_DEV_INJECT,       /* interrupt acknowledged, vector injected */
    TRACE_DEV_UART_RX,      /* host bytes fed to a UART */
    TRACE_DEV_TIMER_EDGE,   /* a timer output changed level */
    TRACE_DEV_INTR,         /* PIC INTR output changed level */
    TRACE_DEV_REQUEST,      /* reset / power-off request */
    TRACE_DEV_INTR_BLOCKED, /* INTR high at an entry the guest could not take it */
    TRACE_DEV_POLICY_IO,    /* registers an IN / string I/O exit's policy read and wrote */
    TRACE_DEV_HALT,         /* the exit policy's HLT decision (tsc: where the vCPU resumes) */
    TRACE_DEV_DEADLINE,     /* preemption-timer deadline armed at an entry */
    TRACE_DEV_CPU_START     /* the hypervisor started a vCPU at a SIPI */
};

/* IntrBlocked.blocking bits */
#define TRACE_BLOCK_STI    1u
#define TRACE_BLOCK_MOV_SS 2u
#define TRACE_BLOCK_NMI    8u
#define TRACE_BLOCK_EVENT  0x100u

enum trace_timer_source {
    TRACE_TIMER_PIT0 = 0,
    TRACE_TIMER_PIT2 = 1,
    TRACE_TIMER_RTC = 2,
    TRACE_TIMER_PREEMPTION = 3
};

struct trace_dev_event {
    uint64_t tsc; /* guest TSC of the exit during which it happened */
    uint32_t vcpu;
    enum trace_dev_kind kind;
    union {
        struct {
            uint32_t irq;
            bool level;
        } irq;
        struct {
            uint8_t vector;
            bool nmi; /* an NMI taken from the local APIC (vector 2) */
        } inject;
        struct {
            uint16_t port;
            const uint8_t *data; /* reader: valid until the next read */
            size_t len;
        } uart_rx;
        struct {
            uint32_t source; /* enum trace_timer_source */
            bool level;
        } timer;
        struct {
            bool level;
        } intr;
        struct {
            uint32_t what; /* 1 reset, 2 power-off, 3 debug-exit (enum dev_request) */
        } request;
        struct {
            uint64_t rflags;   /* policy_records only */
            uint32_t blocking; /* TRACE_BLOCK_* */
            bool nmi;          /* the NMI was held, not INTR */
        } blocked;
        struct {
            uint64_t rax, rax_after;     /* IN */
            uint32_t addr_bits;          /* string I/O: 16, 32, 64; 0 not string */
            uint64_t rcx, rcx_after;     /* string I/O */
            uint64_t index, index_after; /* RDI (INS) / RSI (OUTS) */
            uint64_t rflags, gla;
            uint32_t fault; /* #PF error code + 1, 0: none */
            bool retired;
        } pio;
        struct {
            uint64_t rflags;
            bool input;
            uint32_t stop; /* enum vm_stop: 0 resumed, 1 power-off, 4 idle */
        } halt;
        struct {
            uint64_t tsc; /* the deadline; UINT64_MAX: none */
        } deadline;
        struct {
            uint32_t vcpu;   /* the vCPU started */
            uint32_t vector; /* its SIPI vector: CS = vector << 8, IP = 0 */
        } cpu_start;
    } u;
};

struct trace_checkpoint {
    uint64_t seq; /* state after exit seq-1 was handled */
    uint64_t tsc;
    uint64_t time_ns;
    uint32_t devices_version;
    const void *devices; /* opaque device-state blob */
    size_t devices_len;
};

struct trace_device {
    const char *name;
    uint16_t port_base;
    uint16_t port_count;
    int irq; /* -1: none */
};

/* One CPUID leaf of the host, as the hypervisor read it (inputs of the
 * guest-visible CPUID policy, hv/vcpu_policy.h). */
struct trace_cpuid_leaf {
    uint32_t leaf, subleaf, eax, ebx, ecx, edx;
};

/* Host facts the vCPU policy consults besides CPUID (VmConfig.host_features). */
#define TRACE_HOST_XSAVES 1u /* the guest may use XSAVES / IA32_XSS */
#define TRACE_HOST_RDTSCP 2u /* the guest may use RDTSCP */
/* Not a host fact but a policy input carried the same way: CPUID 0x15/0x16
 * read as zeros, so the guest measures its TSC against the PIT. */
#define TRACE_HOST_NO_TSC_LEAVES 4u
/* XSAVEC failed the hypervisor's boot-time check (hv/xstate.h): CPUID
 * (0DH,1):EAX[1] reads as 0. */
#define TRACE_HOST_NO_XSAVEC 8u
/* A policy input: the APIC platform (hv option apic=1), CPUID.01H:EDX.APIC
 * (bit 9) reads as 1. */
#define TRACE_HOST_APIC 16u

/* The host CPU as the vCPU policy sees it; nleaves == 0: not recorded. */
struct trace_host_cpu {
    size_t nleaves;
    const struct trace_cpuid_leaf *leaves;
    uint64_t xcr0;     /* XCR0 the host runs with: the components guests may enable */
    uint32_t features; /* TRACE_HOST_* */
};
#define TRACE_HOST_CPUID_MAX 64 /* leaves a header holds at most */

struct trace_header {
    uint32_t format_version; /* writer fills in TRACE_FORMAT_VERSION if 0 */
    const char *hv_build_id;
    const char *devmodel_version;
    const char *cmdline;
    uint64_t ram_bytes;
    uint32_t vcpus;
    uint64_t tsc_hz;
    size_t ndevices;
    const struct trace_device *devices;
    bool has_start;
    struct trace_checkpoint start;
    struct trace_host_cpu host_cpu; /* nleaves 0: not recorded (older traces) */
    bool entry_decisions; /* every entry with INTR high has an Inject or IntrBlocked record */
    bool apic; /* APIC platform: MMIO (EPT, size != 0) and local APIC MSRs are device calls */
    bool policy_records;    /* PolicyIo / Halt / Deadline records, IntrBlocked fields */
    uint64_t time_limit_ns; /* the exit policy's budget (policy_records; 0: none) */
    bool intr_per_vcpu;     /* IntrLine.vcpu: whose request (every vCPU's recorded) */
    bool pio_coded;         /* PolicyIo coded (trace_piocode.h); the writer always sets it */
};

enum trace_end_reason {
    TRACE_END_STOPPED = 0,
    TRACE_END_POWEROFF = 1,
    TRACE_END_RESET = 2,
    TRACE_END_TRIPLE_FAULT = 3,
    TRACE_END_ERROR = 4,
    TRACE_END_DEBUG_EXIT = 5 /* the guest wrote isa-debug-exit (its status: that I/O record) */
};

struct trace_end {
    uint64_t exits;
    uint64_t records;
    uint32_t reason; /* enum trace_end_reason */
};

/* Names for printing; never NULL ("?" or a number-free placeholder). */
const char *trace_exit_reason_name(uint32_t reason);
const char *trace_dev_kind_name(enum trace_dev_kind kind);
const char *trace_end_reason_name(uint32_t reason);
const char *trace_timer_source_name(uint32_t source);

#endif
