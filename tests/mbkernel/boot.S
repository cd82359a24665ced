/* Multiboot v1 header and entry of the test kernel (mbkernel.c). */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

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
