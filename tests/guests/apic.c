/* The local APIC and I/O APIC (hv apic=1, docs/devices/lapic.md): real mode
 * with a 4 GiB FS limit ("unreal mode") reaches the xAPIC page at 0xFEE00000
 * and the I/O APIC at 0xFEC00000. Checks: CPUID.01H:EDX.APIC; the
 * virtual-wire start (SVR 0x1ff, LINT0 ExtINT) and the SVR's spurious vector
 * read back; the LVT timer periodic at divide 16 against the TSC (within 1 %
 * of what the 1 GHz bus clock and the initial count imply); one-shot (current
 * count decreasing, 0, one interrupt); a self-IPI through the ICR (IRR, ISR
 * in service, cleared by EOI); TPR masking (held in IRR until TPR drops);
 * the I/O APIC routing the RTC (IRQ8, pin 8) edge-triggered, then
 * level-triggered with remote IRR set until the EOI; an edge arriving while
 * the entry is masked is lost; the EOI register with another vector leaves
 * remote IRR set; the same vector coming edge-triggered clears its TMR bit;
 * the LVT timer in TSC-deadline mode (the model has it though CPUID does not
 * announce it) interrupts no earlier than the deadline. */
#include "apic_mmio.h"

#define BUS_HZ 1000000000u /* the model's default APIC bus clock */

static bool bit(uint32_t base, unsigned vec)
{
    return (lr(base + 0x10 * (vec / 32)) >> (vec % 32)) & 1;
}

static void eoi(void)
{
    lw(0xb0, 0);
}

static volatile uint32_t n_per, n_one, n_ipi, n_tpr, n_edge, n_level;
static volatile uint64_t t_first, t_last;
static volatile bool ipi_isr, ipi_isr_after, per_isr, lvl_rirr, lvl_rirr_after;

#define PER_N 100 /* periods measured */

void on_per(void)
{
    uint64_t t = rdtsc();
    if (n_per == 0)
        per_isr = bit(0x100, 0x30);
    if (n_per == 1)
        t_first = t;
    if (n_per == 1 + PER_N)
        t_last = t;
    n_per++;
    eoi();
}
GUEST_ISR(isr_per, on_per);

void on_one(void)
{
    n_one++;
    eoi();
}
GUEST_ISR(isr_one, on_one);

void on_ipi(void)
{
    n_ipi++;
    ipi_isr = bit(0x100, 0x40);
    eoi();
    ipi_isr_after = bit(0x100, 0x40);
}
GUEST_ISR(isr_ipi, on_ipi);

void on_tpr(void)
{
    n_tpr++;
    eoi();
}
GUEST_ISR(isr_tpr, on_tpr);

static uint8_t rtc_c(void)
{
    outb(0x70, 0x0c);
    return inb(0x71);
}

void on_edge(void)
{
    n_edge++;
    rtc_c();
    eoi();
}
GUEST_ISR(isr_edge, on_edge);

void on_level(void)
{
    if (n_level == 0)
        lvl_rirr = (io_rd(0x20) >> 14) & 1;
    rtc_c();
    eoi();
    if (n_level == 0)
        lvl_rirr_after = (io_rd(0x20) >> 14) & 1;
    n_level++;
}
GUEST_ISR(isr_level, on_level);

static volatile uint64_t t_dl;
static volatile uint32_t n_dl, n_eoir;
static volatile bool eoir_irr, eoir_rirr;

/* Vector 0x62, level, in service with the RTC line still high: the EOI
 * register written with another vector must neither clear remote IRR nor
 * send the entry again (nothing new in IRR). */
void on_eoir(void)
{
    wr(IOAPIC + 0x40, 0x99);
    eoir_irr = bit(0x200, 0x62);
    eoir_rirr = (io_rd(0x20) >> 14) & 1;
    rtc_c();
    eoi();
    n_eoir++;
}
GUEST_ISR(isr_eoir, on_eoir);

void on_dl(void)
{
    t_dl = rdtsc();
    n_dl++;
    eoi();
}
GUEST_ISR(isr_dl, on_dl);

static void spin_tsc(uint64_t ticks)
{
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < ticks)
        ;
}

void guest_main(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    check("cpuid-apic", (d >> 9) & 1, d);
    unreal_fs();
    outb(0x21, 0xff); /* the 8259As stay out of the way */
    outb(0xa1, 0xff);
    set_ivt(0x30, isr_per);
    set_ivt(0x31, isr_one);
    set_ivt(0x40, isr_ipi);
    set_ivt(0x50, isr_tpr);
    set_ivt(0x60, isr_edge);
    set_ivt(0x61, isr_level);
    set_ivt(0x32, isr_dl);
    set_ivt(0x62, isr_eoir);
    uint32_t hz = tsc_hz();
    check("tsc-hz", hz != 0, hz);

    /* (e) the platform starts in virtual wire as a BIOS leaves it
     * (docs/devices/lapic.md): SVR 0x1ff, LINT0 ExtINT; then the spurious
     * vector written reads back */
    check_eq("svr-virtual-wire", lr(0xf0), 0x1ff);
    check_eq("lint0-extint", lr(0x350) & 0x1ffff, 0x700);
    lw(0xf0, 0x1f0);
    check_eq("svr-spurious-vector-f0", lr(0xf0) & 0x1ff, 0x1f0);
    lw(0xf0, 0x1ff);
    check_eq("svr-spurious-vector-ff", lr(0xf0) & 0x1ff, 0x1ff);
    lw(0x350, 0x10700); /* LINT0 masked: the 8259As are not used here */
    lw(0x80, 0);        /* TPR 0 */

    /* (a) periodic, divide 16: 62500 counts = 1 ms at 62.5 MHz */
    lw(0x3e0, 0x3);
    lw(0x320, 0x20030);
    lw(0x380, 62500);
    while (n_per < PER_N + 2)
        sti_hlt();
    cli();
    lw(0x320, 0x10030); /* masked */
    lw(0x380, 0);
    check("timer-periodic-isr", per_isr, 0);
    uint32_t want = div64((uint64_t)hz * (62500u * 16u / (BUS_HZ / 1000000u)) * PER_N, 1000000u);
    uint32_t got = (uint32_t)(t_last - t_first);
    info("periodic TSC ticks per 100 periods: ", got);
    info("  expected: ", want);
    check("timer-periodic-rate-1pct", got >= want - want / 100 && got <= want + want / 100, got);

    /* (b) one-shot */
    lw(0x320, 0x31);
    lw(0x380, 200000); /* 3.2 ms */
    uint32_t c1 = lr(0x390);
    spin_tsc(hz / 2000);
    uint32_t c2 = lr(0x390);
    check("oneshot-count-decreasing", c1 > c2 && c2 > 0 && c1 <= 200000, c2);
    while (n_one == 0)
        sti_hlt();
    cli();
    check_eq("oneshot-count-zero", lr(0x390), 0);
    sti();
    spin_tsc(hz / 100); /* 10 ms: three more periods, had it been periodic */
    cli();
    check_eq("oneshot-one-interrupt", n_one, 1);
    lw(0x320, 0x10031);

    /* (c) self-IPI: fixed, shorthand self */
    lw(0x300, 0x40040);
    check("ipi-irr", bit(0x200, 0x40), 0);
    sti();
    __asm__ volatile("nop");
    cli();
    check_eq("ipi-delivered", n_ipi, 1);
    check("ipi-isr-in-service", ipi_isr, 0);
    check("ipi-isr-cleared-by-eoi", !ipi_isr_after, 1);
    check("ipi-irr-clear", !bit(0x200, 0x40), 1);

    /* (d) TPR class 5 holds vector 0x50 */
    lw(0x80, 0x50);
    lw(0x300, 0x40050);
    sti();
    spin_tsc(hz / 1000);
    cli();
    check_eq("tpr-masked", n_tpr, 0);
    check("tpr-held-in-irr", bit(0x200, 0x50), 0);
    lw(0x80, 0x40);
    sti();
    __asm__ volatile("nop");
    cli();
    check_eq("tpr-lowered-delivers", n_tpr, 1);
    lw(0x80, 0);

    /* (f) I/O APIC: RTC periodic interrupt (IRQ8 -> pin 8), 1024 Hz */
    check_eq("ioapic-ver", io_rd(1) & 0xff, 0x20);
    io_wr(0x21, 0);    /* destination APIC ID 0 */
    io_wr(0x20, 0x60); /* edge, active high, fixed, unmasked */
    outb(0x70, 0x0a);
    outb(0x71, 0x26);
    outb(0x70, 0x0b);
    uint8_t rb = inb(0x71);
    outb(0x70, 0x0b);
    outb(0x71, rb | 0x40);
    rtc_c();
    while (n_edge < 5)
        sti_hlt();
    cli();
    check("ioapic-edge", n_edge >= 5, n_edge);
    io_wr(0x20, 0x10000 | 0x8000 | 0x61); /* masked, level */
    rtc_c();
    io_wr(0x20, 0x8000 | 0x61);
    while (n_level < 3)
        sti_hlt();
    cli();
    outb(0x70, 0x0b);
    outb(0x71, rb & ~0x40);
    io_wr(0x20, 0x10000);
    rtc_c();
    check("ioapic-level-remote-irr-set", lvl_rirr, 0);
    check("ioapic-level-remote-irr-cleared-by-eoi", !lvl_rirr_after, 1);

    /* (g) 82093AA: an edge while the entry is masked is lost. The RTC line
     * rises at a periodic flag and stays high until register C is read, so
     * unmasking later sees no new edge. */
    uint32_t nl = n_level;
    io_wr(0x20, 0x10000 | 0x61); /* masked, edge */
    outb(0x70, 0x0b);
    outb(0x71, rb | 0x40);
    spin_tsc(hz / 250); /* 4 ms: flags at 1024 Hz, the line high */
    io_wr(0x20, 0x61);
    sti();
    spin_tsc(hz / 500);
    cli();
    check_eq("ioapic-masked-edge-lost", n_level - nl, 0);

    /* (h) SDM, interrupt acceptance: a vector accepted edge-triggered
     * clears its TMR bit (0x61 came level-triggered above) */
    check("tmr-set-by-level", bit(0x180, 0x61), 0);
    rtc_c(); /* the line falls; the next flag is an edge */
    for (uint32_t i = 0; i < 200000 && !bit(0x200, 0x61); i++)
        ;
    check("tmr-edge-accepted", bit(0x200, 0x61), 0);
    check("tmr-cleared-by-edge", !bit(0x180, 0x61), 1);
    sti();
    __asm__ volatile("nop");
    cli();

    /* (i) ICH EOI register: the EOI of another vector leaves a level
     * entry's remote IRR set and sends nothing (on_eoir) */
    io_wr(0x20, 0x8000 | 0x62); /* level, unmasked */
    rtc_c();
    for (uint32_t i = 0; i < 1000 && n_eoir == 0; i++)
        sti_hlt();
    cli();
    outb(0x70, 0x0b);
    outb(0x71, rb & ~0x40);
    io_wr(0x20, 0x10000);
    rtc_c();
    check_eq("eoir-delivered", n_eoir, 1);
    check("eoir-other-vector-keeps-remote-irr", eoir_rirr, 0);
    check("eoir-other-vector-sends-nothing", !eoir_irr, 1);

    /* (j) LVT timer in TSC-deadline mode: one interrupt, not before the
     * TSC reaches IA32_TSC_DEADLINE */
    lw(0x320, 0x40032);
    uint64_t dl = rdtsc() + hz / 1000;
    __asm__ volatile("wrmsr" ::"c"(0x6e0), "a"((uint32_t)dl), "d"((uint32_t)(dl >> 32)));
    for (uint32_t i = 0; i < 1000 && n_dl == 0; i++)
        sti_hlt();
    cli();
    check_eq("tsc-deadline-one-interrupt", n_dl, 1);
    check("tsc-deadline-not-early", t_dl >= dl, (uint32_t)(t_dl - dl));
    lw(0x320, 0x10032);
    info("apic fails: ", n_fail);
}
