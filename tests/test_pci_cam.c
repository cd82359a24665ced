/* PCI mechanism #1, the 440FX host bridge and the 0xcf9 reset register,
 * driven with the accesses Linux 6.1 makes (arch/x86/pci/direct.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/pci_cam.h"
#include "hv/devs/vm_devices.h"

struct reqs {
    unsigned reset, other;
};

static void on_request(void *ctx, enum dev_request what)
{
    struct reqs *r = ctx;
    if (what == DEV_REQ_RESET)
        r->reset++;
    else
        r->other++;
}

struct fx {
    struct pci_cam p;
    struct reqs r;
};

static void fx_init(struct fx *f)
{
    memset(f, 0xa5, sizeof *f); /* init must not depend on prior contents */
    f->r = (struct reqs){0};
    const struct dev_request_sink req = {on_request, &f->r};
    pci_init(&f->p, &req);
}

static int out(struct fx *f, uint16_t port, unsigned size, uint32_t v)
{
    return pci_io(&f->p, port, size, true, &v, 0);
}

static uint32_t in(struct fx *f, uint16_t port, unsigned size)
{
    uint32_t v = 0x5a5a5a5a;
    assert_int_equal(pci_io(&f->p, port, size, false, &v, 0), DEV_IO_OK);
    return v & dev_size_mask(size);
}

static uint32_t conf1(unsigned bus, unsigned devfn, unsigned reg)
{
    return 0x80000000u | (bus << 16) | (devfn << 8) | (reg & 0xfc);
}

/* pci_conf1_read() of Linux: address to 0xcf8, then in{b,w,l}(0xcfc + (reg & 3)). */
static uint32_t linux_read(struct fx *f, unsigned bus, unsigned devfn, unsigned reg, unsigned len)
{
    out(f, 0xcf8, 4, conf1(bus, devfn, reg));
    return in(f, (uint16_t)(0xcfc + (reg & 3)), len);
}

static void test_linux_check_type1_sequence(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* pci_check_type1(): outb(0x01, 0xCFB); tmp = inl(0xCF8);
     * outl(0x80000000, 0xCF8); inl(0xCF8) == 0x80000000 && sanity check;
     * outl(tmp, 0xCF8). */
    assert_int_equal(out(&f, 0xcfb, 1, 0x01), DEV_IO_OK);
    uint32_t tmp = in(&f, 0xcf8, 4);
    assert_int_equal(tmp, 0);
    out(&f, 0xcf8, 4, 0x80000000u);
    assert_int_equal(in(&f, 0xcf8, 4), 0x80000000u);
    /* pci_sanity_check(): for each devfn, word read of PCI_CLASS_DEVICE (0x0a):
     * a host bridge (0x0600) or VGA makes it succeed. */
    int found = -1;
    for (unsigned devfn = 0; devfn < 0x100 && found < 0; devfn++) {
        uint32_t x = linux_read(&f, 0, devfn, 0x0a, 2);
        if (x == 0x0600 || x == 0x0300)
            found = (int)devfn;
    }
    assert_int_equal(found, 0);
    out(&f, 0xcf8, 4, tmp);
    assert_int_equal(in(&f, 0xcf8, 4), 0);
    assert_int_equal(f.r.reset, 0);
}

static void test_linux_check_type2_fails(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* pci_check_type2(): outb(0x00, 0xCFB); outb(0x00, 0xCF8);
     * outb(0x00, 0xCFA); requires inb(0xCF8) == 0 && inb(0xCFA) == 0. */
    out(&f, 0xcfb, 1, 0);
    out(&f, 0xcf8, 1, 0);
    out(&f, 0xcfa, 1, 0);
    assert_int_equal(in(&f, 0xcf8, 1), 0xff);
    assert_int_equal(in(&f, 0xcfa, 1), 0xff);
}

static void test_host_bridge_dwords(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    assert_int_equal(linux_read(&f, 0, 0, 0x00, 4), 0x12378086u);
    assert_int_equal(linux_read(&f, 0, 0, 0x04, 4), 0x02800006u);
    assert_int_equal(linux_read(&f, 0, 0, 0x08, 4), 0x06000002u);
    assert_int_equal(linux_read(&f, 0, 0, 0x0c, 4), 0x00000000u); /* header type 0 */
    for (unsigned reg = 0x10; reg < 0x100; reg += 4)
        assert_int_equal(linux_read(&f, 0, 0, reg, 4), 0);
}

static void test_host_bridge_bytes_and_words(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    static const uint8_t want[16] = {0x86, 0x80, 0x37, 0x12, 0x06, 0x00, 0x80, 0x02,
                                     0x02, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00};
    for (unsigned reg = 0; reg < 16; reg++)
        assert_int_equal(linux_read(&f, 0, 0, reg, 1), want[reg]);
    for (unsigned reg = 0; reg < 16; reg += 2)
        assert_int_equal(linux_read(&f, 0, 0, reg, 2), want[reg] | (want[reg + 1] << 8));
    /* pci_conf1_read() for a byte uses 0xcfc + (reg & 3): reg 0x0b is 0xcff. */
    out(&f, 0xcf8, 4, conf1(0, 0, 0x08));
    assert_int_equal(in(&f, 0xcff, 1), 0x06);
    assert_int_equal(in(&f, 0xcfe, 2), 0x0600);
    assert_int_equal(in(&f, 0xcfd, 1), 0x00);
}

static void test_absent_functions_all_ones(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    const unsigned cases[][2] = {{0, 1}, {0, 8}, {0, 0xff}, {1, 0}, {0xff, 0}};
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(linux_read(&f, cases[i][0], cases[i][1], 0, 4), 0xffffffffu);
        assert_int_equal(linux_read(&f, cases[i][0], cases[i][1], 0x0a, 2), 0xffff);
        assert_int_equal(linux_read(&f, cases[i][0], cases[i][1], 0x0e, 1), 0xff);
        out(&f, 0xcfc, 4, 0); /* ignored */
        assert_int_equal(linux_read(&f, cases[i][0], cases[i][1], 0, 4), 0xffffffffu);
    }
}

static void test_linux_bus0_scan_finds_only_host_bridge(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* pci_scan_slot(): vendor/device dword at devfn = slot*8, header type
     * bit 7 decides whether functions 1..7 are probed. */
    unsigned found = 0;
    for (unsigned slot = 0; slot < 32; slot++) {
        uint32_t id = linux_read(&f, 0, slot * 8, 0, 4);
        if (id == 0xffffffffu || id == 0)
            continue;
        found++;
        assert_int_equal(slot, 0);
        assert_int_equal(linux_read(&f, 0, slot * 8, 0x0e, 1) & 0x80, 0);
    }
    assert_int_equal(found, 1);
}

static void test_disabled_address_reads_all_ones(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    out(&f, 0xcf8, 4, 0x00000000u); /* 00:00.0 reg 0 but enable clear */
    assert_int_equal(in(&f, 0xcfc, 4), 0xffffffffu);
    assert_int_equal(in(&f, 0xcfc, 2), 0xffff);
    out(&f, 0xcf8, 4, 0x00000004u);
    out(&f, 0xcfc, 2, 0x0140); /* ignored: not a configuration cycle */
    out(&f, 0xcf8, 4, 0x80000004u);
    assert_int_equal(in(&f, 0xcfc, 2), 0x0006);
}

static void test_config_address_reserved_bits(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    out(&f, 0xcf8, 4, 0xffffffffu);
    assert_int_equal(in(&f, 0xcf8, 4), 0x80fffffcu);
    out(&f, 0xcf8, 4, 0x7f000003u);
    assert_int_equal(in(&f, 0xcf8, 4), 0);
    out(&f, 0xcf8, 4, 0x8001a2b4u);
    assert_int_equal(in(&f, 0xcf8, 4), 0x8001a2b4u);
}

static void test_non_dword_config_address_not_claimed(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    out(&f, 0xcf8, 4, 0x80000008u);
    assert_int_equal(in(&f, 0xcf8, 1), 0xff);
    assert_int_equal(in(&f, 0xcf8, 2), 0xffff);
    assert_int_equal(in(&f, 0xcfa, 2), 0xffff);
    assert_int_equal(in(&f, 0xcfb, 1), 0xff);
    out(&f, 0xcf8, 1, 0);
    out(&f, 0xcf8, 2, 0);
    out(&f, 0xcfa, 2, 0);
    out(&f, 0xcfb, 1, 0x01);
    assert_int_equal(in(&f, 0xcf8, 4), 0x80000008u);
    assert_int_equal(f.r.reset, 0);
}

static void test_command_status_masks(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    out(&f, 0xcf8, 4, conf1(0, 0, 0x04));
    out(&f, 0xcfc, 4, 0xffffffffu); /* command all ones, status all W1C */
    assert_int_equal(in(&f, 0xcfc, 4), 0x02800146u);
    out(&f, 0xcfc, 2, 0x0000);
    assert_int_equal(in(&f, 0xcfc, 2), 0x0006);
    out(&f, 0xcfd, 1, 0x01); /* SERR# enable via the high byte */
    assert_int_equal(in(&f, 0xcfc, 2), 0x0106);
    out(&f, 0xcfc, 1, 0x47); /* I/O enable etc. stay as hard-wired, PERR# set */
    assert_int_equal(in(&f, 0xcfc, 2), 0x0146);
    out(&f, 0xcfe, 2, 0xffff);
    assert_int_equal(in(&f, 0xcfe, 2), 0x0280);
}

static void test_read_only_registers(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    const unsigned regs[] = {0x00, 0x08, 0x0c, 0x10, 0x3c, 0x50, 0xfc};
    for (unsigned i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        uint32_t before = linux_read(&f, 0, 0, regs[i], 4);
        out(&f, 0xcf8, 4, conf1(0, 0, regs[i]));
        out(&f, 0xcfc, 4, 0xffffffffu);
        assert_int_equal(linux_read(&f, 0, 0, regs[i], 4), before);
    }
}

static void test_cf9_reset_linux_sequence(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* Linux BOOT_CF9_FORCE: cf9 = inb(0xcf9) & ~0x0e; outb(cf9|2, 0xcf9);
     * udelay(50); outb(cf9|0x0e, 0xcf9). Only the second write resets. */
    uint8_t cf9 = (uint8_t)(in(&f, 0xcf9, 1) & ~0x0eu);
    assert_int_equal(cf9, 0);
    out(&f, 0xcf9, 1, cf9 | 2u);
    assert_int_equal(f.r.reset, 0);
    assert_int_equal(in(&f, 0xcf9, 1), 0x02);
    out(&f, 0xcf9, 1, cf9 | 0x0eu);
    assert_int_equal(f.r.reset, 1);
    assert_int_equal(f.r.other, 0);
    assert_int_equal(in(&f, 0xcf9, 1), 0x06); /* bit 3 not implemented */
    pci_reset(&f.p);
    assert_int_equal(in(&f, 0xcf9, 1), 0);
    /* Warm variant (0x06) resets too. */
    out(&f, 0xcf9, 1, 0x06);
    assert_int_equal(f.r.reset, 2);
}

static void test_cf9_wide_access_badsize(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint32_t v = 0x0606;
    assert_int_equal(pci_io(&f.p, 0xcf9, 2, true, &v, 0), DEV_IO_BADSIZE);
    v = 0x06060606;
    assert_int_equal(pci_io(&f.p, 0xcf9, 4, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pci_io(&f.p, 0xcf9, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(f.r.reset, 0);
    assert_int_equal(in(&f, 0xcf9, 1), 0);
}

static void test_bad_sizes_and_crossing(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    out(&f, 0xcf8, 4, 0x80000000u);
    uint32_t v = 0;
    assert_int_equal(pci_io(&f.p, 0xcff, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pci_io(&f.p, 0xcfd, 4, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pci_io(&f.p, 0xcfc, 3, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pci_io(&f.p, 0xcf8, 0, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(pci_io(&f.p, 0xd00, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(in(&f, 0xcf8, 4), 0x80000000u);
}

static void test_cfg_read_helper(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    assert_int_equal(pci_cfg_read(&f.p, 0, 0, 0, 0, 4), 0x12378086u);
    assert_int_equal(pci_cfg_read(&f.p, 0, 0, 0, 0x0b, 1), 0x06);
    assert_int_equal(pci_cfg_read(&f.p, 0, 1, 0, 0, 4), 0xffffffffu);
    assert_int_equal(pci_cfg_read(&f.p, 0, 0, 0, 0xfe, 4), 0xffffffffu);
}

static void vm_request(void *ctx, enum dev_request what)
{
    struct reqs *r = ctx;
    on_request(r, what);
}

/* Through the per-VM device set and its I/O bus: the check sequence, bus
 * counters for refused sizes, 0xcf9 to the platform. */
static void test_wired_in_vm_devices(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct reqs r = {0};
    const struct vm_devices_hooks hooks = {.request = vm_request, .ctx = &r};
    vm_devices_init(&d, NULL, &hooks, 0);
    uint32_t v = 0x80000000u;
    assert_int_equal(vm_devices_io(&d, 0xcf8, 4, true, &v, 1), DEV_IO_OK);
    v = 0;
    vm_devices_io(&d, 0xcf8, 4, false, &v, 2);
    assert_int_equal(v, 0x80000000u);
    vm_devices_io(&d, 0xcfc, 4, false, &v, 3);
    assert_int_equal(v, 0x12378086u);
    v = 0;
    assert_int_equal(vm_devices_io(&d, 0xcf9, 2, false, &v, 4), DEV_IO_BADSIZE);
    assert_int_equal(v, 0xffff);
    assert_int_equal(d.bus.bad_size, 1);
    v = 0x06;
    vm_devices_io(&d, 0xcf9, 1, true, &v, 5);
    assert_int_equal(r.reset, 1);
    assert_true(d.requests & (1u << DEV_REQ_RESET));
}

static size_t save(const struct pci_cam *p, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    pci_save(p, &s);
    return s.err ? 0 : sv_len(&s);
}

static int restore(struct pci_cam *p, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return pci_restore(p, &s);
}

static void test_save_restore_identical(void **st)
{
    (void)st;
    struct fx a, b;
    fx_init(&a);
    fx_init(&b);
    out(&a, 0xcf8, 4, conf1(0, 0, 0x04));
    out(&a, 0xcfc, 2, 0x0100);
    out(&a, 0xcf9, 1, 0x02);
    out(&a, 0xcf8, 4, conf1(0, 0, 0x08));
    uint8_t buf[64], buf2[64];
    size_t n = save(&a.p, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(restore(&b.p, buf, n), 0);
    assert_memory_equal(a.p.hb_cfg, b.p.hb_cfg, 256);
    assert_int_equal(in(&b, 0xcf8, 4), conf1(0, 0, 0x08));
    assert_int_equal(in(&b, 0xcfc, 4), in(&a, 0xcfc, 4));
    assert_int_equal(in(&b, 0xcf9, 1), 0x02);
    assert_int_equal(linux_read(&b, 0, 0, 4, 2), 0x0106);
    /* Wiring untouched: b still reports to its own sink. */
    out(&b, 0xcf9, 1, 0x06);
    assert_int_equal(b.r.reset, 1);
    assert_int_equal(a.r.reset, 0);
    assert_int_equal(save(&b.p, buf2, sizeof buf2), n);
    out(&a, 0xcf9, 1, 0x06);
    linux_read(&a, 0, 0, 4, 2);
    save(&a.p, buf, sizeof buf);
    assert_memory_equal(buf, buf2, n);
}

static void test_restore_corrupt_rejected(void **st)
{
    (void)st;
    struct fx a, b;
    fx_init(&a);
    fx_init(&b);
    out(&b, 0xcf8, 4, 0x80000010u);
    uint8_t buf[64];
    size_t n = save(&a.p, buf, sizeof buf);
    /* payload: addr u32 @10, rcr u8 @14, command u16 @15 */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(restore(&b.p, buf, cut), -1);
    uint8_t bad[64];
    memcpy(bad, buf, n);
    bad[10] = 0x01; /* reserved address bit 0 */
    assert_int_equal(restore(&b.p, bad, n), -1);
    memcpy(bad, buf, n);
    bad[14] = 0x08; /* RCR bit 3 not implemented */
    assert_int_equal(restore(&b.p, bad, n), -1);
    memcpy(bad, buf, n);
    bad[15] = 0x07; /* I/O space enable is hard-wired 0 */
    assert_int_equal(restore(&b.p, bad, n), -1);
    memcpy(bad, buf, n);
    bad[4] = 2; /* newer version */
    assert_int_equal(restore(&b.p, bad, n), -1);
    assert_int_equal(in(&b, 0xcf8, 4), 0x80000010u);
    assert_int_equal(restore(&b.p, buf, n), 0);
    assert_int_equal(in(&b, 0xcf8, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_check_type1_sequence),
        cmocka_unit_test(test_linux_check_type2_fails),
        cmocka_unit_test(test_host_bridge_dwords),
        cmocka_unit_test(test_host_bridge_bytes_and_words),
        cmocka_unit_test(test_absent_functions_all_ones),
        cmocka_unit_test(test_linux_bus0_scan_finds_only_host_bridge),
        cmocka_unit_test(test_disabled_address_reads_all_ones),
        cmocka_unit_test(test_config_address_reserved_bits),
        cmocka_unit_test(test_non_dword_config_address_not_claimed),
        cmocka_unit_test(test_command_status_masks),
        cmocka_unit_test(test_read_only_registers),
        cmocka_unit_test(test_cf9_reset_linux_sequence),
        cmocka_unit_test(test_cf9_wide_access_badsize),
        cmocka_unit_test(test_bad_sizes_and_crossing),
        cmocka_unit_test(test_cfg_read_helper),
        cmocka_unit_test(test_wired_in_vm_devices),
        cmocka_unit_test(test_save_restore_identical),
        cmocka_unit_test(test_restore_corrupt_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
