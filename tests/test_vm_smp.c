/* The SMP platform of vm_devices (cfg.cpus 2..4 with cfg.apic): one local
 * APIC per vCPU on one APIC bus. Sequences as Linux 6.1 sends them
 * (arch/x86/kernel/smpboot.c wakeup_secondary_cpu_via_init: INIT assert,
 * INIT de-assert, SIPI, SIPI; apic.c / ipi.c for the IPIs; io_apic.c for
 * the redirection entries); rules from the Intel SDM Vol. 3A ch. 11 ("MP
 * Initialization Protocol", "Interrupt Command Register", "Logical
 * Destination Mode", "Local APIC State After an INIT Reset"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/vm_devices.h"

#define LAPIC_GPA  0xfee00000ull
#define IOAPIC_GPA 0xfec00000ull

#define ICR_INIT_ASSERT   0xc500u /* level, assert, INIT */
#define ICR_INIT_DEASSERT 0x8500u /* level, de-assert, INIT */
#define ICR_STARTUP       0x0600u
#define ICR_NMI           0x0400u
#define ICR_LOWEST        0x0100u
#define ICR_LOGICAL       0x0800u
#define ICR_SELF          (1u << 18)
#define ICR_ALL           (2u << 18)
#define ICR_ALL_BUT_SELF  (3u << 18)

static struct vm_devices D;
static unsigned ev_calls, ev_cpu, intr_cpu_calls;
static uint32_t ev_bits;
static bool intr_level[VM_DEVICES_MAX_CPUS];

static void on_events(void *ctx, unsigned cpu, uint32_t bits, uint64_t now_ns)
{
    (void)ctx, (void)now_ns;
    ev_calls++;
    ev_cpu = cpu;
    ev_bits = bits;
}

static void on_intr_cpu(void *ctx, unsigned cpu, bool level, uint64_t now_ns)
{
    (void)ctx, (void)now_ns;
    intr_cpu_calls++;
    intr_level[cpu] = level;
}

static void init_n(struct vm_devices *d, unsigned cpus)
{
    const struct vm_devices_config cfg = {
        .rtc_epoch_sec = 1764115200, .apic = true, .cpus = cpus, .tsc_hz = 2000000000};
    const struct vm_devices_hooks hooks = {.intr_cpu = on_intr_cpu, .cpu_events = on_events};
    ev_calls = ev_cpu = intr_cpu_calls = 0;
    ev_bits = 0;
    memset(intr_level, 0, sizeof intr_level);
    vm_devices_init(d, &cfg, &hooks, 0);
}

static uint32_t rd(struct vm_devices *d, unsigned cpu, uint32_t off)
{
    uint32_t v = 0;
    assert_int_equal(vm_devices_mmio_cpu(d, cpu, LAPIC_GPA + off, 4, false, &v, d->now_ns),
                     DEV_IO_OK);
    return v;
}

static void wr(struct vm_devices *d, unsigned cpu, uint32_t off, uint32_t v)
{
    assert_int_equal(vm_devices_mmio_cpu(d, cpu, LAPIC_GPA + off, 4, true, &v, d->now_ns),
                     DEV_IO_OK);
}

/* apic_icr_write(): ICR high (destination) first, then ICR low sends. */
static void icr(struct vm_devices *d, unsigned from, uint32_t dest, uint32_t lo)
{
    wr(d, from, LAPIC_ICR_HI, dest << 24);
    wr(d, from, LAPIC_ICR_LO, lo);
}

/* What setup_local_APIC() does that matters here: SVR enabled, spurious
 * vector 0xff, flat logical mode with LDR bit = 1 << cpu. */
static void ap_apic_on(struct vm_devices *d, unsigned cpu)
{
    wr(d, cpu, LAPIC_DFR, 0xffffffffu);
    wr(d, cpu, LAPIC_LDR, (1u << cpu) << 24);
    wr(d, cpu, LAPIC_SVR, APIC_SVR_ENABLE | 0xff);
}

/* INIT assert, INIT de-assert, SIPI, SIPI (wakeup_secondary_cpu_via_init):
 * the AP leaves wait-for-SIPI at the first SIPI, the second is ignored. */
static void test_init_sipi_sipi_starts_the_ap_once(void **st)
{
    (void)st;
    init_n(&D, 2);
    assert_int_equal(vm_devices_cpus(&D), 2);
    assert_false(vm_devices_cpu_waiting(&D, 0)); /* the BSP runs */
    assert_true(vm_devices_cpu_waiting(&D, 1));  /* an AP waits for its SIPI */
    assert_int_equal(vm_devices_cpu_events(&D, 1), 0);

    wr(&D, 0, LAPIC_ESR, 0);
    icr(&D, 0, 1, ICR_INIT_ASSERT);
    assert_int_equal(vm_devices_cpu_events(&D, 1), VM_CPU_EV_INIT);
    assert_int_equal(vm_devices_cpu_events(&D, 0), 0);
    assert_true(vm_devices_cpu_waiting(&D, 1));
    assert_int_equal(ev_calls, 1);
    assert_int_equal(ev_cpu, 1);
    assert_int_equal(ev_bits, VM_CPU_EV_INIT);
    assert_int_equal(rd(&D, 0, LAPIC_ICR_LO) & APIC_LVT_PENDING, 0); /* delivered */

    icr(&D, 0, 1, ICR_INIT_DEASSERT); /* SDM: ignored since the P6 family */
    assert_int_equal(ev_calls, 1);
    vm_devices_cpu_events_take(&D, 1, VM_CPU_EV_INIT);
    assert_int_equal(vm_devices_cpu_events(&D, 1), 0);

    wr(&D, 0, LAPIC_ESR, 0);
    icr(&D, 0, 1, ICR_STARTUP | 0x9f); /* trampoline at 0x9f000 */
    assert_int_equal(vm_devices_cpu_events(&D, 1), VM_CPU_EV_SIPI);
    assert_int_equal(vm_devices_sipi_vector(&D, 1), 0x9f);
    assert_false(vm_devices_cpu_waiting(&D, 1));
    assert_int_equal(ev_calls, 2);
    vm_devices_cpu_events_take(&D, 1, VM_CPU_EV_SIPI);

    wr(&D, 0, LAPIC_ESR, 0);
    icr(&D, 0, 1, ICR_STARTUP | 0xa0); /* the second SIPI: the AP runs already */
    assert_int_equal(vm_devices_cpu_events(&D, 1), 0);
    assert_int_equal(vm_devices_sipi_vector(&D, 1), 0x9f);
    assert_int_equal(ev_calls, 2);
    assert_int_equal(rd(&D, 0, LAPIC_ESR), 0);
    /* Nothing of this was an interrupt. */
    assert_false(vm_devices_intr_cpu(&D, 0));
    assert_false(vm_devices_intr_cpu(&D, 1));
}

/* INIT puts a running AP back into wait-for-SIPI with its local APIC at the
 * power-on values except the APIC ID ("Local APIC State After an INIT
 * Reset"); a SIPI left untaken by the core is dropped by the INIT. A SIPI to
 * a core not waiting (the BSP) is ignored. */
static void test_init_resets_the_ap_and_drops_a_stale_sipi(void **st)
{
    (void)st;
    init_n(&D, 2);
    icr(&D, 0, 1, ICR_STARTUP | 0x10);
    assert_int_equal(vm_devices_cpu_events(&D, 1), VM_CPU_EV_SIPI);
    ap_apic_on(&D, 1);
    wr(&D, 1, LAPIC_TPR, 0x30);
    assert_int_equal(rd(&D, 1, LAPIC_SVR), 0x1ff);
    icr(&D, 0, 1, ICR_INIT_ASSERT);
    assert_int_equal(vm_devices_cpu_events(&D, 1), VM_CPU_EV_INIT);
    assert_true(vm_devices_cpu_waiting(&D, 1));
    assert_int_equal(rd(&D, 1, LAPIC_SVR), 0xff);
    assert_int_equal(rd(&D, 1, LAPIC_TPR), 0);
    assert_int_equal(rd(&D, 1, LAPIC_LDR), 0);
    assert_int_equal(rd(&D, 1, LAPIC_ID), 1u << 24);
    assert_int_equal(rd(&D, 1, LAPIC_LVT_LINT0), APIC_LVT_MASKED);

    icr(&D, 1, 0, ICR_STARTUP | 0x20); /* to the running BSP */
    assert_int_equal(vm_devices_cpu_events(&D, 0), 0);
    assert_false(vm_devices_cpu_waiting(&D, 0));
    /* INIT and SIPI to self are not valid ICR combinations: nothing sent. */
    icr(&D, 0, 0, ICR_INIT_ASSERT | ICR_SELF);
    assert_int_equal(vm_devices_cpu_events(&D, 0), 0);
}

/* The broadcast INIT / SIPI a BIOS sends (all excluding self) reaches every
 * AP and not the sender. */
static void test_broadcast_init_sipi(void **st)
{
    (void)st;
    init_n(&D, 4);
    icr(&D, 0, 0, ICR_INIT_ASSERT | ICR_ALL_BUT_SELF);
    icr(&D, 0, 0, ICR_STARTUP | ICR_ALL_BUT_SELF | 0x9a);
    assert_int_equal(vm_devices_cpu_events(&D, 0), 0);
    for (unsigned c = 1; c < 4; c++) {
        assert_int_equal(vm_devices_cpu_events(&D, c), VM_CPU_EV_INIT | VM_CPU_EV_SIPI);
        assert_int_equal(vm_devices_sipi_vector(&D, c), 0x9a);
        assert_false(vm_devices_cpu_waiting(&D, c));
    }
}

static unsigned pending_mask(struct vm_devices *d, unsigned n)
{
    unsigned m = 0;
    for (unsigned c = 0; c < n; c++)
        if (vm_devices_intr_cpu(d, c))
            m |= 1u << c;
    return m;
}

/* Each vCPU takes its own vector and EOIs it. */
static void ack_all(struct vm_devices *d, unsigned n, uint8_t vector)
{
    for (unsigned c = 0; c < n; c++)
        if (vm_devices_intr_cpu(d, c)) {
            assert_int_equal(vm_devices_ack_cpu(d, c, d->now_ns), vector);
            wr(d, c, LAPIC_EOI, 0);
        }
}

/* Fixed IPIs with the shorthands ("Interrupt Command Register": self, all
 * including self, all excluding self) and a physical destination, as
 * Linux's send_IPI_allbutself / send_IPI_self / send_IPI use them. */
static void test_fixed_ipi_shorthands_and_physical(void **st)
{
    (void)st;
    init_n(&D, 4);
    for (unsigned c = 1; c < 4; c++)
        ap_apic_on(&D, c);
    icr(&D, 1, 0, ICR_ALL_BUT_SELF | 0xfd); /* from vCPU 1 */
    assert_int_equal(pending_mask(&D, 4), 0xd);
    assert_true(intr_level[2] && intr_level[3] && intr_level[0] && !intr_level[1]);
    ack_all(&D, 4, 0xfd);
    assert_int_equal(pending_mask(&D, 4), 0);
    icr(&D, 2, 0, ICR_SELF | 0xf2);
    assert_int_equal(pending_mask(&D, 4), 0x4);
    ack_all(&D, 4, 0xf2);
    icr(&D, 3, 0, ICR_ALL | 0xf3);
    assert_int_equal(pending_mask(&D, 4), 0xf);
    ack_all(&D, 4, 0xf3);
    icr(&D, 0, 3, 0xf4); /* physical APIC ID 3 */
    assert_int_equal(pending_mask(&D, 4), 0x8);
    ack_all(&D, 4, 0xf4);
    icr(&D, 0, 0xff, 0xf5); /* physical broadcast */
    assert_int_equal(pending_mask(&D, 4), 0xf);
    ack_all(&D, 4, 0xf5);
    icr(&D, 0, 7, 0xf6); /* no such APIC ID: nobody */
    assert_int_equal(pending_mask(&D, 4), 0);
}

/* "Logical Destination Mode": flat model (DFR 0xffffffff, one LDR bit per
 * APIC: Linux's apic_flat) and cluster model (DFR 0x0fffffff, cluster in
 * LDR bits 31:28, member bits 27:24). Lowest priority reaches one
 * destination only: the lowest APIC ID among them. */
static void test_logical_flat_cluster_and_lowest_priority(void **st)
{
    (void)st;
    init_n(&D, 4);
    wr(&D, 0, LAPIC_LDR, 1u << 24);
    for (unsigned c = 1; c < 4; c++)
        ap_apic_on(&D, c);
    icr(&D, 0, 0x06, ICR_LOGICAL | 0xe1);
    assert_int_equal(pending_mask(&D, 4), 0x6);
    ack_all(&D, 4, 0xe1);
    icr(&D, 0, 0x0c, ICR_LOGICAL | ICR_LOWEST | 0xe2);
    assert_int_equal(pending_mask(&D, 4), 0x4);
    ack_all(&D, 4, 0xe2);
    /* Cluster model: cluster 1 members 1 and 2 are vCPUs 2 and 3. */
    for (unsigned c = 0; c < 4; c++) {
        wr(&D, c, LAPIC_DFR, 0x0fffffffu);
        wr(&D, c, LAPIC_LDR, c < 2 ? (1u << c) << 24 : (0x10u | (1u << (c - 2))) << 24);
    }
    icr(&D, 0, 0x13, ICR_LOGICAL | 0xe3);
    assert_int_equal(pending_mask(&D, 4), 0xc);
    ack_all(&D, 4, 0xe3);
    icr(&D, 0, 0x02, ICR_LOGICAL | 0xe4); /* cluster 0, member 1: vCPU 1 */
    assert_int_equal(pending_mask(&D, 4), 0x2);
    ack_all(&D, 4, 0xe4);
}

/* An NMI IPI (Linux's NMI backtrace, kgdb) is per vCPU. */
static void test_nmi_ipi_per_cpu(void **st)
{
    (void)st;
    init_n(&D, 3);
    ap_apic_on(&D, 2);
    icr(&D, 0, 2, ICR_NMI);
    assert_false(vm_devices_nmi_cpu(&D, 0));
    assert_false(vm_devices_nmi_cpu(&D, 1));
    assert_true(vm_devices_nmi_cpu(&D, 2));
    assert_true(vm_devices_intr_cpu(&D, 2) || intr_level[2]);
    vm_devices_nmi_take_cpu(&D, 2);
    assert_false(vm_devices_nmi_cpu(&D, 2));
    /* Out of range: no such vCPU. */
    assert_false(vm_devices_nmi_cpu(&D, 3));
    assert_false(vm_devices_intr_cpu(&D, 7));
    assert_int_equal(vm_devices_cpu_events(&D, 9), 0);
    uint32_t v = 0;
    assert_int_equal(vm_devices_mmio_cpu(&D, 3, LAPIC_GPA + 0x30, 4, false, &v, 0),
                     DEV_IO_UNMAPPED);
    uint64_t m = 0;
    assert_int_equal(vm_devices_msr_cpu(&D, 3, MSR_IA32_APIC_BASE, false, &m, 0), 1);
    /* Each vCPU reads its own IA32_APIC_BASE: BSP flag on vCPU 0 only. */
    assert_int_equal(vm_devices_msr_cpu(&D, 0, MSR_IA32_APIC_BASE, false, &m, 0), 0);
    assert_int_equal(m, LAPIC_GPA | APIC_BASE_EN | APIC_BASE_BSP);
    assert_int_equal(vm_devices_msr_cpu(&D, 2, MSR_IA32_APIC_BASE, false, &m, 0), 0);
    assert_int_equal(m, LAPIC_GPA | APIC_BASE_EN);
}

static void ioapic_entry(struct vm_devices *d, unsigned pin, uint64_t e)
{
    uint32_t v;
    v = 0x11 + 2 * pin;
    vm_devices_mmio(d, IOAPIC_GPA, 4, true, &v, 0);
    v = (uint32_t)(e >> 32);
    vm_devices_mmio(d, IOAPIC_GPA + 0x10, 4, true, &v, 0);
    v = 0x10 + 2 * pin;
    vm_devices_mmio(d, IOAPIC_GPA, 4, true, &v, 0);
    v = (uint32_t)e;
    vm_devices_mmio(d, IOAPIC_GPA + 0x10, 4, true, &v, 0);
}

static void out8(struct vm_devices *d, uint16_t port, uint8_t v, uint64_t now)
{
    uint32_t x = v;
    assert_int_equal(vm_devices_io(d, port, 1, true, &x, now), DEV_IO_OK);
}

/* The I/O APIC routes by its entry's destination: the PIT (pin 2) to
 * physical APIC ID 1 interrupts vCPU 1 only; a level entry (pin 9, the
 * SCI) to vCPU 1 gets its remote IRR cleared by vCPU 1's EOI. */
static void test_ioapic_to_an_ap(void **st)
{
    (void)st;
    init_n(&D, 2);
    ap_apic_on(&D, 1);
    wr(&D, 0, LAPIC_LVT_LINT0, APIC_LVT_MASKED); /* Linux leaves virtual wire */
    ioapic_entry(&D, 2, (1ull << 56) | 0x31);    /* physical, APIC ID 1, edge */
    out8(&D, 0x43, 0x34, 0);                     /* PIT ch0 mode 2 */
    out8(&D, 0x40, 0xa5, 0);
    out8(&D, 0x40, 0x12, 0);
    vm_devices_advance(&D, 10 * 1000 * 1000);
    assert_false(vm_devices_intr_cpu(&D, 0));
    assert_true(vm_devices_intr_cpu(&D, 1));
    assert_true(intr_level[1]);
    assert_int_equal(vm_devices_ack_cpu(&D, 1, D.now_ns), 0x31);
    wr(&D, 1, LAPIC_EOI, 0);
    /* Logical flat destination 0x02 is vCPU 1 too. */
    ioapic_entry(&D, 2, IOAPIC_RTE_MASKED);
    ioapic_entry(&D, 4, (0x02ull << 56) | (1u << 11) | 0x34); /* COM1 */
    out8(&D, 0x3f9, 0x02, D.now_ns);                          /* IER: THRE interrupt */
    out8(&D, 0x3fc, 0x08, D.now_ns);                          /* MCR OUT2 */
    assert_false(vm_devices_intr_cpu(&D, 0));
    assert_true(vm_devices_intr_cpu(&D, 1));
    assert_int_equal(vm_devices_ack_cpu(&D, 1, D.now_ns), 0x34);
    wr(&D, 1, LAPIC_EOI, 0);
    /* Level: remote IRR set until vCPU 1's EOI. */
    ioapic_entry(&D, 4, IOAPIC_RTE_MASKED);
    ioapic_entry(&D, 9, (1ull << 56) | IOAPIC_RTE_LEVEL | 0x39);
    uint32_t v = 0x10 + 2 * 9; /* entry 9, low word */
    vm_devices_mmio(&D, IOAPIC_GPA, 4, true, &v, 0);
    ioapic_set_irq(&D.ioapic, 9, true);
    uint32_t lo = 0;
    vm_devices_mmio(&D, IOAPIC_GPA + 0x10, 4, false, &lo, 0);
    assert_true(lo & IOAPIC_RTE_REMOTE);
    assert_int_equal(vm_devices_ack_cpu(&D, 1, D.now_ns), 0x39);
    ioapic_set_irq(&D.ioapic, 9, false);
    wr(&D, 1, LAPIC_EOI, 0);
    vm_devices_mmio(&D, IOAPIC_GPA + 0x10, 4, false, &lo, 0);
    assert_false(lo & IOAPIC_RTE_REMOTE);
}

/* The PIC's INTR reaches LINT0 of every local APIC; only the BSP's is
 * unmasked (virtual wire), so only vCPU 0 takes the 8259A's vector. */
static void test_pic_intr_on_every_lint0(void **st)
{
    (void)st;
    init_n(&D, 2);
    ap_apic_on(&D, 1);
    static const uint8_t seq[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                     {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}};
    for (unsigned i = 0; i < 8; i++)
        out8(&D, seq[i][0], seq[i][1], 0);
    out8(&D, 0x21, 0xfe, 0);
    out8(&D, 0x43, 0x34, 0);
    out8(&D, 0x40, 0xa5, 0);
    out8(&D, 0x40, 0x12, 0);
    vm_devices_advance(&D, 10 * 1000 * 1000);
    assert_true(D.lapic[1].lint[0]);
    assert_true(vm_devices_intr_cpu(&D, 0));
    assert_false(vm_devices_intr_cpu(&D, 1));
    assert_int_equal(vm_devices_ack_cpu(&D, 0, D.now_ns), 0x30);
}

/* Each local APIC has its own timer and interrupts its own vCPU. */
static void test_ap_timer_interrupts_its_cpu(void **st)
{
    (void)st;
    init_n(&D, 2);
    ap_apic_on(&D, 1);
    wr(&D, 1, LAPIC_TDCR, 0xb); /* divide by 1 */
    wr(&D, 1, LAPIC_LVT_TMR, 0xec);
    wr(&D, 1, LAPIC_TMICT, 1000);
    assert_int_equal(vm_devices_next_event_ns(&D, 0), 1000);
    vm_devices_advance(&D, 1000);
    assert_false(vm_devices_intr_cpu(&D, 0));
    assert_true(vm_devices_intr_cpu(&D, 1));
    assert_int_equal(vm_devices_ack_cpu(&D, 1, 1000), 0xec);
}

/* Layout 4: cpus and one LAPC section per vCPU; a blob restores byte-exactly
 * into a platform of as many vCPUs, and into no other. */
static void test_save_restore_n_lapics(void **st)
{
    (void)st;
    static struct vm_devices e;
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    init_n(&D, 3);
    icr(&D, 0, 1, ICR_INIT_ASSERT);
    icr(&D, 0, 1, ICR_STARTUP | 0x9f);
    ap_apic_on(&D, 1);
    wr(&D, 1, LAPIC_TPR, 0x20);
    icr(&D, 0, 2, ICR_INIT_ASSERT); /* vCPU 2: INIT pending, waiting */
    size_t n = vm_devices_save(&D, a, sizeof a);
    assert_true(n > 0);
    unsigned lapc = 0;
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(a + i, "LAPC", 4))
            lapc++;
    assert_int_equal(lapc, 3);

    init_n(&e, 3);
    assert_int_equal(vm_devices_restore(&e, a, n), 0);
    assert_int_equal(vm_devices_save(&e, b, sizeof b), n);
    assert_memory_equal(a, b, n);
    assert_int_equal(rd(&e, 1, LAPIC_TPR), 0x20);
    assert_int_equal(vm_devices_cpu_events(&e, 1), VM_CPU_EV_INIT | VM_CPU_EV_SIPI);
    assert_int_equal(vm_devices_sipi_vector(&e, 1), 0x9f);
    assert_true(vm_devices_cpu_waiting(&e, 2));
    assert_int_equal(vm_devices_cpu_events(&e, 2), VM_CPU_EV_INIT);

    init_n(&e, 2);
    assert_int_equal(vm_devices_restore(&e, a, n), -1);
    init_n(&e, 4);
    assert_int_equal(vm_devices_restore(&e, a, n), -1);
    /* A SIPI event on a core still waiting is no state INIT/SIPI make. */
    static uint8_t c[VM_DEVICES_SAVE_MAX];
    memcpy(c, a, n);
    init_n(&e, 3);
    e.lapic[2].events = VM_CPU_EV_SIPI;
    size_t m = vm_devices_save(&e, c, sizeof c);
    init_n(&e, 3);
    assert_int_equal(vm_devices_restore(&e, c, m), -1);
}

struct diffs {
    unsigned n;
    char path[SV_PATH_MAX];
};

static void collect(void *ctx, const char *path, uint64_t want, uint64_t got)
{
    (void)want, (void)got;
    struct diffs *d = ctx;
    if (!d->n++)
        strncpy(d->path, path, sizeof d->path - 1);
}

/* A checkpoint comparison names the AP's local APIC. */
static void test_compare_names_the_ap(void **st)
{
    (void)st;
    static struct vm_devices e, scratch[2];
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    init_n(&D, 2);
    init_n(&e, 2);
    ap_apic_on(&D, 1);
    ap_apic_on(&e, 1);
    wr(&e, 1, LAPIC_TPR, 0x40);
    size_t na = vm_devices_save(&D, a, sizeof a), nb = vm_devices_save(&e, b, sizeof b);
    struct diffs df = {0};
    assert_int_equal(vm_devices_compare(a, na, b, nb, scratch, collect, &df), 1);
    assert_string_equal(df.path, "lapic1.tpr");
}

/* An INIT that reaches a local APIC in the middle of an advance (the PIT's
 * edge through an INIT-mode redirection entry, delivered while the devices
 * tick, before that APIC's own tick) resets it at the advance's time, not
 * at whenever the APIC was last brought up to date: the state after one
 * advance to t equals the state after two (the promise that lets the
 * recorder leave out advances that changed no output, recorder.h). */
static void test_init_during_an_advance_is_at_its_time(void **st)
{
    (void)st;
    static struct vm_devices e;
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    struct vm_devices *d[2] = {&D, &e};
    for (unsigned i = 0; i < 2; i++) {
        init_n(d[i], 2);
        ioapic_entry(d[i], 2, (1ull << 56) | (APIC_DM_INIT << 8)); /* PIT -> INIT to vCPU 1 */
        out8(d[i], 0x43, 0x34, 0); /* ch0 mode 2, 1193 clocks: an edge every ~1 ms */
        out8(d[i], 0x40, 0xa9, 0);
        out8(d[i], 0x40, 0x04, 0);
        vm_devices_cpu_events_take(d[i], 1, VM_CPU_EV_INIT);
    }
    vm_devices_advance(&D, 300000); /* no output changes before the edge */
    vm_devices_advance(&D, 1500000);
    vm_devices_advance(&e, 1500000);
    assert_true(vm_devices_cpu_events(&D, 1) & VM_CPU_EV_INIT);
    assert_true(vm_devices_cpu_events(&e, 1) & VM_CPU_EV_INIT);
    assert_int_equal(D.lapic[1].timer_start, e.lapic[1].timer_start);
    size_t na = vm_devices_save(&D, a, sizeof a), nb = vm_devices_save(&e, b, sizeof b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
}

/* A layout-3 blob (one local APIC, no CPUS section) still restores into a
 * one-vCPU platform, and into no SMP one. Made from a layout-4 blob: the
 * VMDV version set to 3 and the trailing CPUS section cut. */
static void test_layout3_blob_restores(void **st)
{
    (void)st;
    static struct vm_devices e;
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    const struct vm_devices_config cfg = {.apic = true, .tsc_hz = 2000000000};
    vm_devices_init(&D, &cfg, NULL, 0);
    wr(&D, 0, LAPIC_TPR, 0x50);
    size_t n = vm_devices_save(&D, a, sizeof a);
    const size_t cpus_len = 10 + 4; /* header + u32, no AP section */
    assert_memory_equal(a + n - cpus_len, "CPUS", 4);
    size_t n3 = n - cpus_len;
    a[4] = 3;
    a[5] = 0;
    uint32_t pl = (uint32_t)(n3 - 10);
    for (int i = 0; i < 4; i++)
        a[6 + i] = (uint8_t)(pl >> (8 * i));
    vm_devices_init(&e, &cfg, NULL, 0);
    assert_int_equal(vm_devices_restore(&e, a, n3), 0);
    assert_int_equal(rd(&e, 0, LAPIC_TPR), 0x50);
    assert_int_equal(vm_devices_save(&e, b, sizeof b), n);
    init_n(&e, 2);
    assert_int_equal(vm_devices_restore(&e, a, n3), -1);
}

/* Without the APIC, or with cpus 0/1, the platform has one vCPU; more than
 * VM_DEVICES_MAX_CPUS is taken as the maximum. */
static void test_cpu_count_normalised(void **st)
{
    (void)st;
    const struct vm_devices_config nopic = {.cpus = 2};
    vm_devices_init(&D, &nopic, NULL, 0);
    assert_int_equal(vm_devices_cpus(&D), 1);
    init_n(&D, 0);
    assert_int_equal(vm_devices_cpus(&D), 1);
    init_n(&D, 9);
    assert_int_equal(vm_devices_cpus(&D), VM_DEVICES_MAX_CPUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_sipi_sipi_starts_the_ap_once),
        cmocka_unit_test(test_init_resets_the_ap_and_drops_a_stale_sipi),
        cmocka_unit_test(test_broadcast_init_sipi),
        cmocka_unit_test(test_fixed_ipi_shorthands_and_physical),
        cmocka_unit_test(test_logical_flat_cluster_and_lowest_priority),
        cmocka_unit_test(test_nmi_ipi_per_cpu),
        cmocka_unit_test(test_ioapic_to_an_ap),
        cmocka_unit_test(test_pic_intr_on_every_lint0),
        cmocka_unit_test(test_ap_timer_interrupts_its_cpu),
        cmocka_unit_test(test_save_restore_n_lapics),
        cmocka_unit_test(test_compare_names_the_ap),
        cmocka_unit_test(test_init_during_an_advance_is_at_its_time),
        cmocka_unit_test(test_layout3_blob_restores),
        cmocka_unit_test(test_cpu_count_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
