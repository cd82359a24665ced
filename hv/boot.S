/* Multiboot2 entry: GRUB jumps here in 32-bit protected mode, paging off,
 * EAX = 0x36d76289, EBX = physical address of the multiboot2 information.
 * We identity-map the low 4 GiB with 2 MiB pages, enter long mode and call
 * hv_main(magic, mbi). */
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

    .section .multiboot, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* end tag */
    .word 0, 0
    .long 8
mb2_header_end:

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    movl $boot_stack_top, %esp
    movl %eax, %edi /* magic -> first argument */
    movl %ebx, %esi /* mbi -> second argument */

    /* Clear .bss (page tables live there). Preserve edi/esi. */
    movl %edi, %ebp
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl %ebp, %edi

    /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..3; each PD maps 1 GiB in 2 MiB pages. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    xorl %ecx, %ecx /* 2048 PDEs */
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax /* present, writable, 2 MiB */
    movl %eax, boot_pd(,%ecx,8)
    movl $0, boot_pd+4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b

    movl %cr4, %eax
    orl $0x20, %eax /* PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx /* EFER */
    rdmsr
    orl $0x100, %eax /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000021, %eax /* PG | NE | PE */
    andl $0x9fffffff, %eax /* caches on (clear CD, NW) */
    movl %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $long_entry

    .code64
long_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    /* edi = magic, esi = mbi (zero-extended by the 32-bit moves above) */
    movl %edi, %edi
    movl %esi, %esi
    call hv_main
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .balign 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096 * 4
    .globl boot_stack_top
boot_stack: .skip 65536
boot_stack_top:
    .section .note.GNU-stack, "", @progbits
