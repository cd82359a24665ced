/* Seeded bugs: a deliberately wrong PIC, PIT and UART (host-sim/seed_bugs.c,
 * test-only wrappers around the real models) must be caught by replaying a
 * corpus trace, at the record where the bug first shows. The expected record
 * is derived from the trace itself, from what the bug breaks:
 *   pic_eoi   the first device call (port access or acknowledge) after the
 *             first INTR rise that follows the first specific EOI for IR0
 *             (IR0 still in service); exits that call no device (an
 *             interrupt window) are skipped
 *   pit_bcd   the first IN from channel 2 (0x42): counting in BCD
 *   uart_thre the first IER read after a write with ETBEI set
 * Run from the repository root (make unit does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "host-sim/seed_bugs.h"

static const char *const scripted[] = {"corpus/linux-boot-quiet.hvt", "corpus/serial-shell.hvt",
                                       NULL};
/* Debian's Linux booting under the hypervisor on Bochs (a real capture). */
static const char *const real_linux[] = {"corpus/hv-bochs-linux-boot.hvt", NULL};

struct expect_scan {
    enum seed_bug bug;
    int phase;
    uint64_t rec;
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

static int scan_expect(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct expect_scan *e = ctx;
    switch (e->bug) {
    case SEED_BUG_PIC_EOI:
        if (e->phase == 0 && io_is(it, 0x20, true) && it->u.exit.u.io.value == 0x60)
            e->phase = 1;
        else if (e->phase == 1 && it->type == TRACE_ITEM_DEV && it->u.dev.kind == TRACE_DEV_INTR &&
                 it->u.dev.u.intr.level)
            e->phase = 2;
        else if (e->phase == 2 && is_device_call(it))
            goto found;
        return 0;
    case SEED_BUG_PIT_BCD:
        if (io_is(it, 0x42, false))
            goto found;
        return 0;
    case SEED_BUG_UART_THRE:
        if (io_is(it, 0x3f9, true) && (it->u.exit.u.io.value & 0x02))
            e->phase = 1;
        else if (e->phase == 1 && io_is(it, 0x3f9, false))
            goto found;
        return 0;
    default: return 1;
    }
found:
    e->rec = rec;
    e->found = true;
    return 1;
}

static void check_bug(enum seed_bug bug, const char *device, const char *const *traces)
{
    for (size_t t = 0; traces[t]; t++) {
        struct trace_membuf m;
        assert_int_equal(rt_load(traces[t], &m), 0);
        struct expect_scan e = {.bug = bug};
        rt_scan(&m, scan_expect, &e);
        assert_true(e.found);

        struct replay_opts o = {.stop_at_first = true, .patch = seed_bug_patch, .patch_ctx = &bug};
        struct replay_stats st;
        char *text;
        assert_int_equal(rt_replay(&m, &o, &st, &text), 0);
        if (st.first_record != e.rec)
            fprintf(stderr, "%s: expected divergence at record %llu\n%s", traces[t],
                    (unsigned long long)e.rec, text);
        assert_int_equal(st.divergences, 1);
        assert_int_equal(st.first_record, e.rec);
        char want[64];
        snprintf(want, sizeof want, "device   %s\n", device);
        assert_non_null(strstr(text, want));
        free(text);

        /* the same trace with the real models: clean */
        struct replay_opts good = {0};
        assert_int_equal(rt_replay(&m, &good, &st, NULL), 0);
        assert_int_equal(st.divergences, 0);
        trace_membuf_free(&m);
    }
}

static void test_pic_eoi_bug_caught(void **state)
{
    (void)state;
    check_bug(SEED_BUG_PIC_EOI, "pic", scripted);
}

/* Linux acknowledges IRQ0 with a specific EOI (0x60): the lost EOI leaves
 * IR0 in service, and the next timer tick's INTR never rises. */
static void test_pic_eoi_bug_caught_on_real_linux(void **state)
{
    (void)state;
    check_bug(SEED_BUG_PIC_EOI, "pic", real_linux);
}

static void test_pit_bcd_bug_caught(void **state)
{
    (void)state;
    check_bug(SEED_BUG_PIT_BCD, "pit", scripted);
}

static void test_uart_thre_bug_caught(void **state)
{
    (void)state;
    check_bug(SEED_BUG_UART_THRE, "com1", scripted);
}

/* The 8250 driver checks that IER reads back what it wrote (THRI set). */
static void test_uart_thre_bug_caught_on_real_linux(void **state)
{
    (void)state;
    check_bug(SEED_BUG_UART_THRE, "com1", real_linux);
}

/* On the real capture of the pit test guest (hypervisor under Bochs) the
 * PIT bug shows as IRQ0 timing: BCD counting changes channel 0's period, so
 * IRQ0 edges come at other times than recorded (outputs carry the time of
 * the device call that produced them, so a changed period shows once an
 * edge lands in another call). It must be reported after channel 0 is
 * programmed, and at the latest at the next checkpoint (the PIT's state
 * holds its counting mode). */
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

static void test_pit_bcd_bug_caught_on_real_capture(void **state)
{
    (void)state;
    struct trace_membuf m;
    assert_int_equal(rt_load("corpus/hv-bochs-pit-guest.hvt", &m), 0);
    struct real_scan rs = {0};
    rt_scan(&m, scan_real, &rs);
    assert_int_equal(rs.phase, 2);
    enum seed_bug bug = SEED_BUG_PIT_BCD;
    struct replay_opts o = {.stop_at_first = true, .patch = seed_bug_patch, .patch_ctx = &bug};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&m, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_true(st.first_record > rs.programmed);
    assert_true(st.first_record <= rs.bound);
    assert_non_null(strstr(text, "IRQ0 (pit)"));
    free(text);
    trace_membuf_free(&m);
}

static void test_seed_bug_names(void **state)
{
    (void)state;
    assert_int_equal(seed_bug_by_name("pic_eoi"), SEED_BUG_PIC_EOI);
    assert_int_equal(seed_bug_by_name("pit_bcd"), SEED_BUG_PIT_BCD);
    assert_int_equal(seed_bug_by_name("uart_thre"), SEED_BUG_UART_THRE);
    assert_int_equal(seed_bug_by_name("nope"), SEED_BUG_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pic_eoi_bug_caught),
        cmocka_unit_test(test_pit_bcd_bug_caught),
        cmocka_unit_test(test_uart_thre_bug_caught),
        cmocka_unit_test(test_pit_bcd_bug_caught_on_real_capture),
        cmocka_unit_test(test_pic_eoi_bug_caught_on_real_linux),
        cmocka_unit_test(test_uart_thre_bug_caught_on_real_linux),
        cmocka_unit_test(test_seed_bug_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
