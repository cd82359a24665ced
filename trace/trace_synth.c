/* Synthetic Linux-like trace (see trace_synth.h). Everything is a function
 * of the seed. Guest addresses, port values and timings are plausible for a
 * Linux 6.1 guest on the hvrr platform, not copied from a real capture. */
#include "trace/trace_synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/xorshift.h"

#define KBASE     0xffffffff81000000ull
#define TICK_TSC  (TRACE_SYNTH_TSC_HZ / 250) /* HZ=250 */
#define COM1      0x3f8
#define LSR_IDLE  0x60 /* THRE | TEMT */
#define VEC_BASE  0x30 /* Linux maps legacy IRQ n to vector 0x30 + n */
#define EXIT_COST 2400 /* cycles a VM exit round trip adds to guest time */

/* Code sites (offsets from KBASE) the exits come from. */
enum site {
    S_LSR_POLL = 0x6a1c42, /* wait_for_xmitr: in al, dx */
    S_THR_OUT = 0x6a1c90,  /* serial putchar: out dx, al */
    S_IER_IN = 0x6a2011,
    S_IER_OUT = 0x6a2031,
    S_PIC_MASK = 0x0a3b27,
    S_PIC_EOI = 0x0a3b3d,
    S_PIC_UNMASK = 0x0a3c02,
    S_PIC_ISR = 0x0a3d70,
    S_PIT_LATCH = 0x0b1420,
    S_PIT_READ = 0x0b1433,
    S_IDLE_HLT = 0xd1f6e2,
    S_TICK_INT = 0x12c4a0,
    S_UART_IIR = 0x6a3102,
    S_UART_RBR = 0x6a3190,
    S_BOOT = 0x0020a0,
    S_CPUID = 0x0431c8,
    S_MSR = 0x0512e0,
};

static uint64_t rnd(struct trace_synth *s)
{
    return xorshift64s(&s->rng);
}

static uint32_t rnd_below(struct trace_synth *s, uint32_t n)
{
    return n ? (uint32_t)((rnd(s) >> 32) % n) : 0;
}

static struct trace_synth_item *push(struct trace_synth *s, enum trace_item_type type)
{
    if (s->qlen >= TRACE_SYNTH_QUEUE)
        return NULL;
    struct trace_synth_item *it = &s->q[(s->qhead + s->qlen++) % TRACE_SYNTH_QUEUE];
    memset(it, 0, sizeof(*it));
    it->type = type;
    return it;
}

static void advance(struct trace_synth *s, uint32_t base)
{
    s->tsc += EXIT_COST + base + (s->cfg.tsc_jitter ? rnd_below(s, s->cfg.tsc_jitter) : 0);
}

static struct trace_exit *exit_at(struct trace_synth *s, uint32_t reason, uint64_t site,
                                  uint32_t insn_len, uint32_t cost)
{
    struct trace_synth_item *it = push(s, TRACE_ITEM_EXIT);
    if (!it)
        return NULL;
    advance(s, cost);
    struct trace_exit *e = &it->u.exit;
    e->seq = s->seq++;
    e->tsc = s->tsc;
    e->rip = KBASE + site;
    e->reason = reason;
    e->insn_len = insn_len;
    return e;
}

/* A port access; DX-addressed (1-byte instruction) unless imm is set. */
static void io(struct trace_synth *s, uint64_t site, uint16_t port, bool write, uint32_t value,
               bool imm, uint32_t cost)
{
    struct trace_exit *e = exit_at(s, TRACE_EXIT_IO_INSTRUCTION, site, imm ? 2 : 1, cost);
    if (!e)
        return;
    /* SDM Table 28-5: size-1, bit 3 IN, bit 6 immediate operand, port << 16 */
    e->qual = (uint64_t)port << 16 | (write ? 0 : 8u) | (imm ? 0x40u : 0);
    e->detail = TRACE_DETAIL_IO;
    e->u.io.port = port;
    e->u.io.size = 1;
    e->u.io.write = write;
    e->u.io.value = value;
}

static void dev(struct trace_synth *s, enum trace_dev_kind kind, uint32_t a, bool level)
{
    struct trace_synth_item *it = push(s, TRACE_ITEM_DEV);
    if (!it)
        return;
    struct trace_dev_event *d = &it->u.dev;
    d->tsc = s->tsc;
    d->kind = kind;
    switch (kind) {
    case TRACE_DEV_IRQ_LINE:
        d->u.irq.irq = a;
        d->u.irq.level = level;
        break;
    case TRACE_DEV_INJECT: d->u.inject.vector = (uint8_t)a; break;
    case TRACE_DEV_TIMER_EDGE:
        d->u.timer.source = a;
        d->u.timer.level = level;
        break;
    case TRACE_DEV_INTR: d->u.intr.level = level; break;
    case TRACE_DEV_REQUEST: d->u.request.what = a; break;
    default: break;
    }
}

static void cpuid(struct trace_synth *s, uint32_t leaf, uint32_t sub, uint32_t a, uint32_t b,
                  uint32_t c, uint32_t d)
{
    struct trace_exit *e = exit_at(s, TRACE_EXIT_CPUID, S_CPUID + (leaf & 0xff) * 8, 2, 9000);
    if (!e)
        return;
    e->detail = TRACE_DETAIL_CPUID;
    e->u.cpuid.leaf = leaf;
    e->u.cpuid.subleaf = sub;
    e->u.cpuid.eax = a;
    e->u.cpuid.ebx = b;
    e->u.cpuid.ecx = c;
    e->u.cpuid.edx = d;
}

static void msr(struct trace_synth *s, uint32_t index, bool write, uint64_t value)
{
    struct trace_exit *e = exit_at(s, write ? TRACE_EXIT_WRMSR : TRACE_EXIT_RDMSR,
                                   S_MSR + (index & 0xff) * 4, 2, 7000);
    if (!e)
        return;
    e->detail = TRACE_DETAIL_MSR;
    e->u.msr.index = index;
    e->u.msr.write = write;
    e->u.msr.value = value;
}

static void prologue(struct trace_synth *s)
{
    static const uint32_t cr0_seq[] = {0x80050033u, 0x80050033u};
    for (unsigned i = 0; i < 2; i++) {
        struct trace_exit *e = exit_at(s, TRACE_EXIT_CR_ACCESS, S_BOOT + i * 16, 3, 12000);
        if (!e)
            return;
        e->qual = 0 | (0u << 4) | (0u << 8); /* MOV to CR0 from RAX */
        e->detail = TRACE_DETAIL_CR;
        e->u.cr.cr = 0;
        e->u.cr.access = TRACE_CR_MOV_TO;
        e->u.cr.value = cr0_seq[i];
    }
    struct trace_exit *e = exit_at(s, TRACE_EXIT_CR_ACCESS, S_BOOT + 0x40, 3, 12000);
    if (e) {
        e->qual = 4 | (0u << 4) | (3u << 8); /* MOV to CR4 from RBX */
        e->detail = TRACE_DETAIL_CR;
        e->u.cr.cr = 4;
        e->u.cr.gpr = 3;
        e->u.cr.value = 0x3406f0;
    }
    cpuid(s, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69);                     /* GenuineIntel */
    cpuid(s, 1, 0, 0x000906ea, 0x00010800, 0xf6fa3203, 0x0f8bbdff & ~(1u << 9)); /* no APIC */
    cpuid(s, 7, 0, 0, 0x029c67af, 0, 0);
    cpuid(s, 0xd, 0, 0x7, 0x340, 0x340, 0);
    cpuid(s, 0xd, 1, 0xf, 0x340, 0, 0);
    cpuid(s, 0x80000000u, 0, 0x80000008u, 0, 0, 0);
    cpuid(s, 0x80000001u, 0, 0, 0, 0x121, 0x2c100800);
    cpuid(s, 0x80000008u, 0, 0x3027, 0, 0, 0);
    e = exit_at(s, TRACE_EXIT_XSETBV, S_BOOT + 0x80, 3, 9000);
    if (e) {
        e->detail = TRACE_DETAIL_XSETBV;
        e->u.xsetbv.xcr = 0;
        e->u.xsetbv.value = 7;
    }
    msr(s, 0x1b, false, 0);                  /* IA32_APIC_BASE: no APIC */
    msr(s, 0x1a0, false, 0x850089);          /* IA32_MISC_ENABLE */
    msr(s, 0xc0000080u, true, 0xd01);        /* EFER */
    msr(s, 0x277, true, 0x0407050600070106); /* PAT */
    /* MMIO probes that hit nothing: reads return all-ones. */
    static const uint64_t probes[] = {0xfed00000ull, 0xfee00000ull, 0xfec00000ull};
    for (unsigned i = 0; i < 3; i++) {
        e = exit_at(s, TRACE_EXIT_EPT_VIOLATION, S_BOOT + 0x100 + i * 8, 0, 15000);
        if (!e)
            return;
        e->qual = 0x181; /* read, GLA valid, translated access */
        e->detail = TRACE_DETAIL_EPT;
        e->u.ept.gpa = probes[i];
        e->u.ept.gla = 0xffffffffff5fc000ull + i * 0x1000;
        e->u.ept.access = TRACE_EPT_READ;
        e->u.ept.size = 4;
        e->u.ept.value = 0xffffffffu;
    }
    /* PIC init (ICW1..4 master then slave), PIT ch0 periodic at 250 Hz. */
    static const uint8_t pic[][2] = {{0x21, 0xff}, {0xa1, 0xff}, {0x20, 0x11}, {0x21, 0x30},
                                     {0x21, 0x04}, {0x21, 0x01}, {0xa0, 0x11}, {0xa1, 0x38},
                                     {0xa1, 0x02}, {0xa1, 0x01}, {0x43, 0x34}, {0x40, 0xa5},
                                     {0x40, 0x12}, {0x21, 0xfa}};
    for (unsigned i = 0; i < sizeof(pic) / sizeof(pic[0]); i++)
        io(s, S_BOOT + 0x200 + i * 4, pic[i][0], true, pic[i][1], true, 4000);
    /* CMOS clock read: index then data, for seconds .. year. */
    static const uint8_t cmos[][2] = {{0x0a, 0x26}, {0x00, 0x12}, {0x02, 0x34}, {0x04, 0x10},
                                      {0x07, 0x26}, {0x08, 0x11}, {0x09, 0x26}, {0x0b, 0x02}};
    for (unsigned i = 0; i < sizeof(cmos) / sizeof(cmos[0]); i++) {
        io(s, S_BOOT + 0x300, 0x70, true, cmos[i][0], true, 3000);
        io(s, S_BOOT + 0x304, 0x71, false, cmos[i][1], true, 3000);
    }
}

static const char *const subsys[] = {"pci 0000:00:01.0",
                                     "clocksource",
                                     "Serial: 8250/16550 driver",
                                     "serial8250",
                                     "rtc_cmos 00:00",
                                     "Freeing unused kernel image",
                                     "Run /init as init process",
                                     "NET",
                                     "i8042",
                                     "input",
                                     "Memory",
                                     "tsc",
                                     "printk",
                                     "Mount-cache",
                                     "devtmpfs",
                                     "workqueue"};
static const char *const verbs[] = {"registered", "initialized", "detected", "using",
                                    "enabled",    "switched to", "probing",  "allocated"};
static const char *const objs[] = {"protocol family", "ttyS0 at I/O 0x3f8 (irq = 4)",
                                   "tsc-early",       "hash table entries",
                                   "buffers",         "memory",
                                   "console [ttyS0]", "PS/2 controller",
                                   "device",          "idle driver"};

/* One line of kernel console output: per character an LSR poll (which
 * sometimes needs a second read) and a THR write, IER saved, cleared and
 * restored around the line. */
static void console_line(struct trace_synth *s)
{
    char line[160];
    uint64_t us = s->tsc / (TRACE_SYNTH_TSC_HZ / 1000000);
    int n = snprintf(line, sizeof(line), "[%5u.%06u] %s: %s %s %u\n",
                     (unsigned)(us / 1000000) % 100000, (unsigned)(us % 1000000),
                     subsys[rnd_below(s, 16)], verbs[rnd_below(s, 8)], objs[rnd_below(s, 10)],
                     rnd_below(s, 4) ? rnd_below(s, 4096) : rnd_below(s, 1u << 20));
    if (n < 0)
        return;
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    io(s, S_IER_IN, COM1 + 1, false, 0x05, false, 3000);
    io(s, S_IER_OUT, COM1 + 1, true, 0x00, false, 2600);
    for (int i = 0; i < n; i++) {
        char c = line[i];
        if (c == '\n') {
            io(s, S_LSR_POLL, COM1 + 5, false, LSR_IDLE, false, 2500);
            io(s, S_THR_OUT, COM1, true, '\r', false, 2400);
        }
        if (rnd_below(s, 64) == 0)
            io(s, S_LSR_POLL, COM1 + 5, false, 0x00, false, 2500); /* still busy */
        io(s, S_LSR_POLL, COM1 + 5, false, LSR_IDLE, false, 2500);
        io(s, S_THR_OUT, COM1, true, (uint8_t)c, false, 2400);
    }
    io(s, S_LSR_POLL, COM1 + 5, false, LSR_IDLE, false, 2500);
    io(s, S_IER_OUT, COM1 + 1, true, 0x05, false, 2600);
    s->lines++;
}

/* The 250 Hz tick: the exit that ends guest execution, the PIT edge and its
 * interrupt, then the handler's PIC traffic (mask, specific EOI, unmask). */
static void tick(struct trace_synth *s, bool idle)
{
    if (idle) {
        exit_at(s, TRACE_EXIT_HLT, S_IDLE_HLT, 1, 1500);
        if (s->tsc < s->next_tick)
            s->tsc = s->next_tick;
    } else {
        exit_at(s, TRACE_EXIT_PREEMPTION_TIMER, S_THR_OUT + 2, 0, 1000);
    }
    dev(s, TRACE_DEV_TIMER_EDGE, TRACE_TIMER_PIT0, true);
    dev(s, TRACE_DEV_IRQ_LINE, 0, true);
    dev(s, TRACE_DEV_INTR, 0, true);
    dev(s, TRACE_DEV_INJECT, VEC_BASE + 0, false);
    dev(s, TRACE_DEV_INTR, 0, false);
    io(s, S_PIC_MASK, 0x21, true, 0xfb, true, 5200);
    io(s, S_PIC_EOI, 0x20, true, 0x60, true, 2300);
    dev(s, TRACE_DEV_TIMER_EDGE, TRACE_TIMER_PIT0, false);
    dev(s, TRACE_DEV_IRQ_LINE, 0, false);
    if (rnd_below(s, 20) == 0) { /* spurious-IRQ check reads the ISR */
        io(s, S_PIC_ISR, 0x20, true, 0x0b, true, 2100);
        io(s, S_PIC_ISR + 4, 0x20, false, 0x00, true, 2100);
    }
    if (rnd_below(s, 10) == 0) { /* PIT counter latch and read */
        uint32_t count = 0x12a5 - rnd_below(s, 0x12a5);
        io(s, S_PIT_LATCH, 0x43, true, 0x00, true, 4100);
        io(s, S_PIT_READ, 0x40, false, count & 0xff, true, 2000);
        io(s, S_PIT_READ + 2, 0x40, false, count >> 8, true, 2000);
    }
    io(s, S_PIC_UNMASK, 0x21, true, 0xfa, true, 3100);
    s->next_tick += TICK_TSC;
    s->ticks++;
}

/* Host input: bytes arrive, the UART interrupts, the driver drains RBR. */
static void uart_input(struct trace_synth *s)
{
    static const char *const cmds[] = {"ls\r", "uname -a\r", "cat /proc/interrupts\r", "\r"};
    const char *cmd = cmds[rnd_below(s, 4)];
    size_t n = strlen(cmd);
    memcpy(s->rx, cmd, n);
    struct trace_synth_item *it = push(s, TRACE_ITEM_DEV);
    if (!it)
        return;
    it->u.dev.tsc = s->tsc;
    it->u.dev.kind = TRACE_DEV_UART_RX;
    it->u.dev.u.uart_rx.port = COM1;
    it->u.dev.u.uart_rx.data = s->rx;
    it->u.dev.u.uart_rx.len = n;
    dev(s, TRACE_DEV_IRQ_LINE, 4, true);
    dev(s, TRACE_DEV_INTR, 0, true);
    dev(s, TRACE_DEV_INJECT, VEC_BASE + 4, false);
    dev(s, TRACE_DEV_INTR, 0, false);
    io(s, S_UART_IIR, COM1 + 2, false, 0xc4, false, 6000);
    for (size_t i = 0; i < n; i++) {
        io(s, S_UART_RBR, COM1 + 5, false, 0x61, false, 2200);
        io(s, S_UART_RBR + 4, COM1, false, (uint8_t)cmd[i], false, 2200);
    }
    io(s, S_UART_RBR, COM1 + 5, false, LSR_IDLE, false, 2200);
    dev(s, TRACE_DEV_IRQ_LINE, 4, false);
    io(s, S_UART_IIR, COM1 + 2, false, 0xc1, false, 2500);
    io(s, S_PIC_EOI, 0x20, true, 0x64, true, 2300);
}

static void checkpoint(struct trace_synth *s)
{
    struct trace_synth_item *it = push(s, TRACE_ITEM_CHECKPOINT);
    if (!it)
        return;
    /* A stand-in for vm_devices_save output: mostly stable, a few counters. */
    for (size_t i = 0; i < sizeof(s->blob); i++)
        s->blob[i] = (uint8_t)((i * 7) ^ (i >> 4));
    memcpy(s->blob + 16, &s->tsc, sizeof(s->tsc));
    memcpy(s->blob + 32, &s->ticks, sizeof(s->ticks));
    struct trace_checkpoint *c = &it->u.checkpoint;
    c->seq = s->seq;
    c->tsc = s->tsc;
    c->time_ns = s->tsc / (TRACE_SYNTH_TSC_HZ / 1000000000ull);
    c->devices_version = 1;
    c->devices = s->blob;
    c->devices_len = sizeof(s->blob);
}

/* Produces the next scenario step into the (empty) queue. */
static void generate(struct trace_synth *s)
{
    if (!s->prologue_done) {
        prologue(s);
        s->prologue_done = true;
        return;
    }
    if (s->cfg.checkpoint_every && s->seq >= s->next_checkpoint) {
        checkpoint(s);
        while (s->next_checkpoint <= s->seq)
            s->next_checkpoint += s->cfg.checkpoint_every;
    }
    if (s->tsc >= s->next_tick) {
        tick(s, false);
        return;
    }
    /* Chunk mix: a console line is ~130 exits, an idle stretch ~6 per tick,
     * which puts UART polling near 90 % of all exits as in a real boot. */
    uint32_t r = rnd_below(s, 1000);
    if (r < 550) { /* idle: the guest halts until the next tick(s) */
        unsigned k = 1 + rnd_below(s, 3);
        for (unsigned i = 0; i < k; i++)
            tick(s, true);
    } else if (r < 560) {
        uart_input(s);
    } else if (r < 570) {
        cpuid(s, 1, 0, 0x000906ea, 0x00010800, 0xf6fa3203, 0x0f8bbdff & ~(1u << 9));
    } else if (r < 575) {
        msr(s, 0x10, false, s->tsc); /* IA32_TIME_STAMP_COUNTER */
    } else {
        console_line(s);
    }
}

void trace_synth_init(struct trace_synth *s, const struct trace_synth_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->rng = cfg->seed ? cfg->seed : 1;
    s->tsc = 1000000;
    s->next_tick = s->tsc + TICK_TSC;
    s->next_checkpoint = cfg->checkpoint_every;
}

static const struct trace_device synth_devices[] = {
    {"pic-master", 0x20, 2, -1}, {"pit", 0x40, 4, 0},        {"kbc8042", 0x60, 1, 1},
    {"port61", 0x61, 1, -1},     {"kbc8042", 0x64, 1, 1},    {"cmos-rtc", 0x70, 2, 8},
    {"post", 0x80, 1, -1},       {"pic-slave", 0xa0, 2, -1}, {"pci", 0xcf8, 8, -1},
    {"com1", 0x3f8, 8, 4}};

void trace_synth_header(struct trace_synth *s, struct trace_header *h)
{
    memset(h, 0, sizeof(*h));
    h->format_version = TRACE_FORMAT_VERSION;
    h->hv_build_id = "synthetic";
    h->devmodel_version = "synthetic";
    h->cmdline = "console=ttyS0 nokaslr panic=-1";
    h->ram_bytes = 128ull << 20;
    h->vcpus = 1;
    h->tsc_hz = TRACE_SYNTH_TSC_HZ;
    h->ndevices = sizeof(synth_devices) / sizeof(synth_devices[0]);
    h->devices = synth_devices;
    h->has_start = true;
    memset(s->blob, 0, sizeof(s->blob));
    h->start.devices = s->blob;
    h->start.devices_len = 256;
    h->start.devices_version = 1;
    h->start.tsc = s->tsc;
}

bool trace_synth_next(struct trace_synth *s, struct trace_synth_item *it)
{
    for (;;) {
        if (s->exits_made >= s->cfg.exits)
            return false;
        if (s->qlen == 0) {
            generate(s);
            continue;
        }
        *it = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % TRACE_SYNTH_QUEUE;
        s->qlen--;
        if (it->type == TRACE_ITEM_EXIT)
            s->exits_made++;
        return true;
    }
}

int trace_synth_write(struct trace_writer *w, const struct trace_synth_config *cfg)
{
    struct trace_synth *sp = malloc(sizeof(*sp));
    if (!sp)
        return TRACE_W_E_NOMEM;
    struct trace_synth_item it;
    struct trace_header h;
    trace_synth_init(sp, cfg);
    trace_synth_header(sp, &h);
    int rc = trace_write_header(w, &h);
    while (!rc && trace_synth_next(sp, &it)) {
        switch (it.type) {
        case TRACE_ITEM_EXIT: rc = trace_write_exit(w, &it.u.exit); break;
        case TRACE_ITEM_DEV: rc = trace_write_dev(w, &it.u.dev); break;
        case TRACE_ITEM_CHECKPOINT: rc = trace_write_checkpoint(w, &it.u.checkpoint); break;
        default: break;
        }
    }
    if (!rc) {
        struct trace_end end = {.exits = sp->exits_made, .reason = TRACE_END_STOPPED};
        rc = trace_writer_finish(w, &end);
    }
    free(sp);
    return rc;
}
