/* The reader on damaged input: truncation at every byte offset, byte flips
 * at every offset, dropped and inserted bytes, removed/duplicated frames,
 * hand-made frames with bad versions, lengths, payloads and records, and
 * random input. Nothing may crash, no damaged record may be delivered, every
 * undamaged frame must be recovered, and the damage must be reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "trace/hvrr.pb-c.h"
#include "trace/trace_testutil.h"

/* A small trace of several frames: the start of the synthetic mix (boot
 * prologue, console output, ticks), flushed every 20 records. */
static struct tt_out small;
static struct tt_got small_items;

static int setup_small(void **state)
{
    (void)state;
    struct trace_writer *w = tt_writer(&small, 3, 0);
    struct trace_synth *s = malloc(sizeof(*s));
    struct trace_synth_config sc = {.seed = 21, .exits = 160, .tsc_jitter = 64};
    struct trace_header h;
    struct trace_synth_item si;
    trace_synth_init(s, &sc);
    trace_synth_header(s, &h);
    int rc = trace_write_header(w, &h);
    for (unsigned n = 1; !rc && trace_synth_next(s, &si); n++) {
        if (si.type == TRACE_ITEM_EXIT)
            rc = trace_write_exit(w, &si.u.exit);
        else if (si.type == TRACE_ITEM_DEV)
            rc = trace_write_dev(w, &si.u.dev);
        if (!rc && n % 20 == 0)
            rc = trace_writer_flush(w);
    }
    if (!rc)
        rc = trace_writer_finish(w, NULL);
    trace_writer_destroy(w);
    free(s);
    if (rc)
        return -1;
    tt_read(small.buf.data, small.buf.len, 0, &small_items);
    return small_items.damages == 0 && small.nframes >= 6 ? 0 : -1;
}

static int teardown_small(void **state)
{
    (void)state;
    tt_got_free(&small_items);
    trace_membuf_free(&small.buf);
    return 0;
}

static size_t frame_start(const struct tt_out *o, size_t f)
{
    return f ? o->frame_end[f - 1] : 0;
}

/* Frame index of byte offset `off` of o. */
static size_t frame_of(const struct tt_out *o, size_t off)
{
    size_t f = 0;
    while (f < o->nframes && o->frame_end[f] <= off)
        f++;
    return f;
}

/* The items of `all` whose frame is not excluded, in order, must be exactly
 * the non-damage items of got. */
static void assert_items_except(const struct tt_got *all, const struct tt_got *got,
                                const bool *excluded)
{
    size_t k = 0;
    for (size_t i = 0; i < all->n; i++) {
        if (excluded[all->v[i].it.frame])
            continue;
        while (k < got->n && got->v[k].it.type == TRACE_ITEM_DAMAGE)
            k++;
        assert_true(k < got->n);
        assert_true(tt_item_eq(&all->v[i], &got->v[k]));
        k++;
    }
    while (k < got->n && got->v[k].it.type == TRACE_ITEM_DAMAGE)
        k++;
    assert_int_equal(k, got->n);
}

static void test_truncation_at_every_offset(void **state)
{
    (void)state;
    bool excluded[TT_MAX_FRAMES];
    for (size_t cut = 0; cut <= small.buf.len; cut++) {
        struct tt_got g;
        tt_read(small.buf.data, cut, 0, &g);
        for (size_t f = 0; f < small.nframes; f++)
            excluded[f] = small.frame_end[f] > cut;
        /* exactly the records of the frames complete before the cut */
        assert_items_except(&small_items, &g, excluded);
        assert_int_equal(g.final_rc, TRACE_R_END);
        if (cut == small.buf.len) {
            assert_int_equal(g.damages, 0);
        } else {
            assert_true(g.damages >= 1);
            assert_false(g.st.end_seen);
            for (size_t i = 0; i < g.n; i++)
                if (g.v[i].it.type == TRACE_ITEM_DAMAGE) {
                    enum trace_damage_kind k = g.v[i].it.u.damage.kind;
                    assert_true(k == TRACE_DMG_TRUNCATED || k == TRACE_DMG_NO_END);
                    assert_true(g.v[i].it.u.damage.at_end);
                }
            /* a cut inside a frame reports where that frame starts */
            size_t f = frame_of(&small, cut);
            if (cut > frame_start(&small, f)) {
                assert_int_equal(g.v[g.n - 2].it.u.damage.kind, TRACE_DMG_TRUNCATED);
                assert_int_equal(g.v[g.n - 2].it.u.damage.offset, frame_start(&small, f));
                assert_int_equal(g.v[g.n - 2].it.u.damage.length, cut - frame_start(&small, f));
            }
        }
        tt_got_free(&g);
    }
}

static void test_byte_by_byte_feed_same_as_whole(void **state)
{
    (void)state;
    /* A serial line delivers one byte at a time: same items, no damage. */
    struct tt_got g;
    tt_read(small.buf.data, small.buf.len, 1, &g);
    bool excluded[TT_MAX_FRAMES] = {0};
    assert_items_except(&small_items, &g, excluded);
    assert_int_equal(g.damages, 0);
    assert_true(g.st.bytes_in == small.buf.len);
    tt_got_free(&g);
}

static void test_byte_flip_at_every_offset(void **state)
{
    (void)state;
    uint8_t *buf = malloc(small.buf.len);
    bool excluded[TT_MAX_FRAMES];
    for (size_t off = 0; off < small.buf.len; off++) {
        memcpy(buf, small.buf.data, small.buf.len);
        buf[off] ^= (uint8_t)(1u << (off % 8));
        size_t hit = frame_of(&small, off);
        struct tt_got g;
        tt_read(buf, small.buf.len, 0, &g);
        memset(excluded, 0, sizeof(excluded));
        excluded[hit] = true;
        /* the hit frame is lost, every other frame comes back intact */
        assert_items_except(&small_items, &g, excluded);
        assert_true(g.damages >= 1);
        if (hit + 1 < small.nframes) {
            /* the next good frame shows exactly one frame missing */
            assert_int_equal(g.lost, 1);
            size_t d = 0;
            while (g.v[d].it.type != TRACE_ITEM_DAMAGE)
                d++;
            assert_int_equal(g.v[d].it.u.damage.offset, frame_start(&small, hit));
            assert_int_equal(g.v[d].it.u.damage.length,
                             small.frame_end[hit] - frame_start(&small, hit));
        }
        tt_got_free(&g);
    }
    free(buf);
}

static void test_dropped_bytes_inside_a_frame(void **state)
{
    (void)state;
    /* Serial line loses 1..40 bytes somewhere inside frame 3. */
    const size_t f = 3;
    size_t start = frame_start(&small, f), end = small.frame_end[f];
    bool excluded[TT_MAX_FRAMES] = {0};
    excluded[f] = true;
    for (size_t drop = 1; drop <= 40; drop += 3)
        for (size_t at = start; at + drop <= end; at += 37) {
            struct trace_membuf m = {0};
            trace_write_membuf(&m, small.buf.data, at);
            trace_write_membuf(&m, small.buf.data + at + drop, small.buf.len - at - drop);
            struct tt_got g;
            tt_read(m.data, m.len, 0, &g);
            assert_items_except(&small_items, &g, excluded);
            assert_int_equal(g.lost, 1);
            assert_true(g.st.end_seen);
            tt_got_free(&g);
            trace_membuf_free(&m);
        }
}

static void test_inserted_garbage_between_frames(void **state)
{
    (void)state;
    /* Line noise between frames (including a stray marker) loses nothing. */
    static const uint8_t noise[] = {0x00, 0x9e, 0x48, 0x56, 0x54, 0x01, 0xff, 0x9e, 0x13};
    const size_t f = 2;
    size_t at = small.frame_end[f];
    struct trace_membuf m = {0};
    trace_write_membuf(&m, small.buf.data, at);
    trace_write_membuf(&m, noise, sizeof(noise));
    trace_write_membuf(&m, small.buf.data + at, small.buf.len - at);
    struct tt_got g;
    tt_read(m.data, m.len, 7, &g);
    bool excluded[TT_MAX_FRAMES] = {0};
    assert_items_except(&small_items, &g, excluded);
    assert_int_equal(g.damages, 1);
    assert_int_equal(g.lost, 0);
    for (size_t i = 0; i < g.n; i++)
        if (g.v[i].it.type == TRACE_ITEM_DAMAGE) {
            assert_int_equal(g.v[i].it.u.damage.kind, TRACE_DMG_GARBAGE);
            assert_int_equal(g.v[i].it.u.damage.offset, at);
            assert_int_equal(g.v[i].it.u.damage.length, sizeof(noise));
        }
    tt_got_free(&g);
    trace_membuf_free(&m);
}

static void test_removed_frame_is_a_gap(void **state)
{
    (void)state;
    const size_t f = 4;
    size_t start = frame_start(&small, f), end = small.frame_end[f];
    struct trace_membuf m = {0};
    trace_write_membuf(&m, small.buf.data, start);
    trace_write_membuf(&m, small.buf.data + end, small.buf.len - end);
    struct tt_got g;
    tt_read(m.data, m.len, 0, &g);
    bool excluded[TT_MAX_FRAMES] = {0};
    excluded[f] = true;
    assert_items_except(&small_items, &g, excluded);
    assert_int_equal(g.damages, 1);
    size_t d = 0;
    while (g.v[d].it.type != TRACE_ITEM_DAMAGE)
        d++;
    assert_int_equal(g.v[d].it.u.damage.kind, TRACE_DMG_GAP);
    assert_int_equal(g.v[d].it.u.damage.lost_frames, 1);
    assert_int_equal(g.v[d].it.u.damage.offset, start);
    assert_int_equal(g.st.frames_lost, 1);
    tt_got_free(&g);
    trace_membuf_free(&m);
}

static void test_repeated_frame_reports_sequence(void **state)
{
    (void)state;
    const size_t f = 2;
    size_t start = frame_start(&small, f), end = small.frame_end[f];
    struct trace_membuf m = {0};
    trace_write_membuf(&m, small.buf.data, end);
    trace_write_membuf(&m, small.buf.data + start, end - start); /* frame f again */
    trace_write_membuf(&m, small.buf.data + end, small.buf.len - end);
    struct tt_got g;
    tt_read(m.data, m.len, 0, &g);
    size_t seq_reports = 0;
    for (size_t i = 0; i < g.n; i++)
        if (g.v[i].it.type == TRACE_ITEM_DAMAGE) {
            assert_int_equal(g.v[i].it.u.damage.kind, TRACE_DMG_SEQ);
            assert_int_equal(g.v[i].it.u.damage.offset, end);
            seq_reports++;
        }
    assert_int_equal(seq_reports, 1);
    assert_true(g.st.end_seen);
    /* the repeat is delivered again (the reader does not drop frames it can
     * read), so the exits are the original ones plus frame f's once more */
    size_t f_exits = 0;
    for (size_t i = 0; i < small_items.n; i++)
        f_exits += small_items.v[i].it.frame == f && small_items.v[i].it.type == TRACE_ITEM_EXIT;
    assert_int_equal(g.exits, small_items.exits + f_exits);
    tt_got_free(&g);
    trace_membuf_free(&m);
}

/* A valid End record, packed. */
static size_t packed_end(uint8_t *out)
{
    Hvrr__End e = HVRR__END__INIT;
    e.exits = 1;
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_END;
    r.end = &e;
    size_t n = protobuf_c_message_get_packed_size(&r.base);
    out[0] = TRACE_STREAM_RECORD_TAG;
    out[1] = (uint8_t)n;
    protobuf_c_message_pack(&r.base, out + 2);
    return n + 2;
}

/* One HLT exit record (seq 0 when read first). */
static size_t packed_hlt(uint8_t *out)
{
    Hvrr__Exit x = HVRR__EXIT__INIT;
    x.reason = HVRR__EXIT_REASON__HLT;
    x.tsc_delta = 1000;
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_EXIT;
    r.exit = &x;
    size_t n = protobuf_c_message_get_packed_size(&r.base);
    out[0] = TRACE_STREAM_RECORD_TAG;
    out[1] = (uint8_t)n;
    protobuf_c_message_pack(&r.base, out + 2);
    return n + 2;
}

/* Builds: frame 0 (one exit), the frame under test as frame 1, frame 2 (one
 * exit + end), reads it and returns the reader's view. */
static void read_with_middle(void (*middle)(struct trace_membuf *m), struct tt_got *g)
{
    uint8_t rec[64], end[64];
    size_t rn = packed_hlt(rec);
    size_t en = packed_end(end);
    struct trace_membuf m = {0};
    tt_frame(&m, 0, 1, 0, rec, rn, false);
    middle(&m);
    uint8_t last[128];
    memcpy(last, rec, rn);
    memcpy(last + rn, end, en);
    tt_frame(&m, 2, 1, TRACE_FRAME_FINAL, last, rn + en, false);
    tt_read(m.data, m.len, 0, g);
    trace_membuf_free(&m);
}

static const struct trace_damage *only_damage(const struct tt_got *g)
{
    const struct trace_damage *d = NULL;
    for (size_t i = 0; i < g->n; i++)
        if (g->v[i].it.type == TRACE_ITEM_DAMAGE) {
            assert_null(d);
            d = &g->v[i].it.u.damage;
        }
    assert_non_null(d);
    return d;
}

static void mid_bad_version(struct trace_membuf *m)
{
    uint8_t rec[64];
    tt_frame(m, 1, 2, 0, rec, packed_hlt(rec), false);
}

static void test_unsupported_frame_version(void **state)
{
    (void)state;
    struct tt_got g;
    read_with_middle(mid_bad_version, &g);
    const struct trace_damage *d = only_damage(&g);
    assert_int_equal(d->kind, TRACE_DMG_BAD_VERSION);
    assert_int_equal(d->lost_frames, 1);
    assert_non_null(strstr(d->msg, "version 2"));
    assert_int_equal(g.exits, 2);
    assert_true(g.st.end_seen);
    tt_got_free(&g);
}

static void mid_absurd_length(struct trace_membuf *m)
{
    /* A well-formed header (good CRC) claiming a 1 GiB payload. */
    struct trace_frame_hdr h = {.version = 1, .seq = 1, .payload_len = 1u << 30, .raw_len = 10};
    uint8_t b[TRACE_FRAME_HDR_LEN];
    trace_frame_hdr_encode(&h, b);
    trace_write_membuf(m, b, sizeof(b));
}

static void test_absurd_length_rejected(void **state)
{
    (void)state;
    struct tt_got g;
    read_with_middle(mid_absurd_length, &g);
    const struct trace_damage *d = only_damage(&g);
    assert_int_equal(d->kind, TRACE_DMG_BAD_LENGTH);
    assert_int_equal(d->length, TRACE_FRAME_HDR_LEN);
    assert_int_equal(g.exits, 2);
    assert_true(g.st.end_seen);
    tt_got_free(&g);
}

static void mid_not_zstd(struct trace_membuf *m)
{
    static const uint8_t junk[] = "this payload has a valid CRC but is not zstd";
    tt_frame(m, 1, 1, 0, junk, sizeof(junk), true);
}

static void test_payload_that_does_not_decompress(void **state)
{
    (void)state;
    struct tt_got g;
    read_with_middle(mid_not_zstd, &g);
    const struct trace_damage *d = only_damage(&g);
    assert_int_equal(d->kind, TRACE_DMG_DECOMPRESS);
    assert_int_equal(d->lost_frames, 1);
    assert_int_equal(g.exits, 2);
    tt_got_free(&g);
}

static void mid_bad_record(struct trace_membuf *m)
{
    /* One good exit, then a record whose Exit holds a truncated varint. */
    uint8_t raw[96];
    size_t n = packed_hlt(raw);
    static const uint8_t bad[] = {TRACE_STREAM_RECORD_TAG, 5, 0x12, 3, 0x08, 0x80, 0x80};
    memcpy(raw + n, bad, sizeof(bad));
    n += sizeof(bad);
    n += packed_hlt(raw + n); /* after the bad record: dropped */
    tt_frame(m, 1, 1, 0, raw, n, false);
}

static void test_undecodable_record_drops_rest_of_frame(void **state)
{
    (void)state;
    struct tt_got g;
    read_with_middle(mid_bad_record, &g);
    const struct trace_damage *d = only_damage(&g);
    assert_int_equal(d->kind, TRACE_DMG_DECODE);
    assert_int_equal(g.exits, 3); /* frame 0, the good one of frame 1, frame 2 */
    assert_int_equal(g.st.frames_damaged, 1);
    assert_true(g.st.end_seen);
    tt_got_free(&g);
}

static void test_empty_and_tiny_inputs(void **state)
{
    (void)state;
    struct tt_got g;
    tt_read(NULL, 0, 0, &g);
    assert_int_equal(g.final_rc, TRACE_R_END);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.v[0].it.u.damage.kind, TRACE_DMG_NO_END);
    assert_int_equal(g.st.frames_ok, 0);
    tt_got_free(&g);

    static const uint8_t marker[] = {0x9e, 0x48, 0x56};
    tt_read(marker, sizeof(marker), 1, &g);
    assert_int_equal(g.v[0].it.u.damage.kind, TRACE_DMG_TRUNCATED);
    assert_int_equal(g.v[0].it.u.damage.length, 3);
    tt_got_free(&g);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_random_damage_never_delivers_garbage(void **state)
{
    (void)state;
    /* Bursts of flips, drops and insertions on a larger trace: every
     * delivered exit is one that was written (same seq, same content) and
     * every frame no damage touched is recovered in full. */
    struct tt_out o;
    assert_int_equal(tt_synth(&o, 5000, 400, 77), 0);
    struct tt_got all;
    tt_read(o.buf.data, o.buf.len, 0, &all);
    struct trace_exit *by_seq = calloc(5000, sizeof(*by_seq));
    for (size_t i = 0; i < all.n; i++)
        if (all.v[i].it.type == TRACE_ITEM_EXIT)
            by_seq[all.v[i].it.u.exit.seq] = all.v[i].it.u.exit;
    for (int trial = 0; trial < 40; trial++) {
        uint8_t *b = malloc(o.buf.len);
        memcpy(b, o.buf.data, o.buf.len);
        bool touched[TT_MAX_FRAMES] = {0};
        for (int k = 0; k < 5; k++) {
            size_t at = rnd() % o.buf.len;
            touched[frame_of(&o, at)] = true;
            b[at] ^= (uint8_t)(1 + rnd() % 255);
        }
        struct tt_got g;
        tt_read(b, o.buf.len, 1 + rnd() % 5000, &g);
        assert_true(g.damages >= 1);
        for (size_t i = 0; i < g.n; i++)
            if (g.v[i].it.type == TRACE_ITEM_EXIT) {
                const struct trace_exit *e = &g.v[i].it.u.exit;
                assert_true(e->seq < 5000);
                assert_true(tt_exit_eq(e, &by_seq[e->seq]));
            }
        assert_items_except(&all, &g, touched);
        tt_got_free(&g);
        free(b);
    }
    free(by_seq);
    tt_got_free(&all);
    trace_membuf_free(&o.buf);
}

static void test_random_bytes_never_crash(void **state)
{
    (void)state;
    /* Random buffers seeded with markers and valid-looking headers. */
    uint8_t buf[4096];
    for (int trial = 0; trial < 300; trial++) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)rnd();
        for (int k = 0; k < 8; k++) {
            size_t at = rnd() % (sizeof(buf) - TRACE_FRAME_HDR_LEN);
            struct trace_frame_hdr h = {.version = (uint8_t)(rnd() % 3),
                                        .seq = rnd() % 4,
                                        .payload_len = rnd() % 200,
                                        .raw_len = rnd() % 4000};
            trace_frame_hdr_encode(&h, buf + at);
        }
        struct tt_got g;
        tt_read(buf, sizeof(buf), 1 + rnd() % 700, &g);
        assert_int_equal(g.final_rc, TRACE_R_END);
        assert_true(g.damages >= 1);
        tt_got_free(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_byte_by_byte_feed_same_as_whole),
        cmocka_unit_test(test_byte_flip_at_every_offset),
        cmocka_unit_test(test_dropped_bytes_inside_a_frame),
        cmocka_unit_test(test_inserted_garbage_between_frames),
        cmocka_unit_test(test_removed_frame_is_a_gap),
        cmocka_unit_test(test_repeated_frame_reports_sequence),
        cmocka_unit_test(test_unsupported_frame_version),
        cmocka_unit_test(test_absurd_length_rejected),
        cmocka_unit_test(test_payload_that_does_not_decompress),
        cmocka_unit_test(test_undecodable_record_drops_rest_of_frame),
        cmocka_unit_test(test_empty_and_tiny_inputs),
        cmocka_unit_test(test_random_damage_never_delivers_garbage),
        cmocka_unit_test(test_random_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, setup_small, teardown_small);
}
