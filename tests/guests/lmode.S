/* Long-mode guest: from real mode, build identity page tables (1 GiB in
 * 2 MiB pages), set CR4.PAE, EFER.LME (WRMSR), CR0.PG|PE (the hypervisor
 * tracks EFER.LMA and IA-32e mode), jump to 64-bit code, then do port I/O,
 * CPUID and MSR accesses there, string port I/O through paging (with a #PF
 * on a non-present page); the PIT interrupts through a 64-bit IDT. */
#include "common.inc"
#define PML4 0x10000
#define PDPT 0x11000
#define PD   0x12000

main:
    mov $name_rm, %si
    call pass
    /* page tables at 0x10000: segment 0x1000 */
    mov $0x1000, %ax
    mov %ax, %es
    xor %di, %di
    xor %eax, %eax
    mov $(3 * 4096 / 4), %cx
    cld
    rep stosl
    movl $(PDPT | 3), %es:0
    movl $(PD | 3), %es:0x1000
    mov $0x2000, %di
    xor %ebx, %ebx
    mov $512, %cx
1:  mov %ebx, %eax
    or $0x83, %eax
    mov %eax, %es:(%di)
    movl $0, %es:4(%di)
    add $0x200000, %ebx
    add $8, %di
    loop 1b
    xor %ax, %ax
    mov %ax, %es

    lgdtl gdt_ptr
    mov %cr4, %eax
    or $(1 << 5), %eax /* PAE */
    mov %eax, %cr4
    mov $PML4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $(1 << 8), %eax /* LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax /* PG | PE */
    mov %eax, %cr0
    ljmpl $0x08, $lm_entry

    .code64
lm_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x6ff0, %rsp
    lea name_lm(%rip), %rsi
    call pass64

    /* a new VM's registers are in their initial state: the cpu guest, which
     * ran before in another VM, left 0x12345678 in XMM1 */
    mov %cr4, %rax
    or $(1 << 9), %rax /* OSFXSR */
    mov %rax, %cr4
    movq %xmm1, %rax
    test %rax, %rax
    lea name_xmm(%rip), %rsi
    call report64

    mov $0xc0000080, %ecx
    rdmsr
    test $(1 << 10), %eax /* LMA */
    lea name_lma(%rip), %rsi
    jz 2f
    call pass64
    jmp 3f
2:  call fail64
3:
    /* CPUID in long mode */
    xor %eax, %eax
    cpuid
    cmp $0x756e6547, %ebx
    lea name_cpuid(%rip), %rsi
    jne 4f
    call pass64
    jmp 5f
4:  call fail64
5:
    /* memory at the top of guest RAM (127 MiB) is writable and reads back */
    movabs $0x7f00000, %rdi
    movq $0x1122334455667788, %rax
    mov %rax, (%rdi)
    mov (%rdi), %rbx
    cmp %rax, %rbx
    lea name_mem(%rip), %rsi
    jne 6f
    call pass64
    jmp 7f
6:  call fail64
7:
    /* String port I/O through 4-level paging (64-bit addresses): REP OUTSB
     * to the UART scratch register, then REP INSB back into memory. */
    lea strbuf(%rip), %rsi
    mov $4, %ecx
    mov $0x3ff, %dx
    cld
    rep outsb
    lea strbuf + 8(%rip), %rdi
    mov $2, %ecx
    rep insb
    movzwl strbuf + 8(%rip), %eax
    cmp $0x4444, %eax /* 'D' twice: the last byte written */
    lea name_str(%rip), %rsi
    call report64
    /* The same through a page that is not present: the hv injects #PF
     * (CR2 = the operand, error code 0: a read, supervisor, not present)
     * before touching the port; the handler maps the 2 MiB page at 1 GiB - 2
     * MiB onto physical 2 MiB and the instruction restarts. */
    lea idt + 14 * 16(%rip), %rdi
    lea pf_64(%rip), %rax
    call set_gate64
    movabs $(PD + 511 * 8), %rdi
    movq $0, (%rdi)
    movabs $0x3fe00010, %rax
    invlpg (%rax)
    movw $0x5251, 0x200010 /* "QR" at physical 2 MiB + 16 */
    mov %rax, %rsi
    mov $2, %ecx
    mov $0x3ff, %dx
    rep outsb
    in %dx, %al
    movzbl %al, %eax
    cmp $'R', %al
    jne 3f
    cmpl $1, pf_count(%rip)
    jne 3f
    movabs $0x3fe00010, %rax
    cmp pf_cr2(%rip), %rax
    jne 3f
    cmpq $0, pf_err(%rip)
3:  lea name_pf(%rip), %rsi
    call report64
    /* IN EAX zero-extends into RAX (SDM vol. 1, 3.4.1.1: a 32-bit result
     * clears bits 63-32); IN AX keeps RAX bits 63-16. Port 0x1234 is
     * undecoded: all-ones. */
    movabs $0xdeadbeef00000000, %rax
    mov $0x1234, %dx
    in %dx, %eax
    mov %rax, %rbx
    movabs $0xdeadbeef00000000, %rax
    in %dx, %ax
    movabs $0xdeadbeef0000ffff, %rcx
    cmp %rcx, %rax
    jne 3f
    mov $0xffffffff, %ecx
    cmp %rcx, %rbx
3:  lea name_in32(%rip), %rsi
    call report64
    /* REP OUTSB with a 32-bit address size counts in ECX (SDM vol. 2, REP):
     * ECX = 0 with RCX bit 32 set moves nothing and leaves RCX as it was. */
    mov $0x3ff, %dx
    mov $0x77, %al
    out %al, %dx
    movabs $0x100000000, %rcx
    lea strbuf(%rip), %rsi
    addr32 rep outsb
    in %dx, %al
    cmp $0x77, %al
    jne 3f
    movabs $0x100000000, %rax
    cmp %rax, %rcx
3:  lea name_rcx(%rip), %rsi
    call report64
    /* PIT IRQ0 through a 64-bit IDT: 10 interrupts in HLT */
    lea idt + 0x20 * 16(%rip), %rdi
    lea irq0_64(%rip), %rax
    call set_gate64
    PIC_INIT_MASTER
    mov $0xfe, %al
    out %al, $0x21
    mov $0x34, %al
    out %al, $0x43
    mov $0xa9, %al /* 0x4a9 = 1193: 1 kHz */
    out %al, $0x40
    mov $0x04, %al
    out %al, $0x40
    sti
8:  hlt
    cmpl $10, ticks(%rip)
    jb 8b
    cli
    lea name_irq(%rip), %rsi
    call pass64
    /* IRQ0 keeps coming while the guest sets IF only inside STI shadows
     * (STI; CLI): an exit there (the preemption timer at a PIT edge) finds
     * IF=1 with the interrupt blocked by STI, so the hv asks for the
     * interrupt window instead of injecting (SDM vol. 2 STI, vol. 3 guest
     * interruptibility state); the window opens after the loop, at the end
     * of the last STI's shadow. */
    movl $0, ticks(%rip)
    mov $100000, %ecx
1:  sti
    cli
    dec %ecx
    jnz 1b
    movl ticks(%rip), %ebx
    sti
    nop
    cli
    test %ebx, %ebx /* nothing delivered inside the shadows ... */
    jne 3f
    cmpl $0, ticks(%rip) /* ... and the pending IRQ0 taken after them */
    je 2f
    cmp %eax, %eax
    jmp 3f
2:  cmp $1, %ecx /* 0: not equal */
3:  lea name_shadow(%rip), %rsi
    call report64
    cli
9:  hlt
    jmp 9b

/* The 64-bit interrupt gate at RDI -> handler RAX (CS 0x08, present, DPL 0),
 * then (re)load the IDT. */
set_gate64:
    mov %ax, (%rdi)
    movw $0x08, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    shr $16, %rax
    mov %ax, 6(%rdi)
    shr $16, %rax
    mov %eax, 8(%rdi)
    lidt idt_ptr(%rip)
    ret

/* ZF set: PASS line for the name at RSI, else FAIL. */
report64:
    jne 1f
    jmp pass64
1:  jmp fail64

pf_64:
    push %rax
    push %rdi
    mov 16(%rsp), %rax /* error code */
    mov %rax, pf_err(%rip)
    mov %cr2, %rax
    mov %rax, pf_cr2(%rip)
    incl pf_count(%rip)
    movabs $(PD + 511 * 8), %rdi
    movq $(0x200000 | 0x83), (%rdi)
    pop %rdi
    pop %rax
    add $8, %rsp /* the error code */
    iretq

irq0_64:
    push %rax
    incl ticks(%rip)
    mov $0x20, %al
    out %al, $0x20
    pop %rax
    iretq

putc64:
    push %rdx
    push %rax
    mov $0x3fd, %dx
1:  in %dx, %al
    test $0x20, %al
    jz 1b
    pop %rax
    mov $0x3f8, %dx
    out %al, %dx
    pop %rdx
    ret
puts64:
    push %rax
1:  lodsb
    test %al, %al
    jz 2f
    call putc64
    jmp 1b
2:  pop %rax
    ret
pass64:
    push %rsi
    lea str_pass(%rip), %rsi
    call puts64
    pop %rsi
    call puts64
    mov $'\n', %al
    call putc64
    ret
fail64:
    push %rsi
    lea str_fail(%rip), %rsi
    call puts64
    pop %rsi
    call puts64
    mov $'\n', %al
    call putc64
    ret

    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff /* 64-bit code */
    .quad 0x00cf92000000ffff /* data */
gdt_ptr:
    .word gdt_ptr - gdt - 1
    .long gdt
    .balign 8
idt_ptr:
    .word 256 * 16 - 1
    .quad idt
ticks: .long 0
pf_count: .long 0
    .balign 8
pf_cr2: .quad 0
pf_err: .quad 0
strbuf: .ascii "ABCD"
    .skip 12
name_rm:    .asciz "lmode real-mode start"
name_lm:    .asciz "lmode 64-bit code runs"
name_lma:   .asciz "lmode EFER.LMA set"
name_cpuid: .asciz "lmode CPUID in 64-bit mode"
name_mem:   .asciz "lmode RAM at 127 MiB read/write"
name_irq:   .asciz "lmode PIT IRQ0 through a 64-bit IDT"
name_xmm:   .asciz "lmode XMM1 clear at start (nothing left by the previous VM)"
name_str:   .asciz "lmode REP OUTSB/INSB through 4-level paging"
name_pf:    .asciz "lmode REP OUTSB from a non-present page: #PF, then restarts"
name_in32:  .asciz "lmode IN EAX zero-extends RAX, IN AX keeps bits 63-16"
name_rcx:   .asciz "lmode ADDR32 REP OUTSB with ECX=0 and RCX bit 32 set: nothing moved"
name_shadow: .asciz "lmode IRQ0 held in STI shadows, taken after them"
    .balign 16
idt: .skip 256 * 16
