/* Scripted guests that boot "Linux" through hv/record (scenario.h). The
 * sequences follow Linux 6.1's i8259.c, tsc.c (quick_pit_calibrate), rtc.c
 * (mach_get_cmos_time), 8250_port.c (autoconfig, startup, console_write),
 * pci/direct.c and i8042.c. Everything is a function of the config: same config, same bytes.
 */
#include "host-sim/scenario.h"

#include <stdio.h>
#include <string.h>

#include "hv/record/recorder.h"
#include "hv/vm_policy.h"

#define SG_HZ       3000000000ull
#define EXIT_CYCLES 4500 /* guest TSC spent per exit round trip (1.5 us) */
#define VEC_MASTER  0x30
#define VEC_SLAVE   0x38
#define COM1        0x3f8

const struct scenario_config scenario_table[] = {
    {.name = "linux-boot", .log_lines = 250, .idle_ms = 40, .seed = 1},
    {.name = "linux-boot-quiet", .log_lines = 12, .idle_ms = 20, .seed = 2},
    {.name = "serial-shell",
     .log_lines = 20,
     .idle_ms = 10,
     .rx = "echo hello\r",
     .rtc_irq = true,
     .reset_at_end = true,
     .seed = 3},
    {.name = "io-guest", .guest = SCEN_IO_GUEST, .seed = 4},
    {0},
};

const struct scenario_config *scenario_find(const char *name)
{
    for (const struct scenario_config *c = scenario_table; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

struct sg {
    struct vm_recorder rec;
    struct vm_devices dev;
    struct vm_policy pol; /* the hypervisor's exit policy (hv/vm_policy.h) */
    uint64_t regs[16];    /* the scripted CPU's registers (RAX for IN) */
    int pending_vec;      /* injected at the last entry, -1: none */
    const struct scenario_config *cfg;
    uint64_t tsc, rng;
    bool iflag; /* guest RFLAGS.IF */
    int depth;  /* in an interrupt handler */
    bool stopped, oneshot;
    bool retired;           /* the policy skipped the instruction */
    uint8_t mask_m, mask_s; /* Linux's cached PIC masks */
    uint8_t ier;            /* the console's IER */
    uint64_t jiffies;
    char rxline[64];
    unsigned rxlen;
    unsigned char_count;
};

static uint64_t rnd(struct sg *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

static uint64_t now_ns(const struct sg *g)
{
    return vm_rec_tsc_to_ns(g->tsc, SG_HZ);
}

static uint64_t rip_of(unsigned site)
{
    if (site >= 900) /* the real-mode test guests run at 0:8000 */
        return 0x8000 + (uint64_t)(site - 900) * 7;
    return 0xffffffff81000000ull + (uint64_t)site * 0x1c3;
}

static void isr(struct sg *g, uint8_t vec);

/* ---- the exit policy's view of the scripted CPU (struct vm_policy_ops) ---- */

static uint64_t op_reg(void *ctx, unsigned r)
{
    return ((struct sg *)ctx)->regs[r & 15];
}
static void op_set_reg(void *ctx, unsigned r, uint64_t val)
{
    ((struct sg *)ctx)->regs[r & 15] = val;
}
static uint64_t op_rflags(void *ctx)
{
    return ((struct sg *)ctx)->iflag ? VM_POLICY_RFLAGS_IF : 0;
}
static bool op_interruptible(void *ctx)
{
    struct sg *g = ctx;
    return g->iflag && !g->depth; /* handlers run with IF=0 */
}
static void op_inject_extint(void *ctx, uint8_t vector)
{
    ((struct sg *)ctx)->pending_vec = vector;
}
static void op_skip_insn(void *ctx)
{
    ((struct sg *)ctx)->retired = true;
}
static uint64_t op_tsc_now(void *ctx)
{
    return ((struct sg *)ctx)->tsc;
}
static void op_skip_tsc(void *ctx, uint64_t delta)
{
    ((struct sg *)ctx)->tsc += delta;
}
static uint32_t op_io(void *ctx, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                      bool write, uint32_t value)
{
    return vm_rec_io(&((struct sg *)ctx)->rec, x, port, size, write, value);
}
static void op_advance(void *ctx, uint64_t tsc)
{
    vm_rec_advance(&((struct sg *)ctx)->rec, tsc);
}
static uint8_t op_ack(void *ctx, uint64_t tsc)
{
    return vm_rec_ack(&((struct sg *)ctx)->rec, tsc);
}

/* The policy records (VmConfig.policy_records): the interruptibility behind
 * an IntrBlocked (a handler running counts as an event in progress), the
 * preemption-timer deadlines. */
static void op_blocked(void *ctx, uint64_t tsc)
{
    struct sg *g = ctx;
    struct trace_dev_event ev = {.tsc = tsc, .kind = TRACE_DEV_INTR_BLOCKED};
    ev.u.blocked.rflags = op_rflags(g);
    ev.u.blocked.blocking = g->depth ? TRACE_BLOCK_EVENT : 0;
    vm_rec_policy(&g->rec, &ev);
}

static void op_arm_timer(void *ctx, uint64_t tsc)
{
    struct sg *g = ctx;
    vm_rec_deadline(&g->rec, g->tsc, tsc);
}

static const struct vm_policy_ops sg_ops = {
    .reg = op_reg,
    .set_reg = op_set_reg,
    .rflags = op_rflags,
    .interruptible = op_interruptible,
    .inject_extint = op_inject_extint,
    .skip_insn = op_skip_insn,
    .tsc_now = op_tsc_now,
    .arm_timer = op_arm_timer,
    .skip_tsc = op_skip_tsc,
    .io = op_io,
    .advance = op_advance,
    .ack = op_ack,
    .blocked = op_blocked,
};

/* Before each VM entry: the policy brings devices up to date and injects
 * an interrupt if the guest can take it; the guest then runs its handler. */
static void entry(struct sg *g)
{
    vm_policy_prepare_entry(&g->pol);
    if (g->pending_vec >= 0) {
        uint8_t vec = (uint8_t)g->pending_vec;
        g->pending_vec = -1;
        isr(g, vec);
    }
}

static void other_exit(struct sg *g, struct trace_exit *e, unsigned site)
{
    e->tsc = g->tsc;
    e->rip = rip_of(site);
    vm_rec_exit(&g->rec, e);
    g->tsc += EXIT_CYCLES / 2;
}

/* Guest code runs for `cycles`; device deadlines inside that stretch stop it
 * with a preemption-timer exit. */
static void work(struct sg *g, uint64_t cycles)
{
    uint64_t left = cycles + (rnd(g) & 127);
    while (left) {
        uint64_t next = vm_devices_next_event_ns(&g->dev, now_ns(g));
        uint64_t dl = next == TIME_NEVER ? UINT64_MAX : vm_policy_ns_to_tsc_ceil(next, SG_HZ);
        if (dl <= g->tsc || dl - g->tsc >= left) {
            g->tsc += left;
            return;
        }
        left -= dl - g->tsc;
        g->tsc = dl + 60; /* exit latency */
        struct trace_exit e = {.reason = TRACE_EXIT_PREEMPTION_TIMER};
        other_exit(g, &e, 1);
        entry(g);
    }
}

static uint32_t io(struct sg *g, unsigned site, uint16_t port, unsigned size, bool write,
                   uint32_t val)
{
    work(g, 150 + (site & 15) * 20);
    struct vm_policy_io x = {.x = {.tsc = g->tsc,
                                   .rip = rip_of(site),
                                   .insn_len = port < 0x100 ? 2 : 1,
                                   .qual = (uint64_t)(size - 1) | (write ? 0 : 8u) |
                                           (port < 0x100 ? 0x40u : 0) | (uint64_t)port << 16},
                             .port = port,
                             .size = (uint8_t)size,
                             .in = !write,
                             .value = val};
    uint64_t rax = g->regs[VM_POLICY_RAX] & ~(uint64_t)dev_size_mask(size); /* as hv/vm_polrec.c */
    g->retired = false;
    vm_policy_io(&g->pol, &x);
    if (!write) { /* what the policy read and left (PolicyIo) */
        struct trace_dev_event ev = {.tsc = x.x.tsc, .kind = TRACE_DEV_POLICY_IO};
        ev.u.pio.rax = rax;
        ev.u.pio.rax_after = g->regs[VM_POLICY_RAX];
        ev.u.pio.retired = g->retired;
        vm_rec_policy(&g->rec, &ev);
    }
    /* what the instruction left in AL/AX/EAX (an interrupt handler run at
     * the next entry saves and restores it) */
    uint32_t v = write ? val : (uint32_t)g->regs[VM_POLICY_RAX] & dev_size_mask(size);
    g->tsc += EXIT_CYCLES + (rnd(g) & 63);
    entry(g);
    return v;
}

static void outb(struct sg *g, unsigned site, uint16_t port, uint8_t v)
{
    io(g, site, port, 1, true, v);
}
static uint8_t inb(struct sg *g, unsigned site, uint16_t port)
{
    return (uint8_t)io(g, site, port, 1, false, 0);
}
/* outb_pic: the write and an io_delay on port 0x80. */
static void outb_pic(struct sg *g, unsigned site, uint16_t port, uint8_t v)
{
    outb(g, site, port, v);
    outb(g, site + 1, 0x80, 0);
}

/* HLT: the policy moves time to the next device event (IF=1) or powers
 * off (IF=0). */
static void hlt(struct sg *g, unsigned site)
{
    struct trace_exit e = {.reason = TRACE_EXIT_HLT, .insn_len = 1};
    e.tsc = g->tsc;
    e.rip = rip_of(site);
    vm_rec_exit(&g->rec, &e);
    vm_policy_halt(&g->pol, g->tsc);
    struct trace_dev_event ev = {.tsc = g->tsc, .kind = TRACE_DEV_HALT};
    ev.u.halt.rflags = op_rflags(g);
    ev.u.halt.stop =
        g->pol.stop == VM_STOP_POWEROFF || g->pol.stop == VM_STOP_IDLE ? (uint32_t)g->pol.stop : 0;
    vm_rec_policy(&g->rec, &ev);
    if (g->pol.stop != VM_RUNNING) {
        g->stopped = true;
        return;
    }
    g->tsc += EXIT_CYCLES;
    entry(g);
}

static void idle(struct sg *g, uint64_t ns)
{
    uint64_t until = now_ns(g) + ns;
    while (!g->stopped && now_ns(g) < until)
        hlt(g, 2);
}

/* ---- interrupt handling (i8259.c mask_and_ack_8259A, handlers) ---- */

static void timer_program_oneshot(struct sg *g)
{
    /* i8253 clockevent in one-shot state: control word 0x38 (channel 0,
     * lobyte/hibyte, mode 4), then the next delta as LSB, MSB. */
    outb(g, 40, 0x43, 0x38);
    outb(g, 41, 0x40, 0xa5);
    outb(g, 42, 0x40, 0x12);
}

static void isr(struct sg *g, uint8_t vec)
{
    g->depth++;
    work(g, 400);
    unsigned irq = (unsigned)(vec - VEC_MASTER) & 15;
    if (irq == 7 || irq == 15) { /* spurious check: read ISR */
        uint16_t cmd = irq == 7 ? 0x20 : 0xa0;
        outb(g, 10, cmd, 0x0b);
        uint8_t isrv = inb(g, 11, cmd);
        outb(g, 12, cmd, 0x0a);
        if (!(isrv & 0x80)) {
            g->depth--;
            return;
        }
    }
    if (irq >= 8) {
        g->mask_s |= (uint8_t)(1u << (irq - 8));
        inb(g, 13, 0xa1);
        outb(g, 14, 0xa1, g->mask_s);
        outb(g, 15, 0xa0, (uint8_t)(0x60 + (irq & 7)));
        outb(g, 16, 0x21, g->mask_m);
        outb(g, 17, 0x20, 0x62);
    } else {
        g->mask_m |= (uint8_t)(1u << irq);
        inb(g, 18, 0x21);
        outb(g, 19, 0x21, g->mask_m);
        outb(g, 20, 0x20, (uint8_t)(0x60 + irq));
    }
    work(g, 900);
    switch (irq) {
    case 0:
        g->jiffies++;
        if (g->oneshot)
            timer_program_oneshot(g);
        break;
    case 4: {
        uint8_t iir;
        while (!((iir = inb(g, 50, COM1 + 2)) & 1)) {
            if ((iir & 0x0e) == 0x04 || (iir & 0x0e) == 0x0c) {
                uint8_t lsr;
                while ((lsr = inb(g, 51, COM1 + 5)) & 1) {
                    uint8_t c = inb(g, 52, COM1);
                    if (g->rxlen < sizeof g->rxline - 1)
                        g->rxline[g->rxlen++] = (char)c;
                }
            } else if ((iir & 0x0e) == 0x06) {
                inb(g, 53, COM1 + 5);
            } else if ((iir & 0x0e) == 0x00) {
                inb(g, 54, COM1 + 6);
            }
        }
        break;
    }
    case 8:
        outb(g, 60, 0x70, 0x0c);
        inb(g, 61, 0x71);
        break;
    default: break;
    }
    work(g, 300);
    if (irq >= 8) {
        g->mask_s &= (uint8_t) ~(1u << (irq - 8));
        outb(g, 21, 0xa1, g->mask_s);
    } else {
        g->mask_m &= (uint8_t) ~(1u << irq);
        outb(g, 22, 0x21, g->mask_m);
    }
    g->depth--;
}

/* ---- boot phases ---- */

static void cpu_prologue(struct sg *g)
{
    static const uint32_t leaves[] = {0, 1, 7, 0xd, 0x80000000u, 0x80000001u, 0x80000008u, 6};
    for (unsigned i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        struct trace_exit e = {
            .reason = TRACE_EXIT_CPUID, .insn_len = 2, .detail = TRACE_DETAIL_CPUID};
        e.u.cpuid.leaf = leaves[i];
        e.u.cpuid.eax = leaves[i] == 0 ? 0xd : leaves[i] == 1 ? 0x000206a7 : 0;
        e.u.cpuid.ebx = leaves[i] == 0 ? 0x756e6547 : 0;
        e.u.cpuid.ecx = leaves[i] == 0 ? 0x6c65746e : leaves[i] == 1 ? 0x1fba2203 : 0;
        e.u.cpuid.edx = leaves[i] == 0 ? 0x49656e69 : leaves[i] == 1 ? 0x0f8bf9ff : 0;
        work(g, 2000);
        other_exit(g, &e, 100 + i);
    }
    static const uint32_t msrs[] = {0x1a0, 0xc0000080, 0x277, 0x1b};
    for (unsigned i = 0; i < sizeof msrs / sizeof msrs[0]; i++) {
        struct trace_exit e = {
            .reason = TRACE_EXIT_RDMSR, .insn_len = 2, .detail = TRACE_DETAIL_MSR};
        e.u.msr.index = msrs[i];
        e.u.msr.value = msrs[i] == 0x1a0        ? 1
                        : msrs[i] == 0xc0000080 ? 0x500
                                                : 0x0007040600070406ull;
        work(g, 3000);
        other_exit(g, &e, 120 + i);
    }
    struct trace_exit cr = {
        .reason = TRACE_EXIT_CR_ACCESS, .insn_len = 3, .detail = TRACE_DETAIL_CR};
    cr.u.cr.cr = 4;
    cr.u.cr.value = 0x3406f0;
    work(g, 5000);
    other_exit(g, &cr, 130);
    struct trace_exit xs = {
        .reason = TRACE_EXIT_XSETBV, .insn_len = 3, .detail = TRACE_DETAIL_XSETBV};
    xs.u.xsetbv.value = 7;
    work(g, 5000);
    other_exit(g, &xs, 131);
}

static void guest_pic_init(struct sg *g)
{
    /* probe_8259A */
    outb(g, 200, 0x21, 0xff);
    outb(g, 201, 0x21, 0xfb);
    inb(g, 202, 0x21);
    outb(g, 203, 0x21, 0xff);
    /* init_8259A */
    outb(g, 204, 0xa1, 0xff);
    outb_pic(g, 205, 0x20, 0x11);
    outb_pic(g, 207, 0x21, VEC_MASTER);
    outb_pic(g, 209, 0x21, 0x04);
    outb_pic(g, 211, 0x21, 0x01);
    outb_pic(g, 213, 0xa0, 0x11);
    outb_pic(g, 215, 0xa1, VEC_SLAVE);
    outb_pic(g, 217, 0xa1, 0x02);
    outb_pic(g, 219, 0xa1, 0x01);
    work(g, 300000); /* udelay(100) */
    g->mask_m = 0xfb;
    g->mask_s = 0xff;
    outb(g, 221, 0x21, g->mask_m);
    outb(g, 222, 0xa1, g->mask_s);
}

static void pit_periodic(struct sg *g)
{
    outb(g, 230, 0x43, 0x34);
    outb(g, 231, 0x40, 0xa5);
    outb(g, 232, 0x40, 0x12);
    g->mask_m &= (uint8_t)~1u; /* request_irq(0) unmasks */
    outb(g, 233, 0x21, g->mask_m);
    g->iflag = true;
}

/* quick_pit_calibrate: channel 2, mode 0, count 0xffff, gate on through
 * port 0x61; read LSB+MSB while the MSB walks down. */
static void pit_calibrate(struct sg *g)
{
    uint8_t p61 = inb(g, 240, 0x61);
    outb(g, 241, 0x61, (uint8_t)((p61 & ~0x02) | 0x01));
    outb(g, 242, 0x43, 0xb0);
    outb(g, 243, 0x42, 0xff);
    outb(g, 244, 0x42, 0xff);
    inb(g, 245, 0x42); /* pit_verify_msb(0): the first read */
    inb(g, 246, 0x42);
    for (unsigned i = 1; i <= 45; i++) {
        uint8_t want = (uint8_t)(0xff - i);
        unsigned count = 0;
        for (;;) { /* pit_expect_msb */
            inb(g, 247, 0x42);
            if (inb(g, 248, 0x42) != (uint8_t)(want + 1) || ++count > 200)
                break;
        }
        if (count < 5)
            break;
    }
}

static uint8_t cmos_read(struct sg *g, unsigned site, uint8_t reg)
{
    outb(g, site, 0x70, reg);
    return inb(g, site + 1, 0x71);
}

static void cmos_time(struct sg *g)
{
    while (cmos_read(g, 250, 0x0a) & 0x80)
        ;
    uint8_t sec;
    do {
        sec = cmos_read(g, 252, 0x00);
        cmos_read(g, 254, 0x02);
        cmos_read(g, 256, 0x04);
        cmos_read(g, 258, 0x07);
        cmos_read(g, 260, 0x08);
        cmos_read(g, 262, 0x09);
        cmos_read(g, 264, 0x32);
    } while (sec != cmos_read(g, 252, 0x00));
    cmos_read(g, 266, 0x0b);
}

static void serial_setup(struct sg *g)
{
    const uint16_t b = COM1;
    /* autoconfig: scratch test on IER */
    uint8_t ier = inb(g, 300, b + 1);
    outb(g, 301, b + 1, 0);
    inb(g, 302, b + 1);
    outb(g, 303, b + 1, 0x0f);
    inb(g, 304, b + 1);
    outb(g, 305, b + 1, ier);
    /* loopback check */
    uint8_t mcr = inb(g, 306, b + 4);
    outb(g, 307, b + 4, 0x1a);
    inb(g, 308, b + 6);
    outb(g, 309, b + 4, mcr);
    /* FIFO probe */
    uint8_t lcr = inb(g, 310, b + 3);
    outb(g, 311, b + 3, 0xbf);
    outb(g, 312, b + 2, 0);
    outb(g, 313, b + 3, 0);
    outb(g, 314, b + 2, 0x01);
    uint8_t iir = inb(g, 315, b + 2);
    if ((iir >> 6) == 3) { /* autoconfig_16550a */
        outb(g, 316, b + 3, 0xbf);
        inb(g, 317, b + 2); /* EFR must read 0 */
        outb(g, 318, b + 3, 0x80);
        inb(g, 319, b + 0);
        inb(g, 320, b + 1);
        outb(g, 321, b + 3, 0);
    }
    outb(g, 322, b + 3, lcr);
    outb(g, 323, b + 2, 0x07); /* clear FIFOs */
    outb(g, 324, b + 2, 0);
    inb(g, 325, b);
    outb(g, 326, b + 1, 0);
    /* serial8250_startup: THRE test with IRQs off */
    outb(g, 330, b + 2, 0x07);
    outb(g, 331, b + 2, 0x01);
    inb(g, 332, b + 5);
    inb(g, 333, b);
    inb(g, 334, b + 2);
    inb(g, 335, b + 6);
    outb(g, 336, b + 3, 0x03);
    bool save_if = g->iflag;
    g->iflag = false;
    outb(g, 337, b + 1, 0x02);
    inb(g, 338, b + 5);
    inb(g, 339, b + 2);
    outb(g, 340, b + 1, 0);
    outb(g, 341, b + 1, 0x02);
    inb(g, 342, b + 2);
    outb(g, 343, b + 1, 0);
    g->iflag = save_if;
    outb(g, 344, b + 4, 0x0b); /* DTR|RTS|OUT2 */
    inb(g, 345, b + 5);
    inb(g, 346, b);
    inb(g, 347, b + 2);
    inb(g, 348, b + 6);
    /* set_termios: 115200 8N1 */
    outb(g, 350, b + 3, 0x83);
    outb(g, 351, b + 0, 0x01);
    outb(g, 352, b + 1, 0x00);
    outb(g, 353, b + 3, 0x03);
    outb(g, 354, b + 2, 0xc1);
    g->ier = 0x05; /* RLSI|RDI once the tty is opened */
    outb(g, 355, b + 1, g->ier);
    g->mask_m &= (uint8_t) ~(1u << 4);
    outb(g, 356, 0x21, g->mask_m);
}

/* serial8250_console_write: IER off, per char wait for THRE and write. */
static void console_line(struct sg *g, const char *s)
{
    const uint16_t b = COM1;
    uint8_t ier = inb(g, 400, b + 1);
    outb(g, 401, b + 1, 0);
    for (const char *p = s;; p++) {
        char c = *p ? *p : '\n';
        for (int k = c == '\n' ? 2 : 1; k > 0; k--) {
            while ((inb(g, 402, b + 5) & 0x60) != 0x60)
                ;
            outb(g, 403, b, (uint8_t)(k == 2 ? '\r' : c));
            g->char_count++;
        }
        if (!*p)
            break;
    }
    while ((inb(g, 404, b + 5) & 0x60) != 0x60)
        ;
    outb(g, 405, b + 1, ier);
}

static const char *const log_text[] = {
    "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC",
    "Command line: console=ttyS0 panic=-1 nokaslr",
    "x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'",
    "BIOS-provided physical RAM map:",
    "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
    "NX (Execute Disable) protection: active",
    "tsc: Fast TSC calibration using PIT",
    "tsc: Detected 2999.999 MHz processor",
    "Memory: 101876K/130680K available (12288K kernel code, 2092K rwdata)",
    "NR_IRQS: 524544, nr_irqs: 16, preallocated irqs: 16",
    "Console: colour dummy device 80x25",
    "printk: console [ttyS0] enabled",
    "Calibrating delay loop (skipped), value calculated using timer frequency..",
    "pid_max: default: 32768 minimum: 301",
    "PCI: Using configuration type 1 for base access",
    "clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0x2b3e459bf4c",
    "Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled",
    "serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A",
    "i8042: PNP: No PS/2 controller found.",
    "rtc_cmos rtc_cmos: registered as rtc0",
    "Freeing unused kernel image (initmem) memory: 2796K",
    "Run /init as init process",
};

static void log_lines(struct sg *g, unsigned n, unsigned *next)
{
    char line[160];
    for (unsigned i = 0; i < n && !g->stopped; i++, (*next)++) {
        uint64_t t = now_ns(g);
        snprintf(line, sizeof line, "[%5u.%06u] %s", (unsigned)(t / 1000000000u),
                 (unsigned)(t % 1000000000u / 1000u),
                 log_text[*next % (sizeof log_text / sizeof log_text[0])]);
        console_line(g, line);
        work(g, 20000 + (rnd(g) & 0x3fff)); /* the printk caller's own work */
    }
}

static uint32_t pci_conf_read(struct sg *g, unsigned site, unsigned dev, unsigned fn, unsigned reg)
{
    io(g, site, 0xcf8, 4, true, 0x80000000u | dev << 11 | fn << 8 | reg);
    return io(g, site + 1, 0xcfc, 4, false, 0);
}

static void pci_probe(struct sg *g)
{
    /* pci_check_type1 */
    outb(g, 500, 0xcfb, 0x01);
    uint32_t tmp = io(g, 501, 0xcf8, 4, false, 0);
    io(g, 502, 0xcf8, 4, true, 0x80000000u);
    io(g, 503, 0xcf8, 4, false, 0);
    io(g, 504, 0xcf8, 4, true, tmp);
    /* pci_sanity_check and the bus-0 scan */
    for (unsigned dev = 0; dev < 32; dev++) {
        uint32_t id = pci_conf_read(g, 510, dev, 0, 0);
        if (id == 0xffffffffu || id == 0)
            continue;
        uint32_t hdr = pci_conf_read(g, 512, dev, 0, 0x0c);
        pci_conf_read(g, 514, dev, 0, 0x08);
        pci_conf_read(g, 516, dev, 0, 0x04);
        for (unsigned bar = 0x10; bar < 0x28; bar += 4) {
            uint32_t v = pci_conf_read(g, 518, dev, 0, bar);
            io(g, 520, 0xcfc, 4, true, 0xffffffffu);
            io(g, 521, 0xcfc, 4, false, 0);
            io(g, 522, 0xcfc, 4, true, v);
        }
        if (hdr & 0x00800000u)
            for (unsigned fn = 1; fn < 8; fn++)
                pci_conf_read(g, 524, dev, fn, 0);
    }
}

static int kbc_wait_out(struct sg *g)
{
    for (int i = 0; i < 100; i++)
        if (inb(g, 600, 0x64) & 1)
            return 0;
    return -1;
}

static void i8042_probe(struct sg *g)
{
    inb(g, 601, 0x64);
    while (inb(g, 602, 0x64) & 1) /* i8042_flush */
        inb(g, 603, 0x60);
    outb(g, 604, 0x64, 0x20); /* read CTR */
    if (kbc_wait_out(g) == 0)
        inb(g, 605, 0x60);
    outb(g, 606, 0x64, 0xaa); /* self test */
    if (kbc_wait_out(g) == 0)
        inb(g, 607, 0x60);
    outb(g, 608, 0x64, 0xa8); /* AUX enable / loop test */
    outb(g, 609, 0x64, 0xd3);
    outb(g, 610, 0x60, 0x5a);
    if (kbc_wait_out(g) == 0)
        inb(g, 611, 0x60);
    outb(g, 612, 0x64, 0x60); /* write CTR */
    outb(g, 613, 0x60, 0x45);
}

static void rtc_irq_setup(struct sg *g)
{
    outb(g, 700, 0x70, 0x0a);
    outb(g, 701, 0x71, 0x2a); /* 64 Hz */
    outb(g, 702, 0x70, 0x0b);
    uint8_t b = inb(g, 703, 0x71);
    outb(g, 704, 0x70, 0x0b);
    outb(g, 705, 0x71, (uint8_t)(b | 0x40));
    g->mask_s &= (uint8_t)~1u;
    outb(g, 706, 0xa1, g->mask_s);
}

/* The shell: type the rx bytes one by one (a key every 30 ms), the UART
 * interrupt collects them, the shell echoes; Enter prints the output. */
static void shell(struct sg *g, const char *rx)
{
    console_line(g, "/ # ");
    for (const char *p = rx; *p && !g->stopped; p++) {
        idle(g, 30000000);
        vm_rec_com1_rx(&g->rec, (const uint8_t *)p, 1, g->tsc);
        g->tsc += EXIT_CYCLES;
        entry(g);
        idle(g, 2000000);
        while (g->rxlen) { /* echo */
            char e[2] = {g->rxline[0], 0};
            memmove(g->rxline, g->rxline + 1, --g->rxlen);
            if (e[0] == '\r')
                console_line(g, "hello");
            else
                console_line(g, e);
        }
    }
}

/* ---- tests/guests/io.S, port for port (real mode at 0:8000, IF=0) ---- */

static void guest_putc(struct sg *g, char c)
{
    for (int i = 0; i < 1000; i++) /* putc: bounded THRE wait */
        if (inb(g, 900, 0x3fd) & 0x20)
            break;
    outb(g, 901, 0x3f8, (uint8_t)c);
}

static void guest_puts(struct sg *g, const char *s)
{
    while (*s)
        guest_putc(g, *s++);
}

/* CHECK: "PASS name" or "FAIL name why XXXXXXXX" */
static void check(struct sg *g, bool ok, const char *name, const char *why, uint32_t v)
{
    guest_puts(g, ok ? "PASS " : "FAIL ");
    guest_puts(g, name);
    if (!ok) {
        char hex[16];
        snprintf(hex, sizeof hex, " %s %08x", why, v);
        guest_puts(g, hex);
    }
    guest_putc(g, '\n');
}

static void io_guest(struct sg *g)
{
    static const uint8_t pic[][2] = {{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
                                     {0xa0, 0x11}, {0xa1, 0x28}, {0xa1, 0x02}, {0xa1, 0x01}};
    for (size_t i = 0; i < sizeof pic / sizeof pic[0]; i++)
        outb(g, 910, pic[i][0], pic[i][1]);
    outb(g, 911, 0x21, 0xa5);
    uint32_t v = inb(g, 912, 0x21);
    check(g, v == 0xa5, "io pic master IMR read-back", "read back", v);
    outb(g, 913, 0xa1, 0x5a);
    v = inb(g, 914, 0xa1);
    check(g, v == 0x5a, "io pic slave IMR read-back", "read back", v);
    outb(g, 915, 0x20, 0x0b);
    v = inb(g, 916, 0x20);
    check(g, v == 0, "io pic ISR empty after init", "non-zero", v);
    outb(g, 917, 0x21, 0xff);
    outb(g, 918, 0xa1, 0xff);
    /* 8254 channel 0 mode 2, count 0x8000, latched */
    outb(g, 920, 0x43, 0x34);
    outb(g, 921, 0x40, 0);
    outb(g, 922, 0x40, 0x80);
    work(g, 200 * 5);
    outb(g, 923, 0x43, 0);
    v = inb(g, 924, 0x40);
    v |= (uint32_t)inb(g, 925, 0x40) << 8;
    check(g, v && v <= 0x8000, "io pit channel 0 latched count in (0, 0x8000]", "out of range", v);
    /* channel 2 mode 0 through port 0x61 */
    uint8_t p61 = inb(g, 926, 0x61);
    outb(g, 927, 0x61, p61 & 0xfc);
    outb(g, 928, 0x43, 0xb0);
    outb(g, 929, 0x42, 100);
    outb(g, 930, 0x42, 0);
    p61 = inb(g, 931, 0x61);
    outb(g, 932, 0x61, p61 | 1);
    v = inb(g, 933, 0x61);
    check(g, v & 1, "io port61 gate2 read-back", "read back", v);
    for (int i = 0; i < 100000; i++)
        if ((v = inb(g, 934, 0x61)) & 0x20)
            break;
    check(g, v & 0x20, "io port61 OUT2 high after mode-0 terminal count", "never set", v);
    p61 = inb(g, 935, 0x61);
    outb(g, 936, 0x61, p61 & 0xfc);
    /* 16550A */
    outb(g, 940, 0x3ff, 0x5a);
    v = inb(g, 941, 0x3ff);
    check(g, v == 0x5a, "io uart scratch read-back", "read back", v);
    outb(g, 942, 0x3fb, 0x1b);
    v = inb(g, 943, 0x3fb);
    check(g, v == 0x1b, "io uart LCR read-back", "read back", v);
    outb(g, 944, 0x3fb, 0x03);
    v = inb(g, 945, 0x3fd);
    check(g, (v & 0x60) == 0x60, "io uart LSR THRE+TEMT", "bits", v);
    outb(g, 946, 0x3fa, 0x01);
    v = inb(g, 947, 0x3fa);
    check(g, (v & 0xcf) == 0xc1, "io uart IIR FIFOs enabled, no interrupt", "bits", v);
    /* MC146818 */
    outb(g, 950, 0x70, 0x0d);
    v = inb(g, 951, 0x71);
    check(g, v & 0x80, "io cmos register D VRT", "bits", v);
    outb(g, 952, 0x70, 0x0b);
    if (!(inb(g, 953, 0x71) & 0x04)) {
        outb(g, 954, 0x70, 0x00);
        v = inb(g, 955, 0x71);
        check(g, (v & 0x0f) <= 9 && v <= 0x59, "io cmos seconds valid BCD", "out of range", v);
    }
    /* PCI mechanism #1 */
    io(g, 960, 0xcf8, 4, true, 0x80000000u);
    v = io(g, 961, 0xcf8, 4, false, 0);
    check(g, v == 0x80000000u, "io pci 0xcf8 read-back", "read back", v);
    v = io(g, 962, 0xcfc, 4, false, 0);
    check(g, (v & 0xffff) == 0x8086, "io pci host bridge vendor 8086", "value", v);
    io(g, 963, 0xcf8, 4, true, 0x8000f800u);
    v = io(g, 964, 0xcfc, 4, false, 0);
    check(g, v == 0xffffffffu, "io pci absent device all-ones", "value", v);
    outb(g, 965, 0x80, 0xc3);
    v = inb(g, 966, 0x80);
    check(g, v == 0xc3, "io port 0x80 read-back", "read back", v);
    v = inb(g, 967, 0x64);
    check(g, !(v & 0x02), "io kbc status input buffer empty", "bits", v);
    outb(g, 970, 0x1234, 0);
    v = inb(g, 971, 0x1234);
    check(g, v == 0xff, "io unknown port inb all-ones", "value", v);
    v = io(g, 972, 0x1234, 2, false, 0);
    check(g, v == 0xffff, "io unknown port inw all-ones", "value", v);
    v = io(g, 973, 0x1234, 4, false, 0);
    check(g, v == 0xffffffffu, "io unknown port inl all-ones", "value", v);
    hlt(g, 974); /* poweroff: cli; hlt */
}

int scenario_run(const struct scenario_config *cfg, struct trace_writer *w)
{
    static struct sg g; /* vm_devices is large; one scenario at a time */
    memset(&g, 0, sizeof g);
    g.cfg = cfg;
    g.rng = cfg->seed ? cfg->seed * 0x9e3779b97f4a7c15ull : 1;
    struct vm_recorder_config rc = {.w = w,
                                    .tsc_hz = SG_HZ,
                                    .ram_bytes = 128ull << 20,
                                    .vcpus = 1,
                                    .hv_build_id = "host-sim scripted guest",
                                    .devmodel_version = "working tree",
                                    .cmdline = "console=ttyS0 panic=-1 nokaslr",
                                    .checkpoint_every =
                                        cfg->checkpoint_every ? cfg->checkpoint_every : 4096,
                                    .entry_decisions = true,
                                    .policy_records = true};
    struct vm_devices_config dc = {.rtc_epoch_sec = 1767225600ull};
    int err = vm_recorder_init(&g.rec, &g.dev, &dc, NULL, &rc);
    if (err)
        return err;
    const struct vm_policy_config pc = {.tsc_hz = SG_HZ};
    vm_policy_init(&g.pol, &sg_ops, &g, &g.dev, &pc);
    g.pending_vec = -1;
    g.tsc = 0;
    entry(&g);
    if (cfg->guest == SCEN_IO_GUEST) {
        io_guest(&g);
        return vm_rec_finish(&g.rec, TRACE_END_POWEROFF);
    }
    cpu_prologue(&g);
    guest_pic_init(&g);
    pit_periodic(&g);
    pit_calibrate(&g);
    cmos_time(&g);
    serial_setup(&g);
    unsigned next = 0;
    unsigned first = cfg->log_lines / 2;
    log_lines(&g, first, &next);
    idle(&g, (uint64_t)cfg->idle_ms * 500000);
    pci_probe(&g);
    i8042_probe(&g);
    g.oneshot = true; /* NOHZ: tick_switch_to_oneshot */
    timer_program_oneshot(&g);
    if (cfg->rtc_irq)
        rtc_irq_setup(&g);
    log_lines(&g, cfg->log_lines - first, &next);
    idle(&g, (uint64_t)cfg->idle_ms * 500000);
    if (cfg->rx)
        shell(&g, cfg->rx);
    uint32_t reason;
    if (cfg->reset_at_end) {
        console_line(&g, "reboot: Restarting system");
        outb(&g, 800, 0x64, 0xfe);
        reason = TRACE_END_RESET;
    } else {
        console_line(&g, "reboot: Power down");
        g.iflag = false;
        hlt(&g, 801);
        reason = TRACE_END_POWEROFF;
    }
    return vm_rec_finish(&g.rec, reason);
}
