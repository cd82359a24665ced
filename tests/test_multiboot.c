/* hv/multiboot: the Multiboot loader (Multiboot Specification 0.6.96
 * 3.1-3.3 for v1, 2.0 3.1-3.6 for v2). Good ELF32 / ELF64 / a.out-kludge
 * kernels land where their headers say with the information structure a kernel
 * reads; malformed headers and ELF files are refused with a reason, and nothing
 * is ever written outside guest RAM (the RAM buffer is exactly ram_bytes long,
 * so ASan reports any stray write). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/multiboot.h"

#define RAM (8u << 20)
#define IMG 0x6000

static uint8_t *ram;
static uint8_t img[IMG];

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Multiboot header at off with flags (checksum made valid). */
static void mb_header(uint8_t *p, uint32_t flags)
{
    put32(p, 0x1badb002u);
    put32(p + 4, flags);
    put32(p + 8, (uint32_t) - (0x1badb002u + flags));
}

struct seg {
    uint64_t vaddr, paddr, filesz, memsz;
};

/* An ELF executable in img: header, program headers, the Multiboot header
 * at 0x100, segment bytes from 0x1000 (segment i's byte j = 0x40 + 16 i + j).
 */
static size_t mk_elf(int cls, unsigned machine, uint64_t entry, const struct seg *s, unsigned n)
{
    memset(img, 0, sizeof img);
    bool is64 = cls == 64;
    memcpy(img,
           "\x7f"
           "ELF",
           4);
    img[4] = is64 ? 2 : 1;
    img[5] = 1; /* little-endian */
    img[6] = 1;
    put16(img + 16, 2); /* ET_EXEC */
    put16(img + 18, machine);
    put32(img + 20, 1);
    unsigned eh = is64 ? 64 : 52, ph = is64 ? 56 : 32;
    if (is64) {
        put64(img + 24, entry);
        put64(img + 32, eh);
        put16(img + 52, (uint16_t)eh);
        put16(img + 54, (uint16_t)ph);
        put16(img + 56, (uint16_t)n);
    } else {
        put32(img + 24, (uint32_t)entry);
        put32(img + 28, eh);
        put16(img + 40, (uint16_t)eh);
        put16(img + 42, (uint16_t)ph);
        put16(img + 44, (uint16_t)n);
    }
    mb_header(img + 0x100, 0x3); /* page-aligned modules, memory info */
    uint64_t off = 0x1000;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = img + eh + i * ph;
        put32(p, 1); /* PT_LOAD */
        if (is64) {
            put64(p + 8, off);
            put64(p + 16, s[i].vaddr);
            put64(p + 24, s[i].paddr);
            put64(p + 32, s[i].filesz);
            put64(p + 40, s[i].memsz);
        } else {
            put32(p + 4, (uint32_t)off);
            put32(p + 8, (uint32_t)s[i].vaddr);
            put32(p + 12, (uint32_t)s[i].paddr);
            put32(p + 16, (uint32_t)s[i].filesz);
            put32(p + 20, (uint32_t)s[i].memsz);
        }
        for (uint64_t j = 0; j < s[i].filesz && off + j < IMG; j++)
            img[off + j] = (uint8_t)(0x40 + 16 * i + j);
        off += s[i].filesz;
    }
    return off < IMG ? off : IMG;
}

static const char *load(size_t size, const char *cmdline, const struct mbk_module *mods,
                        unsigned nmods, struct mbk_boot *b)
{
    memset(ram, 0xaa, RAM); /* so bss zeroing shows */
    const struct mbk_input in = {.image = img,
                                 .image_size = size,
                                 .cmdline = cmdline,
                                 .mods = mods,
                                 .nmods = nmods,
                                 .loader_name = NULL};
    return mbk_load(ram, RAM, &in, b);
}

static const char *gstr(uint32_t gpa)
{
    assert_true(gpa < RAM);
    return (const char *)ram + gpa;
}

static void test_elf32_kernel_modules_and_info(void **st)
{
    (void)st;
    const struct seg s[2] = {{0x100000, 0x100000, 0x300, 0x300},
                             {0x101000, 0x101000, 0x20, 0x2000}};
    size_t n = mk_elf(32, 3, 0x100010, s, 2);
    static uint8_t mod0[5000], mod1[3];
    for (size_t i = 0; i < sizeof mod0; i++)
        mod0[i] = (uint8_t)(i * 7);
    memcpy(mod1, "abc", 3);
    const struct mbk_module mods[2] = {{mod0, sizeof mod0, "/boot/mod0 x=1"},
                                       {mod1, sizeof mod1, "second"}};
    struct mbk_boot b;
    const char *why = load(n, "/boot/k.elf hello=world", mods, 2, &b);
    assert_null(why);
    assert_true(b.elf);
    assert_int_equal(b.elf_class, 32);
    assert_int_equal(b.entry, 0x100010);
    assert_int_equal(b.kernel_lo, 0x100000);
    assert_int_equal(b.kernel_hi, 0x103000);
    /* Segment bytes at p_paddr, the bss after them zeroed. */
    for (unsigned j = 0; j < 0x300; j++)
        assert_int_equal(ram[0x100000 + j], (uint8_t)(0x40 + j));
    for (unsigned j = 0; j < 0x20; j++)
        assert_int_equal(ram[0x101000 + j], (uint8_t)(0x50 + j));
    for (unsigned j = 0x20; j < 0x2000; j++)
        assert_int_equal(ram[0x101000 + j], 0);
    assert_int_equal(ram[0x100300], 0xaa); /* between segments: untouched */

    /* The information structure (spec 3.3), after the kernel. */
    assert_true(b.mbi >= b.kernel_hi);
    assert_int_equal(b.mbi % 4096, 0);
    const uint8_t *m = ram + b.mbi;
    assert_int_equal(get32(m), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    assert_int_equal(get32(m + 4), 639);
    assert_int_equal(get32(m + 8), (RAM - 0x100000) / 1024);
    assert_string_equal(gstr(get32(m + 16)), "/boot/k.elf hello=world");
    assert_string_equal(gstr(get32(m + 64)), "hvrr");
    assert_int_equal(get32(m + 20), 2);
    const uint8_t *md = ram + get32(m + 24);
    uint32_t s0 = get32(md), e0 = get32(md + 4), s1 = get32(md + 16), e1 = get32(md + 20);
    assert_int_equal(s0 % 4096, 0); /* header flag 0: page-aligned */
    assert_int_equal(s1 % 4096, 0);
    assert_int_equal(e0 - s0, sizeof mod0);
    assert_int_equal(e1 - s1, 3);
    assert_true(s0 >= b.info_end && s1 >= e0 && e1 <= RAM);
    assert_memory_equal(ram + s0, mod0, sizeof mod0);
    assert_memory_equal(ram + s1, "abc", 3);
    assert_string_equal(gstr(get32(md + 8)), "/boot/mod0 x=1");
    assert_string_equal(gstr(get32(md + 24)), "second");
    assert_int_equal(get32(md + 12), 0);
    assert_int_equal(b.mods_lo, s0);
    assert_int_equal(b.mods_hi, 0x1000 + s1);
    /* Memory map: 3 entries of 24 bytes (size field 20 excludes itself). */
    assert_int_equal(get32(m + 44), 72);
    const uint8_t *mm = ram + get32(m + 48);
    const uint64_t want[3][3] = {
        {0, 0x9fc00, 1}, {0x9fc00, 0x60400, 2}, {0x100000, RAM - 0x100000, 1}};
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(get32(mm + 24 * i), 20);
        assert_int_equal(get64(mm + 24 * i + 4), want[i][0]);
        assert_int_equal(get64(mm + 24 * i + 12), want[i][1]);
        assert_int_equal(get32(mm + 24 * i + 20), want[i][2]);
    }
    /* Nothing of the information, strings or modules overlaps the kernel. */
    assert_true(get32(m + 16) >= b.kernel_hi && get32(m + 48) >= b.kernel_hi);
}

static void test_no_modules_and_low_kernel(void **st)
{
    (void)st;
    /* A kernel below 1 MiB: the information still goes to 1 MiB, where the
     * memory map says RAM is (not into the reserved 0x9fc00-0xfffff). */
    const struct seg s[1] = {{0x10000, 0x10000, 0x100, 0x100}};
    size_t n = mk_elf(32, 3, 0x10000, s, 1);
    struct mbk_boot b;
    assert_null(load(n, NULL, NULL, 0, &b));
    assert_int_equal(b.mbi, 0x100000);
    assert_int_equal(get32(ram + b.mbi + 20), 0);
    assert_string_equal(gstr(get32(ram + b.mbi + 16)), "");
    assert_int_equal(b.mods_lo, b.mods_hi);
}

static void test_entry_translated_from_virtual(void **st)
{
    (void)st;
    /* Higher-half link: entry is a virtual address inside the segment. */
    const struct seg s[1] = {{0xc0100000u, 0x100000, 0x80, 0x80}};
    size_t n = mk_elf(32, 3, 0xc0100020u, s, 1);
    struct mbk_boot b;
    assert_null(load(n, "", NULL, 0, &b));
    assert_int_equal(b.entry, 0x100020);
}

static void test_elf64_below_4g(void **st)
{
    (void)st;
    const struct seg s[1] = {{0x200000, 0x200000, 0x40, 0x1000}};
    size_t n = mk_elf(64, 62, 0x200004, s, 1);
    struct mbk_boot b;
    assert_null(load(n, "k", NULL, 0, &b));
    assert_int_equal(b.elf_class, 64);
    assert_int_equal(b.entry, 0x200004);
    assert_int_equal(ram[0x200000], 0x40);
    assert_int_equal(ram[0x200fff], 0);
}

/* A flat image with the header at 0x40 and the a.out kludge (flag 16). */
static size_t mk_aout(uint32_t header_addr, uint32_t load_addr, uint32_t load_end, uint32_t bss_end,
                      uint32_t entry, size_t size)
{
    memset(img, 0, sizeof img);
    for (size_t i = 0; i < size; i++)
        img[i] = (uint8_t)(i ^ 0x5a);
    mb_header(img + 0x40, 0x10003);
    put32(img + 0x4c, header_addr);
    put32(img + 0x50, load_addr);
    put32(img + 0x54, load_end);
    put32(img + 0x58, bss_end);
    put32(img + 0x5c, entry);
    return size;
}

static void test_aout_kludge(void **st)
{
    (void)st;
    /* Whole file (load_end 0) at 0x100000, then 4 KiB of bss. */
    size_t n = mk_aout(0x100040, 0x100000, 0, 0x100000 + 0x800 + 0x1000, 0x100060, 0x800);
    struct mbk_boot b;
    assert_null(load(n, "x", NULL, 0, &b));
    assert_false(b.elf);
    assert_int_equal(b.entry, 0x100060);
    assert_memory_equal(ram + 0x100000, img, 0x40); /* bytes before the header too */
    assert_int_equal(ram[0x100100], (uint8_t)(0x100 ^ 0x5a));
    assert_int_equal(get32(ram + 0x100040), 0x1badb002u);
    assert_int_equal(ram[0x100800], 0);
    assert_int_equal(ram[0x1017ff], 0);
    assert_int_equal(b.kernel_hi, 0x101800);
    /* The header 0x20 bytes into the loaded part: load starts at file 0x20. */
    n = mk_aout(0x200020, 0x200000, 0x200100, 0, 0x200000, 0x800);
    assert_null(load(n, "x", NULL, 0, &b));
    assert_int_equal(ram[0x200000], 0x20 ^ 0x5a);
    assert_int_equal(ram[0x2000ff], (uint8_t)(0x11f ^ 0x5a));
    assert_int_equal(ram[0x200100], 0xaa); /* past load_end: not written */
    /* An a.out-kludge kernel may be an ELF64 file: QEMU loads those too. */
    const struct seg s[1] = {{0x300000, 0x300000, 0x40, 0x40}};
    n = mk_elf(64, 62, 0x300000, s, 1);
    mb_header(img + 0x100, 0x10002);
    put32(img + 0x10c, 0x300100);
    put32(img + 0x110, 0x300000);
    put32(img + 0x114, 0);
    put32(img + 0x118, 0);
    put32(img + 0x11c, 0x300100);
    assert_null(load(n, "x", NULL, 0, &b));
    assert_false(b.elf);
    assert_memory_equal(ram + 0x300000, img, n);
}

/* Expects a refusal naming `what`. */
static void refused(size_t n, const char *what)
{
    struct mbk_boot b;
    const char *why = load(n, "c", NULL, 0, &b);
    if (!why || !strstr(why, what))
        fail_msg("expected a refusal about '%s', got '%s'", what, why ? why : "(loaded)");
}

static void test_bad_headers_refused(void **st)
{
    (void)st;
    const struct seg s[1] = {{0x100000, 0x100000, 0x100, 0x100}};
    size_t n = mk_elf(32, 3, 0x100000, s, 1);
    put32(img + 0x108, get32(img + 0x108) + 1); /* checksum off by one */
    refused(n, "no Multiboot header");
    n = mk_elf(32, 3, 0x100000, s, 1);
    memset(img + 0x100, 0, 12);
    mb_header(img + 0x2000, 3); /* past the first 8 KiB */
    refused(n, "no Multiboot header");
    n = mk_elf(32, 3, 0x100000, s, 1);
    mb_header(img + 0x100, 3 | (1u << 3)); /* a required bit we do not know */
    refused(n, "required flag");
    n = mk_elf(32, 3, 0x100000, s, 1);
    refused(0x108, "no Multiboot header"); /* image cut inside the header */
    /* Video mode (flag 2) is accepted without video information, as QEMU. */
    n = mk_elf(32, 3, 0x100000, s, 1);
    mb_header(img + 0x100, 7);
    struct mbk_boot b;
    assert_null(load(n, "", NULL, 0, &b));
}

static void test_bad_aout_refused(void **st)
{
    (void)st;
    refused(mk_aout(0x100040, 0x100080, 0, 0, 0x100080, 0x800), "load_addr above header_addr");
    refused(mk_aout(0x100040, 0x0ff000, 0, 0, 0x100000, 0x800), "before the start");
    refused(mk_aout(0x100040, 0x100000, 0x0fffff, 0, 0x100000, 0x800), "load_end_addr below");
    refused(mk_aout(0x100040, 0x100000, 0x100900, 0, 0x100000, 0x800), "past the end");
    refused(mk_aout(0x100040, 0x100000, 0x100400, 0x100200, 0x100000, 0x800), "bss_end_addr");
    refused(mk_aout(0x100040, 0x100000, 0, 0, 0x200000, 0x800), "entry point outside");
    /* Guest RAM ends at 8 MiB: a load, or a bss, past it is refused. */
    refused(mk_aout(0x7fff40, 0x7fff00, 0, 0, 0x7fff00, 0x800), "outside guest RAM");
    refused(mk_aout(0x100040, 0x100000, 0, 0x900000, 0x100000, 0x800), "outside guest RAM");
    /* bss up to 4 GiB: no 32-bit wrap-around. */
    refused(mk_aout(0x100040, 0x100000, 0, 0xffffffffu, 0x100000, 0x800), "outside guest RAM");
    /* Header address fields cut off by the end of the file. */
    refused(mk_aout(0x100040, 0x100000, 0, 0, 0x100000, 0x50), "past the end of the image");
}

static void test_bad_elf_refused(void **st)
{
    (void)st;
    const struct seg ok[1] = {{0x100000, 0x100000, 0x100, 0x100}};
    size_t n = mk_elf(32, 3, 0x100000, ok, 1);
    img[0] = 0;
    refused(n, "not an ELF image");
    refused(mk_elf(32, 62, 0x100000, ok, 1), "not i386");
    refused(mk_elf(64, 3, 0x100000, ok, 1), "not x86-64");
    n = mk_elf(32, 3, 0x100000, ok, 1);
    img[5] = 2;
    refused(n, "little-endian");
    n = mk_elf(32, 3, 0x100000, ok, 1);
    img[4] = 3;
    refused(n, "class");
    n = mk_elf(32, 3, 0x100000, ok, 1);
    put16(img + 16, 3); /* ET_DYN */
    refused(n, "ET_EXEC");
    n = mk_elf(32, 3, 0x100000, ok, 1);
    put32(img + 28, 0x7ffffff0u); /* e_phoff far away */
    refused(n, "program headers past the end");
    n = mk_elf(32, 3, 0x100000, ok, 1);
    put16(img + 44, 0);
    refused(n, "no program headers");
    n = mk_elf(32, 3, 0x100000, ok, 1);
    put16(img + 42, 16);
    refused(n, "too small");
    mk_elf(32, 3, 0x100000, ok, 1);
    refused(0x1080, "file bytes past the end"); /* segment data cut */
    n = mk_elf(32, 3, 0x100000, ok, 1);
    put32(img + 52 + 4, 0xfffffff0u); /* p_offset */
    refused(n, "file bytes past the end");
    const struct seg fm[1] = {{0x100000, 0x100000, 0x200, 0x100}};
    refused(mk_elf(32, 3, 0x100000, fm, 1), "file size larger");
    const struct seg big[1] = {{0x7ff000, 0x7ff000, 0x100, 0x2000}};
    refused(mk_elf(32, 3, 0x7ff000, big, 1), "outside guest RAM");
    const struct seg wrap[1] = {{0xfffff000u, 0xfffff000u, 0x100, 0x2000}};
    refused(mk_elf(32, 3, 0xfffff000u, wrap, 1), "above 4 GiB");
    const struct seg hi[1] = {{0x100000000ull, 0x100000000ull, 0x10, 0x10}};
    refused(mk_elf(64, 62, 0x100000000ull, hi, 1), "above 4 GiB");
    const struct seg empty[1] = {{0x100000, 0x100000, 0, 0}};
    refused(mk_elf(32, 3, 0x100000, empty, 1), "no loadable segment");
    refused(mk_elf(32, 3, 0x300000, ok, 1), "entry point outside");
}

/* ---- Multiboot 2 ---- */

/* A v2 header at img + 0x100 (replacing mk_elf's v1 header): the tags are
 * given as u32 words (each tag already 8-aligned), an end tag is added. */
static void mb2_header(const uint32_t *tags, unsigned nwords, uint32_t arch)
{
    uint8_t *h = img + 0x100;
    memset(h, 0, 12); /* the v1 header goes */
    uint32_t len = 16 + 4 * nwords + 8;
    put32(h, 0xe85250d6u);
    put32(h + 4, arch);
    put32(h + 8, len);
    put32(h + 12, (uint32_t) - (0xe85250d6u + arch + len));
    for (unsigned i = 0; i < nwords; i++)
        put32(h + 16 + 4 * i, tags[i]);
    put32(h + 16 + 4 * nwords, 0); /* end tag: type 0, flags 0 */
    put32(h + 20 + 4 * nwords, 8);
}

#define TAG(type, flags) ((uint32_t)(type) | (uint32_t)(flags) << 16)

/* The v2 information: a tag of `type` (the first one after `after`), or NULL.
 */
static const uint8_t *mb2_tag(uint32_t mbi, uint32_t type, const uint8_t *after)
{
    const uint8_t *m = ram + mbi, *end = m + get32(m);
    const uint8_t *t = after ? after + ((get32(after + 4) + 7) & ~7u) : m + 8;
    for (; t + 8 <= end; t += (get32(t + 4) + 7) & ~7u) {
        assert_int_equal((uintptr_t)(t - ram) % 8, 0);
        if (get32(t) == type)
            return t;
        if (get32(t) == 0)
            break;
    }
    return NULL;
}

static void test_v2_elf_kernel_modules_and_info(void **st)
{
    (void)st;
    const struct seg s[1] = {{0x100000, 0x100000, 0x200, 0x1000}};
    size_t n = mk_elf(32, 3, 0x100010, s, 1);
    /* information request: cmdline, loader, modules, basic memory, mmap;
     * module alignment; relocatable (loaded where linked). */
    const uint32_t tags[] = {TAG(1, 0), 28, 1,          2,  3, 4, 6, 0,
                             TAG(6, 0), 8,  TAG(10, 0), 24, 0, 0, 0, 0};
    mb2_header(tags, sizeof tags / 4, 0);
    static uint8_t mod0[3000];
    for (size_t i = 0; i < sizeof mod0; i++)
        mod0[i] = (uint8_t)(i * 5);
    const struct mbk_module mods[2] = {{mod0, sizeof mod0, "first mod"}, {"xy", 2, ""}};
    struct mbk_boot b;
    assert_null(load(n, "/k2 a=b", mods, 2, &b));
    assert_int_equal(b.version, 2);
    assert_int_equal(b.magic, 0x36d76289u);
    assert_int_equal(b.entry, 0x100010);
    assert_int_equal(b.mbi % 4096, 0);
    assert_true(b.mbi >= b.kernel_hi);
    assert_int_equal(get32(ram + b.mbi + 4), 0); /* reserved */
    const uint8_t *t = mb2_tag(b.mbi, 1, NULL);
    assert_non_null(t);
    assert_string_equal((const char *)t + 8, "/k2 a=b");
    assert_int_equal(get32(t + 4), 8 + 8);
    t = mb2_tag(b.mbi, 2, NULL);
    assert_non_null(t);
    assert_string_equal((const char *)t + 8, "hvrr");
    const uint8_t *m0 = mb2_tag(b.mbi, 3, NULL), *m1 = m0 ? mb2_tag(b.mbi, 3, m0) : NULL;
    assert_non_null(m0);
    assert_non_null(m1);
    assert_null(mb2_tag(b.mbi, 3, m1));
    uint32_t s0 = get32(m0 + 8), s1 = get32(m1 + 8);
    assert_int_equal(s0 % 4096, 0);
    assert_int_equal(s1 % 4096, 0);
    assert_int_equal(get32(m0 + 12) - s0, sizeof mod0);
    assert_int_equal(get32(m1 + 12) - s1, 2);
    assert_true(s0 >= b.info_end && s1 >= s0 + sizeof mod0);
    assert_memory_equal(ram + s0, mod0, sizeof mod0);
    assert_memory_equal(ram + s1, "xy", 2);
    assert_string_equal((const char *)m0 + 16, "first mod");
    assert_string_equal((const char *)m1 + 16, "");
    t = mb2_tag(b.mbi, 4, NULL);
    assert_non_null(t);
    assert_int_equal(get32(t + 4), 16);
    assert_int_equal(get32(t + 8), 639);
    assert_int_equal(get32(t + 12), (RAM - 0x100000) / 1024);
    t = mb2_tag(b.mbi, 6, NULL);
    assert_non_null(t);
    assert_int_equal(get32(t + 4), 16 + 3 * 24);
    assert_int_equal(get32(t + 8), 24);
    assert_int_equal(get32(t + 12), 0);
    const uint64_t want[3][3] = {
        {0, 0x9fc00, 1}, {0x9fc00, 0x60400, 2}, {0x100000, RAM - 0x100000, 1}};
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(get64(t + 16 + 24 * i), want[i][0]);
        assert_int_equal(get64(t + 24 + 24 * i), want[i][1]);
        assert_int_equal(get32(t + 32 + 24 * i), want[i][2]);
    }
    /* The end tag closes total_size exactly. */
    t = mb2_tag(b.mbi, 0, NULL);
    assert_non_null(t);
    assert_int_equal(get32(t + 4), 8);
    assert_int_equal(t + 8 - (ram + b.mbi), get32(ram + b.mbi));
    assert_true(b.mbi + get32(ram + b.mbi) <= b.info_end);
}

static void test_v2_address_and_entry_tags(void **st)
{
    (void)st;
    /* Flat image: the header at 0x100; address tag with load_addr -1 (from
     * the file's start), the whole file, 0x1000 of bss. */
    const struct seg s[1] = {{0x100000, 0x100000, 0x10, 0x10}};
    size_t n = mk_elf(32, 3, 0x100000, s, 1); /* just a buffer with room */
    memset(img, 0x33, 0x100);
    const uint32_t tags[] = {
        TAG(2, 0), 24,       0x200100, 0xffffffffu, 0, 0x200000 + (uint32_t)n + 0x1000, TAG(3, 0),
        12,        0x200040, 0};
    mb2_header(tags, sizeof tags / 4, 0);
    struct mbk_boot b;
    assert_null(load(n, "", NULL, 0, &b));
    assert_false(b.elf);
    assert_int_equal(b.version, 2);
    assert_int_equal(b.entry, 0x200040);
    assert_memory_equal(ram + 0x200000, img, n);
    assert_int_equal(ram[0x200000 + n + 0xfff], 0);
    assert_int_equal(b.kernel_hi, 0x200000 + n + 0x1000);
    /* With ELF loading, the entry address tag overrides e_entry. */
    n = mk_elf(32, 3, 0x100000, s, 1);
    const uint32_t entry_tag[] = {TAG(3, 0), 12, 0x100008, 0};
    mb2_header(entry_tag, 4, 0);
    assert_null(load(n, "", NULL, 0, &b));
    assert_true(b.elf);
    assert_int_equal(b.entry, 0x100008);
    /* A v1 header wins when both are there (QEMU and GRUB's multiboot). */
    n = mk_elf(32, 3, 0x100000, s, 1);
    const uint32_t none[] = {0};
    uint8_t v1[12];
    memcpy(v1, img + 0x100, 12);
    mb2_header(none, 0, 0);
    memmove(img + 0x200, img + 0x100, 24);
    memcpy(img + 0x100, v1, 12);
    assert_null(load(n, "", NULL, 0, &b));
    assert_int_equal(b.version, 1);
    assert_int_equal(b.magic, 0x2badb002u);
}

/* v2 header with `tags`; expects a refusal naming `what` (NULL: loads). */
static void v2_case(const uint32_t *tags, unsigned nwords, uint32_t arch, const char *what)
{
    const struct seg s[1] = {{0x100000, 0x100000, 0x100, 0x100}};
    size_t n = mk_elf(32, 3, 0x100000, s, 1);
    mb2_header(tags, nwords, arch);
    struct mbk_boot b;
    const char *why = load(n, "c", NULL, 0, &b);
    if (!what) {
        if (why)
            fail_msg("expected the v2 kernel to load, got '%s'", why);
        return;
    }
    if (!why || !strstr(why, what))
        fail_msg("expected a refusal about '%s', got '%s'", what, why ? why : "(loaded)");
}

static void test_v2_bad_headers_refused(void **st)
{
    (void)st;
    const uint32_t none[] = {0};
    v2_case(none, 0, 0, NULL);
    v2_case(none, 0, 4, "architecture"); /* MIPS */
    const uint32_t fb[] = {TAG(5, 0), 20, 1024, 768, 32, 0};
    v2_case(fb, 6, 0, "framebuffer");
    const uint32_t fb_opt[] = {TAG(5, 1), 20, 1024, 768, 32, 0};
    v2_case(fb_opt, 6, 0, NULL);
    const uint32_t req_fb[] = {TAG(1, 0), 16, 1, 8};
    v2_case(req_fb, 4, 0, "requests information");
    const uint32_t req_fb_opt[] = {TAG(1, 1), 16, 1, 8};
    v2_case(req_fb_opt, 4, 0, NULL);
    const uint32_t console[] = {TAG(4, 0), 12, 3, 0};
    v2_case(console, 4, 0, "text console");
    const uint32_t console_ok[] = {TAG(4, 0), 12, 2, 0}; /* EGA supported, not required */
    v2_case(console_ok, 4, 0, NULL);
    const uint32_t efi[] = {TAG(7, 0), 8};
    v2_case(efi, 2, 0, "EFI or unknown");
    const uint32_t unknown_opt[] = {TAG(42, 1), 8};
    v2_case(unknown_opt, 2, 0, NULL);
    const uint32_t addr_only[] = {TAG(2, 0), 24, 0x100100, 0x100000, 0, 0};
    v2_case(addr_only, 6, 0, "without an entry");
    const uint32_t short_addr[] = {TAG(2, 0), 16, 0x100100, 0x100000};
    v2_case(short_addr, 4, 0, "address tag too short");
    const uint32_t long_tag[] = {TAG(6, 0), 0x1000};
    v2_case(long_tag, 2, 0, "runs past header_length");
    const uint32_t tiny_tag[] = {TAG(6, 0), 4};
    v2_case(tiny_tag, 2, 0, "runs past header_length");
    const uint32_t entry_out[] = {TAG(3, 0), 12, 0x300000, 0};
    v2_case(entry_out, 4, 0, "entry point outside");
    /* No end tag inside header_length. */
    const struct seg s[1] = {{0x100000, 0x100000, 0x100, 0x100}};
    size_t n = mk_elf(32, 3, 0x100000, s, 1);
    mb2_header(none, 0, 0);
    put32(img + 0x110, TAG(6, 0)); /* the end tag becomes a module-alignment tag */
    refused(n, "no end tag");
    /* header_length past the end of the image (checksum kept valid). */
    n = mk_elf(32, 3, 0x100000, s, 1);
    mb2_header(none, 0, 0);
    put32(img + 0x108, 0x10000);
    put32(img + 0x10c, (uint32_t) - (0xe85250d6u + 0x10000));
    refused(n, "header_length");
    /* Checksum off by one: no header at all. */
    n = mk_elf(32, 3, 0x100000, s, 1);
    mb2_header(none, 0, 0);
    put32(img + 0x10c, get32(img + 0x10c) + 1);
    refused(n, "no Multiboot header");
}

static void test_modules_refused_when_they_do_not_fit(void **st)
{
    (void)st;
    const struct seg s[1] = {{0x100000, 0x100000, 0x100, 0x100}};
    size_t n = mk_elf(32, 3, 0x100000, s, 1);
    struct mbk_boot b;
    static uint8_t small[16];
    const struct mbk_module huge = {small, RAM, "too big"}; /* size claims all of RAM */
    const char *why = load(n, "", &huge, 1, &b);
    assert_non_null(why);
    assert_non_null(strstr(why, "modules do not fit"));
    const struct mbk_module wrap = {small, UINT64_MAX - 100, "wraps"};
    assert_non_null(load(n, "", &wrap, 1, &b));
    struct mbk_module many[MBK_MAX_MODS + 1];
    for (unsigned i = 0; i <= MBK_MAX_MODS; i++)
        many[i] = (struct mbk_module){small, sizeof small, "m"};
    assert_non_null(load(n, "", many, MBK_MAX_MODS + 1, &b));
    assert_null(load(n, "", many, MBK_MAX_MODS, &b));
}

/* Random damage to good images: loaded or refused, never a stray write
 * (ASan) or a result pointing outside RAM. */
static void test_damaged_images_never_escape(void **st)
{
    (void)st;
    uint32_t x = 12345;
    const struct seg s[2] = {{0x100000, 0x100000, 0x300, 0x300},
                             {0x101000, 0x101000, 0x20, 0x2000}};
    static uint8_t mod[100];
    const struct mbk_module mods[1] = {{mod, sizeof mod, "m"}};
    unsigned loaded = 0, refusedn = 0;
    for (unsigned it = 0; it < 1500; it++) {
        size_t n = it & 1 ? mk_elf(32, 3, 0x100010, s, 2)
                          : mk_aout(0x100040, 0x100000, 0, 0x102000, 0x100060, 0x800);
        if (it % 3 == 2)
            n = mk_elf(64, 62, 0x100010, s, 2);
        if (it % 7 == 3) {
            n = mk_elf(32, 3, 0x100010, s, 2);
            const uint32_t tags[] = {TAG(1, 0), 16, 3, 6, TAG(3, 0), 12, 0x100010, 0};
            mb2_header(tags, sizeof tags / 4, 0);
        }
        for (unsigned k = 0; k < 1 + it % 4; k++) {
            x = x * 1103515245u + 12345u;
            unsigned at = (x >> 8) % 0x140;
            if (it % 5 == 0)
                at += 0x100 - 0x40; /* near the Multiboot header */
            x = x * 1103515245u + 12345u;
            img[at] ^= (uint8_t)(1u << ((x >> 16) & 7));
        }
        /* Keep the checksum valid half of the time so the loader goes deeper. */
        if (it & 2) {
            for (unsigned h = 0x40; h <= 0x100; h += 0xc0) {
                if (get32(img + h) == 0x1badb002u)
                    put32(img + h + 8, (uint32_t) - (0x1badb002u + get32(img + h + 4)));
                if (get32(img + h) == 0xe85250d6u)
                    put32(img + h + 12,
                          (uint32_t) - (0xe85250d6u + get32(img + h + 4) + get32(img + h + 8)));
            }
        }
        struct mbk_boot b;
        const char *why = load(n, "c", mods, 1, &b);
        if (why) {
            refusedn++;
            continue;
        }
        loaded++;
        assert_true(b.entry >= b.kernel_lo && b.entry < b.kernel_hi);
        assert_true(b.kernel_hi <= RAM && b.mbi + MB1_INFO_SIZE <= RAM && b.mods_hi <= RAM);
    }
    assert_true(loaded > 100 && refusedn > 100);
}

int main(void)
{
    ram = malloc(RAM);
    assert_non_null(ram);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf32_kernel_modules_and_info),
        cmocka_unit_test(test_no_modules_and_low_kernel),
        cmocka_unit_test(test_entry_translated_from_virtual),
        cmocka_unit_test(test_elf64_below_4g),
        cmocka_unit_test(test_aout_kludge),
        cmocka_unit_test(test_bad_headers_refused),
        cmocka_unit_test(test_bad_aout_refused),
        cmocka_unit_test(test_bad_elf_refused),
        cmocka_unit_test(test_v2_elf_kernel_modules_and_info),
        cmocka_unit_test(test_v2_address_and_entry_tags),
        cmocka_unit_test(test_v2_bad_headers_refused),
        cmocka_unit_test(test_modules_refused_when_they_do_not_fit),
        cmocka_unit_test(test_damaged_images_never_escape),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(ram);
    return rc;
}
