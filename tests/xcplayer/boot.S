/* Multiboot 1 entry of the crosscheck player (player.c): its own GDT (the
 * loader's is undefined), a stack, then player_main(magic, info). */
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
    cli
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  mov $0x10, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    mov %ecx, %ss
    mov %ecx, %fs
    mov %ecx, %gs
    mov $stack_top, %esp
    push %ebx
    push %eax
    call player_main
2:  cli
    hlt
    jmp 2b

/* The LAPIC timer's wake-up (vector 0x40) and the LAPIC spurious vector:
 * EOI (the spurious one needs none, a stray EOI is harmless) and return. */
    .globl wake_isr
wake_isr:
    movl $0, 0xfee000b0
    iret

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff /* 0x10: flat data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .bss
    .align 16
stack:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
