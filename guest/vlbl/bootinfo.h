/* The hand-over between the hypervisor and vlbl (docs/vlbl.md).
 *
 * Guest-physical layout when the vCPU first enters the guest (real mode,
 * CS=0 IP=0x8000, DS=ES=SS=0, SP=0x6ff0, interrupts disabled, A20 on):
 *   0x00000-0x004ff  free for vlbl (IVT and BIOS data area are vlbl's to build)
 *   0x07000          struct hvrr_bootinfo (below), written by the hypervisor
 *   0x08000-0x0ffff  vlbl image (flat binary, at most 32 KiB, entry at its start)
 *   0x20000-0x20fff  kernel command line, NUL-terminated (cmdline_gpa)
 *   HVRR_KERNEL_GPA  the bzImage file exactly as on disk (kernel_gpa)
 *   initrd_gpa       the initramfs, page-aligned, at the top of RAM
 * vlbl copies the bzImage's real-mode setup and protected-mode kernel to
 * where the Linux boot protocol wants them and fills the setup header.
 * Guest RAM is contiguous from 0 to ram_bytes; 0xa0000-0xfffff is a hole
 * that vlbl reports as reserved (with 0x9fc00-0x9ffff as EBDA).
 */
#ifndef HVRR_BOOTINFO_H
#define HVRR_BOOTINFO_H

#include <stdint.h>

#define HVRR_BOOTINFO_GPA    0x7000u
#define HVRR_VLBL_GPA        0x8000u
#define HVRR_VLBL_MAX        0x8000u
#define HVRR_CMDLINE_GPA     0x20000u
#define HVRR_CMDLINE_MAX     0x1000u
#define HVRR_KERNEL_GPA      0x4000000u /* 64 MiB: above the kernel's decompression area with 128 MiB RAM */
#define HVRR_BOOTINFO_MAGIC  0x49425648u /* "HVBI" */
#define HVRR_BOOTINFO_VERSION 1u

struct hvrr_bootinfo {
    uint32_t magic;       /* +0x00 HVRR_BOOTINFO_MAGIC */
    uint32_t version;     /* +0x04 HVRR_BOOTINFO_VERSION */
    uint64_t ram_bytes;   /* +0x08 guest RAM, contiguous from GPA 0 */
    uint64_t kernel_gpa;  /* +0x10 raw bzImage */
    uint64_t kernel_size; /* +0x18 */
    uint64_t initrd_gpa;  /* +0x20 0 if none */
    uint64_t initrd_size; /* +0x28 */
    uint64_t cmdline_gpa; /* +0x30 */
    uint32_t cmdline_len; /* +0x38 bytes before the NUL */
    uint32_t flags;       /* +0x3c reserved, 0 */
} __attribute__((packed));

_Static_assert(sizeof(struct hvrr_bootinfo) == 0x40, "bootinfo layout is ABI");

#endif
