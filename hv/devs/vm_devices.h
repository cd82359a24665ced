/* The per-VM device set: the legacy platform one VM sees, wired together.
 *
 *   PIT ch0 OUT -> IRQ0, 8042 -> IRQ1/12, COM1 -> IRQ4, RTC -> IRQ8,
 *   PIC pair INTR -> the vCPU (vm_devices_intr / vm_devices_ack).
 *
 * With cfg.apic (issue 15, docs/devices/lapic.md "Wiring"): the same ISA
 * lines also go to the I/O APIC (IRQ0 on pin 2, the others identity), the
 * PIC's INTR goes to the local APIC's LINT0 (virtual wire, ExtINT), the
 * I/O APIC's messages to the local APIC and its level EOIs back; the vCPU
 * takes its interrupts from the local APIC.
 *
 * SMP (cfg.cpus 2..VM_DEVICES_MAX_CPUS, with cfg.apic; docs/devices/lapic.md
 * "SMP wiring"): one local APIC per vCPU (APIC ID = vCPU index; vCPU 0 the
 * BSP, the others APs waiting for a SIPI), on one APIC bus that carries the
 * I/O APIC's messages and every IPI to the destination APICs; the PIC's
 * INTR reaches LINT0 of every local APIC. The *_cpu entry points name the
 * vCPU; the plain names are the vCPU 0 forms.
 *
 * Everything that happens here is a function of the calls made and the
 * now_ns they carry, so replaying the same calls reproduces it exactly.
 * The struct holds pointers into itself: initialise it in place, never copy.
 */
#ifndef HVRR_VM_DEVICES_H
#define HVRR_VM_DEVICES_H

#include "hv/devs/acpi_pm.h"
#include "hv/devs/cmos_rtc.h"
#include "hv/devs/debugexit.h"
#include "hv/devs/debugport.h"
#include "hv/devs/ioapic.h"
#include "hv/devs/iobus.h"
#include "hv/devs/kbc8042.h"
#include "hv/devs/lapic.h"
#include "hv/devs/pci_cam.h"
#include "hv/devs/pic8259.h"
#include "hv/devs/pit8254.h"
#include "hv/devs/port61.h"
#include "hv/devs/uart16550.h"

#define VM_DEVICES_STATE_VERSION 4 /* 2: debug-exit; 3: local APIC, I/O APIC, ACPI PM; 4: cpus */
#define VM_DEVICES_MAX_CPUS      4
#define VM_DEVICES_SAVE_MAX      4096 /* upper bound of vm_devices_save()'s output */
/* The APIC platform's ACPI fixed hardware (hv/acpi.c's FADT): PM1a event
 * block at +0, PM1a control at +4, PM timer at +8; SCI on ISA IRQ 9; \_S5
 * sleep type 5. */
#define VM_DEVICES_ACPI_PM_BASE 0x600u
#define VM_DEVICES_SCI_IRQ      9u
#define VM_DEVICES_S5_TYP       5u

struct vm_devices_config {
    uint64_t rtc_epoch_sec; /* wall-clock seconds at virtual time 0 */
    uint16_t com1_base;     /* 0 means the default 0x3f8 */
    uint8_t com1_irq;       /* 0 means the default 4 */
    bool debug_exit;        /* isa-debug-exit at 0xf4-0xf7 (multiboot guests) */
    bool apic;              /* local APIC + I/O APIC platform (else XT-PIC only) */
    uint64_t tsc_hz;        /* with apic: the TSC-deadline timer's rate (0: none) */
    unsigned cpus;          /* vCPUs: 0 or 1 one; 2..VM_DEVICES_MAX_CPUS only with apic
                             * (more is taken as the maximum, several without apic as 1) */
};

/* Core events of a vCPU (vm_devices_cpu_events): INIT received (the core
 * enters wait-for-SIPI), SIPI received while waiting (start in real mode at
 * CS = vm_devices_sipi_vector() << 8, IP = 0). */
#define VM_CPU_EV_INIT LAPIC_EV_INIT
#define VM_CPU_EV_SIPI LAPIC_EV_SIPI

/* Observers for the recorder and the replayer; every member is optional. */
struct vm_devices_hooks {
    void (*irq_line)(void *ctx, unsigned irq, bool level, uint64_t now_ns); /* PIC input pins */
    void (*intr)(void *ctx, bool level, uint64_t now_ns); /* vCPU 0's interrupt request */
    void (*com1_tx)(void *ctx, uint8_t byte);             /* guest console */
    void (*request)(void *ctx, enum dev_request what);    /* reset/power-off */
    void *ctx;
    /* Every vCPU's interrupt request (vCPU 0's too, after intr). */
    void (*intr_cpu)(void *ctx, unsigned cpu, bool level, uint64_t now_ns);
    /* A vCPU's core events changed (INIT/SIPI delivered; bits = all pending). */
    void (*cpu_events)(void *ctx, unsigned cpu, uint32_t bits, uint64_t now_ns);
};

struct vm_devices;
struct vm_devices_cpu_link { /* wiring: a local APIC's sinks know their vCPU */
    struct vm_devices *d;
    unsigned cpu;
};

struct vm_devices {
    struct pic_pair pic;
    struct pit pit;
    struct port61 port61;
    struct uart com1;
    struct cmos_rtc cmos;
    struct pci_cam pci;
    struct debugport post;
    struct kbc8042 kbc;
    struct debugexit dbgexit;                /* on the bus only with cfg.debug_exit */
    struct lapic lapic[VM_DEVICES_MAX_CPUS]; /* one per vCPU; the first ncpus are live */
    struct ioapic ioapic;                    /* used only with cfg.apic */
    struct acpi_pm pm; /* ACPI PM1 + PM timer at VM_DEVICES_ACPI_PM_BASE, with cfg.apic */
    struct iobus bus;
    struct vm_devices_config cfg;
    struct vm_devices_hooks hooks;
    struct vm_devices_cpu_link link[VM_DEVICES_MAX_CPUS];
    uint32_t ncpus;    /* vCPUs (1..VM_DEVICES_MAX_CPUS), saved: a blob restores only
                        * into a platform of as many */
    uint64_t now_ns;   /* time of the last call that carried a time */
    uint32_t requests; /* bitmask (1 << enum dev_request) seen since last cleared */
    /* Derived from the device state, not saved: each device's deadlines
     * stand until a call changes that device (its port accesses, RX, a
     * device tick, restore); `fresh` has a bit per device whose cached
     * deadlines stand (VM_DEVICES_DL_*), 0 after init. change_ns: no device
     * output can change before it (vm_devices_advance skips the device
     * ticks until then); event_ns, event_unclamped: what
     * vm_devices_next_event_ns() answers is min(max(event_ns, now),
     * event_unclamped). */
    uint8_t fresh;
    uint64_t pit_event, pit_change, uart_event, cmos_event;
    uint64_t change_ns, event_ns, event_unclamped;
    uint64_t gen; /* counts the changes that made the cache stale (users caching more) */
};

void vm_devices_init(struct vm_devices *d, const struct vm_devices_config *cfg,
                     const struct vm_devices_hooks *hooks, uint64_t now_ns);
/* Brings time-driven behaviour (PIT, UART timeouts, RTC) up to now_ns. Time
 * never goes backwards: an older now_ns is treated as the latest one seen.
 * While no device output can change (before the next possible change, from
 * the cached device deadlines) only now_ns moves: the devices' own clocks
 * catch up at the next tick, port access or vm_devices_sync(), with the same
 * outputs and the same state as if every advance had ticked them. */
void vm_devices_advance(struct vm_devices *d, uint64_t now_ns);
/* Ticks every device to now_ns (what advances skipped): call before saving
 * state that is compared (checkpoints). Changes no output. */
void vm_devices_sync(struct vm_devices *d);
/* A guest port access (advances time first). Unknown ports read all-ones. */
int vm_devices_io(struct vm_devices *d, uint16_t port, unsigned size, bool write, uint32_t *val,
                  uint64_t now_ns);
/* Earliest virtual time at which some device will change an output. */
uint64_t vm_devices_next_event_ns(const struct vm_devices *d, uint64_t now_ns);
/* The same, from the cache (computed once per device state change). */
uint64_t vm_devices_next_event_cached(struct vm_devices *d, uint64_t now_ns);
/* The CPU's interrupt request: the PIC's INTR, with the APIC the local
 * APIC's. */
bool vm_devices_intr(const struct vm_devices *d);
/* Interrupt acknowledge: the vector to inject. */
uint8_t vm_devices_ack(struct vm_devices *d, uint64_t now_ns);

/* Per-vCPU forms (cpu < vm_devices_cpus(); another cpu gets the answer of
 * "no such device": no interrupt, ack 0xff, DEV_IO_UNMAPPED, MSR 1, no
 * NMI, no event). Without the APIC only vCPU 0 has an interrupt input. */
unsigned vm_devices_cpus(const struct vm_devices *d);
bool vm_devices_intr_cpu(const struct vm_devices *d, unsigned cpu);
uint8_t vm_devices_ack_cpu(struct vm_devices *d, unsigned cpu, uint64_t now_ns);
int vm_devices_mmio_cpu(struct vm_devices *d, unsigned cpu, uint64_t gpa, unsigned size, bool write,
                        uint32_t *val, uint64_t now_ns);
int vm_devices_msr_cpu(struct vm_devices *d, unsigned cpu, uint32_t msr, bool write, uint64_t *val,
                       uint64_t now_ns);
/* An NMI waits for the vCPU (LINT1, LVT or IPI in NMI mode); take clears it. */
bool vm_devices_nmi_cpu(const struct vm_devices *d, unsigned cpu);
void vm_devices_nmi_take_cpu(struct vm_devices *d, unsigned cpu);
/* INIT/SIPI core events (VM_CPU_EV_*), kept in the local APIC's saved
 * state: the hypervisor takes them (clears `bits`) when it acts on them. */
uint32_t vm_devices_cpu_events(const struct vm_devices *d, unsigned cpu);
void vm_devices_cpu_events_take(struct vm_devices *d, unsigned cpu, uint32_t bits);
uint8_t vm_devices_sipi_vector(const struct vm_devices *d, unsigned cpu);
/* The vCPU is in the wait-for-SIPI state (an AP not started, or after INIT). */
bool vm_devices_cpu_waiting(const struct vm_devices *d, unsigned cpu);
/* A guest access to physical address gpa outside RAM: the local APIC page
 * (while in xAPIC mode, at its IA32_APIC_BASE) and the I/O APIC page.
 * 32-bit accesses at 16-byte-aligned offsets (DEV_IO_BADSIZE otherwise:
 * reads all-ones, writes dropped); DEV_IO_UNMAPPED if no device decodes
 * gpa (or cfg.apic is off). */
int vm_devices_mmio(struct vm_devices *d, uint64_t gpa, unsigned size, bool write, uint32_t *val,
                    uint64_t now_ns);
/* The local APIC's MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC):
 * 1 = not a device MSR (or cfg.apic off), 0 = done, -1 = #GP. */
int vm_devices_msr(struct vm_devices *d, uint32_t msr, bool write, uint64_t *val, uint64_t now_ns);

/* Host console input for COM1; returns bytes accepted. */
size_t vm_devices_com1_rx(struct vm_devices *d, const uint8_t *buf, size_t n, uint64_t now_ns);

/* Whole device state as one versioned blob. save returns its length (0 if
 * cap is too small); restore returns 0 or -1 (state untouched on error). */
size_t vm_devices_save(const struct vm_devices *d, void *buf, size_t cap);
int vm_devices_restore(struct vm_devices *d, const void *buf, size_t len);

/* The blob's layout: section 'VMDV' holding vm.now_ns, vm.requests and one
 * section per device (pic, pit, port61, com1, cmos, pci, post, kbc; since
 * layout 2 debug-exit, since layout 3 lapic (vCPU 0's), ioapic, pm; wired or
 * not), since layout 4 cpus (u32) and the local APICs of vCPUs 1..cpus-1,
 * each device with its own layout version (savestate.h). A blob restores
 * only into a platform with as many vCPUs (layout 3 and older: one). */
extern const struct sv_desc vm_devices_sv_desc;

/* Checkpoint comparison: decodes both blobs through the field tables (any
 * accepted layout version, older ones upgraded; no validity checks) into
 * scratch[0] (want) and scratch[1] (got), and calls diff for every field
 * that differs ("com1.thre_ip", "pit.ch[0].status", "cmos.ram[12]").
 * Returns the number of differing fields, -1 if a blob does not decode. */
int vm_devices_compare(const void *want, size_t want_len, const void *got, size_t got_len,
                       struct vm_devices scratch[2], sv_diff_fn diff, void *ctx);

#endif
