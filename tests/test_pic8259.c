/* 8259A PIC pair + ELCR: datasheet behaviour and the exact port sequences
 * Linux 6.1 (arch/x86/kernel/i8259.c) and DOS-era code send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/pic8259.h"
#include "hv/devs/vm_devices.h"

/* ---- harness ---------------------------------------------------------- */

#define MAX_EDGES 64

struct rec {
    unsigned calls;
    bool level[MAX_EDGES];
};

static void rec_set(void *ctx, unsigned line, bool level)
{
    struct rec *r = ctx;
    assert_int_equal(line, 0);
    assert_true(r->calls < MAX_EDGES);
    r->level[r->calls++] = level;
}

struct env {
    struct pic_pair pic;
    struct rec rec;
    uint16_t cached_mask; /* Linux's cached_irq_mask */
};

static void env_init(struct env *e)
{
    memset(e, 0, sizeof(*e));
    const struct irq_sink sink = {rec_set, &e->rec};
    pic_init(&e->pic, &sink);
    e->cached_mask = 0xffff;
}

static void out(struct pic_pair *p, uint16_t port, uint8_t v)
{
    uint32_t x = v;
    assert_int_equal(pic_io(p, port, 1, true, &x, 0), DEV_IO_OK);
}

static uint8_t in(struct pic_pair *p, uint16_t port)
{
    uint32_t x = 0xdeadbeef;
    assert_int_equal(pic_io(p, port, 1, false, &x, 0), DEV_IO_OK);
    assert_true(x <= 0xff);
    return (uint8_t)x;
}

static uint8_t read_isr(struct pic_pair *p, uint16_t cmd)
{
    out(p, cmd, 0x0b);
    uint8_t v = in(p, cmd);
    out(p, cmd, 0x0a);
    return v;
}

static uint8_t read_irr(struct pic_pair *p, uint16_t cmd)
{
    out(p, cmd, 0x0a);
    return in(p, cmd);
}

static void raise(struct env *e, unsigned irq)
{
    pic_set_irq(&e->pic, irq, true);
}

static void lower(struct env *e, unsigned irq)
{
    pic_set_irq(&e->pic, irq, false);
}

static void pulse(struct env *e, unsigned irq)
{
    lower(e, irq);
    raise(e, irq);
}

/* Linux 6.1 probe_8259A() then init_8259A(auto_eoi), then the cached masks
 * restored as init_8259A does (everything masked except the cascade). */
static void linux_probe_and_init(struct env *e, bool auto_eoi)
{
    struct pic_pair *p = &e->pic;
    out(p, 0xa1, 0xff);
    out(p, 0x21, 0xfb);
    assert_int_equal(in(p, 0x21), 0xfb);
    out(p, 0x21, 0xff);
    out(p, 0x20, 0x11);
    out(p, 0x21, 0x30);
    out(p, 0x21, 0x04);
    out(p, 0x21, auto_eoi ? 0x03 : 0x01);
    out(p, 0xa0, 0x11);
    out(p, 0xa1, 0x38);
    out(p, 0xa1, 0x02);
    out(p, 0xa1, 0x01);
    e->cached_mask = 0xfffb;
    out(p, 0x21, (uint8_t)e->cached_mask);
    out(p, 0xa1, (uint8_t)(e->cached_mask >> 8));
}

/* unmask_8259A_irq() */
static void linux_unmask(struct env *e, unsigned irq)
{
    e->cached_mask &= (uint16_t) ~(1u << irq);
    if (irq & 8)
        out(&e->pic, 0xa1, (uint8_t)(e->cached_mask >> 8));
    else
        out(&e->pic, 0x21, (uint8_t)e->cached_mask);
}

/* mask_and_ack_8259A(), including its spurious-IRQ check. Returns whether
 * the 8259A reported the IRQ as really in service. */
static bool linux_mask_and_ack(struct env *e, unsigned irq)
{
    struct pic_pair *p = &e->pic;
    uint16_t bit = (uint16_t)(1u << irq);
    bool real = true;
    if (e->cached_mask & bit) {
        uint16_t cmd = irq < 8 ? 0x20 : 0xa0;
        out(p, cmd, 0x0b);
        real = (in(p, cmd) & (bit >> (irq & 8))) != 0;
        out(p, cmd, 0x0a);
    }
    e->cached_mask |= bit;
    if (irq & 8) {
        in(p, 0xa1);
        out(p, 0xa1, (uint8_t)(e->cached_mask >> 8));
        out(p, 0xa0, (uint8_t)(0x60 + (irq & 7)));
        out(p, 0x20, 0x62);
    } else {
        in(p, 0x21);
        out(p, 0x21, (uint8_t)e->cached_mask);
        out(p, 0x20, (uint8_t)(0x60 + irq));
    }
    return real;
}

/* DOS/BIOS-style init: vectors 0x08 and 0x70, normal EOI. */
static void bios_init(struct env *e, uint8_t master_icw4, uint8_t slave_icw4)
{
    struct pic_pair *p = &e->pic;
    out(p, 0x20, 0x11);
    out(p, 0x21, 0x08);
    out(p, 0x21, 0x04);
    out(p, 0x21, master_icw4);
    out(p, 0xa0, 0x11);
    out(p, 0xa1, 0x70);
    out(p, 0xa1, 0x02);
    out(p, 0xa1, slave_icw4);
    out(p, 0x21, 0x00);
    out(p, 0xa1, 0x00);
}

static size_t save_blob(const struct pic_pair *p, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    pic_save(p, &s);
    assert_false(s.err);
    return sv_len(&s);
}

static int restore_blob(struct pic_pair *p, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return pic_restore(p, &s);
}

/* ---- power-on, probe, init -------------------------------------------- */

static void test_power_on_state(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    assert_int_equal(in(&e.pic, 0x21), 0xff);
    assert_int_equal(in(&e.pic, 0xa1), 0xff);
    assert_int_equal(in(&e.pic, 0x20), 0x00);
    assert_int_equal(in(&e.pic, 0xa0), 0x00);
    assert_int_equal(in(&e.pic, 0x4d0), 0x00);
    assert_int_equal(in(&e.pic, 0x4d1), 0x00);
    raise(&e, 0);
    assert_int_equal(in(&e.pic, 0x20), 0x01); /* IRR sees masked requests */
    assert_false(pic_intr(&e.pic));
    assert_int_equal(e.rec.calls, 0);
}

static void test_linux_probe_reads_back_probe_value(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    out(&e.pic, 0xa1, 0xff);
    out(&e.pic, 0x21, 0xfb); /* ~(1 << PIC_CASCADE_IR) */
    assert_int_equal(in(&e.pic, 0x21), 0xfb);
    assert_int_equal(in(&e.pic, 0xa1), 0xff);
}

static void test_linux_init_vectors(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    linux_probe_and_init(&e, false);
    assert_int_equal(in(&e.pic, 0x21), 0xfb);
    assert_int_equal(in(&e.pic, 0xa1), 0xff);
    linux_unmask(&e, 0);
    raise(&e, 0);
    assert_true(pic_intr(&e.pic));
    assert_int_equal(pic_ack(&e.pic), 0x30); /* ISA_IRQ_VECTOR(0) */
    assert_int_equal(read_isr(&e.pic, 0x20), 0x01);
    assert_true(linux_mask_and_ack(&e, 0));
    linux_unmask(&e, 8);
    raise(&e, 8);
    assert_true(pic_intr(&e.pic));
    assert_int_equal(pic_ack(&e.pic), 0x38); /* ISA_IRQ_VECTOR(8) */
    assert_int_equal(read_isr(&e.pic, 0x20), 0x04);
    assert_int_equal(read_isr(&e.pic, 0xa0), 0x01);
}

static void test_icw1_resets_state(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0xe7);
    raise(&e, 3);
    assert_int_equal(pic_ack(p), 0x33);
    raise(&e, 4);       /* IRR bit 4: a latched edge */
    out(p, 0x20, 0xc4); /* IR4 lowest: IR5 highest */
    out(p, 0x20, 0x0b); /* read ISR */
    out(p, 0x20, 0x68); /* special mask on */
    out(p, 0x20, 0x11);
    assert_int_equal(in(p, 0x21), 0x00); /* IMR cleared */
    out(p, 0x21, 0x30);
    out(p, 0x21, 0x04);
    out(p, 0x21, 0x01);
    /* Edge sense reset: IR3 and IR4 are still high but not requesting;
     * ISR cleared. */
    assert_int_equal(read_irr(p, 0x20), 0x00);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_false(pic_intr(p));
    /* Read select back on IRR. */
    out(p, 0x20, 0x0b);
    out(p, 0x20, 0x11);
    out(p, 0x21, 0x30);
    out(p, 0x21, 0x04);
    out(p, 0x21, 0x01);
    pulse(&e, 6);
    assert_int_equal(pic_ack(p), 0x36);
    pulse(&e, 7);
    assert_int_equal(in(p, 0x20), 0x80); /* IRR, not the ISR (0x40) */
    out(p, 0x20, 0x66);
    assert_int_equal(pic_ack(p), 0x37);
    assert_int_equal(read_isr(p, 0x20), 0x80);
    /* IR7 lowest again: IR3 beats IR5. */
    raise(&e, 5);
    pulse(&e, 3);
    assert_int_equal(pic_ack(p), 0x33);
    /* Special mask mode off: IR5 is blocked by IR3 in service even though
     * IR3 is now masked. */
    out(p, 0x21, 0x08);
    assert_false(pic_intr(p));
}

static void test_icw2_low_bits_ignored(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    out(&e.pic, 0x20, 0x11);
    out(&e.pic, 0x21, 0x37);
    out(&e.pic, 0x21, 0x04);
    out(&e.pic, 0x21, 0x01);
    out(&e.pic, 0x21, 0xfd);
    raise(&e, 1);
    assert_int_equal(pic_ack(&e.pic), 0x31);
}

static void test_single_mode_skips_icw3(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    out(p, 0x20, 0x13); /* SNGL, IC4 */
    out(p, 0x21, 0x40); /* ICW2 */
    out(p, 0x21, 0x03); /* ICW4: 8086, AEOI */
    out(p, 0x21, 0xfa); /* OCW1 */
    assert_int_equal(in(p, 0x21), 0xfa);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x40);
    assert_int_equal(read_isr(p, 0x20), 0x00); /* the ICW4 (AEOI) was taken */
    /* Not cascaded: the master answers IR2 itself. */
    out(p, 0xa0, 0x11);
    out(p, 0xa1, 0x38);
    out(p, 0xa1, 0x02);
    out(p, 0xa1, 0x01);
    out(p, 0xa1, 0xfe);
    raise(&e, 8);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x42);
}

static void test_init_without_icw4(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x03, 0x03); /* AEOI first... */
    out(p, 0x20, 0x10);        /* ...then cascade, no ICW4: AEOI off again */
    out(p, 0x21, 0x50);
    out(p, 0x21, 0x04); /* ICW3 */
    out(p, 0x21, 0xfd); /* already OCW1 */
    assert_int_equal(in(p, 0x21), 0xfd);
    raise(&e, 1);
    assert_int_equal(pic_ack(p), 0x51);
    assert_int_equal(read_isr(p, 0x20), 0x02); /* ICW4 functions zero: no AEOI */

    out(p, 0xa0, 0x12); /* single, no ICW4: ICW2 only */
    out(p, 0xa1, 0x60);
    out(p, 0xa1, 0x7f);
    assert_int_equal(in(p, 0xa1), 0x7f);
}

/* ---- triggering --------------------------------------------------------- */

static void test_edge_latches_rising_edge_once(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 3);
    raise(&e, 3);
    assert_int_equal(read_irr(p, 0x20), 0x08);
    assert_int_equal(pic_ack(p), 0x33);
    assert_int_equal(read_irr(p, 0x20), 0x00); /* request consumed */
    out(p, 0x20, 0x63);
    assert_false(pic_intr(p)); /* still high, but no new edge */
    lower(&e, 3);
    assert_false(pic_intr(p));
    raise(&e, 3);
    assert_true(pic_intr(p));
}

static void test_edge_withdrawn_gives_default_ir7(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 3);
    raise(&e, 3);
    assert_true(pic_intr(p));
    lower(&e, 3);
    assert_false(pic_intr(p));
    assert_int_equal(read_irr(p, 0x20), 0x00);
    assert_int_equal(pic_ack(p), 0x37);
    assert_int_equal(read_isr(p, 0x20), 0x00); /* default IR7 sets no IS bit */
}

static void test_masked_edge_request_delivered_on_unmask(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    linux_probe_and_init(&e, false);
    raise(&e, 4);
    assert_false(pic_intr(&e.pic));
    assert_int_equal(read_irr(&e.pic, 0x20), 0x10); /* i8259A_irq_pending() */
    linux_unmask(&e, 4);
    assert_true(pic_intr(&e.pic));
    assert_int_equal(pic_ack(&e.pic), 0x34);
}

static void test_level_irr_follows_input(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x4d0, 0x20); /* IRQ5 level */
    linux_unmask(&e, 5);
    raise(&e, 5);
    assert_int_equal(pic_ack(p), 0x35);
    assert_int_equal(read_irr(p, 0x20), 0x20); /* level: IRR still follows the pin */
    assert_false(pic_intr(p));
    out(p, 0x20, 0x65);
    assert_true(pic_intr(p)); /* still high after EOI: interrupts again */
    lower(&e, 5);
    assert_false(pic_intr(p));
    assert_int_equal(read_irr(p, 0x20), 0x00);
}

static void test_level_withdrawn_gives_default_ir7(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x4d0, 0x20);
    linux_unmask(&e, 5);
    raise(&e, 5);
    lower(&e, 5);
    assert_int_equal(pic_ack(p), 0x37);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    /* Linux sees IRQ7, which it has masked: spurious check reads the ISR. */
    assert_false(linux_mask_and_ack(&e, 7));
    assert_int_equal(read_isr(p, 0x20), 0x00);
}

static void test_slave_withdrawn_gives_irq15_with_ir2_in_service(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x4d1, 0x04); /* IRQ10 level */
    linux_unmask(&e, 10);
    raise(&e, 10);
    assert_true(pic_intr(p));
    lower(&e, 10);
    assert_int_equal(read_irr(p, 0xa0), 0x00);
    assert_true(pic_intr(p)); /* the master latched the cascade request */
    assert_int_equal(pic_ack(p), 0x3f);
    assert_int_equal(read_isr(p, 0x20), 0x04);
    assert_int_equal(read_isr(p, 0xa0), 0x00);
    /* Linux: IRQ15 is masked, so it checks the slave ISR, finds it clear,
     * and still sends 0x67 to the slave and 0x62 to the master. */
    assert_false(linux_mask_and_ack(&e, 15));
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_false(pic_intr(p));
}

static void test_slave_edge_withdrawn_gives_irq15(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 10);
    raise(&e, 10); /* edge triggered */
    lower(&e, 10); /* gone before the acknowledge */
    assert_int_equal(read_irr(p, 0xa0), 0x00);
    assert_int_equal(pic_ack(p), 0x3f);
    assert_int_equal(read_isr(p, 0xa0), 0x00);
    assert_int_equal(read_isr(p, 0x20), 0x04);
}

static void test_elcr_change_takes_effect_at_once(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 10);
    linux_unmask(&e, 5);
    raise(&e, 10);
    raise(&e, 5);
    assert_int_equal(pic_ack(p), 0x3a); /* IR2 (the slave) outranks IR5 */
    assert_true(linux_mask_and_ack(&e, 10));
    linux_unmask(&e, 10);
    assert_int_equal(pic_ack(p), 0x35);
    out(p, 0x20, 0x65);
    assert_false(pic_intr(p)); /* both edges consumed, inputs still high */
    out(p, 0x4d1, 0x04);       /* IRQ10 level: the high input requests now */
    assert_int_equal(read_irr(p, 0xa0), 0x04);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x3a);
    assert_true(linux_mask_and_ack(&e, 10)); /* leaves IRQ10 masked */
    out(p, 0x4d0, 0x20);
    assert_int_equal(read_irr(p, 0x20), 0x20);
    out(p, 0x4d0, 0x00); /* back to edge: the request stays latched... */
    assert_int_equal(pic_ack(p), 0x35);
    out(p, 0x20, 0x65);
    assert_false(pic_intr(p)); /* ...and is consumed like an edge */
}

static void test_ltim_makes_all_inputs_level(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    out(p, 0x20, 0x19); /* LTIM */
    out(p, 0x21, 0x30);
    out(p, 0x21, 0x04);
    out(p, 0x21, 0x01);
    out(p, 0x21, 0xfa);
    raise(&e, 0); /* IRQ0 is level here although the ELCR forces it edge */
    assert_int_equal(pic_ack(p), 0x30);
    out(p, 0x20, 0x20);
    assert_true(pic_intr(p));
    assert_int_equal(in(p, 0x4d0), 0x00);
    lower(&e, 0);
    assert_false(pic_intr(p));
}

static void test_elcr_forced_edge_bits(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    out(p, 0x4d0, 0xff);
    out(p, 0x4d1, 0xff);
    assert_int_equal(in(p, 0x4d0), 0xf8); /* IRQ0, 1, 2 edge */
    assert_int_equal(in(p, 0x4d1), 0xde); /* IRQ8, 13 edge */
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 0);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x30);
    out(p, 0x20, 0x60);
    assert_false(pic_intr(p)); /* IRQ0 stayed edge triggered */
}

static void test_bad_sizes_and_unmapped_ports(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    linux_probe_and_init(&e, false);
    uint8_t before[128], after[128];
    size_t n = save_blob(&e.pic, before, sizeof(before));
    static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};
    for (unsigned i = 0; i < 6; i++) {
        for (unsigned size = 2; size <= 4; size += 2) {
            uint32_t v = 0x11;
            assert_int_equal(pic_io(&e.pic, ports[i], size, true, &v, 0), DEV_IO_BADSIZE);
            assert_int_equal(pic_io(&e.pic, ports[i], size, false, &v, 0), DEV_IO_BADSIZE);
        }
    }
    uint32_t v = 0;
    assert_int_equal(pic_io(&e.pic, 0x22, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(pic_io(&e.pic, 0x4d2, 1, true, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(save_blob(&e.pic, after, sizeof(after)), n);
    assert_memory_equal(before, after, n);
}

/* ---- reading status ------------------------------------------------------ */

static void test_ocw3_read_select(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    raise(&e, 1);
    assert_int_equal(pic_ack(p), 0x31);
    raise(&e, 6); /* IRR 0x40, ISR 0x02 */
    out(p, 0x20, 0x0b);
    assert_int_equal(in(p, 0x20), 0x02);
    out(p, 0x20, 0x08); /* RR=0: selection unchanged */
    assert_int_equal(in(p, 0x20), 0x02);
    assert_int_equal(in(p, 0x21), 0x00); /* A0=1 always reads the IMR */
    out(p, 0x20, 0x0a);
    assert_int_equal(in(p, 0x20), 0x40);
}

/* ---- priority ----------------------------------------------------------- */

static void test_fully_nested_higher_preempts(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    raise(&e, 3);
    assert_int_equal(pic_ack(p), 0x33);
    raise(&e, 1);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x31);
    assert_int_equal(read_isr(p, 0x20), 0x0a);
    raise(&e, 5);
    assert_false(pic_intr(p));
    out(p, 0x20, 0x20); /* non-specific EOI: the highest, IR1 */
    assert_int_equal(read_isr(p, 0x20), 0x08);
    assert_false(pic_intr(p));
    out(p, 0x20, 0x20);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x35);
}

static void test_same_level_waits_for_eoi(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 3);
    raise(&e, 3);
    assert_int_equal(pic_ack(p), 0x33);
    pulse(&e, 3);
    assert_int_equal(read_irr(p, 0x20), 0x08);
    assert_false(pic_intr(p));
    out(p, 0x20, 0x63);
    assert_true(pic_intr(p));
}

static void test_specific_eoi_clears_only_that_level(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    raise(&e, 3);
    pic_ack(p);
    raise(&e, 1);
    pic_ack(p);
    out(p, 0x20, 0x63); /* not the highest: still only IR3 goes */
    assert_int_equal(read_isr(p, 0x20), 0x02);
    out(p, 0x20, 0x65); /* EOI of a level not in service: no effect */
    assert_int_equal(read_isr(p, 0x20), 0x02);
}

static void test_rotate_on_nonspecific_eoi(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    raise(&e, 4);
    assert_int_equal(pic_ack(p), 0x34);
    out(p, 0x20, 0xa0); /* IR4 becomes lowest, IR5 highest */
    assert_int_equal(read_isr(p, 0x20), 0x00);
    raise(&e, 0);
    raise(&e, 5);
    assert_int_equal(pic_ack(p), 0x35);
    out(p, 0x20, 0xa0); /* now IR5 lowest, IR6 highest, IR0 next after 7 */
    assert_int_equal(pic_ack(p), 0x30);
    out(p, 0x20, 0xa0); /* IR0 lowest: IR7 now outranks it */
    assert_int_equal(read_isr(p, 0x20), 0x00);
    out(p, 0x20, 0xa0); /* empty ISR: nothing to rotate to */
    pulse(&e, 0);
    raise(&e, 7);
    assert_int_equal(pic_ack(p), 0x37);
    assert_int_equal(read_isr(p, 0x20), 0x80);
}

static void test_rotate_on_specific_eoi(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    raise(&e, 6);
    assert_int_equal(pic_ack(p), 0x36);
    out(p, 0x20, 0xe6); /* EOI IR6 and make it lowest: IR7 highest */
    assert_int_equal(read_isr(p, 0x20), 0x00);
    raise(&e, 0);
    raise(&e, 7);
    assert_int_equal(pic_ack(p), 0x37);
    assert_int_equal(read_isr(p, 0x20), 0x80); /* a real IR7: IS bit set */
}

static void test_set_priority_command(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    out(p, 0x20, 0xc3); /* IR3 lowest, IR4 highest */
    assert_int_equal(read_isr(p, 0x20), 0x00);
    raise(&e, 1);
    raise(&e, 4);
    assert_int_equal(pic_ack(p), 0x34);
    assert_false(pic_intr(p)); /* IR1 ranks below IR4 now */
    raise(&e, 5);
    assert_false(pic_intr(p));
    out(p, 0x20, 0x64);
    assert_int_equal(pic_ack(p), 0x35);
}

static void test_ocw2_noop(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    out(p, 0x21, 0x00);
    raise(&e, 3);
    pic_ack(p);
    out(p, 0x20, 0x40);
    out(p, 0x20, 0x47);
    assert_int_equal(read_isr(p, 0x20), 0x08);
    /* Priority unchanged: IR0 still beats IR1. */
    raise(&e, 1);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x30);
}

static void test_aeoi_mode(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, true); /* master ICW4 = 0x03 */
    linux_unmask(&e, 0);
    linux_unmask(&e, 8);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x30);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    pulse(&e, 0);
    assert_true(pic_intr(p)); /* no EOI needed */
    assert_int_equal(pic_ack(p), 0x30);
    raise(&e, 8);
    assert_int_equal(pic_ack(p), 0x38);
    assert_int_equal(read_isr(p, 0x20), 0x00); /* master: automatic */
    assert_int_equal(read_isr(p, 0xa0), 0x01); /* slave: normal EOI */
}

static void test_rotate_in_aeoi(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x03, 0x01);
    out(p, 0x20, 0x80); /* rotate in AEOI: set */
    raise(&e, 1);
    raise(&e, 3);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x08); /* IR0; now lowest, IR1 highest */
    pulse(&e, 0);
    assert_int_equal(pic_ack(p), 0x09); /* IR1; IR2 highest, IR0 last */
    assert_int_equal(pic_ack(p), 0x0b); /* IR3 before IR0 */
    assert_int_equal(pic_ack(p), 0x08);
    out(p, 0x20, 0x00); /* rotate in AEOI: clear */
    out(p, 0x20, 0xc7); /* IR0 highest again */
    raise(&e, 5);
    pulse(&e, 0);
    assert_int_equal(pic_ack(p), 0x08);
    pulse(&e, 0);
    assert_int_equal(pic_ack(p), 0x08); /* no rotation: IR0 still first */
    assert_int_equal(pic_ack(p), 0x0d);
    /* ICW1 turns rotation in AEOI mode off. */
    out(p, 0x20, 0x80);
    bios_init(&e, 0x03, 0x01);
    pulse(&e, 0);
    pulse(&e, 5);
    assert_int_equal(pic_ack(p), 0x08);
    pulse(&e, 0);
    assert_int_equal(pic_ack(p), 0x08);
}

static void test_dos_bios_init_and_nonspecific_eoi(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x01, 0x01);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x08);
    raise(&e, 1);
    assert_false(pic_intr(p)); /* the keyboard ranks below the timer in service */
    out(p, 0x20, 0x20);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x09);
    out(p, 0x20, 0x20);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    raise(&e, 8);
    assert_int_equal(pic_ack(p), 0x70);
    out(p, 0xa0, 0x20);
    out(p, 0x20, 0x20);
    assert_int_equal(read_isr(p, 0xa0), 0x00);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_false(pic_intr(p));
}

static void test_poll_command(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x01, 0x01);
    raise(&e, 3);
    raise(&e, 5);
    out(p, 0x20, 0x0c);
    assert_int_equal(in(p, 0x20), 0x83);
    assert_int_equal(in(p, 0x20), 0x20); /* poll is one read only: IRR now */
    assert_int_equal(read_isr(p, 0x20), 0x08);
    out(p, 0x20, 0x0c);
    assert_int_equal(in(p, 0x20), 0x00); /* IR5 is below IR3 in service */
    assert_int_equal(read_isr(p, 0x20), 0x08);
    out(p, 0x20, 0x20);
    out(p, 0x20, 0x0c);
    assert_int_equal(in(p, 0x20), 0x85);
    /* The poll answers the next read whatever A0 is ("next RD pulse"). */
    out(p, 0x20, 0x20);
    pulse(&e, 1);
    out(p, 0x20, 0x0c);
    assert_int_equal(in(p, 0x21), 0x81);
    assert_int_equal(in(p, 0x21), 0x00); /* then the IMR again */
    assert_int_equal(read_isr(p, 0x20), 0x02);
}

static void test_icw1_restarts_unfinished_init(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    out(p, 0x20, 0x11);
    out(p, 0x21, 0x08); /* ICW2, then the sequence is abandoned */
    out(p, 0x20, 0x11);
    out(p, 0x21, 0x30);
    out(p, 0x21, 0x04);
    out(p, 0x21, 0x01);
    out(p, 0x21, 0xfe); /* OCW1, not an ICW */
    assert_int_equal(in(p, 0x21), 0xfe);
    raise(&e, 0);
    assert_int_equal(pic_ack(p), 0x30);
}

static void test_poll_cascade(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x01, 0x01);
    raise(&e, 9);
    out(p, 0x20, 0x0c);
    assert_int_equal(in(p, 0x20), 0x82);
    out(p, 0xa0, 0x0c);
    assert_int_equal(in(p, 0xa0), 0x81);
    assert_int_equal(read_isr(p, 0x20), 0x04);
    assert_int_equal(read_isr(p, 0xa0), 0x02);
    assert_false(pic_intr(p));
    out(p, 0xa0, 0x20);
    out(p, 0x20, 0x20);
    assert_false(pic_intr(p)); /* no stale cascade request */
}

static void test_special_mask_mode(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x01, 0x01);
    raise(&e, 3);
    assert_int_equal(pic_ack(p), 0x0b);
    raise(&e, 5);
    assert_false(pic_intr(p));
    out(p, 0x21, 0x08); /* mask own level */
    out(p, 0x20, 0x68); /* SMM on */
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x0d);
    assert_int_equal(read_isr(p, 0x20), 0x28);
    pulse(&e, 5);
    assert_false(pic_intr(p)); /* its own level stays inhibited while in service */
    out(p, 0x20, 0x20);        /* non-specific EOI skips masked IS bit 3 */
    assert_int_equal(read_isr(p, 0x20), 0x08);
    assert_true(pic_intr(p)); /* the second IR5 request */
    assert_int_equal(pic_ack(p), 0x0d);
    out(p, 0x20, 0x65);
    out(p, 0x20, 0x48); /* SMM off */
    raise(&e, 6);
    assert_false(pic_intr(p)); /* IR3 in service blocks again */
    out(p, 0x20, 0x63);
    assert_true(pic_intr(p));
}

static void test_special_fully_nested_mode(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x11, 0x01); /* master SFNM */
    raise(&e, 10);
    assert_int_equal(pic_ack(p), 0x72);
    raise(&e, 11);
    assert_false(pic_intr(p)); /* lower than IR2 of the slave in service */
    raise(&e, 9);
    assert_true(pic_intr(p)); /* higher within the slave gets through */
    assert_int_equal(pic_ack(p), 0x71);
    assert_int_equal(read_isr(p, 0xa0), 0x06);
    assert_int_equal(read_isr(p, 0x20), 0x04);
    /* Datasheet exit sequence: EOI the slave, check its ISR, EOI master
     * only when the slave is empty. */
    out(p, 0xa0, 0x20);
    assert_int_equal(read_isr(p, 0xa0), 0x04);
    out(p, 0xa0, 0x20);
    assert_int_equal(read_isr(p, 0xa0), 0x00);
    out(p, 0x20, 0x20);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x73);
}

/* "The Special Fully Nested Mode": only the slave's higher-priority requests
 * get past the master's IR2 in service; a master request of lower priority
 * than IR2 stays blocked until the master's EOI, a higher one preempts. */
static void test_sfnm_lower_master_request_stays_blocked(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x11, 0x01); /* master SFNM */
    raise(&e, 12);
    assert_int_equal(pic_ack(p), 0x74);
    raise(&e, 3);
    assert_false(pic_intr(p)); /* IR3 ranks below IR2 in service */
    raise(&e, 7);
    assert_false(pic_intr(p));
    raise(&e, 10);
    assert_true(pic_intr(p)); /* the slave's higher request gets through */
    assert_int_equal(pic_ack(p), 0x72);
    assert_false(pic_intr(p));
    raise(&e, 1);
    assert_true(pic_intr(p)); /* IR1 outranks IR2 in service */
    assert_int_equal(pic_ack(p), 0x09);
    out(p, 0x20, 0x61);
    out(p, 0xa0, 0x20);
    out(p, 0xa0, 0x20);
    assert_int_equal(read_isr(p, 0xa0), 0x00);
    assert_false(pic_intr(p)); /* still IR2 in service on the master */
    out(p, 0x20, 0x20);
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x0b);
}

static void test_slave_higher_request_waits_without_sfnm(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 8);
    linux_unmask(&e, 9);
    raise(&e, 9);
    assert_int_equal(pic_ack(p), 0x39);
    raise(&e, 8);
    assert_false(pic_intr(p)); /* master IR2 in service blocks */
    /* Linux EOIs: slave first, then master 0x62. */
    assert_true(linux_mask_and_ack(&e, 9));
    assert_true(pic_intr(p));
    assert_int_equal(pic_ack(p), 0x38);
}

static void test_both_aeoi_two_slave_requests(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    bios_init(&e, 0x03, 0x03);
    raise(&e, 8);
    raise(&e, 12);
    assert_int_equal(pic_ack(p), 0x70);
    assert_true(pic_intr(p)); /* the slave still requests: cascade re-latched */
    assert_int_equal(pic_ack(p), 0x74);
    assert_false(pic_intr(p));
    assert_int_equal(read_isr(p, 0x20) | read_isr(p, 0xa0), 0x00);
}

/* ---- Linux sequences ----------------------------------------------------- */

static void test_linux_mask_and_ack_master(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 0);
    linux_unmask(&e, 4);
    raise(&e, 0);
    raise(&e, 4);
    assert_int_equal(pic_ack(p), 0x30);
    assert_false(pic_intr(p));
    assert_true(linux_mask_and_ack(&e, 0));
    assert_int_equal(in(p, 0x21), 0xeb); /* IRQ0 masked by the handler */
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_true(pic_intr(p)); /* IRQ4 was waiting */
    linux_unmask(&e, 0);
    assert_int_equal(in(p, 0x21), 0xea);
}

static void test_linux_mask_and_ack_slave(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    linux_unmask(&e, 8);
    raise(&e, 8);
    assert_int_equal(pic_ack(p), 0x38);
    assert_true(linux_mask_and_ack(&e, 8));
    assert_int_equal(in(p, 0xa1), 0xff);
    assert_int_equal(read_isr(p, 0xa0), 0x00);
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_false(pic_intr(p));
    linux_unmask(&e, 8);
    assert_false(pic_intr(p)); /* the edge was consumed */
    pulse(&e, 8);
    assert_int_equal(pic_ack(p), 0x38);
}

static void test_linux_spurious_irq7_check(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    /* No request at all: the acknowledge still gets IR7's vector. */
    assert_int_equal(pic_ack(p), 0x37);
    assert_false(linux_mask_and_ack(&e, 7)); /* ISR bit 7 clear: spurious */
    assert_int_equal(read_isr(p, 0x20), 0x00);
    assert_int_equal(in(p, 0x21), 0xfb); /* already masked */
    /* A real IRQ7 is told apart by its IS bit. */
    linux_unmask(&e, 7);
    raise(&e, 7);
    assert_int_equal(pic_ack(p), 0x37);
    assert_int_equal(read_isr(p, 0x20), 0x80);
}

static void test_irq2_input_is_cascade_only(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    linux_probe_and_init(&e, false);
    raise(&e, 2);
    assert_int_equal(read_irr(&e.pic, 0x20), 0x00);
    assert_false(pic_intr(&e.pic));
    raise(&e, 16); /* out of range: ignored */
    assert_int_equal(read_irr(&e.pic, 0xa0), 0x00);
}

/* ---- INTR output --------------------------------------------------------- */

static void test_intr_sink_only_on_level_change(void **st)
{
    (void)st;
    struct env e;
    env_init(&e);
    struct pic_pair *p = &e.pic;
    linux_probe_and_init(&e, false);
    assert_int_equal(e.rec.calls, 0);
    linux_unmask(&e, 0);
    linux_unmask(&e, 1);
    raise(&e, 0);
    assert_int_equal(e.rec.calls, 1);
    assert_true(e.rec.level[0]);
    raise(&e, 1);
    raise(&e, 0);
    out(p, 0x21, (uint8_t)e.cached_mask); /* same IMR again */
    in(p, 0x20);
    assert_int_equal(e.rec.calls, 1);
    assert_int_equal(pic_ack(p), 0x30); /* IRQ1 pending but below IR0 */
    assert_int_equal(e.rec.calls, 2);
    assert_false(e.rec.level[1]);
    out(p, 0x20, 0x60);
    assert_int_equal(e.rec.calls, 3);
    assert_true(e.rec.level[2]);
    out(p, 0x21, 0xff);
    assert_int_equal(e.rec.calls, 4);
    assert_false(e.rec.level[3]);
    out(p, 0x21, 0xfe); /* IRQ1 still masked */
    assert_int_equal(e.rec.calls, 4);
    out(p, 0x21, 0xfc);
    assert_int_equal(e.rec.calls, 5);
    assert_true(pic_intr(p));
}

/* ---- save / restore ----------------------------------------------------- */

/* A busy state: rotation, SMM, level inputs, a slave in service, a pending
 * poll, a half-done init on neither chip. */
static void busy_state(struct env *e)
{
    struct pic_pair *p = &e->pic;
    linux_probe_and_init(e, false);
    out(p, 0x4d0, 0x20);
    out(p, 0x4d1, 0x04);
    out(p, 0x21, 0x00);
    out(p, 0xa1, 0x00);
    raise(e, 5);
    raise(e, 10);
    raise(e, 3);
    assert_int_equal(pic_ack(p), 0x3a); /* IR2 outranks IR3 and IR5 */
    assert_false(pic_intr(p));
    out(p, 0x20, 0xc1); /* IR1 lowest: IR2 highest */
    raise(e, 12);
    out(p, 0xa0, 0x0b);
    out(p, 0xa0, 0x68); /* slave SMM: IRQ12 passes IRQ10 in service */
    out(p, 0x21, 0x04);
    out(p, 0x20, 0x68); /* master SMM with IR2 masked: IR3 requests */
    assert_true(pic_intr(p));
}

static void script(struct env *e, uint8_t *trace, size_t *n)
{
    struct pic_pair *p = &e->pic;
#define T(x) (trace[(*n)++] = (uint8_t)(x))
    T(pic_intr(p));
    T(pic_ack(p));
    T(in(p, 0xa0));
    out(p, 0x20, 0x0c);
    T(in(p, 0x20));
    lower(e, 10);
    T(pic_ack(p));
    out(p, 0xa0, 0x20);
    out(p, 0x20, 0x20);
    T(pic_ack(p));
    out(p, 0x20, 0xa0);
    lower(e, 5);
    raise(e, 4);
    T(pic_intr(p));
    T(pic_ack(p));
    T(read_isr(p, 0x20));
    T(read_isr(p, 0xa0));
    T(read_irr(p, 0x20));
    T(e->rec.calls);
#undef T
}

static void test_save_restore_identical_behaviour(void **st)
{
    (void)st;
    struct env a, b;
    env_init(&a);
    env_init(&b);
    busy_state(&a);
    uint8_t blob[128], blob2[128];
    size_t n = save_blob(&a.pic, blob, sizeof(blob));
    assert_true(n > 10);
    unsigned b_calls = b.rec.calls;
    assert_int_equal(restore_blob(&b.pic, blob, n), 0);
    assert_int_equal(b.rec.calls, b_calls);       /* restore calls no sink */
    assert_ptr_equal(b.pic.intr_out.ctx, &b.rec); /* wiring kept */
    assert_int_equal(save_blob(&b.pic, blob2, sizeof(blob2)), n);
    assert_memory_equal(blob, blob2, n);
    a.rec.calls = b.rec.calls = 0;
    uint8_t ta[64], tb[64];
    size_t na = 0, nb = 0;
    script(&a, ta, &na);
    script(&b, tb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, na);
    assert_memory_equal(a.rec.level, b.rec.level, sizeof(a.rec.level));
    assert_int_equal(save_blob(&a.pic, blob, sizeof(blob)),
                     save_blob(&b.pic, blob2, sizeof(blob2)));
    assert_memory_equal(blob, blob2, n);
}

static void test_restore_truncated_fails_cleanly(void **st)
{
    (void)st;
    struct env a, b;
    env_init(&a);
    env_init(&b);
    busy_state(&a);
    linux_probe_and_init(&b, true);
    uint8_t blob[128], before[128], after[128];
    size_t n = save_blob(&a.pic, blob, sizeof(blob));
    size_t nb = save_blob(&b.pic, before, sizeof(before));
    unsigned calls = b.rec.calls;
    for (size_t len = 0; len < n; len++) {
        assert_int_equal(restore_blob(&b.pic, blob, len), -1);
        assert_int_equal(save_blob(&b.pic, after, sizeof(after)), nb);
        assert_memory_equal(before, after, nb);
    }
    /* Section length claiming less than the payload. */
    blob[6]--;
    assert_int_equal(restore_blob(&b.pic, blob, n - 1), -1);
    assert_int_equal(b.rec.calls, calls);
}

static void test_restore_corrupted_fails_cleanly(void **st)
{
    (void)st;
    struct env a, b;
    env_init(&a);
    env_init(&b);
    busy_state(&a);
    uint8_t blob[128], bad[128], before[128], after[128];
    size_t n = save_blob(&a.pic, blob, sizeof(blob));
    size_t nb = save_blob(&b.pic, before, sizeof(before));
    /* Layout: tag(4) version(2) length(4), then per chip irr isr imr base
     * pins lowest icw1 icw3 icw4 step smm ris poll rot (14), elcr[2], intr. */
    const size_t hdr = 10, chip = 14;
    assert_int_equal(n, hdr + 2 * chip + 3);
    struct {
        size_t off;
        uint8_t flip;
    } cases[] = {
        {0, 0xff},                  /* tag */
        {4, 0x03},                  /* version 2: from the future */
        {4, 0x01},                  /* version 0 */
        {hdr + 3, 0x01},            /* vector base with low bits */
        {hdr + 5, 0x08},            /* lowest priority out of range */
        {hdr + 6, 0x10},            /* ICW1 without its D4 */
        {hdr + 9, 0x01},            /* init step 1 does not exist */
        {hdr + 10, 0x02},           /* bool that is neither 0 nor 1 */
        {hdr + 2 * chip, 0x01},     /* ELCR: IRQ0 cannot be level */
        {hdr + 2 * chip + 1, 0x20}, /* ELCR: IRQ13 cannot be level */
        {hdr + 2 * chip + 2, 0x01}, /* INTR inconsistent with the registers */
        {hdr + chip + 0, 0x04},     /* slave: level IRQ10's IRR bit != its pin */
        {hdr + 4, 0x04},            /* master IR2 pin != the slave's INT */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, blob, n);
        bad[cases[i].off] ^= cases[i].flip;
        assert_true(memcmp(bad, blob, n) != 0);
        assert_int_equal(restore_blob(&b.pic, bad, n), -1);
        assert_int_equal(save_blob(&b.pic, after, sizeof(after)), nb);
        assert_memory_equal(before, after, nb);
    }
    assert_int_equal(restore_blob(&b.pic, blob, n), 0); /* the intact blob works */
}

static void test_reset_to_power_on(void **st)
{
    (void)st;
    struct env a, b;
    env_init(&a);
    env_init(&b);
    busy_state(&a);
    assert_true(pic_intr(&a.pic));
    unsigned calls = a.rec.calls;
    pic_reset(&a.pic);
    assert_false(pic_intr(&a.pic));
    assert_int_equal(a.rec.calls, calls + 1);
    assert_ptr_equal(a.pic.intr_out.ctx, &a.rec);
    /* Same as a fresh pair whose inputs have the same levels. */
    raise(&b, 3);
    raise(&b, 5);
    raise(&b, 10);
    raise(&b, 12);
    pic_reset(&b.pic);
    uint8_t x[128], y[128];
    size_t n = save_blob(&a.pic, x, sizeof(x));
    assert_int_equal(save_blob(&b.pic, y, sizeof(y)), n);
    assert_memory_equal(x, y, n);
    assert_int_equal(in(&a.pic, 0x21), 0xff);
    assert_int_equal(in(&a.pic, 0x4d0), 0x00);
    /* The input levels survived the reset: a level-triggered input that is
     * high requests at once. */
    out(&a.pic, 0x4d0, 0x20);
    assert_int_equal(in(&a.pic, 0x20), 0x20);
}

/* ---- wiring in the per-VM device set --------------------------------------- */

struct hook_rec {
    unsigned intr_calls;
    bool level;
};

static void hook_intr(void *ctx, bool level, uint64_t now_ns)
{
    (void)now_ns;
    struct hook_rec *r = ctx;
    r->intr_calls++;
    r->level = level;
}

static uint32_t vmio(struct vm_devices *d, uint16_t port, unsigned size, bool write, uint32_t v,
                     int want_rc)
{
    assert_int_equal(vm_devices_io(d, port, size, write, &v, 0), want_rc);
    return v;
}

static void test_vm_devices_routes_pic_ports(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct hook_rec r = {0};
    const struct vm_devices_hooks hooks = {.intr = hook_intr, .ctx = &r};
    vm_devices_init(&d, NULL, &hooks, 0);
    static const uint8_t seq[][2] = {{0xa1, 0xff}, {0x21, 0xfb}, {0x21, 0xff}, {0x20, 0x11},
                                     {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01}, {0xa0, 0x11},
                                     {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0xfb},
                                     {0xa1, 0xff}};
    for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        vmio(&d, seq[i][0], 1, true, seq[i][1], DEV_IO_OK);
    assert_int_equal(vmio(&d, 0x21, 1, false, 0, DEV_IO_OK), 0xfb);
    vmio(&d, 0x4d1, 1, true, 0xff, DEV_IO_OK);
    assert_int_equal(vmio(&d, 0x4d1, 1, false, 0, DEV_IO_OK), 0xde);
    assert_int_equal(vmio(&d, 0x20, 2, false, 0, DEV_IO_BADSIZE), 0xffff);
    assert_int_equal(vmio(&d, 0x4d0, 4, false, 0, DEV_IO_BADSIZE), 0xffffffffu);
    assert_int_equal(d.bus.bad_size, 2);
    /* A device pin reaches the PIC; INTR reaches the hook once. */
    vmio(&d, 0xa1, 1, true, 0xfe, DEV_IO_OK);
    vmio(&d, 0x4d1, 1, true, 0x00, DEV_IO_OK);
    pic_set_irq(&d.pic, 8, true);
    assert_true(vm_devices_intr(&d));
    assert_int_equal(r.intr_calls, 1);
    assert_int_equal(vm_devices_ack(&d, 0), 0x38);
    assert_int_equal(r.intr_calls, 2);
    assert_false(r.level);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_on_state),
        cmocka_unit_test(test_linux_probe_reads_back_probe_value),
        cmocka_unit_test(test_linux_init_vectors),
        cmocka_unit_test(test_icw1_resets_state),
        cmocka_unit_test(test_icw2_low_bits_ignored),
        cmocka_unit_test(test_single_mode_skips_icw3),
        cmocka_unit_test(test_init_without_icw4),
        cmocka_unit_test(test_icw1_restarts_unfinished_init),
        cmocka_unit_test(test_edge_latches_rising_edge_once),
        cmocka_unit_test(test_edge_withdrawn_gives_default_ir7),
        cmocka_unit_test(test_masked_edge_request_delivered_on_unmask),
        cmocka_unit_test(test_level_irr_follows_input),
        cmocka_unit_test(test_level_withdrawn_gives_default_ir7),
        cmocka_unit_test(test_slave_withdrawn_gives_irq15_with_ir2_in_service),
        cmocka_unit_test(test_slave_edge_withdrawn_gives_irq15),
        cmocka_unit_test(test_elcr_change_takes_effect_at_once),
        cmocka_unit_test(test_ltim_makes_all_inputs_level),
        cmocka_unit_test(test_elcr_forced_edge_bits),
        cmocka_unit_test(test_bad_sizes_and_unmapped_ports),
        cmocka_unit_test(test_ocw3_read_select),
        cmocka_unit_test(test_fully_nested_higher_preempts),
        cmocka_unit_test(test_same_level_waits_for_eoi),
        cmocka_unit_test(test_specific_eoi_clears_only_that_level),
        cmocka_unit_test(test_rotate_on_nonspecific_eoi),
        cmocka_unit_test(test_rotate_on_specific_eoi),
        cmocka_unit_test(test_set_priority_command),
        cmocka_unit_test(test_ocw2_noop),
        cmocka_unit_test(test_aeoi_mode),
        cmocka_unit_test(test_rotate_in_aeoi),
        cmocka_unit_test(test_dos_bios_init_and_nonspecific_eoi),
        cmocka_unit_test(test_poll_command),
        cmocka_unit_test(test_poll_cascade),
        cmocka_unit_test(test_special_mask_mode),
        cmocka_unit_test(test_special_fully_nested_mode),
        cmocka_unit_test(test_sfnm_lower_master_request_stays_blocked),
        cmocka_unit_test(test_slave_higher_request_waits_without_sfnm),
        cmocka_unit_test(test_both_aeoi_two_slave_requests),
        cmocka_unit_test(test_linux_mask_and_ack_master),
        cmocka_unit_test(test_linux_mask_and_ack_slave),
        cmocka_unit_test(test_linux_spurious_irq7_check),
        cmocka_unit_test(test_irq2_input_is_cascade_only),
        cmocka_unit_test(test_intr_sink_only_on_level_change),
        cmocka_unit_test(test_save_restore_identical_behaviour),
        cmocka_unit_test(test_restore_truncated_fails_cleanly),
        cmocka_unit_test(test_restore_corrupted_fails_cleanly),
        cmocka_unit_test(test_reset_to_power_on),
        cmocka_unit_test(test_vm_devices_routes_pic_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
