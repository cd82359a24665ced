/* vlbl: minimal real-mode loader for Linux bzImages under hvrr
 * (docs/vlbl.md). The hypervisor leaves the raw bzImage, the initramfs,
 * the command line and struct hvrr_bootinfo in guest RAM; vlbl installs
 * its BIOS services, lays the kernel out as the x86 boot protocol wants
 * and enters the kernel's real-mode setup code. */
#include "guest/vlbl/bootinfo.h"
#include "guest/vlbl/vlbl.h"

/* Setup header offsets (Documentation/arch/x86/boot.rst). */
#define HDR_SETUP_SECTS  0x1f1
#define HDR_VID_MODE     0x1fa
#define HDR_BOOT_FLAG    0x1fe
#define HDR_HEADER       0x202
#define HDR_VERSION      0x206
#define HDR_LOADER_TYPE  0x210
#define HDR_LOADFLAGS    0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMG  0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_MAX   0x22c
#define HDR_CMDLINE_SIZE 0x238
#define HDR_INIT_SIZE    0x260

#define HDRS_MAGIC    0x53726448u /* "HdrS" */
#define LOADED_HIGH   0x01
#define KEEP_SEGMENTS 0x40
#define CAN_USE_HEAP  0x80

static int cmdline_has(const char *cmd, uint32_t len, const char *word)
{
    uint32_t wl = 0;
    while (word[wl])
        wl++;
    for (uint32_t i = 0; i + wl <= len; i++) {
        if (i > 0 && cmd[i - 1] != ' ')
            continue;
        uint32_t j = 0;
        while (j < wl && cmd[i + j] == word[j])
            j++;
        if (j == wl && (i + wl == len || cmd[i + wl] == ' ' || cmd[i + wl] == '='))
            return 1;
    }
    return 0;
}

/* 1 if addresses wrap at 1 MiB (A20 masked). Runs before anything lives at
 * 0x100500. */
static int a20_off(void)
{
    uint32_t lo = PHYS32(0x500), hi = PHYS32(0x100500);
    PHYS32(0x100500) = ~lo;
    int off = PHYS32(0x500) != lo;
    PHYS32(0x500) = lo;
    if (!off)
        PHYS32(0x100500) = hi;
    return off;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

void vlbl_main(void)
{
    const struct hvrr_bootinfo *bi = (const struct hvrr_bootinfo *)HVRR_BOOTINFO_GPA;

    con_init();
    con_puts("\nvlbl: hvrr Linux loader\n");
    if (bi->magic != HVRR_BOOTINFO_MAGIC)
        vlbl_die("no hvrr bootinfo at %x (magic %08x, want %08x)", HVRR_BOOTINFO_GPA, bi->magic,
                 HVRR_BOOTINFO_MAGIC);
    if (bi->version != HVRR_BOOTINFO_VERSION)
        vlbl_die("bootinfo version %u, vlbl understands %u", bi->version, HVRR_BOOTINFO_VERSION);
    if (bi->ram_bytes < 0x200000 || bi->ram_bytes > 0xffffffffull)
        vlbl_die("ram_bytes %llx: need 2 MiB .. 4 GiB", bi->ram_bytes);
    if (bi->cmdline_gpa >= 0xa0000 || bi->cmdline_len >= HVRR_CMDLINE_MAX)
        vlbl_die("command line at %llx (%u bytes) must lie below 0xa0000", bi->cmdline_gpa,
                 bi->cmdline_len);

    if (a20_off()) {
        con_puts("vlbl: A20 is off; enabling it through port 0x92\n");
        outb(0x92, (uint8_t)((inb(0x92) | 0x02) & ~0x01));
        if (a20_off())
            vlbl_die("A20 is off and port 0x92 did not enable it");
    }

    const char *cmd = (const char *)(uintptr_t)bi->cmdline_gpa;
    int debug = cmdline_has(cmd, bi->cmdline_len, "vlbl.debug");
    bios_init(bi->ram_bytes, debug);

    uint32_t k = (uint32_t)bi->kernel_gpa;
    uint32_t ksize = (uint32_t)bi->kernel_size;
    if (bi->kernel_gpa < 0x100000 || bi->kernel_gpa + bi->kernel_size > bi->ram_bytes ||
        ksize < 0x1000)
        vlbl_die("kernel at %llx size %llx is not in RAM above 1 MiB", bi->kernel_gpa,
                 bi->kernel_size);
    if (PHYS32(k + HDR_HEADER) != HDRS_MAGIC || PHYS16(k + HDR_BOOT_FLAG) != 0xaa55)
        vlbl_die("no Linux boot header (\"HdrS\") in the kernel at %x: not a bzImage?", k);
    uint16_t ver = PHYS16(k + HDR_VERSION);
    if (ver < 0x0206)
        vlbl_die("kernel boot protocol %u.%02x, vlbl needs 2.06 or later", ver >> 8, ver & 0xff);
    uint8_t loadflags = PHYS8(k + HDR_LOADFLAGS);
    if (!(loadflags & LOADED_HIGH))
        vlbl_die("zImage (not LOADED_HIGH) kernels are not supported");

    uint32_t setup_sects = PHYS8(k + HDR_SETUP_SECTS);
    if (setup_sects == 0)
        setup_sects = 4;
    uint32_t setup_size = (setup_sects + 1) * 512;
    if (setup_size > VLBL_SETUP_MAX || setup_size >= ksize)
        vlbl_die("setup of %u sectors does not fit", setup_sects);
    uint32_t pm_size = ksize - setup_size;
    uint32_t code32 = PHYS32(k + HDR_CODE32_START);
    uint32_t init_size = ver >= 0x020a ? PHYS32(k + HDR_INIT_SIZE) : 0;
    uint32_t initrd_max = PHYS32(k + HDR_INITRD_MAX);
    uint32_t cmdline_max = PHYS32(k + HDR_CMDLINE_SIZE);
    uint32_t setup = (uint32_t)VLBL_SETUP_SEG << 4;

    if (bi->cmdline_len > cmdline_max)
        vlbl_die("command line of %u bytes exceeds the kernel's cmdline_size %u", bi->cmdline_len,
                 cmdline_max);
    if (code32 < 0x100000)
        vlbl_die("code32_start %x is below 1 MiB", code32);
    if (code32 + pm_size > bi->ram_bytes)
        vlbl_die("protected-mode kernel (%x bytes at %x) exceeds RAM", pm_size, code32);
    if (overlaps(code32, pm_size, k, setup_size))
        vlbl_die("kernel at %x would overwrite its own setup code when moved to %x", k, code32);
    if (overlaps(bi->cmdline_gpa, bi->cmdline_len + 1, setup, 0x10000))
        vlbl_die("command line at %llx overlaps the setup segment %x", bi->cmdline_gpa, setup);
    if (bi->initrd_gpa) {
        if (bi->initrd_gpa + bi->initrd_size > bi->ram_bytes)
            vlbl_die("initrd at %llx size %llx is not in RAM", bi->initrd_gpa, bi->initrd_size);
        if (bi->initrd_gpa + bi->initrd_size - 1 > initrd_max)
            vlbl_die("initrd at %llx size %llx ends above the kernel's initrd_addr_max %x",
                     bi->initrd_gpa, bi->initrd_size, initrd_max);
        if (overlaps(bi->initrd_gpa, bi->initrd_size, code32, pm_size) ||
            overlaps(bi->initrd_gpa, bi->initrd_size, bi->kernel_gpa, bi->kernel_size))
            vlbl_die("initrd at %llx overlaps the kernel", bi->initrd_gpa);
    }

    con_printf("vlbl: bzImage %x bytes at %x, boot protocol %u.%02x, setup %u sectors\n", ksize, k,
               ver >> 8, ver & 0xff, setup_sects);
    con_printf(
        "vlbl: RAM %llx bytes; kernel %x bytes -> %x (init_size %x); initrd %llx bytes at %llx\n",
        bi->ram_bytes, pm_size, code32, init_size, bi->initrd_size, bi->initrd_gpa);
    con_printf("vlbl: cmdline \"%s\"\n", cmd);

    /* Protected-mode kernel first (its source lies after the setup in the
     * bzImage), then the real-mode setup (boot sector included). */
    phys_move(code32, k + setup_size, pm_size);
    phys_move(setup, k, setup_size);

    PHYS16(setup + HDR_VID_MODE) = 0xffff; /* NORMAL_VGA */
    PHYS8(setup + HDR_LOADER_TYPE) = 0xff; /* no registered loader id */
    PHYS8(setup + HDR_LOADFLAGS) = (uint8_t)((loadflags | CAN_USE_HEAP) & ~KEEP_SEGMENTS);
    PHYS16(setup + HDR_HEAP_END_PTR) = VLBL_HEAP_END - 0x200;
    PHYS32(setup + HDR_CMD_LINE_PTR) = (uint32_t)bi->cmdline_gpa;
    PHYS32(setup + HDR_RAMDISK_IMG) = (uint32_t)bi->initrd_gpa;
    PHYS32(setup + HDR_RAMDISK_SIZE) = bi->initrd_gpa ? (uint32_t)bi->initrd_size : 0;

    con_printf("vlbl: entering setup at %04x:0000\n", VLBL_SETUP_SEG + 0x20);
    vlbl_start_linux(VLBL_SETUP_SEG, VLBL_HEAP_END);
}
