/* Two vCPUs on the local APICs and the I/O APIC (hv cpus=2, docs/devices/
 * lapic.md "SMP wiring"; Intel SDM Vol. 3A ch. 11). The BSP runs the checks
 * and prints; the AP (APIC ID 1) runs a command loop on shared memory with
 * interrupts enabled and counts the vectors it takes. Both use unreal mode
 * (FS with a 4 GiB limit) for the xAPIC page.
 *
 * Checks: INIT-SIPI-SIPI ("MP Initialization Protocol") starts the AP once
 * (the second SIPI, pointing at another trampoline, finds it running and is
 * ignored) with its local APIC at the power-on values ("Local APIC State
 * After Power-Up or Reset"); fixed IPIs to physical IDs, the physical
 * broadcast, logical flat and cluster destinations; the self,
 * all-including-self and all-excluding-self shorthands from either CPU;
 * lowest priority to several destinations reaches exactly one (the
 * platform's arbitration: the lowest APIC ID, whatever the TPRs); the RTC
 * through I/O APIC pin 8 to the AP, edge then level, the AP's EOI clearing
 * remote IRR, and with EOI-broadcast suppression (SVR bit 12) not, until
 * the I/O APIC's EOI register; a SIPI to the running AP is ignored; INIT
 * to an AP whose local APIC was reprogrammed (TPR, SVR, LDR/DFR, periodic
 * timer, LVT error) stops it (no more timer interrupts) and SIPI restarts
 * it with every register back at its power-on value ("Local APIC State
 * After an INIT Reset"); both CPUs in HLT until the AP's one-shot timer
 * (the hypervisor skips the idle time), the AP's IPI then waking the BSP;
 * the BSP in x2APIC mode (IA32_APIC_BASE.EXTD; the
 * model has it though CPUID does not announce it): its ID and derived LDR
 * MSRs, IPIs through the ICR MSR 0x830 to the AP, the SELF IPI MSR, EOI by
 * MSR. NMIs (vector 2 through the IVT; SDM Vol. 3 "NMI Handling"): NMI IPIs
 * to the AP, to the BSP itself while IF=0 (taken at once), the
 * all-excluding-self and all-including-self shorthands, from the AP to the
 * BSP; an NMI sent from inside the BSP's NMI handler is held until the
 * handler's IRET (not nested), then taken; LVT LINT0 in NMI mode turns the
 * 8259A's INTR edge (PIT IRQ0) into one NMI. */
#include "apic_mmio.h"

#define AP_STACK 0x5ff0u /* the BSP's is at 0x6ff0 */
#define TRAMP_A  0x1000u /* SIPI vector 1: the AP's start */
#define TRAMP_B  0x2000u /* SIPI vector 2: a start the AP must never take */

/* ICR low (SDM "Interrupt Command Register (ICR)") */
#define ICR_FIXED   0x000u
#define ICR_LOWEST  0x100u
#define ICR_NMI     0x400u
#define ICR_INIT    0x500u
#define ICR_SIPI    0x600u
#define ICR_LOGICAL 0x800u
#define ICR_ASSERT  0x4000u
#define ICR_LEVEL   0x8000u
#define ICR_SELF    (1u << 18)
#define ICR_ALL     (2u << 18)
#define ICR_ALL_BUT (3u << 18)

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t a, d;
    __asm__ volatile("rdmsr" : "=a"(a), "=d"(d) : "c"(msr));
    return (uint64_t)d << 32 | a;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void pause_(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/* ---- interrupts: vectors 0x40..0x4f counted per CPU ---- */

static volatile uint8_t cnt[2][16];
static volatile bool bsp_x2apic; /* the BSP's EOI goes to MSR 0x80b */

static void eoi(unsigned cpu)
{
    if (cpu == 0 && bsp_x2apic)
        wrmsr(0x80b, 0);
    else
        lw(0xb0, 0);
}

/* Which CPU runs this: the AP's stack is below the BSP's (no exit). */
static unsigned this_cpu(void)
{
    uint32_t sp;
    __asm__ volatile("movl %%esp, %0" : "=r"(sp));
    return sp < 0x6000;
}

static void hit(unsigned vec)
{
    unsigned cpu = this_cpu();
    cnt[cpu][vec & 15]++;
    eoi(cpu);
}

#define VEC(n)                                                                                     \
    void on_##n(void)                                                                              \
    {                                                                                              \
        hit(0x##n);                                                                                \
    }                                                                                              \
    GUEST_ISR(isr_##n, on_##n)
VEC(40);
VEC(41);
VEC(42);
VEC(43);
VEC(44);
VEC(45);
VEC(46);
VEC(47);
VEC(48);
VEC(49);
VEC(4a);
VEC(4b);
VEC(4c);
VEC(4d);
VEC(4e);
VEC(4f);

static uint8_t rtc_c(void)
{
    outb(0x70, 0x0c);
    return inb(0x71);
}

/* The RTC through the I/O APIC (vector 0x60), on whichever CPU. */
static volatile uint32_t n_rtc[2];
void on_rtc(void)
{
    unsigned cpu = this_cpu();
    n_rtc[cpu]++;
    rtc_c(); /* the line falls */
    eoi(cpu);
}
GUEST_ISR(isr_rtc, on_rtc);

/* ---- NMIs: vector 2, counted per CPU ---- */

static volatile uint32_t n_nmi[2], nmi_depth[2], nmi_nested[2];
static volatile uint32_t nmi_resend, nmi_held;

static void ipi(uint32_t dest, uint32_t lo);

void on_nmi(void)
{
    unsigned cpu = this_cpu();
    if (nmi_depth[cpu])
        nmi_nested[cpu]++; /* an NMI inside the handler: must not happen */
    nmi_depth[cpu] = 1;
    n_nmi[cpu]++;
    if (cpu == 0 && nmi_resend) {
        /* a second NMI to this CPU while its first is handled: every entry
         * until the IRET (the local APIC reads exit) finds NMIs blocked */
        nmi_resend = 0;
        uint32_t n = n_nmi[0];
        ipi(0, ICR_NMI);
        for (unsigned i = 0; i < 20; i++)
            (void)lr(0x20);
        nmi_held = n_nmi[0] == n;
    }
    nmi_depth[cpu] = 0;
}
GUEST_ISR(isr_nmi, on_nmi);

/* ---- the AP ---- */

/* The SIPI trampolines, copied to TRAMP_A / TRAMP_B: real mode at CS =
 * vector << 8, IP 0; a far jump to CS 0 and the image's own code. */
extern char tramp_a[], tramp_a_end[], tramp_b[], tramp_b_end[];
__asm__(".text\n"
        "tramp_a:\n"
        "    cli\n"
        "    .byte 0xea\n" /* ljmp 0000:ap_entry_a */
        "    .word ap_entry_a, 0\n"
        "tramp_a_end:\n"
        "tramp_b:\n"
        "    cli\n"
        "    .byte 0xea\n"
        "    .word ap_entry_b, 0\n"
        "tramp_b_end:\n"
        "ap_entry_a:\n"
        "    xorl %eax, %eax\n"
        "    jmp 1f\n"
        "ap_entry_b:\n"
        "    movl $1, %eax\n"
        "1:  xorw %bx, %bx\n"
        "    movw %bx, %ds\n"
        "    movw %bx, %es\n"
        "    movw %bx, %ss\n"
        "    movl $0x5ff0, %esp\n"
        "    cld\n"
        "    pushl %eax\n"
        "    calll ap_main\n"
        "2:  cli\n"
        "    hlt\n"
        "    jmp 2b\n");

/* The AP's local APIC as it finds it at each start. */
static const uint16_t snap_reg[] = {0x20,  0x30,  0x80,  0xd0,  0xe0,  0xf0,  0x320,
                                    0x350, 0x360, 0x370, 0x380, 0x3e0, 0x100, 0x200};
static const char *const snap_name[] = {"id",    "version",   "tpr",   "ldr",   "dfr",
                                        "svr",   "lvt-timer", "lint0", "lint1", "lvt-error",
                                        "tmict", "tdcr",      "isr0",  "irr0"};
#define NSNAP (sizeof snap_reg / sizeof snap_reg[0])
/* SDM "Local APIC State After Power-Up or Reset" (ID 1; version 0x01050014,
 * docs/devices/lapic.md) */
static const uint32_t snap_want[NSNAP] = {
    1u << 24, 0x01050014, 0, 0, 0xffffffffu, 0xff, 0x10000, 0x10000, 0x10000, 0x10000, 0, 0, 0, 0};
static volatile uint32_t snap[3][NSNAP];
static volatile uint32_t ap_boots, ap_via_b, ap_beat, ap_slept;

enum { OP_NOP, OP_WRITE, OP_ICR, OP_IDLE };
static volatile uint32_t ap_req, ap_ack, ap_op, ap_a, ap_b;

void ap_main(uint32_t via_b);
void ap_main(uint32_t via_b)
{
    unreal_fs();
    uint32_t b = ap_boots;
    if (b < 3)
        for (unsigned i = 0; i < NSNAP; i++)
            snap[b][i] = lr(snap_reg[i]);
    if (via_b)
        ap_via_b++;
    lw(0xf0, 0x1ff);       /* software-enabled, spurious vector 0xff */
    lw(0xe0, 0xffffffffu); /* flat */
    lw(0xd0, 2u << 24);    /* logical ID bit 1 */
    lw(0x80, 0);
    ap_ack = ap_req;
    ap_boots = b + 1;
    for (;;) {
        sti();
        ap_beat++;
        pause_();
        if (ap_req == ap_ack)
            continue;
        cli();
        switch (ap_op) {
        case OP_WRITE: lw(ap_a, ap_b); break;
        case OP_ICR:
            lw(0x310, ap_a);
            lw(0x300, ap_b);
            break;
        case OP_IDLE: { /* HLT until a one-shot timer of ap_a counts, then wake the BSP */
            lw(0x3e0, 0xb);
            lw(0x320, 0x4e);
            uint32_t t0 = (uint32_t)rdtsc();
            lw(0x380, ap_a);
            sti_hlt();
            cli();
            ap_slept = (uint32_t)rdtsc() - t0;
            ap_ack = ap_req; /* before the IPI: the BSP checks it when it wakes */
            lw(0x310, 0);
            lw(0x300, 0x4d);
            continue;
        }
        default: break;
        }
        ap_ack = ap_req;
    }
}

/* ---- the BSP ---- */

static uint32_t hz;

/* Spins (PAUSE: the other vCPU runs) until *flag == want or ms pass. */
static bool wait_eq(volatile uint32_t *flag, uint32_t want, uint32_t ms)
{
    uint64_t t0 = rdtsc(), lim = (uint64_t)(hz / 1000) * ms;
    while (*flag != want)
        if (rdtsc() - t0 > lim)
            return false;
        else
            pause_();
    return true;
}

static bool wait_ge(volatile uint32_t *n, uint32_t want, uint32_t ms)
{
    uint64_t t0 = rdtsc(), lim = (uint64_t)(hz / 1000) * ms;
    while (*n < want)
        if (rdtsc() - t0 > lim)
            return false;
        else
            pause_();
    return true;
}

static void spin_ms(uint32_t ms)
{
    uint64_t t0 = rdtsc(), lim = (uint64_t)(hz / 1000) * ms;
    while (rdtsc() - t0 < lim)
        pause_();
}

static bool ap_call(uint32_t op, uint32_t a, uint32_t b)
{
    ap_op = op;
    ap_a = a;
    ap_b = b;
    barrier();
    uint32_t r = ap_req + 1;
    ap_req = r;
    return wait_eq(&ap_ack, r, 50);
}

static void ap_write(uint32_t off, uint32_t v)
{
    ap_call(OP_WRITE, off, v);
}

static void ipi(uint32_t dest, uint32_t lo)
{
    lw(0x310, dest << 24);
    lw(0x300, lo);
}

static void clear_counts(void)
{
    for (unsigned i = 0; i < 16; i++)
        cnt[0][i] = cnt[1][i] = 0;
}

/* Lets both CPUs take what is pending, then checks who got vector vec:
 * got/want = BSP count | AP count << 8. */
static void hits(const char *name, unsigned vec, unsigned bsp, unsigned ap)
{
    sti();
    __asm__ volatile("nop; nop");
    cli();
    ap_call(OP_NOP, 0, 0); /* the AP took what it had (IF=1 in its loop) */
    ap_call(OP_NOP, 0, 0);
    sti();
    __asm__ volatile("nop; nop");
    cli();
    check_eq(name, cnt[0][vec & 15] | (uint32_t)cnt[1][vec & 15] << 8, bsp | ap << 8);
}

static void check_snapshot(unsigned boot)
{
    static char name[40];
    for (unsigned i = 0; i < NSNAP; i++) {
        const char *p = boot == 0 ? "ap-start-" : "ap-after-init-";
        unsigned n = 0;
        while (*p)
            name[n++] = *p++;
        for (p = snap_name[i]; *p;)
            name[n++] = *p++;
        name[n] = 0;
        check_eq(name, snap[boot][i], snap_want[i]);
    }
}

static void copy(uint32_t to, const char *from, const char *end)
{
    for (uint32_t i = 0; from + i < end; i++)
        *(volatile uint8_t *)(uintptr_t)(to + i) = (uint8_t)from[i];
}

static void x2apic_part(void)
{
    uint64_t base = rdmsr(0x1b);
    wrmsr(0x1b, base | (1u << 10)); /* EXTD: xAPIC -> x2APIC */
    bsp_x2apic = true;
    check_eq("x2apic-mode", (uint32_t)rdmsr(0x1b) & 0xc00, 0xc00);
    check_eq("x2apic-id", (uint32_t)rdmsr(0x802), 0);
    check_eq("x2apic-ldr-derived", (uint32_t)rdmsr(0x80d), 1); /* cluster 0, bit 0 */
    clear_counts();
    wrmsr(0x830, 1ull << 32 | 0x4b); /* fixed, physical x2APIC ID 1 */
    hits("x2apic-icr-physical-to-ap", 0x4b, 0, 1);
    wrmsr(0x830, ICR_ALL_BUT | 0x4c);
    hits("x2apic-icr-all-but-self", 0x4c, 0, 1);
    wrmsr(0x83f, 0x4d); /* SELF IPI */
    hits("x2apic-self-ipi-msr", 0x4d, 1, 0);
    wrmsr(0x830, ICR_ALL | 0x4e);
    hits("x2apic-icr-all-including-self", 0x4e, 1, 1);
}

void guest_main(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    check("cpuid-apic", (d >> 9) & 1, d);
    hz = tsc_hz();
    check("tsc-hz", hz != 0, hz);
    unreal_fs();
    outb(0x21, 0xff); /* the 8259As stay out of the way */
    outb(0xa1, 0xff);
    static void *const stubs[16] = {isr_40, isr_41, isr_42, isr_43, isr_44, isr_45, isr_46, isr_47,
                                    isr_48, isr_49, isr_4a, isr_4b, isr_4c, isr_4d, isr_4e, isr_4f};
    for (unsigned i = 0; i < 16; i++)
        set_ivt(0x40 + i, stubs[i]);
    set_ivt(0x60, isr_rtc);
    set_ivt(2, isr_nmi);
    copy(TRAMP_A, tramp_a, tramp_a_end);
    copy(TRAMP_B, tramp_b, tramp_b_end);
    lw(0x350, 0x10700); /* LINT0 masked */
    lw(0xe0, 0xffffffffu);
    lw(0xd0, 1u << 24); /* logical ID bit 0 */
    lw(0x80, 0);
    check_eq("bsp-id", lr(0x20), 0);

    /* (a) INIT-SIPI-SIPI: INIT assert, INIT level de-assert (sends
     * nothing), SIPI to vector 1, then SIPI to vector 2 once it runs */
    spin_ms(1);
    check_eq("ap-waits-for-sipi", ap_boots, 0);
    ipi(1, ICR_INIT | ICR_ASSERT);
    ipi(1, ICR_INIT | ICR_LEVEL);
    ipi(1, ICR_SIPI | ICR_ASSERT | (TRAMP_A >> 12));
    check("ap-started", wait_eq(&ap_boots, 1, 50), ap_boots);
    ipi(1, ICR_SIPI | ICR_ASSERT | (TRAMP_B >> 12));
    spin_ms(1);
    ap_call(OP_NOP, 0, 0);
    check_eq("second-sipi-ignored", ap_boots | ap_via_b << 8, 1);
    check_snapshot(0);

    /* (b) fixed IPIs: physical, broadcast, logical flat */
    clear_counts();
    ipi(1, 0x41);
    hits("fixed-physical-to-ap", 0x41, 0, 1);
    ipi(0, 0x42);
    hits("fixed-physical-to-bsp", 0x42, 1, 0);
    ipi(0xff, 0x43);
    hits("fixed-physical-broadcast", 0x43, 1, 1);
    ipi(0x02, ICR_LOGICAL | 0x44);
    hits("fixed-logical-flat-ap", 0x44, 0, 1);
    ipi(0x03, ICR_LOGICAL | 0x45);
    hits("fixed-logical-flat-both", 0x45, 1, 1);
    ipi(0x04, ICR_LOGICAL | 0x46);
    hits("fixed-logical-flat-none", 0x46, 0, 0);

    /* (c) logical cluster: BSP cluster 0 member 0, AP cluster 1 member 1 */
    lw(0xe0, 0x0fffffffu);
    ap_write(0xe0, 0x0fffffffu);
    ap_write(0xd0, 0x12u << 24);
    check_eq("cluster-ldr-readback", lr(0xd0), 1u << 24);
    ipi(0x12, ICR_LOGICAL | 0x47);
    hits("fixed-cluster-ap", 0x47, 0, 1);
    ipi(0x02, ICR_LOGICAL | 0x48);
    hits("fixed-cluster-other-cluster", 0x48, 0, 0);
    ipi(0x11, ICR_LOGICAL | 0x49);
    hits("fixed-cluster-other-member", 0x49, 0, 0);
    ipi(0x01, ICR_LOGICAL | 0x4a);
    hits("fixed-cluster-bsp", 0x4a, 1, 0);
    lw(0xe0, 0xffffffffu);
    ap_write(0xe0, 0xffffffffu);
    ap_write(0xd0, 2u << 24);

    /* (d) shorthands, from the BSP and from the AP */
    clear_counts();
    ipi(0, ICR_SELF | 0x41);
    hits("shorthand-self-bsp", 0x41, 1, 0);
    ipi(0, ICR_ALL | 0x42);
    hits("shorthand-all-including-self", 0x42, 1, 1);
    ipi(0, ICR_ALL_BUT | 0x43);
    hits("shorthand-all-excluding-self", 0x43, 0, 1);
    ap_call(OP_ICR, 0, ICR_SELF | 0x44);
    hits("shorthand-self-ap", 0x44, 0, 1);
    ap_call(OP_ICR, 0, ICR_ALL_BUT | 0x45);
    hits("shorthand-all-excluding-ap", 0x45, 1, 0);
    ap_call(OP_ICR, 0, ICR_ALL | 0x46);
    hits("shorthand-all-from-ap", 0x46, 1, 1);

    /* (e) lowest priority to several destinations: exactly one takes it,
     * the lowest APIC ID (the platform's arbitration, docs/devices/lapic.md),
     * whatever the TPRs */
    lw(0x80, 0x30);
    ipi(0x03, ICR_LOGICAL | ICR_LOWEST | 0x47);
    hits("lowest-logical-bsp-tpr-higher", 0x47, 1, 0);
    lw(0x80, 0);
    ap_write(0x80, 0x30);
    ipi(0x03, ICR_LOGICAL | ICR_LOWEST | 0x48);
    hits("lowest-logical-ap-tpr-higher", 0x48, 1, 0);
    ap_write(0x80, 0);
    ipi(0xff, ICR_LOWEST | 0x49);
    hits("lowest-broadcast-one", 0x49, 1, 0);
    ipi(0x02, ICR_LOGICAL | ICR_LOWEST | 0x4a);
    hits("lowest-logical-ap-only", 0x4a, 0, 1);
    ap_call(OP_ICR, 0x03u << 24, ICR_LOGICAL | ICR_LOWEST | 0x4b);
    hits("lowest-logical-from-ap", 0x4b, 1, 0);

    /* (f) the RTC (IRQ8, I/O APIC pin 8) to the AP: edge, then level with
     * the AP's EOI clearing remote IRR; then EOI-broadcast suppression */
    check("lapic-version-eoi-suppression", (lr(0x30) >> 24) & 1, lr(0x30));
    io_wr(0x21, 1u << 24); /* physical APIC ID 1 */
    io_wr(0x20, 0x60);     /* edge, fixed, unmasked */
    outb(0x70, 0x0a);
    outb(0x71, 0x26); /* 1024 Hz */
    outb(0x70, 0x0b);
    uint8_t rb = inb(0x71);
    outb(0x70, 0x0b);
    outb(0x71, rb | 0x40);
    rtc_c();
    check("ioapic-edge-to-ap", wait_ge(&n_rtc[1], 5, 100), n_rtc[1]);
    check_eq("ioapic-edge-not-bsp", n_rtc[0], 0);
    io_wr(0x20, 0x10000 | 0x8000 | 0x60); /* masked, level */
    rtc_c();
    uint32_t n0 = n_rtc[1];
    io_wr(0x20, 0x8000 | 0x60);
    check("ioapic-level-to-ap", wait_ge(&n_rtc[1], n0 + 3, 100), n_rtc[1] - n0);
    io_wr(0x20, 0x10000 | 0x8000 | 0x60);
    ap_call(OP_NOP, 0, 0);
    check_eq("ioapic-level-ap-eoi-clears-remote-irr", (io_rd(0x20) >> 14) & 1, 0);
    ap_write(0xf0, 0x11ff); /* EOI-broadcast suppression */
    rtc_c();
    n0 = n_rtc[1];
    io_wr(0x20, 0x8000 | 0x60);
    check("ioapic-level-suppressed-eoi-taken", wait_ge(&n_rtc[1], n0 + 1, 100), n_rtc[1] - n0);
    io_wr(0x20, 0x10000 | 0x8000 | 0x60);
    outb(0x70, 0x0b);
    outb(0x71, rb & ~0x40);
    rtc_c();
    ap_call(OP_NOP, 0, 0);
    check_eq("eoi-suppressed-keeps-remote-irr", (io_rd(0x20) >> 14) & 1, 1);
    check_eq("eoi-suppressed-one-interrupt", n_rtc[1] - n0, 1);
    wr(IOAPIC + 0x40, 0x60); /* the I/O APIC's EOI register */
    check_eq("ioapic-eoi-register-clears-remote-irr", (io_rd(0x20) >> 14) & 1, 0);
    io_wr(0x20, 0x10000);
    ap_write(0xf0, 0x1ff);
    check_eq("ioapic-not-bsp", n_rtc[0], 0);

    /* (g) a SIPI while the AP runs is ignored */
    ipi(1, ICR_SIPI | ICR_ASSERT | (TRAMP_B >> 12));
    spin_ms(2);
    ap_call(OP_NOP, 0, 0);
    check_eq("sipi-while-running-ignored", ap_boots | ap_via_b << 8, 1);
    for (unsigned i = 0; i < 64; i++) /* exits, so that a checkpoint sees it */
        ap_call(OP_NOP, 0, 0);

    /* (h) INIT to an AP that changed its local APIC: it stops; SIPI
     * restarts it with the registers at their power-on values */
    clear_counts();
    ap_write(0x80, 0x20);
    ap_write(0xe0, 0x0fffffffu);
    ap_write(0xd0, 0x40u << 24);
    ap_write(0x370, 0x4e);    /* LVT error unmasked */
    ap_write(0x3e0, 0xb);     /* divide by 1 */
    ap_write(0x320, 0x2004f); /* periodic, vector 0x4f */
    ap_write(0x380, 200000);  /* 200 us at the 1 GHz bus */
    ap_write(0xf0, 0x11fe);
    spin_ms(2);
    check("ap-timer-runs", cnt[1][0xf] >= 3, cnt[1][0xf]);
    ipi(1, ICR_INIT | ICR_ASSERT);
    uint32_t beat = ap_beat, ticks = cnt[1][0xf];
    spin_ms(3);
    check_eq("init-stops-ap", ap_beat - beat, 0);
    check_eq("init-stops-ap-timer", cnt[1][0xf] - ticks, 0);
    ipi(1, ICR_SIPI | ICR_ASSERT | (TRAMP_A >> 12));
    check("ap-restarted", wait_eq(&ap_boots, 2, 50), ap_boots);
    check_snapshot(1);
    ipi(1, ICR_SIPI | ICR_ASSERT | (TRAMP_B >> 12));
    spin_ms(1);
    ap_call(OP_NOP, 0, 0);
    check_eq("sipi-after-restart-ignored", ap_boots | ap_via_b << 8, 2);
    clear_counts();
    ipi(1, 0x42);
    hits("ap-takes-ipis-after-restart", 0x42, 0, 1);
    spin_ms(2);
    check_eq("ap-timer-gone-after-init", cnt[1][0xf], 0);

    /* (i) NMIs: IPIs in NMI mode (the BSP runs with IF=0 here: NMIs are
     * taken all the same, right after the ICR write) */
    ipi(1, ICR_NMI);
    check("nmi-physical-to-ap", wait_ge(&n_nmi[1], 1, 50), n_nmi[1]);
    check_eq("nmi-physical-to-ap-not-bsp", n_nmi[0], 0);
    ipi(0, ICR_NMI);
    check_eq("nmi-self-with-if-clear", n_nmi[0], 1);
    nmi_resend = 1;
    ipi(0, ICR_NMI);
    (void)lr(0x20); /* an exit after the handler's IRET */
    check_eq("nmi-in-handler-held", nmi_held, 1);
    check_eq("nmi-in-handler-taken-after-iret", n_nmi[0], 3);
    check_eq("nmi-not-nested", nmi_nested[0] | nmi_nested[1] << 8, 0);
    ipi(0, ICR_ALL_BUT | ICR_NMI);
    check("nmi-all-excluding-self", wait_ge(&n_nmi[1], 2, 50), n_nmi[1]);
    check_eq("nmi-all-excluding-self-not-bsp", n_nmi[0], 3);
    ap_call(OP_ICR, 0, ICR_NMI);
    (void)lr(0x20);
    check_eq("nmi-from-ap-to-bsp", n_nmi[0], 4);
    ipi(0, ICR_ALL | ICR_NMI);
    check_eq("nmi-all-including-self-bsp", n_nmi[0], 5);
    check("nmi-all-including-self-ap", wait_ge(&n_nmi[1], 3, 50), n_nmi[1]);
    ap_call(OP_NOP, 0, 0);
    check_eq("nmi-counts", n_nmi[0] | n_nmi[1] << 8 | nmi_nested[0] << 16 | nmi_nested[1] << 24,
             5 | 3 << 8);
    /* LVT LINT0 in NMI mode (edge): the 8259A's INTR rising (PIT channel 0
     * mode 0 reaching its terminal count on IRQ0) is an NMI, no INTA */
    lw(0x350, 0x400);
    outb(0x20, 0x11); /* ICW1..4: edge, cascade, ICW4; vectors 0x08 */
    outb(0x21, 0x08);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0x21, 0xfe); /* IRQ0 only */
    outb(0x43, 0x30); /* channel 0, lobyte/hibyte, mode 0 */
    outb(0x40, 100);
    outb(0x40, 0);
    check("nmi-lint0-from-8259a-intr", wait_ge(&n_nmi[0], 6, 50), n_nmi[0]);
    outb(0x21, 0xff); /* INTR falls */
    lw(0x350, 0x10700);
    spin_ms(1);
    check_eq("nmi-lint0-one-edge-one-nmi", n_nmi[0] | n_nmi[1] << 8, 6 | 3 << 8);

    /* (j) every vCPU in HLT: the AP's one-shot timer (500 us at the 1 GHz
     * bus, divide 1) ends the idle time and wakes the AP, whose IPI wakes
     * the BSP */
    clear_counts();
    ap_op = OP_IDLE;
    ap_a = 500000;
    barrier();
    uint32_t r = ap_req + 1;
    ap_req = r;
    for (unsigned i = 0; i < 100 && ap_ack != r; i++)
        sti_hlt();
    cli();
    check_eq("all-idle-ap-done", ap_ack, r);
    check_eq("all-idle-ap-timer-woke-ap", cnt[1][0xe] | (uint32_t)cnt[0][0xe] << 8, 1);
    check_eq("all-idle-ap-ipi-woke-bsp", cnt[0][0xd] | (uint32_t)cnt[1][0xd] << 8, 1);
    check("all-idle-slept-500us", ap_slept >= hz / 2000, ap_slept);

    /* (k) x2APIC on the BSP */
    x2apic_part();

    /* the end: the AP back to wait-for-SIPI, so the BSP's HLT powers off */
    wrmsr(0x830, 1ull << 32 | ICR_INIT | ICR_ASSERT);
    info("smp fails: ", n_fail);
}
