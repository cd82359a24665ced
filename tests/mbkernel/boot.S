/* Multiboot header and entry of the test kernel (mbkernel.c). Built three
 * times: a plain Multiboot 1 ELF kernel; with MB_AOUT an a.out-kludge
 * kernel (v1 header flag 16: the loader takes the addresses below and the
 * file bytes from the header on, not the ELF program headers); with MB2 a
 * Multiboot 2 kernel (v2 header, information request tag). */
#define MB_MAGIC  0x1badb002
#define MB2_MAGIC 0xe85250d6
#ifdef MB_AOUT
#define MB_FLAGS 0x00010003 /* + a.out kludge */
#else
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */
#endif

    .section .multiboot, "a"
#ifdef MB2
    .align 8
mb_header:
    .long MB2_MAGIC
    .long 0 /* architecture: i386 protected mode */
    .long mb_header_end - mb_header
    .long -(MB2_MAGIC + (mb_header_end - mb_header))
    /* information request (not optional): cmdline, loader name, modules,
     * basic memory, memory map */
    .word 1, 0
    .long 28
    .long 1, 2, 3, 4, 6
    .align 8
    .word 0, 0 /* end tag */
    .long 8
mb_header_end:
#else
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
#ifdef MB_AOUT
    .long mb_header /* header_addr */
    .long mb_header /* load_addr: the image starts with the header */
    .long _edata    /* load_end_addr */
    .long _end      /* bss_end_addr */
    .long _start    /* entry_addr */
#endif
#endif
    .section .rodata
    .globl mb_version
mb_version:
#ifdef MB2
    .long 2
#else
    .long 1
#endif

    .text
    .code32
    .globl _start
_start:
    /* Keep what the loader handed over before anything changes it. */
    mov %eax, boot_eax
    mov %ebx, boot_ebx
    pushf
    pop %ecx
    mov %ecx, boot_eflags
    mov %cr0, %ecx
    mov %ecx, boot_cr0
    mov %cs, %cx
    mov %cx, boot_cs
    mov %ds, %cx
    mov %cx, boot_ds
    mov $stack_top, %esp
    push %ebx
    push %eax
    call kmain
    /* kmain ends with the debug-exit write; should the VM go on: */
1:  cli
    hlt
    jmp 1b

    .bss
    .align 16
stack:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
