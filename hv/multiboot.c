/* Multiboot v1 loader (multiboot.h). Every number taken from the image is
 * checked against the image size and guest RAM before it is used; the
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

/* a.out kludge: the header's own addresses (spec 3.1.3). */
static const char *load_aout(struct ld *l, uint64_t hoff, uint32_t *entry)
{
    const uint8_t *h = l->img + hoff;
    if (hoff + 32 > l->img_size)
        return "header: address fields past the end of the image";
    uint64_t header_addr = rd32(h + 12), load_addr = rd32(h + 16);
    uint64_t load_end = rd32(h + 20), bss_end = rd32(h + 24);
    *entry = rd32(h + 28);
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

static const char *load_elf(struct ld *l, struct mb1_boot *out, uint32_t *entry)
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

/* Appends a NUL-terminated string at *at (bounded by end); its address. */
static uint32_t put_str(uint8_t *ram, uint64_t *at, const char *s)
{
    size_t n = str_len(s) + 1;
    uint64_t a = *at;
    memcpy(ram + a, s, n);
    *at += n;
    return (uint32_t)a;
}

const char *mb1_load(uint8_t *ram, uint64_t ram_bytes, const struct mb1_input *in,
                     struct mb1_boot *out)
{
    *out = (struct mb1_boot){0};
    if (!ram || !in || !in->image)
        return "no kernel image";
    if (ram_bytes < 2 * MB1_HIGH_MEM_START)
        return "guest RAM below 2 MiB";
    if (in->nmods > MB1_MAX_MODS || (in->nmods && !in->mods))
        return "too many modules";
    long hoff = mb1_find_header(in->image, in->image_size);
    if (hoff < 0)
        return "no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB";
    const uint8_t *img = in->image;
    uint32_t flags = rd32(img + hoff + 4);
    out->header_flags = flags;
    if ((flags & 0xffffu) & ~MB1_FLAGS_REQ_KNOWN)
        return "header: required flag bits (0-15) this loader does not know";

    struct ld l = {.ram = ram,
                   .limit = ram_bytes < LIMIT_32 ? ram_bytes : LIMIT_32,
                   .img = img,
                   .img_size = in->image_size,
                   .lo = UINT64_MAX,
                   .hi = 0};
    uint32_t entry = 0;
    const char *why =
        (flags & MB1_FLAG_AOUT) ? load_aout(&l, (uint64_t)hoff, &entry) : load_elf(&l, out, &entry);
    if (why)
        return why;
    if (l.hi == 0)
        return "kernel loads no bytes";
    if (entry < l.lo || entry >= l.hi)
        return "entry point outside the loaded kernel";

    /* Information page(s) after the kernel, at 1 MiB at the lowest. */
    const char *cmdline = in->cmdline ? in->cmdline : "";
    const char *loader = in->loader_name ? in->loader_name : "hvrr";
    uint64_t strings = str_len(cmdline) + 1 + str_len(loader) + 1;
    for (unsigned i = 0; i < in->nmods; i++)
        strings += str_len(in->mods[i].string ? in->mods[i].string : "") + 1;
    const uint64_t mmap_n = 3, mmap_entry = 24;
    uint64_t base = align_page(l.hi);
    if (base < MB1_HIGH_MEM_START)
        base = MB1_HIGH_MEM_START;
    uint64_t mbi = base, mmap = mbi + MB1_INFO_SIZE, mods = mmap + mmap_n * mmap_entry;
    uint64_t str = mods + 16ull * in->nmods;
    uint64_t info_end = align_page(str + strings);
    if (info_end > l.limit)
        return "no room for the Multiboot information after the kernel";
    uint64_t mod_at = info_end;
    for (unsigned i = 0; i < in->nmods; i++) {
        uint64_t sz = in->mods[i].size;
        if (sz > l.limit || mod_at > l.limit - sz)
            return "modules do not fit in guest RAM";
        mod_at = align_page(mod_at + sz);
    }

    memset(ram + mbi, 0, info_end - mbi);
    uint8_t *m = ram + mbi;
    wr32(m + 0,
         MB1_INFO_MEM | MB1_INFO_CMDLINE | MB1_INFO_MODS | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME);
    uint64_t upper_kib = (l.limit - MB1_HIGH_MEM_START) >> 10;
    wr32(m + 4, MB1_LOW_MEM_END >> 10); /* mem_lower: 639 KiB */
    wr32(m + 8, (uint32_t)upper_kib);   /* mem_upper: KiB from 1 MiB */
    uint64_t at = str;
    wr32(m + 16, put_str(ram, &at, cmdline));
    wr32(m + 20, in->nmods);
    wr32(m + 24, (uint32_t)mods);
    wr32(m + 44, (uint32_t)(mmap_n * mmap_entry));
    wr32(m + 48, (uint32_t)mmap);
    wr32(m + 64, put_str(ram, &at, loader));
    /* Memory map (spec 3.3: size, base_addr, length, type; size excludes
     * itself): conventional RAM, the BIOS/VGA hole, the rest of RAM. */
    const uint64_t map[3][3] = {
        {0, MB1_LOW_MEM_END, 1},
        {MB1_LOW_MEM_END, MB1_HIGH_MEM_START - MB1_LOW_MEM_END, 2},
        {MB1_HIGH_MEM_START, ram_bytes - MB1_HIGH_MEM_START, 1},
    };
    for (unsigned i = 0; i < mmap_n; i++) {
        uint8_t *p = ram + mmap + i * mmap_entry;
        wr32(p, 20);
        wr64(p + 4, map[i][0]);
        wr64(p + 12, map[i][1]);
        wr32(p + 20, (uint32_t)map[i][2]);
    }
    mod_at = info_end;
    for (unsigned i = 0; i < in->nmods; i++) {
        const struct mb1_module *md = &in->mods[i];
        uint8_t *p = ram + mods + 16ull * i;
        if (md->size)
            memcpy(ram + mod_at, md->data, md->size);
        wr32(p, (uint32_t)mod_at);
        wr32(p + 4, (uint32_t)(mod_at + md->size));
        wr32(p + 8, put_str(ram, &at, md->string ? md->string : ""));
        mod_at = align_page(mod_at + md->size);
    }
    out->entry = entry;
    out->mbi = (uint32_t)mbi;
    out->kernel_lo = (uint32_t)l.lo;
    out->kernel_hi = (uint32_t)(l.hi > UINT32_MAX ? UINT32_MAX : l.hi);
    out->info_end = (uint32_t)info_end;
    out->mods_lo = (uint32_t)info_end;
    out->mods_hi = (uint32_t)(in->nmods ? mod_at : info_end);
    return 0;
}
