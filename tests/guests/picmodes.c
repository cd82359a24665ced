/* The 8259A pair through the hypervisor, datasheet behaviour by behaviour
 * (Intel 8259A datasheet 231468). Interrupt sources the guest controls:
 * IRQ1 and IRQ12 from the i8042 (commands 0xD2/0xD3 fill the output buffer,
 * reading port 0x60 drops the line), IRQ4 from the 16550A (THRE interrupt:
 * IER write raises it, IIR read drops it), IRQ0 from PIT channel 0 in mode 0
 * (high at terminal count, a control word drops it), IRQ8 from the RTC
 * (periodic flag, register C read drops it). Observed by IRR/ISR/IMR reads,
 * poll commands and interrupts taken (vector and ISRs recorded in the
 * handler): ICW1 resets, single mode, IRR/ISR read select, poll, fully nested
 * priority (same level blocked), specific/non-specific EOI, rotate on EOI,
 * set priority, automatic EOI with and without rotation, special mask mode,
 * special fully nested mode, edge vs level (ELCR, ICW1 LTIM), a request
 * withdrawn before the acknowledge, and the spurious IRQ15. */
#include "guest.h"

/* ---- interrupt sources ------------------------------------------------ */

static void kbc_cmd(uint8_t c)
{
    outb(0x64, c);
}

/* IRQ1 (aux = false) or IRQ12 (aux) up: a byte in the output buffer. */
static void kbc_raise(bool aux)
{
    kbc_cmd(aux ? 0xd3 : 0xd2);
    outb(0x60, 0x5a);
}

/* Reading the byte drops IRQ1/IRQ12. */
static void kbc_lower(void)
{
    (void)inb(0x60);
}

static void uart_raise(void)
{
    outb(0x3f9, 0x00);
    outb(0x3f9, 0x02); /* ETBEI 0->1: THRE interrupt pending */
}

static void uart_lower(void)
{
    outb(0x3f9, 0x00);
}

static void pit_raise(void)
{
    outb(0x43, 0x30);
    outb(0x40, 2);
    outb(0x40, 0);
    for (unsigned i = 0; i < 20; i++) /* OUT0 rises after 3 clocks */
        (void)inb(0x80);
}

static void pit_lower(void)
{
    outb(0x43, 0x30); /* mode 0 control word: OUT low */
}

/* Waits for the periodic flag without reading register C (which would
 * clear it): register A/B reads only, then a pause. */
static void rtc_arm(void)
{
    outb(0x70, 0x0c);
    (void)inb(0x71);
    outb(0x70, 0x0a);
    outb(0x71, 0x23);
    outb(0x70, 0x0b);
    outb(0x71, 0x42);
    for (unsigned i = 0; i < 200; i++)
        (void)inb(0x80);
}

static void rtc_lower(void)
{
    outb(0x70, 0x0b);
    outb(0x71, 0x02);
    outb(0x70, 0x0c);
    (void)inb(0x71);
}

/* ---- PIC helpers ------------------------------------------------------ */

static void init_master(uint8_t icw1, uint8_t icw4)
{
    outb(0x20, icw1);
    outb(0x21, 0x20);
    if (!(icw1 & 0x02))
        outb(0x21, 0x04);
    if (icw1 & 0x01)
        outb(0x21, icw4);
}

static void init_slave(uint8_t icw4)
{
    outb(0xa0, 0x11);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, icw4);
}

static uint8_t irr(uint16_t cmd)
{
    outb(cmd, 0x0a);
    return inb(cmd);
}

static uint8_t isr(uint16_t cmd)
{
    outb(cmd, 0x0b);
    uint8_t v = inb(cmd);
    outb(cmd, 0x0a);
    return v;
}

static uint8_t poll(uint16_t cmd)
{
    outb(cmd, 0x0c);
    return inb(cmd);
}

/* ---- interrupt log ----------------------------------------------------- */

#define LOGN 16
static volatile unsigned nlog;
static volatile uint8_t log_vec[LOGN], log_misr[LOGN], log_sisr[LOGN];
/* What a handler does besides logging, set per test. */
static void (*volatile on_irq)(uint8_t vec);

static void record(uint8_t vec)
{
    unsigned i = nlog;
    if (i < LOGN) {
        log_vec[i] = vec;
        log_misr[i] = isr(0x20);
        log_sisr[i] = isr(0xa0);
    }
    nlog = i + 1;
    if (on_irq)
        on_irq(vec);
}

#define VEC_HANDLER(v)                                                                             \
    GUEST_ISR(stub_##v, fn_##v);                                                                   \
    void fn_##v(void)                                                                              \
    {                                                                                              \
        record(v);                                                                                 \
    }
VEC_HANDLER(0x20)
VEC_HANDLER(0x21)
VEC_HANDLER(0x24)
VEC_HANDLER(0x27)
VEC_HANDLER(0x28)
VEC_HANDLER(0x2c)
VEC_HANDLER(0x2f)

static void log_reset(void (*fn)(uint8_t))
{
    nlog = 0;
    on_irq = fn;
}

/* Lets pending interrupts in for a short while. */
static void window(void)
{
    sti();
    for (unsigned i = 0; i < 50; i++)
        (void)inb(0x80);
    cli();
}

static uint32_t log_word(unsigned i)
{
    return (uint32_t)log_vec[i] << 16 | (uint32_t)log_misr[i] << 8 | log_sisr[i];
}

static void std_init(void)
{
    init_master(0x11, 0x01);
    init_slave(0x01);
    outb(0x4d0, 0);
    outb(0x4d1, 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_icw1_resets(void)
{
    std_init();
    outb(0x21, 0x5a);
    outb(0x20, 0x0b); /* read ISR */
    outb(0x20, 0x68); /* special mask on */
    outb(0x20, 0xc0); /* IR0 lowest */
    outb(0x20, 0x11); /* ICW1 */
    check_eq("pic ICW1 clears the IMR (read during init)", inb(0x21), 0x00);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    kbc_raise(false);
    check_eq("pic ICW1 selects IRR for reads", inb(0x20), 0x02);
    outb(0x20, 0x08); /* OCW3 without RR: selection unchanged */
    check_eq("pic OCW3 without RR keeps the IRR selection", inb(0x20), 0x02);
    outb(0x20, 0x0b);
    outb(0x20, 0x08);
    check_eq("pic OCW3 without RR keeps the ISR selection", inb(0x20), 0x00);
    outb(0x20, 0x0a);
    pit_raise();
    check_eq("pic IRR with IRQ0 and IRQ1", irr(0x20), 0x03);
    check_eq("pic ICW1 resets priority: IR0 first (poll)", poll(0x20), 0x80);
    check_eq("pic poll sets the IS bit", isr(0x20), 0x01);
    check_eq("pic poll consumed the request", irr(0x20), 0x02);
    check_eq("pic IR1 waits for IR0 in service (poll 0)", poll(0x20), 0x00);
    check_eq("pic the read after a poll is a normal IRR read", inb(0x20), 0x02);
    /* ICW1 also turned special mask off: IR1 stays blocked by IS0. */
    outb(0x21, 0x01);
    check_eq("pic ICW1 clears special mask mode", poll(0x20), 0x00);
    outb(0x21, 0x00);
    outb(0x20, 0x20); /* non-specific EOI */
    check_eq("pic after EOI IR1 polls", poll(0x20), 0x81);
    outb(0x20, 0x61);
    check_eq("pic specific EOI clears IS1", isr(0x20), 0x00);
    kbc_lower();
    pit_lower();
}

static void test_single_mode(void)
{
    init_master(0x13, 0x01); /* single, ICW4: ICW2 then ICW4, no ICW3 */
    check_eq("pic single mode: IMR clear after ICW2/ICW4", inb(0x21), 0x00);
    outb(0x21, 0xab);
    check_eq("pic single mode: OCW1 after init", inb(0x21), 0xab);
    init_master(0x12, 0); /* single, no ICW4 */
    outb(0x21, 0x3c);
    check_eq("pic single mode without ICW4: OCW1 right after ICW2", inb(0x21), 0x3c);
    std_init();
}

static void test_edge_withdrawn(void)
{
    std_init();
    kbc_raise(false);
    check_eq("pic edge IRQ1 latched in IRR", irr(0x20), 0x02);
    kbc_lower();
    check_eq("pic edge request withdrawn before INTA leaves IRR", irr(0x20), 0x00);
    log_reset(0);
    window();
    check_eq("pic withdrawn request: no interrupt", nlog, 0);
    /* Level-high input: no new request until it falls and rises again. */
    kbc_raise(false);
    check_eq("pic poll IRQ1", poll(0x20), 0x81);
    outb(0x20, 0x20);
    check_eq("pic edge: a high input does not request again", irr(0x20), 0x00);
    kbc_lower();
}

/* Fully nested: IR1 in service blocks IR1 and IR4, not IR0. */
static void nested_irq(uint8_t vec)
{
    if (vec == 0x21 && nlog == 1) {
        kbc_lower();
        kbc_raise(false); /* same level again */
        uart_raise();     /* lower level */
        sti();
        for (unsigned i = 0; i < 30; i++)
            (void)inb(0x80);
        pit_raise(); /* higher level: nests */
        for (unsigned i = 0; i < 30; i++)
            (void)inb(0x80);
        cli();
        outb(0x20, 0x61); /* specific EOI for IR1 */
    } else if (vec == 0x20) {
        pit_lower();
        outb(0x20, 0x20);
    } else if (vec == 0x21) {
        kbc_lower();
        outb(0x20, 0x20);
    } else if (vec == 0x24) {
        uart_lower();
        outb(0x20, 0x20);
    }
}

static void test_fully_nested(void)
{
    std_init();
    outb(0x3fc, 0x08); /* OUT2: UART IRQ line enabled */
    log_reset(nested_irq);
    kbc_raise(false);
    window();
    check_eq("pic fully nested: 4 interrupts", nlog, 4);
    check_eq("pic fully nested: IR1 first", log_word(0), 0x210200);
    check_eq("pic fully nested: IR0 nests in IR1", log_word(1), 0x200300);
    check_eq("pic fully nested: IR1 again after its EOI", log_word(2), 0x210200);
    check_eq("pic fully nested: IR4 last", log_word(3), 0x241000);
    log_reset(0);
}

static void test_rotation(void)
{
    std_init();
    kbc_raise(false);
    uart_raise();
    check_eq("pic rotation: IRR 1 and 4", irr(0x20), 0x12);
    check_eq("pic rotation: IR1 first", poll(0x20), 0x81);
    outb(0x20, 0xa0); /* rotate on non-specific EOI: IR1 lowest */
    kbc_lower();
    kbc_raise(false);
    check_eq("pic rotate on non-specific EOI: IR4 before IR1", poll(0x20), 0x84);
    outb(0x20, 0x20);
    check_eq("pic rotate on non-specific EOI: then IR1", poll(0x20), 0x81);
    outb(0x20, 0x61); /* specific EOI: no rotation */
    uart_lower();
    uart_raise();
    kbc_lower();
    kbc_raise(false);
    check_eq("pic specific EOI does not rotate: IR4 still first", poll(0x20), 0x84);
    outb(0x20, 0xe4); /* rotate on specific EOI 4: IR4 lowest, IR5 highest */
    uart_lower();
    uart_raise();
    check_eq("pic rotate on specific EOI 4: IR1 first", poll(0x20), 0x81);
    outb(0x20, 0x20);
    outb(0x20, 0xc0); /* set priority: IR0 lowest, IR1 highest */
    check_eq("pic set priority IR0 lowest: IR4 after IR1 (IS clear)", isr(0x20), 0x00);
    pit_raise();
    check_eq("pic set priority IR0 lowest: IR4 before IR0", poll(0x20), 0x84);
    outb(0x20, 0x20);
    check_eq("pic set priority IR0 lowest: IR0 last", poll(0x20), 0x80);
    outb(0x20, 0x20);
    outb(0x20, 0xc7); /* back to IR7 lowest */
    uart_lower();
    kbc_lower();
    pit_lower();
}

static void test_aeoi(void)
{
    init_master(0x11, 0x03); /* AEOI */
    init_slave(0x01);
    kbc_raise(false);
    uart_raise();
    check_eq("pic AEOI poll IR1", poll(0x20), 0x81);
    check_eq("pic AEOI: no IS bit after the acknowledge", isr(0x20), 0x00);
    outb(0x20, 0x80); /* rotate in AEOI mode: set */
    kbc_lower();
    kbc_raise(false);
    check_eq("pic AEOI rotation set: IR1 first (IR7 was lowest)", poll(0x20), 0x81);
    kbc_lower();
    kbc_raise(false);
    check_eq("pic AEOI with rotation: IR1 acknowledged, becomes lowest", irr(0x20), 0x12);
    check_eq("pic AEOI rotation: IR4 before IR1", poll(0x20), 0x84);
    log_reset(0);
    uart_lower();
    window();
    check_eq("pic AEOI interrupt IR1, no IS bit in the handler", log_word(0), 0x210000);
    outb(0x20, 0x00); /* rotate in AEOI: clear */
    kbc_lower();
    std_init();
}

static void test_special_mask(void)
{
    std_init();
    kbc_raise(false);
    check_eq("pic SMM: IR1 in service", poll(0x20), 0x81);
    uart_raise();
    check_eq("pic SMM off: IR4 blocked by IS1", poll(0x20), 0x00);
    outb(0x20, 0x28); /* SMM bit without ESMM: ignored */
    outb(0x21, 0x02); /* mask IR1 */
    check_eq("pic OCW3 SMM without ESMM is ignored", poll(0x20), 0x00);
    outb(0x20, 0x68); /* ESMM|SMM */
    check_eq("pic SMM: IR4 passes IS1 (masked)", poll(0x20), 0x84);
    check_eq("pic SMM: IS 1 and 4", isr(0x20), 0x12);
    outb(0x20, 0x20); /* non-specific EOI: skips masked IS1 */
    check_eq("pic SMM non-specific EOI skips the masked IS bit", isr(0x20), 0x02);
    outb(0x20, 0x48); /* SMM off */
    outb(0x21, 0x00);
    outb(0x20, 0x20);
    check_eq("pic ISR empty after the second EOI", isr(0x20), 0x00);
    uart_lower();
    kbc_lower();
}

/* SFNM: IRQ12 in service (master IS2); IRQ8 on the same slave with higher
 * priority nests, IRQ4 on the master (below IR2) must wait. */
static void sfnm_irq(uint8_t vec)
{
    if (vec == 0x2c && nlog == 1) {
        uart_raise();
        rtc_arm();
        sti();
        for (unsigned i = 0; i < 300; i++)
            (void)inb(0x80);
        cli();
        kbc_lower();
        outb(0xa0, 0x20);
        if (isr(0xa0) == 0)
            outb(0x20, 0x20);
    } else if (vec == 0x28) {
        rtc_lower();
        outb(0xa0, 0x20);
        if (isr(0xa0) == 0)
            outb(0x20, 0x20);
    } else if (vec == 0x24) {
        uart_lower();
        outb(0x20, 0x20);
    }
}

static void test_sfnm(bool sfnm)
{
    init_master(0x11, sfnm ? 0x11 : 0x01);
    init_slave(0x01);
    outb(0x3fc, 0x08);
    log_reset(sfnm_irq);
    kbc_raise(true); /* IRQ12 */
    window();
    if (sfnm) {
        check_eq("pic SFNM: 3 interrupts", nlog, 3);
        check_eq("pic SFNM: IRQ12 first (master IS2, slave IS4)", log_word(0), 0x2c0410);
        check_eq("pic SFNM: IRQ8 nests in IRQ12", log_word(1), 0x280411);
        check_eq("pic SFNM: IRQ4 only after IRQ12 ends", log_word(2), 0x241000);
    } else {
        check_eq("pic no SFNM: 3 interrupts", nlog, 3);
        check_eq("pic no SFNM: IRQ12 first", log_word(0), 0x2c0410);
        check_eq("pic no SFNM: IRQ8 waits for the master EOI", log_word(1), 0x280401);
        check_eq("pic no SFNM: IRQ4 last", log_word(2), 0x241000);
    }
    log_reset(0);
    rtc_lower();
}

static void test_level(void)
{
    std_init();
    outb(0x4d0, 0xff);
    outb(0x4d1, 0xff);
    check_eq("pic ELCR1 IRQ0/1/2 stay edge", inb(0x4d0), 0xf8);
    check_eq("pic ELCR2 IRQ8/13 stay edge", inb(0x4d1), 0xde);
    outb(0x4d0, 0x10); /* IRQ4 level */
    outb(0x4d1, 0x00);
    uart_raise();
    check_eq("pic level IRQ4: poll", poll(0x20), 0x84);
    outb(0x20, 0x20);
    check_eq("pic level IRQ4: requests again while high", irr(0x20), 0x10);
    uart_lower();
    check_eq("pic level IRQ4: IRR follows the line", irr(0x20), 0x00);
    outb(0x4d0, 0x00);
    uart_raise();
    check_eq("pic edge IRQ4: poll", poll(0x20), 0x84);
    outb(0x20, 0x20);
    check_eq("pic edge IRQ4: no new request while high", irr(0x20), 0x00);
    uart_lower();
    /* ICW1 LTIM: every input level triggered (IRQ1 here). */
    init_master(0x19, 0x01);
    kbc_raise(false);
    check_eq("pic LTIM IRQ1: poll", poll(0x20), 0x81);
    outb(0x20, 0x20);
    check_eq("pic LTIM IRQ1: requests again while high", irr(0x20), 0x02);
    kbc_lower();
    check_eq("pic LTIM IRQ1: IRR follows the line", irr(0x20), 0x00);
    std_init();
}

/* A slave request withdrawn after it reached the master: the INTA gets the
 * slave's IR7 (vector 0x2f) with IS2 set on the master only. */
static void spurious_irq(uint8_t vec)
{
    if (vec == 0x2f)
        outb(0x20, 0x20); /* master EOI only */
}

static void test_spurious(void)
{
    std_init();
    log_reset(spurious_irq);
    kbc_raise(true);
    check_eq("pic IRQ12 reaches master IR2", irr(0x20), 0x04);
    kbc_lower();
    check_eq("pic IRQ12 withdrawn: slave IRR clear", irr(0xa0), 0x00);
    check_eq("pic master IR2 stays latched", irr(0x20), 0x04);
    window();
    check_eq("pic spurious IRQ15: one interrupt", nlog, 1);
    check_eq("pic spurious IRQ15: vector 0x2f, master IS2, slave IS empty", log_word(0), 0x2f0400);
    /* After the acknowledge the slave's INT is low again: a new request
     * makes a new edge on IR2. */
    log_reset(0);
    kbc_raise(true);
    window();
    check_eq("pic new IRQ12 after the spurious one", log_word(0), 0x2c0410);
    kbc_lower();
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    /* Two slave requests through one cascade: IRQ8 then IRQ12. */
    log_reset(0);
    rtc_arm();
    kbc_raise(true);
    check_eq("pic slave IRR 8 and 12", irr(0xa0), 0x11);
    window();
    check_eq("pic IRQ8 before IRQ12", log_word(0), 0x280401);
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    rtc_lower();
    log_reset(0);
    window();
    check_eq("pic IRQ12 after the EOIs: a new cascade edge", log_word(0), 0x2c0410);
    kbc_lower();
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    /* Slave in AEOI: after IRQ8's acknowledge the slave still requests
     * IRQ12; its INT drops during the INTA and rises again, a new edge that
     * master IR2 latches and delivers after the master's EOI. */
    init_slave(0x03);
    log_reset(0);
    rtc_arm();
    kbc_raise(true);
    window();
    check_eq("pic slave AEOI: IRQ8, no slave IS bit", log_word(0), 0x280400);
    check_eq("pic slave AEOI: IRQ12 waits for the master EOI", nlog, 1);
    outb(0x20, 0x20);
    window();
    check_eq("pic slave AEOI: IRQ12 on the re-latched cascade", log_word(1), 0x2c0400);
    kbc_lower();
    rtc_lower();
    outb(0x20, 0x20);
    init_slave(0x01);
}

void guest_main(void)
{
    set_ivt(0x20, stub_0x20);
    set_ivt(0x21, stub_0x21);
    set_ivt(0x24, stub_0x24);
    set_ivt(0x27, stub_0x27);
    set_ivt(0x28, stub_0x28);
    set_ivt(0x2c, stub_0x2c);
    set_ivt(0x2f, stub_0x2f);
    kbc_cmd(0x60);
    outb(0x60, 0x03);  /* CTR: keyboard and aux interrupts on */
    outb(0x3fc, 0x08); /* UART MCR OUT2: IRQ4 driven */
    test_icw1_resets();
    test_single_mode();
    test_edge_withdrawn();
    test_fully_nested();
    test_rotation();
    test_aeoi();
    test_special_mask();
    test_sfnm(true);
    test_sfnm(false);
    test_level();
    test_spurious();
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    if (n_fail)
        info("pic: failures ", n_fail);
}
