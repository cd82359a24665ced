/* A real capture (the hypervisor recording the `pit` test guest under
 * Bochs, corpus/hv-bochs-pit-guest.hvt) cut at every byte: the prefix must
 * yield exactly the events of the frames that lie wholly before the cut,
 * identical to the full decode, and never anything else. That is what a
 * capture interrupted at any moment (Ctrl-C, a crash, a lost line) keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace/trace_frame.h"
#include "trace/trace_reader.h"

#define TRACE_PATH "corpus/hv-bochs-pit-guest.hvt"

struct ev {
    int type;
    uint64_t a, b, c; /* exit: seq, tsc, rip / dev: kind, tsc, 0 / checkpoint: seq, tsc, 0 */
    uint64_t frame_end;
};

struct evs {
    struct ev *v;
    size_t n, cap;
};

static uint8_t *file;
static size_t file_len;
static struct evs full;

static void decode(const uint8_t *buf, size_t len, struct evs *out)
{
    struct trace_reader *r = trace_reader_new();
    assert_non_null(r);
    assert_int_equal(trace_reader_feed(r, buf, len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    int rc;
    out->n = 0;
    while ((rc = trace_reader_next(r, &it)) == TRACE_R_ITEM) {
        struct ev e = {.type = (int)it.type};
        switch (it.type) {
        case TRACE_ITEM_EXIT:
            e.a = it.u.exit.seq;
            e.b = it.u.exit.tsc;
            e.c = it.u.exit.rip;
            break;
        case TRACE_ITEM_DEV:
            e.a = (uint64_t)it.u.dev.kind;
            e.b = it.u.dev.tsc;
            break;
        case TRACE_ITEM_CHECKPOINT:
            e.a = it.u.checkpoint.seq;
            e.b = it.u.checkpoint.tsc;
            break;
        case TRACE_ITEM_HEADER:
        case TRACE_ITEM_END: break;
        default: continue; /* damage reports: the truncated tail */
        }
        struct trace_frame_hdr h;
        assert_true(it.offset + TRACE_FRAME_HDR_LEN <= len);
        assert_int_equal(trace_frame_hdr_decode(buf + it.offset, &h), 0);
        e.frame_end = it.offset + TRACE_FRAME_HDR_LEN + h.payload_len;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->v = realloc(out->v, out->cap * sizeof *out->v);
            assert_non_null(out->v);
        }
        out->v[out->n++] = e;
    }
    assert_int_equal(rc, TRACE_R_END);
    trace_reader_free(r);
}

static int setup(void **state)
{
    (void)state;
    FILE *f = fopen(TRACE_PATH, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    file_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    file = malloc(file_len);
    if (!file || fread(file, 1, file_len, f) != file_len) {
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(file);
    free(full.v);
    return 0;
}

static void test_full_trace_is_clean(void **state)
{
    (void)state;
    decode(file, file_len, &full);
    assert_true(full.n > 1000);
    assert_int_equal(full.v[0].type, TRACE_ITEM_HEADER);
    assert_int_equal(full.v[full.n - 1].type, TRACE_ITEM_END);
    uint64_t seq = 0, ckpt = 0;
    for (size_t i = 0; i < full.n; i++) {
        if (full.v[i].type == TRACE_ITEM_EXIT)
            assert_int_equal(full.v[i].a, seq++); /* no exit missing */
        ckpt += full.v[i].type == TRACE_ITEM_CHECKPOINT;
    }
    assert_true(seq > 500);
    assert_true(ckpt >= 2);
}

static void test_every_cut_keeps_every_whole_frame(void **state)
{
    (void)state;
    if (!full.n)
        decode(file, file_len, &full);
    struct evs part = {0};
    for (size_t cut = 0; cut <= file_len; cut++) {
        decode(file, cut, &part);
        size_t want = 0;
        while (want < full.n && full.v[want].frame_end <= cut)
            want++;
        if (part.n != want)
            fail_msg("cut at byte %zu: %zu events decoded, %zu in the whole frames before it", cut,
                     part.n, want);
        for (size_t i = 0; i < part.n; i++) {
            const struct ev *a = &part.v[i], *b = &full.v[i];
            if (a->type != b->type || a->a != b->a || a->b != b->b || a->c != b->c)
                fail_msg("cut at byte %zu: event %zu differs from the full decode", cut, i);
        }
    }
    free(part.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_trace_is_clean),
        cmocka_unit_test(test_every_cut_keeps_every_whole_frame),
    };
    return cmocka_run_group_tests_name("trace_cut", tests, setup, teardown);
}
