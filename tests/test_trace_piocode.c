/* PolicyIo coding (trace/trace_piocode.h, docs/trace-format.md "PolicyIo
 * coding"): the 2-vCPU Linux boot of the corpus, written again by today's
 * writer (which codes PolicyIo records and says so in the header), reads
 * back with every record the same — PolicyIo registers included — whatever
 * the frame size (16 KiB: many Syncs, so many codings cut at a frame start)
 * or encoder (hand-written or protobuf-c), and is smaller than the corpus
 * file its writer made without the coding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "trace/trace_testutil.h"

#define SMP2 "corpus/hv-bochs-linux-smp2.hvt"

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Writes every record of in[0..len) again into o (level 3). */
static void rewrite(const uint8_t *in, size_t len, struct tt_out *o, size_t frame_bytes)
{
    struct trace_writer *w = tt_writer(o, 3, frame_bytes);
    assert_non_null(w);
    struct trace_reader *r = trace_reader_new();
    assert_int_equal(trace_reader_feed(r, in, len), 0);
    trace_reader_eof(r);
    struct trace_item it;
    int rc;
    bool ended = false;
    while ((rc = trace_reader_next(r, &it)) == TRACE_R_ITEM) {
        switch (it.type) {
        case TRACE_ITEM_HEADER:
            assert_false(it.u.header.pio_coded); /* the corpus file predates the coding */
            assert_int_equal(trace_write_header(w, &it.u.header), 0);
            break;
        case TRACE_ITEM_EXIT: assert_int_equal(trace_write_exit(w, &it.u.exit), 0); break;
        case TRACE_ITEM_DEV: assert_int_equal(trace_write_dev(w, &it.u.dev), 0); break;
        case TRACE_ITEM_CHECKPOINT:
            assert_int_equal(trace_write_checkpoint(w, &it.u.checkpoint), 0);
            break;
        case TRACE_ITEM_END:
            assert_int_equal(trace_writer_finish(w, &it.u.end), 0);
            ended = true;
            break;
        default: fail_msg("damage in " SMP2);
        }
    }
    assert_int_equal(rc, TRACE_R_END);
    assert_true(ended);
    trace_reader_free(r);
    trace_writer_destroy(w);
}

static bool pio_eq(const struct trace_dev_event *a, const struct trace_dev_event *b)
{
    return a->u.pio.rax == b->u.pio.rax && a->u.pio.rax_after == b->u.pio.rax_after &&
           a->u.pio.addr_bits == b->u.pio.addr_bits && a->u.pio.rcx == b->u.pio.rcx &&
           a->u.pio.rcx_after == b->u.pio.rcx_after && a->u.pio.index == b->u.pio.index &&
           a->u.pio.index_after == b->u.pio.index_after && a->u.pio.rflags == b->u.pio.rflags &&
           a->u.pio.gla == b->u.pio.gla && a->u.pio.fault == b->u.pio.fault &&
           a->u.pio.retired == b->u.pio.retired;
}

static void check_same(const struct tt_got *a, const struct tt_got *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(b->damages, 0);
    size_t pios = 0, coded = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct trace_item *x = &a->v[i].it, *y = &b->v[i].it;
        assert_int_equal(x->type, y->type);
        if (x->type == TRACE_ITEM_HEADER) {
            assert_true(y->u.header.pio_coded);
            continue;
        }
        if (x->type == TRACE_ITEM_DEV && x->u.dev.kind == TRACE_DEV_POLICY_IO) {
            pios++;
            coded += x->u.dev.u.pio.addr_bits == 0;
            if (!pio_eq(&x->u.dev, &y->u.dev))
                fail_msg("item %zu: PolicyIo differs", i);
        }
        /* frame numbers differ with the frame size: compare the rest */
        struct tt_item p = a->v[i], q = b->v[i];
        p.it.frame = q.it.frame = 0;
        if (!tt_item_eq(&p, &q))
            fail_msg("item %zu (type %d) differs", i, (int)x->type);
    }
    assert_true(pios > 30000 && coded > 30000); /* the boot's IN polling is there */
}

static void test_smp2_rewritten_reads_the_same(void **s)
{
    (void)s;
    size_t len;
    uint8_t *in = load(SMP2, &len);
    struct tt_got orig, again;
    tt_read(in, len, 0, &orig);
    static const size_t frames[] = {16u << 10, 64u << 10, 256u << 10};
    for (int pb = 0; pb < 2; pb++) {
        tt_protobuf_only = pb;
        for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
            struct tt_out *o = calloc(1, sizeof(*o));
            assert_non_null(o);
            rewrite(in, len, o, frames[f]);
            for (int slow = 0; slow < 2; slow++) {
                tt_slow_path = slow;
                tt_read(o->buf.data, o->buf.len, 4093, &again);
                check_same(&orig, &again);
                tt_got_free(&again);
            }
            tt_slow_path = false;
            if (frames[f] == 64u << 10 && !pb) {
                /* same frames and level as the corpus file's writer: the
                 * coding alone saves ~7 % here (2.85 -> 2.65 bytes/exit) */
                printf("piocode: %s %zu bytes, rewritten with coded PolicyIo %zu (%.1f %%)\n", SMP2,
                       len, o->buf.len, 100.0 * ((double)o->buf.len - (double)len) / len);
                assert_true(o->buf.len < len - len / 20);
            }
            free(o->buf.data);
            free(o);
        }
    }
    tt_protobuf_only = false;
    tt_got_free(&orig);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp2_rewritten_reads_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
