/* The platform classes of `hvrr crosscheck` (replay/xc_classes.c) and the
 * APIC-routed acknowledges (replay/qtest_script.c), fed the accesses Linux
 * 6.1 makes (arch/x86/pci/early.c, drivers/input/serio/i8042.c, the 8250
 * receive path, the I/O APIC switch of arch/x86/kernel/apic/io_apic.c): each
 * class takes what the platform difference explains and nothing next to it.
 * (Host input: qtest_script.c's rx_mask.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "replay/crosscheck.h"
#include "trace/trace_reader.h"

struct fx {
    struct qscript s;
    uint64_t seq;
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof(f));
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    qscript_free(&f->s);
    return 0;
}

static void header(struct fx *f, bool apic)
{
    struct trace_item it = {.type = TRACE_ITEM_HEADER};
    it.u.header.tsc_hz = 1000000000;
    it.u.header.vcpus = 1;
    it.u.header.apic = apic;
    assert_int_equal(qscript_add(&f->s, &it), 0);
}

/* One port exit; returns the op it became (NULL: not scripted). */
static const struct qop *io(struct fx *f, uint16_t port, unsigned size, bool write, uint32_t v)
{
    struct trace_item it = {.type = TRACE_ITEM_EXIT};
    it.u.exit.seq = f->seq++;
    it.u.exit.tsc = 1000 * f->seq;
    it.u.exit.detail = TRACE_DETAIL_IO;
    it.u.exit.u.io.port = port;
    it.u.exit.u.io.size = (uint8_t)size;
    it.u.exit.u.io.write = write;
    it.u.exit.u.io.value = v;
    size_t n = f->s.n;
    assert_int_equal(qscript_add(&f->s, &it), 0);
    return f->s.n > n ? &f->s.ops[f->s.n - 1] : NULL;
}

static void dev(struct fx *f, struct trace_dev_event d)
{
    struct trace_item it = {.type = TRACE_ITEM_DEV};
    d.tsc = 1000 * f->seq;
    it.u.dev = d;
    assert_int_equal(qscript_add(&f->s, &it), 0);
}

/* A PCI read of an absent function answered all-ones is 'absent'; the same
 * read of the host bridge, or a value other than all-ones, is not. */
static void pci_absent_function(void **state)
{
    struct fx *f = *state;
    header(f, false);
    io(f, 0xcf8, 4, true, 0x80000800); /* 00:01.0, register 0 */
    const struct qop *op = io(f, 0xcfc, 4, false, 0xffffffff);
    assert_non_null(xc_absent(op, 0x8fff0079));
    op = io(f, 0xcfe, 2, false, 0xffff);
    assert_non_null(xc_absent(op, 0xf9fe));
    op = io(f, 0xcfe, 2, false, 0x1237); /* hvrr answered: a device there */
    assert_null(xc_absent(op, 0x1111));
    io(f, 0xcf8, 4, true, 0x80000000); /* 00:00.0 */
    op = io(f, 0xcfc, 4, false, 0xffffffff);
    assert_null(xc_absent(op, 0x8fff0079));
    io(f, 0xcf8, 4, true, 0x00000800); /* enable bit clear: not a config cycle */
    op = io(f, 0xcfc, 4, false, 0xffffffff);
    assert_null(xc_absent(op, 0x8fff0079));
    /* bits 1:0 written to CONFIG_ADDRESS do not make another function */
    io(f, 0xcf8, 4, true, 0x8000000a);
    op = io(f, 0xcfe, 2, false, 0xffff);
    assert_null(xc_absent(op, 0xffff));
}

/* i8042: the keyboard's answer to a byte sent to it is 'absent', a
 * controller command's answer is not, before or after. */
static void i8042_device_bytes(void **state)
{
    struct fx *f = *state;
    header(f, false);
    io(f, 0x64, 1, true, 0x20); /* read the command byte */
    const struct qop *op = io(f, 0x60, 1, false, 0x45);
    assert_null(xc_absent(op, 0x46));
    op = io(f, 0x64, 1, false, 0x54); /* status: no device byte sent yet */
    assert_null(xc_absent(op, 0x40));
    io(f, 0x64, 1, true, 0x60); /* write the command byte: data to the controller */
    io(f, 0x60, 1, true, 0x47);
    op = io(f, 0x60, 1, false, 0x47);
    assert_null(xc_absent(op, 0x01));
    io(f, 0x60, 1, true, 0xf2); /* get ID: to the keyboard */
    op = io(f, 0x64, 1, false, 0x55);
    assert_non_null(xc_absent(op, 0x4d));
    assert_null(xc_absent(op, 0x0c)); /* SYS/A2 only: the status deviation, not this */
    assert_null(xc_absent(op, 0x80)); /* parity: not the device's */
    op = io(f, 0x60, 1, false, 0xfe);
    assert_non_null(xc_absent(op, 0x04));
    io(f, 0x64, 1, true, 0x20); /* a controller command ends the device's answer */
    op = io(f, 0x60, 1, false, 0x47);
    assert_null(xc_absent(op, 0x44));
    op = io(f, 0x64, 1, false, 0x54); /* the timeout bit hvrr keeps */
    assert_non_null(xc_absent(op, 0x40));
    io(f, 0x64, 1, true, 0xd4); /* to the mouse */
    io(f, 0x60, 1, true, 0xf2);
    op = io(f, 0x60, 1, false, 0xfe);
    assert_non_null(xc_absent(op, 0x04));
    io(f, 0x64, 1, true, 0xd3); /* write the mouse output buffer: a controller command */
    io(f, 0x60, 1, true, 0x5a);
    op = io(f, 0x60, 1, false, 0x5a);
    assert_null(xc_absent(op, 0x01));
}

/* COM1: RBR, LSR DR and the IIR id are not compared while host bytes are in
 * hvrr's receiver (QEMU's COM1 is never fed them), and only then. */
static void uart_host_input(void **state)
{
    struct fx *f = *state;
    header(f, false);
    const struct qop *op = io(f, 0x3f8, 1, false, 0x00);
    assert_int_equal(op->rx_mask, 0);
    static const uint8_t data[2] = {'l', 's'};
    struct trace_dev_event rx = {.kind = TRACE_DEV_UART_RX};
    rx.u.uart_rx.port = 0x3f8;
    rx.u.uart_rx.data = data;
    rx.u.uart_rx.len = 2;
    dev(f, rx);
    op = io(f, 0x3fd, 1, false, 0x61);
    assert_int_equal(op->rx_mask, 0x01);
    op = io(f, 0x3fa, 1, false, 0xc4);
    assert_int_equal(op->rx_mask, 0x0f);
    op = io(f, 0x3f8, 1, false, 'l');
    assert_int_equal(op->rx_mask, 0xff);
    op = io(f, 0x3f8, 1, false, 's');
    assert_int_equal(op->rx_mask, 0xff);
    op = io(f, 0x3fd, 1, false, 0x60); /* both bytes read */
    assert_int_equal(op->rx_mask, 0);
    op = io(f, 0x3f8, 1, false, 0x00);
    assert_int_equal(op->rx_mask, 0);
}

/* APIC platform: a PIC-range vector whose IR the 8259A's IMR masks is the
 * I/O APIC's, not an acknowledge; unmasked, it is; without the APIC every
 * PIC-range vector is. */
static void apic_routed_vectors(void **state)
{
    struct fx *f = *state;
    header(f, true);
    io(f, 0x20, 1, true, 0x11); /* ICW1..4, vectors 0x30 / 0x38 */
    io(f, 0x21, 1, true, 0x30);
    io(f, 0x21, 1, true, 0x04);
    io(f, 0x21, 1, true, 0x01);
    io(f, 0xa0, 1, true, 0x11);
    io(f, 0xa1, 1, true, 0x38);
    io(f, 0xa1, 1, true, 0x02);
    io(f, 0xa1, 1, true, 0x01);
    io(f, 0x21, 1, true, 0xfe); /* IRQ0 only */
    io(f, 0xa1, 1, true, 0xff);
    struct trace_dev_event inj = {.kind = TRACE_DEV_INJECT};
    inj.u.inject.vector = 0x30;
    size_t n = f->s.n;
    dev(f, inj);
    assert_int_equal(f->s.n, n + 1);
    assert_int_equal(f->s.ops[n].kind, QOP_ACK);
    io(f, 0x21, 1, true, 0xff); /* Linux masks the 8259A: the I/O APIC routes IRQ0 */
    n = f->s.n;
    dev(f, inj);
    inj.u.inject.vector = 0x3c; /* slave IR4 (IRQ12) */
    dev(f, inj);
    assert_int_equal(f->s.n, n);
    assert_int_equal(f->s.apic_acks, 2);
    io(f, 0xa1, 1, true, 0xef); /* slave IR4 unmasked, master IR2 still masked */
    n = f->s.n;
    dev(f, inj);
    assert_int_equal(f->s.n, n);
    assert_int_equal(f->s.apic_acks, 3);
    io(f, 0x21, 1, true, 0xfb);
    n = f->s.n;
    dev(f, inj);
    assert_int_equal(f->s.n, n + 1);
    assert_int_equal(f->s.ops[n].kind, QOP_ACK);
}

static void no_apic_every_vector_is_the_pics(void **state)
{
    struct fx *f = *state;
    header(f, false);
    io(f, 0x20, 1, true, 0x11);
    io(f, 0x21, 1, true, 0x30);
    io(f, 0x21, 1, true, 0x04);
    io(f, 0x21, 1, true, 0x01);
    io(f, 0x21, 1, true, 0xff);
    struct trace_dev_event inj = {.kind = TRACE_DEV_INJECT};
    inj.u.inject.vector = 0x30;
    size_t n = f->s.n;
    dev(f, inj);
    assert_int_equal(f->s.n, n + 1);
    assert_int_equal(f->s.apic_acks, 0);
}

/* hvrr's ACPI PM block (APIC platform): scripted only for --timed
 * (with_acpi) on an APIC trace, at the register widths it has, and never a
 * PM1_CNT write with SLP_EN (Linux's power-off: 0x3401). */
static void acpi_pm_ops(void **state)
{
    struct fx *f = *state;
    f->s.with_acpi = true;
    header(f, false); /* no APIC: no ACPI PM block in hvrr */
    assert_null(io(f, 0x608, 4, false, 0x123456));
    header(f, true);
    const struct qop *op = io(f, 0x608, 4, false, 0x123456);
    assert_non_null(op);
    assert_string_equal(qscript_device(op->port), "acpi");
    assert_non_null(io(f, 0x602, 2, true, 0x20));
    assert_non_null(io(f, 0x604, 2, true, 0x0001));
    assert_null(io(f, 0x604, 2, true, 0x3401));
    assert_null(io(f, 0x605, 1, true, 0x34));
    assert_null(io(f, 0x60a, 4, false, 0)); /* past the block's end */
    f->s.with_acpi = false;                 /* the stopped mode */
    assert_null(io(f, 0x608, 4, false, 0x123456));
}

static void irq_line(struct fx *f, unsigned irq, bool level)
{
    struct trace_dev_event d = {.kind = TRACE_DEV_IRQ_LINE};
    d.u.irq.irq = irq;
    d.u.irq.level = level;
    dev(f, d);
}

/* The acknowledge op an injected vector became. */
static const struct qop *inject(struct fx *f, uint8_t vector)
{
    struct trace_dev_event d = {.kind = TRACE_DEV_INJECT};
    d.u.inject.vector = vector;
    size_t n = f->s.n;
    dev(f, d);
    assert_int_equal(f->s.n, n + 1);
    assert_int_equal(f->s.ops[n].kind, QOP_ACK);
    return &f->s.ops[n];
}

static void master_init(struct fx *f, uint8_t icw1, uint8_t imr)
{
    io(f, 0x20, 1, true, icw1);
    io(f, 0x21, 1, true, 0x20);
    io(f, 0x21, 1, true, 0x04);
    io(f, 0x21, 1, true, 0x01);
    io(f, 0x21, 1, true, imr);
}

/* ICW1 LTIM (hostile exit 7048): hvrr takes level IRQ0 again; QEMU, edge-
 * triggered, answers nothing or another request the trace has unmasked too,
 * never a masked, idle or other line; without LTIM, or for an edge request
 * whose line fell, nothing is explained. */
static void ltim_ack_other_requests(void **state)
{
    struct fx *f = *state;
    header(f, false);
    master_init(f, 0x19, 0xe4); /* LTIM; IRQ0, 1, 3, 4 unmasked */
    irq_line(f, 0, true);
    irq_line(f, 1, true);
    irq_line(f, 5, true); /* masked */
    const struct qop *op = inject(f, 0x20);
    assert_true(op->pic_flags & QPIC_LTIM);
    assert_int_equal(op->ltim_other, 0x0002);
    assert_true(xc_ltim_ack(op, -1, false));
    assert_true(xc_ltim_ack(op, 1, false));
    assert_true(xc_ltim_ack(op, 1, true));
    assert_false(xc_ltim_ack(op, 5, false)); /* masked in the trace */
    assert_false(xc_ltim_ack(op, 3, false)); /* line low in the trace */
    assert_false(xc_ltim_ack(op, 4, true));  /* no UART interrupt enabled */
    assert_false(xc_ltim_ack(op, 9, false));
    irq_line(f, 1, false);
    op = inject(f, 0x20);
    assert_int_equal(op->ltim_other, 0);
    assert_false(xc_ltim_ack(op, 1, false));
    master_init(f, 0x11, 0xe4); /* edge-triggered */
    irq_line(f, 0, false);
    irq_line(f, 0, true);
    irq_line(f, 1, true);
    op = inject(f, 0x20);
    assert_false(op->pic_flags & QPIC_LTIM);
    assert_false(xc_ltim_ack(op, -1, false));
    assert_false(xc_ltim_ack(op, 1, false));
}

/* --timed: QEMU's 16550 drives IRQ4 whatever OUT2 says; an LTIM acknowledge
 * QEMU answers with IRQ4 is explained only while the trace's 16550 has an
 * interrupt enabled and OUT2 clear or loopback set (hostile exit 8554). */
static void ltim_ack_gated_irq4(void **state)
{
    struct fx *f = *state;
    header(f, false);
    master_init(f, 0x19, 0x00);
    irq_line(f, 0, true);
    io(f, 0x3fb, 1, true, 0x03);
    io(f, 0x3f9, 1, true, 0x02); /* ETBEI */
    io(f, 0x3fc, 1, true, 0x03); /* OUT2 clear */
    const struct qop *op = inject(f, 0x20);
    assert_true(op->irq4_gated);
    assert_true(xc_ltim_ack(op, 4, true));
    assert_false(xc_ltim_ack(op, 4, false)); /* stopped clock: QEMU's UART detached */
    assert_false(xc_ltim_ack(op, 3, true));
    io(f, 0x3fc, 1, true, 0x0b); /* OUT2: hvrr's IRQ4 would be on the bus */
    op = inject(f, 0x20);
    assert_false(op->irq4_gated);
    assert_false(xc_ltim_ack(op, 4, true));
    io(f, 0x3fc, 1, true, 0x1b); /* loopback: OUT2 inactive at the pin */
    op = inject(f, 0x20);
    assert_true(xc_ltim_ack(op, 4, true));
    io(f, 0x3fb, 1, true, 0x83);
    io(f, 0x3f9, 1, true, 0x00); /* divisor latch, not IER */
    op = inject(f, 0x20);
    assert_true(op->irq4_gated);
    io(f, 0x3fb, 1, true, 0x03);
    io(f, 0x3f9, 1, true, 0x00); /* no interrupt enabled */
    op = inject(f, 0x20);
    assert_false(op->irq4_gated);
    assert_false(xc_ltim_ack(op, 4, true));
}

/* 8254 counter reads of a counting element never loaded (hostile's channel 1
 * in mode 5, channel 2 before any count) are undefined while they read
 * hvrr's 0; a count loaded (modes 0, 2, 3, 4 on writing, 1/5 on a gate
 * trigger), a status byte or another value is compared. */
static void pit_unloaded_counts(void **state)
{
    struct fx *f = *state;
    header(f, false);
    const struct qop *op = io(f, 0x41, 1, false, 0x00);
    assert_true(xc_pit_undefined(op));
    op = io(f, 0x41, 1, false, 0x12);
    assert_false(xc_pit_undefined(op));
    io(f, 0x43, 1, true, 0x6a); /* channel 1: mode 5, MSB */
    io(f, 0x41, 1, true, 0x21);
    op = io(f, 0x41, 1, false, 0x00);
    assert_true(xc_pit_undefined(op)); /* gate 1 tied high: no trigger */
    io(f, 0x43, 1, true, 0x74);        /* mode 2, LSB then MSB */
    io(f, 0x41, 1, true, 0x00);
    op = io(f, 0x41, 1, false, 0x00);
    assert_true(xc_pit_undefined(op)); /* the LSB alone */
    io(f, 0x41, 1, true, 0x10);
    op = io(f, 0x41, 1, false, 0x00);
    assert_false(xc_pit_undefined(op));
    io(f, 0x43, 1, true, 0x70); /* a control word keeps the CE loaded */
    op = io(f, 0x41, 1, false, 0x00);
    assert_false(xc_pit_undefined(op));
    io(f, 0x43, 1, true, 0xb2); /* channel 2: mode 1, count, gate low */
    io(f, 0x42, 1, true, 0x05);
    io(f, 0x42, 1, true, 0x00);
    op = io(f, 0x42, 1, false, 0x00);
    assert_true(xc_pit_undefined(op));
    io(f, 0x43, 1, true, 0xe8); /* read-back: channel 2's status */
    op = io(f, 0x42, 1, false, 0x00);
    assert_false(xc_pit_undefined(op));
    io(f, 0x61, 1, true, 0x01); /* gate rises: the trigger loads it */
    op = io(f, 0x42, 1, false, 0x00);
    assert_false(xc_pit_undefined(op));
    op = io(f, 0x40, 1, false, 0x00); /* channel 0 untouched */
    assert_true(xc_pit_undefined(op));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pci_absent_function, setup, teardown),
        cmocka_unit_test_setup_teardown(i8042_device_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(uart_host_input, setup, teardown),
        cmocka_unit_test_setup_teardown(apic_routed_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(no_apic_every_vector_is_the_pics, setup, teardown),
        cmocka_unit_test_setup_teardown(acpi_pm_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(ltim_ack_other_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(ltim_ack_gated_irq4, setup, teardown),
        cmocka_unit_test_setup_teardown(pit_unloaded_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
