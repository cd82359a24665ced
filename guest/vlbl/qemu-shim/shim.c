/* hvrr QEMU shim: emulates the hypervisor's guest hand-over for vlbl
 * (guest/vlbl/bootinfo.h) so vlbl and the Linux guest can be validated
 * under QEMU TCG. Modules, in this order: vlbl.bin, bzImage, initramfs
 * (optional). The multiboot command line (after the shim's own file name)
 * becomes the kernel command line. */
#include <stdint.h>

#include "guest/vlbl/bootinfo.h"
#include "hv/portio.h"

#define MB_BOOT_MAGIC 0x2badb002u
#define MBI_MEM       (1u << 0)
#define MBI_CMDLINE   (1u << 2)
#define MBI_MODS      (1u << 3)
#define MBI_MMAP      (1u << 6)

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct mb_mod {
    uint32_t start, end, string, reserved;
} __attribute__((packed));

struct mb_mmap {
    uint32_t size;
    uint64_t addr, len;
    uint32_t type;
} __attribute__((packed));

extern char __shim_start[], __shim_end[];
void shim_main(uint32_t magic, const struct mb_info *mbi) __attribute__((noreturn));
void shim_enter_vlbl(void) __attribute__((noreturn));

static void putc_(char c)
{
    for (int i = 0; i < 100000 && !(inb(0x3fd) & 0x20); i++)
        ;
    outb(0x3f8, (uint8_t)c);
}

static void puts_(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            putc_('\r');
        putc_(*s);
    }
}

static void puthex(uint32_t v)
{
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 15]);
}

static void __attribute__((noreturn)) die(const char *msg)
{
    puts_("hvrr-qemu-shim: FATAL: ");
    puts_(msg);
    puts_("\n");
    for (;;)
        __asm__ volatile("cli; hlt");
}

static void *memmove_(void *d, const void *s, uint32_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if (dp < sp) {
        while (n--)
            *dp++ = *sp++;
    } else if (dp > sp) {
        while (n--)
            dp[n] = sp[n];
    }
    return d;
}

static void memset_(void *d, int c, uint32_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
}

static int overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

struct copy {
    const char *what;
    uint32_t src, dst, len;
    int done;
};

static int sig_at(volatile const char *p, const char *sig)
{
    for (; *sig; sig++, p++)
        if (*p != *sig)
            return 0;
    return 1;
}

/* Hide SeaBIOS' firmware tables (ACPI RSDP, MP floating pointer, SMBIOS
 * entry points, $PIR IRQ routing) so that Linux finds what it finds under
 * hvrr: none. They live in the read-only F segment; open it for writing
 * through the i440FX PAM0 register first. */
static void scrub_firmware_tables(void)
{
    static const char *const sigs[] = {"RSD PTR ", "_MP_", "_SM_", "_SM3_", "_DMI_", "$PIR"};
    uint32_t v;
    outl(0xcf8, 0x80000058u); /* 0:0.0 config 0x58..0x5b; PAM0 is 0x59 */
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xcfc));
    v = (v & ~0x0000ff00u) | 0x00003000u; /* PAM0: 0xf0000-0xfffff read/write DRAM */
    outl(0xcf8, 0x80000058u);
    outl(0xcfc, v);
    for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
        volatile char *p = (volatile char *)a;
        for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            if (sig_at(p, sigs[i])) {
                puts_("hvrr-qemu-shim: hiding firmware table ");
                puts_(sigs[i]);
                puts_(" at ");
                puthex(a);
                puts_("\n");
                p[0] = 'X';
            }
        }
    }
}

void shim_main(uint32_t magic, const struct mb_info *mbi)
{
    static char cmdline[HVRR_CMDLINE_MAX];
    puts_("\nhvrr-qemu-shim: emulating the hvrr hand-over\n");
    if (magic != MB_BOOT_MAGIC)
        die("not started by a multiboot loader");
    if (!(mbi->flags & MBI_MODS) || mbi->mods_count < 2 || mbi->mods_count > 3)
        die("need modules vlbl.bin,bzImage[,initrd] (QEMU -initrd \"a,b,c\")");

    /* RAM: the usable region that contains 1 MiB (SeaBIOS keeps the top for itself). */
    uint64_t ram = 0;
    if (mbi->flags & MBI_MMAP) {
        for (uint32_t p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length;) {
            const struct mb_mmap *m = (const struct mb_mmap *)p;
            if (m->type == 1 && m->addr <= 0x100000 && m->addr + m->len > 0x100000)
                ram = m->addr + m->len;
            p += m->size + 4;
        }
    }
    if (!ram && (mbi->flags & MBI_MEM))
        ram = 0x100000 + (uint64_t)mbi->mem_upper * 1024;
    if (!ram)
        die("no memory information");
    if (ram > 0xc0000000u)
        ram = 0xc0000000u;

    /* Command line: everything after the first word (the shim's file name). */
    uint32_t n = 0;
    if (mbi->flags & MBI_CMDLINE) {
        const char *c = (const char *)mbi->cmdline;
        while (*c && *c != ' ')
            c++;
        while (*c == ' ')
            c++;
        while (c[n] && n < HVRR_CMDLINE_MAX - 1) {
            cmdline[n] = c[n];
            n++;
        }
    }
    cmdline[n] = 0;

    /* QEMU keeps the multiboot info at 0x9000, inside vlbl's destination:
     * take everything needed from it before copying anything. */
    struct mb_mod mod[3];
    uint32_t nmods = mbi->mods_count;
    for (uint32_t i = 0; i < nmods; i++)
        mod[i] = ((const struct mb_mod *)mbi->mods_addr)[i];
    struct copy c[3] = {
        {"vlbl", mod[0].start, HVRR_VLBL_GPA, mod[0].end - mod[0].start, 0},
        {"bzImage", mod[1].start, HVRR_KERNEL_GPA, mod[1].end - mod[1].start, 0},
        {"initrd", 0, 0, 0, 1},
    };
    if (c[0].len > HVRR_VLBL_MAX)
        die("vlbl.bin is larger than 32 KiB");
    if (nmods == 3) {
        c[2].src = mod[2].start;
        c[2].len = mod[2].end - mod[2].start;
        c[2].dst = (uint32_t)((ram - c[2].len) & ~0xfffull);
        c[2].done = 0;
    }
    for (int i = 0; i < 3; i++) {
        if (c[i].done)
            continue;
        if ((uint64_t)c[i].dst + c[i].len > ram)
            die("a module does not fit in RAM");
        if (overlaps(c[i].dst, c[i].len, (uint32_t)__shim_start,
                     (uint32_t)(__shim_end - __shim_start)))
            die("a module's destination overlaps the shim");
    }
    if (overlaps(c[1].dst, c[1].len, c[2].dst, c[2].len))
        die("bzImage and initrd destinations overlap (too little RAM?)");

    /* Copy in an order that never overwrites a source still to be copied. */
    for (int left = 3; left > 0;) {
        int progress = 0;
        for (int i = 0; i < 3; i++) {
            if (c[i].done)
                continue;
            int ok = 1;
            for (int j = 0; j < 3; j++)
                if (j != i && !c[j].done && overlaps(c[i].dst, c[i].len, c[j].src, c[j].len))
                    ok = 0;
            if (!ok)
                continue;
            puts_("hvrr-qemu-shim: ");
            puts_(c[i].what);
            puts_(" ");
            puthex(c[i].src);
            puts_(" -> ");
            puthex(c[i].dst);
            puts_(", ");
            puthex(c[i].len);
            puts_(" bytes\n");
            memmove_((void *)c[i].dst, (const void *)c[i].src, c[i].len);
            c[i].done = 1;
            progress = 1;
        }
        left = 0;
        for (int i = 0; i < 3; i++)
            left += !c[i].done;
        if (left && !progress)
            die("cannot order the module copies without clobbering one");
    }

    memmove_((void *)HVRR_CMDLINE_GPA, cmdline, n + 1);
    scrub_firmware_tables();

    struct hvrr_bootinfo *bi = (struct hvrr_bootinfo *)HVRR_BOOTINFO_GPA;
    memset_(bi, 0, sizeof *bi);
    bi->magic = HVRR_BOOTINFO_MAGIC;
    bi->version = HVRR_BOOTINFO_VERSION;
    bi->ram_bytes = ram;
    bi->kernel_gpa = HVRR_KERNEL_GPA;
    bi->kernel_size = c[1].len;
    bi->initrd_gpa = nmods == 3 ? c[2].dst : 0;
    bi->initrd_size = nmods == 3 ? c[2].len : 0;
    bi->cmdline_gpa = HVRR_CMDLINE_GPA;
    bi->cmdline_len = n;
    puts_("hvrr-qemu-shim: RAM ");
    puthex((uint32_t)ram);
    puts_(", entering vlbl at 0000:8000 in real mode\n");
    shim_enter_vlbl();
}
