/* Replay of multi-vCPU traces (issue 16): the SMP capture `hvrr synth
 * --vcpus N` writes (host-sim/smp_synth.c: real device models, the
 * recording convention for several vCPUs) replays with 0 divergences; a
 * model that routes everything to one local APIC, a wrong CpuStart, a
 * missing one, an injection on the wrong vCPU are divergences naming the
 * vCPU; impossible records are damage. docs/replay.md "Several vCPUs". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "host-sim/smp_synth.h"
#include "hv/record/recorder.h"

static void make_smp_seed(struct trace_membuf *m, unsigned vcpus, uint64_t exits, uint64_t seed)
{
    struct trace_writer *w = rt_writer(m);
    const struct smp_synth_config c = {
        .vcpus = vcpus, .seed = seed, .exits = exits, .checkpoint_every = 1000};
    assert_int_equal(smp_synth_write(w, &c), 0);
    trace_writer_destroy(w);
}

static void make_smp(struct trace_membuf *m, unsigned vcpus, uint64_t exits)
{
    make_smp_seed(m, vcpus, exits, 7);
}

/* Other seeds and vCPU counts: other schedules, IPI mixes, I/O APIC and
 * timer interleavings; all replay clean. */
static void test_smp_seeds_replay_clean(void **st)
{
    (void)st;
    for (unsigned n = 2; n <= 4; n++)
        for (uint64_t seed = 1; seed <= 6; seed++) {
            struct trace_membuf m;
            make_smp_seed(&m, n, 4000, seed);
            struct replay_opts o = {0};
            struct replay_stats s;
            char *t = NULL;
            assert_int_equal(rt_replay(&m, &o, &s, &t), 0);
            if (s.divergences || s.cpu_starts != n - 1)
                fail_msg("%u vCPUs, seed %llu:\n%s", n, (unsigned long long)seed, t);
            free(t);
            free(m.data);
        }
}

static void test_smp_capture_replays_clean(void **st)
{
    (void)st;
    for (unsigned n = 2; n <= 4; n += 2) {
        struct trace_membuf m;
        make_smp(&m, n, 6000);
        struct replay_opts o = {0};
        struct replay_stats s, s2;
        char *t1 = NULL, *t2 = NULL;
        assert_int_equal(rt_replay(&m, &o, &s, &t1), 0);
        if (s.divergences)
            fail_msg("%s", t1);
        assert_int_equal(s.vcpus, n);
        for (unsigned v = 0; v < n; v++)
            assert_true(s.vcpu_exits[v] > 100);
        assert_int_equal(s.cpu_starts, n - 1);
        assert_true(s.switches > 10);
        assert_true(s.entries_checked > 1000);
        assert_true(s.injects > 100);
        assert_true(s.mmio_checked > 10);
        assert_int_equal(s.apic_msr_checked, n); /* each vCPU's IA32_APIC_BASE */
        assert_true(s.checkpoints >= 5);
        assert_non_null(strstr(t1, "vcpus: "));
        /* Twice: the same report, byte for byte. */
        assert_int_equal(rt_replay(&m, &o, &s2, &t2), 0);
        assert_string_equal(t1, t2);
        free(t1);
        free(t2);
        free(m.data);
    }
}

/* A platform with one local APIC for everybody: injections, interrupt
 * requests and MMIO of every vCPU go to vCPU 0's. */
static bool one_intr(const struct vm_devices *d, unsigned cpu)
{
    (void)cpu;
    return vm_devices_intr_cpu(d, 0);
}
static uint8_t one_ack(struct vm_devices *d, unsigned cpu, uint64_t now_ns)
{
    (void)cpu;
    return vm_devices_ack_cpu(d, 0, now_ns);
}
static int one_mmio(struct vm_devices *d, unsigned cpu, uint64_t gpa, unsigned size, bool write,
                    uint32_t *val, uint64_t now_ns)
{
    (void)cpu;
    return vm_devices_mmio_cpu(d, 0, gpa, size, write, val, now_ns);
}

static void test_one_lapic_model_diverges_naming_the_vcpu(void **st)
{
    (void)st;
    struct trace_membuf m;
    make_smp(&m, 2, 3000);
    struct vm_devices_ops bad = vm_devices_real_ops;
    bad.intr_cpu = one_intr;
    bad.ack_cpu = one_ack;
    bad.mmio_cpu = one_mmio;
    struct replay_opts o = {.devs = &bad, .max_reports = 3};
    struct replay_stats s;
    char *t = NULL;
    assert_int_equal(rt_replay(&m, &o, &s, &t), 0);
    assert_true(s.divergences > 0);
    assert_non_null(strstr(t, ", vcpu 1\n"));
    free(t);
    free(m.data);
}

struct edit {
    enum {
        CHANGE_VECTOR,
        DROP_START,
        START_VCPU0,
        START_VCPU5,
        INJECT_TO_0,
        NO_APIC,
        DROP_AP_INTR,
        FLIP_AP_INTR,
        NO_SIPI,
        FIVE_VCPUS
    } what;
    bool done;
};

static int edit(void *ctx, uint64_t rec, struct trace_item *it)
{
    struct edit *e = ctx;
    if (e->what == NO_APIC && it->type == TRACE_ITEM_HEADER) {
        it->u.header.apic = false;
        return 0;
    }
    if (e->what == FIVE_VCPUS && it->type == TRACE_ITEM_HEADER) {
        it->u.header.vcpus = 5;
        return 0;
    }
    if (e->what == DROP_AP_INTR && it->type == TRACE_ITEM_HEADER) {
        assert_true(it->u.header.intr_per_vcpu);
        it->u.header.intr_per_vcpu = false;
        return 0;
    }
    if (e->what == NO_SIPI && it->type == TRACE_ITEM_EXIT) {
        struct trace_exit *x = &it->u.exit;
        if (x->detail == TRACE_DETAIL_EPT && x->u.ept.gpa == 0xfee00300u &&
            x->u.ept.access == TRACE_EPT_WRITE && x->u.ept.value == 0x69f)
            x->u.ept.value = 0x8500; /* an INIT de-assert instead: no SIPI */
        return 0;
    }
    if (e->what == NO_SIPI || e->what == FIVE_VCPUS)
        return 0;
    if (e->done || it->type != TRACE_ITEM_DEV)
        return 0;
    struct trace_dev_event *d = &it->u.dev;
    if (e->what == DROP_AP_INTR) { /* as hv/record writes them: vCPU 0's, any label */
        if (d->kind != TRACE_DEV_INTR)
            return 0;
        if (d->vcpu > 0)
            return 1;
        d->vcpu = rec & 1;
        return 0;
    }
    if (e->what == FLIP_AP_INTR) {
        if (d->kind == TRACE_DEV_INTR && d->vcpu == 1 && rec > 2000) {
            d->vcpu = 0; /* vCPU 0's request changed, not vCPU 1's */
            e->done = true;
        }
        return 0;
    }
    if (e->what == INJECT_TO_0) {
        if (d->kind == TRACE_DEV_INJECT && d->vcpu == 1) {
            d->vcpu = 0;
            e->done = true;
        }
        return 0;
    }
    if (d->kind != TRACE_DEV_CPU_START)
        return 0;
    e->done = true;
    switch (e->what) {
    case CHANGE_VECTOR: d->u.cpu_start.vector--; return 0;
    case DROP_START: return 1;
    case START_VCPU0: d->u.cpu_start.vcpu = 0; return 0;
    default: d->u.cpu_start.vcpu = 5; return 0;
    }
}

static char *replay_edited(int what, struct replay_stats *s, int *rc)
{
    struct trace_membuf m, out;
    make_smp(&m, 2, 3000);
    struct edit e = {.what = what};
    assert_int_equal(rt_rewrite(&m, &out, edit, &e), 0);
    struct replay_opts o = {0};
    char *t = NULL;
    *rc = rt_replay(&out, &o, s, &t);
    free(m.data);
    free(out.data);
    return t;
}

static void test_cpu_start_must_match_the_sipi(void **st)
{
    (void)st;
    struct replay_stats s;
    int rc;
    char *t = replay_edited(CHANGE_VECTOR, &s, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s.divergences, 1);
    assert_non_null(strstr(t, ", vcpu 1\n"));
    assert_non_null(strstr(t, "expected a SIPI with vector 0x9e"));
    assert_non_null(strstr(t, "actual   a SIPI with vector 0x9f"));
    free(t);

    /* Without CpuStart records (optional) the models' SIPI state is what
     * counts: none lost here... */
    t = replay_edited(DROP_START, &s, &rc);
    assert_int_equal(rc, 0);
    if (s.divergences)
        fail_msg("%s", t);
    assert_int_equal(s.cpu_starts, 0);
    free(t);
    /* ... and an AP that runs while the models never started it is one. */
    t = replay_edited(NO_SIPI, &s, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(t, "expected a SIPI with vector 0x9f\n  actual   no SIPI received"));
    assert_non_null(strstr(t, "expected vcpu 1 started by a SIPI (it runs)\n  actual   waiting"));
    free(t);
}

static void test_inject_on_the_wrong_vcpu(void **st)
{
    (void)st;
    struct replay_stats s;
    int rc;
    char *t = replay_edited(INJECT_TO_0, &s, &rc);
    assert_int_equal(rc, 0);
    assert_true(s.divergences > 0);
    free(t);
}

/* A CpuStart of the BSP, or of a vCPU the header does not have, is damage
 * (no hypervisor writes it): the reader reports it and replay goes on. */
static void test_impossible_cpu_start_is_damage(void **st)
{
    (void)st;
    for (int what = START_VCPU0; what <= START_VCPU5; what++) {
        struct replay_stats s;
        int rc;
        char *t = replay_edited(what, &s, &rc);
        assert_int_equal(rc, 0);
        assert_true(s.damage > 0);
        assert_non_null(strstr(t, what == START_VCPU0 ? "start of vCPU 0" : "start of vCPU 5"));
        free(t);
    }
}

/* With VmConfig.intr_per_vcpu the APs' IntrLine records are compared (one
 * moved to vCPU 0 diverges); without it (hv/record: only vCPU 0's request,
 * labelled with the vCPU whose exit was handled) the trace replays clean,
 * the APs checked through their entry decisions. */
static void test_ap_intr_lines(void **st)
{
    (void)st;
    struct replay_stats s;
    int rc;
    char *t = replay_edited(FLIP_AP_INTR, &s, &rc);
    assert_int_equal(rc, 0);
    assert_true(s.divergences > 0);
    assert_non_null(strstr(t, "vcpu 0 interrupt request"));
    free(t);
    t = replay_edited(DROP_AP_INTR, &s, &rc);
    assert_int_equal(rc, 0);
    if (s.divergences)
        fail_msg("%s", t);
    assert_true(s.entries_checked > 1000);
    free(t);
}

struct intr_scan {
    bool header_flag;
    unsigned ap_intr, bsp_intr;
};

static int scan_intr(void *ctx, uint64_t rec, const struct trace_item *it)
{
    (void)rec;
    struct intr_scan *c = ctx;
    if (it->type == TRACE_ITEM_HEADER)
        c->header_flag = it->u.header.intr_per_vcpu;
    if (it->type == TRACE_ITEM_DEV && it->u.dev.kind == TRACE_DEV_INTR) {
        if (it->u.dev.vcpu)
            c->ap_intr++;
        else
            c->bsp_intr++;
    }
    return 0;
}

/* hv/record with two vCPUs: vCPU 1 arms its local APIC timer, vCPU 0 runs
 * when it fires; the IntrLine says vCPU 1 (whose request), the header
 * says intr_per_vcpu, and the trace replays clean. */
static void test_recorder_writes_every_vcpus_request(void **st)
{
    (void)st;
    static struct vm_devices d;
    static struct vm_recorder rec;
    struct trace_membuf m;
    struct trace_writer *w = rt_writer(&m);
    const struct vm_devices_config dc = {.apic = true, .cpus = 2, .tsc_hz = 1000000000};
    const struct vm_recorder_config rc = {.w = w, .tsc_hz = 1000000000, .vcpus = 2};
    assert_int_equal(vm_recorder_init(&rec, &d, &dc, NULL, &rc), 0);
    uint64_t t = 1000;
    struct vm_rec_exit_info x = {.vcpu = 0};
    static const struct {
        unsigned cpu;
        uint32_t off, val;
    } seq[] = {{0, LAPIC_ICR_HI, 1u << 24}, {0, LAPIC_ICR_LO, 0xc500}, {0, LAPIC_ICR_LO, 0x069f},
               {1, LAPIC_SVR, 0x1ff},       {1, LAPIC_TDCR, 0xb},      {1, LAPIC_LVT_TMR, 0xec},
               {1, LAPIC_TMICT, 5000}};
    for (unsigned i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        x.vcpu = seq[i].cpu;
        x.tsc = t += 100;
        vm_rec_mmio(&rec, &x, 0xfee00000u + seq[i].off, 4, true, seq[i].val);
    }
    rec.vcpu = 0; /* vCPU 0 runs when vCPU 1's timer fires */
    vm_rec_advance(&rec, t += 10000);
    assert_true(vm_devices_intr_cpu(&d, 1));
    x.vcpu = 0;
    x.tsc = t += 100;
    vm_rec_io(&rec, &x, 0x80, 1, true, 0x42);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    trace_writer_destroy(w);
    struct intr_scan c = {0};
    rt_scan(&m, scan_intr, &c);
    assert_true(c.header_flag);
    assert_int_equal(c.ap_intr, 1);
    struct replay_opts o = {0};
    struct replay_stats s;
    char *text = NULL;
    assert_int_equal(rt_replay(&m, &o, &s, &text), 0);
    if (s.divergences)
        fail_msg("%s", text);
    assert_int_equal(s.outputs, c.ap_intr + c.bsp_intr);
    free(text);
    free(m.data);
}

static void test_smp_without_apic_cannot_replay(void **st)
{
    (void)st;
    struct replay_stats s;
    int rc;
    char *t = replay_edited(NO_APIC, &s, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(t, "several vCPUs without the APIC platform"));
    free(t);
    t = replay_edited(FIVE_VCPUS, &s, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(t, "more vCPUs than the device models support"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp_capture_replays_clean),
        cmocka_unit_test(test_smp_seeds_replay_clean),
        cmocka_unit_test(test_one_lapic_model_diverges_naming_the_vcpu),
        cmocka_unit_test(test_cpu_start_must_match_the_sipi),
        cmocka_unit_test(test_inject_on_the_wrong_vcpu),
        cmocka_unit_test(test_impossible_cpu_start_is_damage),
        cmocka_unit_test(test_ap_intr_lines),
        cmocka_unit_test(test_recorder_writes_every_vcpus_request),
        cmocka_unit_test(test_smp_without_apic_cannot_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
