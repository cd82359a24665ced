/* Flat versioned save/restore helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/savestate.h"

#define TAG SV_TAG('T', 'E', 'S', 'T')

static size_t write_sample(uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    sv_begin(&s, TAG, 2);
    sv_put_u8(&s, 0x11);
    sv_put_u16(&s, 0x2233);
    sv_put_u32(&s, 0x44556677u);
    sv_put_u64(&s, 0x8899aabbccddeeffull);
    sv_put_bool(&s, true);
    sv_put_bytes(&s, "xyz", 3);
    sv_end(&s);
    return s.err ? 0 : sv_len(&s);
}

static void test_round_trip_little_endian(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = write_sample(buf, sizeof buf);
    assert_int_equal(n, 10 + 1 + 2 + 4 + 8 + 1 + 3);
    /* header: tag, version, payload length, all little-endian */
    assert_memory_equal(buf, "TEST", 4);
    assert_int_equal(buf[4], 2);
    assert_int_equal(buf[6], 19);
    assert_int_equal(buf[10], 0x11);
    assert_int_equal(buf[11], 0x33);

    struct sv s;
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_open(&s, TAG, 2), 2);
    assert_int_equal(sv_get_u8(&s), 0x11);
    assert_int_equal(sv_get_u16(&s), 0x2233);
    assert_int_equal(sv_get_u32(&s), 0x44556677u);
    assert_true(sv_get_u64(&s) == 0x8899aabbccddeeffull);
    assert_true(sv_get_bool(&s));
    char b[3];
    sv_get_bytes(&s, b, 3);
    assert_memory_equal(b, "xyz", 3);
    sv_close(&s);
    assert_false(s.err);
}

static void test_writer_overflow_is_sticky(void **st)
{
    (void)st;
    uint8_t buf[12];
    assert_int_equal(write_sample(buf, sizeof buf), 0);
}

static void test_reader_rejects_wrong_tag_and_newer_version(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = write_sample(buf, sizeof buf);
    struct sv s;
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_open(&s, SV_TAG('N', 'O', 'P', 'E'), 2), 0);
    assert_true(s.err);
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_open(&s, TAG, 1), 0); /* blob is version 2, reader knows 1 */
    assert_true(s.err);
}

static void test_reader_rejects_truncation_at_every_length(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = write_sample(buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut++) {
        struct sv s;
        sv_init_read(&s, buf, cut);
        sv_open(&s, TAG, 2);
        sv_get_u8(&s);
        sv_get_u16(&s);
        sv_get_u32(&s);
        sv_get_u64(&s);
        sv_get_bool(&s);
        char b[3];
        sv_get_bytes(&s, b, 3);
        sv_close(&s);
        assert_true(s.err);
    }
}

static void test_close_detects_unconsumed_payload(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = write_sample(buf, sizeof buf);
    struct sv s;
    sv_init_read(&s, buf, n);
    sv_open(&s, TAG, 2);
    sv_get_u8(&s);
    sv_close(&s);
    assert_true(s.err);
    /* ...unless the reader explicitly skips what it does not know */
    sv_init_read(&s, buf, n);
    sv_open(&s, TAG, 2);
    sv_get_u8(&s);
    sv_skip_rest(&s);
    sv_close(&s);
    assert_false(s.err);
}

static void test_bool_other_than_0_1_is_corrupt(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = write_sample(buf, sizeof buf);
    buf[10 + 1 + 2 + 4 + 8] = 7;
    struct sv s;
    sv_init_read(&s, buf, n);
    sv_open(&s, TAG, 2);
    sv_get_u8(&s);
    sv_get_u16(&s);
    sv_get_u32(&s);
    sv_get_u64(&s);
    sv_get_bool(&s);
    assert_true(s.err);
}

static void test_section_length_beyond_buffer_rejected(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = write_sample(buf, sizeof buf);
    buf[6] = 0xff; /* claims 255+ payload bytes */
    struct sv s;
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_open(&s, TAG, 2), 0);
    assert_true(s.err);
}

/* Sections nest: an outer section's length covers the inner ones and each
 * level is checked on close. */
static void test_nested_sections(void **st)
{
    (void)st;
    uint8_t buf[128];
    struct sv s;
    sv_init_write(&s, buf, sizeof buf);
    sv_begin(&s, SV_TAG('O', 'U', 'T', 'R'), 1);
    sv_put_u32(&s, 0xdeadbeefu);
    sv_begin(&s, TAG, 1);
    sv_put_u16(&s, 0x1234);
    sv_end(&s);
    sv_put_u8(&s, 0x55);
    sv_end(&s);
    assert_false(s.err);
    size_t n = sv_len(&s);
    assert_int_equal(n, 10 + 4 + (10 + 2) + 1);
    assert_int_equal(buf[6], 4 + 12 + 1); /* outer payload length */
    assert_int_equal(buf[14 + 6], 2);     /* inner payload length */

    sv_init_read(&s, buf, n);
    assert_int_equal(sv_open(&s, SV_TAG('O', 'U', 'T', 'R'), 1), 1);
    assert_int_equal(sv_get_u32(&s), 0xdeadbeefu);
    assert_int_equal(sv_open(&s, TAG, 1), 1);
    assert_int_equal(sv_get_u16(&s), 0x1234);
    sv_close(&s);
    assert_int_equal(sv_get_u8(&s), 0x55);
    sv_close(&s);
    assert_false(s.err);
    assert_int_equal(s.depth, 0);

    /* a corrupted inner length is detected when the inner section closes */
    buf[14 + 6] = 3;
    sv_init_read(&s, buf, n);
    sv_open(&s, SV_TAG('O', 'U', 'T', 'R'), 1);
    sv_get_u32(&s);
    sv_open(&s, TAG, 1);
    sv_get_u16(&s);
    sv_close(&s);
    assert_true(s.err);
}

static void test_unbalanced_end_is_an_error(void **st)
{
    (void)st;
    uint8_t buf[16];
    struct sv s;
    sv_init_write(&s, buf, sizeof buf);
    sv_end(&s);
    assert_true(s.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_little_endian),
        cmocka_unit_test(test_writer_overflow_is_sticky),
        cmocka_unit_test(test_reader_rejects_wrong_tag_and_newer_version),
        cmocka_unit_test(test_reader_rejects_truncation_at_every_length),
        cmocka_unit_test(test_close_detects_unconsumed_payload),
        cmocka_unit_test(test_bool_other_than_0_1_is_corrupt),
        cmocka_unit_test(test_section_length_beyond_buffer_rejected),
        cmocka_unit_test(test_nested_sections),
        cmocka_unit_test(test_unbalanced_end_is_an_error),
    };
    return cmocka_run_group_tests_name("savestate", tests, NULL, NULL);
}
