/* vlbl-probe: a fake bzImage whose "real-mode setup" checks what vlbl
 * hands over (registers, setup header, BIOS services) and prints the result
 * on COM1 (docs/vlbl.md, "Debugging"). Linked at 0: the image's boot sector
 * lands at VLBL_SETUP_SEG:0, the entry point at VLBL_SETUP_SEG+0x20:0. */
#define SETUP_SECTS 15 /* the probe's setup part is 8 KiB */

	.code16
	.section .text.header, "ax"
	.globl _start
_start:
	.org 0x1f1
	.byte SETUP_SECTS		/* setup_sects */
	.word 0				/* root_flags */
	.long 0				/* syssize */
	.word 0				/* ram_size */
	.word 0x1234			/* vid_mode: vlbl must write 0xffff */
	.word 0				/* root_dev */
	.word 0xaa55			/* boot_flag */
	.org 0x200
	jmp entry			/* setup entry (setup segment + 0x20):0 */
	.ascii "HdrS"			/* 0x202 header */
	.word 0x020f			/* 0x206 version */
	.long 0				/* 0x208 realmode_swtch */
	.word 0				/* 0x20c start_sys_seg */
	.word 0				/* 0x20e kernel_version */
	.byte 0				/* 0x210 type_of_loader */
	.byte 0x01			/* 0x211 loadflags: LOADED_HIGH */
	.word 0				/* 0x212 setup_move_size */
	.long 0x100000			/* 0x214 code32_start */
	.long 0				/* 0x218 ramdisk_image */
	.long 0				/* 0x21c ramdisk_size */
	.long 0				/* 0x220 bootsect_kludge */
	.word 0				/* 0x224 heap_end_ptr */
	.byte 0				/* 0x226 ext_loader_ver */
	.byte 0				/* 0x227 ext_loader_type */
	.long 0				/* 0x228 cmd_line_ptr */
	.long 0x7fffffff		/* 0x22c initrd_addr_max */
	.long 0x200000			/* 0x230 kernel_alignment */
	.byte 0				/* 0x234 relocatable_kernel */
	.byte 0				/* 0x235 min_alignment */
	.word 0				/* 0x236 xloadflags */
	.long 2047			/* 0x238 cmdline_size */
	.org 0x260
	.long 0x10000			/* 0x260 init_size */
	.org 0x280

entry:
	/* Switch to CS = setup segment (the code is linked at 0 from there)
	 * without losing the hand-over state, then record it. */
	pushfw
	pushw %cs
	pushw %ax
	movw %cs, %ax
	subw $0x20, %ax
	pushw %ax
	pushw $1f
	lretw
1:	popw %ax
	popw %cs:entry_cs
	popw %cs:entry_flags
	movw %ds, %cs:entry_ds
	movw %es, %cs:entry_es
	movw %fs, %cs:entry_fs
	movw %gs, %cs:entry_gs
	movw %ss, %cs:entry_ss
	movl %esp, %cs:entry_esp
	movw %cs, %ax
	movw %ax, %ds
	movw %ax, %es
	cld
	calll probe_main
3:	cli
	hlt
	jmp 3b

/* void intcall(uint32_t vec, const struct regs *in, struct regs *out) */
	.globl intcall
intcall:
	pushal
	pushw %ds
	pushw %es
	movl 40(%esp), %eax
	movb %al, int_imm
	jmp 4f
4:	movl 44(%esp), %esi
	movw 26(%esi), %es
	movl 0(%esi), %eax
	movl 4(%esi), %ebx
	movl 8(%esi), %ecx
	movl 12(%esi), %edx
	movl 20(%esi), %edi
	movl 16(%esi), %esi
	.byte 0xcd			/* int $imm */
int_imm:
	.byte 0
	pushfw
	pushl %esi
	pushw %es
	movw %cs, %si			/* the handler may have changed DS */
	movw %si, %ds
	movl 56(%esp), %esi
	movl %eax, 0(%esi)
	movl %ebx, 4(%esi)
	movl %ecx, 8(%esi)
	movl %edx, 12(%esi)
	movl %edi, 20(%esi)
	popw %ax
	movw %ax, 26(%esi)
	popl %eax
	movl %eax, 16(%esi)
	popw %ax
	movw %ax, 28(%esi)
	popw %es
	popw %ds
	popal
	retl

	.globl entry_flags, entry_ds, entry_es, entry_fs, entry_gs, entry_ss, entry_esp
	.globl entry_cs
entry_flags: .word 0
entry_ds: .word 0
entry_es: .word 0
entry_fs: .word 0
entry_gs: .word 0
entry_ss: .word 0
entry_cs: .word 0
	.balign 4
entry_esp: .long 0

	.section .payload, "a"
	.ascii "VLBL-PM-PAYLOAD"
	.byte 0
	.fill 4080, 1, 0x5a

	.section .note.GNU-stack, "", @progbits
