/* vlbl's BIOS: the interrupt services Linux's real-mode setup code calls
 * (arch/x86/boot), answered without any firmware, only with port I/O to
 * the emulated COM1, PIC and CMOS. See docs/vlbl.md for each answer. */
#include "guest/vlbl/vlbl.h"

#define FL_CF 0x0001
#define FL_ZF 0x0040

#define SMAP 0x534d4150u /* "SMAP" */

#define BDA_COM1      0x400
#define BDA_EBDA_SEG  0x40e
#define BDA_EQUIP     0x410
#define BDA_MEM_KB    0x413
#define BDA_KBD_FLAGS 0x417
#define BDA_VMODE     0x449
#define BDA_VCOLS     0x44a
#define BDA_VPAGESZ   0x44c
#define BDA_CURSOR    0x450
#define BDA_CURSHAPE  0x460
#define BDA_VPAGE     0x462
#define BDA_CRTC      0x463
#define BDA_TICKS     0x46c
#define BDA_DISK_ST   0x474
#define BDA_ROWS      0x484
#define BDA_FONT      0x485

static uint64_t ram_bytes;
static int debug;
static unsigned logged;
static uint16_t seen[32]; /* (vector << 8 | AH) of unsupported calls already logged */

struct e820 {
    uint64_t addr, size;
    uint32_t type;
} __attribute__((packed));

static struct e820 e820_map[4];
static unsigned e820_n;

static inline uint8_t reg_ah(const struct vlbl_frame *f)
{
    return (uint8_t)(f->eax >> 8);
}
static inline uint8_t reg_al(const struct vlbl_frame *f)
{
    return (uint8_t)f->eax;
}
static inline uint16_t reg_ax(const struct vlbl_frame *f)
{
    return (uint16_t)f->eax;
}
static inline uint8_t reg_bl(const struct vlbl_frame *f)
{
    return (uint8_t)f->ebx;
}
static inline uint8_t reg_bh(const struct vlbl_frame *f)
{
    return (uint8_t)(f->ebx >> 8);
}
static inline void set_ax(struct vlbl_frame *f, uint16_t v)
{
    f->eax = (f->eax & 0xffff0000u) | v;
}
static inline void set_ah(struct vlbl_frame *f, uint8_t v)
{
    f->eax = (f->eax & 0xffff00ffu) | (uint32_t)v << 8;
}
static inline void set_al(struct vlbl_frame *f, uint8_t v)
{
    f->eax = (f->eax & 0xffffff00u) | v;
}
static inline void set_bx(struct vlbl_frame *f, uint16_t v)
{
    f->ebx = (f->ebx & 0xffff0000u) | v;
}
static inline void set_cx(struct vlbl_frame *f, uint16_t v)
{
    f->ecx = (f->ecx & 0xffff0000u) | v;
}
static inline void set_dx(struct vlbl_frame *f, uint16_t v)
{
    f->edx = (f->edx & 0xffff0000u) | v;
}
static inline void set_bh(struct vlbl_frame *f, uint8_t v)
{
    f->ebx = (f->ebx & 0xffff00ffu) | (uint32_t)v << 8;
}
static inline void cf(struct vlbl_frame *f, int on)
{
    f->flags = on ? (f->flags | FL_CF) : (f->flags & ~FL_CF);
}
static inline void zf(struct vlbl_frame *f, int on)
{
    f->flags = on ? (f->flags | FL_ZF) : (f->flags & ~FL_ZF);
}
static inline uint32_t seg_addr(uint16_t seg, uint16_t off)
{
    return ((uint32_t)seg << 4) + off;
}

/* Log an unsupported call once per (vector, AH). */
static void unsupported(const struct vlbl_frame *f)
{
    uint16_t key = (uint16_t)(f->vec << 8 | reg_ah(f));
    unsigned i;
    for (i = 0; i < logged; i++)
        if (seen[i] == key)
            return;
    if (logged < sizeof seen / sizeof seen[0])
        seen[logged++] = key;
    con_printf("vlbl: INT %02x AX=%04x BX=%04x CX=%04x DX=%04x from %04x:%04x: unsupported\n",
               f->vec, reg_ax(f), (uint16_t)f->ebx, (uint16_t)f->ecx, (uint16_t)f->edx, f->cs,
               f->ip);
}

/* INT 10h: video. A plain CGA-class 80x25 colour text adapter (mode 3)
 * whose only output is teletype to COM1; EGA/VGA/VESA probes say "absent". */
static void int10(struct vlbl_frame *f)
{
    uint8_t page = reg_bh(f) & 7;
    switch (reg_ah(f)) {
    case 0x00: /* set mode */
        PHYS8(BDA_VMODE) = reg_al(f) & 0x7f;
        for (int i = 0; i < 8; i++)
            PHYS16(BDA_CURSOR + 2 * i) = 0;
        break;
    case 0x01: /* set cursor shape */ PHYS16(BDA_CURSHAPE) = (uint16_t)f->ecx; break;
    case 0x02: /* set cursor position */ PHYS16(BDA_CURSOR + 2 * page) = (uint16_t)f->edx; break;
    case 0x03: /* get cursor position and shape */
        set_dx(f, PHYS16(BDA_CURSOR + 2 * page));
        set_cx(f, PHYS16(BDA_CURSHAPE));
        break;
    case 0x05: /* select page */ PHYS8(BDA_VPAGE) = reg_al(f) & 7; break;
    case 0x06: /* scroll up/down: nothing to scroll */
    case 0x07:
    case 0x09: /* write char/attr at cursor: no screen */
    case 0x0a:
    case 0x10: /* palette */ break;
    case 0x08: /* read char/attr: blank */ set_ax(f, 0x0720); break;
    case 0x0e: /* teletype output */ con_putc((char)reg_al(f)); break;
    case 0x0f: /* get mode: AL mode, AH columns, BH page */
        set_al(f, PHYS8(BDA_VMODE));
        set_ah(f, (uint8_t)PHYS16(BDA_VCOLS));
        set_bh(f, PHYS8(BDA_VPAGE));
        break;
    case 0x11:                   /* character generator */
        if (reg_al(f) == 0x30) { /* get font info */
            set_cx(f, PHYS8(BDA_FONT));
            f->edx = (f->edx & 0xffffff00u) | PHYS8(BDA_ROWS);
            f->es = 0;
            f->ebp &= 0xffff0000u;
        }
        break;
    case 0x12: /* EGA/VGA alternate select: leaving BL=10h says "no EGA/VGA" */ break;
    case 0x1a: /* VGA display combination: AL != 1Ah says "no VGA" */ set_al(f, 0); break;
    case 0x4f: /* VESA BIOS extensions: AL != 4Fh says "not supported" */ set_ax(f, 0x0100); break;
    default: unsupported(f); break;
    }
}

/* INT 13h: disks. There are none: every function fails with AH=01h. */
static void int13(struct vlbl_frame *f)
{
    if (reg_ah(f) != 0x41 && reg_ah(f) != 0x02 && reg_ah(f) != 0x08 && reg_ah(f) != 0x48 &&
        reg_ah(f) != 0x00)
        unsupported(f);
    set_ah(f, 0x01);
    PHYS8(BDA_DISK_ST) = 0x01;
    cf(f, 1);
}

static void e820_add(uint64_t addr, uint64_t end, uint32_t type)
{
    if (end <= addr || e820_n >= sizeof e820_map / sizeof e820_map[0])
        return;
    e820_map[e820_n].addr = addr;
    e820_map[e820_n].size = end - addr;
    e820_map[e820_n].type = type;
    e820_n++;
}

/* INT 15h: system services. */
static void int15(struct vlbl_frame *f)
{
    uint16_t ax = reg_ax(f);
    if (ax == 0xe820) {
        uint32_t idx = f->ebx, n = f->ecx;
        if (f->edx != SMAP || idx >= e820_n || n < 20) {
            set_ah(f, 0x86);
            cf(f, 1);
            return;
        }
        uint8_t *dst = (uint8_t *)(uintptr_t)seg_addr(f->es, (uint16_t)f->edi);
        memcpy(dst, &e820_map[idx], 20);
        if (n >= 24) { /* ACPI 3.0 extended attributes: "enabled" */
            dst[20] = 1;
            dst[21] = dst[22] = dst[23] = 0;
            n = 24;
        } else {
            n = 20;
        }
        f->eax = SMAP;
        f->ecx = n;
        f->ebx = idx + 1 < e820_n ? idx + 1 : 0;
        cf(f, 0);
        return;
    }
    if (ax == 0xe801) {
        uint64_t above1m = ram_bytes > 0x100000 ? ram_bytes - 0x100000 : 0;
        uint32_t low_kb = above1m > 0xf00000 ? 0x3c00 : (uint32_t)(above1m >> 10);
        uint64_t top = ram_bytes < 0x100000000ull ? ram_bytes : 0x100000000ull;
        uint32_t high_64k = top > 0x1000000 ? (uint32_t)((top - 0x1000000) >> 16) : 0;
        if (high_64k > 0xffff)
            high_64k = 0xffff;
        set_ax(f, (uint16_t)low_kb);
        set_cx(f, (uint16_t)low_kb);
        set_bx(f, (uint16_t)high_64k);
        set_dx(f, (uint16_t)high_64k);
        cf(f, 0);
        return;
    }
    switch (reg_ah(f)) {
    case 0x88: { /* extended memory size in KiB, capped like old BIOSes */
        uint64_t kb = ram_bytes > 0x100000 ? (ram_bytes - 0x100000) >> 10 : 0;
        set_ax(f, kb > 0xfc00 ? 0xfc00 : (uint16_t)kb);
        cf(f, 0);
        return;
    }
    case 0x24: /* A20 gate: always enabled */
        if (reg_al(f) == 0x02)
            set_al(f, 1);
        else if (reg_al(f) == 0x03)
            set_bx(f, 0x0003);
        else if (reg_al(f) > 0x03)
            break;
        set_ah(f, 0);
        cf(f, 0);
        return;
    case 0xec: /* AX=EC00: target operating mode hint (long mode): noted */
        if (ax == 0xec00) {
            set_ah(f, 0);
            cf(f, 0);
            return;
        }
        break;
    case 0xe9: /* AX=E980: Intel SpeedStep (IST): absent, no need to log */
    case 0x53: /* APM: absent */
    case 0xc0: /* system configuration table: none */
        set_ah(f, 0x86);
        cf(f, 1);
        return;
    default: break;
    }
    unsupported(f);
    set_ah(f, 0x86);
    cf(f, 1);
}

/* INT 16h: keyboard. Never a key, no shift keys. */
static void int16(struct vlbl_frame *f)
{
    switch (reg_ah(f)) {
    case 0x00: /* read key: would block forever; return a NUL key instead */
    case 0x10: set_ax(f, 0); break;
    case 0x01: /* key available? no */
    case 0x11: zf(f, 1); break;
    case 0x02: /* shift flags */ set_al(f, PHYS8(BDA_KBD_FLAGS)); break;
    case 0x12: set_ax(f, PHYS8(BDA_KBD_FLAGS)); break;
    case 0x03: /* set typematic rate: accepted */ break;
    case 0x05: /* store key: buffer full */ set_al(f, 1); break;
    default: unsupported(f); break;
    }
}

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

/* INT 1Ah: time from the CMOS RTC (BCD, as the RTC stores it). */
static void int1a(struct vlbl_frame *f)
{
    switch (reg_ah(f)) {
    case 0x00: /* ticks since midnight: the BDA counter (nothing advances it) */
        set_cx(f, PHYS16(BDA_TICKS + 2));
        set_dx(f, PHYS16(BDA_TICKS));
        set_al(f, 0);
        break;
    case 0x02: /* RTC time */
        set_cx(f, (uint16_t)(cmos(4) << 8 | cmos(2)));
        set_dx(f, (uint16_t)(cmos(0) << 8));
        cf(f, 0);
        break;
    case 0x04: /* RTC date */
        set_cx(f, (uint16_t)(cmos(0x32) << 8 | cmos(9)));
        set_dx(f, (uint16_t)(cmos(8) << 8 | cmos(7)));
        cf(f, 0);
        break;
    default:
        unsupported(f);
        cf(f, 1);
        break;
    }
}

/* Vectors 08h-0Fh / 70h-77h are IRQs from the PICs (all masked by vlbl)
 * or, for 08h-0Eh, CPU exceptions. Returns 1 if it was an IRQ. */
static int irq(struct vlbl_frame *f)
{
    if (f->vec >= 0x08 && f->vec <= 0x0f) {
        outb(0x20, 0x0b); /* OCW3: read ISR */
        uint8_t isr = inb(0x20);
        if (isr & (1u << (f->vec - 0x08))) {
            outb(0x20, 0x20);
            return 1;
        }
        return f->vec == 0x0f; /* spurious IRQ 7 */
    }
    if (f->vec >= 0x70 && f->vec <= 0x77) {
        outb(0xa0, 0x0b);
        uint8_t isr = inb(0xa0);
        if (isr & (1u << (f->vec - 0x70))) {
            outb(0xa0, 0x20);
            outb(0x20, 0x20);
        }
        return 1;
    }
    return 0;
}

void vlbl_int(struct vlbl_frame *f)
{
    if (debug)
        con_printf("vlbl: INT %02x AX=%04x BX=%04x CX=%04x DX=%04x ES=%04x DI=%04x\n", f->vec,
                   reg_ax(f), (uint16_t)f->ebx, (uint16_t)f->ecx, (uint16_t)f->edx, f->es,
                   (uint16_t)f->edi);
    switch (f->vec) {
    case 0x10: int10(f); return;
    case 0x11: /* equipment list */ set_ax(f, PHYS16(BDA_EQUIP)); return;
    case 0x12: /* conventional memory size in KiB */ set_ax(f, PHYS16(BDA_MEM_KB)); return;
    case 0x13: int13(f); return;
    case 0x15: int15(f); return;
    case 0x16: int16(f); return;
    case 0x1a: int1a(f); return;
    case 0x02: /* NMI */ return;
    default: break;
    }
    if (irq(f))
        return;
    if (f->vec <= 0x0e && f->vec != 0x03 && f->vec != 0x04 && f->vec != 0x05)
        vlbl_die("CPU exception %02x at %04x:%04x (flags %04x, EAX=%x ESP=%x)", f->vec, f->cs,
                 f->ip, f->flags, (unsigned)f->eax, (unsigned)f->esp);
    unsupported(f);
    cf(f, 1);
}

/* Build the IVT, the BIOS data area and the EBDA, program the PICs (all
 * IRQs masked, vectors 08h/70h as a BIOS leaves them) and the E820 map. */
void bios_init(uint64_t ram, int dbg)
{
    ram_bytes = ram;
    debug = dbg;

    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x08);
    outb(0xa1, 0x70);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    for (uint32_t v = 0; v < 256; v++)
        PHYS32(4 * v) = (uint32_t)(uintptr_t)vlbl_int_stubs + v * VLBL_STUB_SIZE; /* segment 0 */

    memset((void *)0x400, 0, 0x100);
    PHYS16(BDA_COM1) = 0x3f8;
    PHYS16(BDA_EBDA_SEG) = VLBL_EBDA_SEG;
    PHYS16(BDA_EQUIP) = 0x0220; /* 80x25 colour, one serial port, no floppy */
    PHYS16(BDA_MEM_KB) = VLBL_LOWMEM_KB;
    PHYS8(BDA_VMODE) = 3;
    PHYS16(BDA_VCOLS) = 80;
    PHYS16(BDA_VPAGESZ) = 0x1000;
    PHYS16(BDA_CURSHAPE) = 0x0607;
    PHYS16(BDA_CRTC) = 0x3d4;
    PHYS8(BDA_ROWS) = 24;
    PHYS16(BDA_FONT) = 16;

    memset((void *)((uint32_t)VLBL_EBDA_SEG << 4), 0, 0x400);
    PHYS8((uint32_t)VLBL_EBDA_SEG << 4) = 1; /* EBDA size in KiB */

    e820_n = 0;
    e820_add(0, (uint32_t)VLBL_EBDA_SEG << 4, 1);
    e820_add((uint32_t)VLBL_EBDA_SEG << 4, 0xa0000, 2);
    e820_add(0xf0000, 0x100000, 2);
    e820_add(0x100000, ram_bytes, 1);
}
