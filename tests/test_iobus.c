/* Port-I/O bus: range registration, dispatch, unknown ports, size checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/devs/iobus.h"

struct fake {
    uint16_t last_port;
    unsigned last_size;
    uint32_t last_val;
    unsigned calls;
    uint64_t last_now;
};

static int fake_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                   uint64_t now_ns)
{
    struct fake *f = dev;
    f->calls++;
    f->last_port = port;
    f->last_size = size;
    f->last_now = now_ns;
    if (write)
        f->last_val = *val;
    else
        *val = 0x12345678u;
    return DEV_IO_OK;
}

static int byte_only_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                        uint64_t now_ns)
{
    if (size != 1)
        return DEV_IO_BADSIZE;
    return fake_io(dev, port, size, write, val, now_ns);
}

static void test_register_rejects_overlap_and_bad_ranges(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake f = {0};
    iobus_init(&bus);
    assert_int_equal(iobus_register(&bus, 0x20, 2, fake_io, &f, "a"), 0);
    assert_int_equal(iobus_register(&bus, 0x21, 1, fake_io, &f, "overlap"), -1);
    assert_int_equal(iobus_register(&bus, 0x1f, 2, fake_io, &f, "overlap-below"), -1);
    assert_int_equal(iobus_register(&bus, 0x22, 1, fake_io, &f, "adjacent"), 0);
    assert_int_equal(iobus_register(&bus, 0x30, 0, fake_io, &f, "empty"), -1);
    assert_int_equal(iobus_register(&bus, 0xffff, 2, fake_io, &f, "wraps"), -1);
    assert_int_equal(iobus_register(&bus, 0xffff, 1, fake_io, &f, "last port"), 0);
    assert_int_equal(iobus_register(&bus, 0x40, 1, NULL, &f, "no handler"), -1);
}

static void test_register_table_full(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake f = {0};
    iobus_init(&bus);
    for (unsigned i = 0; i < IOBUS_MAX_RANGES; i++)
        assert_int_equal(iobus_register(&bus, (uint16_t)(0x100 + i), 1, fake_io, &f, "x"), 0);
    assert_int_equal(iobus_register(&bus, 0x200, 1, fake_io, &f, "one too many"), -1);
}

static void test_dispatch_passes_port_size_value_time(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake f = {0};
    iobus_init(&bus);
    iobus_register(&bus, 0x3f8, 8, fake_io, &f, "com1");
    uint32_t v = 0xaabbccddu;
    assert_int_equal(iobus_access(&bus, 0x3fb, 1, true, &v, 777), DEV_IO_OK);
    assert_int_equal(f.last_port, 0x3fb);
    assert_int_equal(f.last_size, 1);
    assert_int_equal(f.last_val, 0xdd); /* masked to the access size */
    assert_int_equal(f.last_now, 777);
    v = 0;
    assert_int_equal(iobus_access(&bus, 0x3f8, 2, false, &v, 778), DEV_IO_OK);
    assert_int_equal(v, 0x5678); /* read masked to the access size */
}

static void test_unknown_ports_read_all_ones_and_count(void **st)
{
    (void)st;
    struct iobus bus;
    iobus_init(&bus);
    uint32_t v = 0;
    assert_int_equal(iobus_access(&bus, 0x1234, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xff);
    assert_int_equal(iobus_access(&bus, 0x1234, 2, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xffff);
    assert_int_equal(iobus_access(&bus, 0x1234, 4, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xffffffffu);
    v = 5;
    assert_int_equal(iobus_access(&bus, 0x1234, 1, true, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(bus.unknown_reads, 3);
    assert_int_equal(bus.unknown_writes, 1);
}

static void test_bad_sizes_never_reach_devices(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake f = {0};
    iobus_init(&bus);
    iobus_register(&bus, 0x80, 1, fake_io, &f, "post");
    uint32_t v = 0;
    assert_int_equal(iobus_access(&bus, 0x80, 3, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xffffff);
    assert_int_equal(iobus_access(&bus, 0x80, 0, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(v, 0xffffffffu);
    assert_int_equal(iobus_access(&bus, 0x80, 8, true, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(f.calls, 0);
}

static void test_device_refusing_size_reads_all_ones(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake f = {0};
    iobus_init(&bus);
    iobus_register(&bus, 0x20, 2, byte_only_io, &f, "pic");
    uint32_t v = 0;
    assert_int_equal(iobus_access(&bus, 0x20, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(v, 0xffff);
    assert_int_equal(bus.bad_size, 1);
    assert_int_equal(bus.unknown_reads, 0);
    assert_int_equal(iobus_access(&bus, 0x21, 1, false, &v, 0), DEV_IO_OK);
    assert_int_equal(v, 0x78);
}

static void test_find_returns_owner(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake a = {0}, b = {0};
    iobus_init(&bus);
    iobus_register(&bus, 0x40, 4, fake_io, &a, "pit");
    iobus_register(&bus, 0x61, 1, fake_io, &b, "port61");
    assert_ptr_equal(iobus_find(&bus, 0x43)->dev, &a);
    assert_ptr_equal(iobus_find(&bus, 0x61)->dev, &b);
    assert_null(iobus_find(&bus, 0x44));
    assert_null(iobus_find(&bus, 0x3f));
    assert_string_equal(iobus_find(&bus, 0x40)->name, "pit");
}

/* Ports below 0x400 are looked up in a table, the others by scanning the
 * ranges: a range across the boundary is found from both sides, the port
 * past a scanned range's end is not its own, and a range registered later
 * owns only its own ports. */
static void test_find_across_the_table_boundary(void **st)
{
    (void)st;
    struct iobus bus;
    struct fake a = {0}, b = {0}, c = {0};
    iobus_init(&bus);
    iobus_register(&bus, 0x3f8, 0x10, fake_io, &a, "wide");
    iobus_register(&bus, 0x20, 2, fake_io, &b, "pic");
    iobus_register(&bus, 0xcf8, 8, fake_io, &c, "pci");
    assert_ptr_equal(iobus_find(&bus, 0x3f8)->dev, &a);
    assert_ptr_equal(iobus_find(&bus, 0x3ff)->dev, &a);
    assert_ptr_equal(iobus_find(&bus, 0x400)->dev, &a);
    assert_ptr_equal(iobus_find(&bus, 0x407)->dev, &a);
    assert_null(iobus_find(&bus, 0x408));
    assert_null(iobus_find(&bus, 0x3f7));
    assert_ptr_equal(iobus_find(&bus, 0x21)->dev, &b);
    assert_null(iobus_find(&bus, 0x22));
    assert_null(iobus_find(&bus, 0));
    assert_ptr_equal(iobus_find(&bus, 0xcff)->dev, &c);
    assert_null(iobus_find(&bus, 0xd00));
    assert_null(iobus_find(&bus, 0xcf7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_rejects_overlap_and_bad_ranges),
        cmocka_unit_test(test_register_table_full),
        cmocka_unit_test(test_dispatch_passes_port_size_value_time),
        cmocka_unit_test(test_unknown_ports_read_all_ones_and_count),
        cmocka_unit_test(test_bad_sizes_never_reach_devices),
        cmocka_unit_test(test_device_refusing_size_reads_all_ones),
        cmocka_unit_test(test_find_returns_owner),
        cmocka_unit_test(test_find_across_the_table_boundary),
    };
    return cmocka_run_group_tests_name("iobus", tests, NULL, NULL);
}
