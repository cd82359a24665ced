/* Multiboot loader for guests: the hypervisor boots a third-party kernel
 * the way GRUB's `multiboot` / `multiboot2` commands or QEMU's -kernel do
 * (Multiboot Specification 0.6.96 for version 1, 2.0 for version 2).
 *
 * Accepted images: a version 1 header (magic 0x1BADB002, flags, checksum,
 * 4-byte aligned in the first 8192 bytes) or, when there is none, a
 * version 2 header (magic 0xE85250D6, architecture 0, header_length,
 * checksum, tags; 8-byte aligned in the first 32768 bytes). Then either
 *  - v1 flag 16 (the "a.out kludge") or a v2 address tag: the header's
 *    load_addr / load_end_addr / bss_end_addr and entry say what to copy
 *    from the file, whatever the file's format;
 *  - otherwise an ELF executable, little-endian: ELF32 EM_386, or ELF64
 *    EM_X86_64 whose segments and entry lie below 4 GiB (GRUB takes these;
 *    QEMU's -kernel refuses any EM_X86_64 image without the a.out kludge).
 *    PT_LOAD segments are copied to their physical address (p_paddr), the
 *    rest up to p_memsz zeroed; an entry point inside a segment's virtual
 *    range is translated to its physical address, as GRUB does; a v2
 *    entry address tag overrides it.
 * v1 required header flags understood: 0 (page-aligned modules: always
 * done), 1 (memory information: always given), 2 (video mode: not
 * provided, as QEMU); any other bit of 0-15 is refused as the specification
 * requires. v2 tags: information request (refused if it asks, not
 * optionally, for anything but command line, loader name, modules, basic
 * memory, memory map), address, entry address, console flags (refused if a
 * text console is required), module alignment, relocatable (loaded at the
 * linked address); any other tag not marked optional (framebuffer, EFI)
 * refuses the kernel.
 *
 * What the kernel gets: after the kernel's highest byte (at least 1 MiB), a
 * page holds the information structure -- v1: flags mem, cmdline, mods,
 * mmap, boot_loader_name; v2: tags command line, loader name, modules,
 * basic memory, memory map -- with the memory map (RAM below 0x9fc00,
 * reserved 0x9fc00-0xfffff, RAM from 1 MiB to the end of guest RAM); the
 * modules follow, each page-aligned.
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
#define MB2_HEADER_MAGIC   0xe85250d6u
#define MB2_BOOT_MAGIC     0x36d76289u /* EAX at a v2 kernel's entry */
#define MB2_SEARCH         32768
#define MBK_MAX_MODS       16
#define MB1_INFO_SIZE      120      /* struct multiboot_info up to the framebuffer fields */
#define MB1_LOW_MEM_END    0x9fc00u /* top of conventional RAM shown to the kernel */
#define MB1_HIGH_MEM_START 0x100000u

/* Multiboot information flags we set (spec 3.3). */
#define MB1_INFO_MEM         (1u << 0)
#define MB1_INFO_CMDLINE     (1u << 2)
#define MB1_INFO_MODS        (1u << 3)
#define MB1_INFO_MMAP        (1u << 6)
#define MB1_INFO_LOADER_NAME (1u << 9)

struct mbk_module {
    const void *data;
    uint64_t size;
    const char *string; /* its command line (NUL-terminated) */
};

struct mbk_input {
    const void *image; /* the kernel file */
    uint64_t image_size;
    const char *cmdline; /* the kernel's command line, as GRUB gives it (NULL: "") */
    const struct mbk_module *mods;
    unsigned nmods;
    const char *loader_name; /* boot_loader_name (NULL: "hvrr") */
};

/* Where things went: the vCPU starts at `entry` with EAX = `magic`, EBX =
 * `mbi`, in 32-bit protected mode, paging off. */
struct mbk_boot {
    unsigned version; /* 1 or 2: the header found */
    uint32_t magic;   /* MB1_BOOT_MAGIC or MB2_BOOT_MAGIC */
    uint32_t entry, mbi;
    uint32_t header_flags;         /* v1 */
    uint32_t kernel_lo, kernel_hi; /* [lo, hi): the kernel's memory (bss included) */
    uint32_t info_end;             /* end of the information page(s) */
    uint32_t mods_lo, mods_hi;     /* [lo, hi) of the modules (lo == hi: none) */
    bool elf;          /* loaded from ELF program headers (else by the header's addresses)
                        */
    uint8_t elf_class; /* 32 or 64 */
};

/* Finds a version 1 / version 2 header: its offset in the image, or -1
 * (none, or a magic whose checksum does not add up). */
long mb1_find_header(const void *image, uint64_t size);
long mb2_find_header(const void *image, uint64_t size);

/* Loads the kernel (v1 header first, else v2) and its modules into
 * ram[0, ram_bytes) and builds the information structure. Returns NULL on
 * success, else a short reason (static string); on failure guest RAM may be
 * partly written, but never outside the buffer. */
const char *mbk_load(uint8_t *ram, uint64_t ram_bytes, const struct mbk_input *in,
                     struct mbk_boot *out);

#endif
