/* Replay runs the exit policy on the recorded inputs (VmConfig.
 * policy_records, host-sim/replay_policy.h, docs/replay.md): a scripted
 * guest's trace and the real captures replay clean with every entry, IN /
 * string I/O exit and HLT compared; a recorded output changed by one bit or
 * one TSC tick is reported at its place; a trace whose header does not
 * have the flag is not checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "host-sim/scenario.h"

static struct trace_membuf quiet; /* scripted linux-boot-quiet */

static int setup(void **s)
{
    (void)s;
    struct trace_writer *w = rt_writer(&quiet);
    if (!w || scenario_run(scenario_find("linux-boot-quiet"), w) != 0)
        return -1;
    trace_writer_destroy(w);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    trace_membuf_free(&quiet);
    return 0;
}

/* Tampers with the n-th record of a kind (0: the first). */
struct tamper {
    enum trace_dev_kind kind;
    unsigned skip;   /* records of the kind left alone first */
    bool string;     /* PolicyIo: only string I/O ones */
    bool clear_flag; /* header: policy_records off */
    bool on_vcpu;    /* only records of vCPU vcpu */
    bool qual_size;  /* instead: the first string I/O exit's qualification says size 8 */
    uint32_t vcpu;
    uint64_t rec; /* record number tampered with */
    bool done;
};

static int tamper_fn(void *ctx, uint64_t rec, struct trace_item *it)
{
    struct tamper *t = ctx;
    if (it->type == TRACE_ITEM_HEADER && t->clear_flag)
        it->u.header.policy_records = false;
    if (t->qual_size) {
        struct trace_exit *e = &it->u.exit;
        if (t->done || it->type != TRACE_ITEM_EXIT || e->reason != TRACE_EXIT_IO_INSTRUCTION ||
            !(e->qual & 0x10))
            return 0;
        e->qual |= 7; /* size field 7: 8 bytes */
        t->done = true;
        t->rec = rec;
        return 0;
    }
    if (t->done || it->type != TRACE_ITEM_DEV || it->u.dev.kind != t->kind)
        return 0;
    struct trace_dev_event *d = &it->u.dev;
    if (t->kind == TRACE_DEV_POLICY_IO && t->string != (d->u.pio.addr_bits != 0))
        return 0;
    if (t->kind == TRACE_DEV_DEADLINE && d->u.deadline.tsc == UINT64_MAX)
        return 0;
    if (t->on_vcpu && d->vcpu != t->vcpu)
        return 0;
    if (t->skip) {
        t->skip--;
        return 0;
    }
    t->done = true;
    t->rec = rec;
    switch (t->kind) {
    case TRACE_DEV_POLICY_IO:
        if (t->string)
            d->u.pio.index_after ^= 1ull << 16;
        else
            d->u.pio.rax_after ^= 1ull << 40;
        break;
    case TRACE_DEV_HALT: d->tsc += 1; break;
    case TRACE_DEV_DEADLINE: d->u.deadline.tsc += 1; break;
    case TRACE_DEV_INTR_BLOCKED: return 1; /* dropped */
    default: break;
    }
    return 0;
}

/* Replays m tampered by t: the report text (free it). */
static char *replay_tampered(const struct trace_membuf *m, struct tamper *t,
                             struct replay_stats *st)
{
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(m, &bad, tamper_fn, t), 0);
    assert_true(t->done);
    struct replay_opts o = {.max_reports = 50};
    char *text;
    assert_int_equal(rt_replay(&bad, &o, st, &text), 0);
    trace_membuf_free(&bad);
    return text;
}

static void test_scripted_guest_replays_clean_with_every_decision_compared(void **s)
{
    (void)s;
    struct replay_opts o = {0};
    struct replay_stats st;
    assert_int_equal(rt_replay(&quiet, &o, &st, NULL), 0);
    assert_int_equal(st.divergences, 0);
    assert_true(st.policy_entries == st.exits);
    assert_true(st.policy_io == st.in_checked);
    assert_true(st.policy_halts >= 5);
}

static void test_rax_after_in_changed_is_reported_at_its_record(void **s)
{
    (void)s;
    struct tamper t = {.kind = TRACE_DEV_POLICY_IO, .skip = 100};
    struct replay_stats st;
    char *text = replay_tampered(&quiet, &t, &st);
    assert_int_equal(st.divergences, 1);
    assert_true(st.first_record == t.rec);
    assert_non_null(strstr(text, "register RAX after IN\n"));
    assert_non_null(strstr(text, "during   port I/O\n"));
    free(text);
}

static void test_hlt_wake_tsc_changed_is_reported(void **s)
{
    (void)s;
    struct tamper t = {.kind = TRACE_DEV_HALT};
    struct replay_stats st;
    char *text = replay_tampered(&quiet, &t, &st);
    assert_true(st.divergences >= 1);
    assert_true(st.first_record == t.rec);
    assert_non_null(strstr(text, "register HLT outcome (stop, wake-up TSC)\n"));
    free(text);
}

static void test_deadline_changed_is_reported_at_its_entry(void **s)
{
    (void)s;
    struct tamper t = {.kind = TRACE_DEV_DEADLINE, .skip = 3};
    struct replay_stats st;
    char *text = replay_tampered(&quiet, &t, &st);
    assert_true(st.divergences >= 1);
    /* compared when the entry's records are all in: by the next exit */
    assert_true(st.first_record > t.rec && st.first_record < t.rec + 8);
    assert_non_null(strstr(text, "register preemption-timer deadline\n"));
    free(text);
}

static void test_without_the_header_flag_nothing_is_compared(void **s)
{
    (void)s;
    struct tamper t = {.kind = TRACE_DEV_POLICY_IO, .skip = 100, .clear_flag = true};
    struct replay_stats st;
    char *text = replay_tampered(&quiet, &t, &st);
    assert_int_equal(st.divergences, 0);
    assert_true(st.policy_entries == 0 && st.policy_io == 0 && st.policy_halts == 0);
    free(text);
}

/* Real captures with the records (skipped for one recorded before them). */
static bool load_with_records(const char *path, struct trace_membuf *m)
{
    if (rt_load(path, m) != 0)
        return false;
    struct replay_opts o = {0};
    struct replay_stats st;
    if (rt_replay(m, &o, &st, NULL) != 0 || !st.policy_entries) {
        trace_membuf_free(m);
        return false;
    }
    assert_int_equal(st.divergences, 0);
    assert_true(st.policy_entries == st.exits);
    return true;
}

static void test_capture_string_io_registers_checked(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (!load_with_records("corpus/hv-bochs-strio-guest.hvt", &m))
        skip();
    struct tamper t = {.kind = TRACE_DEV_POLICY_IO, .string = true, .skip = 3};
    struct replay_stats st;
    char *text = replay_tampered(&m, &t, &st);
    assert_int_equal(st.divergences, 1);
    assert_true(st.first_record == t.rec);
    assert_non_null(strstr(text, "register registers after INS/OUTS\n"));
    free(text);
    trace_membuf_free(&m);
}

static void test_capture_blocked_entry_needs_its_record(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (!load_with_records("corpus/hv-bochs-pit-guest.hvt", &m))
        skip();
    struct tamper t = {.kind = TRACE_DEV_INTR_BLOCKED};
    struct replay_stats st;
    char *text = replay_tampered(&m, &t, &st);
    assert_true(st.divergences >= 1);
    assert_non_null(strstr(text, "expected no interrupt decision\n"));
    free(text);
    trace_membuf_free(&m);
}

/* A crafted exit qualification with an impossible I/O size (fuzz_replay
 * found a stack overflow in the policy's string I/O with size 8) is
 * reported at its PolicyIo record, nothing else done with it. */
static void test_crafted_io_size_in_qualification_is_reported(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (!load_with_records("corpus/hv-bochs-strio-guest.hvt", &m))
        skip();
    struct tamper t = {.qual_size = true};
    struct replay_stats st;
    char *text = replay_tampered(&m, &t, &st);
    assert_true(st.divergences >= 1);
    assert_non_null(strstr(text, "register exit qualification\n"));
    assert_non_null(strstr(text, "actual   size 8 (qualification 0x"));
    free(text);
    trace_membuf_free(&m);
}

/* Several vCPUs: the policy runs each entry on its vCPU, every entry of
 * both vCPUs compared, and a changed decision on vCPU 1 is reported as
 * vCPU 1's. */
static void test_smp_captures_check_every_entry(void **s)
{
    (void)s;
    static const char *const caps[] = {"corpus/hv-bochs-smp-guest.hvt",
                                       "corpus/hv-bochs-linux-smp2.hvt"};
    for (unsigned i = 0; i < 2; i++) {
        struct trace_membuf m;
        if (rt_load(caps[i], &m) != 0)
            continue;
        struct replay_opts o = {0};
        struct replay_stats st;
        assert_int_equal(rt_replay(&m, &o, &st, NULL), 0);
        assert_int_equal(st.divergences, 0);
        assert_true(st.vcpu_exits[1] > 1000);
        assert_true(st.policy_entries == st.exits);
        assert_true(st.policy_io == st.in_checked);
        trace_membuf_free(&m);
    }
}

static void test_smp_deadline_changed_on_vcpu1_is_reported_as_vcpu1(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (rt_load("corpus/hv-bochs-smp-guest.hvt", &m) != 0)
        skip(); /* a clone without the corpus */
    struct tamper t = {.kind = TRACE_DEV_DEADLINE, .skip = 2, .on_vcpu = true, .vcpu = 1};
    struct replay_stats st;
    char *text = replay_tampered(&m, &t, &st);
    assert_true(st.divergences >= 1); /* later entries compare with it too */
    assert_true(st.first_record > t.rec && st.first_record < t.rec + 8);
    assert_non_null(strstr(text, ", vcpu 1\n  during   the exit policy at a VM entry\n"));
    assert_non_null(strstr(text, "register preemption-timer deadline\n"));
    free(text);
    trace_membuf_free(&m);
}

static void test_smp_rax_after_in_on_vcpu1_is_reported_as_vcpu1(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (rt_load("corpus/hv-bochs-linux-smp2.hvt", &m) != 0)
        skip(); /* a clone without the corpus */
    struct tamper t = {.kind = TRACE_DEV_POLICY_IO, .skip = 50, .on_vcpu = true, .vcpu = 1};
    struct replay_stats st;
    char *text = replay_tampered(&m, &t, &st);
    assert_int_equal(st.divergences, 1);
    assert_true(st.first_record == t.rec);
    assert_non_null(strstr(text, ", vcpu 1\n  during   port I/O\n"));
    assert_non_null(strstr(text, "register RAX after IN\n"));
    free(text);
    trace_membuf_free(&m);
}

/* Every vCPU halted: the BSP's HLT decision (time skipped to the AP's
 * timer) is recorded between an exit and the next entry, and compared. */
static void test_smp_all_idle_hlt_wake_tsc_changed_is_reported(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (rt_load("corpus/hv-bochs-smp-guest.hvt", &m) != 0)
        skip(); /* a clone without the corpus */
    struct replay_opts o = {0};
    struct replay_stats st;
    assert_int_equal(rt_replay(&m, &o, &st, NULL), 0);
    assert_int_equal(st.policy_halts, 2); /* the skip and the power-off */
    struct tamper t = {.kind = TRACE_DEV_HALT};
    char *text = replay_tampered(&m, &t, &st);
    assert_true(st.divergences >= 1);
    assert_true(st.first_record == t.rec);
    assert_non_null(strstr(text, ", vcpu 0\n  during   HLT\n"));
    assert_non_null(strstr(text, "register HLT outcome (stop, wake-up TSC)\n"));
    free(text);
    trace_membuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted_guest_replays_clean_with_every_decision_compared),
        cmocka_unit_test(test_rax_after_in_changed_is_reported_at_its_record),
        cmocka_unit_test(test_hlt_wake_tsc_changed_is_reported),
        cmocka_unit_test(test_deadline_changed_is_reported_at_its_entry),
        cmocka_unit_test(test_without_the_header_flag_nothing_is_compared),
        cmocka_unit_test(test_capture_string_io_registers_checked),
        cmocka_unit_test(test_capture_blocked_entry_needs_its_record),
        cmocka_unit_test(test_crafted_io_size_in_qualification_is_reported),
        cmocka_unit_test(test_smp_captures_check_every_entry),
        cmocka_unit_test(test_smp_deadline_changed_on_vcpu1_is_reported_as_vcpu1),
        cmocka_unit_test(test_smp_rax_after_in_on_vcpu1_is_reported_as_vcpu1),
        cmocka_unit_test(test_smp_all_idle_hlt_wake_tsc_changed_is_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
