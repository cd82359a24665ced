/* The host CPU snapshot in the trace header (VmConfig host_cpuid,
 * host_xcr0, host_features): writer -> reader round trip, absent in
 * headers written without it, the writer's bounds, and what the recorder
 * puts there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hv/record/recorder.h"
#include "trace/hvrr.pb-c.h"
#include "trace/trace_testutil.h"

static const struct trace_cpuid_leaf leaves[] = {
    {0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69},
    {1, 0, 0x50654, 0x800, 0x7ffefbff, 0xbfebfbff},
    {0xd, 2, 256, 576, 0, 0},
    {0x80000008u, 0, 0x3028, 0, 0, 0},
};
static const struct trace_host_cpu host = {
    .nleaves = 4, .leaves = leaves, .xcr0 = 0xe7, .features = TRACE_HOST_XSAVES};

/* Writes a header (plus the end record) and reads the header back. */
static void roundtrip(const struct trace_header *h, void (*check)(const struct trace_header *))
{
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    assert_int_equal(trace_write_header(w, h), 0);
    struct trace_end end = {.exits = 0};
    assert_int_equal(trace_writer_finish(w, &end), 0);
    trace_writer_destroy(w);
    struct trace_reader *r = trace_reader_new();
    assert_int_equal(trace_reader_feed(r, o.buf.data, o.buf.len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_HEADER);
    check(&it.u.header);
    trace_reader_free(r);
    free(o.buf.data);
}

static void check_full(const struct trace_header *h)
{
    assert_int_equal(h->host_cpu.nleaves, 4);
    assert_memory_equal(h->host_cpu.leaves, leaves, sizeof leaves);
    assert_int_equal(h->host_cpu.xcr0, 0xe7);
    assert_int_equal(h->host_cpu.features, TRACE_HOST_XSAVES);
    assert_int_equal(h->tsc_hz, 50000000);
    assert_true(h->entry_decisions);
}

static void check_absent(const struct trace_header *h)
{
    assert_int_equal(h->host_cpu.nleaves, 0);
    assert_null(h->host_cpu.leaves);
    assert_int_equal(h->host_cpu.xcr0, 0);
    assert_int_equal(h->host_cpu.features, 0);
    assert_false(h->entry_decisions); /* older traces: no decision records */
}

static void test_snapshot_roundtrip(void **s)
{
    (void)s;
    struct trace_header h = {.tsc_hz = 50000000, .host_cpu = host, .entry_decisions = true};
    roundtrip(&h, check_full);
}

static void test_no_snapshot_reads_as_absent(void **s)
{
    (void)s;
    struct trace_header h = {.tsc_hz = 50000000};
    roundtrip(&h, check_absent);
}

static void test_writer_bounds(void **s)
{
    (void)s;
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    struct trace_header h = {.tsc_hz = 1,
                             .host_cpu = {.nleaves = TRACE_HOST_CPUID_MAX + 1, .leaves = leaves}};
    assert_int_equal(trace_write_header(w, &h), TRACE_W_E_ARG);
    trace_writer_destroy(w);
    w = tt_writer(&o, 3, 0);
    h.host_cpu = (struct trace_host_cpu){.nleaves = 1, .leaves = NULL};
    assert_int_equal(trace_write_header(w, &h), TRACE_W_E_ARG);
    trace_writer_destroy(w);
    free(o.buf.data);
}

/* The message protobuf-c decodes carries the same numbers (schema check). */
static void test_wire_fields(void **s)
{
    (void)s;
    Hvrr__CpuidLeaf l = HVRR__CPUID_LEAF__INIT;
    l.leaf = 0xd;
    l.subleaf = 2;
    l.ebx = 576;
    Hvrr__CpuidLeaf *lp = &l;
    Hvrr__VmConfig c = HVRR__VM_CONFIG__INIT;
    c.n_host_cpuid = 1;
    c.host_cpuid = &lp;
    c.host_xcr0 = 7;
    c.host_features = 3;
    uint8_t buf[64];
    size_t n = hvrr__vm_config__pack(&c, buf);
    /* field 5 (host_cpuid, length-delimited), 6 (varint 7), 7 (varint 3) */
    assert_int_equal(buf[0], (5 << 3) | 2);
    assert_int_equal(buf[n - 4], 6 << 3);
    assert_int_equal(buf[n - 3], 7);
    assert_int_equal(buf[n - 2], 7 << 3);
    assert_int_equal(buf[n - 1], 3);
}

static struct vm_devices dev;
static _Alignas(8) uint8_t wmem[4u << 20];

static void check_recorded(const struct trace_header *h)
{
    check_full(h);
    assert_true(h->has_start);
    assert_true(h->ndevices > 0);
}

/* vm_recorder_config.host_cpu and entry_decisions go to the header as given. */
static void test_recorder_writes_snapshot(void **s)
{
    (void)s;
    struct tt_out o;
    memset(&o, 0, sizeof o);
    struct trace_writer_config wc = {.level = 1, .write = tt_write, .write_ctx = &o};
    size_t need = trace_writer_mem_size(&wc);
    assert_true(need <= sizeof wmem);
    struct trace_writer *w = trace_writer_init(&wc, wmem, need);
    assert_non_null(w);
    struct vm_recorder rec;
    struct vm_devices_config dc = {0};
    struct vm_recorder_config rc = {
        .w = w, .tsc_hz = 50000000, .host_cpu = &host, .entry_decisions = true};
    assert_int_equal(vm_recorder_init(&rec, &dev, &dc, NULL, &rc), 0);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    struct trace_reader *r = trace_reader_new();
    assert_int_equal(trace_reader_feed(r, o.buf.data, o.buf.len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_HEADER);
    check_recorded(&it.u.header);
    trace_reader_free(r);
    free(o.buf.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_no_snapshot_reads_as_absent),
        cmocka_unit_test(test_writer_bounds),
        cmocka_unit_test(test_wire_fields),
        cmocka_unit_test(test_recorder_writes_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
