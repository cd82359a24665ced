/* isa-debug-exit (QEMU semantics, iobase 0xf4, iosize 4): a write of V of
 * any width ends the run (one DEV_REQ_EXIT per write) with V kept for the
 * report; reads are not decoded; only guests configured for it have it on
 * the bus; its state saves and restores byte-exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/debugexit.h"
#include "hv/devs/vm_devices.h"

struct reqs {
    unsigned n;
    enum dev_request last;
};

static void on_req(void *ctx, enum dev_request what)
{
    struct reqs *r = ctx;
    r->n++;
    r->last = what;
}

static void test_write_requests_exit_with_value(void **st)
{
    (void)st;
    struct reqs r = {0};
    const struct dev_request_sink sink = {on_req, &r};
    struct debugexit d;
    memset(&d, 0x5a, sizeof d);
    debugexit_init(&d, &sink);
    assert_int_equal(d.writes, 0);
    assert_int_equal(d.size, 0);
    /* The common test-kernel exit: outl 0xf4 with 0x10 (QEMU status 33). */
    uint32_t v = 0x10;
    assert_int_equal(debugexit_io(&d, 0xf4, 4, true, &v, 0), DEV_IO_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.last, DEV_REQ_EXIT);
    assert_int_equal(d.value, 0x10);
    assert_int_equal(d.size, 4);
    assert_int_equal(debugexit_qemu_status(&d), 33);
    /* A byte write keeps only the byte; any port of the four decodes. */
    v = 0x1234;
    assert_int_equal(debugexit_io(&d, 0xf7, 1, true, &v, 0), DEV_IO_OK);
    assert_int_equal(d.value, 0x34);
    assert_int_equal(d.size, 1);
    assert_int_equal(debugexit_qemu_status(&d), 0x69);
    v = 0;
    debugexit_io(&d, 0xf5, 2, true, &v, 0);
    assert_int_equal(debugexit_qemu_status(&d), 1); /* QEMU never exits 0 */
    assert_int_equal(d.writes, 3);
    assert_int_equal(r.n, 3);
}

static void test_reads_and_other_ports_not_decoded(void **st)
{
    (void)st;
    struct reqs r = {0};
    const struct dev_request_sink sink = {on_req, &r};
    struct debugexit d;
    debugexit_init(&d, &sink);
    uint32_t v = 0;
    assert_int_equal(debugexit_io(&d, 0xf4, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(debugexit_io(&d, 0xf8, 1, true, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(debugexit_io(&d, 0xf3, 1, true, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(debugexit_io(&d, 0xf4, 3, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(r.n, 0);
    assert_int_equal(d.writes, 0);
}

struct plat {
    unsigned exits, others;
};

static void plat_req(void *ctx, enum dev_request what)
{
    struct plat *p = ctx;
    if (what == DEV_REQ_EXIT)
        p->exits++;
    else
        p->others++;
}

static void test_wired_only_when_configured(void **st)
{
    (void)st;
    static struct vm_devices a, b;
    struct plat pa = {0}, pb = {0};
    const struct vm_devices_hooks ha = {.request = plat_req, .ctx = &pa};
    const struct vm_devices_hooks hb = {.request = plat_req, .ctx = &pb};
    const struct vm_devices_config plain = {.rtc_epoch_sec = 1},
                                   mb = {.rtc_epoch_sec = 1, .debug_exit = true};
    vm_devices_init(&a, &plain, &ha, 0);
    vm_devices_init(&b, &mb, &hb, 0);
    uint32_t v = 3;
    vm_devices_io(&a, 0xf4, 1, true, &v, 100);
    assert_int_equal(pa.exits, 0);
    assert_int_equal(a.bus.unknown_writes, 1); /* a plain PC: nothing at 0xf4 */
    v = 3;
    vm_devices_io(&b, 0xf4, 1, true, &v, 100);
    assert_int_equal(pb.exits, 1);
    assert_int_equal(pb.others, 0);
    assert_int_equal(b.dbgexit.value, 3);
    assert_true(b.requests & (1u << DEV_REQ_EXIT));
    v = 0;
    vm_devices_io(&b, 0xf4, 1, false, &v, 200);
    assert_int_equal(v, 0xff); /* write-only: a read floats */
}

static void test_state_saved_and_restored(void **st)
{
    (void)st;
    static struct vm_devices a, b;
    const struct vm_devices_config mb = {.rtc_epoch_sec = 1, .debug_exit = true};
    vm_devices_init(&a, &mb, NULL, 0);
    vm_devices_init(&b, &mb, NULL, 0);
    uint32_t v = 0xbeef;
    vm_devices_io(&a, 0xf4, 2, true, &v, 10);
    static uint8_t blob[VM_DEVICES_SAVE_MAX], again[VM_DEVICES_SAVE_MAX];
    size_t n = vm_devices_save(&a, blob, sizeof blob);
    assert_true(n > 0);
    assert_int_equal(vm_devices_restore(&b, blob, n), 0);
    assert_int_equal(b.dbgexit.value, 0xbeef);
    assert_int_equal(b.dbgexit.size, 2);
    assert_int_equal(b.dbgexit.writes, 1);
    assert_int_equal(vm_devices_save(&b, again, sizeof again), n);
    assert_memory_equal(blob, again, n);
    /* A value wider than its access cannot happen: refused, b untouched. */
    a.dbgexit.value = 0x1beef;
    n = vm_devices_save(&a, blob, sizeof blob);
    assert_int_equal(vm_devices_restore(&b, blob, n), -1);
    assert_int_equal(b.dbgexit.value, 0xbeef);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_requests_exit_with_value),
        cmocka_unit_test(test_reads_and_other_ports_not_decoded),
        cmocka_unit_test(test_wired_only_when_configured),
        cmocka_unit_test(test_state_saved_and_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
