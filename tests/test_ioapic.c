/* I/O APIC model: rules from the Intel 82093AA datasheet (290566,
 * "Register Description") and the accesses Linux 6.1
 * (arch/x86/kernel/apic/io_apic.c) makes: IOREGSEL then IOWIN, 32 bits,
 * the high half of an entry written before the low half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/ioapic.h"
#include "hv/devs/lapic.h"

struct fx {
    struct ioapic io;
    unsigned sent;
    struct apic_msg msg[32];
};

static void on_msg(void *ctx, const struct apic_msg *m)
{
    struct fx *f = ctx;
    assert_true(f->sent < 32);
    f->msg[f->sent++] = *m;
}

static struct fx F;

static int setup(void **st)
{
    memset(&F, 0, sizeof F);
    struct apic_msg_sink s = {on_msg, &F};
    ioapic_init(&F.io, &s, 0x20);
    *st = &F;
    return 0;
}

static uint32_t reg_read(struct fx *f, uint8_t r)
{
    uint32_t v = r;
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_IOREGSEL, 4, true, &v), DEV_IO_OK);
    v = 0xdeadbeef;
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_IOWIN, 4, false, &v), DEV_IO_OK);
    return v;
}

static void reg_write(struct fx *f, uint8_t r, uint32_t val)
{
    uint32_t v = r;
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_IOREGSEL, 4, true, &v), DEV_IO_OK);
    v = val;
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_IOWIN, 4, true, &v), DEV_IO_OK);
}

/* Linux's ioapic_write_entry(): high dword first, then low. */
static void set_entry(struct fx *f, unsigned pin, uint64_t e)
{
    reg_write(f, (uint8_t)(0x11 + 2 * pin), (uint32_t)(e >> 32));
    reg_write(f, (uint8_t)(0x10 + 2 * pin), (uint32_t)e);
}

static uint64_t get_entry(struct fx *f, unsigned pin)
{
    uint64_t lo = reg_read(f, (uint8_t)(0x10 + 2 * pin));
    return (uint64_t)reg_read(f, (uint8_t)(0x11 + 2 * pin)) << 32 | lo;
}

/* IOAPICID/IOAPICVER/IOAPICARB and the power-on redirection table. */
static void test_registers(void **st)
{
    struct fx *f = *st;
    assert_int_equal(reg_read(f, IOAPIC_REG_VER), 0x00170020u); /* 24 entries */
    assert_int_equal(reg_read(f, IOAPIC_REG_ID), 0);
    reg_write(f, IOAPIC_REG_ID, 0xff000000u);
    assert_int_equal(reg_read(f, IOAPIC_REG_ID), 0x0f000000u); /* bits 27:24 */
    /* The arbitration ID is loaded from the ID write; ARB is read-only. */
    assert_int_equal(reg_read(f, IOAPIC_REG_ARB), 0x0f000000u);
    reg_write(f, IOAPIC_REG_ARB, 0x03000000u);
    assert_int_equal(reg_read(f, IOAPIC_REG_ARB), 0x0f000000u);
    reg_write(f, IOAPIC_REG_VER, 0);
    assert_int_equal(reg_read(f, IOAPIC_REG_VER), 0x00170020u);
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        assert_int_equal(get_entry(f, pin), IOAPIC_RTE_MASKED);
    /* IOREGSEL reads back; undecoded register indices read 0. */
    uint32_t v = 0x3f;
    ioapic_mmio(&f->io, IOAPIC_IOREGSEL, 4, true, &v);
    ioapic_mmio(&f->io, IOAPIC_IOREGSEL, 4, false, &v);
    assert_int_equal(v, 0x3f);
    assert_int_equal(reg_read(f, 0x40), 0);
    /* Delivery status and remote IRR are read-only. */
    set_entry(f, 5, 0x0100000000015035ull | IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE);
    assert_int_equal(get_entry(f, 5), 0x0100000000018035ull & ~IOAPIC_RTE_LEVEL);
}

/* 32-bit accesses only; offsets other than IOREGSEL/IOWIN/EOI are not
 * decoded; the 82093AA (version 0x11) has no EOI register. */
static void test_access_rules(void **st)
{
    struct fx *f = *st;
    uint32_t v = 0;
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_IOWIN, 1, false, &v), DEV_IO_BADSIZE);
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_IOREGSEL, 2, true, &v), DEV_IO_BADSIZE);
    assert_int_equal(ioapic_mmio(&f->io, 0x20, 4, false, &v), DEV_IO_UNMAPPED);
    assert_int_equal(ioapic_mmio(&f->io, IOAPIC_EOIR, 4, true, &v), DEV_IO_OK);
    struct ioapic old;
    ioapic_init(&old, NULL, 0x11);
    assert_int_equal(ioapic_mmio(&old, IOAPIC_EOIR, 4, true, &v), DEV_IO_UNMAPPED);
    uint32_t r = IOAPIC_REG_VER;
    ioapic_mmio(&old, IOAPIC_IOREGSEL, 4, true, &r);
    ioapic_mmio(&old, IOAPIC_IOWIN, 4, false, &r);
    assert_int_equal(r, 0x00170011u);
}

/* Edge: a message per rising edge while unmasked, with the entry's fields;
 * an edge while masked is lost (unmasking later sends nothing). */
static void test_edge(void **st)
{
    struct fx *f = *st;
    set_entry(f, 4, 0x0300000000000834ull); /* dest 3 logical, fixed, vector 0x34 */
    ioapic_set_irq(&f->io, 4, true);
    assert_int_equal(f->sent, 1);
    assert_int_equal(f->msg[0].vector, 0x34);
    assert_int_equal(f->msg[0].dest, 3);
    assert_true(f->msg[0].logical);
    assert_false(f->msg[0].level);
    assert_int_equal(f->msg[0].mode, APIC_DM_FIXED);
    ioapic_set_irq(&f->io, 4, true); /* no edge */
    assert_int_equal(f->sent, 1);
    ioapic_set_irq(&f->io, 4, false);
    ioapic_set_irq(&f->io, 4, true);
    assert_int_equal(f->sent, 2);
    assert_int_equal(get_entry(f, 4) & IOAPIC_RTE_REMOTE, 0);
    ioapic_set_irq(&f->io, 4, false);
    set_entry(f, 4, 0x0300000000010834ull); /* masked */
    ioapic_set_irq(&f->io, 4, true);
    set_entry(f, 4, 0x0300000000000834ull);
    assert_int_equal(f->sent, 2);
}

/* Level: sent while asserted and remote IRR clear; remote IRR set on
 * delivery; the EOI of the vector clears it (broadcast or EOI register)
 * and the still-asserted pin is sent again. */
static void test_level_remote_irr(void **st)
{
    struct fx *f = *st;
    set_entry(f, 10, 0x000000000000a051ull); /* level, active low, vector 0x51 */
    assert_int_equal(f->sent, 1);            /* pin low = asserted for active low */
    assert_true(get_entry(f, 10) & IOAPIC_RTE_REMOTE);
    assert_true(f->msg[0].level);
    ioapic_set_irq(&f->io, 10, true); /* deasserted */
    ioapic_set_irq(&f->io, 10, false);
    assert_int_equal(f->sent, 1); /* remote IRR holds it */
    ioapic_eoi(&f->io, 0x52);     /* another vector: nothing */
    assert_true(get_entry(f, 10) & IOAPIC_RTE_REMOTE);
    ioapic_eoi(&f->io, 0x51);
    assert_int_equal(f->sent, 2); /* still asserted: again */
    ioapic_set_irq(&f->io, 10, true);
    uint32_t v = 0x51;
    ioapic_mmio(&f->io, IOAPIC_EOIR, 4, true, &v);
    assert_int_equal(get_entry(f, 10) & IOAPIC_RTE_REMOTE, 0);
    assert_int_equal(f->sent, 2);
    /* Masked while asserted: nothing; unmasking sends. */
    set_entry(f, 10, 0x000000000001a051ull);
    ioapic_set_irq(&f->io, 10, false);
    assert_int_equal(f->sent, 2);
    set_entry(f, 10, 0x000000000000a051ull);
    assert_int_equal(f->sent, 3);
    /* Switching to edge forgets remote IRR. */
    set_entry(f, 10, 0x0000000000012051ull);
    assert_int_equal(get_entry(f, 10) & IOAPIC_RTE_REMOTE, 0);
}

/* ISA wiring of a PC: the PIT's IRQ0 is on pin 2 (MADT source override),
 * the others identity. */
static void test_isa_pins(void **st)
{
    (void)st;
    assert_int_equal(ioapic_isa_pin(0), 2);
    assert_int_equal(ioapic_isa_pin(1), 1);
    assert_int_equal(ioapic_isa_pin(4), 4);
    assert_int_equal(ioapic_isa_pin(8), 8);
    assert_int_equal(ioapic_isa_pin(15), 15);
}

/* End to end with a local APIC: a level-triggered pin is acknowledged and
 * its EOI broadcast reaches the I/O APIC, which re-sends while the line is
 * high. */
struct duo {
    struct ioapic io;
    struct lapic l;
};

static void duo_msg(void *ctx, const struct apic_msg *m)
{
    struct duo *d = ctx;
    lapic_deliver(&d->l, m);
}

static void duo_eoi(void *ctx, uint8_t v)
{
    struct duo *d = ctx;
    ioapic_eoi(&d->io, v);
}

static void test_with_lapic(void **st)
{
    (void)st;
    static struct duo d;
    struct apic_msg_sink ms = {duo_msg, &d};
    struct apic_eoi_sink es = {duo_eoi, &d};
    struct lapic_config cfg = {.bus_hz = 1000000000};
    ioapic_init(&d.io, &ms, 0x20);
    lapic_init(&d.l, &cfg, NULL, NULL, &es, 0);
    lapic_write(&d.l, LAPIC_SVR, 0x1ff, 0);
    uint32_t v = 0x10 + 2 * 9;
    ioapic_mmio(&d.io, IOAPIC_IOREGSEL, 4, true, &v);
    v = 0x8000 | 0x49; /* level, active high, physical dest 0 */
    ioapic_mmio(&d.io, IOAPIC_IOWIN, 4, true, &v);
    ioapic_set_irq(&d.io, 9, true);
    assert_int_equal(lapic_ack(&d.l), 0x49);
    lapic_write(&d.l, LAPIC_EOI, 0, 0);
    assert_int_equal(lapic_ack(&d.l), 0x49); /* line still high */
    ioapic_set_irq(&d.io, 9, false);
    lapic_write(&d.l, LAPIC_EOI, 0, 0);
    assert_int_equal(lapic_pending(&d.l, NULL), LAPIC_INTR_NONE);
    assert_int_equal(d.io.rte[9] & IOAPIC_RTE_REMOTE, 0);
}

static size_t save(const struct ioapic *io, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    ioapic_save(io, &s);
    assert_false(s.err);
    return sv_len(&s);
}

static int restore(struct ioapic *io, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return ioapic_restore(io, &s);
}

static void test_save_restore(void **st)
{
    struct fx *f = *st;
    set_entry(f, 3, 0x0200000000008063ull);
    ioapic_set_irq(&f->io, 3, true);
    reg_write(f, IOAPIC_REG_ID, 0x02000000);
    uint8_t a[512], b[512];
    size_t n = save(&f->io, a, sizeof a);
    struct ioapic g;
    ioapic_init(&g, NULL, 0x11);
    assert_int_equal(restore(&g, a, n), 0);
    assert_int_equal(save(&g, b, sizeof b), n);
    assert_memory_equal(a, b, n);
    /* Rejected: remote IRR on an edge entry, a pin beyond 23, a bad version,
     * a truncated blob; g is left as it was. */
    struct ioapic bad = f->io, keep = g;
    bad.rte[1] = IOAPIC_RTE_REMOTE;
    n = save(&bad, a, sizeof a);
    assert_int_equal(restore(&g, a, n), -1);
    bad = f->io;
    bad.pins = 1u << 24;
    n = save(&bad, a, sizeof a);
    assert_int_equal(restore(&g, a, n), -1);
    bad = f->io;
    bad.version = 0x13;
    n = save(&bad, a, sizeof a);
    assert_int_equal(restore(&g, a, n), -1);
    n = save(&f->io, a, sizeof a);
    assert_int_equal(restore(&g, a, n - 1), -1);
    assert_memory_equal(&g, &keep, sizeof g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_registers, setup),
        cmocka_unit_test_setup(test_access_rules, setup),
        cmocka_unit_test_setup(test_edge, setup),
        cmocka_unit_test_setup(test_level_remote_irr, setup),
        cmocka_unit_test_setup(test_isa_pins, setup),
        cmocka_unit_test_setup(test_with_lapic, setup),
        cmocka_unit_test_setup(test_save_restore, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
