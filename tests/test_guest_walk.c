/* hv/guest_walk: the guest page-table walk behind string port I/O, on page
 * tables built by hand in a fake guest RAM (SDM Vol. 3 4.3-4.5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hv/guest_walk.h"

#define RAM (1u << 20)
static uint8_t ram[RAM];

static void *map(void *ctx, uint64_t gpa, unsigned len)
{
    (void)ctx;
    return gpa + len <= RAM ? ram + gpa : NULL;
}

static void put32(uint64_t gpa, uint32_t v)
{
    memcpy(ram + gpa, &v, 4);
}
static void put64(uint64_t gpa, uint64_t v)
{
    memcpy(ram + gpa, &v, 8);
}
static uint32_t get32(uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, ram + gpa, 4);
    return v;
}
static uint64_t get64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, ram + gpa, 8);
    return v;
}

#define P  1u
#define RW 2u
#define US 4u
#define A  0x20u
#define D  0x40u
#define PS 0x80u

#define CR0_PE   1ull
#define CR0_WP   (1ull << 16)
#define CR0_PG   (1ull << 31)
#define CR4_PSE  (1ull << 4)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)

static int reset(void **s)
{
    (void)s;
    memset(ram, 0, sizeof ram);
    return 0;
}

static enum gw_status walk(const struct gw_mode *m, uint64_t la, bool write, struct gw_result *r)
{
    return guest_walk(m, la, write, map, NULL, r);
}

static void test_no_paging(void **s)
{
    (void)s;
    struct gw_mode m = {.cr0 = CR0_PE};
    struct gw_result r;
    assert_int_equal(walk(&m, 0xb8123, true, &r), GW_OK);
    assert_true(r.gpa == 0xb8123);
    /* outside long mode linear addresses are 32 bits */
    assert_int_equal(walk(&m, 0x100001000ull, false, &r), GW_OK);
    assert_true(r.gpa == 0x1000);
}

static void test_32bit_4k_sets_accessed_and_dirty(void **s)
{
    (void)s;
    struct gw_mode m = {.cr0 = CR0_PE | CR0_PG, .cr3 = 0x1000};
    put32(0x1000 + 1 * 4, 0x2000 | P | RW | US);
    put32(0x2000 + 2 * 4, 0x5000 | P | RW | US);
    uint64_t la = (1u << 22) | (2u << 12) | 0x123;
    struct gw_result r;
    assert_int_equal(walk(&m, la, false, &r), GW_OK);
    assert_true(r.gpa == 0x5123);
    assert_int_equal(get32(0x1004) & (A | D), A);
    assert_int_equal(get32(0x2008) & (A | D), A); /* a read leaves D clear */
    assert_int_equal(walk(&m, la, true, &r), GW_OK);
    assert_int_equal(get32(0x2008) & (A | D), A | D);
    assert_int_equal(get32(0x1004) & D, 0); /* D only in the entry that maps */
}

static void test_32bit_4m_needs_pse(void **s)
{
    (void)s;
    struct gw_mode m = {.cr0 = CR0_PE | CR0_PG, .cr3 = 0x1000, .cr4 = CR4_PSE};
    /* 4 MiB page at 0x00c00000 with PA bits 39:32 = 0x01 in PDE bits 20:13 */
    put32(0x1000 + 3 * 4, 0x00c00000u | (1u << 13) | PS | P | RW);
    struct gw_result r;
    assert_int_equal(walk(&m, (3u << 22) | 0x12345, true, &r), GW_OK);
    assert_true(r.gpa == 0x100c12345ull);
    /* without CR4.PSE the PS bit is ignored: the entry points to a page
     * table at 0x00c02000, outside this guest's RAM */
    m.cr4 = 0;
    assert_int_equal(walk(&m, (3u << 22) | 0x12345, true, &r), GW_NOT_RAM);
    assert_true(r.bad_gpa == 0xc02000 + 0x12 * 4);
}

static void test_pae_4k_and_2m(void **s)
{
    (void)s;
    struct gw_mode m = {.cr0 = CR0_PE | CR0_PG, .cr3 = 0x3020, .cr4 = CR4_PAE};
    put64(0x3020 + 1 * 8, 0x4000 | P); /* PDPTE 1 */
    put64(0x4000 + 2 * 8, 0x6000 | P | RW | US);
    put64(0x6000 + 3 * 8, 0x7000 | P | RW | US);
    put64(0x4000 + 4 * 8, 0x200000 | PS | P | RW | US);
    struct gw_result r;
    assert_int_equal(walk(&m, (1u << 30) | (2u << 21) | (3u << 12) | 0x45, true, &r), GW_OK);
    assert_true(r.gpa == 0x7045);
    assert_int_equal(get64(0x6018) & (A | D), A | D);
    assert_int_equal(get64(0x3028) & A, 0); /* PDPTEs are not marked */
    assert_int_equal(walk(&m, (1u << 30) | (4u << 21) | 0x1234, false, &r), GW_OK);
    assert_true(r.gpa == 0x201234);
    /* PDPTE 0 not present */
    assert_int_equal(walk(&m, 0x1000, false, &r), GW_PAGE_FAULT);
    assert_int_equal(r.pf_err, 0);
}

static void test_4level_4k_2m_1g(void **s)
{
    (void)s;
    struct gw_mode m = {.cr0 = CR0_PE | CR0_PG, .cr3 = 0x8000, .cr4 = CR4_PAE, .efer = EFER_LMA};
    put64(0x8000 + 0x1ff * 8, 0x9000 | P | RW);
    put64(0x9000 + 0x1fe * 8, 0x0 | PS | P | RW); /* 1 GiB at 0 */
    put64(0x8000 + 1 * 8, 0xa000 | P | RW | US);
    put64(0xa000 + 0 * 8, 0xb000 | P | RW | US);
    put64(0xb000 + 0 * 8, 0xc000 | P | RW | US);
    put64(0xc000 + 5 * 8, 0xd000 | P | RW | US);
    put64(0xb000 + 1 * 8, 0x400000 | PS | P | RW | US); /* 2 MiB */
    struct gw_result r;
    assert_int_equal(walk(&m, 0xffffffff80001234ull, false, &r), GW_OK);
    assert_true(r.gpa == 0x1234);
    assert_int_equal(walk(&m, (1ull << 39) | (5u << 12) | 0x10, true, &r), GW_OK);
    assert_true(r.gpa == 0xd010);
    assert_int_equal(get64(0x8008) & A, A); /* every level on the path marked */
    assert_int_equal(get64(0xa000) & A, A);
    assert_int_equal(get64(0xb000) & A, A);
    assert_int_equal(get64(0xc028) & (A | D), A | D);
    assert_int_equal(walk(&m, (1ull << 39) | (1u << 21) | 0x777, false, &r), GW_OK);
    assert_true(r.gpa == 0x400777);
}

static void test_5level(void **s)
{
    (void)s;
    struct gw_mode m = {
        .cr0 = CR0_PE | CR0_PG, .cr3 = 0x10000, .cr4 = CR4_PAE | CR4_LA57, .efer = EFER_LMA};
    put64(0x10000 + 2 * 8, 0x11000 | P | RW);
    put64(0x11000, 0x12000 | P | RW);
    put64(0x12000, 0x13000 | P | RW);
    put64(0x13000, 0x14000 | P | RW);
    put64(0x14000 + 7 * 8, 0x15000 | P | RW);
    struct gw_result r;
    assert_int_equal(walk(&m, (2ull << 48) | (7u << 12) | 1, false, &r), GW_OK);
    assert_true(r.gpa == 0x15001);
}

static void test_faults_and_permissions(void **s)
{
    (void)s;
    struct gw_mode m = {.cr0 = CR0_PE | CR0_PG, .cr3 = 0x1000};
    put32(0x1000, 0x2000 | P | RW | US);
    put32(0x2000 + 1 * 4, 0x5000 | P);       /* supervisor, read-only */
    put32(0x2000 + 2 * 4, 0x6000 | P | US);  /* user, read-only */
    put32(0x2000 + 3 * 4, 0x7000 | RW | US); /* not present */
    struct gw_result r;
    /* not present: P clear, W/R and U/S as the access */
    m.cpl = 3;
    assert_int_equal(walk(&m, 0x3000, true, &r), GW_PAGE_FAULT);
    assert_int_equal(r.pf_err, GW_PF_WRITE | GW_PF_USER);
    /* user access to a supervisor page */
    assert_int_equal(walk(&m, 0x1000, false, &r), GW_PAGE_FAULT);
    assert_int_equal(r.pf_err, GW_PF_P | GW_PF_USER);
    /* user write to a read-only user page */
    assert_int_equal(walk(&m, 0x2000, true, &r), GW_PAGE_FAULT);
    assert_int_equal(r.pf_err, GW_PF_P | GW_PF_WRITE | GW_PF_USER);
    assert_int_equal(walk(&m, 0x2000, false, &r), GW_OK);
    /* the kernel writes read-only pages unless CR0.WP */
    m.cpl = 0;
    assert_int_equal(walk(&m, 0x1000, true, &r), GW_OK);
    m.cr0 |= CR0_WP;
    assert_int_equal(walk(&m, 0x1000, true, &r), GW_PAGE_FAULT);
    assert_int_equal(r.pf_err, GW_PF_P | GW_PF_WRITE);
    /* a fault sets no accessed bit on the failing entry */
    assert_int_equal(get32(0x200c) & A, 0);
    /* a page directory outside RAM */
    m.cr3 = 0x40000000;
    assert_int_equal(walk(&m, 0, false, &r), GW_NOT_RAM);
    assert_true(r.bad_gpa == 0x40000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_paging, reset),
        cmocka_unit_test_setup(test_32bit_4k_sets_accessed_and_dirty, reset),
        cmocka_unit_test_setup(test_32bit_4m_needs_pse, reset),
        cmocka_unit_test_setup(test_pae_4k_and_2m, reset),
        cmocka_unit_test_setup(test_4level_4k_2m_1g, reset),
        cmocka_unit_test_setup(test_5level, reset),
        cmocka_unit_test_setup(test_faults_and_permissions, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
