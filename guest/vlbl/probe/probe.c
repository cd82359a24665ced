/* vlbl-probe: checks, from where Linux's real-mode setup would run, what
 * vlbl handed over and how its BIOS answers (docs/vlbl.md). Prints
 * "probe: FAIL ..." per mismatch and "VLBL-PROBE: PASS" or
 * "VLBL-PROBE: FAIL (n)" on COM1, then halts. */
#include <stdint.h>

#include "guest/vlbl/bootinfo.h"
#include "hv/portio.h"

struct regs {
    uint32_t eax, ebx, ecx, edx, esi, edi;
    uint16_t ds, es, flags;
} __attribute__((packed));

void intcall(uint32_t vec, const struct regs *in, struct regs *out);
void probe_main(void);
extern uint16_t entry_flags, entry_ds, entry_es, entry_fs, entry_gs, entry_ss, entry_cs;
extern uint32_t entry_esp;
extern const char _start[];

#define FL_CF 0x0001
#define FL_ZF 0x0040
#define FL_IF 0x0200

static unsigned failures;

/* Memory outside the setup segment, through FS (real-mode addressing only). */
static uint32_t peek32(uint16_t seg, uint32_t off)
{
    uint32_t v;
    __asm__ volatile("movw %w1, %%fs\n\tmovl %%fs:(%2), %0" : "=r"(v) : "r"(seg), "r"(off));
    return v;
}
static uint16_t peek16(uint16_t seg, uint32_t off)
{
    return (uint16_t)peek32(seg, off);
}
static uint8_t peek8(uint16_t seg, uint32_t off)
{
    return (uint8_t)peek32(seg, off);
}

static void putc_(char c)
{
    for (uint32_t i = 0; i < 1000000 && !(inb(0x3fd) & 0x20); i++)
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
    int started = 0;
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4) {
        unsigned d = (v >> i) & 15;
        if (d || started || i == 0) {
            putc_("0123456789abcdef"[d]);
            started = 1;
        }
    }
}

static void check(const char *what, uint32_t got, uint32_t want)
{
    if (got == want)
        return;
    failures++;
    puts_("probe: FAIL ");
    puts_(what);
    puts_(": got ");
    puthex(got);
    puts_(", want ");
    puthex(want);
    puts_("\n");
}

static void checkb(const char *what, int ok)
{
    if (!ok) {
        failures++;
        puts_("probe: FAIL ");
        puts_(what);
        puts_("\n");
    }
}

static void call(uint32_t vec, struct regs *r, uint32_t eax, uint32_t ebx, uint32_t ecx,
                 uint32_t edx)
{
    struct regs in = {eax, ebx, ecx, edx, 0x5a5a1234u, 0xa5a54321u, 0, 0, 0};
    __asm__ volatile("movw %%ds, %0" : "=r"(in.ds));
    in.es = in.ds;
    intcall(vec, &in, r);
    check("INT preserves ESI", r->esi, in.esi);
}

static void check_e820(uint32_t ram)
{
    static const uint32_t want[4][3] = {
        {0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, 0, 1}};
    struct {
        uint64_t addr, size;
        uint32_t type;
    } __attribute__((packed)) e;
    uint32_t next = 0;
    unsigned n = 0;
    do {
        struct regs in = {0xe820, next, 20, 0x534d4150u, 0, (uint32_t)(uintptr_t)&e, 0, 0, 0}, r;
        __asm__ volatile("movw %%ds, %0" : "=r"(in.es));
        intcall(0x15, &in, &r);
        if (r.flags & FL_CF) {
            checkb("E820 entry CF clear", 0);
            break;
        }
        check("E820 EAX", r.eax, 0x534d4150u);
        check("E820 ECX", r.ecx, 20);
        if (n < 4) {
            uint32_t size = n == 3 ? ram - 0x100000 : want[n][1];
            check("E820 addr", (uint32_t)e.addr, want[n][0]);
            check("E820 size", (uint32_t)e.size, size);
            check("E820 type", e.type, want[n][2]);
        }
        n++;
        next = r.ebx;
    } while (next && n < 16);
    check("E820 entries", n, 4);
}

void probe_main(void)
{
    struct regs r;
    const char *hdr = _start; /* this image's boot sector, at setup segment:0 */
    uint32_t ram = peek32(0, HVRR_BOOTINFO_GPA + 0x08);
    uint32_t initrd = peek32(0, HVRR_BOOTINFO_GPA + 0x20);
    uint32_t initrd_size = peek32(0, HVRR_BOOTINFO_GPA + 0x28);
    uint32_t cmdline = peek32(0, HVRR_BOOTINFO_GPA + 0x30);

    puts_("probe: vlbl-probe running\n");
    /* Hand-over registers (boot protocol). */
    check("entry CS", entry_cs, 0x1020);
    check("entry DS", entry_ds, 0x1000);
    check("entry ES", entry_es, 0x1000);
    check("entry FS", entry_fs, 0x1000);
    check("entry GS", entry_gs, 0x1000);
    check("entry SS", entry_ss, 0x1000);
    check("entry ESP", entry_esp, 0xf000);
    check("entry IF", entry_flags & FL_IF, 0);

    /* Setup header fields vlbl writes. */
    check("vid_mode", *(const uint16_t *)(hdr + 0x1fa), 0xffff);
    check("type_of_loader", (uint8_t)hdr[0x210], 0xff);
    check("loadflags", (uint8_t)hdr[0x211], 0x81);
    check("heap_end_ptr", *(const uint16_t *)(hdr + 0x224), 0xee00);
    check("cmd_line_ptr", *(const uint32_t *)(hdr + 0x228), cmdline);
    check("ramdisk_image", *(const uint32_t *)(hdr + 0x218), initrd);
    check("ramdisk_size", *(const uint32_t *)(hdr + 0x21c), initrd ? initrd_size : 0);
    /* The protected-mode part at code32_start (0x100000 = ffff:0010, A20 on). */
    static const char payload[] = "VLBL-PM-PAYLOAD";
    int same = 1;
    for (unsigned i = 0; i < sizeof payload; i++)
        same &= peek8(0xffff, 0x10 + i) == (uint8_t)payload[i];
    checkb("protected-mode part at 0x100000", same);

    /* BIOS data area, IVT, PICs. */
    check("BDA COM1", peek16(0, 0x400), 0x3f8);
    check("BDA EBDA segment", peek16(0, 0x40e), 0x9fc0);
    check("BDA memory KiB", peek16(0, 0x413), 639);
    check("BDA video mode", peek8(0, 0x449), 3);
    check("BDA columns", peek16(0, 0x44a), 80);
    check("BDA rows-1", peek8(0, 0x484), 24);
    check("BDA font height", peek8(0, 0x485), 16);
    uint32_t v10 = peek32(0, 0x10 * 4);
    checkb("IVT INT 10h points into vlbl", (v10 >> 16) == 0 && (v10 & 0xffff) >= 0x8000);
    check("master PIC IMR", inb(0x21), 0xff);
    check("slave PIC IMR", inb(0xa1), 0xff);

    /* BIOS services. */
    check_e820(ram);
    call(0x15, &r, 0xe801, 0, 0, 0);
    check("E801 CF", r.flags & FL_CF, 0);
    check("E801 AX", r.eax & 0xffff, ram > 0x1000000 ? 0x3c00 : (ram - 0x100000) >> 10);
    check("E801 CX", r.ecx & 0xffff, r.eax & 0xffff);
    check("E801 BX", r.ebx & 0xffff, ram > 0x1000000 ? (ram - 0x1000000) >> 16 : 0);
    check("E801 DX", r.edx & 0xffff, r.ebx & 0xffff);
    call(0x15, &r, 0x8800, 0, 0, 0);
    uint32_t kb = (ram - 0x100000) >> 10;
    check("INT 15h AH=88h", r.eax & 0xffff, kb > 0xfc00 ? 0xfc00 : kb);
    call(0x15, &r, 0x2402, 0, 0, 0);
    check("A20 query CF", r.flags & FL_CF, 0);
    check("A20 query AL", r.eax & 0xff, 1);
    call(0x15, &r, 0xec00, 2, 0, 0);
    check("INT 15h AX=EC00h CF", r.flags & FL_CF, 0);
    call(0x15, &r, 0xe980, 0, 0, 0x47534943);
    check("INT 15h AX=E980h CF", r.flags & FL_CF, FL_CF);
    check("INT 15h AX=E980h AH", (r.eax >> 8) & 0xff, 0x86);
    call(0x12, &r, 0, 0, 0, 0);
    check("INT 12h", r.eax & 0xffff, 639);
    call(0x11, &r, 0, 0, 0, 0);
    check("INT 11h", r.eax & 0xffff, 0x0220);
    call(0x10, &r, 0x0f00, 0, 0, 0);
    check("INT 10h AH=0Fh AX", r.eax & 0xffff, 0x5003);
    check("INT 10h AH=0Fh BH", (r.ebx >> 8) & 0xff, 0);
    call(0x10, &r, 0x1200, 0x10, 0, 0);
    check("INT 10h AH=12h BL (no EGA/VGA)", r.ebx & 0xff, 0x10);
    call(0x10, &r, 0x1a00, 0, 0, 0);
    checkb("INT 10h AX=1A00h says no VGA", (r.eax & 0xff) != 0x1a);
    call(0x10, &r, 0x4f00, 0, 0, 0);
    checkb("INT 10h AX=4F00h says no VESA", (r.eax & 0xffff) != 0x004f);
    call(0x10, &r, 0x0200, 0, 0, 0x0c05);
    call(0x10, &r, 0x0300, 0, 0, 0);
    check("INT 10h cursor position", r.edx & 0xffff, 0x0c05);
    call(0x13, &r, 0x4100, 0x55aa, 0, 0x80);
    check("INT 13h AH=41h CF (no disks)", r.flags & FL_CF, FL_CF);
    call(0x16, &r, 0x0100, 0, 0, 0);
    check("INT 16h AH=01h ZF (no key)", r.flags & FL_ZF, FL_ZF);
    call(0x16, &r, 0x0200, 0, 0, 0);
    check("INT 16h AH=02h AL", r.eax & 0xff, 0);
    call(0x1a, &r, 0x0200, 0, 0, 0);
    check("INT 1Ah AH=02h CF", r.flags & FL_CF, 0);
    call(0x60, &r, 0x1234, 0, 0, 0);
    check("unknown INT 60h CF", r.flags & FL_CF, FL_CF);
    call(0x10, &r, 0x0e00 | '\n', 7, 0, 0); /* teletype goes to COM1 */

    if (failures) {
        puts_("VLBL-PROBE: FAIL (");
        puthex(failures);
        puts_(" checks)\n");
    } else {
        puts_("VLBL-PROBE: PASS\n");
    }
}
