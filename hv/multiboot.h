/* Multiboot (version 1) loader for guests: the hypervisor boots a
 * third-party kernel the way GRUB's `multiboot` command or QEMU's -kernel
 * do (Multiboot Specification 0.6.96, sections 3.1-3.3).
 *
 * Accepted images: a Multiboot header (magic 0x1BADB002, flags, checksum,
 * 4-byte aligned in the first 8192 bytes), then either
 *  - flag 16 (the "a.out kludge"): the header's load_addr / load_end_addr /
 *    bss_end_addr / entry_addr say what to copy from the file, whatever the
 *    file's format;
 *  - otherwise an ELF executable, little-endian: ELF32 EM_386, or ELF64
 *    EM_X86_64 whose segments and entry lie below 4 GiB (GRUB takes these;
 *    QEMU's -kernel refuses any EM_X86_64 image without the a.out kludge).
 *    PT_LOAD segments are copied to their physical address (p_paddr), the
 *    rest up to p_memsz zeroed; an entry point inside a segment's virtual
 *    range is translated to its physical address, as GRUB does.
 * Required header flags understood: 0 (page-aligned modules: always done),
 * 1 (memory information: always given), 2 (video mode: not provided, as
 * QEMU); any other bit of 0-15 is refused as the specification requires.
 *
 * What the kernel gets: after the kernel's highest byte (at least 1 MiB), a
 * page holds the Multiboot information structure (flags: mem, cmdline,
 * mods, mmap, boot_loader_name), the memory map (RAM below 0x9fc00,
 * reserved 0x9fc00-0xfffff, RAM from 1 MiB to the end of guest RAM), the
 * module list and the strings; the modules follow, each page-aligned.
 *
 * Pure C over a flat guest-RAM buffer (guest RAM is one contiguous range
 * from GPA 0), so it is unit-tested on the host (tests/test_multiboot.c).
 * Nothing is written outside [ram, ram + ram_bytes): every address comes
 * from the image and is checked first.
 */
#ifndef HVRR_MULTIBOOT_H
#define HVRR_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB1_HEADER_MAGIC   0x1badb002u
#define MB1_BOOT_MAGIC     0x2badb002u /* EAX at the kernel's entry */
#define MB1_SEARCH         8192        /* the header lies in the image's first 8 KiB */
#define MB1_MAX_MODS       16
#define MB1_INFO_SIZE      120      /* struct multiboot_info up to the framebuffer fields */
#define MB1_LOW_MEM_END    0x9fc00u /* top of conventional RAM shown to the kernel */
#define MB1_HIGH_MEM_START 0x100000u

/* Multiboot information flags we set (spec 3.3). */
#define MB1_INFO_MEM         (1u << 0)
#define MB1_INFO_CMDLINE     (1u << 2)
#define MB1_INFO_MODS        (1u << 3)
#define MB1_INFO_MMAP        (1u << 6)
#define MB1_INFO_LOADER_NAME (1u << 9)

struct mb1_module {
    const void *data;
    uint64_t size;
    const char *string; /* its command line (NUL-terminated) */
};

struct mb1_input {
    const void *image; /* the kernel file */
    uint64_t image_size;
    const char *cmdline; /* the kernel's command line, as GRUB gives it (NULL: "") */
    const struct mb1_module *mods;
    unsigned nmods;
    const char *loader_name; /* boot_loader_name (NULL: "hvrr") */
};

/* Where things went: the vCPU starts at `entry` with EAX = MB1_BOOT_MAGIC,
 * EBX = `mbi`, in 32-bit protected mode, paging off. */
struct mb1_boot {
    uint32_t entry, mbi;
    uint32_t header_flags;
    uint32_t kernel_lo, kernel_hi; /* [lo, hi): the kernel's memory (bss included) */
    uint32_t info_end;             /* end of the information page(s) */
    uint32_t mods_lo, mods_hi;     /* [lo, hi) of the modules (lo == hi: none) */
    bool elf;                      /* loaded from ELF program headers (else the a.out kludge) */
    uint8_t elf_class;             /* 32 or 64 */
};

/* Finds the Multiboot header: its offset in the image, or -1 (none, or a
 * magic whose checksum does not add up). */
long mb1_find_header(const void *image, uint64_t size);

/* Loads the kernel and its modules into ram[0, ram_bytes) and builds the
 * information structure. Returns NULL on success, else a short reason
 * (static string); on failure guest RAM may be partly written, but never
 * outside the buffer. */
const char *mb1_load(uint8_t *ram, uint64_t ram_bytes, const struct mb1_input *in,
                     struct mb1_boot *out);

#endif
