/* The crosscheck player (docs/crosscheck.md, "Timed"): a Multiboot kernel
 * QEMU boots with -kernel under -icount shift=0,sleep=off, where the virtual
 * clock advances 1 ns per instruction and RDTSC reads it. For each op of the
 * module (tests/xcplayer/xcplayer.h), in order, it waits until the op's
 * trace time has come on that clock and then does the port access; an
 * interrupt acknowledge of the trace becomes OCW3 polls of QEMU's 8259As.
 * Interrupts stay off except in HLT across long gaps, woken by the local
 * APIC timer with LINT0 masked, so QEMU's PIC is never acknowledged by the
 * CPU. Answers leave on QEMU's debugcon (port 0xe9). */
#include <stdbool.h>
#include <stdint.h>

#include "hv/portio.h"
#include "tests/xcplayer/xcplayer.h"

static void put(uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        outb(XP_DEBUGCON, (uint8_t)(v >> (8 * i)));
}

/* ---- local APIC timer wake-ups ----------------------------------------- */

#define LAPIC 0xfee00000u
static volatile uint32_t *lapic(unsigned reg)
{
    return (volatile uint32_t *)(LAPIC + reg);
}

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t zero, type;
    uint16_t off_hi;
} __attribute__((packed));
static struct idt_gate idt[256];
extern void wake_isr(void);

static void idt_init(void)
{
    uint32_t h = (uint32_t)wake_isr;
    for (unsigned v = 0x40; v < 256; v++)
        idt[v] = (struct idt_gate){(uint16_t)h, 0x08, 0, 0x8e, (uint16_t)(h >> 16)};
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) d = {sizeof(idt) - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" ::"m"(d));
}

static void lapic_init(void)
{
    *lapic(0xf0) = 0x1ff;    /* SVR: enabled, spurious vector 0xff */
    *lapic(0x350) = 0x10700; /* LINT0 masked: the 8259A never reaches the CPU */
    *lapic(0x360) = 0x10400; /* LINT1 masked */
    *lapic(0x3e0) = 0xb;     /* divide by 1 */
    *lapic(0x320) = 0x10040; /* timer masked, vector 0x40, one-shot */
}

/* Sleeps about ns (< 2^32) in HLT: with -icount sleep=off the virtual clock
 * jumps to the timer's deadline. */
static void nap(uint32_t ns)
{
    *lapic(0x320) = 0x40;
    *lapic(0x380) = ns;
    __asm__ volatile("sti; hlt; cli" ::: "memory");
    *lapic(0x320) = 0x10040;
    *lapic(0x380) = 0;
}

/* Until the clock reads `target`: naps across long gaps, then spins. */
static uint64_t wait_until(uint64_t target)
{
    uint64_t now;
    while ((now = rdtsc()) + 20000 < target) {
        uint64_t gap = target - now - 10000;
        nap(gap > 0xf0000000u ? 0xf0000000u : (uint32_t)gap);
    }
    while ((now = rdtsc()) < target)
        ;
    return now;
}

/* ---- the op list -------------------------------------------------------- */

static uint64_t wait_until(uint64_t target);

static void do_ack(const struct xp_op *op, uint64_t target)
{
    outb(0x20, 0x0c);
    uint8_t m = inb(0x20);
    uint8_t s = 0, again = 0;
    bool other =
        (m & 0x80) && (op->port & XP_ACK_EXPECT) && (m & 7) != (op->port & 7) && (m & 7) != 2;
    if (other) /* a lower request answered before the trace's came: undo it */
        outb(0x20, (uint8_t)(0x60 | (m & 7)));
    if (!(m & 0x80) || other) {
        wait_until(target + XP_ACK_WINDOW_NS);
        outb(0x20, 0x0c);
        m = inb(0x20);
        again = 1;
    }
    if (op->size == 2) {
        outb(0xa0, 0x0c);
        s = inb(0xa0);
    }
    if (op->value < 16)
        outb(op->value >= 8 ? 0xa0 : 0x20, (uint8_t)(0x60 | (op->value & 7)));
    put(m, 1);
    if (op->size == 2)
        put(s, 1);
    put(again, 1);
}

/* QEMU's devices after SeaBIOS, brought to hvrr's power-on state as far as
 * their registers allow (docs/crosscheck.md, "Timed"): every 8254 OUT low
 * (QEMU keeps OUT when only a control word is written and counts on with
 * the gate low, so channels 0 and 2 get a one-clock mode-1 count: OUT low
 * from then on), port 0x61 0, the 8259As initialised with every line masked
 * and edge-triggered (ICW1 also drops the edges the PIT setup made), the RTC
 * at register A 0x26 / B 0x02 with its flags read, the 16550 at divisor 12,
 * 16450 mode, no interrupts, its status read; the i8042 command byte 0x45
 * with its output buffer empty; the PIIX4 PM, if there, at 0x600 with SCI_EN
 * set; PCI CONFIG_ADDRESS 0. */
static void prologue(void)
{
    outb(0x61, 0x00);
    outb(0x43, 0x32); /* channel 0: mode 1, count 1 */
    outb(0x40, 1);
    outb(0x40, 0);
    outb(0x43, 0xb2); /* channel 2 likewise (gate low) */
    outb(0x42, 1);
    outb(0x42, 0);
    for (uint64_t t = rdtsc() + 5000; rdtsc() < t;)
        ; /* > 3 PIT clocks: the count-1 pulses are over */
    static const uint8_t icw[2][4] = {{0x11, 0x08, 0x04, 0x01}, {0x11, 0x70, 0x02, 0x01}};
    for (unsigned i = 0; i < 2; i++) {
        uint16_t cmd = i ? 0xa0 : 0x20;
        for (unsigned k = 0; k < 4; k++)
            outb(k ? cmd + 1 : cmd, icw[i][k]);
        outb(cmd + 1, 0xff);
    }
    outb(0x4d0, 0);
    outb(0x4d1, 0);
    outb(0x70, 0x0a);
    outb(0x71, 0x26);
    outb(0x70, 0x0b);
    outb(0x71, 0x02);
    outb(0x70, 0x0c);
    (void)inb(0x71);
    outb(0x3fb, 0x80);
    outb(0x3f8, 12);
    outb(0x3f9, 0);
    outb(0x3fb, 0x00);
    outb(0x3f9, 0x00);
    outb(0x3fa, 0x00);
    outb(0x3fc, 0x00);
    outb(0x3ff, 0x00);
    (void)inb(0x3fd);
    (void)inb(0x3f8);
    (void)inb(0x3fa);
    (void)inb(0x3fe);
    outb(0x64, 0x60); /* i8042 command byte as hvrr's after POST */
    outb(0x60, 0x45);
    while (inb(0x64) & 1)
        (void)inb(0x60);
    /* QEMU's PIIX4 PM (00:01.3, only with -M pc,acpi=on: APIC-platform
     * traces) at hvrr's ACPI PM base 0x600, SCI_EN set as hvrr's is */
    outl(0xcf8, 0x80000b00);
    if (inl(0xcfc) == 0x71138086) {
        outl(0xcf8, 0x80000b40); /* PMBASE */
        outl(0xcfc, 0x601);
        outl(0xcf8, 0x80000b80); /* PMREGMISC: PM I/O space enable */
        outb(0xcfc, 0x01);
        outw(0x604, 0x0001);
        outw(0x600, 0xffff); /* PM1_STS cleared */
    }
    outl(0xcf8, 0); /* CONFIG_ADDRESS as at power-on (SeaBIOS leaves its last) */
}

static void play(const struct xp_header *h)
{
    prologue();
    const struct xp_op *ops = (const struct xp_op *)(h + 1);
    uint64_t base = h->base_ns;
    put(rdtsc(), 8); /* when the player got here: must be before base */
    /* QEMU's RTC updated at base (a whole second, see hvrr crosscheck):
     * its update-ended flag, which hvrr's does not set for virtual time 0,
     * is read away right after it */
    wait_until(base);
    outb(0x70, 0x0c);
    (void)inb(0x71);
    uint64_t worst = 0;
    uint32_t late = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        const struct xp_op *op = &ops[i];
        uint64_t target = base + op->t_ns;
        uint64_t now = wait_until(target);
        if (now - target > worst)
            worst = now - target;
        late += now - target > 100;
        switch (op->kind) {
        case XP_OUT:
            if (op->size == 1)
                outb(op->port, (uint8_t)op->value);
            else if (op->size == 2)
                outw(op->port, (uint16_t)op->value);
            else
                outl(op->port, op->value);
            break;
        case XP_IN:
            if (op->size == 1)
                put(inb(op->port), 1);
            else if (op->size == 2)
                put(inw(op->port), 2);
            else
                put(inl(op->port), 4);
            break;
        case XP_ACK: do_ack(op, target); break;
        default: break;
        }
    }
    put(worst, 8);
    put(late, 4);
    put(XP_DONE, 4);
}

void player_main(uint32_t magic, uint32_t info);
void player_main(uint32_t magic, uint32_t info)
{
    const volatile uint32_t *mbi = (const volatile uint32_t *)info;
    idt_init();
    lapic_init();
    if (magic == 0x2badb002 && (mbi[0] & 8) && mbi[5] >= 1) {
        const uint32_t *mod = (const uint32_t *)mbi[6];
        const struct xp_header *h = (const struct xp_header *)mod[0];
        if (h->magic == XP_MAGIC && h->version == XP_VERSION &&
            (uint64_t)h->n * sizeof(struct xp_op) + sizeof(*h) <= mod[1] - mod[0])
            play(h);
    }
    outb(0xf4, 0); /* isa-debug-exit */
}
