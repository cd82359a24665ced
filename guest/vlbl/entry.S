/* vlbl real-mode entry, unreal-mode switch, interrupt stubs and the jump to
 * Linux's setup code (docs/vlbl.md). Entered by the hypervisor at 0000:8000
 * in real mode with DS=ES=SS=0, SP=0x6ff0 and interrupts disabled. */
#include "guest/vlbl/vlbl.h"

	.code16
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $VLBL_STACK_TOP, %esp
	ljmpw $0, $1f			/* make sure CS=0 */
1:	lidtl rm_idt			/* the real-mode IVT at 0 */
	calll vlbl_unreal
	movl $__bss_start, %edi		/* a flat binary carries no .bss: clear it */
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorb %al, %al
	rep stosb
	calll vlbl_main
	/* vlbl_main never returns; halt if it does */
	.globl vlbl_halt
vlbl_halt:
	cli
2:	hlt
	jmp 2b

/* Give DS, ES, FS and GS a 4 GiB limit (unreal mode) so that 32-bit
 * addresses reach the whole of RAM; SS and CS stay 64 KiB real-mode
 * segments. Segment registers read 0 afterwards. */
	.globl vlbl_unreal
vlbl_unreal:
	pushfl
	cli
	lgdtl unreal_gdt_desc
	movl %cr0, %eax
	orb $1, %al
	movl %eax, %cr0
	jmp 3f
3:	movw $8, %bx
	movw %bx, %ds
	movw %bx, %es
	movw %bx, %fs
	movw %bx, %gs
	andb $0xfe, %al
	movl %eax, %cr0
	jmp 4f
4:	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	popfl
	retl

/* void vlbl_start_linux(uint32_t seg, uint32_t sp): enter the real-mode
 * setup code at seg+0x20:0 with all data segments = seg, interrupts off. */
	.globl vlbl_start_linux
vlbl_start_linux:
	cli
	movl 4(%esp), %eax
	movl 8(%esp), %ebx
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movzwl %bx, %esp
	addw $0x20, %ax
	pushw %ax
	pushw $0
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	lretw

/* 256 interrupt stubs, VLBL_STUB_SIZE bytes apart: push the vector and go
 * to the common handler, which calls vlbl_int(frame) in C on vlbl's own
 * stack with DS=ES=0. */
	.balign VLBL_STUB_SIZE
	.globl vlbl_int_stubs
vlbl_int_stubs:
	.set vec, 0
	.rept 256
	.balign VLBL_STUB_SIZE
	pushw $vec
	jmp int_common
	.set vec, vec + 1
	.endr

int_common:
	pushal
	pushw %ds
	pushw %es
	pushw %fs
	pushw %gs
	movw %ss, %cs:saved_ss
	movl %esp, %cs:saved_esp
	cld
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $VLBL_STACK_TOP, %esp
	movzwl saved_ss, %eax
	shll $4, %eax
	movzwl saved_esp, %edx
	addl %edx, %eax
	pushl %eax
	calll vlbl_int
	addl $4, %esp
	movw %cs:saved_ss, %ss
	movl %cs:saved_esp, %esp
	popw %gs
	popw %fs
	popw %es
	popw %ds
	popal
	addw $2, %sp
	iretw

	.section .data
	.balign 4
saved_esp:	.long 0
saved_ss:	.word 0
	.balign 4
rm_idt:
	.word 0x3ff
	.long 0
	.balign 8
unreal_gdt:
	.quad 0
	.quad 0x00cf92000000ffff	/* flat 4 GiB data, base 0 */
unreal_gdt_end:
unreal_gdt_desc:
	.word unreal_gdt_end - unreal_gdt - 1
	.long unreal_gdt
.section .note.GNU-stack,"",@progbits
