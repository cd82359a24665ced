/* Record checks of the trace reader (trace_validate.c and the sequence
 * checks in trace_reader.c): crafted traces (trace/trace_craft.c: valid
 * framing, one impossible record, written by the project's writer) must give
 * exactly one TRACE_DMG_RECORD report naming the frame and the record, and
 * the record must not be handed out; good traces give none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace/trace_craft.h"
#include "trace/trace_reader.h"

struct seen {
    size_t damage, record_damage, exits;
    struct trace_item first; /* the first damage item */
    bool bad_value_seen;     /* an IO exit with a value wider than its size came out */
};

static void read_all(const uint8_t *buf, size_t len, struct seen *s)
{
    memset(s, 0, sizeof *s);
    struct trace_reader *r = trace_reader_new();
    assert_non_null(r);
    assert_int_equal(trace_reader_feed(r, buf, len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    int rc;
    while ((rc = trace_reader_next(r, &it)) == TRACE_R_ITEM) {
        if (it.type == TRACE_ITEM_DAMAGE) {
            if (!s->damage)
                s->first = it;
            s->damage++;
            s->record_damage += it.u.damage.kind == TRACE_DMG_RECORD;
        } else if (it.type == TRACE_ITEM_EXIT) {
            s->exits++;
            const struct trace_exit *e = &it.u.exit;
            if (e->detail == TRACE_DETAIL_IO &&
                (e->u.io.size == 255 || (e->u.io.size == 1 && e->u.io.value > 0xff) ||
                 (e->u.io.size == 2 && e->u.io.value > 0xffff)))
                s->bad_value_seen = true;
        }
    }
    assert_int_equal(rc, TRACE_R_END);
    trace_reader_free(r);
}

static void crafted(const char *kind, struct seen *s)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(trace_craft(kind, 1, 2000, 500, NULL, 0, &buf, &len), 0);
    read_all(buf, len, s);
    free(buf);
}

static void expect_one(const char *kind, const char *msg, size_t exits)
{
    struct seen s;
    crafted(kind, &s);
    assert_int_equal(s.damage, 1);
    assert_int_equal(s.record_damage, 1);
    assert_int_equal(s.exits, exits);
    assert_false(s.bad_value_seen);
    const struct trace_damage *d = &s.first.u.damage;
    assert_true(d->offset > 0); /* the byte offset of the record's frame */
    assert_int_equal(d->offset, s.first.offset);
    assert_int_equal(d->lost_frames, 0);
    assert_non_null(strstr(d->msg, "frame "));
    assert_non_null(strstr(d->msg, "payload offset "));
    if (!strstr(d->msg, msg))
        fail_msg("%s: '%s' lacks '%s'", kind, d->msg, msg);
}

static void test_good_trace_has_no_reports(void **state)
{
    (void)state;
    struct seen s;
    crafted("dev-names", &s); /* odd names are not a record fault */
    assert_int_equal(s.damage, 0);
    assert_int_equal(s.exits, 2000);
}

static void test_io_fields(void **state)
{
    (void)state;
    expect_one("io-value", "value 0x12345678 wider than the access size 1; record dropped", 1999);
    expect_one("out-wide", "value 0x12345 wider than the access size 2", 1999);
    expect_one("io-size", "port access of size 255", 1999);
}

static void test_context(void **state)
{
    (void)state;
    expect_one("reason-detail", "exit reason CPUID (10) contradicts its detail (port I/O)", 1999);
    expect_one("vcpu", "vCPU 7 of a 1-vCPU VM", 1999);
    expect_one("dev-irq", "IRQ line 200", 2000);
}

static void test_sequence(void **state)
{
    (void)state;
    /* a gap: reported, then the exit after it is handed out */
    expect_one("seq-gap", "exits 1000..1002 missing", 2000);
    expect_one("seq-back", "where 1000 is next; record dropped", 1999);
}

static void test_check_functions(void **state)
{
    (void)state;
    char why[128];
    struct trace_exit e = {.reason = TRACE_EXIT_IO_INSTRUCTION, .detail = TRACE_DETAIL_IO};
    static const uint8_t sizes[] = {1, 2, 4};
    for (unsigned i = 0; i < 3; i++) {
        e.u.io.size = sizes[i];
        e.u.io.value = sizes[i] == 4 ? 0xffffffffu : (1u << (8 * sizes[i])) - 1;
        assert_true(trace_check_exit(&e, 1, why, sizeof why));
        if (sizes[i] < 4) {
            e.u.io.value += 1;
            assert_false(trace_check_exit(&e, 1, why, sizeof why));
        }
    }
    e.u.io.size = 3;
    e.u.io.value = 0;
    assert_false(trace_check_exit(&e, 1, why, sizeof why));
    e.u.io.size = 0; /* what the reader makes of a size or port beyond its field */
    assert_false(trace_check_exit(&e, 1, why, sizeof why));
    /* RDMSR detail on a WRMSR exit, and the right pairs */
    struct trace_exit m = {.reason = TRACE_EXIT_WRMSR, .detail = TRACE_DETAIL_MSR};
    assert_false(trace_check_exit(&m, 1, why, sizeof why));
    m.u.msr.write = true;
    assert_true(trace_check_exit(&m, 1, why, sizeof why));
    struct trace_exit n = {.reason = TRACE_EXIT_HLT, .vcpu = 3};
    assert_true(trace_check_exit(&n, 0, why, sizeof why)); /* vCPU count unknown */
    assert_true(trace_check_exit(&n, 4, why, sizeof why));
    assert_false(trace_check_exit(&n, 3, why, sizeof why));
    struct trace_dev_event d = {.kind = TRACE_DEV_REQUEST};
    d.u.request.what = 2;
    assert_true(trace_check_dev(&d, 1, why, sizeof why));
    d.u.request.what = 3; /* isa-debug-exit */
    assert_true(trace_check_dev(&d, 1, why, sizeof why));
    d.u.request.what = 4;
    assert_false(trace_check_dev(&d, 1, why, sizeof why));
    d.u.request.what = 0;
    assert_false(trace_check_dev(&d, 1, why, sizeof why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_trace_has_no_reports),
        cmocka_unit_test(test_io_fields),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_check_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
