/* The 16550A through the hypervisor, in loopback (MCR bit 4: THR bytes go to
 * our own receiver; the physical COM1 feeds nothing in `make e2e`), after the
 * PC16550D datasheet: RX FIFO trigger levels 1/4/8/14, character timeout (4
 * character times, for several word lengths, parities and stop bits, and
 * restarted by an RBR read), FIFO overrun, 16450-mode overrun, FIFO reset by
 * FCR, break (BI|FE with a 0 byte, shown only when it reaches the top of the
 * FIFO), the MSR loopback mapping DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD with
 * its delta bits (TERI on the trailing edge only), IIR priorities (line
 * status > RX data > THRE > modem status), THRE re-arm, and the IRQ line
 * forced off in loopback (PIC IRR). Nothing is printed while in loopback (it
 * would loop back): results are kept and printed afterwards. Then, out of
 * loopback, the THRE interrupt taken on IRQ4. */
#include "guest.h"

#define COM  0x3f8
#define RBR  (COM + 0)
#define IER  (COM + 1)
#define IIR  (COM + 2)
#define FCR  (COM + 2)
#define LCR  (COM + 3)
#define MCR  (COM + 4)
#define LSR  (COM + 5)
#define MSR  (COM + 6)
#define LOOP 0x10

static uint32_t hz;

/* ---- deferred results -------------------------------------------------- */

#define NRES 96
static const char *res_name[NRES];
static uint32_t res_got[NRES], res_want[NRES];
static bool res_ok[NRES];
static unsigned nres;

static void keep(const char *name, bool ok, uint32_t got, uint32_t want)
{
    if (nres < NRES) {
        res_name[nres] = name;
        res_ok[nres] = ok;
        res_got[nres] = got;
        res_want[nres] = want;
        nres++;
    }
}

static void keep_eq(const char *name, uint32_t got, uint32_t want)
{
    keep(name, got == want, got, want);
}

static void flush(void)
{
    for (unsigned i = 0; i < nres; i++)
        result(res_name[i], res_ok[i], res_got[i], res_want[i]);
    nres = 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void set_divisor(uint16_t d, uint8_t lcr)
{
    outb(LCR, 0x80);
    outb(COM + 0, (uint8_t)d);
    outb(COM + 1, (uint8_t)(d >> 8));
    outb(LCR, lcr);
}

static uint32_t us_since(uint32_t t0)
{
    return muldiv((uint32_t)rdtsc() - t0, 1000000u, hz);
}

/* FIFO mode with trigger `trig` (FCR bits 7-6), both FIFOs cleared. */
static void fifo(uint8_t trig)
{
    outb(FCR, 0x07 | (uint8_t)(trig << 6));
}

static void drain(void)
{
    for (unsigned i = 0; i < 20 && (inb(LSR) & 1); i++)
        (void)inb(RBR);
}

/* ---- tests -------------------------------------------------------------- */

static void test_trigger_levels(void)
{
    static const uint8_t level[4] = {1, 4, 8, 14};
    static const char *const name[4] = {
        "uart trigger level 1: RX data interrupt from the 1st byte",
        "uart trigger level 4: RX data interrupt from the 4th byte",
        "uart trigger level 8: RX data interrupt from the 8th byte",
        "uart trigger level 14: RX data interrupt from the 14th byte",
    };
    outb(IER, 0x01); /* ERBFI only */
    for (unsigned t = 0; t < 4; t++) {
        fifo((uint8_t)t);
        uint32_t first = 0;
        for (unsigned k = 1; k <= 16; k++) {
            outb(COM, (uint8_t)(0x40 + k));
            uint8_t iir = inb(IIR);
            if (!first && (iir & 0x0f) == 0x04)
                first = k;
        }
        keep_eq(name[t], first, level[t]);
        /* Reading down below the level drops the interrupt. */
        for (unsigned k = 16; k >= level[t]; k--)
            (void)inb(RBR);
        keep_eq("uart below the trigger level: no RX interrupt (IIR)", inb(IIR), 0xc1);
        drain();
    }
    outb(IER, 0x00);
}

/* Character timeout with LCR `lcr`: one byte below the trigger level, IIR
 * polled until it reports 0xCC. Returns the microseconds waited. */
static uint32_t timeout_us(uint8_t lcr)
{
    set_divisor(1, lcr);
    fifo(3);
    outb(IER, 0x01);
    outb(COM, 0x55);
    uint32_t t0 = (uint32_t)rdtsc();
    uint32_t us = 0;
    for (unsigned i = 0; i < 4000; i++) {
        if ((inb(IIR) & 0x0f) == 0x0c) {
            us = us_since(t0);
            break;
        }
    }
    (void)inb(RBR);
    keep_eq("uart timeout cleared by reading the byte (IIR)", inb(IIR), 0xc1);
    outb(IER, 0x00);
    return us;
}

/* 4 characters of `bits_x2` half-bits at 115200 baud (8.68 us per bit):
 * within 6 %. */
static void keep_timeout(const char *name, uint32_t us, unsigned bits_x2)
{
    uint32_t want = bits_x2 * 4 * 868 / 200; /* us */
    keep(name, us > want - want / 16 && us < want + want / 16, us, want);
}

static void test_timeouts(void)
{
    keep_timeout("uart timeout 8N1: 4 x 10 bits", timeout_us(0x03), 20);
    keep_timeout("uart timeout 8E1: 4 x 11 bits (parity bit)", timeout_us(0x1b), 22);
    keep_timeout("uart timeout EPS without PEN: 4 x 10 bits", timeout_us(0x13), 20);
    keep_timeout("uart timeout 8N2: 4 x 11 bits", timeout_us(0x07), 22);
    keep_timeout("uart timeout 5N1.5: 4 x 7.5 bits", timeout_us(0x04), 15);
    keep_timeout("uart timeout 5N1: 4 x 7 bits", timeout_us(0x00), 14);
    keep_timeout("uart timeout 7O1: 4 x 10 bits", timeout_us(0x0a), 20);

    /* An RBR read restarts the timer: two bytes, one read after ~200 us,
     * the timeout comes 4 characters after the read. */
    set_divisor(1, 0x03);
    fifo(3);
    outb(IER, 0x01);
    outb(COM, 0x11);
    outb(COM, 0x22);
    uint32_t t0 = (uint32_t)rdtsc();
    while (us_since(t0) < 200)
        ;
    keep_eq("uart timeout: first byte read", inb(RBR), 0x11);
    t0 = (uint32_t)rdtsc();
    uint32_t us = 0;
    for (unsigned i = 0; i < 4000; i++) {
        if ((inb(IIR) & 0x0f) == 0x0c) {
            us = us_since(t0);
            break;
        }
    }
    keep_timeout("uart timeout restarts on an RBR read", us, 20);
    drain();
    outb(IER, 0x00);
}

static void test_overrun(void)
{
    set_divisor(1, 0x03);
    fifo(3);
    outb(IER, 0x05); /* ERBFI | ELSI */
    for (unsigned k = 0; k < 17; k++)
        outb(COM, (uint8_t)(0x30 + k));
    keep_eq("uart FIFO overrun: line status interrupt first (IIR)", inb(IIR), 0xc6);
    keep_eq("uart FIFO overrun: LSR OE|DR", inb(LSR), 0x63);
    keep_eq("uart LSR read clears OE", inb(LSR), 0x61);
    keep_eq("uart after the line status: RX data at trigger (IIR)", inb(IIR), 0xc4);
    bool ok = true;
    for (unsigned k = 0; k < 16; k++)
        if (inb(RBR) != 0x30 + k)
            ok = false;
    keep("uart FIFO overrun: the 16 first bytes kept, the 17th lost", ok && !(inb(LSR) & 1), 0, 0);
    outb(IER, 0x00);

    /* 16450 mode: one holding register, a new byte overwrites the old. */
    outb(FCR, 0x00);
    outb(COM, 0xa1);
    outb(COM, 0xa2);
    keep_eq("uart 16450 mode overrun: LSR OE|DR, no FIFO error bit", inb(LSR), 0x63);
    keep_eq("uart 16450 mode overrun: the newer byte", inb(RBR), 0xa2);
    keep_eq("uart 16450 mode: IIR without FIFO bits", inb(IIR), 0x01);
    outb(LCR, 0x43); /* break in 16450 mode: BI|FE, no FIFO error bit */
    outb(LCR, 0x03);
    keep_eq("uart 16450 mode break: LSR BI|FE|DR without bit 7", inb(LSR), 0x79);
    (void)inb(RBR);
    outb(COM, 0xa3);
    outb(FCR, 0x01); /* FIFO enable alone (no RX reset bit) empties the receiver */
    keep_eq("uart FIFO enable empties the 16450 holding register", inb(LSR) & 1, 0);

    /* FCR bit 0 change empties the FIFOs. */
    fifo(0);
    outb(COM, 1);
    outb(COM, 2);
    outb(FCR, 0x00);
    keep_eq("uart FIFO disable empties the receiver", inb(LSR) & 1, 0);
    fifo(0);
    outb(COM, 3);
    outb(FCR, 0x03); /* RX reset */
    keep_eq("uart FCR RX reset empties the receiver", inb(LSR) & 1, 0);
}

static void test_break(void)
{
    set_divisor(1, 0x03);
    fifo(3);
    outb(COM, 0x77);
    outb(LCR, 0x43); /* break */
    outb(LCR, 0x03);
    keep_eq("uart break behind a good byte: LSR DR + FIFO error bit only", inb(LSR), 0xe1);
    keep_eq("uart good byte first", inb(RBR), 0x77);
    keep_eq("uart break at the top: LSR BI|FE|DR|FIFO error", inb(LSR), 0xf9);
    keep_eq("uart break byte is 0", inb(RBR), 0x00);
    keep_eq("uart LSR after the break byte", inb(LSR), 0x60);
}

static uint8_t msr_lines(uint8_t mcr)
{
    return (uint8_t)(((mcr & 1) << 5) | ((mcr & 2) << 3) | ((mcr & 4) << 4) | ((mcr & 8) << 4));
}

static void test_msr(void)
{
    static const uint8_t seq[] = {0x10, 0x11, 0x13, 0x17, 0x1f, 0x1b, 0x19, 0x18, 0x10, 0x14, 0x10};
    static const char *const name = "uart loopback MSR after an MCR write";
    static const char *const name2 = "uart loopback MSR read again: deltas cleared, lines kept";
    outb(MCR, 0x10);
    (void)inb(MSR);
    uint8_t prev = 0;
    for (unsigned i = 0; i < sizeof seq; i++) {
        outb(MCR, seq[i]);
        uint8_t now = msr_lines(seq[i]);
        uint8_t d =
            (uint8_t)(((prev ^ now) & 0x10 ? 1 : 0) | ((prev ^ now) & 0x20 ? 2 : 0) |
                      ((prev & 0x40) && !(now & 0x40) ? 4 : 0) | ((prev ^ now) & 0x80 ? 8 : 0));
        keep_eq(name, (uint32_t)seq[i] << 8 | inb(MSR), (uint32_t)seq[i] << 8 | (now | d));
        keep_eq(name2, (uint32_t)seq[i] << 8 | inb(MSR), (uint32_t)seq[i] << 8 | now);
        prev = now;
    }
    outb(MCR, 0xff);
    keep_eq("uart MCR bits 7-5 read 0", inb(MCR), 0x1f);
    /* Modem status interrupt from the delta bits only. */
    outb(MCR, 0x1b);
    (void)inb(MSR);
    outb(IER, 0x08);
    keep_eq("uart EDSSI with lines high, no delta: no interrupt", inb(IIR), 0xc1);
    outb(MCR, 0x1a);
    keep_eq("uart DDSR: modem status interrupt (IIR 0)", inb(IIR), 0xc0);
    (void)inb(MSR);
    keep_eq("uart MSR read clears the modem status interrupt", inb(IIR), 0xc1);
    outb(IER, 0x00);
}

static void test_iir_priority(void)
{
    set_divisor(1, 0x03);
    fifo(0);
    outb(MCR, 0x18); /* loop + OUT2: the IRQ stays off in loopback */
    outb(IER, 0x07);
    keep_eq("uart ETBEI 0->1: THRE interrupt (IIR 2)", inb(IIR), 0xc2);
    keep_eq("uart IIR read cleared THRE", inb(IIR), 0xc1);
    outb(IER, 0x07);
    keep_eq("uart IER rewrite with ETBEI set: no new THRE", inb(IIR), 0xc1);
    outb(COM, 0x5a); /* THR empty again + one RX byte */
    keep_eq("uart RX data outranks THRE (IIR 4)", inb(IIR), 0xc4);
    outb(0x20, 0x0a);
    keep_eq("uart loopback: no IRQ4 at the PIC (IRR)", inb(0x20) & 0x10, 0);
    (void)inb(RBR);
    keep_eq("uart THRE still pending after an RX report", inb(IIR), 0xc2);
    keep_eq("uart then nothing", inb(IIR), 0xc1);
    outb(MCR, 0x1b);
    outb(MCR, 0x1a); /* DDSR */
    outb(COM, 0x5b);
    outb(IER, 0x0f);
    (void)inb(RBR);
    keep_eq("uart THRE outranks modem status", inb(IIR), 0xc2);
    keep_eq("uart modem status last", inb(IIR), 0xc0);
    (void)inb(MSR);
    outb(IER, 0x00);
}

/* ---- THRE interrupt on IRQ4, out of loopback ---------------------------- */

static volatile unsigned irq4_n;
static volatile uint8_t irq4_iir;
GUEST_ISR(irq4_stub, irq4_fn);
void irq4_fn(void)
{
    irq4_iir = inb(IIR);
    irq4_n++;
    outb(IER, 0x00);
    outb(0x20, 0x20);
}

static void test_irq4(void)
{
    set_ivt(0x24, irq4_stub);
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0xa1, 0xff);
    outb(0x21, 0xef);
    outb(MCR, 0x0b);
    outb(IER, 0x02);
    sti();
    for (unsigned i = 0; i < 100 && !irq4_n; i++)
        (void)inb(0x80);
    cli();
    check_eq("uart THRE interrupt taken on IRQ4 (IIR in the handler)", irq4_iir, 0xc2);
    check_eq("uart one THRE interrupt", irq4_n, 1);
    outb(0x21, 0xff);
}

void guest_main(void)
{
    hz = tsc_hz();
    set_divisor(1, 0x03);
    outb(MCR, LOOP);
    test_trigger_levels();
    test_timeouts();
    test_overrun();
    test_break();
    test_msr();
    test_iir_priority();
    outb(MCR, 0x00);
    outb(IER, 0x00);
    set_divisor(1, 0x03);
    fifo(0);
    flush();
    test_irq4();
}
