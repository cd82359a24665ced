/* Linear-time resynchronisation (trace_crcspan.c): CRCs of arbitrary
 * stretches from prefix CRCs equal the direct ones, also while the buffer
 * window slides; and back-to-back frame headers with good header CRCs and
 * bad payload CRCs cost CRC work linear in the input, with the frames after
 * them still recovered; frames whose claimed size would make decompression a
 * bomb are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "trace/trace_craft.h"
#include "trace/trace_crcspan.h"
#include "trace/trace_frame.h"
#include "trace/trace_reader.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_combine(void **state)
{
    (void)state;
    uint8_t b[1000];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)rnd();
    for (int t = 0; t < 200; t++) {
        size_t k = rnd() % sizeof b;
        uint32_t whole = trace_crc32c(0, b, sizeof b);
        assert_int_equal(crc32c_combine(trace_crc32c(0, b, k), trace_crc32c(0, b + k, sizeof b - k),
                                        sizeof b - k),
                         whole);
    }
    /* the CRC-32C check value (RFC 3720 B.4: 32 bytes of zeros) */
    uint8_t z[32] = {0};
    assert_int_equal(trace_crc32c(0, z, 32), 0x8a9136aa);
}

static void test_span_matches_direct(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint8_t *b = malloc(N);
    assert_non_null(b);
    for (size_t i = 0; i < N; i++)
        b[i] = (uint8_t)rnd();
    struct crc_span s = {0};
    /* a window [off, off + 60000) sliding forward, ranges inside it */
    uint64_t off = 0;
    for (int t = 0; t < 3000; t++) {
        if (rnd() % 8 == 0 && off + 60000 + 1000 < N)
            off += rnd() % 1000;
        uint64_t a = off + rnd() % 30000;
        size_t len = (size_t)(rnd() % 30000);
        uint32_t got;
        assert_int_equal(crc_span_crc(&s, b + off, off, 60000, a, len, &got), 0);
        assert_int_equal(got, trace_crc32c(0, b + a, len));
    }
    uint32_t x;
    assert_int_equal(crc_span_crc(&s, b + off, off, 60000, off + 59000, 2000, &x), -1);
    crc_span_free(&s);
    free(b);
}

static void read_storm(size_t chunk, struct trace_reader_stats *st, uint64_t *exits, size_t *len)
{
    uint8_t *buf;
    assert_int_equal(trace_craft("crc-storm", 1, 300, 100, NULL, 0, &buf, len), 0);
    struct trace_reader *r = trace_reader_new();
    size_t fed = 0;
    struct trace_item it;
    *exits = 0;
    for (;;) {
        int rc = trace_reader_next(r, &it);
        if (rc == TRACE_R_ITEM) {
            *exits += it.type == TRACE_ITEM_EXIT;
            continue;
        }
        if (rc != TRACE_R_MORE)
            break;
        size_t n = chunk && *len - fed > chunk ? chunk : *len - fed;
        assert_int_equal(trace_reader_feed(r, buf + fed, n), 0);
        fed += n;
        if (fed == *len)
            trace_reader_eof(r);
    }
    trace_reader_get_stats(r, st);
    trace_reader_free(r);
    free(buf);
}

static void test_header_storm_is_linear(void **state)
{
    (void)state;
    static const size_t chunks[] = {0, 65536, 4099};
    for (unsigned i = 0; i < 3; i++) {
        struct trace_reader_stats st;
        uint64_t exits;
        size_t len;
        read_storm(chunks[i], &st, &exits, &len);
        assert_true(len > (1u << 20));
        assert_int_equal(exits, 300); /* the trace after the storm, whole */
        assert_true(st.end_seen);
        /* every header's 512 KiB payload hashed afresh: ~19 GB; linear: a few MB */
        if (st.crc_bytes > 8 * (uint64_t)len)
            fail_msg("chunk %zu: %llu bytes hashed for %zu bytes of input", chunks[i],
                     (unsigned long long)st.crc_bytes, len);
    }
}

/* A frame of 16 MiB of zeros compresses to ~600 bytes: thousands of them
 * in a few MiB would make the reader write terabytes. Such frames are
 * bad-length damage, never decompressed; real frames still pass. */
static void test_decompression_bomb_refused(void **state)
{
    (void)state;
    size_t raw_len = 16u << 20;
    uint8_t *zeros = calloc(1, raw_len);
    size_t cap = ZSTD_compressBound(raw_len);
    uint8_t *z = malloc(cap);
    assert_non_null(zeros);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, cap, zeros, raw_len, 1);
    assert_false(ZSTD_isError(zn));
    assert_true(zn < 4096);
    struct trace_reader *r = trace_reader_new();
    for (uint32_t seq = 0; seq < 200; seq++) {
        struct trace_frame_hdr h = {.version = TRACE_FRAME_VERSION,
                                    .seq = seq,
                                    .payload_len = (uint32_t)zn,
                                    .raw_len = (uint32_t)raw_len,
                                    .payload_crc = trace_crc32c(0, z, zn)};
        uint8_t hdr[TRACE_FRAME_HDR_LEN];
        trace_frame_hdr_encode(&h, hdr);
        assert_int_equal(trace_reader_feed(r, hdr, sizeof hdr), 0);
        assert_int_equal(trace_reader_feed(r, z, zn), 0);
    }
    trace_reader_eof(r);
    struct trace_item it;
    bool bad_length = false;
    while (trace_reader_next(r, &it) == TRACE_R_ITEM)
        if (it.type == TRACE_ITEM_DAMAGE && it.u.damage.kind == TRACE_DMG_BAD_LENGTH &&
            strstr(it.u.damage.msg, "raw bytes from"))
            bad_length = true;
    struct trace_reader_stats st;
    trace_reader_get_stats(r, &st);
    assert_true(bad_length);
    assert_int_equal(st.frames_ok, 0);
    assert_int_equal(st.raw_bytes, 0); /* nothing decompressed */
    trace_reader_free(r);
    free(z);
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_span_matches_direct),
        cmocka_unit_test(test_header_storm_is_linear),
        cmocka_unit_test(test_decompression_bomb_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
