/* Replay checks the exit policy's entry decisions (hv/vm_policy.h,
 * docs/replay.md): a guest driven through the recorder by the policy, as
 * the hypervisor does, replays clean; the same run with an injection one
 * exit late, an injection with INTR low, or the IntrBlocked records
 * removed, diverges; a trace whose header does not say it records the
 * decisions is not checked (older traces). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "hv/record/recorder.h"
#include "hv/vm_policy.h"

#define HZ 1000000000ull

enum tamper {
    T_NONE,
    T_LATE,      /* the first entry that should inject does not: one exit later instead */
    T_INTR_LOW,  /* an acknowledge at an entry with INTR low */
    T_NO_BLOCKED /* IntrBlocked records not written */
};

static struct {
    struct vm_recorder rec;
    struct vm_devices dev;
    struct vm_policy pol;
    uint64_t tsc, regs[16];
    bool iflag;
    unsigned injected;
    uint8_t last_vector;
} G;

static uint64_t g_reg(void *c, unsigned r)
{
    (void)c;
    return G.regs[r & 15];
}
static void g_set_reg(void *c, unsigned r, uint64_t v)
{
    (void)c;
    G.regs[r & 15] = v;
}
static uint64_t g_rflags(void *c)
{
    (void)c;
    return G.iflag ? VM_POLICY_RFLAGS_IF : 0;
}
static bool g_interruptible(void *c)
{
    (void)c;
    return G.iflag;
}
static void g_inject(void *c, uint8_t v)
{
    (void)c;
    G.injected++;
    G.last_vector = v;
}
static void g_nop(void *c)
{
    (void)c;
}
static uint64_t g_tsc(void *c)
{
    (void)c;
    return G.tsc;
}
static void g_skip_tsc(void *c, uint64_t d)
{
    (void)c;
    G.tsc += d;
}
static uint32_t g_io(void *c, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                     bool write, uint32_t value)
{
    (void)c;
    return vm_rec_io(&G.rec, x, port, size, write, value);
}
static void g_advance(void *c, uint64_t tsc)
{
    (void)c;
    vm_rec_advance(&G.rec, tsc);
}
static uint8_t g_ack(void *c, uint64_t tsc)
{
    (void)c;
    return vm_rec_ack(&G.rec, tsc);
}
static bool write_blocked = true;
static void g_blocked(void *c, uint64_t tsc)
{
    (void)c;
    if (write_blocked)
        vm_rec_blocked(&G.rec, tsc);
}
static const struct vm_policy_ops ops = {
    .reg = g_reg,
    .set_reg = g_set_reg,
    .rflags = g_rflags,
    .interruptible = g_interruptible,
    .inject_extint = g_inject,
    .skip_insn = g_nop,
    .tsc_now = g_tsc,
    .skip_tsc = g_skip_tsc,
    .io = g_io,
    .advance = g_advance,
    .ack = g_ack,
    .blocked = g_blocked,
};

static void out(uint16_t port, uint8_t v)
{
    G.tsc += 700;
    struct vm_policy_io io = {
        .x = {.tsc = G.tsc, .rip = 0x8000, .insn_len = 2}, .port = port, .size = 1, .value = v};
    vm_policy_io(&G.pol, &io);
    G.tsc += 100;
}

/* Records a guest that sets up the PIC and a fast PIT (IRQ0 about every
 * 84 us), then loops 200 times (10 us each) on `out 0x80` with interrupts enabled (iflag) or not;
 * each handler EOIs. Returns the number of injections. */
static unsigned record(struct trace_membuf *m, bool iflag, bool decisions, enum tamper t)
{
    memset(&G, 0, sizeof G);
    write_blocked = t != T_NO_BLOCKED;
    struct trace_writer *w = rt_writer(m);
    assert_non_null(w);
    struct vm_recorder_config rc = {.w = w,
                                    .tsc_hz = HZ,
                                    .ram_bytes = 1 << 20,
                                    .hv_build_id = "test",
                                    .cmdline = "test",
                                    .start_tsc = 0,
                                    .entry_decisions = decisions};
    assert_int_equal(vm_recorder_init(&G.rec, &G.dev, NULL, NULL, &rc), 0);
    const struct vm_policy_config pc = {.tsc_hz = HZ};
    vm_policy_init(&G.pol, &ops, NULL, &G.dev, &pc);
    vm_policy_prepare_entry(&G.pol);
    static const uint8_t init[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                      {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01},
                                      {0x21, 0xfe}, {0x43, 0x34}, {0x40, 100},  {0x40, 0}};
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++) {
        out(init[i][0], init[i][1]);
        vm_policy_prepare_entry(&G.pol);
    }
    G.iflag = iflag;
    bool tampered = false;
    for (unsigned i = 0; i < 200; i++) {
        unsigned before = G.injected;
        G.tsc += 10000; /* the guest's own work between exits */
        out(0x80, (uint8_t)i);
        if (!tampered && t == T_LATE && iflag && vm_devices_intr(&G.dev)) {
            tampered = true; /* no entry decision here: the guest runs on */
        } else if (!tampered && t == T_INTR_LOW && iflag && !vm_devices_intr(&G.dev) && i > 20) {
            tampered = true;
            vm_rec_ack(&G.rec, G.tsc); /* a spurious acknowledge */
        } else {
            vm_policy_prepare_entry(&G.pol);
        }
        if (G.injected != before) {
            out(0x20, 0x20); /* EOI */
            vm_policy_prepare_entry(&G.pol);
        }
    }
    assert_int_equal(vm_rec_finish(&G.rec, TRACE_END_STOPPED), 0);
    trace_writer_destroy(w);
    return G.injected;
}

static struct replay_stats replay(const struct trace_membuf *m, char **text);

/* The IRQ0 request goes away (PIT mode 2: OUT low for the clock before the
 * reload) after INTR rose but before the guest can take it; the entry then
 * finds INTR high from the devices' last time, and the acknowledge, which
 * brings the devices to now first, gets the 8259's spurious IRQ7 vector.
 * The hypervisor does exactly this; replay must judge the decision on the
 * INTR level the policy saw, not the one after the acknowledge. */
static void test_request_gone_before_the_acknowledge(void **s)
{
    (void)s;
    struct trace_membuf m;
    memset(&G, 0, sizeof G);
    struct trace_writer *w = rt_writer(&m);
    struct vm_recorder_config rc = {
        .w = w, .tsc_hz = HZ, .hv_build_id = "test", .cmdline = "test", .entry_decisions = true};
    assert_int_equal(vm_recorder_init(&G.rec, &G.dev, NULL, NULL, &rc), 0);
    const struct vm_policy_config pc = {.tsc_hz = HZ};
    vm_policy_init(&G.pol, &ops, NULL, &G.dev, &pc);
    vm_policy_prepare_entry(&G.pol);
    static const uint8_t init[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                      {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01},
                                      {0x21, 0xfe}, {0x43, 0x34}, {0x40, 100},  {0x40, 0}};
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++) {
        out(init[i][0], init[i][1]);
        vm_policy_prepare_entry(&G.pol);
    }
    assert_true(vm_devices_intr(&G.dev)); /* IF=0: blocked at every entry so far */
    /* the guest runs with IF=0 into the one-clock low of OUT0 */
    uint64_t t = G.tsc;
    while (pit_out(&G.dev.pit, 0, vm_rec_tsc_to_ns(t, HZ)))
        t++;
    G.tsc = t;
    struct trace_exit e = {.tsc = G.tsc, .rip = 0x8010, .reason = TRACE_EXIT_CPUID};
    vm_rec_exit(&G.rec, &e);
    G.iflag = true;
    vm_policy_prepare_entry(&G.pol);
    assert_int_equal(G.injected, 1);
    assert_int_equal(G.last_vector, 0x37); /* spurious: master base + 7 */
    G.tsc += 1000;
    out(0x80, 0);
    vm_policy_prepare_entry(&G.pol);
    assert_int_equal(vm_rec_finish(&G.rec, TRACE_END_STOPPED), 0);
    trace_writer_destroy(w);
    char *text;
    struct replay_stats st = replay(&m, &text);
    if (st.divergences)
        fprintf(stderr, "%s", text);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.injects, G.injected);
    free(text);
    trace_membuf_free(&m);
}

static struct replay_stats replay(const struct trace_membuf *m, char **text)
{
    struct replay_opts o = {.max_reports = 3};
    struct replay_stats st;
    assert_int_equal(rt_replay(m, &o, &st, text), 0);
    return st;
}

static void test_policy_driven_trace_replays_clean(void **s)
{
    (void)s;
    struct trace_membuf m;
    assert_true(record(&m, true, true, T_NONE) > 10);
    char *text;
    struct replay_stats st = replay(&m, &text);
    assert_int_equal(st.divergences, 0);
    assert_true(st.entries_checked > 200);
    assert_non_null(strstr(text, "entry decisions checked"));
    free(text);
    trace_membuf_free(&m);
}

static void test_injection_one_exit_late_diverges(void **s)
{
    (void)s;
    struct trace_membuf m;
    record(&m, true, true, T_LATE);
    char *text;
    struct replay_stats st = replay(&m, &text);
    assert_true(st.divergences >= 1);
    assert_non_null(strstr(text, "the guest entered with nothing injected"));
    assert_non_null(strstr(text, "vm exit policy"));
    free(text);
    trace_membuf_free(&m);
}

static void test_injection_with_intr_low_diverges(void **s)
{
    (void)s;
    struct trace_membuf m;
    record(&m, true, true, T_INTR_LOW);
    char *text;
    struct replay_stats st = replay(&m, &text);
    assert_true(st.divergences >= 1);
    assert_non_null(strstr(text, "PIC INTR low at this entry"));
    free(text);
    trace_membuf_free(&m);
}

static void test_blocked_guest_replays_clean_and_needs_its_records(void **s)
{
    (void)s;
    struct trace_membuf m;
    assert_int_equal(record(&m, false, true, T_NONE), 0); /* IF=0 throughout */
    char *text;
    struct replay_stats st = replay(&m, &text);
    assert_int_equal(st.divergences, 0);
    free(text);
    trace_membuf_free(&m);
    /* the same run without its IntrBlocked records */
    record(&m, false, true, T_NO_BLOCKED);
    st = replay(&m, &text);
    assert_true(st.divergences >= 1);
    assert_non_null(strstr(text, "the guest entered with nothing injected"));
    free(text);
    trace_membuf_free(&m);
}

static void test_traces_without_the_header_flag_are_not_checked(void **s)
{
    (void)s;
    struct trace_membuf m;
    record(&m, true, false, T_LATE);
    char *text;
    struct replay_stats st = replay(&m, &text);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.entries_checked, 0);
    assert_null(strstr(text, "entry decisions checked"));
    free(text);
    trace_membuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_driven_trace_replays_clean),
        cmocka_unit_test(test_injection_one_exit_late_diverges),
        cmocka_unit_test(test_injection_with_intr_low_diverges),
        cmocka_unit_test(test_blocked_guest_replays_clean_and_needs_its_records),
        cmocka_unit_test(test_traces_without_the_header_flag_are_not_checked),
        cmocka_unit_test(test_request_gone_before_the_acknowledge),
    };
    return cmocka_run_group_tests_name("replay_policy", tests, NULL, NULL);
}
