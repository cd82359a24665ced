/* The hand-written record decoder (trace/trace_decode.h) against protobuf-c:
 * every corpus trace, and crafted records (odd but valid encodings, and
 * malformed ones), read with the reader's default path and with protobuf-c
 * only (trace_reader_set_slow_path) must give the same items, field by
 * field, the same damage reports and the same counts. Tests also check that
 * the hand-written path was really taken where it should be, and that
 * records it must not take (unknown fields, merged submessages) are left to
 * protobuf-c. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace/trace_decode.h"
#include "trace/trace_testutil.h"

/* ---- reading both ways ---- */

struct item {
    struct trace_item it;
    uint8_t *data; /* copy of what the item's pointer referred to */
    size_t len;
};

struct got {
    struct item *v;
    size_t n, cap;
    struct trace_reader_stats st;
    int final_rc;
};

static void keep(struct got *g, const struct trace_item *it)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 1024;
        g->v = realloc(g->v, g->cap * sizeof *g->v);
        assert_non_null(g->v);
    }
    struct item *c = &g->v[g->n++];
    memset(c, 0, sizeof *c);
    c->it = *it;
    const void *p = NULL;
    size_t n = 0;
    if (it->type == TRACE_ITEM_DEV && it->u.dev.kind == TRACE_DEV_UART_RX) {
        p = it->u.dev.u.uart_rx.data;
        n = it->u.dev.u.uart_rx.len;
        c->it.u.dev.u.uart_rx.data = NULL;
    } else if (it->type == TRACE_ITEM_CHECKPOINT) {
        p = it->u.checkpoint.devices;
        n = it->u.checkpoint.devices_len;
        c->it.u.checkpoint.devices = NULL;
    } else if (it->type == TRACE_ITEM_HEADER) {
        p = it->u.header.cmdline;
        n = strlen(it->u.header.cmdline);
        memset(&c->it.u.header, 0, sizeof c->it.u.header);
    }
    if (n) {
        c->data = malloc(n);
        assert_non_null(c->data);
        memcpy(c->data, p, n);
        c->len = n;
    }
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].data);
    free(g->v);
    memset(g, 0, sizeof *g);
}

static void read_all(const uint8_t *buf, size_t len, bool slow, bool checks, struct got *g)
{
    memset(g, 0, sizeof *g);
    struct trace_reader *r = trace_reader_new();
    assert_non_null(r);
    trace_reader_set_slow_path(r, slow);
    trace_reader_set_record_checks(r, checks);
    assert_int_equal(trace_reader_feed(r, buf, len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    int rc;
    while ((rc = trace_reader_next(r, &it)) == TRACE_R_ITEM)
        keep(g, &it);
    g->final_rc = rc;
    trace_reader_get_stats(r, &g->st);
    trace_reader_free(r);
}

/* Every field the reader hands out, for the kinds the decoder produces;
 * the others (header, checkpoint, end, damage) by their main fields. */
static void assert_item_equal(const struct item *a, const struct item *b, size_t i)
{
    const struct trace_item *x = &a->it, *y = &b->it;
    if (x->type != y->type || x->frame != y->frame || x->offset != y->offset)
        fail_msg("item %zu: type/frame/offset %d/%u/%llu vs %d/%u/%llu", i, x->type, x->frame,
                 (unsigned long long)x->offset, y->type, y->frame, (unsigned long long)y->offset);
    assert_int_equal(a->len, b->len);
    if (a->len)
        assert_memory_equal(a->data, b->data, a->len);
    switch (x->type) {
    case TRACE_ITEM_EXIT: {
        const struct trace_exit *e = &x->u.exit, *f = &y->u.exit;
        assert_int_equal(e->seq, f->seq);
        assert_int_equal(e->tsc, f->tsc);
        assert_int_equal(e->rip, f->rip);
        assert_int_equal(e->qual, f->qual);
        assert_int_equal(e->vcpu, f->vcpu);
        assert_int_equal(e->reason, f->reason);
        assert_int_equal(e->insn_len, f->insn_len);
        assert_int_equal(e->detail, f->detail);
        /* the union compared whole: both paths zero what the detail leaves */
        assert_memory_equal(&e->u, &f->u, sizeof e->u);
        break;
    }
    case TRACE_ITEM_DEV: {
        const struct trace_dev_event *d = &x->u.dev, *g = &y->u.dev;
        assert_int_equal(d->tsc, g->tsc);
        assert_int_equal(d->vcpu, g->vcpu);
        assert_int_equal(d->kind, g->kind);
        switch (d->kind) {
        case TRACE_DEV_IRQ_LINE:
            assert_int_equal(d->u.irq.irq, g->u.irq.irq);
            assert_int_equal(d->u.irq.level, g->u.irq.level);
            break;
        case TRACE_DEV_INJECT: assert_int_equal(d->u.inject.vector, g->u.inject.vector); break;
        case TRACE_DEV_UART_RX:
            assert_int_equal(d->u.uart_rx.port, g->u.uart_rx.port);
            assert_int_equal(d->u.uart_rx.len, g->u.uart_rx.len);
            break;
        case TRACE_DEV_TIMER_EDGE:
            assert_int_equal(d->u.timer.source, g->u.timer.source);
            assert_int_equal(d->u.timer.level, g->u.timer.level);
            break;
        case TRACE_DEV_INTR: assert_int_equal(d->u.intr.level, g->u.intr.level); break;
        case TRACE_DEV_REQUEST: assert_int_equal(d->u.request.what, g->u.request.what); break;
        case TRACE_DEV_INTR_BLOCKED:
            assert_int_equal(d->u.blocked.rflags, g->u.blocked.rflags);
            assert_int_equal(d->u.blocked.blocking, g->u.blocked.blocking);
            break;
        case TRACE_DEV_POLICY_IO:
            assert_int_equal(d->u.pio.rax, g->u.pio.rax);
            assert_int_equal(d->u.pio.rax_after, g->u.pio.rax_after);
            assert_int_equal(d->u.pio.addr_bits, g->u.pio.addr_bits);
            assert_int_equal(d->u.pio.rcx, g->u.pio.rcx);
            assert_int_equal(d->u.pio.rcx_after, g->u.pio.rcx_after);
            assert_int_equal(d->u.pio.index, g->u.pio.index);
            assert_int_equal(d->u.pio.index_after, g->u.pio.index_after);
            assert_int_equal(d->u.pio.rflags, g->u.pio.rflags);
            assert_int_equal(d->u.pio.gla, g->u.pio.gla);
            assert_int_equal(d->u.pio.fault, g->u.pio.fault);
            assert_int_equal(d->u.pio.retired, g->u.pio.retired);
            break;
        case TRACE_DEV_HALT:
            assert_int_equal(d->u.halt.rflags, g->u.halt.rflags);
            assert_int_equal(d->u.halt.input, g->u.halt.input);
            assert_int_equal(d->u.halt.stop, g->u.halt.stop);
            break;
        case TRACE_DEV_DEADLINE: assert_int_equal(d->u.deadline.tsc, g->u.deadline.tsc); break;
        case TRACE_DEV_CPU_START:
            assert_int_equal(d->u.cpu_start.vcpu, g->u.cpu_start.vcpu);
            assert_int_equal(d->u.cpu_start.vector, g->u.cpu_start.vector);
            break;
        default: break;
        }
        break;
    }
    case TRACE_ITEM_CHECKPOINT:
        assert_int_equal(x->u.checkpoint.seq, y->u.checkpoint.seq);
        assert_int_equal(x->u.checkpoint.tsc, y->u.checkpoint.tsc);
        assert_int_equal(x->u.checkpoint.time_ns, y->u.checkpoint.time_ns);
        assert_int_equal(x->u.checkpoint.devices_version, y->u.checkpoint.devices_version);
        break;
    case TRACE_ITEM_END:
        assert_int_equal(x->u.end.exits, y->u.end.exits);
        assert_int_equal(x->u.end.records, y->u.end.records);
        assert_int_equal(x->u.end.reason, y->u.end.reason);
        break;
    case TRACE_ITEM_DAMAGE:
        assert_int_equal(x->u.damage.kind, y->u.damage.kind);
        assert_int_equal(x->u.damage.offset, y->u.damage.offset);
        assert_int_equal(x->u.damage.length, y->u.damage.length);
        assert_int_equal(x->u.damage.lost_frames, y->u.damage.lost_frames);
        assert_string_equal(x->u.damage.msg, y->u.damage.msg);
        break;
    default: break;
    }
}

/* Reads buf both ways and checks they agree; returns the fast way's result
 * (the caller frees it). */
static void both_ways(const uint8_t *buf, size_t len, bool checks, struct got *fast)
{
    struct got slow;
    read_all(buf, len, false, checks, fast);
    read_all(buf, len, true, checks, &slow);
    assert_int_equal(fast->final_rc, slow.final_rc);
    assert_int_equal(fast->n, slow.n);
    for (size_t i = 0; i < fast->n; i++)
        assert_item_equal(&fast->v[i], &slow.v[i], i);
    assert_int_equal(fast->st.records, slow.st.records);
    assert_int_equal(fast->st.exits, slow.st.exits);
    assert_int_equal(fast->st.unknown, slow.st.unknown);
    assert_int_equal(fast->st.frames_ok, slow.st.frames_ok);
    assert_int_equal(fast->st.frames_damaged, slow.st.frames_damaged);
    assert_int_equal(fast->st.damage_reports, slow.st.damage_reports);
    assert_int_equal(fast->st.bad_records, slow.st.bad_records);
    assert_int_equal(fast->st.end_seen, slow.st.end_seen);
    assert_int_equal(slow.st.records_fast, 0);
    got_free(&slow);
}

/* ---- the corpus ---- */

static int load(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct trace_membuf m = {0};
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        trace_write_membuf(&m, chunk, n);
    fclose(f);
    *buf = m.data;
    *len = m.len;
    return 0;
}

static void test_corpus_both_ways(void **state)
{
    (void)state;
    DIR *dir = opendir("corpus");
    assert_non_null(dir);
    unsigned traces = 0;
    uint64_t exits = 0, devs = 0, fast = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 4, ".hvt"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "corpus/%s", de->d_name);
        uint8_t *buf;
        size_t len;
        assert_int_equal(load(path, &buf, &len), 0);
        struct got g;
        both_ways(buf, len, true, &g);
        /* every Sync, Exit and DeviceEvent took the hand-written path: all
         * records but the header, checkpoints and end */
        uint64_t other = 0, dev = 0;
        for (size_t i = 0; i < g.n; i++) {
            enum trace_item_type t = g.v[i].it.type;
            other += t == TRACE_ITEM_HEADER || t == TRACE_ITEM_CHECKPOINT || t == TRACE_ITEM_END;
            dev += t == TRACE_ITEM_DEV;
        }
        if (g.st.records_fast + other != g.st.records)
            fail_msg("%s: %llu of %llu records decoded by hand, %llu others", path,
                     (unsigned long long)g.st.records_fast, (unsigned long long)g.st.records,
                     (unsigned long long)other);
        exits += g.st.exits;
        devs += dev;
        fast += g.st.records_fast;
        traces++;
        got_free(&g);
        free(buf);
    }
    closedir(dir);
    assert_true(traces >= 10);
    assert_true(exits > 100000 && devs > 10000 && fast > exits + devs);
}

/* ---- crafted records ---- */

struct bytes {
    uint8_t b[4096];
    size_t n;
};

static void put(struct bytes *s, const void *p, size_t n)
{
    assert_true(s->n + n <= sizeof s->b);
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void put_varint(struct bytes *s, uint64_t v)
{
    uint8_t t[10];
    put(s, t, trace_varint_put(t, v));
}

/* A Record of kind field `kind` (1 Sync, 2 Exit, 3 DeviceEvent) around
 * body, as stream field 1. */
static void put_record(struct bytes *stream, unsigned kind, const uint8_t *body, size_t n)
{
    struct bytes rec = {.n = 0};
    uint8_t key = (uint8_t)(kind << 3 | 2);
    put(&rec, &key, 1);
    put_varint(&rec, n);
    put(&rec, body, n);
    uint8_t k1 = TRACE_STREAM_RECORD_TAG;
    put(stream, &k1, 1);
    put_varint(stream, rec.n);
    put(stream, rec.b, rec.n);
}

/* One frame holding a Sync (seq 100, tsc 1000, rip 0x5000) then `body` as
 * a record of `kind`, then a plain exit (to see the delta chain go on and
 * the rest of the frame survive or not); read both ways without record
 * checks. Returns the fast way's result. */
static void craft(unsigned kind, const uint8_t *body, size_t n, struct got *g)
{
    struct bytes stream = {.n = 0};
    static const uint8_t sync[] = {0x08, 100, 0x10, 0xe8, 0x07, 0x18, 0x80, 0xa0, 0x01};
    put_record(&stream, 1, sync, sizeof sync);
    put_record(&stream, kind, body, n);
    static const uint8_t after[] = {0x08, 12, 0x78, 0x04}; /* HLT, tsc +2 */
    put_record(&stream, 2, after, sizeof after);
    struct trace_membuf m = {0};
    tt_frame(&m, 0, 1, TRACE_FRAME_FINAL, stream.b, stream.n, false);
    both_ways(m.data, m.len, false, g);
    trace_membuf_free(&m);
}

/* The crafted record was decoded (not refused) and its item is v[0]. */
static const struct trace_item *crafted_item(const struct got *g)
{
    assert_true(g->n >= 1);
    assert_int_not_equal(g->v[0].it.type, TRACE_ITEM_DAMAGE);
    return &g->v[0].it;
}

/* How many of the three records the hand-written decoder took. */
static uint64_t fast_count(const struct got *g)
{
    return g->st.records_fast;
}

#define CRAFT(kind, g, ...)                                                                        \
    do {                                                                                           \
        static const uint8_t body_[] = {__VA_ARGS__};                                              \
        craft(kind, body_, sizeof body_, g);                                                       \
    } while (0)

static void test_plain_records_fast(void **state)
{
    (void)state;
    struct got g;
    /* OUT 0x3f8, size 1, value 'A', with every Exit field */
    CRAFT(2, &g, 0x08, 30, 0x10, 0, 0x18, 1, 0x20, 0x81, 0x01, 0x28, 0x04, 0x30, 0x02, 0x3a, 9,
          0x08, 0xf8, 0x07, 0x10, 1, 0x18, 1, 0x20, 0x41, 0x78, 0x0a);
    const struct trace_exit *e = &crafted_item(&g)->u.exit;
    assert_int_equal(fast_count(&g), 3);
    assert_int_equal(e->seq, 102); /* sync next_seq 100, skip 2 */
    assert_int_equal(e->tsc, 1005);
    assert_int_equal(e->rip, 0x5002);
    assert_int_equal(e->qual, 0x81);
    assert_int_equal(e->detail, TRACE_DETAIL_IO);
    assert_int_equal(e->u.io.port, 0x3f8);
    assert_true(e->u.io.write);
    assert_int_equal(e->u.io.value, 'A');
    assert_int_equal(g.v[1].it.u.exit.seq, 103);
    assert_int_equal(g.v[1].it.u.exit.tsc, 1007);
    got_free(&g);

    /* each detail kind */
    CRAFT(2, &g, 0x08, 10, 0x42, 13, 0x08, 1, 0x10, 0, 0x18, 0xff, 0x01, 0x20, 2, 0x28, 3, 0x30, 4);
    assert_int_equal(crafted_item(&g)->u.exit.u.cpuid.eax, 0xff);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(2, &g, 0x08, 31, 0x4a, 7, 0x08, 0x80, 0x02, 0x10, 1, 0x18, 0x7f);
    assert_int_equal(crafted_item(&g)->u.exit.u.msr.index, 0x100);
    assert_true(crafted_item(&g)->u.exit.u.msr.write);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(2, &g, 0x08, 55, 0x52, 4, 0x08, 0, 0x10, 7);
    assert_int_equal(crafted_item(&g)->u.exit.u.xsetbv.value, 7);
    got_free(&g);
    CRAFT(2, &g, 0x08, 28, 0x5a, 9, 0x08, 4, 0x10, 1, 0x18, 3, 0x20, 0xa0, 0x01);
    assert_int_equal(crafted_item(&g)->u.exit.u.cr.value, 0xa0);
    got_free(&g);
    CRAFT(2, &g, 0x08, 48, 0x62, 11, 0x08, 0x80, 0x20, 0x10, 2, 0x18, 5, 0x20, 4, 0x28, 9);
    assert_int_equal(crafted_item(&g)->u.exit.u.ept.gpa, 0x1000);
    assert_int_equal(crafted_item(&g)->u.exit.u.ept.size, 4);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(2, &g, 0x08, 1, 0x6a, 2, 0x08, 0x30);
    assert_int_equal(crafted_item(&g)->u.exit.u.extint.vector, 0x30);
    got_free(&g);

    /* each device event kind */
    CRAFT(3, &g, 0x12, 4, 0x08, 4, 0x10, 1, 0x78, 2);
    assert_int_equal(crafted_item(&g)->u.dev.kind, TRACE_DEV_IRQ_LINE);
    assert_int_equal(crafted_item(&g)->u.dev.tsc, 1001);
    assert_int_equal(g.v[1].it.u.exit.tsc, 1003); /* one chain for both */
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x1a, 2, 0x08, 0x20);
    assert_int_equal(crafted_item(&g)->u.dev.u.inject.vector, 0x20);
    got_free(&g);
    CRAFT(3, &g, 0x22, 7, 0x08, 0xf8, 0x07, 0x12, 2, 'h', 'i');
    assert_int_equal(crafted_item(&g)->u.dev.u.uart_rx.len, 2);
    assert_memory_equal(g.v[0].data, "hi", 2);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x2a, 4, 0x08, 3, 0x10, 1);
    assert_int_equal(crafted_item(&g)->u.dev.u.timer.source, 3);
    got_free(&g);
    CRAFT(3, &g, 0x32, 2, 0x08, 1);
    assert_true(crafted_item(&g)->u.dev.u.intr.level);
    got_free(&g);
    CRAFT(3, &g, 0x3a, 2, 0x08, 2);
    assert_int_equal(crafted_item(&g)->u.dev.u.request.what, 2);
    got_free(&g);
    CRAFT(3, &g, 0x08, 0, 0x42, 0, 0x78, 1);
    assert_int_equal(crafted_item(&g)->u.dev.kind, TRACE_DEV_INTR_BLOCKED);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    /* the exit-policy records (VmConfig.policy_records) */
    CRAFT(3, &g, 0x42, 5, 0x08, 0x82, 0x04, 0x10, 1);
    assert_int_equal(crafted_item(&g)->u.dev.u.blocked.rflags, 0x202);
    assert_int_equal(crafted_item(&g)->u.dev.u.blocked.blocking, TRACE_BLOCK_STI);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x4a, 6, 0x08, 0x10, 0x10, 0x31, 0x58, 1);
    assert_int_equal(crafted_item(&g)->u.dev.kind, TRACE_DEV_POLICY_IO);
    assert_int_equal(crafted_item(&g)->u.dev.u.pio.rax_after, 0x21);
    assert_true(crafted_item(&g)->u.dev.u.pio.retired);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x4a, 20, 0x18, 32, 0x20, 3, 0x28, 3, 0x30, 0x80, 0x20, 0x38, 3, 0x40, 2, 0x48,
          0x80, 0x20, 0x50, 0x0f, 0x58, 1);
    assert_int_equal(crafted_item(&g)->u.dev.u.pio.addr_bits, 32);
    assert_int_equal(crafted_item(&g)->u.dev.u.pio.rcx_after, 0);
    assert_int_equal(crafted_item(&g)->u.dev.u.pio.index_after, 0x1003);
    assert_int_equal(crafted_item(&g)->u.dev.u.pio.fault, 15);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x52, 7, 0x08, 0x82, 0x04, 0x10, 1, 0x18, 4, 0x78, 2);
    assert_int_equal(crafted_item(&g)->u.dev.u.halt.stop, 4);
    assert_true(crafted_item(&g)->u.dev.u.halt.input);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x5a, 2, 0x08, 100, 0x78, 2);
    assert_int_equal(crafted_item(&g)->u.dev.u.deadline.tsc, 1101);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x5a, 0, 0x78, 2);
    assert_int_equal(crafted_item(&g)->u.dev.u.deadline.tsc, UINT64_MAX);
    got_free(&g);
    /* vCPU start (several vCPUs) */
    CRAFT(3, &g, 0x62, 5, 0x08, 1, 0x10, 0x9a, 0x01);
    assert_int_equal(crafted_item(&g)->u.dev.kind, TRACE_DEV_CPU_START);
    assert_int_equal(crafted_item(&g)->u.dev.u.cpu_start.vector, 0x9a);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    /* empty messages: an Exit with nothing, a PortIo with nothing */
    CRAFT(2, &g, 0x3a, 0);
    assert_int_equal(crafted_item(&g)->u.exit.detail, TRACE_DETAIL_IO);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
}

static void test_odd_valid_encodings(void **state)
{
    (void)state;
    struct got g;
    /* fields out of order, a scalar repeated: the last one wins */
    CRAFT(2, &g, 0x78, 0x06, 0x08, 30, 0x3a, 2, 0x08, 0x60, 0x08, 12);
    assert_int_equal(crafted_item(&g)->u.exit.reason, 12);
    assert_int_equal(crafted_item(&g)->u.exit.u.io.port, 0x60);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    /* inside a detail too */
    CRAFT(2, &g, 0x3a, 6, 0x20, 1, 0x08, 0x60, 0x20, 2);
    assert_int_equal(crafted_item(&g)->u.exit.u.io.value, 2);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    /* overlong varints (non-minimal), a 10-byte value in a 32-bit field */
    CRAFT(2, &g, 0x08, 0x9e, 0x80, 0x80, 0x00, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x01);
    assert_int_equal(crafted_item(&g)->u.exit.reason, 30);
    assert_int_equal(crafted_item(&g)->u.exit.vcpu, 0xffffffffu);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    /* a bool whose only set bit is past bit 63: protobuf-c says true (the
     * 64-bit value is 0); and a bool of 7 */
    CRAFT(2, &g, 0x3a, 11, 0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02);
    assert_true(crafted_item(&g)->u.exit.u.io.write);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x12, 2, 0x10, 7);
    assert_true(crafted_item(&g)->u.dev.u.irq.level);
    got_free(&g);
    /* an event's fields out of order, and one repeated (the last wins) */
    CRAFT(3, &g, 0x12, 4, 0x10, 1, 0x08, 5);
    assert_int_equal(crafted_item(&g)->u.dev.u.irq.irq, 5);
    assert_true(crafted_item(&g)->u.dev.u.irq.level);
    got_free(&g);
    CRAFT(3, &g, 0x12, 6, 0x08, 3, 0x10, 1, 0x08, 9);
    assert_int_equal(crafted_item(&g)->u.dev.u.irq.irq, 9);
    assert_true(crafted_item(&g)->u.dev.u.irq.level);
    got_free(&g);
    /* 32-bit port beyond 16 bits, size beyond 8 bits: size 0 (reader rule) */
    CRAFT(2, &g, 0x3a, 6, 0x08, 0x80, 0x80, 0x04, 0x10, 1);
    assert_int_equal(crafted_item(&g)->u.exit.u.io.size, 0);
    got_free(&g);
    /* overlong length prefix (2 bytes for 2), an empty UartRx data field
     * then a later one: the last wins */
    CRAFT(2, &g, 0x3a, 0x82, 0x00, 0x08, 0x61);
    assert_int_equal(crafted_item(&g)->u.exit.u.io.port, 0x61);
    assert_int_equal(fast_count(&g), 3);
    got_free(&g);
    CRAFT(3, &g, 0x22, 7, 0x12, 0, 0x12, 1, 'x', 0x08, 1);
    assert_int_equal(crafted_item(&g)->u.dev.u.uart_rx.len, 1);
    got_free(&g);
    CRAFT(3, &g, 0x22, 5, 0x12, 1, 'x', 0x12, 0);
    assert_int_equal(crafted_item(&g)->u.dev.u.uart_rx.len, 0);
    got_free(&g);
}

static void test_left_to_protobuf_c(void **state)
{
    (void)state;
    struct got g;
    /* unknown fields: a new Exit field (14, and 16 with a two-byte key), a
     * new PortIo field, a new DeviceEvent kind (13): protobuf-c skips them */
    CRAFT(2, &g, 0x08, 30, 0x70, 5);
    assert_int_equal(crafted_item(&g)->u.exit.reason, 30);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    CRAFT(2, &g, 0x08, 30, 0x80, 0x01, 5);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    CRAFT(2, &g, 0x3a, 4, 0x08, 0x61, 0x28, 1);
    assert_int_equal(crafted_item(&g)->u.exit.u.io.port, 0x61);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    CRAFT(3, &g, 0x08, 0, 0x6a, 2, 0x08, 1, 0x78, 2);
    assert_int_equal(fast_count(&g), 2);
    assert_int_equal(g.st.unknown, 1);
    got_free(&g);
    /* a multi-byte key for a known field */
    CRAFT(2, &g, 0x88, 0x00, 12);
    assert_int_equal(crafted_item(&g)->u.exit.reason, 12);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    /* the same detail twice, two details, two events: whatever protobuf-c
     * makes of them (here the second replaces the first) */
    CRAFT(2, &g, 0x3a, 2, 0x08, 0x60, 0x3a, 2, 0x20, 5);
    assert_int_equal(crafted_item(&g)->u.exit.u.io.value, 5);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    CRAFT(2, &g, 0x3a, 2, 0x08, 0x60, 0x42, 2, 0x08, 1);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    CRAFT(3, &g, 0x12, 2, 0x08, 3, 0x1a, 2, 0x08, 0x21);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    /* a device event without an event; an IntrBlocked with a new field */
    CRAFT(3, &g, 0x78, 2);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    CRAFT(3, &g, 0x42, 2, 0x18, 1);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
    /* more scalar occurrences than the decoder takes */
    uint8_t many[200];
    for (unsigned i = 0; i < sizeof many; i += 2) {
        many[i] = 0x08;
        many[i + 1] = (uint8_t)(i & 0x7f);
    }
    craft(2, many, sizeof many, &g);
    assert_int_equal(fast_count(&g), 2);
    got_free(&g);
}

static void test_malformed_refused_alike(void **state)
{
    (void)state;
    struct got g;
    static const uint8_t bodies[][16] = {
        /* len, bytes */
        {2, 0x08, 0x9e},          /* truncated varint */
        {3, 0x3a, 2, 0x08},       /* truncated submessage */
        {4, 0x3a, 2, 0x08, 0x80}, /* varint truncated by its submessage */
        {12, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, /* 11 */
        {3, 0x0a, 1, 0x00},                      /* wrong wire type: reason as bytes */
        {2, 0x38, 0x01},                         /* io as a varint */
        {9, 0x79, 1, 2, 3, 4, 5, 6, 7, 8},       /* tsc_delta as fixed64 */
        {5, 0x7d, 1, 2, 3, 4},                   /* ... as fixed32 */
        {3, 0x3a, 1, 0x0a},                      /* PortIo port as bytes */
        {2, 0x00, 0x01},                         /* field 0 */
        {6, 0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, /* huge length */
        {9, 0x3a, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00, 0x08, 0x61}, /* 6-byte length prefix */
        {2, 0x0b, 0x0c},                                           /* a group */
        {2, 0x0e, 0x00},                                           /* wire type 6 */
    };
    for (unsigned i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        craft(2, bodies[i] + 1, bodies[i][0], &g);
        /* both refuse: the frame's rest is dropped with one decode report */
        bool refused = false;
        for (size_t k = 0; k < g.n; k++)
            refused |=
                g.v[k].it.type == TRACE_ITEM_DAMAGE && g.v[k].it.u.damage.kind == TRACE_DMG_DECODE;
        if (!refused)
            fail_msg("crafted body %u was not refused", i);
        got_free(&g);
    }
    /* the same in a device event and in a Sync */
    CRAFT(3, &g, 0x12, 3, 0x08, 0x80, 0x80);
    assert_int_equal(g.st.frames_damaged, 1);
    got_free(&g);
    CRAFT(1, &g, 0x08);
    assert_int_equal(g.st.frames_damaged, 1);
    got_free(&g);
    /* a Record with two kinds, an empty Record */
    struct bytes stream = {.n = 0};
    static const uint8_t two[] = {0x0a, 0x0a, 0x12, 0x02, 0x08, 0x0c,
                                  0x1a, 0x04, 0x32, 0x02, 0x08, 0x01};
    put(&stream, two, sizeof two);
    static const uint8_t empty[] = {0x0a, 0x00};
    put(&stream, empty, sizeof empty);
    struct trace_membuf m = {0};
    tt_frame(&m, 0, 1, TRACE_FRAME_FINAL, stream.b, stream.n, false);
    both_ways(m.data, m.len, false, &g);
    assert_int_equal(fast_count(&g), 0);
    got_free(&g);
    trace_membuf_free(&m);
}

/* Synthetic traces with damage: what survives is the same either way. */
static void test_damaged_synthetic(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct tt_out o;
        assert_int_equal(tt_synth(&o, 20000, 1000, seed), 0);
        assert_true(o.nframes > 4);
        o.buf.data[o.frame_end[o.nframes / 2] - 7 * seed] ^= (uint8_t)(1u << seed);
        struct got g;
        both_ways(o.buf.data, o.buf.len, true, &g);
        assert_true(g.st.records_fast > 0);
        assert_true(g.st.damage_reports > 0);
        got_free(&g);
        trace_membuf_free(&o.buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_both_ways),        cmocka_unit_test(test_plain_records_fast),
        cmocka_unit_test(test_odd_valid_encodings),     cmocka_unit_test(test_left_to_protobuf_c),
        cmocka_unit_test(test_malformed_refused_alike), cmocka_unit_test(test_damaged_synthetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
