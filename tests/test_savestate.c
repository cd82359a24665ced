/* Flat versioned save/restore helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/savestate.h"
#include "hv/devs/vm_devices.h"

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

/* ---- declared fields ---- */

/* A made-up device whose layout 2 added `mode` (derived from ctrl when an
 * older blob is loaded) and `extra` (a documented default, 7). */
struct widget {
    uint8_t ctrl;
    uint8_t mode;   /* since 2: ctrl & 3 */
    uint16_t extra; /* since 2: 7 */
    bool on;
    uint8_t regs[3];
    struct {
        uint32_t a;
        uint64_t b;
    } part[2];
    uint32_t post_loads; /* not state: counts post_load calls */
};

static void part_post_load(void *obj, uint16_t v)
{
    (void)obj, (void)v;
}

static const struct sv_field part_fields[] = {
    {.name = "a", .kind = SVK_U32, .width = 4, .count = 1, .since = 1, .off = 0},
    {.name = "b", .kind = SVK_U64, .width = 8, .count = 1, .since = 1, .off = 8},
};
static const struct sv_desc part_desc = {.name = "part",
                                         .fields = part_fields,
                                         .nfields = SV_NFIELDS(part_fields),
                                         .post_load = part_post_load};

static void widget_post_load(void *obj, uint16_t version)
{
    struct widget *w = obj;
    if (version < 2)
        w->mode = w->ctrl & 3;
    w->post_loads++;
}

static bool widget_valid(const void *obj)
{
    const struct widget *w = obj;
    return w->mode == (w->ctrl & 3);
}

static const struct sv_field widget_v1_fields[] = {
    SV_U8(struct widget, ctrl),
    SV_BOOL(struct widget, on),
    SV_U8_ARRAY(struct widget, regs),
    SV_STRUCT(struct widget, part, 2, &part_desc),
};
static const struct sv_field widget_v2_fields[] = {
    SV_U8(struct widget, ctrl),
    SV_U8_DERIVED(struct widget, mode, 2),
    SV_U16_SINCE(struct widget, extra, 2, 7),
    SV_BOOL(struct widget, on),
    SV_U8_ARRAY(struct widget, regs),
    SV_STRUCT(struct widget, part, 2, &part_desc),
};
#define WTAG SV_TAG('W', 'D', 'G', 'T')
static const struct sv_desc widget_v1 = {.name = "widget",
                                         .tag = WTAG,
                                         .version = 1,
                                         .min_version = 1,
                                         .fields = widget_v1_fields,
                                         .nfields = SV_NFIELDS(widget_v1_fields),
                                         .valid = widget_valid};
static const struct sv_desc widget_v2 = {.name = "widget",
                                         .tag = WTAG,
                                         .version = 2,
                                         .min_version = 1,
                                         .fields = widget_v2_fields,
                                         .nfields = SV_NFIELDS(widget_v2_fields),
                                         .post_load = widget_post_load,
                                         .valid = widget_valid};

static const struct widget sample_widget = {
    .ctrl = 0x0e,
    .mode = 2,
    .extra = 0x1234,
    .on = true,
    .regs = {1, 2, 3},
    .part = {{0x11111111u, 0x2222222222222222ull}, {0x33u, 0x44u}}};

static size_t save_widget(const struct sv_desc *d, const struct widget *w, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    sv_save(&s, d, w);
    return s.err ? 0 : sv_len(&s);
}

/* The table is the wire format: fields in order, little-endian, nested
 * struct elements in line. */
static void test_table_wire_format(void **st)
{
    (void)st;
    uint8_t buf[64];
    size_t n = save_widget(&widget_v2, &sample_widget, buf, sizeof buf);
    static const uint8_t want[] = {
        'W',  'D',  'G',  'T',  2,    0,    32,   0,    0,    0, /* tag, version 2, length */
        0x0e, 2,    0x34, 0x12, 1,    1,    2,    3,             /* ctrl, mode, extra, on, regs */
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, /* part[0] */
        0x33, 0,    0,    0,    0x44, 0,    0,    0,    0,    0,    0,    0};   /* part[1] */
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    /* and back, byte-exactly */
    struct widget w = {0};
    struct sv s;
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_load(&s, &widget_v2, &w), 2);
    assert_false(s.err);
    uint8_t again[64];
    assert_int_equal(save_widget(&widget_v2, &w, again, sizeof again), n);
    assert_memory_equal(again, buf, n);
}

/* A blob written before layout 2 loads: `extra` takes its default, `mode`
 * is derived by post_load, and re-saving writes layout 2. */
static void test_older_layout_is_upgraded(void **st)
{
    (void)st;
    uint8_t v1[64], v2[64];
    size_t n1 = save_widget(&widget_v1, &sample_widget, v1, sizeof v1);
    assert_int_equal(n1, 10 + 1 + 1 + 3 + 2 * 12);
    struct widget w = {.mode = 0x55, .extra = 0x5555};
    struct sv s;
    sv_init_read(&s, v1, n1);
    assert_int_equal(sv_load(&s, &widget_v2, &w), 1);
    assert_false(s.err);
    assert_int_equal(w.mode, 2);  /* derived: ctrl & 3 */
    assert_int_equal(w.extra, 7); /* the documented default */
    assert_int_equal(w.post_loads, 1);
    assert_true(w.on);
    assert_int_equal(w.part[1].b, 0x44);
    size_t n2 = save_widget(&widget_v2, &w, v2, sizeof v2);
    assert_int_equal(n2, n1 + 3);
    assert_int_equal(v2[4], 2);
}

static void test_version_window(void **st)
{
    (void)st;
    uint8_t buf[64];
    struct widget w = sample_widget;
    size_t n = save_widget(&widget_v2, &w, buf, sizeof buf);
    struct sv s;
    /* a reader that only knows layout 1 refuses layout 2 */
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_load(&s, &widget_v1, &w), 0);
    assert_true(s.err);
    /* below min_version: refused */
    struct sv_desc strict = widget_v2;
    strict.min_version = 2;
    n = save_widget(&widget_v1, &sample_widget, buf, sizeof buf);
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_load(&s, &strict, &w), 0);
    assert_true(s.err);
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_load(&s, &widget_v2, &w), 1);
}

/* valid() refuses impossible states, except when decoding for a comparison. */
static void test_validity_and_lax_decoding(void **st)
{
    (void)st;
    uint8_t buf[64];
    struct widget bad = sample_widget;
    bad.mode = 3; /* ctrl & 3 is 2 */
    size_t n = save_widget(&widget_v2, &bad, buf, sizeof buf);
    struct widget w = {0};
    struct sv s;
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_load(&s, &widget_v2, &w), 0);
    sv_init_read(&s, buf, n);
    s.lax = true;
    assert_int_equal(sv_load(&s, &widget_v2, &w), 2);
    assert_int_equal(w.mode, 3);
    /* a bool other than 0/1 is corrupt even then */
    buf[14] = 2;
    sv_init_read(&s, buf, n);
    s.lax = true;
    assert_int_equal(sv_load(&s, &widget_v2, &w), 0);
}

struct diffs {
    char text[512];
    unsigned n;
};

static void collect(void *ctx, const char *path, uint64_t want, uint64_t got)
{
    struct diffs *d = ctx;
    size_t used = strlen(d->text);
    snprintf(d->text + used, sizeof d->text - used, "%s%s %llu %llu", d->n ? ", " : "", path,
             (unsigned long long)want, (unsigned long long)got);
    d->n++;
}

static void test_compare_names_fields_and_elements(void **st)
{
    (void)st;
    struct widget a = sample_widget, b = sample_widget;
    struct diffs d = {0};
    assert_int_equal(sv_compare(&widget_v2, "w", &a, NULL, 0, &b, collect, &d), 0);
    b.on = false;
    b.regs[2] = 9;
    b.part[1].b = 5;
    b.post_loads = 99; /* not a field: not compared */
    assert_int_equal(sv_compare(&widget_v2, "w", &a, NULL, 0, &b, collect, &d), 3);
    assert_string_equal(d.text, "w.on 1 0, w.regs[2] 3 9, w.part[1].b 68 5");
}

/* Against a blob of layout 1, `extra` (a default there) is not compared,
 * `mode` (derived exactly) is. */
static void test_compare_against_older_layout(void **st)
{
    (void)st;
    uint8_t v1[64];
    size_t n1 = save_widget(&widget_v1, &sample_widget, v1, sizeof v1);
    struct widget old = {0};
    uint16_t vers[4];
    struct sv s;
    sv_init_read(&s, v1, n1);
    s.lax = true;
    s.versions = vers;
    s.versions_cap = 4;
    assert_int_equal(sv_load(&s, &widget_v2, &old), 1);
    assert_int_equal(s.nversions, 1);
    assert_int_equal(vers[0], 1);
    struct widget now = sample_widget;
    struct diffs d = {0};
    assert_int_equal(sv_compare(&widget_v2, "w", &old, vers, 1, &now, collect, &d), 0);
    assert_int_equal(sv_compare(&widget_v2, "w", &old, NULL, 0, &now, collect, &d), 1);
    assert_string_equal(d.text, "w.extra 7 4660");
    now.mode = 1;
    d = (struct diffs){0};
    assert_int_equal(sv_compare(&widget_v2, "w", &old, vers, 1, &now, collect, &d), 1);
    assert_string_equal(d.text, "w.mode 2 1");
}

/* The real tables: fields no newer than their layout, windows sane, and
 * every device section named as reports name it. */
static void check_desc(const struct sv_desc *d, uint16_t version)
{
    assert_true(d->min_version <= d->version);
    for (unsigned i = 0; i < d->nfields; i++) {
        const struct sv_field *f = &d->fields[i];
        assert_non_null(f->name);
        assert_true(f->since >= 1 && f->since <= version);
        assert_true(f->count >= 1);
        if (f->kind == SVK_STRUCT)
            check_desc(f->sub, version);
        else if (f->kind == SVK_SECTION)
            check_desc(f->sub, f->sub->version);
    }
}

static void test_device_tables_consistent(void **st)
{
    (void)st;
    check_desc(&vm_devices_sv_desc, vm_devices_sv_desc.version);
    static const char *const names[] = {"now_ns",  "requests", "pic",    "pit",  "port61",
                                        "com1",    "cmos",     "pci",    "post", "kbc",
                                        "dbgexit", "lapic",    "ioapic", "pm",   "cpus"};
    assert_int_equal(vm_devices_sv_desc.nfields, 15);
    for (unsigned i = 0; i < 15; i++)
        assert_string_equal(vm_devices_sv_desc.fields[i].name, names[i]);
}

/* Two device states that differ in one UART flag and the RX FIFO: the
 * comparison names exactly those fields (FIFO entries by index), with
 * both values. */
static void test_vm_devices_compare(void **st)
{
    (void)st;
    static struct vm_devices a, b, scratch[2];
    vm_devices_init(&a, NULL, NULL, 0);
    uint32_t v = 0x02; /* IER: THRE interrupt on */
    vm_devices_io(&a, 0x3f9, 1, true, &v, 1000);
    static uint8_t ba[VM_DEVICES_SAVE_MAX], bb[VM_DEVICES_SAVE_MAX];
    size_t na = vm_devices_save(&a, ba, sizeof ba);
    assert_true(na > 0);
    vm_devices_init(&b, NULL, NULL, 0);
    assert_int_equal(vm_devices_restore(&b, ba, na), 0);
    struct diffs d = {0};
    assert_int_equal(vm_devices_compare(ba, na, ba, na, scratch, collect, &d), 0);
    b.com1.thre_ip = !b.com1.thre_ip;
    const uint8_t rx[2] = {'h', 'i'};
    vm_devices_com1_rx(&b, rx, 2, 1000);
    size_t nb = vm_devices_save(&b, bb, sizeof bb);
    assert_int_equal(vm_devices_compare(ba, na, bb, nb, scratch, collect, &d), 4);
    /* 16450 mode (FIFO off): one byte is received */
    assert_string_equal(d.text, "com1.thre_ip 1 0, com1.rx_activity_ns 0 1000, com1.rx_count 0 1, "
                                "com1.rx_data[0] 0 104");
    /* a blob that does not decode */
    assert_int_equal(vm_devices_compare(ba, na, bb, nb - 1, scratch, collect, &d), -1);
}

/* A recorded blob is untrusted input: every single-byte corruption and
 * every truncation of a real one decodes or is refused, never crashes
 * (ASan), and a restore that fails leaves the devices untouched. */
static void test_corrupt_blobs_compare_safely(void **st)
{
    (void)st;
    static struct vm_devices a, b, scratch[2];
    vm_devices_init(&a, NULL, NULL, 0);
    uint32_t v = 0x0f;
    vm_devices_io(&a, 0x3f9, 1, true, &v, 1000);
    static uint8_t good[VM_DEVICES_SAVE_MAX], bad[VM_DEVICES_SAVE_MAX], before[VM_DEVICES_SAVE_MAX],
        after[VM_DEVICES_SAVE_MAX];
    size_t n = vm_devices_save(&a, good, sizeof good);
    vm_devices_init(&b, NULL, NULL, 0);
    size_t nb = vm_devices_save(&b, before, sizeof before);
    unsigned decoded = 0, refused = 0;
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(bad, good, n);
            bad[i] ^= flips[f];
            int nd = vm_devices_compare(good, n, bad, n, scratch, NULL, NULL);
            assert_true(nd >= -1);
            nd < 0 ? refused++ : decoded++;
            if (vm_devices_restore(&b, bad, n) != 0) {
                assert_int_equal(vm_devices_save(&b, after, sizeof after), nb);
                assert_memory_equal(after, before, nb);
            } else {
                vm_devices_init(&b, NULL, NULL, 0);
            }
        }
    for (size_t len = 0; len < n; len++)
        assert_int_equal(vm_devices_compare(good, n, good, len, scratch, NULL, NULL), -1);
    assert_true(decoded > 0 && refused > 0);
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
        cmocka_unit_test(test_table_wire_format),
        cmocka_unit_test(test_older_layout_is_upgraded),
        cmocka_unit_test(test_version_window),
        cmocka_unit_test(test_validity_and_lax_decoding),
        cmocka_unit_test(test_compare_names_fields_and_elements),
        cmocka_unit_test(test_compare_against_older_layout),
        cmocka_unit_test(test_device_tables_consistent),
        cmocka_unit_test(test_vm_devices_compare),
        cmocka_unit_test(test_corrupt_blobs_compare_safely),
    };
    return cmocka_run_group_tests_name("savestate", tests, NULL, NULL);
}
