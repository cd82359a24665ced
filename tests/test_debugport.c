/* Port 0x80: last byte latched, write counter, sizes, save/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/debugport.h"
#include "hv/devs/iobus.h"
#include "hv/devs/vm_devices.h"

static int wr(struct debugport *d, unsigned size, uint32_t v)
{
    return debugport_io(d, 0x80, size, true, &v, 0);
}

static uint32_t rd(struct debugport *d, int *rc)
{
    uint32_t v = 0xdeadbeef;
    *rc = debugport_io(d, 0x80, 1, false, &v, 0);
    return v;
}

static void test_init_reads_zero(void **st)
{
    (void)st;
    struct debugport d;
    memset(&d, 0x5a, sizeof d);
    debugport_init(&d);
    int rc;
    assert_int_equal(rd(&d, &rc), 0);
    assert_int_equal(rc, DEV_IO_OK);
    assert_int_equal(d.writes, 0);
}

static void test_write_byte_read_back(void **st)
{
    (void)st;
    struct debugport d;
    debugport_init(&d);
    assert_int_equal(wr(&d, 1, 0x42), DEV_IO_OK);
    int rc;
    assert_int_equal(rd(&d, &rc), 0x42);
    assert_int_equal(d.last, 0x42);
    assert_int_equal(d.writes, 1);
}

static void test_linux_io_delay_pattern(void **st)
{
    (void)st;
    /* Linux's outb_p() issues "outb %al,$0x80" after each port write: the
     * value is whatever is in AL, typically 0. 1000 delays count 1000. */
    struct debugport d;
    debugport_init(&d);
    wr(&d, 1, 0x77);
    for (int i = 0; i < 1000; i++)
        wr(&d, 1, 0);
    assert_int_equal(d.writes, 1001);
    int rc;
    assert_int_equal(rd(&d, &rc), 0);
}

static void test_word_and_dword_write_latch_low_byte(void **st)
{
    (void)st;
    struct debugport d;
    debugport_init(&d);
    assert_int_equal(wr(&d, 2, 0xabcd), DEV_IO_OK);
    assert_int_equal(d.last, 0xcd);
    assert_int_equal(wr(&d, 4, 0x12345678), DEV_IO_OK);
    assert_int_equal(d.last, 0x78);
    assert_int_equal(d.writes, 2);
}

static void test_wide_read_is_badsize(void **st)
{
    (void)st;
    struct debugport d;
    debugport_init(&d);
    wr(&d, 1, 0x11);
    uint32_t v = 0;
    assert_int_equal(debugport_io(&d, 0x80, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(debugport_io(&d, 0x80, 4, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(d.last, 0x11);
}

static void test_bad_size_write_rejected(void **st)
{
    (void)st;
    struct debugport d;
    debugport_init(&d);
    assert_int_equal(wr(&d, 3, 0x99), DEV_IO_BADSIZE);
    assert_int_equal(wr(&d, 0, 0x99), DEV_IO_BADSIZE);
    assert_int_equal(d.writes, 0);
    assert_int_equal(d.last, 0);
}

static void test_other_port_unmapped(void **st)
{
    (void)st;
    struct debugport d;
    debugport_init(&d);
    uint32_t v = 5;
    assert_int_equal(debugport_io(&d, 0x81, 1, true, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(d.writes, 0);
}

static void test_through_iobus(void **st)
{
    (void)st;
    struct debugport d;
    struct iobus bus;
    debugport_init(&d);
    iobus_init(&bus);
    assert_int_equal(iobus_register(&bus, 0x80, 1, debugport_io, &d, "post"), 0);
    uint32_t v = 0x3c;
    assert_int_equal(iobus_access(&bus, 0x80, 1, true, &v, 10), DEV_IO_OK);
    v = 0;
    assert_int_equal(iobus_access(&bus, 0x80, 1, false, &v, 20), DEV_IO_OK);
    assert_int_equal(v, 0x3c);
    /* A word read is refused: the bus answers all-ones and counts it. */
    assert_int_equal(iobus_access(&bus, 0x80, 2, false, &v, 30), DEV_IO_BADSIZE);
    assert_int_equal(v, 0xffff);
    assert_int_equal(bus.bad_size, 1);
}

static void test_wired_in_vm_devices(void **st)
{
    (void)st;
    static struct vm_devices d;
    vm_devices_init(&d, NULL, NULL, 0);
    uint32_t v = 0xaa;
    assert_int_equal(vm_devices_io(&d, 0x80, 1, true, &v, 1), DEV_IO_OK);
    v = 0;
    assert_int_equal(vm_devices_io(&d, 0x80, 1, false, &v, 2), DEV_IO_OK);
    assert_int_equal(v, 0xaa);
    assert_int_equal(d.post.writes, 1);
}

static size_t save(const struct debugport *d, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    debugport_save(d, &s);
    return s.err ? 0 : sv_len(&s);
}

static int restore(struct debugport *d, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return debugport_restore(d, &s);
}

static void test_save_restore_identical(void **st)
{
    (void)st;
    struct debugport a, b;
    debugport_init(&a);
    debugport_init(&b);
    wr(&a, 1, 0xe3);
    wr(&a, 1, 0x9a);
    uint8_t buf[64];
    size_t n = save(&a, buf, sizeof buf);
    assert_int_equal(n, 4 + 2 + 4 + 1 + 8);
    assert_int_equal(restore(&b, buf, n), 0);
    assert_int_equal(b.last, 0x9a);
    assert_int_equal(b.writes, 2);
    /* Same behaviour afterwards. */
    wr(&a, 1, 1);
    wr(&b, 1, 1);
    int rc;
    assert_int_equal(rd(&a, &rc), rd(&b, &rc));
    assert_int_equal(a.writes, b.writes);
    uint8_t buf2[64];
    assert_int_equal(save(&b, buf2, sizeof buf2), n);
    save(&a, buf, sizeof buf);
    assert_memory_equal(buf, buf2, n);
}

static void test_restore_truncated_rejected_untouched(void **st)
{
    (void)st;
    struct debugport a, b;
    debugport_init(&a);
    debugport_init(&b);
    wr(&a, 1, 0x55);
    wr(&b, 1, 0x66);
    uint8_t buf[64];
    size_t n = save(&a, buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(restore(&b, buf, cut), -1);
    assert_int_equal(b.last, 0x66);
    assert_int_equal(b.writes, 1);
}

static void test_restore_wrong_tag_or_version_rejected(void **st)
{
    (void)st;
    struct debugport a, b;
    debugport_init(&a);
    debugport_init(&b);
    uint8_t buf[64];
    size_t n = save(&a, buf, sizeof buf);
    buf[0] ^= 1; /* tag */
    assert_int_equal(restore(&b, buf, n), -1);
    buf[0] ^= 1;
    buf[4] = 2; /* version 2 is newer than we know */
    assert_int_equal(restore(&b, buf, n), -1);
    buf[4] = 0; /* version 0 is never valid */
    assert_int_equal(restore(&b, buf, n), -1);
    buf[4] = 1;
    assert_int_equal(restore(&b, buf, n), 0);
}

static void test_restore_length_mismatch_rejected(void **st)
{
    (void)st;
    struct debugport a, b;
    debugport_init(&a);
    debugport_init(&b);
    uint8_t buf[64];
    size_t n = save(&a, buf, sizeof buf);
    buf[6] += 1; /* payload claims one byte more than is read back */
    buf[n] = 0;
    assert_int_equal(restore(&b, buf, n + 1), -1);
}

static void test_save_too_small_buffer_fails(void **st)
{
    (void)st;
    struct debugport a;
    debugport_init(&a);
    uint8_t buf[8];
    assert_int_equal(save(&a, buf, sizeof buf), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_reads_zero),
        cmocka_unit_test(test_write_byte_read_back),
        cmocka_unit_test(test_linux_io_delay_pattern),
        cmocka_unit_test(test_word_and_dword_write_latch_low_byte),
        cmocka_unit_test(test_wide_read_is_badsize),
        cmocka_unit_test(test_bad_size_write_rejected),
        cmocka_unit_test(test_other_port_unmapped),
        cmocka_unit_test(test_through_iobus),
        cmocka_unit_test(test_wired_in_vm_devices),
        cmocka_unit_test(test_save_restore_identical),
        cmocka_unit_test(test_restore_truncated_rejected_untouched),
        cmocka_unit_test(test_restore_wrong_tag_or_version_rejected),
        cmocka_unit_test(test_restore_length_mismatch_rejected),
        cmocka_unit_test(test_save_too_small_buffer_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
