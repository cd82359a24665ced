/* The APIC platform's device calls through the recorder and back through
 * the replayer (issue 15 item 2, docs/replay.md): MMIO accesses to the
 * local APIC and I/O APIC pages (Exit EPT_VIOLATION with an EptViolation
 * size) and the local APIC's MSRs (Exit RDMSR/WRMSR) are recorded as the
 * calls they were and re-issued on replay; a trace replays clean, a wrong
 * load value or RDMSR value diverges, and the header's apic flag survives
 * the round trip. Trace validation rejects impossible MMIO records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "hv/record/recorder.h"
#include "trace/trace_reader.h"

#define HZ 1000000000ull

static struct {
    struct vm_recorder rec;
    struct vm_devices dev;
    uint64_t tsc;
    unsigned injected;
} G;

static uint64_t mmio(uint64_t gpa, unsigned size, bool write, uint64_t v)
{
    struct vm_rec_exit_info x = {.tsc = G.tsc, .rip = 0x1000, .qual = write ? 2 : 1};
    G.tsc += 500;
    return vm_rec_mmio(&G.rec, &x, gpa, size, write, v);
}

static int msr(uint32_t index, bool write, uint64_t *v)
{
    struct vm_rec_exit_info x = {.tsc = G.tsc, .rip = 0x1100, .insn_len = 2};
    G.tsc += 500;
    return vm_rec_msr(&G.rec, &x, index, write, v);
}

#define LAPIC(off)  (LAPIC_DEFAULT_BASE + (off))
#define IOAPIC(off) (IOAPIC_DEFAULT_BASE + (off))

/* A guest that reads the APIC base MSR, enables the local APIC, reads its
 * ID and version, programs the I/O APIC's pin 2 redirection entry, runs
 * the LAPIC timer periodic (vector 0xec), takes and EOIs its interrupts,
 * reads the current count, and arms the TSC-deadline timer. */
static void record(struct trace_membuf *m)
{
    memset(&G, 0, sizeof G);
    struct trace_writer *w = rt_writer(m);
    assert_non_null(w);
    struct vm_recorder_config rc = {
        .w = w, .tsc_hz = HZ, .ram_bytes = 1 << 20, .hv_build_id = "test", .cmdline = "test"};
    const struct vm_devices_config dc = {.apic = true, .tsc_hz = HZ};
    assert_int_equal(vm_recorder_init(&G.rec, &G.dev, &dc, NULL, &rc), 0);

    uint64_t base = 0;
    assert_int_equal(msr(MSR_IA32_APIC_BASE, false, &base), 0);
    assert_int_equal(base & ~0xfffull, LAPIC_DEFAULT_BASE);
    assert_true(base & APIC_BASE_EN);
    uint64_t pat = 0;
    assert_int_equal(msr(0x277, false, &pat), 1); /* not a device MSR: not recorded */

    mmio(LAPIC(LAPIC_SVR), 4, true, APIC_SVR_ENABLE | 0xff);
    assert_int_equal(mmio(LAPIC(LAPIC_VER), 4, false, 0), LAPIC_VERSION);
    (void)mmio(LAPIC(LAPIC_ID), 4, false, 0);
    mmio(IOAPIC(0x00), 4, true, 0x10 + 2 * 2); /* IOREGSEL: pin 2, low half */
    mmio(IOAPIC(0x10), 4, true, 0x30);         /* vector 0x30, unmasked, edge */
    mmio(IOAPIC(0x00), 4, true, 0x01);
    assert_int_equal(mmio(IOAPIC(0x10), 4, false, 0) & 0xff, 0x20); /* version */
    (void)mmio(LAPIC(LAPIC_SVR), 8, false, 0); /* an 8-byte load: two registers */

    mmio(LAPIC(LAPIC_TDCR), 4, true, 0xb);                /* divide by 1 */
    mmio(LAPIC(LAPIC_LVT_TMR), 4, true, 0x20000u | 0xec); /* periodic */
    mmio(LAPIC(LAPIC_TMICT), 4, true, 20000);
    for (unsigned i = 0; i < 300; i++) {
        G.tsc += 1000;
        vm_rec_advance(&G.rec, G.tsc);
        if (vm_devices_intr(&G.dev)) {
            uint8_t v = vm_rec_ack(&G.rec, G.tsc);
            assert_int_equal(v, 0xec);
            G.injected++;
            mmio(LAPIC(LAPIC_EOI), 4, true, 0);
        }
        if (i % 7 == 0)
            (void)mmio(LAPIC(LAPIC_TMCCT), 4, false, 0);
    }
    uint64_t dl = G.tsc + 5000;
    mmio(LAPIC(LAPIC_LVT_TMR), 4, true, 0x40000u | 0xed); /* TSC-deadline mode */
    assert_int_equal(msr(MSR_IA32_TSC_DEADLINE, true, &dl), 0);
    uint64_t got = 0;
    assert_int_equal(msr(MSR_IA32_TSC_DEADLINE, false, &got), 0);
    assert_int_equal(got, dl);
    assert_int_equal(vm_rec_finish(&G.rec, TRACE_END_STOPPED), 0);
    trace_writer_destroy(w);
    assert_true(G.injected >= 10);
}

static struct replay_stats replay(const struct trace_membuf *m, char **text)
{
    struct replay_opts o = {.max_reports = 3};
    struct replay_stats st;
    assert_int_equal(rt_replay(m, &o, &st, text), 0);
    return st;
}

static int check_header(void *ctx, uint64_t rec, const struct trace_item *it)
{
    (void)rec;
    if (it->type == TRACE_ITEM_HEADER)
        *(int *)ctx = it->u.header.apic ? 1 : 2;
    return 0;
}

static void test_apic_trace_replays_clean(void **s)
{
    (void)s;
    struct trace_membuf m;
    record(&m);
    int apic = 0;
    rt_scan(&m, check_header, &apic);
    assert_int_equal(apic, 1);
    char *text;
    struct replay_stats st = replay(&m, &text);
    if (st.divergences)
        fprintf(stderr, "%s", text);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.injects, G.injected);
    assert_true(st.mmio_exits > 50);
    assert_true(st.mmio_checked > 40);
    assert_int_equal(st.apic_msrs, 3);
    assert_int_equal(st.apic_msr_checked, 2);
    assert_non_null(strstr(text, "apic: "));
    free(text);
    trace_membuf_free(&m);
}

struct tamper {
    int what; /* 0 the n-th MMIO load's value, 1 the RDMSR APIC_BASE value */
    unsigned n, seen;
};

static int tamper(void *ctx, uint64_t rec, struct trace_item *it)
{
    (void)rec;
    struct tamper *t = ctx;
    if (it->type != TRACE_ITEM_EXIT)
        return 0;
    struct trace_exit *e = &it->u.exit;
    if (t->what == 0 && e->detail == TRACE_DETAIL_EPT && e->u.ept.access == TRACE_EPT_READ &&
        e->u.ept.gpa == LAPIC(LAPIC_TMCCT) && t->seen++ == t->n)
        e->u.ept.value ^= 1;
    if (t->what == 1 && e->detail == TRACE_DETAIL_MSR && !e->u.msr.write &&
        e->u.msr.index == MSR_IA32_APIC_BASE)
        e->u.msr.value ^= APIC_BASE_EXTD;
    return 0;
}

static void diverges(int what, const char *want)
{
    struct trace_membuf m, bad;
    record(&m);
    struct tamper t = {.what = what, .n = 5};
    assert_int_equal(rt_rewrite(&m, &bad, tamper, &t), 0);
    char *text;
    struct replay_stats st = replay(&bad, &text);
    assert_int_equal(st.divergences, 1);
    assert_non_null(strstr(text, want));
    free(text);
    trace_membuf_free(&m);
    trace_membuf_free(&bad);
}

static void test_wrong_mmio_load_diverges(void **s)
{
    (void)s;
    diverges(0, "register offset 0x390");
}

static void test_wrong_apic_msr_read_diverges(void **s)
{
    (void)s;
    diverges(1, "register MSR 0x1b");
}

/* The header flag decides: without it the same records are not device
 * calls (an older trace's EPT exits), so nothing is re-issued. */
static int drop_apic(void *ctx, uint64_t rec, struct trace_item *it)
{
    (void)ctx;
    (void)rec;
    if (it->type == TRACE_ITEM_HEADER)
        it->u.header.apic = false;
    return 0;
}

static void test_without_the_header_flag_nothing_is_reissued(void **s)
{
    (void)s;
    struct trace_membuf m, old;
    record(&m);
    assert_int_equal(rt_rewrite(&m, &old, drop_apic, NULL), 0);
    char *text;
    struct replay_stats st = replay(&old, &text);
    assert_int_equal(st.mmio_exits, 0);
    assert_int_equal(st.apic_msrs, 0);
    assert_null(strstr(text, "apic: "));
    free(text);
    trace_membuf_free(&m);
    trace_membuf_free(&old);
}

static void test_validation_of_mmio_records(void **s)
{
    (void)s;
    char why[128];
    struct trace_exit e = {.reason = TRACE_EXIT_EPT_VIOLATION, .detail = TRACE_DETAIL_EPT};
    e.u.ept.gpa = LAPIC(LAPIC_TPR);
    e.u.ept.access = TRACE_EPT_READ;
    e.u.ept.size = 4;
    e.u.ept.value = 0xffffffff;
    assert_true(trace_check_exit(&e, 1, why, sizeof why));
    e.u.ept.size = 3;
    assert_false(trace_check_exit(&e, 1, why, sizeof why));
    assert_non_null(strstr(why, "size 3"));
    e.u.ept.size = 2;
    assert_false(trace_check_exit(&e, 1, why, sizeof why)); /* value wider than 2 bytes */
    assert_non_null(strstr(why, "wider"));
    e.u.ept.size = 4;
    e.u.ept.access = TRACE_EPT_READ | TRACE_EPT_WRITE;
    assert_false(trace_check_exit(&e, 1, why, sizeof why));
    e.u.ept.access = TRACE_EPT_FETCH;
    assert_false(trace_check_exit(&e, 1, why, sizeof why));
    e.u.ept.size = 0; /* not an emulated access: any EPT violation */
    assert_true(trace_check_exit(&e, 1, why, sizeof why));
    e.u.ept.size = 8;
    e.u.ept.access = TRACE_EPT_WRITE;
    e.u.ept.value = ~0ull;
    assert_true(trace_check_exit(&e, 1, why, sizeof why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apic_trace_replays_clean),
        cmocka_unit_test(test_wrong_mmio_load_diverges),
        cmocka_unit_test(test_wrong_apic_msr_read_diverges),
        cmocka_unit_test(test_without_the_header_flag_nothing_is_reissued),
        cmocka_unit_test(test_validation_of_mmio_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
