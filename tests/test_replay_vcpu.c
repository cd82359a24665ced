/* Replay checks of the vCPU answers: a trace whose header carries the host
 * CPUID snapshot has every CPUID answer and RDMSR value recomputed by
 * hv/vcpu_policy (state from the recorded XSETBV/WRMSR exits); a tampered
 * answer is reported at its record; traces without the snapshot leave them
 * unchecked. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "hv/record/recorder.h"
#include "hv/vcpu_policy.h"

#define HZ 50000000ull

static const struct trace_cpuid_leaf leaves[] = {
    {0x0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69},
    {0x1, 0, 0x00050654, 0x01100800, 0xfffefbff, 0xbfebfbff},
    {0x7, 0, 0, 0xd19f4fbb, 0x0000000c, 0},
    {0xd, 0, 0xe7, 0xa80, 0xa80, 0},
    {0xd, 1, 0xf, 0xa00, 0, 0},
    {0xd, 2, 256, 576, 0, 0},
    {0xd, 5, 64, 1088, 0, 0},
    {0xd, 6, 512, 1152, 0, 0},
    {0xd, 7, 1024, 1664, 0, 0},
    {0x80000000u, 0, 0x80000008u, 0, 0, 0},
    {0x80000001u, 0, 0, 0, 0x121, 0x2c100800},
};
static const struct trace_host_cpu host = {.nleaves = sizeof leaves / sizeof leaves[0],
                                           .leaves = leaves,
                                           .xcr0 = 0xe7,
                                           .features = TRACE_HOST_XSAVES | TRACE_HOST_RDTSCP};

static struct vm_recorder rec;
static struct vm_devices dev;

struct built {
    struct trace_membuf m;
    uint64_t cpuid_d0_record; /* record number of CPUID 0xD.0 after XSETBV */
    uint64_t misc_read_record;
    uint64_t cpuids, rdmsrs;
};

/* Record numbers (as the replayer counts them) of the answers tampered with. */
static int locate(void *ctx, uint64_t r, const struct trace_item *it)
{
    struct built *b = ctx;
    if (it->type != TRACE_ITEM_EXIT)
        return 0;
    const struct trace_exit *e = &it->u.exit;
    if (e->detail == TRACE_DETAIL_CPUID && e->u.cpuid.leaf == 0xd && e->u.cpuid.subleaf == 0 &&
        e->u.cpuid.ebx == 832)
        b->cpuid_d0_record = r;
    if (e->detail == TRACE_DETAIL_MSR && !e->u.msr.write && e->u.msr.index == 0x1a0)
        b->misc_read_record = r;
    return 0;
}

/* Plays a guest's CPUID/MSR/XSETBV prologue through the recorder, the
 * answers from the policy as the hypervisor gives them. */
static void build(struct built *b, bool with_snapshot)
{
    memset(b, 0, sizeof *b);
    struct trace_writer *w = rt_writer(&b->m);
    assert_non_null(w);
    struct vm_devices_config dc = {0};
    struct vm_recorder_config rc = {
        .w = w, .tsc_hz = HZ, .checkpoint_every = 4, .host_cpu = with_snapshot ? &host : NULL};
    assert_int_equal(vm_recorder_init(&rec, &dev, &dc, NULL, &rc), 0);
    struct vcpu_policy hv;
    vcpu_policy_init(&hv, &host, HZ);
    uint64_t tsc = 1000;
    /* (leaf, subleaf) asked; 0xffff: XSETBV 7 instead; 0xfffe: WRMSR MISC_ENABLE */
    static const uint32_t seq[][2] = {
        {0, 0}, {1, 0},           {0xd, 0},  {0xd, 1},         {0xffff, 0}, {0xd, 0}, {0xd, 1},
        {7, 0}, {0x80000001u, 0}, {0x15, 0}, {0x40000000u, 0}, {0xfffe, 0}, {0xd, 2}};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        struct trace_exit e = {.tsc = tsc += 1000, .rip = 0x8000 + i, .insn_len = 2};
        if (seq[i][0] == 0xffff) {
            e.reason = TRACE_EXIT_XSETBV;
            e.detail = TRACE_DETAIL_XSETBV;
            e.u.xsetbv.value = 7;
            assert_true(vcpu_policy_xsetbv(&hv, 0, 7));
        } else if (seq[i][0] == 0xfffe) {
            e.reason = TRACE_EXIT_WRMSR;
            e.detail = TRACE_DETAIL_MSR;
            e.u.msr.index = 0x1a0;
            e.u.msr.write = true;
            e.u.msr.value = 0x850089;
            assert_int_equal(vcpu_policy_wrmsr(&hv, 0x1a0, 0x850089), VCPU_MSR_OK);
        } else {
            e.reason = TRACE_EXIT_CPUID;
            e.detail = TRACE_DETAIL_CPUID;
            e.u.cpuid.leaf = seq[i][0];
            e.u.cpuid.subleaf = seq[i][1];
            uint32_t o[4];
            hv.osxsave = true;
            vcpu_policy_cpuid(&hv, seq[i][0], seq[i][1], o);
            e.u.cpuid.eax = o[0];
            e.u.cpuid.ebx = o[1];
            e.u.cpuid.ecx = o[2];
            e.u.cpuid.edx = o[3];
            b->cpuids++;
        }
        assert_int_equal(vm_rec_exit(&rec, &e), 0);
    }
    /* RDMSRs: MISC_ENABLE as written, TSC, an unknown one (#GP, recorded 0). */
    static const uint32_t msrs[] = {0x1a0, 0x10, 0x1b, 0xda0};
    for (size_t i = 0; i < sizeof msrs / sizeof msrs[0]; i++) {
        struct trace_exit e = {.tsc = tsc += 1000,
                               .rip = 0x9000 + i,
                               .insn_len = 2,
                               .reason = TRACE_EXIT_RDMSR,
                               .detail = TRACE_DETAIL_MSR};
        e.u.msr.index = msrs[i];
        uint64_t v = 0;
        if (vcpu_policy_rdmsr(&hv, msrs[i], e.tsc, &v) != VCPU_MSR_OK)
            v = 0;
        e.u.msr.value = v;
        assert_int_equal(vm_rec_exit(&rec, &e), 0);
        b->rdmsrs++;
    }
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_POWEROFF), 0);
    trace_writer_destroy(w);
    rt_scan(&b->m, locate, b);
    assert_true(b->cpuid_d0_record && b->misc_read_record);
}

static void test_recorded_answers_replay_clean(void **s)
{
    (void)s;
    struct built b;
    build(&b, true);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&b.m, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.cpuid_checked, b.cpuids);
    assert_int_equal(st.msr_checked, b.rdmsrs);
    assert_int_equal(st.not_checked, 2); /* the XSETBV and the WRMSR */
    assert_non_null(strstr(text, "vcpu: 11 CPUID answers, 4 RDMSR values compared"));
    assert_non_null(strstr(text, "result: 0 divergences"));
    free(text);
    trace_membuf_free(&b.m);
}

static void test_without_snapshot_not_checked(void **s)
{
    (void)s;
    struct built b;
    build(&b, false);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&b.m, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.cpuid_checked, 0);
    assert_int_equal(st.msr_checked, 0);
    assert_int_equal(st.not_checked, b.cpuids + b.rdmsrs + 2);
    assert_non_null(strstr(text, "answers (no host CPUID in the header)"));
    free(text);
    trace_membuf_free(&b.m);
}

struct tamper {
    uint64_t rec;
    bool hit;
};

static int tamper_cpuid(void *ctx, uint64_t r, struct trace_item *it)
{
    struct tamper *t = ctx;
    if (r == t->rec) {
        assert_int_equal(it->type, TRACE_ITEM_EXIT);
        assert_int_equal(it->u.exit.detail, TRACE_DETAIL_CPUID);
        assert_int_equal(it->u.exit.u.cpuid.ebx, 832); /* XCR0 = 7 */
        it->u.exit.u.cpuid.ebx = 2688;                 /* as if XCR0 were not tracked */
        t->hit = true;
    }
    return 0;
}

static int tamper_msr(void *ctx, uint64_t r, struct trace_item *it)
{
    struct tamper *t = ctx;
    if (r == t->rec) {
        assert_int_equal(it->type, TRACE_ITEM_EXIT);
        assert_int_equal(it->u.exit.u.msr.index, 0x1a0);
        it->u.exit.u.msr.value = 1; /* the reset value: the WRMSR lost */
        t->hit = true;
    }
    return 0;
}

static void test_tampered_cpuid_reported_at_its_record(void **s)
{
    (void)s;
    struct built b;
    build(&b, true);
    struct tamper t = {.rec = b.cpuid_d0_record};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&b.m, &bad, tamper_cpuid, &t), 0);
    assert_true(t.hit);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_record, t.rec);
    assert_non_null(strstr(text, "during   CPUID leaf 0xd subleaf 0x0"));
    assert_non_null(strstr(text, "register EBX\n"));
    assert_non_null(strstr(text, "expected 0x000000e7 0x00000a80"));
    assert_non_null(strstr(text, "actual   0x000000e7 0x00000340"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&b.m);
}

static void test_tampered_rdmsr_reported_at_its_record(void **s)
{
    (void)s;
    struct built b;
    build(&b, true);
    struct tamper t = {.rec = b.misc_read_record};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&b.m, &bad, tamper_msr, &t), 0);
    assert_true(t.hit);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_record, t.rec);
    assert_non_null(strstr(text, "register MSR 0x1a0"));
    assert_non_null(strstr(text, "expected 0x0000000000000001"));
    assert_non_null(strstr(text, "actual   0x0000000000850089"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&b.m);
}

/* A real capture (corpus) with the snapshot: its CPUID answers all check,
 * and one changed answer is found at its record. */
struct find {
    uint64_t rec;
    bool found, has_snapshot;
};
static int find_cpuid(void *ctx, uint64_t r, const struct trace_item *it)
{
    struct find *f = ctx;
    if (it->type == TRACE_ITEM_HEADER)
        f->has_snapshot = it->u.header.host_cpu.nleaves > 0;
    if (it->type == TRACE_ITEM_EXIT && it->u.exit.detail == TRACE_DETAIL_CPUID &&
        it->u.exit.u.cpuid.leaf == 1) {
        f->rec = r;
        f->found = true;
        return 1;
    }
    return 0;
}
static int flip_leaf1(void *ctx, uint64_t r, struct trace_item *it)
{
    struct find *f = ctx;
    if (r == f->rec)
        it->u.exit.u.cpuid.edx ^= 1u << 9; /* APIC present */
    return 0;
}

static void test_corpus_cpu_guest(void **s)
{
    (void)s;
    struct trace_membuf m;
    if (rt_load("corpus/hv-bochs-cpu-guest.hvt", &m) != 0)
        skip();
    struct find f = {0};
    rt_scan(&m, find_cpuid, &f);
    if (!f.has_snapshot) { /* captured before the snapshot existed */
        trace_membuf_free(&m);
        skip();
    }
    assert_true(f.found);
    struct replay_opts o = {0};
    struct replay_stats st;
    assert_int_equal(rt_replay(&m, &o, &st, NULL), 0);
    assert_int_equal(st.divergences, 0);
    assert_true(st.cpuid_checked >= 5);
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&m, &bad, flip_leaf1, &f), 0);
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_record, f.rec);
    assert_non_null(strstr(text, "during   CPUID leaf 0x1 subleaf"));
    assert_non_null(strstr(text, "register EDX\n"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&m);
}

/* A guest that sets its TSC: traces carry virtual-time TSCs, and the
 * replay derives the guest's TSC (for RDMSR 0x10) from the recorded write.
 * A RDMSR answer from the virtual-time TSC alone is reported. */
static void record_msr_exit(uint64_t tsc, bool write, uint64_t value)
{
    struct trace_exit e = {.tsc = tsc,
                           .rip = 0x8000,
                           .insn_len = 2,
                           .reason = write ? TRACE_EXIT_WRMSR : TRACE_EXIT_RDMSR,
                           .detail = TRACE_DETAIL_MSR};
    e.u.msr.index = 0x10;
    e.u.msr.write = write;
    e.u.msr.value = value;
    assert_int_equal(vm_rec_exit(&rec, &e), 0);
}

static void rdmsr_tsc_trace(struct trace_membuf *m, uint64_t answer_offset)
{
    struct trace_writer *w = rt_writer(m);
    assert_non_null(w);
    struct vm_devices_config dc = {0};
    struct vm_recorder_config rc = {.w = w, .tsc_hz = HZ, .host_cpu = &host};
    assert_int_equal(vm_recorder_init(&rec, &dev, &dc, NULL, &rc), 0);
    /* at virtual TSC 5000 the guest writes 7; 1000 ticks later it reads 1007 */
    record_msr_exit(5000, true, 7);
    record_msr_exit(6000, false, 1007 + answer_offset);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_POWEROFF), 0);
    trace_writer_destroy(w);
}

static void test_guest_tsc_write_tracked(void **s)
{
    (void)s;
    struct trace_membuf m;
    struct replay_opts o = {0};
    struct replay_stats st;
    rdmsr_tsc_trace(&m, 0);
    assert_int_equal(rt_replay(&m, &o, &st, NULL), 0);
    assert_int_equal(st.msr_checked, 1);
    assert_int_equal(st.divergences, 0);
    trace_membuf_free(&m);
    /* the virtual-time TSC (6000) is not what the guest reads */
    rdmsr_tsc_trace(&m, 6000 - 1007);
    assert_int_equal(rt_replay(&m, &o, &st, NULL), 0);
    assert_int_equal(st.divergences, 1);
    trace_membuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_answers_replay_clean),
        cmocka_unit_test(test_without_snapshot_not_checked),
        cmocka_unit_test(test_tampered_cpuid_reported_at_its_record),
        cmocka_unit_test(test_tampered_rdmsr_reported_at_its_record),
        cmocka_unit_test(test_corpus_cpu_guest),
        cmocka_unit_test(test_guest_tsc_write_tracked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
