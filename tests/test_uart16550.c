/* 16550A UART model: register semantics from the PC16550D datasheet and the
 * byte sequences Linux 6.1's 8250 driver sends (autoconfig, startup, console
 * write, interrupt-driven receive). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/uart16550.h"
#include "hv/devs/vm_devices.h"

#define BASE 0x3f8
#define LINE 4
#define T0   1000000ull /* an arbitrary start time, ns */
/* 4 characters of 10 bits at 115200 baud: 40 * 8680.55 ns, rounded up. */
#define CTI_115200_8N1 347223ull

/* ---- fixture: a UART wired to a counting IRQ sink and a TX recorder ---- */

struct rec {
    unsigned calls, rises, falls;
    bool level;
    unsigned bad_line;  /* calls with a line other than LINE */
    unsigned no_change; /* calls that did not change the level */
    uint8_t tx[8192];
    size_t ntx;
};

struct fx {
    struct uart u;
    struct rec r;
    uint64_t now;
};

static void sink_set(void *ctx, unsigned line, bool level)
{
    struct rec *r = ctx;
    r->calls++;
    if (line != LINE)
        r->bad_line++;
    if (level == r->level)
        r->no_change++;
    if (level)
        r->rises++;
    else
        r->falls++;
    r->level = level;
}

static void tx_rec(void *ctx, uint8_t b)
{
    struct rec *r = ctx;
    if (r->ntx < sizeof r->tx)
        r->tx[r->ntx] = b;
    r->ntx++;
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    const struct irq_sink sink = {sink_set, &f->r};
    uart_init(&f->u, &sink, LINE, tx_rec, &f->r);
    f->now = T0;
}

static int setup(void **st)
{
    struct fx *f = test_malloc(sizeof *f);
    fx_init(f);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    /* Every test: the sink was only ever called on a real level change, on
     * the configured line, and it agrees with the model's own view. */
    assert_int_equal(f->r.no_change, 0);
    assert_int_equal(f->r.bad_line, 0);
    assert_int_equal(f->r.level, uart_irq_level(&f->u));
    test_free(f);
    return 0;
}

static uint8_t in8(struct fx *f, unsigned reg)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(uart_io(&f->u, (uint16_t)(BASE + reg), 1, false, &v, f->now), DEV_IO_OK);
    assert_true(v <= 0xff);
    return (uint8_t)v;
}

static void out8(struct fx *f, unsigned reg, uint8_t val)
{
    uint32_t v = val;
    assert_int_equal(uart_io(&f->u, (uint16_t)(BASE + reg), 1, true, &v, f->now), DEV_IO_OK);
}

static void rx_bytes(struct fx *f, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(uart_rx(&f->u, (const uint8_t *)s, n, f->now), n);
}

/* What Linux's set_termios + set_mctrl leave behind for 115200 8N1 on a
 * 16550A: divisor 1, LCR 0x03, FCR 0x01 then 0x81 (RX trigger 8), MCR
 * DTR|RTS|OUT2, IER RLSI|RDI. */
static void linux_configure(struct fx *f)
{
    out8(f, UART_LCR, 0x83);
    out8(f, UART_RBR, 0x01);
    out8(f, UART_IER, 0x00);
    out8(f, UART_LCR, 0x03);
    out8(f, UART_IIR, 0x01);
    out8(f, UART_IIR, 0x81);
    out8(f, UART_MCR, 0x0b);
    out8(f, UART_IER, 0x05);
}

/* ---- reset and plain registers ---------------------------------------- */

static void test_power_on_values(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in8(f, UART_IER), 0x00);
    assert_int_equal(in8(f, UART_IIR), 0x01);
    assert_int_equal(in8(f, UART_LCR), 0x00);
    assert_int_equal(in8(f, UART_MCR), 0x00);
    assert_int_equal(in8(f, UART_LSR), 0x60);
    /* connected terminal: DCD, DSR, CTS high, RI low, no deltas */
    assert_int_equal(in8(f, UART_MSR), 0xb0);
    assert_int_equal(in8(f, UART_SCR), 0x00);
    out8(f, UART_LCR, 0x80);
    assert_int_equal(in8(f, UART_RBR), 12); /* divisor 12: 9600 baud */
    assert_int_equal(in8(f, UART_IER), 0);
    assert_int_equal(f->r.calls, 0);
    assert_int_equal(uart_rx_space(&f->u), 1);
}

static void test_bad_sizes_rejected(void **st)
{
    struct fx *f = *st;
    for (unsigned size = 2; size <= 4; size += 2) {
        for (unsigned reg = 0; reg < 8; reg++) {
            uint32_t v = 0;
            assert_int_equal(uart_io(&f->u, BASE + reg, size, false, &v, f->now), DEV_IO_BADSIZE);
            assert_int_equal(v, dev_size_mask(size));
            v = 0x4141;
            assert_int_equal(uart_io(&f->u, BASE + reg, size, true, &v, f->now), DEV_IO_BADSIZE);
        }
    }
    /* nothing was written or transmitted */
    assert_int_equal(f->r.ntx, 0);
    assert_int_equal(in8(f, UART_SCR), 0);
    assert_int_equal(in8(f, UART_LCR), 0);
    assert_int_equal(in8(f, UART_IER), 0);
}

static void test_port_decode_uses_low_3_bits(void **st)
{
    struct fx *f = *st;
    uint32_t v = 0x5a;
    assert_int_equal(uart_io(&f->u, 0x2ff, 1, true, &v, f->now), DEV_IO_OK); /* SCR */
    assert_int_equal(in8(f, UART_SCR), 0x5a);
    v = 0;
    uart_io(&f->u, 0x2fd, 1, false, &v, f->now); /* LSR */
    assert_int_equal(v, 0x60);
}

static void test_ier_reserved_bits_read_zero(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IER, 0xff);
    assert_int_equal(in8(f, UART_IER), 0x0f);
    out8(f, UART_IER, 0x40); /* XScale UUE bit: absent on a 16550A */
    assert_int_equal(in8(f, UART_IER), 0x00);
}

static void test_mcr_reserved_bits_read_zero(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0xff);
    assert_int_equal(in8(f, UART_MCR), 0x1f);
    out8(f, UART_MCR, 0xe3);
    assert_int_equal(in8(f, UART_MCR), 0x03);
}

static void test_lcr_and_scr_hold_all_bits(void **st)
{
    struct fx *f = *st;
    static const uint8_t vals[] = {0x00, 0x5b, 0x3f, 0x7f, 0xbf, 0xe0};
    for (unsigned i = 0; i < sizeof vals; i++) {
        out8(f, UART_LCR, vals[i]);
        assert_int_equal(in8(f, UART_LCR), vals[i]);
        out8(f, UART_SCR, (uint8_t)~vals[i]);
        assert_int_equal(in8(f, UART_SCR), (uint8_t)~vals[i]);
    }
}

static void test_divisor_latch_behind_dlab(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IER, 0x05);
    out8(f, UART_LCR, 0x83);
    out8(f, UART_RBR, 0x34); /* DLL, not THR */
    out8(f, UART_IER, 0x12); /* DLM, not IER */
    assert_int_equal(in8(f, UART_RBR), 0x34);
    assert_int_equal(in8(f, UART_IER), 0x12);
    assert_int_equal(f->r.ntx, 0);
    out8(f, UART_LCR, 0x03);
    assert_int_equal(in8(f, UART_IER), 0x05);
    rx_bytes(f, "Q");
    assert_int_equal(in8(f, UART_RBR), 'Q');
    out8(f, UART_LCR, 0x80);
    assert_int_equal(in8(f, UART_RBR), 0x34);
    assert_int_equal(in8(f, UART_IER), 0x12);
}

static void test_lsr_and_msr_writes_ignored(void **st)
{
    struct fx *f = *st;
    out8(f, UART_LSR, 0x1f);
    out8(f, UART_MSR, 0x0f);
    assert_int_equal(in8(f, UART_LSR), 0x60);
    assert_int_equal(in8(f, UART_MSR), 0xb0);
}

/* ---- FIFOs ------------------------------------------------------------- */

static void test_iir_fifo_bits(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x01);
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    out8(f, UART_IIR, 0x21); /* 16750 64-byte bit: reserved here, IIR bit 5 stays 0 */
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    out8(f, UART_LCR, 0x80);
    out8(f, UART_IIR, 0x21);
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    out8(f, UART_LCR, 0x00);
    out8(f, UART_IIR, 0x00);
    assert_int_equal(in8(f, UART_IIR), 0x01);
}

static void test_fifo_holds_16_in_order(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x07);
    assert_int_equal(uart_rx_space(&f->u), 16);
    const uint8_t in[21] = "ABCDEFGHIJKLMNOPQRST";
    assert_int_equal(uart_rx(&f->u, in, 20, f->now), 16);
    assert_int_equal(uart_rx_space(&f->u), 0);
    assert_int_equal(uart_rx(&f->u, in, 1, f->now), 0);
    for (unsigned i = 0; i < 16; i++) {
        assert_int_equal(in8(f, UART_LSR), 0x61);
        assert_int_equal(in8(f, UART_RBR), in[i]);
    }
    assert_int_equal(in8(f, UART_LSR), 0x60); /* no overrun: the host kept the rest */
    assert_int_equal(uart_rx_space(&f->u), 16);
}

static void test_16450_mode_single_holding_register(void **st)
{
    struct fx *f = *st;
    assert_int_equal(uart_rx_space(&f->u), 1);
    assert_int_equal(uart_rx(&f->u, (const uint8_t *)"xy", 2, f->now), 1);
    assert_int_equal(uart_rx_space(&f->u), 0);
    out8(f, UART_IER, 0x01);
    assert_int_equal(in8(f, UART_IIR), 0x04); /* no FIFO bits, data available */
    assert_int_equal(in8(f, UART_RBR), 'x');
    assert_int_equal(in8(f, UART_IIR), 0x01);
    assert_int_equal(in8(f, UART_LSR), 0x60);
}

static void test_16450_break_has_no_fifo_error_bit(void **st)
{
    struct fx *f = *st;
    assert_true(uart_rx_break(&f->u, f->now));
    assert_false(uart_rx_break(&f->u, f->now)); /* the holding register is full */
    /* LSR bit 7 exists only in FIFO mode */
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_BI | UART_LSR_FE);
    assert_int_equal(in8(f, UART_RBR), 0);
    assert_int_equal(in8(f, UART_LSR), 0x60);
}

static void test_empty_rbr_reads_last_byte(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in8(f, UART_RBR), 0);
    rx_bytes(f, "k");
    assert_int_equal(in8(f, UART_RBR), 'k');
    assert_int_equal(in8(f, UART_RBR), 'k');
    assert_int_equal(in8(f, UART_LSR) & UART_LSR_DR, 0);
}

static void test_fifo_enable_toggle_clears(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x01);
    rx_bytes(f, "abc");
    out8(f, UART_IIR, 0x01); /* rewriting enable without reset bits keeps data */
    assert_int_equal(in8(f, UART_RBR), 'a');
    out8(f, UART_IIR, 0x00); /* FIFO -> 16450 mode: cleared */
    assert_int_equal(in8(f, UART_LSR), 0x60);
    rx_bytes(f, "d");
    out8(f, UART_IIR, 0x01); /* 16450 -> FIFO mode: cleared */
    assert_int_equal(in8(f, UART_LSR), 0x60);
}

static void test_fcr_rx_reset_and_tx_reset(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0xc1);
    rx_bytes(f, "hello");
    out8(f, UART_IIR, 0xc5); /* TX reset only: RX data stays */
    assert_int_equal(in8(f, UART_LSR), 0x61);
    out8(f, UART_IIR, 0xc3); /* RX reset */
    assert_int_equal(in8(f, UART_LSR), 0x60);
    assert_int_equal(in8(f, UART_IIR), 0xc1); /* still in FIFO mode */
    assert_int_equal(uart_rx_space(&f->u), 16);
}

static void test_rx_trigger_levels(void **st)
{
    struct fx *f = *st;
    static const uint8_t fcr[4] = {0x01, 0x41, 0x81, 0xc1};
    static const unsigned level[4] = {1, 4, 8, 14};
    out8(f, UART_IER, 0x01);
    for (unsigned t = 0; t < 4; t++) {
        out8(f, UART_IIR, (uint8_t)(fcr[t] | 0x02));
        for (unsigned i = 0; i + 1 < level[t]; i++)
            rx_bytes(f, "z");
        assert_int_equal(in8(f, UART_IIR), 0xc1);
        rx_bytes(f, "z");
        assert_int_equal(in8(f, UART_IIR), 0xc4);
        in8(f, UART_RBR); /* one below the trigger again */
        assert_int_equal(in8(f, UART_IIR), 0xc1);
    }
}

/* ---- THRE interrupt ---------------------------------------------------- */

static void test_thre_raised_when_etbei_enabled(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in8(f, UART_IIR), 0x01); /* empty THR alone is not pending at reset */
    out8(f, UART_IER, 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x02);
    /* re-writing ETBEI=1 is not a 0->1 edge */
    out8(f, UART_IER, 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x01);
}

static void test_thre_cleared_by_iir_read_and_set_by_thr_write(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IER, 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x01);
    out8(f, UART_RBR, 'A');
    assert_int_equal(f->r.ntx, 1);
    assert_int_equal(f->r.tx[0], 'A');
    assert_int_equal(in8(f, UART_LSR), 0x60); /* THRE and TEMT at once */
    assert_int_equal(in8(f, UART_IIR), 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x01);
}

static void test_thre_kept_when_not_the_source(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IER, 0x03);
    rx_bytes(f, "r");
    assert_int_equal(in8(f, UART_IIR), 0x04); /* RDA outranks THRE ... */
    assert_int_equal(in8(f, UART_IIR), 0x04); /* ... and the read does not clear THRE */
    in8(f, UART_RBR);
    assert_int_equal(in8(f, UART_IIR), 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x01);
}

static void test_thre_latched_while_masked(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IER, 0x02);
    out8(f, UART_IER, 0x00); /* disabled before anyone read IIR */
    assert_int_equal(in8(f, UART_IIR), 0x01);
    out8(f, UART_IER, 0x02);
    assert_int_equal(in8(f, UART_IIR), 0x02);
}

/* serial8250_do_startup's UART_BUG_THRE test: a real 16550 reasserts THRE
 * when ETBEI goes 0->1 with the transmitter idle. */
static void test_linux_thre_reassert_test(void **st)
{
    struct fx *f = *st;
    assert_true(in8(f, UART_LSR) & UART_LSR_THRE); /* wait_for_xmitr */
    out8(f, UART_IER, 0x02);
    uint8_t iir1 = in8(f, UART_IIR);
    out8(f, UART_IER, 0x00);
    out8(f, UART_IER, 0x02);
    uint8_t iir = in8(f, UART_IIR);
    out8(f, UART_IER, 0x00);
    assert_int_equal(iir1, 0x02);
    assert_int_equal(iir, 0x02);
    bool bug_thre = !(iir1 & UART_IIR_NONE) && (iir & UART_IIR_NONE);
    assert_false(bug_thre);
}

/* ---- priorities -------------------------------------------------------- */

static void test_iir_priority_order(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x07);                                           /* FIFO, trigger 1 */
    out8(f, UART_IER, 0x0f);                                           /* all sources; THRE set */
    uart_set_modem_inputs(&f->u, UART_MSR_DSR | UART_MSR_DCD, f->now); /* CTS drops */
    assert_true(uart_rx_break(&f->u, f->now));                         /* RLS (BI) + data */
    assert_int_equal(in8(f, UART_IIR), 0xc6);
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_BI | UART_LSR_FE | UART_LSR_FIFOERR);
    assert_int_equal(in8(f, UART_IIR), 0xc4);
    assert_int_equal(in8(f, UART_RBR), 0x00);
    assert_int_equal(in8(f, UART_IIR), 0xc2); /* THRE; this read clears it */
    assert_int_equal(in8(f, UART_IIR), 0xc0); /* modem status */
    assert_int_equal(in8(f, UART_MSR), 0xa0 | UART_MSR_DCTS);
    assert_int_equal(in8(f, UART_IIR), 0xc1);
}

static void test_disabled_sources_not_reported(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x01);
    uart_rx_break(&f->u, f->now);
    uart_set_modem_inputs(&f->u, 0, f->now);
    out8(f, UART_IER, 0x00);
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    out8(f, UART_IER, UART_IER_EDSSI);
    assert_int_equal(in8(f, UART_IIR), 0xc0);
    out8(f, UART_IER, UART_IER_EDSSI | UART_IER_ERBFI);
    assert_int_equal(in8(f, UART_IIR), 0xc4);
    out8(f, UART_IER, UART_IER_EDSSI | UART_IER_ERBFI | UART_IER_ELSI);
    assert_int_equal(in8(f, UART_IIR), 0xc6);
}

/* ---- character timeout ------------------------------------------------- */

static void test_char_timeout_formula(void **st)
{
    struct fx *f = *st;
    struct {
        uint8_t lcr, dll, dlm;
        uint64_t ns;
    } cases[] = {
        {0x03, 1, 0, CTI_115200_8N1},  /* 8N1 10 bits: 40 * 78125/9 = 347222.2 */
        {0x1e, 1, 0, 381945},          /* 7E2: 11 bits, 44 bit times */
        {0x04, 12, 0, 3125000},        /* 5N1.5 at 9600: 7.5 bits * 4 * 12 * 78125/9 */
        {0x0b, 12, 0, 4583334},        /* 8O1: 11 bits at 9600 */
        {0x03, 0x80, 0x01, 133333334}, /* divisor 384 = 300 baud */
        {0x03, 0, 0, 22755555556},     /* divisor 0 counts as 65536 */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        out8(f, UART_LCR, 0x80);
        out8(f, UART_RBR, cases[i].dll);
        out8(f, UART_IER, cases[i].dlm);
        out8(f, UART_LCR, cases[i].lcr);
        assert_true(uart_char_timeout_ns(&f->u) == cases[i].ns);
    }
}

static void test_char_timeout_at_exact_time(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER);
    rx_bytes(f, "a");
    assert_false(f->r.level); /* 1 byte < trigger 8 */
    uint64_t due = T0 + CTI_115200_8N1;
    assert_true(uart_next_event_ns(&f->u, f->now) == due);
    uart_tick(&f->u, due - 1);
    assert_false(f->r.level);
    f->now = due - 1;
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    uart_tick(&f->u, due);
    assert_true(f->r.level);
    assert_int_equal(f->r.rises, 1);
    assert_true(uart_next_event_ns(&f->u, due) == TIME_NEVER);
    f->now = due + 5;
    assert_int_equal(in8(f, UART_IIR), 0xcc);
    assert_int_equal(in8(f, UART_LSR), 0x61);
    assert_int_equal(in8(f, UART_RBR), 'a');
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    assert_false(f->r.level);
}

static void test_char_timeout_without_tick(void **st)
{
    struct fx *f = *st;
    /* No tick at the deadline: an access after it sees the same state. */
    linux_configure(f);
    rx_bytes(f, "b");
    f->now = T0 + CTI_115200_8N1 - 1;
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    f->now = T0 + CTI_115200_8N1;
    assert_int_equal(in8(f, UART_IIR), 0xcc);
    assert_true(f->r.level);
}

static void test_char_timeout_restarts_on_activity(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    rx_bytes(f, "abc");
    f->now = T0 + 100000;
    assert_int_equal(in8(f, UART_RBR), 'a'); /* a CPU read restarts the timer */
    assert_true(uart_next_event_ns(&f->u, f->now) == T0 + 100000 + CTI_115200_8N1);
    f->now = T0 + 200000;
    rx_bytes(f, "d"); /* so does a new character */
    assert_true(uart_next_event_ns(&f->u, f->now) == T0 + 200000 + CTI_115200_8N1);
    uart_tick(&f->u, T0 + 100000 + CTI_115200_8N1);
    assert_false(f->r.level);
    uart_tick(&f->u, T0 + 200000 + CTI_115200_8N1);
    assert_true(f->r.level);
    /* reading everything drains it; a new byte after that re-arms it */
    f->now = T0 + 1000000;
    assert_int_equal(in8(f, UART_IIR), 0xcc);
    while (in8(f, UART_LSR) & UART_LSR_DR)
        in8(f, UART_RBR);
    assert_false(f->r.level);
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER);
}

static void test_char_timeout_follows_baud_rate(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    out8(f, UART_LCR, 0x83);
    out8(f, UART_RBR, 12); /* 9600 baud */
    out8(f, UART_LCR, 0x03);
    rx_bytes(f, "q");
    assert_true(uart_next_event_ns(&f->u, f->now) == T0 + 4166667); /* 40 bits at 9600 */
}

/* Speeding the line up while a byte waits can put the timeout deadline in
 * the past: the access that does it latches the timeout at once, so a tick
 * at that same instant changes nothing (what checkpoints rely on). */
static void test_divisor_change_latches_overdue_timeout(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    out8(f, UART_LCR, 0x83);
    out8(f, UART_RBR, 12); /* 9600 baud: 40 bits take 4.17 ms */
    out8(f, UART_LCR, 0x03);
    rx_bytes(f, "q");
    f->now = T0 + 1000000; /* 1 ms later: not yet due at 9600 */
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    out8(f, UART_LCR, 0x83);
    out8(f, UART_RBR, 1); /* 115200: due 0.35 ms after the byte, long past */
    assert_true(f->r.level);
    out8(f, UART_LCR, 0x03);
    struct sv s;
    uint8_t a[256], b[256];
    sv_init_write(&s, a, sizeof a);
    uart_save(&f->u, &s);
    size_t na = sv_len(&s);
    uart_tick(&f->u, f->now);
    sv_init_write(&s, b, sizeof b);
    uart_save(&f->u, &s);
    assert_int_equal(sv_len(&s), na);
    assert_memory_equal(a, b, na);
    assert_int_equal(in8(f, UART_IIR), 0xcc);
}

static void test_no_timeout_in_16450_mode(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0x08);
    out8(f, UART_IER, 0x01);
    rx_bytes(f, "x");
    assert_true(f->r.level); /* RDA at once */
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER);
    f->now += 1000000000;
    uart_tick(&f->u, f->now);
    assert_int_equal(in8(f, UART_IIR), 0x04);
}

static void test_next_event_only_when_it_would_raise_irq(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    out8(f, UART_IER, 0x00);
    rx_bytes(f, "x");
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER); /* ERBFI off */
    out8(f, UART_IER, 0x01);
    out8(f, UART_MCR, 0x03);
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER); /* OUT2 off */
    out8(f, UART_MCR, 0x0b);
    assert_true(uart_next_event_ns(&f->u, f->now) == T0 + CTI_115200_8N1);
    /* a past deadline is reported as "now" */
    assert_true(uart_next_event_ns(&f->u, T0 + 10 * CTI_115200_8N1) == T0 + 10 * CTI_115200_8N1);
    /* the timeout still latches while masked and shows once enabled */
    out8(f, UART_IER, 0x00);
    f->now = T0 + 2 * CTI_115200_8N1;
    uart_tick(&f->u, f->now);
    assert_false(f->r.level);
    out8(f, UART_IER, 0x01);
    assert_true(f->r.level);
    assert_int_equal(in8(f, UART_IIR), 0xcc);
    in8(f, UART_RBR);
    /* while the line is already high (THRE here) the timeout changes nothing */
    out8(f, UART_IER, 0x03);
    assert_true(f->r.level);
    rx_bytes(f, "y");
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER);
    assert_int_equal(in8(f, UART_IIR), 0xc2);
    assert_false(f->r.level);
    assert_true(uart_next_event_ns(&f->u, f->now) == f->now + CTI_115200_8N1);
}

/* ---- errors ------------------------------------------------------------ */

static void test_overrun_fifo_mode_loses_new_byte(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x07);
    out8(f, UART_MCR, 0x10);
    for (unsigned i = 0; i < 17; i++)
        out8(f, UART_RBR, (uint8_t)i);
    assert_int_equal(f->r.ntx, 0); /* loopback: nothing left the chip */
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_OE);
    assert_int_equal(in8(f, UART_LSR), 0x61); /* OE clears on read */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(in8(f, UART_RBR), i);
    assert_int_equal(in8(f, UART_LSR), 0x60);
}

static void test_overrun_16450_mode_overwrites(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0x10);
    out8(f, UART_IER, UART_IER_ELSI);
    out8(f, UART_RBR, 'a');
    out8(f, UART_RBR, 'b');
    assert_int_equal(in8(f, UART_IIR), 0x06);
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_OE);
    assert_int_equal(in8(f, UART_IIR), 0x01);
    assert_int_equal(in8(f, UART_RBR), 'b');
}

static void test_break_errors_follow_their_character(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x07);
    out8(f, UART_MCR, 0x10);
    out8(f, UART_RBR, 'a');
    out8(f, UART_LCR, 0x43); /* set break: the loopback receiver gets a break */
    out8(f, UART_LCR, 0x03);
    out8(f, UART_RBR, 'b');
    /* 'a' is on top: no BI yet, but bit 7 says an error waits in the FIFO */
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_FIFOERR);
    assert_int_equal(in8(f, UART_RBR), 'a');
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_BI | UART_LSR_FE | UART_LSR_FIFOERR);
    /* reported: bit 7 and BI clear although the break byte is still there */
    assert_int_equal(in8(f, UART_LSR), 0x61);
    assert_int_equal(in8(f, UART_RBR), 0x00);
    assert_int_equal(in8(f, UART_RBR), 'b');
    assert_int_equal(in8(f, UART_LSR), 0x60);
}

static void test_host_break_raises_line_status_irq(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    assert_true(uart_rx_break(&f->u, f->now));
    assert_true(f->r.level);
    assert_int_equal(in8(f, UART_IIR), 0xc6);
    assert_int_equal(in8(f, UART_LSR), 0x61 | UART_LSR_BI | UART_LSR_FE | UART_LSR_FIFOERR);
    assert_false(f->r.level); /* 1 byte < trigger: nothing until the timeout */
    assert_int_equal(in8(f, UART_RBR), 0);
}

/* ---- loopback and modem status ---------------------------------------- */

static void test_loopback_tx_goes_to_rx(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0x10);
    out8(f, UART_RBR, 0x55);
    assert_int_equal(f->r.ntx, 0);
    assert_int_equal(in8(f, UART_LSR), 0x61);
    assert_int_equal(in8(f, UART_RBR), 0x55);
    assert_int_equal(uart_rx_space(&f->u), 0); /* line input is disconnected */
    assert_int_equal(uart_rx(&f->u, (const uint8_t *)"z", 1, f->now), 0);
    out8(f, UART_MCR, 0x00);
    out8(f, UART_RBR, 0x66);
    assert_int_equal(f->r.ntx, 1);
    assert_int_equal(f->r.tx[0], 0x66);
}

static void test_loopback_modem_lines(void **st)
{
    struct fx *f = *st;
    /* autoconfig's loop test: MCR = LOOP|OUT2|RTS must read MSR 0x90 */
    out8(f, UART_MCR, 0x1a);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, 0x90);
    out8(f, UART_MCR, 0x11);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_DSR);
    out8(f, UART_MCR, 0x12);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_CTS);
    out8(f, UART_MCR, 0x14);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_RI);
    out8(f, UART_MCR, 0x18);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_DCD);
    /* leaving loopback shows the terminal's lines again */
    out8(f, UART_MCR, 0x00);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, 0xb0);
}

static void test_msr_deltas_set_and_cleared_by_read(void **st)
{
    struct fx *f = *st;
    uart_set_modem_inputs(&f->u, UART_MSR_DCD | UART_MSR_DSR, f->now); /* CTS drops */
    assert_int_equal(in8(f, UART_MSR), 0xa0 | UART_MSR_DCTS);
    assert_int_equal(in8(f, UART_MSR), 0xa0);
    uart_set_modem_inputs(&f->u, 0x0f, f->now); /* low bits ignored; everything drops */
    assert_int_equal(in8(f, UART_MSR), UART_MSR_DDSR | UART_MSR_DDCD);
    /* RI: only its trailing edge (active -> inactive) sets TERI */
    uart_set_modem_inputs(&f->u, UART_MSR_RI, f->now);
    assert_int_equal(in8(f, UART_MSR), UART_MSR_RI);
    uart_set_modem_inputs(&f->u, 0, f->now);
    assert_int_equal(in8(f, UART_MSR), UART_MSR_TERI);
    /* deltas accumulate until read */
    uart_set_modem_inputs(&f->u, UART_MSR_CTS, f->now);
    uart_set_modem_inputs(&f->u, 0, f->now);
    assert_int_equal(in8(f, UART_MSR), UART_MSR_DCTS);
}

static void test_loopback_deltas_and_msi(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0x10); /* enter loopback: CTS/DSR/DCD fall */
    assert_int_equal(in8(f, UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    out8(f, UART_IER, UART_IER_EDSSI);
    out8(f, UART_MCR, 0x14); /* OUT1 -> RI rises: no delta */
    assert_int_equal(in8(f, UART_IIR), 0x01);
    out8(f, UART_MCR, 0x10); /* RI falls: TERI */
    assert_int_equal(in8(f, UART_IIR), 0x00);
    assert_int_equal(in8(f, UART_IIR), 0x00); /* IIR read does not clear MSI */
    assert_int_equal(in8(f, UART_MSR), UART_MSR_TERI);
    assert_int_equal(in8(f, UART_IIR), 0x01);
}

/* ---- IRQ line ---------------------------------------------------------- */

static void test_out2_gates_irq_line(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IER, 0x02);
    assert_int_equal(f->r.calls, 0); /* pending, but OUT2 is low */
    out8(f, UART_MCR, 0x03);
    assert_int_equal(f->r.calls, 0);
    out8(f, UART_MCR, 0x0b);
    assert_int_equal(f->r.calls, 1);
    assert_true(f->r.level);
    out8(f, UART_MCR, 0x03);
    assert_int_equal(f->r.calls, 2);
    assert_false(f->r.level);
    out8(f, UART_MCR, 0x0b);
    assert_int_equal(f->r.rises, 2);
    in8(f, UART_IIR); /* clears THRE */
    assert_int_equal(f->r.falls, 2);
    assert_int_equal(f->r.calls, 4);
}

static void test_loopback_gates_irq_line(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0x08);
    out8(f, UART_IER, 0x02);
    assert_true(f->r.level);
    out8(f, UART_MCR, 0x18); /* loopback forces the OUT2 pin inactive */
    assert_false(f->r.level);
    assert_int_equal(in8(f, UART_IIR), 0x02); /* the UART itself still has it */
    out8(f, UART_MCR, 0x08);
    out8(f, UART_IER, 0x00);
    out8(f, UART_IER, 0x02);
    assert_true(f->r.level);
    assert_int_equal(f->r.calls, 3);
}

static void test_sink_called_only_on_change(void **st)
{
    struct fx *f = *st;
    out8(f, UART_MCR, 0x0b);
    out8(f, UART_IER, 0x03);
    assert_int_equal(f->r.calls, 1);
    for (unsigned i = 0; i < 100; i++)
        out8(f, UART_RBR, 'x'); /* THRE stays set: no new calls */
    rx_bytes(f, "r");           /* RDA on top of THRE: level unchanged */
    in8(f, UART_LSR);
    in8(f, UART_MSR);
    assert_int_equal(f->r.calls, 1);
    in8(f, UART_RBR);
    assert_int_equal(in8(f, UART_IIR), 0x02);
    assert_int_equal(f->r.calls, 2);
    /* the ISR's THR write after an IIR read is a fresh edge for the PIC */
    out8(f, UART_RBR, 'y');
    assert_int_equal(f->r.rises, 2);
}

/* ---- Linux driver sequences -------------------------------------------- */

/* The register traffic of Linux 6.1 8250_port.c autoconfig() +
 * autoconfig_16550a() + size_fifo() (CONFIG_SERIAL_8250_16550A_VARIANTS),
 * returning the type it would settle on. */
static const char *linux_autoconfig(struct fx *f, bool skip_loop_test)
{
    uint8_t scratch = in8(f, UART_IER);
    out8(f, UART_IER, 0);
    uint8_t s2 = in8(f, UART_IER) & 0x0f;
    out8(f, UART_IER, 0x0f);
    uint8_t s3 = in8(f, UART_IER) & 0x0f;
    out8(f, UART_IER, scratch);
    if (s2 != 0 || s3 != 0x0f)
        return "none (IER test)";
    uint8_t save_mcr = in8(f, UART_MCR);
    uint8_t save_lcr = in8(f, UART_LCR);
    if (!skip_loop_test) {
        out8(f, UART_MCR, 0x10 | 0x0a);
        uint8_t st1 = in8(f, UART_MSR) & 0xf0;
        out8(f, UART_MCR, save_mcr);
        if (st1 != 0x90)
            return "none (loop test)";
    }
    out8(f, UART_LCR, 0xbf);
    out8(f, UART_IIR, 0); /* EFR := 0 (the FCR on a 16550A) */
    out8(f, UART_LCR, 0);
    out8(f, UART_IIR, 0x01);
    const char *type;
    switch (in8(f, UART_IIR) >> 6) {
    case 0: {
        out8(f, UART_SCR, 0xa5);
        bool a = in8(f, UART_SCR) == 0xa5;
        out8(f, UART_SCR, 0x5a);
        type = (a && in8(f, UART_SCR) == 0x5a) ? "16450" : "8250";
        goto done;
    }
    case 1: type = "unknown"; goto done;
    case 2: type = "16550"; goto done;
    default: type = "16550A"; break;
    }
    /* EFR with DLAB set (ST16C650V1)? */
    out8(f, UART_LCR, 0x80);
    if (in8(f, UART_IIR) == 0) {
        type = "16650 or FSL64";
        goto done;
    }
    /* EFR behind LCR=0xbf (16650V2, 16C950, XR16C850...)? */
    out8(f, UART_LCR, 0xbf);
    if (in8(f, UART_IIR) == 0) {
        type = "EFR UART";
        goto done;
    }
    /* National SuperIO: EXCR1 in bank 2 mirrors MCR LOOP */
    out8(f, UART_LCR, 0);
    uint8_t st1 = in8(f, UART_MCR);
    out8(f, UART_LCR, 0xe0);
    uint8_t st2 = in8(f, UART_IIR);
    if (!((st2 ^ st1) & 0x10)) {
        out8(f, UART_LCR, 0);
        out8(f, UART_MCR, st1 ^ 0x10);
        out8(f, UART_LCR, 0xe0);
        st2 = in8(f, UART_IIR);
        out8(f, UART_LCR, 0);
        out8(f, UART_MCR, st1);
        if ((st2 ^ st1) & 0x10) {
            type = "NS16550A";
            goto done;
        }
    }
    /* TI16750: IIR bit 5 follows FCR bit 5 only with DLAB set */
    out8(f, UART_LCR, 0);
    out8(f, UART_IIR, 0x21);
    st1 = in8(f, UART_IIR) >> 5;
    out8(f, UART_IIR, 0x01);
    out8(f, UART_LCR, 0x80);
    out8(f, UART_IIR, 0x21);
    st2 = in8(f, UART_IIR) >> 5;
    out8(f, UART_IIR, 0x01);
    out8(f, UART_LCR, 0);
    assert_int_equal(st1, 6);
    assert_int_equal(st2, 6);
    if (st1 == 6 && st2 == 7) {
        type = "16750";
        goto done;
    }
    /* XScale: IER bit 6 (UUE) writable? */
    uint8_t iersave = in8(f, UART_IER);
    out8(f, UART_IER, iersave & ~0x40);
    if (!(in8(f, UART_IER) & 0x40)) {
        out8(f, UART_IER, iersave | 0x40);
        if (in8(f, UART_IER) & 0x40) {
            type = "XScale";
            goto done;
        }
    }
    out8(f, UART_IER, iersave);
    /* size_fifo(): count what loopback leaves in the RX FIFO */
    {
        uint8_t old_lcr = in8(f, UART_LCR);
        out8(f, UART_LCR, 0);
        uint8_t old_fcr = in8(f, UART_IIR);
        uint8_t old_mcr = in8(f, UART_MCR);
        out8(f, UART_IIR, 0x07);
        out8(f, UART_MCR, 0x10);
        out8(f, UART_LCR, 0x80);
        uint16_t old_dl = (uint16_t)(in8(f, UART_RBR) | (in8(f, UART_IER) << 8));
        out8(f, UART_RBR, 1);
        out8(f, UART_IER, 0);
        assert_int_equal(in8(f, UART_RBR) | (in8(f, UART_IER) << 8), 1);
        out8(f, UART_LCR, 0x03);
        for (unsigned c = 0; c < 256; c++)
            out8(f, UART_RBR, (uint8_t)c);
        f->now += 20000000; /* mdelay(20) */
        unsigned count = 0;
        while ((in8(f, UART_LSR) & UART_LSR_DR) && count < 256) {
            assert_int_equal(in8(f, UART_RBR), count);
            count++;
        }
        out8(f, UART_IIR, old_fcr);
        out8(f, UART_MCR, old_mcr);
        out8(f, UART_LCR, 0x80);
        out8(f, UART_RBR, (uint8_t)old_dl);
        out8(f, UART_IER, (uint8_t)(old_dl >> 8));
        out8(f, UART_LCR, old_lcr);
        assert_int_equal(count, 16);
        if (count == 64)
            type = "U6_16550A";
    }
done:
    out8(f, UART_LCR, save_lcr);
    /* reset the UART */
    out8(f, UART_MCR, save_mcr);
    out8(f, UART_IIR, 0x01);
    out8(f, UART_IIR, 0x07);
    out8(f, UART_IIR, 0x00);
    in8(f, UART_RBR);
    out8(f, UART_IER, 0);
    return type;
}

static void test_linux_autoconfig_finds_16550a(void **st)
{
    struct fx *f = *st;
    /* COM1-4 have UPF_SKIP_TEST; other ports run the loop test too */
    assert_string_equal(linux_autoconfig(f, true), "16550A");
    assert_string_equal(linux_autoconfig(f, false), "16550A");
    assert_int_equal(f->r.ntx, 0);   /* everything stayed in loopback */
    assert_int_equal(f->r.calls, 0); /* no interrupt escaped during the probe */
    /* state left behind: DLAB off, divisor restored, FIFOs off and empty */
    assert_int_equal(in8(f, UART_LCR), 0);
    assert_int_equal(in8(f, UART_MCR), 0);
    assert_int_equal(in8(f, UART_IIR), 0x01);
    assert_int_equal(in8(f, UART_LSR), 0x60);
    out8(f, UART_LCR, 0x80);
    assert_int_equal(in8(f, UART_RBR), 12);
}

static void test_linux_startup_sequence(void **st)
{
    struct fx *f = *st;
    assert_string_equal(linux_autoconfig(f, true), "16550A");
    /* serial8250_do_startup: clear FIFOs, clear interrupt registers */
    out8(f, UART_IIR, 0x01);
    out8(f, UART_IIR, 0x07);
    out8(f, UART_IIR, 0x00);
    in8(f, UART_LSR);
    in8(f, UART_RBR);
    in8(f, UART_IIR);
    in8(f, UART_MSR);
    assert_int_not_equal(in8(f, UART_LSR), 0xff);
    /* THRE reassert test */
    out8(f, UART_IER, 0x02);
    uint8_t iir1 = in8(f, UART_IIR);
    out8(f, UART_IER, 0x00);
    out8(f, UART_IER, 0x02);
    uint8_t iir = in8(f, UART_IIR);
    out8(f, UART_IER, 0x00);
    assert_int_equal(iir1, 0x02);
    assert_int_equal(iir, 0x02);
    out8(f, UART_LCR, 0x03);
    out8(f, UART_MCR, 0x0b); /* DTR|RTS|OUT2 */
    assert_int_equal(f->r.calls, 0);
    /* TXEN test: enabling THRI must show an interrupt */
    out8(f, UART_IER, 0x02);
    uint8_t lsr = in8(f, UART_LSR);
    iir = in8(f, UART_IIR);
    out8(f, UART_IER, 0x00);
    assert_true(lsr & UART_LSR_TEMT);
    assert_int_equal(iir & UART_IIR_NONE, 0); /* no UART_BUG_TXEN */
    assert_int_equal(f->r.rises, 1);
    assert_false(f->r.level);
    linux_configure(f);
    assert_int_equal(in8(f, UART_IIR), 0xc1);
    assert_false(f->r.level);
}

/* serial8250_console_write: IER saved and cleared, each byte after polling
 * LSR for THRE|TEMT, "\n" sent as "\r\n", IER restored. */
static void test_linux_console_write_loop(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    const char *msg = "Linux version 6.1.0-56-amd64\n[    0.000000] Command line: console=ttyS0\n";
    unsigned polls = 0;
    uint8_t ier = in8(f, UART_IER);
    out8(f, UART_IER, 0);
    for (const char *p = msg; *p; p++) {
        for (int k = 0; k < 2; k++) {
            if (k == 0 && *p != '\n')
                continue;
            uint8_t c = k == 0 ? '\r' : (uint8_t)*p;
            polls++;
            while ((in8(f, UART_LSR) & 0x60) != 0x60)
                polls++;
            out8(f, UART_RBR, c);
            f->now += 100;
        }
    }
    while ((in8(f, UART_LSR) & 0x60) != 0x60)
        ;
    out8(f, UART_IER, ier);
    size_t n = strlen(msg) + 2;
    assert_int_equal(f->r.ntx, n);
    assert_int_equal(polls, n); /* THRE was always ready on the first poll */
    assert_memory_equal(f->r.tx, "Linux version 6.1.0-56-amd64\r\n[    0.000000]", 44);
    assert_int_equal(f->r.tx[n - 2], '\r');
    assert_int_equal(f->r.tx[n - 1], '\n');
    assert_int_equal(f->r.calls, 0);
}

/* One pass of serial8250_handle_irq for RX: returns false if IIR says no
 * interrupt. Drains the FIFO into buf. */
static bool linux_isr(struct fx *f, char *buf, size_t *n)
{
    uint8_t iir = in8(f, UART_IIR);
    if (iir & UART_IIR_NONE)
        return false;
    uint8_t lsr = in8(f, UART_LSR);
    unsigned budget = 256;
    while ((lsr & (UART_LSR_DR | UART_LSR_BI)) && budget--) {
        buf[(*n)++] = (char)in8(f, UART_RBR);
        lsr = in8(f, UART_LSR);
    }
    in8(f, UART_MSR);
    return true;
}

static void test_typed_line_arrives_through_timeout_irq(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    const char *typed = "ls -l\r";
    char got[64];
    size_t n = 0;
    for (const char *p = typed; *p; p++) {
        f->now += 150000000; /* 150 ms between keystrokes */
        assert_int_equal(uart_rx(&f->u, (const uint8_t *)p, 1, f->now), 1);
        assert_false(f->r.level); /* below the trigger of 8 */
        uint64_t due = uart_next_event_ns(&f->u, f->now);
        assert_true(due == f->now + CTI_115200_8N1);
        f->now = due; /* the hypervisor wakes at the predicted time */
        uart_tick(&f->u, f->now);
        assert_true(f->r.level);
        f->now += 2000; /* interrupt delivery */
        assert_true(linux_isr(f, got, &n));
        assert_false(f->r.level);
        assert_false(linux_isr(f, got, &n));
    }
    assert_int_equal(n, strlen(typed));
    assert_memory_equal(got, typed, n);
    assert_int_equal(f->r.rises, strlen(typed));
}

static void test_pasted_burst_uses_trigger_then_timeout(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    char got[64];
    size_t n = 0;
    rx_bytes(f, "0123456789");
    assert_true(f->r.level); /* 10 >= 8: RDA at once */
    assert_int_equal(in8(f, UART_IIR), 0xc4);
    assert_true(linux_isr(f, got, &n));
    assert_false(f->r.level);
    assert_int_equal(n, 10);
    /* 12 more: trigger at 8, the ISR takes all 12 */
    rx_bytes(f, "abcdefghijkl");
    assert_true(linux_isr(f, got, &n));
    assert_int_equal(n, 22);
    assert_memory_equal(got, "0123456789abcdefghijkl", 22);
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER);
}

/* ---- save / restore ---------------------------------------------------- */

/* A busy state: RX FIFO with an error-flagged byte, THRE and MSR deltas
 * latched, timeout armed, IRQ high. */
static void make_busy_state(struct fx *f)
{
    linux_configure(f);
    out8(f, UART_IER, 0x0f);
    out8(f, UART_SCR, 0x77);
    rx_bytes(f, "xy");
    uart_rx_break(&f->u, f->now);
    rx_bytes(f, "z");
    uart_set_modem_inputs(&f->u, UART_MSR_DSR | UART_MSR_DCD, f->now);
    in8(f, UART_LSR);
    in8(f, UART_RBR); /* head moves off slot 0 */
    f->now += 1000;
}

/* Runs the same script on a UART and returns a digest of everything it
 * produced (read values, IRQ calls, TX bytes, event times). */
static uint64_t run_script(struct fx *f)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ull)
    for (unsigned step = 0; step < 40; step++) {
        MIX(uart_next_event_ns(&f->u, f->now));
        for (unsigned reg = 0; reg < 8; reg++)
            if (reg != UART_RBR || step % 3 == 0)
                MIX(in8(f, reg));
        if (step % 5 == 0)
            out8(f, UART_RBR, (uint8_t)('a' + step));
        if (step % 7 == 0)
            MIX(uart_rx(&f->u, (const uint8_t *)"ok", 2, f->now));
        if (step == 20)
            out8(f, UART_IER, 0x05);
        f->now += 90000;
        uart_tick(&f->u, f->now);
        MIX(f->r.calls);
        MIX(f->r.level);
        MIX(f->r.ntx);
    }
    for (size_t i = 0; i < f->r.ntx && i < sizeof f->r.tx; i++)
        MIX(f->r.tx[i]);
#undef MIX
    return h;
}

static size_t save_uart(const struct uart *u, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    uart_save(u, &s);
    return s.err ? 0 : sv_len(&s);
}

static void test_save_restore_identical_behaviour(void **st)
{
    struct fx *f = *st;
    make_busy_state(f);
    uint8_t blob[256];
    size_t n = save_uart(&f->u, blob, sizeof blob);
    assert_true(n > 10);

    struct fx *g = test_malloc(sizeof *g);
    fx_init(g);
    g->r.level = f->r.level; /* the far end of the line restores its own level */
    g->now = f->now;
    struct sv s;
    sv_init_read(&s, blob, n);
    assert_int_equal(uart_restore(&g->u, &s), 0);
    assert_int_equal(sv_len(&s), n);
    assert_int_equal(g->r.calls, 0); /* restore never drives the sink */

    uint8_t blob2[256];
    assert_int_equal(save_uart(&g->u, blob2, sizeof blob2), n);
    assert_memory_equal(blob, blob2, n);

    unsigned fcalls = f->r.calls;
    size_t ftx = f->r.ntx;
    f->r.calls = 0;
    f->r.ntx = 0;
    uint64_t a = run_script(f);
    uint64_t b = run_script(g);
    assert_true(a == b);
    assert_true(f->r.calls > 0 && f->r.ntx > 0);
    (void)fcalls;
    (void)ftx;
    assert_int_equal(g->r.no_change, 0);
    test_free(g);
}

static void test_restore_keeps_fifo_contents_and_wiring(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x01);
    rx_bytes(f, "abc");
    in8(f, UART_RBR);
    uint8_t blob[256];
    size_t n = save_uart(&f->u, blob, sizeof blob);
    in8(f, UART_RBR);
    in8(f, UART_RBR);
    rx_bytes(f, "QRSTUVWXYZ");
    struct sv s;
    sv_init_read(&s, blob, n);
    assert_int_equal(uart_restore(&f->u, &s), 0);
    assert_ptr_equal(f->u.irq.ctx, &f->r);
    assert_ptr_equal(f->u.tx_ctx, &f->r);
    assert_int_equal(f->u.irq_line, LINE);
    assert_int_equal(uart_rx_space(&f->u), 14);
    assert_int_equal(in8(f, UART_RBR), 'b');
    assert_int_equal(in8(f, UART_RBR), 'c');
    assert_int_equal(in8(f, UART_LSR), 0x60);
    out8(f, UART_RBR, '!');
    assert_int_equal(f->r.tx[f->r.ntx - 1], '!');
}

static int try_restore(struct fx *f, const uint8_t *blob, size_t n)
{
    struct sv s;
    sv_init_read(&s, blob, n);
    return uart_restore(&f->u, &s);
}

/* Payload offsets in the version-1 layout (after the 10-byte header). */
enum { P_IER = 10, P_MCR = 12, P_FCR = 16, P_MSR = 18, P_THRE = 21, P_IRQ = 23, P_COUNT = 32 };

static void test_restore_keeps_latched_timeout(void **st)
{
    struct fx *f = *st;
    linux_configure(f);
    rx_bytes(f, "a");
    f->now = T0 + CTI_115200_8N1;
    uart_tick(&f->u, f->now);
    assert_true(f->r.level); /* only the timeout is pending */
    /* a slower rate now puts any fresh deadline far in the future: the
     * latched indication has to survive save/restore on its own */
    out8(f, UART_LCR, 0x83);
    out8(f, UART_RBR, 0x00);
    out8(f, UART_IER, 0x09);
    out8(f, UART_LCR, 0x03);
    assert_true(f->r.level);
    uint8_t blob[256];
    size_t n = save_uart(&f->u, blob, sizeof blob);
    out8(f, UART_IER, 0x00);
    in8(f, UART_RBR);
    assert_false(f->r.level);
    f->r.level = true; /* as the PIC pin would be after its own restore */
    assert_int_equal(try_restore(f, blob, n), 0);
    assert_true(uart_irq_level(&f->u));
    assert_int_equal(in8(f, UART_IIR), 0xcc);
    assert_int_equal(in8(f, UART_RBR), 'a');
    assert_false(f->r.level);
}

static void test_corrupt_restore_rejected(void **st)
{
    struct fx *f = *st;
    make_busy_state(f);
    uint8_t good[256], bad[256];
    size_t n = save_uart(&f->u, good, sizeof good);
    assert_int_equal(good[P_COUNT], 3);
    uint8_t before[256];
    size_t nb = save_uart(&f->u, before, sizeof before);

    for (size_t len = 0; len < n; len++) /* every truncation */
        assert_int_equal(try_restore(f, good, len), -1);

    static const struct {
        size_t off;
        uint8_t val;
    } edits[] = {
        {0, 'X'},            /* tag */
        {4, 2},              /* version from the future */
        {4, 0},              /* version 0 */
        {P_IER, 0x1f},       /* IER reserved bit */
        {P_MCR, 0x2b},       /* MCR reserved bit */
        {P_FCR, 0x83},       /* FCR reset bits are never stored */
        {P_MSR, 0x30},       /* MSR lines disagree with modem inputs */
        {P_THRE, 2},         /* bool that is not 0/1 */
        {P_IRQ, 0},          /* IRQ level inconsistent with the state */
        {P_COUNT, 17},       /* more bytes than the FIFO holds */
        {P_COUNT, 4},        /* count disagrees with the payload length */
        {P_COUNT + 2, 0x02}, /* OE is not a per-character flag */
    };
    for (unsigned i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(bad, good, n);
        bad[edits[i].off] = edits[i].val;
        assert_int_equal(try_restore(f, bad, n), -1);
    }
    /* extra payload byte with a matching length: rejected too */
    memcpy(bad, good, n);
    bad[n] = 0;
    bad[6]++;
    assert_int_equal(try_restore(f, bad, n + 1), -1);

    /* well-formed entries with a matching length, but more than the FIFO
     * holds: rejected before any of them is stored */
    static const uint8_t counts[] = {17, 255};
    for (unsigned c = 0; c < 2; c++) {
        uint8_t big[1024] = {0};
        memcpy(big, good, P_COUNT);
        big[P_COUNT] = counts[c];
        size_t total = P_COUNT + 1 + 2u * counts[c];
        uint32_t plen = (uint32_t)(total - 10);
        for (unsigned i = 0; i < 4; i++)
            big[6 + i] = (uint8_t)(plen >> (8 * i));
        assert_int_equal(try_restore(f, big, total), -1);
    }

    /* the live state is untouched by every failure */
    uint8_t after[256];
    assert_int_equal(save_uart(&f->u, after, sizeof after), nb);
    assert_memory_equal(before, after, nb);
    assert_int_equal(try_restore(f, good, n), 0);
}

static void test_16450_count_limit_on_restore(void **st)
{
    struct fx *f = *st;
    out8(f, UART_IIR, 0x01);
    rx_bytes(f, "ab");
    uint8_t blob[256];
    size_t n = save_uart(&f->u, blob, sizeof blob);
    blob[P_FCR] = 0x00; /* 16450 mode cannot hold two bytes */
    assert_int_equal(try_restore(f, blob, n), -1);
}

static void test_reset_drops_irq_keeps_modem_inputs(void **st)
{
    struct fx *f = *st;
    make_busy_state(f);
    assert_true(f->r.level);
    uart_reset(&f->u);
    assert_false(f->r.level);
    assert_int_equal(in8(f, UART_IIR), 0x01);
    assert_int_equal(in8(f, UART_LSR), 0x60);
    assert_int_equal(in8(f, UART_MSR), 0xa0); /* CTS still low at the pin */
    assert_int_equal(in8(f, UART_SCR), 0);
    assert_true(uart_next_event_ns(&f->u, f->now) == TIME_NEVER);
}

/* Random register traffic, host input and time steps. Returns a digest of
 * every output; `check` also asserts invariants after each step. */
static uint64_t random_ops(struct fx *f, uint64_t *seed, unsigned steps)
{
    uint64_t h = 1469598103934665603ull;
#define MIXR(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ull)
    for (unsigned i = 0; i < steps; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(*seed >> 33);
        unsigned reg = r & 7, op = (r >> 3) % 16;
        uint8_t val = (uint8_t)(r >> 8);
        if (op < 7) {
            MIXR(in8(f, reg));
        } else if (op < 11) {
            if (reg == UART_MCR && (val & 0x10) && (r >> 20) % 4)
                val &= (uint8_t)~0x10; /* spend less time in loopback */
            out8(f, reg, val);
        } else if (op == 11) {
            uint8_t buf[5] = {val, (uint8_t)(val + 1), (uint8_t)(val + 2), 'x', 'y'};
            MIXR(uart_rx(&f->u, buf, (r >> 16) % 6, f->now));
        } else if (op == 12) {
            MIXR(uart_rx_break(&f->u, f->now));
        } else if (op == 13) {
            uart_set_modem_inputs(&f->u, val, f->now);
        } else {
            f->now += (r >> 12) % 400000;
            uart_tick(&f->u, f->now);
        }
        MIXR(uart_next_event_ns(&f->u, f->now));
        MIXR(f->r.calls);
        MIXR(f->r.level);
        MIXR(f->r.ntx);
        assert_int_equal(f->r.level, uart_irq_level(&f->u));
        assert_int_equal(f->r.no_change, 0);
    }
    for (size_t i = 0; i < f->r.ntx && i < sizeof f->r.tx; i++)
        MIXR(f->r.tx[i]);
#undef MIXR
    return h;
}

static void test_random_traffic_save_restore_equivalence(void **st)
{
    (void)st;
    struct fx *a = test_malloc(sizeof *a), *b = test_malloc(sizeof *b);
    for (uint64_t s0 = 1; s0 <= 40; s0++) {
        fx_init(a);
        fx_init(b);
        uint64_t seed = s0;
        random_ops(a, &seed, 50 + (unsigned)(s0 * 7) % 200);
        uint8_t blob[256], blob2[256];
        size_t n = save_uart(&a->u, blob, sizeof blob);
        assert_true(n > 0);
        struct sv s;
        sv_init_read(&s, blob, n);
        assert_int_equal(uart_restore(&b->u, &s), 0);
        assert_int_equal(save_uart(&b->u, blob2, sizeof blob2), n);
        assert_memory_equal(blob, blob2, n);
        b->r.level = a->r.level;
        b->now = a->now;
        a->r.calls = 0;
        a->r.ntx = 0;
        uint64_t seed_a = seed, seed_b = seed;
        assert_true(random_ops(a, &seed_a, 300) == random_ops(b, &seed_b, 300));
        /* and the two end in the same state */
        n = save_uart(&a->u, blob, sizeof blob);
        assert_int_equal(save_uart(&b->u, blob2, sizeof blob2), n);
        assert_memory_equal(blob, blob2, n);
    }
    test_free(a);
    test_free(b);
}

/* ---- wiring in the per-VM device set ----------------------------------- */

struct vm_obs {
    unsigned irq4_calls;
    bool irq4;
    uint64_t irq4_time;
    char tx[64];
    size_t ntx;
};

static void obs_irq(void *ctx, unsigned irq, bool level, uint64_t now_ns)
{
    struct vm_obs *o = ctx;
    if (irq != 4)
        return;
    o->irq4_calls++;
    o->irq4 = level;
    o->irq4_time = now_ns;
}

static void obs_tx(void *ctx, uint8_t b)
{
    struct vm_obs *o = ctx;
    if (o->ntx < sizeof o->tx)
        o->tx[o->ntx++] = (char)b;
}

static void vm_out(struct vm_devices *d, uint16_t port, uint8_t v, uint64_t now)
{
    uint32_t x = v;
    assert_int_equal(vm_devices_io(d, port, 1, true, &x, now), DEV_IO_OK);
}

static uint8_t vm_in(struct vm_devices *d, uint16_t port, uint64_t now)
{
    uint32_t x = 0;
    assert_int_equal(vm_devices_io(d, port, 1, false, &x, now), DEV_IO_OK);
    return (uint8_t)x;
}

static void test_vm_devices_com1_wiring(void **st)
{
    (void)st;
    struct vm_obs o = {0};
    const struct vm_devices_hooks hooks = {.irq_line = obs_irq, .com1_tx = obs_tx, .ctx = &o};
    struct vm_devices *d = test_malloc(sizeof *d);
    vm_devices_init(d, NULL, &hooks, 0);
    uint64_t t = T0;
    static const uint8_t setup_seq[][2] = {{3, 0x83}, {0, 0x01}, {1, 0x00}, {3, 0x03},
                                           {2, 0x01}, {2, 0x81}, {4, 0x0b}, {1, 0x05}};
    for (unsigned i = 0; i < sizeof setup_seq / sizeof setup_seq[0]; i++)
        vm_out(d, (uint16_t)(0x3f8 + setup_seq[i][0]), setup_seq[i][1], t);
    assert_int_equal(vm_in(d, 0x3fa, t), 0xc1);
    for (const char *p = "ok\r\n"; *p; p++) {
        assert_int_equal(vm_in(d, 0x3fd, t) & 0x60, 0x60);
        vm_out(d, 0x3f8, (uint8_t)*p, t);
    }
    assert_int_equal(o.ntx, 4);
    assert_memory_equal(o.tx, "ok\r\n", 4);
    /* a typed key: IRQ 4 rises at the timeout the device set predicts */
    assert_int_equal(vm_devices_com1_rx(d, (const uint8_t *)"y", 1, t), 1);
    assert_int_equal(o.irq4_calls, 0);
    uint64_t due = t + CTI_115200_8N1;
    assert_true(vm_devices_next_event_ns(d, t) <= due);
    vm_devices_advance(d, due - 1);
    assert_false(o.irq4);
    vm_devices_advance(d, due);
    assert_true(o.irq4);
    assert_true(o.irq4_time == due);
    assert_int_equal(vm_in(d, 0x3fa, due + 10), 0xcc);
    assert_int_equal(vm_in(d, 0x3f8, due + 20), 'y');
    assert_false(o.irq4);
    assert_int_equal(o.irq4_calls, 2);
    test_free(d);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_power_on_values),
        T(test_bad_sizes_rejected),
        T(test_port_decode_uses_low_3_bits),
        T(test_ier_reserved_bits_read_zero),
        T(test_mcr_reserved_bits_read_zero),
        T(test_lcr_and_scr_hold_all_bits),
        T(test_divisor_latch_behind_dlab),
        T(test_lsr_and_msr_writes_ignored),
        T(test_iir_fifo_bits),
        T(test_fifo_holds_16_in_order),
        T(test_16450_mode_single_holding_register),
        T(test_16450_break_has_no_fifo_error_bit),
        T(test_empty_rbr_reads_last_byte),
        T(test_fifo_enable_toggle_clears),
        T(test_fcr_rx_reset_and_tx_reset),
        T(test_rx_trigger_levels),
        T(test_thre_raised_when_etbei_enabled),
        T(test_thre_cleared_by_iir_read_and_set_by_thr_write),
        T(test_thre_kept_when_not_the_source),
        T(test_thre_latched_while_masked),
        T(test_linux_thre_reassert_test),
        T(test_iir_priority_order),
        T(test_disabled_sources_not_reported),
        T(test_char_timeout_formula),
        T(test_char_timeout_at_exact_time),
        T(test_char_timeout_without_tick),
        T(test_char_timeout_restarts_on_activity),
        T(test_char_timeout_follows_baud_rate),
        T(test_divisor_change_latches_overdue_timeout),
        T(test_no_timeout_in_16450_mode),
        T(test_next_event_only_when_it_would_raise_irq),
        T(test_overrun_fifo_mode_loses_new_byte),
        T(test_overrun_16450_mode_overwrites),
        T(test_break_errors_follow_their_character),
        T(test_host_break_raises_line_status_irq),
        T(test_loopback_tx_goes_to_rx),
        T(test_loopback_modem_lines),
        T(test_msr_deltas_set_and_cleared_by_read),
        T(test_loopback_deltas_and_msi),
        T(test_out2_gates_irq_line),
        T(test_loopback_gates_irq_line),
        T(test_sink_called_only_on_change),
        T(test_linux_autoconfig_finds_16550a),
        T(test_linux_startup_sequence),
        T(test_linux_console_write_loop),
        T(test_typed_line_arrives_through_timeout_irq),
        T(test_pasted_burst_uses_trigger_then_timeout),
        T(test_save_restore_identical_behaviour),
        T(test_restore_keeps_fifo_contents_and_wiring),
        T(test_restore_keeps_latched_timeout),
        T(test_corrupt_restore_rejected),
        T(test_16450_count_limit_on_restore),
        T(test_reset_drops_irq_keeps_modem_inputs),
        cmocka_unit_test(test_random_traffic_save_restore_equivalence),
        cmocka_unit_test(test_vm_devices_com1_wiring),
    };
    return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
