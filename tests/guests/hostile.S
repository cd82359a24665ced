/* A hostile guest: OPS pseudo-random operations (xorshift32 from a fixed
 * seed, so every run is the same) against the hypervisor and its devices —
 * port reads and writes of every size to every device and to random ports,
 * string I/O with random counts, directions and buffers, CPUID of random
 * leaves, RDMSR/WRMSR of random MSRs (the TSC among them: guest time jumps
 * back and forth), XSETBV of random values, and the odd instructions (VMX,
 * SMX, RDRAND, RDPMC, MONITOR/MWAIT, INVD...) — with interrupts enabled, so
 * whatever the random PIC/PIT/UART/RTC programming raises is injected too.
 * Vectors 32-255 acknowledge (EOI to both PICs) and return; vectors 0-31
 * (exceptions, or an IRQ the random programming put there) abandon the
 * operation in flight and go on with the next one. An interrupt storm
 * (200 in a row without progress) masks both PICs; later writes may unmask
 * them again. Left out, as they end the run on purpose: writes to 0x64 (the
 * 8042 reset pulse) and 0xcf9 (reset control), WRMSR to EFER, HLT.
 * Afterwards the UART is set up again (the operations scribbled on it) and
 * one PASS line reports the count: the test is that the hypervisor is still
 * there, and that check-trace replays the run with 0 divergences. */
#include "common.inc"

#ifndef OPS
#define OPS 2000
#endif
#ifndef SEED
#define SEED 0x2545f491
#endif
#define SCRATCH 0x20000 /* 64 KiB the string operations read and write */

main:
    /* vectors 0-31 -> abandon the operation, 32-255 -> an interrupt */
    xor %bx, %bx
1:  movw $abandon, (%bx)
    cmp $(32 * 4), %bx
    jb 2f
    movw $irq_any, (%bx)
2:  movw $0, 2(%bx)
    add $4, %bx
    cmp $(256 * 4), %bx
    jb 1b
    PIC_INIT_PAIR
    /* CR4.OSXSAVE so that XSETBV is reachable */
    mov %cr4, %eax
    or $(1 << 18), %eax
    mov %eax, %cr4
    movl $SEED, seed
    movl $0, done

next_op:
    mov %sp, op_sp /* where `abandon` resumes */
    movw $0, storm
    sti
    call rand
    mov %eax, %ebp /* the operation's random bits */
    and $15, %eax
    shl $1, %ax
    mov %ax, %bx
    jmp *ops(%bx)
ops:
    .word op_out, op_in, op_dev_out, op_dev_in, op_cpuid, op_msr, op_xsetbv, op_string
    .word op_dev_out, op_dev_in, op_string, op_odd, op_cpuid, op_msr, op_dev_out, op_odd

/* One of the instructions a hypervisor must answer for: the VMX and SMX
 * ones, RDRAND/RDSEED, RDPMC, MONITOR/MWAIT, INVD/WBINVD, RDTSC(P), CLTS,
 * XGETBV, a CR0 write-back (#UD or #GP where not offered: abandoned). */
op_odd:
    call rand
    and $15, %eax
    shl $1, %ax
    mov %ax, %bx
    xor %eax, %eax
    xor %ecx, %ecx
    xor %edx, %edx
    jmp *odd(%bx)
odd:
    .word o_vmcall, o_vmxon, o_rdrand, o_rdseed, o_rdpmc, o_monitor, o_mwait, o_invd
    .word o_wbinvd, o_rdtsc, o_rdtscp, o_clts, o_xgetbv, o_cr0, o_getsec, o_vmcall
o_vmcall:  vmcall
           jmp op_done
o_vmxon:   vmxon zero_qword
           jmp op_done
o_rdrand:  rdrand %ax
           jmp op_done
o_rdseed:  rdseed %ax
           jmp op_done
o_rdpmc:   rdpmc
           jmp op_done
o_monitor: monitor
           jmp op_done
o_mwait:   mwait
           jmp op_done
o_invd:    invd
           jmp op_done
o_wbinvd:  wbinvd
           jmp op_done
o_rdtsc:   rdtsc
           jmp op_done
o_rdtscp:  rdtscp
           jmp op_done
o_clts:    clts
           jmp op_done
o_xgetbv:  xgetbv
           jmp op_done
o_cr0:     mov %cr0, %eax
           mov %eax, %cr0
           jmp op_done
o_getsec:  getsec
           jmp op_done

/* DX := a port: a device's (ZF clear on entry to pick random) */
dev_port:
    call rand
    xor %edx, %edx
    mov $(dev_ports_end - dev_ports) / 2, %ecx
    div %ecx
    shl $1, %dx
    mov %dx, %bx
    mov dev_ports(%bx), %dx
    ret
rand_port:
    call rand
    mov %ax, %dx
    ret
/* ZF set if DX must not be written */
forbidden:
    cmp $0x64, %dx
    je 1f
    cmp $0xcf9, %dx
    je 1f
    cmp $0x3f8, %dx /* keep the console free of noise */
1:  ret

op_out:
    call rand_port
    jmp do_out
op_dev_out:
    call dev_port
do_out:
    call forbidden
    je op_done
    call rand
    test $0x300, %ebp
    jz 2f
    test $0x200, %ebp
    jz 1f
    out %eax, %dx
    jmp op_done
1:  out %ax, %dx
    jmp op_done
2:  out %al, %dx
    jmp op_done

op_in:
    call rand_port
    jmp do_in
op_dev_in:
    call dev_port
do_in:
    test $0x300, %ebp
    jz 2f
    test $0x200, %ebp
    jz 1f
    in %dx, %eax
    jmp op_done
1:  in %dx, %ax
    jmp op_done
2:  in %dx, %al
    jmp op_done

op_cpuid:
    call rand
    mov %eax, %ecx
    call rand
    test $0x100, %ebp
    jz 1f
    and $0x8000001f, %eax /* an extended leaf */
    jmp 2f
1:  and $0x1f, %eax
2:  and $7, %ecx
    cpuid
    jmp op_done

op_msr:
    call rand
    mov %eax, %ecx
    test $0x100, %ebp
    jz 1f
    and $0xfff, %ecx /* often a low, architectural index */
1:  mov %ebp, %eax
    and $0x3000, %eax
    cmp $0x3000, %eax
    jne 2f
    mov $0x10, %ecx /* the TSC: guest time jumps anywhere */
2:  cmp $0xc0000080, %ecx
    je op_done
    test $0x200, %ebp
    jz 3f
    call rand
    mov %eax, %edx
    call rand
    wrmsr
    jmp op_done
3:  rdmsr
    jmp op_done

op_xsetbv:
    call rand
    mov %eax, %edx
    and $1, %edx /* EDX: 0 or 1 */
    call rand
    test $0x100, %ebp
    jz 1f
    and $0xe7, %eax /* something near a valid XCR0 */
    xor %edx, %edx
1:  mov %ebp, %ecx
    shr $12, %ecx
    and $1, %ecx
    xsetbv
    jmp op_done

op_string:
    call dev_port
    call forbidden
    je op_done
    call rand
    and $0xfff0, %ax
    mov %ax, %si
    mov %ax, %di
    call rand
    and $7, %eax
    mov %eax, %ecx
    mov $(SCRATCH >> 4), %ax
    mov %ax, %es /* both directions use the scratch segment */
    test $0x1000, %ebp
    jz 1f
    std
1:  test $0x100, %ebp
    jz 3f
    test $0x200, %ebp
    jz 2f
    rep insw
    jmp 5f
2:  rep insb
    jmp 5f
3:  test $0x200, %ebp
    jz 4f
    rep outsw %es:(%si), (%dx)
    jmp 5f
4:  rep outsb %es:(%si), (%dx)
5:  cld
    xor %ax, %ax
    mov %ax, %es
    jmp op_done

op_done:
    incl done
    cmpl $OPS, done
    jb next_op
    cli

    /* the console back to 115200 8N1, no loopback, FIFOs on */
    mov $0x3fb, %dx
    mov $0x83, %al
    out %al, %dx
    mov $0x3f8, %dx
    mov $1, %al
    out %al, %dx
    inc %dx
    xor %al, %al
    out %al, %dx
    mov $0x3fb, %dx
    mov $3, %al
    out %al, %dx
    mov $0x3fa, %dx
    mov $7, %al
    out %al, %dx
    mov $0x3fc, %dx
    mov $3, %al
    out %al, %dx
    mov $name, %si
    call pass
    mov $str_ops, %si
    call puts
    mov done, %eax
    call putdec
    mov $str_faults, %si
    call puts
    mov faults, %eax
    call putdec
    mov $str_irqs, %si
    call puts
    mov irqs, %eax
    call putdec
    mov $'\n', %al
    call putc
    jmp poweroff

/* EAX := next xorshift32 value. Preserves all else. */
rand:
    mov seed, %eax
    push %ebx
    mov %eax, %ebx
    shl $13, %ebx
    xor %ebx, %eax
    mov %eax, %ebx
    shr $17, %ebx
    xor %ebx, %eax
    mov %eax, %ebx
    shl $5, %ebx
    xor %ebx, %eax
    pop %ebx
    mov %eax, seed
    ret

/* Vectors 0-31: an exception in the operation in flight (or an IRQ the
 * random PIC programming sent there): drop the interrupt frame, EOI both
 * PICs in case it was an IRQ, and go on with the next operation. */
abandon:
    mov op_sp, %sp
    incl faults
    mov $0x20, %al
    out %al, $0xa0
    out %al, $0x20
    cld
    xor %ax, %ax
    mov %ax, %es
    jmp op_done

/* Vectors 32-255: a device interrupt. EOI both PICs; a storm masks them. */
irq_any:
    push %ax
    incl irqs
    mov $0x20, %al
    out %al, $0xa0
    out %al, $0x20
    incw storm
    cmpw $200, storm
    jb 1f
    mov $0xff, %al
    out %al, $0x21
    out %al, $0xa1
    movw $0, storm
1:  pop %ax
    iret

    .balign 4
seed:     .long 0
done:     .long 0
faults:   .long 0
irqs:     .long 0
zero_qword: .quad 0
op_sp:    .word 0
storm:    .word 0
dev_ports:
    .word 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61
    .word 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x70, 0x71
    .word 0xcf8, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff, 0x80, 0x60, 0x64, 0xcf9
dev_ports_end:
name:       .asciz "hostile guest: the hypervisor survived"
str_ops:    .asciz "hostile ops "
str_faults: .asciz " faults/abandoned "
str_irqs:   .asciz " interrupts "
