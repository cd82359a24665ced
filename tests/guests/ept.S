/* A read beyond guest RAM (the LAPIC page at 0xfee00000, absent here) has
 * no EPT mapping: the hypervisor reports the EPT violation and stops the VM. */
#include "common.inc"
main:
    mov $name, %si
    call pass
    lgdtl gdt_ptr
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $pm
    .code32
pm:
    mov $0x10, %ax
    mov %ax, %ds
    mov 0xfee00030, %eax
    /* not reached */
    cli
1:  hlt
    jmp 1b
    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
gdt_ptr:
    .word gdt_ptr - gdt - 1
    .long gdt
name: .asciz "ept guest about to read unmapped GPA 0xfee00030"
