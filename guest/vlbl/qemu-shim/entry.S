/* hvrr QEMU shim: a multiboot v1 kernel that does for vlbl what the hvrr
 * hypervisor does (docs/vlbl.md): QEMU's -kernel loads it, -initrd passes
 * vlbl.bin, the bzImage and the initramfs as modules. */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory info */

	.section .text.multiboot, "ax"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.code32
	.text
	.globl _start
_start:
	cli
	cld
	movl $stack_top, %esp
	pushl %ebx			/* multiboot info */
	pushl %eax			/* multiboot magic */
	call shim_main
1:	cli
	hlt
	jmp 1b

/* void shim_enter_vlbl(void): leave protected mode and enter vlbl at
 * 0000:8000 in real mode with DS=ES=SS=0, SP=0x6ff0, interrupts off. */
	.globl shim_enter_vlbl
shim_enter_vlbl:
	cli
	movl $rm_tramp, %eax		/* 16-bit code segment based at rm_tramp */
	movw %ax, gdt16 + 8 + 2
	shrl $16, %eax
	movb %al, gdt16 + 8 + 4
	movb %ah, gdt16 + 8 + 7
	lgdt gdt16_desc
	lidt rm_idt
	ljmp $0x08, $0
rm_tramp:
	.code16
	movw $0x10, %ax			/* 64 KiB real-mode-like data segments */
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl %cr0, %eax
	andl $0x7ffffffe, %eax		/* PE and PG off */
	movl %eax, %cr0
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $0x6ff0, %esp
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	ljmpw $0, $0x8000

	.data
	.balign 8
gdt16:
	.quad 0
	.quad 0x00009b000000ffff	/* 0x08: 16-bit code, base patched */
	.quad 0x000093000000ffff	/* 0x10: 16-bit data, base 0, 64 KiB */
gdt16_end:
	.balign 4
	.word 0
gdt16_desc:
	.word gdt16_end - gdt16 - 1
	.long gdt16
	.balign 4
	.word 0
rm_idt:
	.word 0x3ff
	.long 0

	.bss
	.balign 16
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
