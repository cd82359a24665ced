/* Seeded bugs: one-line mutants of the PIT, PIC and UART from tests/mutants/
 * (each linked as a renamed copy of hv/devs, tests/tests.mk SEEDED_MUTANTS)
 * must be caught by replaying corpus traces, at the record where the bug
 * first shows. The expected record is derived from the trace itself, from
 * what the mutant breaks:
 *   pit-mode2-low-at-reload     mode 2 OUT goes low one clock late: the
 *                               first IRQ0 fall recorded on its own (OUT0
 *                               seen low, not a fall and rise at one TSC)
 *                               after channel 0 is set to mode 2 is missing
 *                               at the next device call (port access,
 *                               acknowledge, UART input)
 *   pic-specific-eoi-rotates    a specific EOI (0x60+IR) also sets the
 *                               lowest priority: the PIC state differs at
 *                               the first checkpoint after the first
 *                               specific EOI of an IR other than 7
 *   uart-msr-read-clears-lines  an MSR read clears the line bits 7-4 too:
 *                               the next MSR read after one that saw a line
 *                               active differs
 * Run from the repository root (make unit does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host-sim/replay_testutil.h"

DECLARE_MUTANT(pit_mode2_low_at_reload);
DECLARE_MUTANT(pic_specific_eoi_rotates);
DECLARE_MUTANT(uart_msr_read_clears_lines);

enum rule { RULE_IRQ0_FALL, RULE_EOI_ROTATE, RULE_MSR_REREAD };

struct bug {
    const char *name;
    const struct vm_devices_ops *ops;
    enum rule rule;
    const char *report; /* text the divergence report must hold */
};

static const struct bug pit_bug = {
    "pit-mode2-low-at-reload", &MUTANT_OPS(pit_mode2_low_at_reload), RULE_IRQ0_FALL,
    "device   pit\n  register PIC input pin\n  expected IRQ0 (pit) -> low"};
static const struct bug pic_bug = {"pic-specific-eoi-rotates",
                                   &MUTANT_OPS(pic_specific_eoi_rotates), RULE_EOI_ROTATE,
                                   "field    pic.chip[0].lowest expected 7 actual 0"};
static const struct bug uart_bug = {"uart-msr-read-clears-lines",
                                    &MUTANT_OPS(uart_msr_read_clears_lines), RULE_MSR_REREAD,
                                    "device   com1\n  register uart MSR (0x3fe)"};

static const char *const scripted[] = {"corpus/linux-boot-quiet.hvt", "corpus/serial-shell.hvt",
                                       NULL};
/* Debian's Linux booting under the hypervisor on Bochs (a real capture). */
static const char *const real_linux[] = {"corpus/hv-bochs-linux-boot.hvt", NULL};

struct expect_scan {
    enum rule rule;
    int phase;
    uint64_t rec, fall_tsc;
    bool found;
};

/* A record the replay re-issues to the devices: a port access, an interrupt
 * acknowledge, host bytes for a UART. */
static bool is_device_call(const struct trace_item *it)
{
    if (it->type == TRACE_ITEM_EXIT)
        return it->u.exit.detail == TRACE_DETAIL_IO;
    return it->type == TRACE_ITEM_DEV &&
           (it->u.dev.kind == TRACE_DEV_INJECT || it->u.dev.kind == TRACE_DEV_UART_RX);
}

static bool io_is(const struct trace_item *it, uint16_t port, bool write)
{
    return it->type == TRACE_ITEM_EXIT && it->u.exit.detail == TRACE_DETAIL_IO &&
           it->u.exit.u.io.port == port && it->u.exit.u.io.write == write;
}

static bool is_irq0(const struct trace_item *it, bool level)
{
    return it->type == TRACE_ITEM_DEV && it->u.dev.kind == TRACE_DEV_IRQ_LINE &&
           it->u.dev.u.irq.irq == 0 && it->u.dev.u.irq.level == level;
}

static int scan_expect(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct expect_scan *e = ctx;
    switch (e->rule) {
    case RULE_IRQ0_FALL:
        /* A fall and a rise at one TSC are a whole low clock between two
         * calls, delivered as one edge; a fall on its own is OUT0 seen low. */
        if (e->phase == 3 && is_irq0(it, true) && it->u.dev.tsc == e->fall_tsc)
            e->phase = 1;
        else if (e->phase == 3 && is_device_call(it))
            goto found;
        else if (io_is(it, 0x43, true) && (it->u.exit.u.io.value & 0xc0) == 0) /* channel 0 */
            e->phase = ((it->u.exit.u.io.value >> 1) & 3) == 2 ? 1 : 0;        /* mode 2 or 6 */
        else if (e->phase == 1 && is_irq0(it, false)) {
            e->phase = 3;
            e->fall_tsc = it->u.dev.tsc;
        }
        return 0;
    case RULE_EOI_ROTATE:
        if (e->phase == 0 && (io_is(it, 0x20, true) || io_is(it, 0xa0, true)) &&
            it->u.exit.u.io.value >= 0x60 && it->u.exit.u.io.value <= 0x66)
            e->phase = 1;
        else if (e->phase == 1 && it->type == TRACE_ITEM_CHECKPOINT)
            goto found;
        return 0;
    case RULE_MSR_REREAD:
        if (e->phase == 0 && io_is(it, 0x3fe, false) && (it->u.exit.u.io.value & 0xf0))
            e->phase = 1;
        else if (e->phase == 1 && io_is(it, 0x3fe, false))
            goto found;
        return 0;
    }
    return 1;
found:
    e->rec = rec;
    e->found = true;
    return 1;
}

static void check_bug(const struct bug *bug, const char *const *traces)
{
    for (size_t t = 0; traces[t]; t++) {
        struct trace_membuf m;
        assert_int_equal(rt_load(traces[t], &m), 0);
        struct expect_scan e = {.rule = bug->rule};
        rt_scan(&m, scan_expect, &e);
        assert_true(e.found);

        struct replay_opts o = {.stop_at_first = true, .devs = bug->ops};
        struct replay_stats st;
        char *text;
        assert_int_equal(rt_replay(&m, &o, &st, &text), 0);
        if (st.first_record != e.rec || !strstr(text, bug->report))
            fprintf(stderr, "%s, mutant %s: expected divergence at record %llu (\"%s\")\n%s",
                    traces[t], bug->name, (unsigned long long)e.rec, bug->report, text);
        assert_int_equal(st.divergences, 1);
        assert_int_equal(st.first_record, e.rec);
        assert_non_null(strstr(text, bug->report));
        free(text);

        /* the same trace with the real models: clean */
        struct replay_opts good = {0};
        assert_int_equal(rt_replay(&m, &good, &st, NULL), 0);
        assert_int_equal(st.divergences, 0);
        trace_membuf_free(&m);
    }
}

static void test_pit_mode2_bug_caught(void **state)
{
    (void)state;
    check_bug(&pit_bug, scripted);
}

/* Linux keeps IRQ0 in mode 2 until the TSC deadline/LAPIC timer takes over
 * (none here): every tick's fall is one PIT clock late with the mutant. */
static void test_pit_mode2_bug_caught_on_real_linux(void **state)
{
    (void)state;
    check_bug(&pit_bug, real_linux);
}

static void test_pic_eoi_rotate_bug_caught(void **state)
{
    (void)state;
    check_bug(&pic_bug, scripted);
}

/* Linux acknowledges IRQ0 with a specific EOI (0x60). */
static void test_pic_eoi_rotate_bug_caught_on_real_linux(void **state)
{
    (void)state;
    check_bug(&pic_bug, real_linux);
}

static void test_uart_msr_bug_caught(void **state)
{
    (void)state;
    check_bug(&uart_bug, scripted);
}

/* The 8250 driver reads MSR when it sets the port up and on every modem
 * status check. */
static void test_uart_msr_bug_caught_on_real_linux(void **state)
{
    (void)state;
    check_bug(&uart_bug, real_linux);
}

/* On the real capture of the pit test guest (hypervisor under Bochs) the
 * mode 2 bug shows as IRQ0 timing: OUT0 falls one PIT clock later, so the
 * recorded fall of IRQ0 comes at another time than the model's. It must be
 * reported after channel 0 is programmed, and at the latest at the next
 * checkpoint (the PIT's state holds the segment). */
struct real_scan {
    int phase;
    uint64_t programmed, bound;
};

static int scan_real(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct real_scan *r = ctx;
    if (r->phase == 0 && io_is(it, 0x43, true) && (it->u.exit.u.io.value & 0xc0) == 0) {
        r->programmed = rec;
        r->phase = 1;
    } else if (r->phase == 1 && it->type == TRACE_ITEM_CHECKPOINT) {
        r->bound = rec;
        r->phase = 2;
        return 1;
    }
    return 0;
}

static void test_pit_mode2_bug_caught_on_real_capture(void **state)
{
    (void)state;
    struct trace_membuf m;
    assert_int_equal(rt_load("corpus/hv-bochs-pit-guest.hvt", &m), 0);
    struct real_scan rs = {0};
    rt_scan(&m, scan_real, &rs);
    assert_int_equal(rs.phase, 2);
    struct replay_opts o = {.stop_at_first = true, .devs = pit_bug.ops};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&m, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_true(st.first_record > rs.programmed);
    assert_true(st.first_record <= rs.bound);
    assert_non_null(strstr(text, "IRQ0 (pit) -> low"));
    free(text);
    trace_membuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pit_mode2_bug_caught),
        cmocka_unit_test(test_pic_eoi_rotate_bug_caught),
        cmocka_unit_test(test_uart_msr_bug_caught),
        cmocka_unit_test(test_pit_mode2_bug_caught_on_real_capture),
        cmocka_unit_test(test_pit_mode2_bug_caught_on_real_linux),
        cmocka_unit_test(test_pic_eoi_rotate_bug_caught_on_real_linux),
        cmocka_unit_test(test_uart_msr_bug_caught_on_real_linux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
