/* A Multiboot test kernel (ELF32, loaded at 1 MiB; boot.S gives it a v1
 * header, a v1 a.out-kludge header or a v2 header): checks the machine
 * state and the information the loader hands over (Multiboot Specification
 * 0.6.96 3.2-3.3, 2.0 3.3-3.6), prints "PASS name" / "FAIL name ..." lines on COM1 and
 * ends with isa-debug-exit (port 0xf4): value 0 if every check passed,
 * else the number of failures.
 *
 * What it expects from its boot (tests/e2e/run-multiboot.sh builds it):
 * the command line "mbkernel.elf check=cmdline-ok mem_mib=N" with N the
 * guest RAM in MiB, and one module "mbmod.bin tag=hello" of MOD_SIZE bytes,
 * byte i = (7 i + 3) mod 256. */
#include <stdint.h>

#include "hv/portio.h"

#define MOD_SIZE 5000u

uint32_t boot_eax, boot_ebx, boot_eflags, boot_cr0;
uint16_t boot_cs, boot_ds;
static volatile uint32_t bss_canary[64]; /* must be zero: the loader clears bss */
static unsigned fails;

static void putc_(char c)
{
    for (unsigned i = 0; i < 100000 && !(inb(0x3fd) & 0x20); i++)
        ;
    outb(0x3f8, (uint8_t)c);
}
static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}
static void puthex(uint32_t v)
{
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 15]);
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}
static int starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix)
        s++, prefix++;
    return !*prefix;
}
/* Value of " key=" in s as a decimal number, or -1. */
static long arg_num(const char *s, const char *key)
{
    for (; *s; s++) {
        if (*s != ' ')
            continue;
        const char *p = s + 1, *k = key;
        while (*k && *p == *k)
            p++, k++;
        if (*k || *p != '=')
            continue;
        long v = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (*p - '0');
        return v;
    }
    return -1;
}

/* One check: PASS name, or FAIL name with the value seen. */
static void check(int ok, const char *name, uint32_t seen)
{
    puts_(ok ? "PASS " : "FAIL ");
    puts_(name);
    if (!ok) {
        puts_(": got ");
        puthex(seen);
        fails++;
    }
    puts_("\n");
}

/* What either version of the information says, gathered in one place. */
struct boot {
    int have_mem, have_cmdline, have_mods, have_mmap, have_loader;
    uint32_t mem_lower, mem_upper;
    const char *cmdline, *loader;
    unsigned nmods;
    uint32_t mod_start, mod_end;
    const char *mod_string;
    unsigned nmap;
    struct {
        uint64_t base, len;
        uint32_t type;
    } map[8];
};

static uint32_t rd(uint32_t addr)
{
    return *(const volatile uint32_t *)(uintptr_t)addr;
}
static uint64_t rd64(uint32_t addr)
{
    return rd(addr) | (uint64_t)rd(addr + 4) << 32;
}
static const char *str(uint32_t addr)
{
    return (const char *)(uintptr_t)addr;
}

static void map_add(struct boot *b, uint64_t base, uint64_t len, uint32_t type)
{
    if (b->nmap < 8) {
        b->map[b->nmap].base = base;
        b->map[b->nmap].len = len;
        b->map[b->nmap++].type = type;
    }
}

/* Multiboot 1 information (spec 0.6.96, 3.3). */
static void read_v1(uint32_t m, struct boot *b)
{
    uint32_t flags = rd(m);
    b->have_mem = flags & 1, b->have_cmdline = flags & 4, b->have_mods = flags & 8;
    b->have_mmap = flags & 64, b->have_loader = flags & 512;
    b->mem_lower = rd(m + 4), b->mem_upper = rd(m + 8);
    b->cmdline = str(rd(m + 16));
    b->loader = str(rd(m + 64));
    b->nmods = rd(m + 20);
    if (b->nmods) {
        uint32_t md = rd(m + 24);
        b->mod_start = rd(md), b->mod_end = rd(md + 4), b->mod_string = str(rd(md + 8));
    }
    uint32_t at = rd(m + 48), end = at + rd(m + 44);
    for (; at < end; at += rd(at) + 4)
        map_add(b, rd64(at + 4), rd64(at + 12), rd(at + 20));
}

/* Multiboot 2 information (spec 2.0, 3.6): 8-aligned tags after the
 * total_size / reserved words, up to the end tag. */
static void read_v2(uint32_t m, struct boot *b)
{
    uint32_t end = m + rd(m);
    for (uint32_t t = m + 8; t + 8 <= end && rd(t) != 0; t += (rd(t + 4) + 7) & ~7u) {
        switch (rd(t)) {
        case 1: b->have_cmdline = 1, b->cmdline = str(t + 8); break;
        case 2: b->have_loader = 1, b->loader = str(t + 8); break;
        case 3:
            b->have_mods = 1;
            if (!b->nmods++)
                b->mod_start = rd(t + 8), b->mod_end = rd(t + 12), b->mod_string = str(t + 16);
            break;
        case 4: b->have_mem = 1, b->mem_lower = rd(t + 8), b->mem_upper = rd(t + 12); break;
        case 6:
            b->have_mmap = 1;
            for (uint32_t e = t + 16; e + rd(t + 8) <= t + rd(t + 4); e += rd(t + 8))
                map_add(b, rd64(e), rd64(e + 8), rd(e + 16));
            break;
        }
    }
}

extern char _start[], _end[];
extern const uint32_t mb_version; /* boot.S: the header this build carries */

/* Is [lo, hi) inside one available (type 1) range of the memory map? */
static int in_ram(const struct boot *b, uint64_t lo, uint64_t hi)
{
    for (unsigned i = 0; i < b->nmap; i++)
        if (b->map[i].type == 1 && lo >= b->map[i].base && hi <= b->map[i].base + b->map[i].len)
            return 1;
    return 0;
}

void kmain(uint32_t magic, uint32_t mbi_addr);
void kmain(uint32_t magic, uint32_t mbi_addr)
{
    puts_("mbkernel: multiboot v");
    putc_((char)('0' + mb_version));
    puts_(" test kernel, EAX ");
    puthex(magic);
    puts_(" EBX ");
    puthex(mbi_addr);
    puts_(" CS ");
    puthex(boot_cs);
    puts_(" DS ");
    puthex(boot_ds);
    puts_("\n");
    uint32_t want_magic = mb_version == 2 ? 0x36d76289u : 0x2badb002u;
    check(magic == want_magic && boot_eax == magic, "eax-magic", magic);
    check((boot_cr0 & 0x80000001u) == 1, "cr0-pe-no-pg", boot_cr0);
    check((boot_eflags & ((1u << 9) | (1u << 17))) == 0, "eflags-if-vm-clear", boot_eflags);
    uint32_t nz = 0;
    for (unsigned i = 0; i < 64; i++)
        nz |= bss_canary[i];
    check(nz == 0, "bss-zero", nz);
    static struct boot b;
    if (magic == 0x36d76289u)
        read_v2(mbi_addr, &b);
    else if (magic == 0x2badb002u)
        read_v1(mbi_addr, &b);
    int all = b.have_mem && b.have_cmdline && b.have_mods && b.have_mmap && b.have_loader;
    check(all, "mbi-present",
          (uint32_t)(b.have_mem | b.have_cmdline << 2 | b.have_mods << 3 | b.have_mmap << 6 |
                     b.have_loader << 9));
    if (!all) {
        puts_("mbkernel: information missing, debug-exit\n");
        outl(0xf4, ++fails);
        return;
    }
    const char *cmd = b.cmdline;
    check(starts(cmd, "mbkernel.elf check=cmdline-ok ") && arg_num(cmd, "mem_mib") > 0, "cmdline",
          (uint32_t)(uintptr_t)cmd);
    puts_("mbkernel: cmdline '");
    puts_(cmd);
    puts_("'\n");
    long mib = arg_num(cmd, "mem_mib");
    check(b.mem_lower == 639, "mem-lower", b.mem_lower);
    check(mib > 1 && b.mem_upper == (uint32_t)(mib - 1) * 1024, "mem-upper", b.mem_upper);
    check(in_ram(&b, 0x100000, 0x100000 + (uint64_t)b.mem_upper * 1024), "mmap-upper-ram", b.nmap);
    check(in_ram(&b, (uintptr_t)_start, (uintptr_t)_end), "mmap-covers-kernel",
          (uint32_t)(uintptr_t)_end);
    check(!in_ram(&b, 0x9fc00, 0xa0000) && !in_ram(&b, 0xf0000, 0x100000), "mmap-bios-hole", 0);
    check(streq(b.loader, "hvrr"), "loader-name", (uint32_t)(uintptr_t)b.loader);
    check(b.nmods == 1, "mods-count", b.nmods);
    if (b.nmods >= 1) {
        check(streq(b.mod_string, "mbmod.bin tag=hello"), "mod-string",
              (uint32_t)(uintptr_t)b.mod_string);
        check((b.mod_start & 0xfff) == 0 && b.mod_start >= (uintptr_t)_end, "mod-aligned",
              b.mod_start);
        check(b.mod_end - b.mod_start == MOD_SIZE, "mod-size", b.mod_end - b.mod_start);
        const uint8_t *p = (const uint8_t *)(uintptr_t)b.mod_start;
        uint32_t bad = 0;
        for (uint32_t i = 0; i < MOD_SIZE && b.mod_end - b.mod_start == MOD_SIZE; i++)
            if (p[i] != (uint8_t)(7 * i + 3))
                bad++;
        check(bad == 0, "mod-bytes", bad);
        check(in_ram(&b, b.mod_start, b.mod_end), "mmap-covers-mod", b.mod_end);
    }
    puts_(fails ? "mbkernel: FAILED, " : "mbkernel: all checks passed, ");
    puts_("debug-exit ");
    puthex(fails);
    puts_("\n");
    outl(0xf4, fails);
}
