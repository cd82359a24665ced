/* A Multiboot v1 test kernel (ELF32, loaded at 1 MiB): checks the machine
 * state and the information the loader hands over (Multiboot Specification
 * 0.6.96, 3.2-3.3), prints "PASS name" / "FAIL name ..." lines on COM1 and
 * ends with isa-debug-exit (port 0xf4): value 0 if every check passed,
 * else the number of failures.
 *
 * What it expects from its boot (tests/e2e/run-multiboot.sh builds it):
 * the command line "mbkernel.elf check=cmdline-ok mem_mib=N" with N the
 * guest RAM in MiB, and one module "mbmod.bin tag=hello" of MOD_SIZE bytes,
 * byte i = (7 i + 3) mod 256. */
#include <stdint.h>

#define MOD_SIZE 5000u

uint32_t boot_eax, boot_ebx, boot_eflags, boot_cr0;
uint16_t boot_cs, boot_ds;
static volatile uint32_t bss_canary[64]; /* must be zero: the loader clears bss */
static unsigned fails;

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

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

struct mbi {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};
struct mod {
    uint32_t start, end, string, reserved;
};

extern char _start[], _end[];

/* Is [lo, hi) inside one available (type 1) range of the memory map? */
static int in_ram(const struct mbi *m, uint64_t lo, uint64_t hi)
{
    for (uint32_t at = m->mmap_addr; at < m->mmap_addr + m->mmap_length;) {
        const uint8_t *e = (const uint8_t *)(uintptr_t)at;
        uint32_t size = *(const uint32_t *)e;
        uint64_t base = *(const uint64_t *)(e + 4), len = *(const uint64_t *)(e + 12);
        uint32_t type = *(const uint32_t *)(e + 20);
        if (type == 1 && lo >= base && hi <= base + len)
            return 1;
        at += size + 4;
    }
    return 0;
}

void kmain(uint32_t magic, uint32_t mbi_addr);
void kmain(uint32_t magic, uint32_t mbi_addr)
{
    puts_("mbkernel: multiboot test kernel, EAX ");
    puthex(magic);
    puts_(" EBX ");
    puthex(mbi_addr);
    puts_(" CS ");
    puthex(boot_cs);
    puts_(" DS ");
    puthex(boot_ds);
    puts_("\n");
    check(magic == 0x2badb002u && boot_eax == magic, "eax-magic", magic);
    check((boot_cr0 & 0x80000001u) == 1, "cr0-pe-no-pg", boot_cr0);
    check((boot_eflags & ((1u << 9) | (1u << 17))) == 0, "eflags-if-vm-clear", boot_eflags);
    uint32_t nz = 0;
    for (unsigned i = 0; i < 64; i++)
        nz |= bss_canary[i];
    check(nz == 0, "bss-zero", nz);
    const struct mbi *m = (const struct mbi *)(uintptr_t)mbi_addr;
    uint32_t want = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9);
    check((m->flags & want) == want, "mbi-flags", m->flags);
    const char *cmd = (const char *)(uintptr_t)m->cmdline;
    check(starts(cmd, "mbkernel.elf check=cmdline-ok ") && arg_num(cmd, "mem_mib") > 0, "cmdline",
          m->cmdline);
    puts_("mbkernel: cmdline '");
    puts_(cmd);
    puts_("'\n");
    long mib = arg_num(cmd, "mem_mib");
    check(m->mem_lower == 639, "mem-lower", m->mem_lower);
    check(mib > 1 && m->mem_upper == (uint32_t)(mib - 1) * 1024, "mem-upper", m->mem_upper);
    check(m->mmap_length >= 24 && in_ram(m, 0x100000, 0x100000 + (uint64_t)m->mem_upper * 1024),
          "mmap-upper-ram", m->mmap_length);
    check(in_ram(m, (uintptr_t)_start, (uintptr_t)_end), "mmap-covers-kernel",
          (uint32_t)(uintptr_t)_end);
    check(!in_ram(m, 0x9fc00, 0xa0000) && !in_ram(m, 0xf0000, 0x100000), "mmap-bios-hole", 0);
    check(streq((const char *)(uintptr_t)m->boot_loader_name, "hvrr"), "loader-name",
          m->boot_loader_name);
    check(m->mods_count == 1, "mods-count", m->mods_count);
    if (m->mods_count >= 1) {
        const struct mod *md = (const struct mod *)(uintptr_t)m->mods_addr;
        check(streq((const char *)(uintptr_t)md->string, "mbmod.bin tag=hello"), "mod-string",
              md->string);
        check((md->start & 0xfff) == 0 && md->start >= (uintptr_t)_end, "mod-aligned", md->start);
        check(md->end - md->start == MOD_SIZE, "mod-size", md->end - md->start);
        const uint8_t *p = (const uint8_t *)(uintptr_t)md->start;
        uint32_t bad = 0;
        for (uint32_t i = 0; i < MOD_SIZE && md->end - md->start == MOD_SIZE; i++)
            if (p[i] != (uint8_t)(7 * i + 3))
                bad++;
        check(bad == 0, "mod-bytes", bad);
        check(in_ram(m, md->start, md->end), "mmap-covers-mod", md->end);
    }
    puts_(fails ? "mbkernel: FAILED, " : "mbkernel: all checks passed, ");
    puts_("debug-exit ");
    puthex(fails);
    puts_("\n");
    outl(0xf4, fails);
}
