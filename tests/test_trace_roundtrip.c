/* Trace writer -> reader round trips: every exit detail and device event
 * kind, header, checkpoints, end record, delta coding corner cases, frame
 * boundaries, memory modes and writer errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "trace/hvrr.pb-c.h"
#include "trace/trace_testutil.h"

/* ---- CRC, varints, frame header ---- */

static void test_crc32c_known_values(void **state)
{
    (void)state;
    /* The CRC-32C check value (RFC 3720 appendix B.4 parameters). */
    assert_int_equal(trace_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(trace_crc32c(0, "", 0), 0);
    uint8_t zeros[32] = {0};
    assert_int_equal(trace_crc32c(0, zeros, 32), 0x8a9136aau);
    /* chaining equals one pass */
    uint32_t c = trace_crc32c(0, "1234", 4);
    assert_int_equal(trace_crc32c(c, "56789", 5), 0xe3069283u);
}

static void test_varint_roundtrip_and_truncation(void **state)
{
    (void)state;
    const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t b[10];
        size_t n = trace_varint_put(b, vals[i]);
        uint64_t v = 0;
        assert_int_equal(trace_varint_get(b, n, &v), n);
        assert_true(v == vals[i]);
        if (n > 1)
            assert_int_equal(trace_varint_get(b, n - 1, &v), 0); /* truncated */
    }
    assert_int_equal(trace_varint_put((uint8_t[10]){0}, UINT64_MAX), 10);
    uint8_t eleven[11];
    memset(eleven, 0x80, sizeof(eleven));
    uint64_t v;
    assert_int_equal(trace_varint_get(eleven, sizeof(eleven), &v), 0); /* too long */
}

static void test_frame_header_encode_decode(void **state)
{
    (void)state;
    struct trace_frame_hdr h = {.version = 1,
                                .flags = TRACE_FRAME_FINAL,
                                .seq = 0x01020304,
                                .payload_len = 777,
                                .raw_len = 9999,
                                .payload_crc = 0xdeadbeef};
    uint8_t b[TRACE_FRAME_HDR_LEN];
    trace_frame_hdr_encode(&h, b);
    assert_int_equal(b[0], 0x9e);
    assert_memory_equal(b + 1, "HVT", 3);
    assert_int_equal(b[8], 0x04); /* little-endian sequence number */
    struct trace_frame_hdr d;
    assert_int_equal(trace_frame_hdr_decode(b, &d), 0);
    assert_int_equal(d.seq, h.seq);
    assert_int_equal(d.payload_len, 777);
    assert_int_equal(d.raw_len, 9999);
    assert_int_equal(d.payload_crc, 0xdeadbeef);
    assert_int_equal(d.flags, TRACE_FRAME_FINAL);
    b[13] ^= 1;
    assert_int_equal(trace_frame_hdr_decode(b, &d), TRACE_FRAME_E_HDR_CRC);
    b[13] ^= 1;
    b[2] = 'X';
    assert_int_equal(trace_frame_hdr_decode(b, &d), TRACE_FRAME_E_MARKER);
}

/* ---- round trips ---- */

/* Writes the exits (and device events) and reads them back. */
static void roundtrip(const struct trace_exit *ex, size_t nex, const struct trace_dev_event *dv,
                      size_t ndv, struct tt_got *g)
{
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    assert_non_null(w);
    for (size_t i = 0; i < nex; i++)
        assert_int_equal(trace_write_exit(w, &ex[i]), 0);
    for (size_t i = 0; i < ndv; i++)
        assert_int_equal(trace_write_dev(w, &dv[i]), 0);
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    trace_writer_destroy(w);
    tt_read(o.buf.data, o.buf.len, 0, g);
    trace_membuf_free(&o.buf);
    assert_int_equal(g->final_rc, TRACE_R_END);
    assert_int_equal(g->damages, 0);
    assert_int_equal(g->n, nex + ndv + 1); /* + end */
    for (size_t i = 0; i < nex; i++) {
        assert_int_equal(g->v[i].it.type, TRACE_ITEM_EXIT);
        assert_true(tt_exit_eq(&g->v[i].it.u.exit, &ex[i]));
    }
    assert_int_equal(g->v[g->n - 1].it.type, TRACE_ITEM_END);
}

static struct trace_exit mk_exit(uint64_t seq, uint32_t reason, enum trace_detail d)
{
    struct trace_exit e;
    memset(&e, 0, sizeof(e));
    e.seq = seq;
    e.tsc = 1000000 + seq * 4321;
    e.rip = 0xffffffff81000000ull + seq * 3;
    e.reason = reason;
    e.detail = d;
    e.insn_len = 2;
    return e;
}

static void test_roundtrip_port_io(void **state)
{
    (void)state;
    struct trace_exit e[4];
    e[0] = mk_exit(0, TRACE_EXIT_IO_INSTRUCTION, TRACE_DETAIL_IO);
    e[0].u.io.port = 0x3fd, e[0].u.io.size = 1, e[0].u.io.value = 0x60;
    e[0].qual = 0x3fd0008;
    e[1] = mk_exit(1, TRACE_EXIT_IO_INSTRUCTION, TRACE_DETAIL_IO);
    e[1].u.io.port = 0x3f8, e[1].u.io.size = 1, e[1].u.io.write = true, e[1].u.io.value = 'A';
    e[2] = mk_exit(2, TRACE_EXIT_IO_INSTRUCTION, TRACE_DETAIL_IO);
    e[2].u.io.port = 0xcfc, e[2].u.io.size = 4, e[2].u.io.value = 0xffffffffu;
    e[3] = mk_exit(3, TRACE_EXIT_IO_INSTRUCTION, TRACE_DETAIL_IO);
    e[3].u.io.port = 0xffff, e[3].u.io.size = 2, e[3].u.io.write = true, e[3].u.io.value = 0;
    struct tt_got g;
    roundtrip(e, 4, NULL, 0, &g);
    assert_int_equal(g.v[0].it.u.exit.u.io.value, 0x60);
    assert_false(g.v[0].it.u.exit.u.io.write);
    assert_int_equal(g.v[2].it.u.exit.u.io.size, 4);
    tt_got_free(&g);
}

static void test_roundtrip_cpuid_msr_xsetbv(void **state)
{
    (void)state;
    struct trace_exit e[4];
    e[0] = mk_exit(0, TRACE_EXIT_CPUID, TRACE_DETAIL_CPUID);
    e[0].u.cpuid.leaf = 0x80000008u, e[0].u.cpuid.subleaf = 3;
    e[0].u.cpuid.eax = 1, e[0].u.cpuid.ebx = 0xffffffffu, e[0].u.cpuid.ecx = 0,
    e[0].u.cpuid.edx = 0x12345678;
    e[1] = mk_exit(1, TRACE_EXIT_RDMSR, TRACE_DETAIL_MSR);
    e[1].u.msr.index = 0xc0000080u, e[1].u.msr.value = UINT64_MAX;
    e[2] = mk_exit(2, TRACE_EXIT_WRMSR, TRACE_DETAIL_MSR);
    e[2].u.msr.index = 0x277, e[2].u.msr.write = true, e[2].u.msr.value = 0x0007040600070406ull;
    e[3] = mk_exit(3, TRACE_EXIT_XSETBV, TRACE_DETAIL_XSETBV);
    e[3].u.xsetbv.xcr = 0, e[3].u.xsetbv.value = 0x2ff;
    struct tt_got g;
    roundtrip(e, 4, NULL, 0, &g);
    assert_true(g.v[1].it.u.exit.u.msr.value == UINT64_MAX);
    tt_got_free(&g);
}

static void test_roundtrip_cr_ept_extint(void **state)
{
    (void)state;
    struct trace_exit e[4];
    e[0] = mk_exit(0, TRACE_EXIT_CR_ACCESS, TRACE_DETAIL_CR);
    e[0].u.cr.cr = 4, e[0].u.cr.access = TRACE_CR_MOV_TO, e[0].u.cr.gpr = 11,
    e[0].u.cr.value = 0x3406f0;
    e[1] = mk_exit(1, TRACE_EXIT_CR_ACCESS, TRACE_DETAIL_CR);
    e[1].u.cr.cr = 3, e[1].u.cr.access = TRACE_CR_MOV_FROM, e[1].u.cr.gpr = 0,
    e[1].u.cr.value = 0x1000;
    e[2] = mk_exit(2, TRACE_EXIT_EPT_VIOLATION, TRACE_DETAIL_EPT);
    e[2].u.ept.gpa = 0xfee00030ull, e[2].u.ept.access = TRACE_EPT_WRITE,
    e[2].u.ept.gla = 0xffffffffff5fc030ull, e[2].u.ept.size = 4, e[2].u.ept.value = 0xdead;
    e[3] = mk_exit(3, TRACE_EXIT_EXTERNAL_INTERRUPT, TRACE_DETAIL_EXTINT);
    e[3].u.extint.vector = 0xef;
    struct tt_got g;
    roundtrip(e, 4, NULL, 0, &g);
    tt_got_free(&g);
}

static void test_roundtrip_reasons_without_detail(void **state)
{
    (void)state;
    const uint32_t reasons[] = {
        TRACE_EXIT_HLT,           TRACE_EXIT_INTERRUPT_WINDOW,      TRACE_EXIT_PREEMPTION_TIMER,
        TRACE_EXIT_TRIPLE_FAULT,  TRACE_EXIT_EXCEPTION_NMI,         TRACE_EXIT_EXTERNAL_INTERRUPT,
        TRACE_EXIT_EPT_MISCONFIG, TRACE_EXIT_ENTRY_FAIL_GUEST_STATE};
    struct trace_exit e[8];
    for (unsigned i = 0; i < 8; i++) {
        e[i] = mk_exit(i, reasons[i], TRACE_DETAIL_NONE);
        e[i].qual = i * 0x1111;
        e[i].vcpu = i % 2;
    }
    struct tt_got g;
    roundtrip(e, 8, NULL, 0, &g);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(g.v[i].it.u.exit.reason, reasons[i]);
    tt_got_free(&g);
}

static void test_roundtrip_device_events(void **state)
{
    (void)state;
    static const uint8_t rx[] = {0x00, 'l', 's', '\r', 0xff};
    struct trace_dev_event d[14];
    memset(d, 0, sizeof(d));
    for (unsigned i = 0; i < 14; i++)
        d[i].tsc = 5000000 + i * 17;
    d[0].kind = TRACE_DEV_IRQ_LINE, d[0].u.irq.irq = 4, d[0].u.irq.level = true;
    d[1].kind = TRACE_DEV_IRQ_LINE, d[1].u.irq.irq = 0, d[1].u.irq.level = false;
    d[2].kind = TRACE_DEV_INJECT, d[2].u.inject.vector = 0x30;
    d[3].kind = TRACE_DEV_UART_RX, d[3].u.uart_rx.port = 0x3f8, d[3].u.uart_rx.data = rx,
    d[3].u.uart_rx.len = sizeof(rx);
    d[4].kind = TRACE_DEV_TIMER_EDGE, d[4].u.timer.source = TRACE_TIMER_RTC,
    d[4].u.timer.level = true;
    d[5].kind = TRACE_DEV_INTR, d[5].u.intr.level = true;
    d[6].kind = TRACE_DEV_REQUEST, d[6].u.request.what = 2;
    d[7].kind = TRACE_DEV_TIMER_EDGE, d[7].u.timer.source = TRACE_TIMER_PIT0, d[7].vcpu = 1;
    d[7].tsc = 10; /* going back in time must still code exactly */
    d[8].kind = TRACE_DEV_INTR_BLOCKED;
    /* the exit-policy records (VmConfig.policy_records) */
    d[9].kind = TRACE_DEV_INTR_BLOCKED, d[9].u.blocked.rflags = 0x202,
    d[9].u.blocked.blocking = TRACE_BLOCK_STI | TRACE_BLOCK_EVENT;
    d[10].kind = TRACE_DEV_POLICY_IO, d[10].u.pio.rax = 0xffffffff12345678ull,
    d[10].u.pio.rax_after = 0x9abcdef0;
    d[11].kind = TRACE_DEV_POLICY_IO, d[11].u.pio.addr_bits = 16, d[11].u.pio.rcx = 0x10005,
    d[11].u.pio.rcx_after = 0x10004, d[11].u.pio.index = 0xabcd0000ffffull,
    d[11].u.pio.index_after = 0xabcd00000000ull, d[11].u.pio.rflags = 0x402,
    d[11].u.pio.gla = 0x7ffff, d[11].u.pio.fault = 3, d[11].u.pio.retired = true;
    d[12].kind = TRACE_DEV_HALT, d[12].u.halt.rflags = 0x202, d[12].u.halt.input = true,
    d[12].u.halt.stop = 4;
    d[13].kind = TRACE_DEV_DEADLINE, d[13].u.deadline.tsc = d[13].tsc + 12345;
    struct tt_got g;
    roundtrip(NULL, 0, d, 14, &g);
    for (unsigned i = 0; i < 14; i++) {
        const struct trace_dev_event *x = &g.v[i].it.u.dev;
        assert_int_equal(g.v[i].it.type, TRACE_ITEM_DEV);
        assert_int_equal(x->kind, d[i].kind);
        assert_true(x->tsc == d[i].tsc);
        assert_int_equal(x->vcpu, d[i].vcpu);
    }
    assert_int_equal(g.v[0].it.u.dev.u.irq.irq, 4);
    assert_true(g.v[0].it.u.dev.u.irq.level);
    assert_int_equal(g.v[2].it.u.dev.u.inject.vector, 0x30);
    assert_int_equal(g.v[3].it.u.dev.u.uart_rx.len, sizeof(rx));
    assert_memory_equal(g.v[3].data, rx, sizeof(rx));
    assert_int_equal(g.v[4].it.u.dev.u.timer.source, TRACE_TIMER_RTC);
    assert_true(g.v[5].it.u.dev.u.intr.level);
    assert_int_equal(g.v[6].it.u.dev.u.request.what, 2);
    assert_int_equal(g.v[8].it.u.dev.u.blocked.rflags, 0);
    for (unsigned i = 9; i < 14; i++)
        assert_memory_equal(&g.v[i].it.u.dev.u, &d[i].u, sizeof d[i].u);
    tt_got_free(&g);

    /* a deadline of none codes as 0 ahead; one not after the record's TSC
     * cannot be armed and is refused */
    struct trace_dev_event dl = {.tsc = 99, .kind = TRACE_DEV_DEADLINE};
    dl.u.deadline.tsc = UINT64_MAX;
    roundtrip(NULL, 0, &dl, 1, &g);
    assert_true(g.v[0].it.u.dev.u.deadline.tsc == UINT64_MAX);
    tt_got_free(&g);
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    dl.u.deadline.tsc = 99;
    assert_int_equal(trace_write_dev(w, &dl), TRACE_W_E_ARG);
    trace_writer_destroy(w);
    trace_membuf_free(&o.buf);
}

static void test_roundtrip_header_checkpoint_end(void **state)
{
    (void)state;
    uint8_t blob[3000];
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i * 31);
    const struct trace_device devs[] = {{"com1", 0x3f8, 8, 4}, {"pic-master", 0x20, 2, -1}};
    struct trace_header h = {
        .hv_build_id = "build-42",
        .devmodel_version = "abc123",
        .cmdline = "console=ttyS0 quiet",
        .ram_bytes = 256ull << 20,
        .vcpus = 2,
        .tsc_hz = 2900000000ull,
        .ndevices = 2,
        .devices = devs,
        .has_start = true,
        .start = {.seq = 0, .tsc = 77, .devices_version = 1, .devices = blob, .devices_len = 100},
        .policy_records = true,
        .time_limit_ns = 5000000000ull};
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    assert_int_equal(trace_write_header(w, &h), 0);
    struct trace_exit e = mk_exit(0, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    assert_int_equal(trace_write_exit(w, &e), 0);
    struct trace_checkpoint c = {.seq = 1,
                                 .tsc = 123456789,
                                 .time_ns = 41152263,
                                 .devices_version = 3,
                                 .devices = blob,
                                 .devices_len = sizeof(blob)};
    assert_int_equal(trace_write_checkpoint(w, &c), 0);
    e = mk_exit(1, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    assert_int_equal(trace_write_exit(w, &e), 0);
    struct trace_end end = {.exits = 2, .reason = TRACE_END_POWEROFF};
    assert_int_equal(trace_writer_finish(w, &end), 0);
    trace_writer_destroy(w);

    struct trace_reader *r = trace_reader_new();
    assert_int_equal(trace_reader_feed(r, o.buf.data, o.buf.len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_HEADER);
    assert_int_equal(it.frame, 0);
    assert_int_equal(it.u.header.format_version, TRACE_FORMAT_VERSION);
    assert_string_equal(it.u.header.hv_build_id, "build-42");
    assert_string_equal(it.u.header.devmodel_version, "abc123");
    assert_string_equal(it.u.header.cmdline, "console=ttyS0 quiet");
    assert_true(it.u.header.ram_bytes == 256ull << 20);
    assert_int_equal(it.u.header.vcpus, 2);
    assert_true(it.u.header.tsc_hz == 2900000000ull);
    assert_int_equal(it.u.header.ndevices, 2);
    assert_string_equal(it.u.header.devices[0].name, "com1");
    assert_int_equal(it.u.header.devices[0].port_base, 0x3f8);
    assert_int_equal(it.u.header.devices[0].port_count, 8);
    assert_int_equal(it.u.header.devices[0].irq, 4);
    assert_int_equal(it.u.header.devices[1].irq, -1);
    assert_true(it.u.header.has_start);
    assert_int_equal(it.u.header.start.tsc, 77);
    assert_int_equal(it.u.header.start.devices_len, 100);
    assert_memory_equal(it.u.header.start.devices, blob, 100);
    assert_true(it.u.header.policy_records);
    assert_true(it.u.header.time_limit_ns == 5000000000ull);

    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_EXIT);
    uint32_t exit_frame = it.frame;
    assert_true(exit_frame > 0); /* the header travels alone */
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_CHECKPOINT);
    assert_int_equal(it.frame, exit_frame + 1); /* a checkpoint starts a frame */
    assert_int_equal(it.u.checkpoint.seq, 1);
    assert_int_equal(it.u.checkpoint.tsc, 123456789);
    assert_int_equal(it.u.checkpoint.time_ns, 41152263);
    assert_int_equal(it.u.checkpoint.devices_version, 3);
    assert_int_equal(it.u.checkpoint.devices_len, sizeof(blob));
    assert_memory_equal(it.u.checkpoint.devices, blob, sizeof(blob));
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_EXIT);
    assert_int_equal(it.u.exit.seq, 1);
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_ITEM);
    assert_int_equal(it.type, TRACE_ITEM_END);
    assert_int_equal(it.u.end.exits, 2);
    assert_int_equal(it.u.end.reason, TRACE_END_POWEROFF);
    assert_int_equal(trace_reader_next(r, &it), TRACE_R_END);
    struct trace_reader_stats st;
    trace_reader_get_stats(r, &st);
    assert_true(st.end_seen);
    assert_int_equal(st.exits, 2);
    assert_int_equal(st.damage_reports, 0);
    trace_reader_free(r);
    trace_membuf_free(&o.buf);
}

static void test_delta_coding_corner_cases(void **state)
{
    (void)state;
    /* seq gaps and repeats, TSC going backwards, RIP wrapping, big values */
    struct trace_exit e[6];
    e[0] = mk_exit(100, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    e[1] = mk_exit(101, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    e[2] = mk_exit(5000, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    e[3] = mk_exit(7, TRACE_EXIT_HLT, TRACE_DETAIL_NONE); /* seq back */
    e[4] = mk_exit(UINT64_MAX, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    e[5] = mk_exit(0, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    e[2].tsc = 5;
    e[3].tsc = UINT64_MAX;
    e[4].tsc = 0;
    e[4].rip = UINT64_MAX;
    e[5].rip = 0;
    struct tt_got g;
    roundtrip(e, 6, NULL, 0, &g);
    tt_got_free(&g);
}

static void test_synth_many_frames_exact(void **state)
{
    (void)state;
    /* Every record of a multi-frame synthetic trace comes back in order, and
     * feeding the bytes in odd-sized pieces changes nothing. */
    struct tt_out o;
    assert_int_equal(tt_synth(&o, 30000, 7000, 3), 0);
    assert_true(o.nframes > 5);
    struct trace_synth s;
    struct trace_synth_config sc = {.seed = 3,
                                    .exits = 30000,
                                    .tsc_jitter = TRACE_SYNTH_DEFAULT_JITTER,
                                    .checkpoint_every = 7000};
    trace_synth_init(&s, &sc);
    struct tt_got g, g2;
    tt_read(o.buf.data, o.buf.len, 0, &g);
    tt_read(o.buf.data, o.buf.len, 977, &g2);
    assert_int_equal(g.damages, 0);
    assert_int_equal(g.exits, 30000);
    assert_int_equal(g.n, g2.n);
    size_t k = 1; /* after the header */
    assert_int_equal(g.v[0].it.type, TRACE_ITEM_HEADER);
    struct trace_synth_item si;
    size_t checkpoints = 0;
    while (trace_synth_next(&s, &si)) {
        assert_true(k < g.n);
        const struct trace_item *it = &g.v[k].it;
        assert_int_equal(it->type, si.type);
        if (si.type == TRACE_ITEM_EXIT)
            assert_true(tt_exit_eq(&it->u.exit, &si.u.exit));
        else if (si.type == TRACE_ITEM_DEV)
            assert_true(it->u.dev.tsc == si.u.dev.tsc && it->u.dev.kind == si.u.dev.kind);
        else if (si.type == TRACE_ITEM_CHECKPOINT)
            checkpoints++;
        k++;
    }
    assert_int_equal(checkpoints, 4);
    assert_int_equal(g.v[k].it.type, TRACE_ITEM_END);
    for (size_t i = 0; i < g.n; i++)
        assert_true(tt_item_eq(&g.v[i], &g2.v[i]));
    tt_got_free(&g);
    tt_got_free(&g2);
    trace_membuf_free(&o.buf);
}

static void test_decode_from_any_frame(void **state)
{
    (void)state;
    /* Sync records make each frame self-contained: starting the reader at
     * frame k's offset yields exactly the items of frames >= k, with correct
     * absolute seq/tsc/rip; the skipped prefix is reported as a gap. */
    struct tt_out o;
    assert_int_equal(tt_synth(&o, 20000, 4000, 9), 0);
    struct tt_got full;
    tt_read(o.buf.data, o.buf.len, 0, &full);
    for (size_t k = 1; k + 1 < o.nframes; k++) {
        size_t start = o.frame_end[k - 1];
        struct tt_got g;
        tt_read(o.buf.data + start, o.buf.len - start, 0, &g);
        size_t first = 0;
        while (full.v[first].it.type == TRACE_ITEM_DAMAGE || full.v[first].it.frame < k)
            first++;
        assert_int_equal(g.v[0].it.type, TRACE_ITEM_DAMAGE);
        assert_int_equal(g.v[0].it.u.damage.kind, TRACE_DMG_GAP);
        assert_int_equal(g.v[0].it.u.damage.lost_frames, k);
        assert_int_equal(g.n - 1, full.n - first);
        for (size_t i = 1; i < g.n; i++)
            assert_true(tt_item_eq(&g.v[i], &full.v[first + i - 1]));
        tt_got_free(&g);
    }
    tt_got_free(&full);
    trace_membuf_free(&o.buf);
}

static void sink_raw(void *ctx, uint32_t frame, const void *raw, size_t len)
{
    (void)frame;
    trace_write_membuf(ctx, raw, len);
}

static void test_stream_is_a_trace_stream_message(void **state)
{
    (void)state;
    /* The decompressed payloads, concatenated, unpack as one TraceStream with
     * protobuf-c's generated code (what `protoc --decode` would see). */
    struct tt_out o;
    assert_int_equal(tt_synth(&o, 5000, 2000, 5), 0);
    struct trace_membuf raw = {0};
    size_t pos = 0;
    while (pos < o.buf.len) {
        struct trace_frame_hdr h;
        assert_int_equal(trace_frame_hdr_decode(o.buf.data + pos, &h), 0);
        uint8_t *tmp = malloc(h.raw_len + 1);
        size_t n =
            ZSTD_decompress(tmp, h.raw_len, o.buf.data + pos + TRACE_FRAME_HDR_LEN, h.payload_len);
        assert_int_equal(n, h.raw_len);
        trace_write_membuf(&raw, tmp, n);
        free(tmp);
        pos += TRACE_FRAME_HDR_LEN + h.payload_len;
    }
    /* the reader's raw sink (hvrr export --raw) hands out the same bytes */
    struct trace_membuf sunk = {0};
    struct trace_reader *r = trace_reader_new();
    trace_reader_set_raw_sink(r, sink_raw, &sunk);
    trace_reader_feed(r, o.buf.data, o.buf.len);
    trace_reader_eof(r);
    struct trace_item it;
    while (trace_reader_next(r, &it) == TRACE_R_ITEM)
        ;
    trace_reader_free(r);
    assert_int_equal(sunk.len, raw.len);
    assert_memory_equal(sunk.data, raw.data, raw.len);
    trace_membuf_free(&sunk);

    Hvrr__TraceStream *ts = hvrr__trace_stream__unpack(NULL, raw.len, raw.data);
    assert_non_null(ts);
    struct trace_writer_stats dummy;
    (void)dummy;
    struct tt_got g;
    tt_read(o.buf.data, o.buf.len, 0, &g);
    assert_int_equal(ts->n_record, g.st.records);
    assert_int_equal(ts->record[0]->kind_case, HVRR__RECORD__KIND_HEADER);
    assert_int_equal(ts->record[ts->n_record - 1]->kind_case, HVRR__RECORD__KIND_END);
    size_t exits = 0;
    for (size_t i = 0; i < ts->n_record; i++)
        exits += ts->record[i]->kind_case == HVRR__RECORD__KIND_EXIT;
    assert_int_equal(exits, 5000);
    hvrr__trace_stream__free_unpacked(ts, NULL);
    tt_got_free(&g);
    trace_membuf_free(&raw);
    trace_membuf_free(&o.buf);
}

/* ---- memory modes and errors ---- */

static int count_write(void *ctx, const void *p, size_t len)
{
    (void)p;
    *(size_t *)ctx += len;
    return 0;
}

static void test_writer_caller_memory(void **state)
{
    (void)state;
    size_t written = 0;
    struct trace_writer_config cfg = {
        .level = 5, .frame_bytes = 32768, .write = count_write, .write_ctx = &written};
    size_t need = trace_writer_mem_size(&cfg);
    assert_true(need > 32768);
    void *mem = malloc(need);
    assert_null(trace_writer_init(&cfg, mem, need - 1)); /* too small */
    assert_null(trace_writer_init(&cfg, NULL, 0));       /* no memory, no allocator */
    struct trace_writer *w = trace_writer_init(&cfg, mem, need);
    assert_non_null(w);
    for (uint64_t i = 0; i < 20000; i++) {
        struct trace_exit e = mk_exit(i, TRACE_EXIT_IO_INSTRUCTION, TRACE_DETAIL_IO);
        e.u.io.port = 0x3fd;
        e.u.io.size = 1;
        e.u.io.value = 0x60;
        assert_int_equal(trace_write_exit(w, &e), 0);
    }
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    struct trace_writer_stats st;
    trace_writer_get_stats(w, &st);
    assert_int_equal(st.exits, 20000);
    assert_true(st.frames > 1);
    assert_int_equal(st.out_bytes, written);
    assert_true(written < 20000 * 2); /* an all-identical stream compresses well */
    trace_writer_destroy(w);
    free(mem);
}

struct counting_alloc {
    int allocs, frees;
};

static void *c_alloc(void *ctx, size_t n)
{
    ((struct counting_alloc *)ctx)->allocs++;
    return malloc(n);
}

static void c_free(void *ctx, void *p)
{
    ((struct counting_alloc *)ctx)->frees++;
    free(p);
}

static void test_writer_allocator_balanced(void **state)
{
    (void)state;
    struct counting_alloc ca = {0};
    struct trace_allocator a = {c_alloc, c_free, &ca};
    size_t written = 0;
    struct trace_writer_config cfg = {.write = count_write, .write_ctx = &written, .alloc = &a};
    struct trace_writer *w = trace_writer_init(&cfg, NULL, 0);
    assert_non_null(w);
    struct trace_exit e = mk_exit(0, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    assert_int_equal(trace_write_exit(w, &e), 0);
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    trace_writer_destroy(w);
    assert_int_equal(ca.allocs, 1);
    assert_int_equal(ca.frees, 1);
    assert_true(written > TRACE_FRAME_HDR_LEN);
}

static void test_writer_errors_are_sticky(void **state)
{
    (void)state;
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    o.fail_after = 1; /* the first frame write fails */
    struct trace_exit e = mk_exit(0, TRACE_EXIT_HLT, TRACE_DETAIL_NONE);
    assert_int_equal(trace_write_exit(w, &e), 0); /* buffered */
    assert_int_equal(trace_writer_flush(w), TRACE_W_E_WRITE);
    assert_int_equal(trace_write_exit(w, &e), TRACE_W_E_WRITE);
    assert_int_equal(trace_writer_finish(w, NULL), TRACE_W_E_WRITE);
    assert_int_equal(trace_writer_error(w), TRACE_W_E_WRITE);
    assert_string_equal(trace_writer_strerror(TRACE_W_E_WRITE), "write callback failed");
    trace_writer_destroy(w);
    trace_membuf_free(&o.buf);

    w = tt_writer(&o, 3, 0);
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    assert_int_equal(trace_write_exit(w, &e), TRACE_W_E_FINISHED);
    trace_writer_destroy(w);
    trace_membuf_free(&o.buf);
}

static void test_writer_rejects_oversized_and_bad_input(void **state)
{
    (void)state;
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, TRACE_MIN_FRAME_BYTES);
    static uint8_t big[TRACE_MIN_FRAME_BYTES];
    struct trace_dev_event d = {.kind = TRACE_DEV_UART_RX};
    d.u.uart_rx.data = big;
    d.u.uart_rx.len = sizeof(big);
    assert_int_equal(trace_write_dev(w, &d), TRACE_W_E_TOOBIG);
    trace_writer_destroy(w);
    trace_membuf_free(&o.buf);

    w = tt_writer(&o, 3, 0);
    struct trace_exit e = mk_exit(0, TRACE_EXIT_HLT, (enum trace_detail)99);
    assert_int_equal(trace_write_exit(w, &e), TRACE_W_E_ARG);
    assert_int_equal(trace_write_exit(w, NULL), TRACE_W_E_ARG);
    d.u.uart_rx.data = NULL;
    d.u.uart_rx.len = 3;
    assert_int_equal(trace_write_dev(w, &d), TRACE_W_E_ARG);
    /* argument errors are not sticky: the writer still works */
    e.detail = TRACE_DETAIL_NONE;
    assert_int_equal(trace_write_exit(w, &e), 0);
    trace_writer_destroy(w);
    trace_membuf_free(&o.buf);
}

static void test_levels_and_frame_sizes_all_decode(void **state)
{
    (void)state;
    const int levels[] = {-5, 1, 3, 19};
    const size_t sizes[] = {TRACE_MIN_FRAME_BYTES, 1u << 20};
    for (unsigned li = 0; li < 4; li++)
        for (unsigned si = 0; si < 2; si++) {
            struct tt_out o;
            struct trace_writer *w = tt_writer(&o, levels[li], sizes[si]);
            assert_non_null(w);
            struct trace_synth_config sc = {.seed = 11, .exits = 3000, .tsc_jitter = 64};
            assert_int_equal(trace_synth_write(w, &sc), 0);
            trace_writer_destroy(w);
            struct tt_got g;
            tt_read(o.buf.data, o.buf.len, 0, &g);
            assert_int_equal(g.exits, 3000);
            assert_int_equal(g.damages, 0);
            tt_got_free(&g);
            trace_membuf_free(&o.buf);
        }
}

struct frame_check {
    size_t frames, with_sync, max_raw;
};

static void check_frame(void *ctx, uint32_t frame, const void *raw, size_t len)
{
    struct frame_check *c = ctx;
    const uint8_t *p = raw;
    c->frames++;
    if (len > c->max_raw)
        c->max_raw = len;
    /* first record: 0x0a <len> then Record field 1 (sync) = 0x0a */
    uint64_t rlen;
    size_t n = len > 1 ? trace_varint_get(p + 1, len - 1, &rlen) : 0;
    if (frame > 0 && n && p[0] == TRACE_STREAM_RECORD_TAG && 1 + n < len && p[1 + n] == 0x0a)
        c->with_sync++;
}

static void test_frames_bounded_and_start_with_sync(void **state)
{
    (void)state;
    /* Every frame after the header starts with a Sync record and no frame
     * exceeds the configured uncompressed size. */
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, TRACE_MIN_FRAME_BYTES);
    struct trace_synth_config sc = {
        .seed = 2, .exits = 20000, .tsc_jitter = 64, .checkpoint_every = 3000};
    assert_int_equal(trace_synth_write(w, &sc), 0);
    trace_writer_destroy(w);
    struct frame_check c = {0};
    struct trace_reader *r = trace_reader_new();
    trace_reader_set_raw_sink(r, check_frame, &c);
    trace_reader_feed(r, o.buf.data, o.buf.len);
    trace_reader_eof(r);
    struct trace_item it;
    while (trace_reader_next(r, &it) == TRACE_R_ITEM)
        assert_int_not_equal(it.type, TRACE_ITEM_DAMAGE);
    trace_reader_free(r);
    assert_int_equal(c.frames, o.nframes);
    assert_true(c.frames > 20);
    assert_int_equal(c.with_sync, c.frames - 1);
    assert_true(c.max_raw <= TRACE_MIN_FRAME_BYTES);
    trace_membuf_free(&o.buf);
}

static void test_header_device_limit(void **state)
{
    (void)state;
    static struct trace_device devs[65];
    for (unsigned i = 0; i < 65; i++)
        devs[i] = (struct trace_device){"dev", (uint16_t)(0x100 + i), 1, -1};
    struct trace_header h = {.ndevices = 65, .devices = devs};
    struct tt_out o;
    struct trace_writer *w = tt_writer(&o, 3, 0);
    assert_int_equal(trace_write_header(w, &h), TRACE_W_E_ARG);
    h.ndevices = 64;
    assert_int_equal(trace_write_header(w, &h), 0);
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    trace_writer_destroy(w);
    struct tt_got g;
    tt_read(o.buf.data, o.buf.len, 0, &g);
    assert_int_equal(g.v[0].it.type, TRACE_ITEM_HEADER);
    assert_int_equal(g.damages, 0);
    tt_got_free(&g);
    trace_membuf_free(&o.buf);
}

/* Field values for the encoder comparison: zero (left out), varint length
 * boundaries, 32-bit limits, full 64-bit. */
static const uint64_t enc_vals[] = {
    0, 1, 127, 128, 16383, 16384, 0x7fffffff, 0x80000000u, 0xffffffffu, UINT64_MAX / 3, UINT64_MAX};
#define ENC_NV (sizeof enc_vals / sizeof enc_vals[0])

/* The k-th value for field f of record i: every field sees every value. */
static uint64_t enc_val(unsigned i, unsigned f)
{
    return enc_vals[(i * 7 + f * 3 + i / ENC_NV) % ENC_NV];
}

/* An exit of detail kind d (TRACE_DETAIL_NONE..EXTINT), every field from
 * enc_val. */
static struct trace_exit enc_exit(unsigned i, enum trace_detail d)
{
    struct trace_exit e = {.seq = enc_val(i, 0),
                           .tsc = enc_val(i, 1),
                           .rip = enc_val(i, 2),
                           .qual = enc_val(i, 3),
                           .vcpu = (uint32_t)enc_val(i, 4),
                           .reason = (uint32_t)enc_val(i, 5), /* >= 2^31: a negative enum */
                           .insn_len = (uint32_t)enc_val(i, 6),
                           .detail = d};
    uint64_t a = enc_val(i, 7), b = enc_val(i, 8), c = enc_val(i, 9), x = enc_val(i, 10);
    switch (d) {
    case TRACE_DETAIL_IO:
        e.u.io.port = (uint16_t)a, e.u.io.size = (uint8_t)b, e.u.io.write = c & 1;
        e.u.io.value = (uint32_t)x;
        break;
    case TRACE_DETAIL_CPUID:
        e.u.cpuid.leaf = (uint32_t)a, e.u.cpuid.subleaf = (uint32_t)b;
        e.u.cpuid.eax = (uint32_t)c, e.u.cpuid.ebx = (uint32_t)x;
        e.u.cpuid.ecx = (uint32_t)enc_val(i, 11), e.u.cpuid.edx = (uint32_t)enc_val(i, 12);
        break;
    case TRACE_DETAIL_MSR:
        e.u.msr.index = (uint32_t)a, e.u.msr.write = b & 1, e.u.msr.value = c;
        break;
    case TRACE_DETAIL_XSETBV: e.u.xsetbv.xcr = (uint32_t)a, e.u.xsetbv.value = b; break;
    case TRACE_DETAIL_CR:
        e.u.cr.cr = (uint8_t)a, e.u.cr.access = (uint8_t)b, e.u.cr.gpr = (uint8_t)c;
        e.u.cr.value = x;
        break;
    case TRACE_DETAIL_EPT:
        e.u.ept.gpa = a, e.u.ept.access = (uint32_t)b, e.u.ept.gla = c, e.u.ept.size = (uint32_t)x;
        e.u.ept.value = enc_val(i, 11);
        break;
    case TRACE_DETAIL_EXTINT: e.u.extint.vector = (uint8_t)a; break;
    default: break;
    }
    return e;
}

/* A device event of kind k (TRACE_DEV_IRQ_LINE..CPU_START). */
static struct trace_dev_event enc_dev(unsigned i, enum trace_dev_kind k, const uint8_t *rx,
                                      size_t rx_len)
{
    struct trace_dev_event d = {.tsc = enc_val(i, 0), .vcpu = (uint32_t)enc_val(i, 1), .kind = k};
    uint64_t a = enc_val(i, 2), b = enc_val(i, 3), c = enc_val(i, 4), x = enc_val(i, 5);
    switch (k) {
    case TRACE_DEV_IRQ_LINE: d.u.irq.irq = (uint32_t)a, d.u.irq.level = b & 1; break;
    case TRACE_DEV_INJECT: d.u.inject.vector = (uint8_t)a; break;
    case TRACE_DEV_UART_RX:
        d.u.uart_rx.port = (uint16_t)a, d.u.uart_rx.data = rx, d.u.uart_rx.len = rx_len;
        break;
    case TRACE_DEV_TIMER_EDGE: d.u.timer.source = (uint32_t)a, d.u.timer.level = b & 1; break;
    case TRACE_DEV_INTR: d.u.intr.level = a & 1; break;
    case TRACE_DEV_REQUEST: d.u.request.what = (uint32_t)a; break;
    case TRACE_DEV_INTR_BLOCKED: d.u.blocked.rflags = a, d.u.blocked.blocking = (uint32_t)b; break;
    case TRACE_DEV_POLICY_IO:
        d.u.pio.rax = a, d.u.pio.rax_after = b, d.u.pio.addr_bits = (uint32_t)c;
        d.u.pio.rcx = x, d.u.pio.rcx_after = enc_val(i, 6), d.u.pio.index = enc_val(i, 7);
        d.u.pio.index_after = enc_val(i, 8), d.u.pio.rflags = enc_val(i, 9);
        d.u.pio.gla = enc_val(i, 10), d.u.pio.fault = (uint32_t)enc_val(i, 11);
        d.u.pio.retired = enc_val(i, 12) & 1;
        break;
    case TRACE_DEV_HALT:
        d.u.halt.rflags = a, d.u.halt.input = b & 1, d.u.halt.stop = (uint32_t)c;
        break;
    case TRACE_DEV_DEADLINE: /* none, or ahead of the record's TSC (else refused) */
        d.u.deadline.tsc = d.tsc < UINT64_MAX - a && a ? d.tsc + a : UINT64_MAX;
        break;
    case TRACE_DEV_CPU_START:
        d.u.cpu_start.vcpu = (uint32_t)a, d.u.cpu_start.vector = (uint32_t)b;
        break;
    }
    return d;
}

static void test_fast_encoder_matches_protobuf_c(void **state)
{
    (void)state;
    /* The writer's hand-written encoder (trace_encode.c) must produce the
     * very bytes protobuf-c produces: whole traces compare equal byte for
     * byte, for the synthetic mix and for every exit detail and device
     * event kind with extreme field values (frame Sync records included). */
    struct tt_out fast, slow;
    tt_protobuf_only = false;
    assert_int_equal(tt_synth(&fast, 30000, 9000, 4), 0);
    tt_protobuf_only = true;
    assert_int_equal(tt_synth(&slow, 30000, 9000, 4), 0);
    tt_protobuf_only = false;
    assert_int_equal(fast.buf.len, slow.buf.len);
    assert_memory_equal(fast.buf.data, slow.buf.data, fast.buf.len);
    trace_membuf_free(&fast.buf);
    trace_membuf_free(&slow.buf);

    static uint8_t rx[300];
    for (unsigned i = 0; i < sizeof rx; i++)
        rx[i] = (uint8_t)(i * 37 + 1);
    /* UartRx lengths: none, one, a FIFO load, a two-byte length, past the
     * encoder's limit (protobuf-c then) */
    static const size_t rx_lens[] = {0, 1, 16, 200, 300};
    struct trace_writer *wf = tt_writer(&fast, 3, 16u << 10); /* small frames: many Syncs */
    tt_protobuf_only = true;
    struct trace_writer *ws = tt_writer(&slow, 3, 16u << 10);
    tt_protobuf_only = false;
    unsigned exits = 0, devs = 0;
    for (unsigned i = 0; i < 40 * ENC_NV; i++) {
        for (unsigned d = TRACE_DETAIL_NONE; d <= TRACE_DETAIL_EXTINT; d++) {
            struct trace_exit e = enc_exit(i * 8 + d, (enum trace_detail)d);
            assert_int_equal(trace_write_exit(wf, &e), 0);
            assert_int_equal(trace_write_exit(ws, &e), 0);
            exits++;
        }
        for (unsigned k = TRACE_DEV_IRQ_LINE; k <= TRACE_DEV_CPU_START; k++) {
            struct trace_dev_event d =
                enc_dev(i * 11 + k, (enum trace_dev_kind)k, rx, rx_lens[i % 5]);
            assert_int_equal(trace_write_dev(wf, &d), 0);
            assert_int_equal(trace_write_dev(ws, &d), 0);
            devs++;
        }
    }
    assert_int_equal(trace_writer_finish(wf, NULL), 0);
    assert_int_equal(trace_writer_finish(ws, NULL), 0);
    struct trace_writer_stats st;
    trace_writer_get_stats(wf, &st);
    assert_true(st.frames > 10);
    trace_writer_destroy(wf);
    trace_writer_destroy(ws);
    assert_int_equal(fast.buf.len, slow.buf.len);
    assert_memory_equal(fast.buf.data, slow.buf.data, fast.buf.len);
    /* and it decodes: every record, no damage (the values are no real
     * run's, so the reader's record checks are off) */
    struct trace_reader *r = trace_reader_new();
    trace_reader_set_record_checks(r, false);
    assert_int_equal(trace_reader_feed(r, fast.buf.data, fast.buf.len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    unsigned got_exits = 0, got_devs = 0, damage = 0;
    while (trace_reader_next(r, &it) == TRACE_R_ITEM) {
        got_exits += it.type == TRACE_ITEM_EXIT;
        got_devs += it.type == TRACE_ITEM_DEV;
        damage += it.type == TRACE_ITEM_DAMAGE;
    }
    trace_reader_free(r);
    assert_int_equal(damage, 0);
    assert_int_equal(got_exits, exits);
    assert_int_equal(got_devs, devs);
    trace_membuf_free(&fast.buf);
    trace_membuf_free(&slow.buf);
}

static unsigned lib_calls;
static void count_lib(void *ctx)
{
    (void)ctx;
    lib_calls++;
}

static void test_lib_enter_only_around_libraries(void **state)
{
    (void)state;
    /* The hypervisor saves the guest's FPU state in lib_enter: the writer
     * must call it before every zstd or protobuf-c run, and only then (the
     * hand-written records need no FPU). */
    struct tt_out o;
    memset(&o, 0, sizeof o);
    struct trace_writer_config cfg = {.level = 3,
                                      .frame_bytes = 16u << 10,
                                      .write = tt_write,
                                      .write_ctx = &o,
                                      .alloc = &trace_libc_allocator,
                                      .lib_enter = count_lib};
    struct trace_writer *w = trace_writer_init(&cfg, NULL, 0);
    assert_non_null(w);
    lib_calls = 0;
    struct trace_header h = {.format_version = TRACE_FORMAT_VERSION, .vcpus = 1, .tsc_hz = 1000};
    assert_int_equal(trace_write_header(w, &h), 0);
    unsigned after_header = lib_calls;
    assert_true(after_header >= 2); /* packing the header, compressing its frame */
    struct trace_writer_stats st;
    unsigned exits = 0;
    for (;;) { /* exits and device events until just before the next frame */
        struct trace_exit e = mk_exit(exits++, TRACE_EXIT_IO_INSTRUCTION, TRACE_DETAIL_IO);
        e.u.io.port = 0x3f8, e.u.io.size = 1, e.u.io.value = exits;
        assert_int_equal(trace_write_exit(w, &e), 0);
        struct trace_dev_event d = {.tsc = e.tsc, .kind = TRACE_DEV_INJECT};
        d.u.inject.vector = 0x30;
        assert_int_equal(trace_write_dev(w, &d), 0);
        trace_writer_get_stats(w, &st);
        if (st.frames > 1)
            break;
        assert_int_equal(lib_calls, after_header); /* hand-written records only */
    }
    assert_int_equal(lib_calls, after_header + 1); /* that frame's compression */
    struct trace_checkpoint c = {.seq = exits, .tsc = 1};
    assert_int_equal(trace_write_checkpoint(w, &c), 0);
    assert_true(lib_calls >= after_header + 3); /* its frame, the checkpoint record */
    unsigned before_end = lib_calls;
    assert_int_equal(trace_writer_finish(w, NULL), 0);
    assert_true(lib_calls >= before_end + 2); /* the end record, the last frame */
    trace_writer_destroy(w);
    trace_membuf_free(&o.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_values),
        cmocka_unit_test(test_varint_roundtrip_and_truncation),
        cmocka_unit_test(test_frame_header_encode_decode),
        cmocka_unit_test(test_roundtrip_port_io),
        cmocka_unit_test(test_roundtrip_cpuid_msr_xsetbv),
        cmocka_unit_test(test_roundtrip_cr_ept_extint),
        cmocka_unit_test(test_roundtrip_reasons_without_detail),
        cmocka_unit_test(test_roundtrip_device_events),
        cmocka_unit_test(test_roundtrip_header_checkpoint_end),
        cmocka_unit_test(test_delta_coding_corner_cases),
        cmocka_unit_test(test_synth_many_frames_exact),
        cmocka_unit_test(test_decode_from_any_frame),
        cmocka_unit_test(test_stream_is_a_trace_stream_message),
        cmocka_unit_test(test_writer_caller_memory),
        cmocka_unit_test(test_writer_allocator_balanced),
        cmocka_unit_test(test_writer_errors_are_sticky),
        cmocka_unit_test(test_writer_rejects_oversized_and_bad_input),
        cmocka_unit_test(test_levels_and_frame_sizes_all_decode),
        cmocka_unit_test(test_frames_bounded_and_start_with_sync),
        cmocka_unit_test(test_header_device_limit),
        cmocka_unit_test(test_fast_encoder_matches_protobuf_c),
        cmocka_unit_test(test_lib_enter_only_around_libraries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
