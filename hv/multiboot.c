/* Multiboot v1 and v2 loader (multiboot.h). Every number taken from the image
 * is checked against the image size and guest RAM before it is used; the
 * arithmetic is done in 64 bits so no 32-bit sum can wrap. */
#include "hv/multiboot.h"

#include <string.h>

#define MB1_FLAG_MOD_ALIGN  (1u << 0)
#define MB1_FLAG_MEMINFO    (1u << 1)
#define MB1_FLAG_VIDEO      (1u << 2)
#define MB1_FLAG_AOUT       (1u << 16)
#define MB1_FLAGS_REQ_KNOWN (MB1_FLAG_MOD_ALIGN | MB1_FLAG_MEMINFO | MB1_FLAG_VIDEO)

#define PAGE     4096ull
#define LIMIT_4G (1ull << 32)
/* Highest end of anything placed: 32-bit fields must hold every end address. */
#define LIMIT_32 (LIMIT_4G - PAGE)

#define EM_386        3
#define EM_X86_64     62
#define ET_EXEC       2
#define PT_LOAD       1
#define ELF_MAX_PHDRS 128

/* Multiboot 2 header tags (spec 3.1.3-3.1.13). */
#define MB2_ARCH_I386    0
#define MB2_TAG_END      0
#define MB2_TAG_INFO_REQ 1
#define MB2_TAG_ADDRESS  2
#define MB2_TAG_ENTRY    3
#define MB2_TAG_CONSOLE  4
#define MB2_TAG_FB       5
#define MB2_TAG_MODALIGN 6
#define MB2_TAG_RELOC    10
#define MB2_TAG_OPTIONAL 1u

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t align_page(uint64_t v)
{
    return (v + PAGE - 1) & ~(PAGE - 1);
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

long mb1_find_header(const void *image, uint64_t size)
{
    const uint8_t *p = image;
    uint64_t end = size < MB1_SEARCH ? size : MB1_SEARCH;
    for (uint64_t off = 0; off + 12 <= end; off += 4) {
        if (rd32(p + off) != MB1_HEADER_MAGIC)
            continue;
        uint32_t sum = rd32(p + off) + rd32(p + off + 4) + rd32(p + off + 8);
        if (sum == 0)
            return (long)off;
    }
    return -1;
}

long mb2_find_header(const void *image, uint64_t size)
{
    const uint8_t *p = image;
    uint64_t end = size < MB2_SEARCH ? size : MB2_SEARCH;
    for (uint64_t off = 0; off + 16 <= end; off += 8) {
        if (rd32(p + off) != MB2_HEADER_MAGIC)
            continue;
        uint32_t sum = rd32(p + off) + rd32(p + off + 4) + rd32(p + off + 8) + rd32(p + off + 12);
        if (sum == 0)
            return (long)off;
    }
    return -1;
}

/* The loadable range: guest RAM, and 32-bit addresses only. */
struct ld {
    uint8_t *ram;
    uint64_t limit;
    const uint8_t *img;
    uint64_t img_size;
    uint64_t lo, hi; /* kernel memory seen so far */
};

/* Copies n bytes at file offset off to gpa and zeroes up to memsz. */
static const char *place(struct ld *l, uint64_t gpa, uint64_t off, uint64_t n, uint64_t memsz)
{
    if (n > memsz)
        return "segment: file size larger than memory size";
    if (off > l->img_size || n > l->img_size - off)
        return "segment: file bytes past the end of the image";
    if (gpa >= l->limit || memsz > l->limit - gpa)
        return gpa >= LIMIT_4G || memsz > LIMIT_4G - gpa ? "segment above 4 GiB"
                                                         : "segment outside guest RAM";
    if (memsz == 0)
        return 0;
    memcpy(l->ram + gpa, l->img + off, n);
    memset(l->ram + gpa + n, 0, memsz - n);
    if (gpa < l->lo)
        l->lo = gpa;
    if (gpa + memsz > l->hi)
        l->hi = gpa + memsz;
    return 0;
}

/* Loads by the header's own addresses: v1's a.out kludge (spec 3.1.3) and
 * v2's address tag, where load_addr 0xffffffff means "from the file's
 * start". hoff: the header's offset in the file. */
static const char *load_addrs(struct ld *l, uint64_t hoff, uint64_t header_addr, uint64_t load_addr,
                              uint64_t load_end, uint64_t bss_end)
{
    if (load_addr == 0xffffffffu) {
        if (header_addr < hoff)
            return "header: header_addr below the header's offset in the file";
        load_addr = header_addr - hoff;
    }
    if (load_addr > header_addr)
        return "header: load_addr above header_addr";
    if (header_addr - load_addr > hoff)
        return "header: load_addr before the start of the image";
    uint64_t file_off = hoff - (header_addr - load_addr);
    uint64_t n;
    if (load_end == 0) {
        n = l->img_size - file_off;
    } else {
        if (load_end < load_addr)
            return "header: load_end_addr below load_addr";
        n = load_end - load_addr;
        if (n > l->img_size - file_off)
            return "header: load_end_addr past the end of the image";
    }
    uint64_t memsz = n;
    if (bss_end) {
        if (bss_end < load_addr + n)
            return "header: bss_end_addr below load_end_addr";
        memsz = bss_end - load_addr;
    }
    return place(l, load_addr, file_off, n, memsz);
}

static const char *load_aout(struct ld *l, uint64_t hoff, uint32_t *entry)
{
    const uint8_t *h = l->img + hoff;
    if (hoff + 32 > l->img_size)
        return "header: address fields past the end of the image";
    *entry = rd32(h + 28);
    return load_addrs(l, hoff, rd32(h + 12), rd32(h + 16), rd32(h + 20), rd32(h + 24));
}

static const char *load_elf(struct ld *l, struct mbk_boot *out, uint32_t *entry)
{
    const uint8_t *e = l->img;
    if (l->img_size < 52 || rd32(e) != 0x464c457fu) /* "\x7fELF" */
        return "not an ELF image and no a.out kludge (header flag 16)";
    unsigned cls = e[4];
    if (cls != 1 && cls != 2)
        return "ELF: unknown class";
    if (e[5] != 1)
        return "ELF: not little-endian";
    bool is64 = cls == 2;
    if (is64 && l->img_size < 64)
        return "ELF: header past the end of the image";
    unsigned machine = rd16(e + 18);
    if (machine != (is64 ? EM_X86_64 : EM_386))
        return is64 ? "ELF64: machine is not x86-64" : "ELF32: machine is not i386";
    if (rd16(e + 16) != ET_EXEC)
        return "ELF: not an executable (ET_EXEC)";
    uint64_t e_entry = is64 ? rd64(e + 24) : rd32(e + 24);
    uint64_t phoff = is64 ? rd64(e + 32) : rd32(e + 28);
    unsigned phentsize = rd16(e + (is64 ? 54 : 42));
    unsigned phnum = rd16(e + (is64 ? 56 : 44));
    unsigned need = is64 ? 56 : 32;
    if (phnum == 0 || phnum > ELF_MAX_PHDRS)
        return "ELF: no program headers, or too many";
    if (phentsize < need)
        return "ELF: program header entries too small";
    if (phoff > l->img_size || (uint64_t)phnum * phentsize > l->img_size - phoff)
        return "ELF: program headers past the end of the image";
    bool any = false, entry_found = false;
    uint64_t entry_pa = e_entry;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *p = e + phoff + (uint64_t)i * phentsize;
        if (rd32(p) != PT_LOAD)
            continue;
        uint64_t off, vaddr, paddr, filesz, memsz;
        if (is64) {
            off = rd64(p + 8), vaddr = rd64(p + 16), paddr = rd64(p + 24);
            filesz = rd64(p + 32), memsz = rd64(p + 40);
        } else {
            off = rd32(p + 4), vaddr = rd32(p + 8), paddr = rd32(p + 12);
            filesz = rd32(p + 16), memsz = rd32(p + 20);
        }
        const char *why = place(l, paddr, off, filesz, memsz);
        if (why)
            return why;
        any |= memsz != 0;
        if (!entry_found && e_entry >= vaddr && e_entry - vaddr < memsz) {
            entry_pa = paddr + (e_entry - vaddr);
            entry_found = true;
        }
    }
    if (!any)
        return "ELF: no loadable segment";
    if (entry_pa >= LIMIT_4G)
        return "ELF: entry point above 4 GiB";
    *entry = (uint32_t)entry_pa;
    out->elf = true;
    out->elf_class = is64 ? 64 : 32;
    return 0;
}

/* The information a v2 kernel may ask for that we give (spec 3.6 tag
 * types): command line, loader name, modules, basic memory, memory map. */
static bool mb2_given(uint32_t type)
{
    return type == 1 || type == 2 || type == 3 || type == 4 || type == 6;
}

/* Multiboot 2 (spec 3.1): the header's tags, then the kernel by its
 * address tag or as ELF (an entry address tag overrides the ELF entry). */
static const char *load_v2(struct ld *l, uint64_t hoff, struct mbk_boot *out, uint32_t *entry)
{
    const uint8_t *h = l->img + hoff;
    uint64_t len = rd32(h + 8);
    if (rd32(h + 4) != MB2_ARCH_I386)
        return "header (v2): architecture is not i386 (0)";
    if (len < 24 || len > l->img_size - hoff)
        return "header (v2): header_length too short or past the end of the image";
    bool have_addr = false, have_entry = false, ended = false;
    uint32_t a[4] = {0}, e = 0;
    for (uint64_t at = 16; at + 8 <= len && !ended;) {
        const uint8_t *t = h + at;
        uint32_t type = rd16(t), size = rd32(t + 4);
        bool optional = rd16(t + 2) & MB2_TAG_OPTIONAL;
        if (size < 8 || size > len - at)
            return "header (v2): a tag runs past header_length";
        switch (type) {
        case MB2_TAG_END: ended = true; break;
        case MB2_TAG_INFO_REQ:
            for (uint32_t k = 8; k + 4 <= size; k += 4)
                if (!mb2_given(rd32(t + k)) && !optional)
                    return "header (v2): requests information this loader does not give";
            break;
        case MB2_TAG_ADDRESS:
            if (size < 24)
                return "header (v2): address tag too short";
            for (unsigned k = 0; k < 4; k++)
                a[k] = rd32(t + 8 + 4 * k);
            have_addr = true;
            break;
        case MB2_TAG_ENTRY:
            if (size < 12)
                return "header (v2): entry address tag too short";
            e = rd32(t + 8);
            have_entry = true;
            break;
        case MB2_TAG_CONSOLE:
            if (size >= 12 && (rd32(t + 8) & 1) && !optional)
                return "header (v2): requires a text console (there is only COM1)";
            break;
        case MB2_TAG_MODALIGN: /* modules are always page-aligned */
        case MB2_TAG_RELOC: /* loading at the linked address is allowed */ break;
        default:
            if (!optional)
                return type == MB2_TAG_FB ? "header (v2): requires a framebuffer"
                                          : "header (v2): a required tag this loader does "
                                            "not support (EFI or unknown)";
            break;
        }
        at += ((uint64_t)size + 7) & ~7ull;
    }
    if (!ended)
        return "header (v2): no end tag within header_length";
    if (have_addr) {
        if (!have_entry)
            return "header (v2): address tag without an entry address tag";
        *entry = e;
        return load_addrs(l, hoff, a[0], a[1], a[2], a[3]);
    }
    const char *why = load_elf(l, out, entry);
    if (!why && have_entry)
        *entry = e;
    return why;
}

/* Appends a NUL-terminated string at ram + *at; its address. */
static uint32_t put_str(uint8_t *ram, uint64_t *at, const char *s)
{
    size_t n = str_len(s) + 1;
    uint64_t a = *at;
    memcpy(ram + a, s, n);
    *at += n;
    return (uint32_t)a;
}

static uint64_t align8(uint64_t v)
{
    return (v + 7) & ~7ull;
}

/* The memory map both versions give: conventional RAM, the BIOS/VGA hole,
 * the rest of RAM (base, length, type 1 available / 2 reserved). */
static void memory_map(uint64_t ram_bytes, uint64_t map[3][3])
{
    const uint64_t m[3][3] = {
        {0, MB1_LOW_MEM_END, 1},
        {MB1_LOW_MEM_END, MB1_HIGH_MEM_START - MB1_LOW_MEM_END, 2},
        {MB1_HIGH_MEM_START, ram_bytes - MB1_HIGH_MEM_START, 1},
    };
    memcpy(map, m, sizeof m);
}

struct info {
    const struct mbk_input *in;
    const char *cmdline, *loader;
    uint64_t ram_bytes, upper_kib;
    uint64_t mod_at[MBK_MAX_MODS];
};

static const char *mod_str(const struct info *f, unsigned i)
{
    return f->in->mods[i].string ? f->in->mods[i].string : "";
}

/* v1 information structure (spec 3.3): the fixed part, the memory map
 * (size, base_addr, length, type; size excludes itself), the module list,
 * then the strings. */
static uint64_t v1_size(const struct info *f)
{
    uint64_t n = MB1_INFO_SIZE + 3 * 24 + 16ull * f->in->nmods;
    n += str_len(f->cmdline) + 1 + str_len(f->loader) + 1;
    for (unsigned i = 0; i < f->in->nmods; i++)
        n += str_len(mod_str(f, i)) + 1;
    return n;
}

static void v1_build(uint8_t *ram, uint64_t mbi, const struct info *f)
{
    uint8_t *m = ram + mbi;
    uint64_t mmap = mbi + MB1_INFO_SIZE, mods = mmap + 3 * 24;
    uint64_t at = mods + 16ull * f->in->nmods;
    wr32(m + 0,
         MB1_INFO_MEM | MB1_INFO_CMDLINE | MB1_INFO_MODS | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME);
    wr32(m + 4, MB1_LOW_MEM_END >> 10);  /* mem_lower: 639 KiB */
    wr32(m + 8, (uint32_t)f->upper_kib); /* mem_upper: KiB from 1 MiB */
    wr32(m + 16, put_str(ram, &at, f->cmdline));
    wr32(m + 20, f->in->nmods);
    wr32(m + 24, (uint32_t)mods);
    wr32(m + 44, 3 * 24);
    wr32(m + 48, (uint32_t)mmap);
    wr32(m + 64, put_str(ram, &at, f->loader));
    uint64_t map[3][3];
    memory_map(f->ram_bytes, map);
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *p = ram + mmap + i * 24;
        wr32(p, 20);
        wr64(p + 4, map[i][0]);
        wr64(p + 12, map[i][1]);
        wr32(p + 20, (uint32_t)map[i][2]);
    }
    for (unsigned i = 0; i < f->in->nmods; i++) {
        uint8_t *p = ram + mods + 16ull * i;
        wr32(p, (uint32_t)f->mod_at[i]);
        wr32(p + 4, (uint32_t)(f->mod_at[i] + f->in->mods[i].size));
        wr32(p + 8, put_str(ram, &at, mod_str(f, i)));
    }
}

/* v2 information (spec 3.6): total_size, reserved, then 8-aligned tags:
 * command line (1), loader name (2), one per module (3), basic memory (4),
 * memory map (6: entry_size 24, version 0), end (0). */
static uint64_t v2_size(const struct info *f)
{
    uint64_t n = 8 + align8(8 + str_len(f->cmdline) + 1) + align8(8 + str_len(f->loader) + 1);
    for (unsigned i = 0; i < f->in->nmods; i++)
        n += align8(16 + str_len(mod_str(f, i)) + 1);
    return n + 16 + (16 + 3 * 24) + 8;
}

static uint64_t v2_tag(uint8_t *ram, uint64_t at, uint32_t type, uint64_t size)
{
    wr32(ram + at, type);
    wr32(ram + at + 4, (uint32_t)size);
    return at + 8;
}

static void v2_build(uint8_t *ram, uint64_t mbi, const struct info *f)
{
    uint64_t at = mbi + 8, p;
    const char *strs[2] = {f->cmdline, f->loader};
    for (unsigned k = 0; k < 2; k++) {
        uint64_t n = 8 + str_len(strs[k]) + 1;
        p = v2_tag(ram, at, k + 1, n);
        put_str(ram, &p, strs[k]);
        at = align8(at + n);
    }
    for (unsigned i = 0; i < f->in->nmods; i++) {
        uint64_t n = 16 + str_len(mod_str(f, i)) + 1;
        p = v2_tag(ram, at, 3, n);
        wr32(ram + p, (uint32_t)f->mod_at[i]);
        wr32(ram + p + 4, (uint32_t)(f->mod_at[i] + f->in->mods[i].size));
        p += 8;
        put_str(ram, &p, mod_str(f, i));
        at = align8(at + n);
    }
    p = v2_tag(ram, at, 4, 16);
    wr32(ram + p, MB1_LOW_MEM_END >> 10);
    wr32(ram + p + 4, (uint32_t)f->upper_kib);
    at += 16;
    p = v2_tag(ram, at, 6, 16 + 3 * 24);
    wr32(ram + p, 24);    /* entry_size */
    wr32(ram + p + 4, 0); /* entry_version */
    uint64_t map[3][3];
    memory_map(f->ram_bytes, map);
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *e = ram + p + 8 + 24 * i;
        wr64(e, map[i][0]);
        wr64(e + 8, map[i][1]);
        wr32(e + 16, (uint32_t)map[i][2]);
        wr32(e + 20, 0);
    }
    at += 16 + 3 * 24;
    at = v2_tag(ram, at, 0, 8);
    wr32(ram + mbi, (uint32_t)(at - mbi)); /* total_size */
    wr32(ram + mbi + 4, 0);
}

const char *mbk_load(uint8_t *ram, uint64_t ram_bytes, const struct mbk_input *in,
                     struct mbk_boot *out)
{
    *out = (struct mbk_boot){0};
    if (!ram || !in || !in->image)
        return "no kernel image";
    if (ram_bytes < 2 * MB1_HIGH_MEM_START)
        return "guest RAM below 2 MiB";
    if (in->nmods > MBK_MAX_MODS || (in->nmods && !in->mods))
        return "too many modules";
    const uint8_t *img = in->image;
    struct ld l = {.ram = ram,
                   .limit = ram_bytes < LIMIT_32 ? ram_bytes : LIMIT_32,
                   .img = img,
                   .img_size = in->image_size,
                   .lo = UINT64_MAX,
                   .hi = 0};
    uint32_t entry = 0;
    const char *why;
    long hoff = mb1_find_header(img, in->image_size);
    if (hoff >= 0) {
        out->version = 1;
        out->magic = MB1_BOOT_MAGIC;
        uint32_t flags = rd32(img + hoff + 4);
        out->header_flags = flags;
        if ((flags & 0xffffu) & ~MB1_FLAGS_REQ_KNOWN)
            return "header: required flag bits (0-15) this loader does not know";
        why = (flags & MB1_FLAG_AOUT) ? load_aout(&l, (uint64_t)hoff, &entry)
                                      : load_elf(&l, out, &entry);
    } else if ((hoff = mb2_find_header(img, in->image_size)) >= 0) {
        out->version = 2;
        out->magic = MB2_BOOT_MAGIC;
        why = load_v2(&l, (uint64_t)hoff, out, &entry);
    } else {
        return "no Multiboot header (v1: 0x1BADB002 in the first 8 KiB, v2: "
               "0xE85250D6 in the "
               "first 32 KiB, with a valid checksum)";
    }
    if (why)
        return why;
    if (l.hi == 0)
        return "kernel loads no bytes";
    if (entry < l.lo || entry >= l.hi)
        return "entry point outside the loaded kernel";

    /* The information after the kernel (at 1 MiB at the lowest), then the
     * modules, each page-aligned. */
    struct info f = {.in = in,
                     .cmdline = in->cmdline ? in->cmdline : "",
                     .loader = in->loader_name ? in->loader_name : "hvrr",
                     .ram_bytes = ram_bytes,
                     .upper_kib = (l.limit - MB1_HIGH_MEM_START) >> 10};
    uint64_t mbi = align_page(l.hi);
    if (mbi < MB1_HIGH_MEM_START)
        mbi = MB1_HIGH_MEM_START;
    uint64_t info_end = align_page(mbi + (out->version == 1 ? v1_size(&f) : v2_size(&f)));
    if (info_end > l.limit)
        return "no room for the Multiboot information after the kernel";
    uint64_t mod_at = info_end;
    for (unsigned i = 0; i < in->nmods; i++) {
        uint64_t sz = in->mods[i].size;
        if (sz > l.limit || mod_at > l.limit - sz)
            return "modules do not fit in guest RAM";
        f.mod_at[i] = mod_at;
        mod_at = align_page(mod_at + sz);
    }
    memset(ram + mbi, 0, info_end - mbi);
    if (out->version == 1)
        v1_build(ram, mbi, &f);
    else
        v2_build(ram, mbi, &f);
    for (unsigned i = 0; i < in->nmods; i++)
        if (in->mods[i].size)
            memcpy(ram + f.mod_at[i], in->mods[i].data, in->mods[i].size);
    out->entry = entry;
    out->mbi = (uint32_t)mbi;
    out->kernel_lo = (uint32_t)l.lo;
    out->kernel_hi = (uint32_t)l.hi;
    out->info_end = (uint32_t)info_end;
    out->mods_lo = (uint32_t)info_end;
    out->mods_hi = (uint32_t)(in->nmods ? mod_at : info_end);
    return 0;
}
