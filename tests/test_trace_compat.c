/* Version compatibility: a reader must ignore what a newer writer adds —
 * unknown fields in any message, unknown record kinds, unknown stream-level
 * fields, unknown enum values and event kinds — and still decode everything
 * it knows. Records are built byte by byte here, as a newer writer would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "trace/hvrr.pb-c.h"
#include "trace/trace_testutil.h"

struct bytes {
    uint8_t b[512];
    size_t n;
};

static void put(struct bytes *x, const void *p, size_t n)
{
    assert_true(x->n + n <= sizeof(x->b));
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void put_varint(struct bytes *x, uint64_t v)
{
    uint8_t t[10];
    put(x, t, trace_varint_put(t, v));
}

static void put_key(struct bytes *x, unsigned field, unsigned wt)
{
    put_varint(x, (uint64_t)field << 3 | wt);
}

static void put_len_field(struct bytes *x, unsigned field, const struct bytes *inner)
{
    put_key(x, field, 2);
    put_varint(x, inner->n);
    put(x, inner->b, inner->n);
}

static void put_msg(struct bytes *x, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    assert_true(x->n + n <= sizeof(x->b));
    x->n += protobuf_c_message_pack(m, x->b + x->n);
}

/* Unknown fields of every wire type a newer version might add. */
static void put_unknowns(struct bytes *x, unsigned first_field)
{
    put_key(x, first_field, 0);
    put_varint(x, 123456789);
    put_key(x, first_field + 1, 2);
    put_varint(x, 3);
    put(x, "new", 3);
    put_key(x, first_field + 2, 1);
    put(x, "\1\2\3\4\5\6\7\10", 8);
    put_key(x, first_field + 3, 5);
    put(x, "\1\2\3\4", 4);
}

/* Reads a trace made of one frame holding `stream` (already in TraceStream
 * form) followed by a normal exit record written through the writer API. */
static void read_stream(const struct bytes *stream, struct tt_got *g)
{
    struct trace_membuf m = {0};
    tt_frame(&m, 0, 1, 0, stream->b, stream->n, false);
    /* frame 1: through the public raw-record API, then the end record */
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    assert_non_null(w);
    Hvrr__Exit x = HVRR__EXIT__INIT;
    x.reason = HVRR__EXIT_REASON__HLT;
    x.insn_len = 1;
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_EXIT;
    r.exit = &x;
    struct bytes rec = {.n = 0};
    put_msg(&rec, &r.base);
    assert_int_equal(trace_write_raw_record(w, rec.b, rec.n), 0);
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    trace_writer_destroy(w);
    /* renumber the writer's frame 0 as frame 1 so the sequence is whole */
    struct trace_frame_hdr h;
    assert_int_equal(trace_frame_hdr_decode(o.buf.data, &h), 0);
    h.seq = 1;
    trace_frame_hdr_encode(&h, o.buf.data);
    trace_write_membuf(&m, o.buf.data, o.buf.len);
    trace_membuf_free(&o.buf);
    tt_read(m.data, m.len, 0, g);
    trace_membuf_free(&m);
    assert_int_equal(g->damages, 0);
    assert_true(g->st.end_seen);
    assert_int_equal(g->v[g->n - 2].it.type, TRACE_ITEM_EXIT); /* the trailing HLT */
    assert_int_equal(g->v[g->n - 2].it.u.exit.reason, TRACE_EXIT_HLT);
}

static void test_unknown_fields_in_exit_and_detail_ignored(void **state)
{
    (void)state;
    /* PortIo with an unknown field, inside an Exit with unknown fields. */
    Hvrr__PortIo io = HVRR__PORT_IO__INIT;
    io.port = 0x3f8;
    io.size = 1;
    io.write = true;
    io.value = 'Z';
    struct bytes iob = {.n = 0};
    put_msg(&iob, &io.base);
    put_unknowns(&iob, 20);

    Hvrr__Exit x = HVRR__EXIT__INIT;
    x.reason = HVRR__EXIT_REASON__IO_INSTRUCTION;
    x.insn_len = 1;
    x.qual = 0x3f80000;
    x.rip_delta = 0x1000;
    x.tsc_delta = 777;
    struct bytes ex = {.n = 0};
    put_msg(&ex, &x.base);
    put_unknowns(&ex, 16); /* 16.. : after tsc_delta, as a v2 writer would */
    put_len_field(&ex, 7, &iob);
    put_unknowns(&ex, 100);

    struct bytes rec = {.n = 0}, stream = {.n = 0};
    put_len_field(&rec, 2, &ex);
    put_unknowns(&rec, 40); /* unknown fields in Record itself */
    put_len_field(&stream, 1, &rec);

    struct tt_got g;
    read_stream(&stream, &g);
    assert_int_equal(g.exits, 2);
    const struct trace_exit *e = &g.v[0].it.u.exit;
    assert_int_equal(g.v[0].it.type, TRACE_ITEM_EXIT);
    assert_int_equal(e->reason, TRACE_EXIT_IO_INSTRUCTION);
    assert_int_equal(e->detail, TRACE_DETAIL_IO);
    assert_int_equal(e->u.io.port, 0x3f8);
    assert_true(e->u.io.write);
    assert_int_equal(e->u.io.value, 'Z');
    assert_int_equal(e->tsc, 777);
    assert_int_equal(e->rip, 0x1000);
    assert_int_equal(e->qual, 0x3f80000);
    tt_got_free(&g);
}

static void test_unknown_record_kind_skipped(void **state)
{
    (void)state;
    /* A Record whose only field is a kind this reader does not know. */
    struct bytes inner = {.n = 0}, rec = {.n = 0}, stream = {.n = 0};
    put_unknowns(&inner, 1);
    put_len_field(&rec, 50, &inner);
    put_len_field(&stream, 1, &rec);
    put_len_field(&stream, 1, &rec);
    struct tt_got g;
    read_stream(&stream, &g);
    assert_int_equal(g.exits, 1);
    assert_int_equal(g.n, 2); /* the HLT and the end record, nothing else */
    assert_int_equal(g.st.unknown, 2);
    tt_got_free(&g);
}

static void test_unknown_stream_level_fields_skipped(void **state)
{
    (void)state;
    /* Fields 2.. of TraceStream (e.g. a future index) between records. */
    Hvrr__Exit x = HVRR__EXIT__INIT;
    x.reason = HVRR__EXIT_REASON__CPUID;
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_EXIT;
    r.exit = &x;
    struct bytes rec = {.n = 0}, stream = {.n = 0};
    put_msg(&rec, &r.base);
    put_unknowns(&stream, 2);
    put_len_field(&stream, 1, &rec);
    put_unknowns(&stream, 7);
    put_len_field(&stream, 1, &rec);
    struct tt_got g;
    read_stream(&stream, &g);
    assert_int_equal(g.exits, 3);
    assert_int_equal(g.v[0].it.u.exit.reason, TRACE_EXIT_CPUID);
    assert_int_equal(g.v[1].it.u.exit.seq, 1);
    assert_int_equal(g.st.unknown, 8);
    tt_got_free(&g);
}

static void test_unknown_enum_value_and_event_kind(void **state)
{
    (void)state;
    /* Exit reason 77 (not in this schema) is passed through as a number. */
    struct bytes ex = {.n = 0}, rec = {.n = 0}, stream = {.n = 0};
    put_key(&ex, 1, 0);
    put_varint(&ex, 77);
    put_key(&ex, 15, 0);
    put_varint(&ex, 200); /* zigzag 100 */
    put_len_field(&rec, 2, &ex);
    put_len_field(&stream, 1, &rec);
    /* A DeviceEvent of an unknown kind (field 13), then a known one: the
     * unknown one is skipped but its TSC delta still counts. */
    struct bytes ev = {.n = 0}, evrec = {.n = 0}, inner = {.n = 0};
    put_unknowns(&inner, 1);
    put_len_field(&ev, 13, &inner);
    put_key(&ev, 15, 0);
    put_varint(&ev, 20); /* +10 */
    put_len_field(&evrec, 3, &ev);
    put_len_field(&stream, 1, &evrec);
    Hvrr__IntrLine il = HVRR__INTR_LINE__INIT;
    il.level = true;
    Hvrr__DeviceEvent de = HVRR__DEVICE_EVENT__INIT;
    de.ev_case = HVRR__DEVICE_EVENT__EV_INTR;
    de.intr = &il;
    de.tsc_delta = 5;
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_DEV;
    r.dev = &de;
    struct bytes known = {.n = 0};
    put_msg(&known, &r.base);
    put_len_field(&stream, 1, &known);

    struct tt_got g;
    read_stream(&stream, &g);
    assert_int_equal(g.v[0].it.type, TRACE_ITEM_EXIT);
    assert_int_equal(g.v[0].it.u.exit.reason, 77);
    assert_string_equal(trace_exit_reason_name(77), "UNKNOWN");
    assert_int_equal(g.v[0].it.u.exit.tsc, 100);
    assert_int_equal(g.v[1].it.type, TRACE_ITEM_DEV);
    assert_int_equal(g.v[1].it.u.dev.kind, TRACE_DEV_INTR);
    assert_int_equal(g.v[1].it.u.dev.tsc, 115);
    assert_int_equal(g.st.unknown, 1);
    tt_got_free(&g);
}

static void test_newer_header_still_read(void **state)
{
    (void)state;
    /* format_version TRACE_FORMAT_VERSION + 1 (newer than this reader) with unknown fields at every
     * level of the header. */
    Hvrr__Device d = HVRR__DEVICE__INIT;
    d.name = "com1";
    d.port_base = 0x3f8;
    d.port_count = 8;
    d.irq = 4;
    struct bytes dev = {.n = 0};
    put_msg(&dev, &d.base);
    put_unknowns(&dev, 9);
    Hvrr__VmConfig c = HVRR__VM_CONFIG__INIT;
    c.ram_bytes = 1ull << 30;
    c.vcpus = 4;
    struct bytes cfg = {.n = 0};
    put_msg(&cfg, &c.base);
    put_len_field(&cfg, 4, &dev);
    put_unknowns(&cfg, 30);
    Hvrr__Header h = HVRR__HEADER__INIT;
    h.format_version = TRACE_FORMAT_VERSION + 1;
    h.cmdline = "console=ttyS0";
    struct bytes hdr = {.n = 0};
    put_msg(&hdr, &h.base);
    put_len_field(&hdr, 4, &cfg);
    put_unknowns(&hdr, 60);
    struct bytes rec = {.n = 0}, stream = {.n = 0};
    put_len_field(&rec, 4, &hdr);
    put_len_field(&stream, 1, &rec);

    struct tt_got g;
    struct trace_membuf m = {0};
    tt_frame(&m, 0, 1, 0, stream.b, stream.n, false);
    struct trace_reader *r = trace_reader_new();
    trace_reader_feed(r, m.data, m.len);
    trace_reader_eof(r);
    struct trace_item it;
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_HEADER);
    assert_int_equal(it.u.header.format_version, TRACE_FORMAT_VERSION + 1);
    assert_string_equal(it.u.header.cmdline, "console=ttyS0");
    assert_int_equal(it.u.header.vcpus, 4);
    assert_true(it.u.header.ram_bytes == 1ull << 30);
    assert_int_equal(it.u.header.ndevices, 1);
    assert_string_equal(it.u.header.devices[0].name, "com1");
    assert_int_equal(it.u.header.devices[0].irq, 4);
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_DAMAGE); /* no end record: truncated capture */
    assert_int_equal(it.u.damage.kind, TRACE_DMG_NO_END);
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_END);
    trace_reader_free(r);
    trace_membuf_free(&m);
    (void)g;
}

static void test_bad_stream_wire_type_is_damage(void **state)
{
    (void)state;
    /* Wire types 3/4 (groups) and 6/7 do not exist at stream level in any
     * version: the frame's remaining records are dropped and reported. */
    const uint8_t bad_keys[] = {0x13, 0x14, 0x16, 0x17, 0x00};
    for (unsigned i = 0; i < sizeof(bad_keys); i++) {
        struct bytes stream = {.n = 0};
        put(&stream, &bad_keys[i], 1);
        put(&stream, "\0\0\0\0", 4);
        struct trace_membuf m = {0};
        tt_frame(&m, 0, 1, 0, stream.b, stream.n, false);
        struct tt_got g;
        tt_read(m.data, m.len, 0, &g);
        assert_int_equal(g.v[0].it.type, TRACE_ITEM_DAMAGE);
        assert_int_equal(g.v[0].it.u.damage.kind, TRACE_DMG_DECODE);
        assert_int_equal(g.st.frames_ok, 1);
        tt_got_free(&g);
        trace_membuf_free(&m);
    }
}

static void test_fast_and_slow_decoders_agree(void **state)
{
    (void)state;
    /* The hand-written exit decoder and protobuf-c give identical items on
     * synthetic traces, on hand-made records with odd encodings, and on
     * damaged input. */
    struct tt_out o;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        assert_int_equal(tt_synth(&o, 8000, 2500, seed), 0);
        if (seed == 3) /* damage one frame in the middle */
            o.buf.data[o.buf.len / 2] ^= 0x40;
        struct tt_got fast, slow;
        tt_slow_path = false;
        tt_read(o.buf.data, o.buf.len, 0, &fast);
        tt_slow_path = true;
        tt_read(o.buf.data, o.buf.len, 0, &slow);
        tt_slow_path = false;
        assert_int_equal(fast.n, slow.n);
        for (size_t i = 0; i < fast.n; i++)
            assert_true(tt_item_eq(&fast.v[i], &slow.v[i]));
        tt_got_free(&fast);
        tt_got_free(&slow);
        trace_membuf_free(&o.buf);
    }
    /* odd but valid encodings: non-minimal varints, 10-byte values for
     * 32-bit fields, bool 7, empty PortIo, fields out of order, a repeated
     * field (last wins), a second PortIo */
    struct bytes stream = {.n = 0};
    static const uint8_t recs[][32] = {
        {0x12, 8, 0x08, 0x9e, 0x80, 0x00, 0x3a, 0x02, 0x18, 0x07},
        {0x12, 15, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x3a, 0x00,
         0x78, 0x03},
        {0x12, 6, 0x78, 0x05, 0x08, 0x1e, 0x08, 0x0c},
        {0x12, 10, 0x3a, 0x02, 0x08, 0x21, 0x3a, 0x02, 0x20, 0x7f, 0x08, 0x1e},
        {0x12, 4, 0x30, 0x02, 0x28, 0x03},
    };
    for (unsigned i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        struct bytes rec = {.n = 0};
        put(&rec, recs[i], 2u + recs[i][1]);
        put_len_field(&stream, 1, &rec);
    }
    struct trace_membuf m = {0};
    tt_frame(&m, 0, 1, TRACE_FRAME_FINAL, stream.b, stream.n, false);
    struct tt_got fast, slow;
    tt_read(m.data, m.len, 0, &fast);
    tt_slow_path = true;
    tt_read(m.data, m.len, 0, &slow);
    tt_slow_path = false;
    assert_int_equal(fast.exits, 5);
    assert_int_equal(fast.n, slow.n);
    for (size_t i = 0; i < fast.n; i++)
        assert_true(tt_item_eq(&fast.v[i], &slow.v[i]));
    assert_true(fast.v[0].it.u.exit.u.io.write); /* bool 7 */
    assert_int_equal(fast.v[1].it.u.exit.vcpu, 0xffffffffu);
    assert_int_equal(fast.v[2].it.u.exit.reason, 12); /* last value wins */
    /* a second PortIo: whatever protobuf-c makes of it, both paths agree
     * (above); its value field is there either way */
    assert_int_equal(fast.v[3].it.u.exit.u.io.value, 0x7f);
    tt_got_free(&fast);
    tt_got_free(&slow);
    trace_membuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_fields_in_exit_and_detail_ignored),
        cmocka_unit_test(test_unknown_record_kind_skipped),
        cmocka_unit_test(test_unknown_stream_level_fields_skipped),
        cmocka_unit_test(test_unknown_enum_value_and_event_kind),
        cmocka_unit_test(test_newer_header_still_read),
        cmocka_unit_test(test_bad_stream_wire_type_is_damage),
        cmocka_unit_test(test_fast_and_slow_decoders_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
