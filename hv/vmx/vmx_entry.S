/* int vmx_enter(struct vmx_gprs *g, int launched)
 * Loads the guest GPRs from *g and executes VMLAUNCH (launched == 0) or
 * VMRESUME. On a VM exit the CPU continues at vmx_exit_point (HOST_RIP) with
 * HOST_RSP as written below; the guest GPRs are stored back into *g and 0 is
 * returned. If the entry instruction itself fails, returns 1. */
#define G(r) (8 * (r))
#define RAX 0
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7
#define CR2 16
#define HOST_RSP 0x6c14

    .text
    .code64
    .globl vmx_enter
    .globl vmx_exit_point
vmx_enter:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi              /* g, found again at (%rsp) after the exit */
    movq $HOST_RSP, %rax
    vmwrite %rsp, %rax
    movq G(CR2)(%rdi), %rax
    movq %rax, %cr2
    testl %esi, %esi        /* flags survive the moves below */
    movq G(RAX)(%rdi), %rax
    movq G(RCX)(%rdi), %rcx
    movq G(RDX)(%rdi), %rdx
    movq G(RBX)(%rdi), %rbx
    movq G(RBP)(%rdi), %rbp
    movq G(RSI)(%rdi), %rsi
    movq G(8)(%rdi), %r8
    movq G(9)(%rdi), %r9
    movq G(10)(%rdi), %r10
    movq G(11)(%rdi), %r11
    movq G(12)(%rdi), %r12
    movq G(13)(%rdi), %r13
    movq G(14)(%rdi), %r14
    movq G(15)(%rdi), %r15
    movq G(RDI)(%rdi), %rdi
    jnz 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  /* VMfailInvalid / VMfailValid: guest values are in our registers. */
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movl $1, %eax
    ret

vmx_exit_point:
    pushq %rdi
    movq 8(%rsp), %rdi
    movq %rax, G(RAX)(%rdi)
    movq %rcx, G(RCX)(%rdi)
    movq %rdx, G(RDX)(%rdi)
    movq %rbx, G(RBX)(%rdi)
    movq %rbp, G(RBP)(%rdi)
    movq %rsi, G(RSI)(%rdi)
    movq %r8, G(8)(%rdi)
    movq %r9, G(9)(%rdi)
    movq %r10, G(10)(%rdi)
    movq %r11, G(11)(%rdi)
    movq %r12, G(12)(%rdi)
    movq %r13, G(13)(%rdi)
    movq %r14, G(14)(%rdi)
    movq %r15, G(15)(%rdi)
    popq %rax
    movq %rax, G(RDI)(%rdi)
    movq %cr2, %rax
    movq %rax, G(CR2)(%rdi)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    xorl %eax, %eax
    ret
    .section .note.GNU-stack, "", @progbits
