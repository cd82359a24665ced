/* PIT IRQ0 through the 8259A at the programmed rate, measured against the
 * guest TSC (frequency from CPUID leaf 0x15): once waiting in HLT (the
 * hypervisor skips idle time to the next PIT edge) and once busy-looping
 * (delivery by the preemption timer). Each must be within 1 %. */
#include "common.inc"
#define DIVISOR 1193  /* 1000.15 Hz */
#define PERIODS 50

main:
    /* TSC Hz = ECX * EBX / EAX from CPUID 0x15 */
    mov $0x15, %eax
    xor %ecx, %ecx
    cpuid
    test %eax, %eax
    jz no15
    mov %eax, %esi
    mov %ecx, %eax
    mul %ebx
    div %esi
    mov %eax, tsc_hz
    /* expected TSC ticks per PIT period = tsc_hz * DIVISOR / 1193182 */
    mov $DIVISOR, %ebx
    mul %ebx
    mov $1193182, %ebx
    div %ebx
    mov %eax, period
    mov $PERIODS, %ebx
    mul %ebx
    mov %eax, expect_total

    /* IVT: vector 0x20 -> irq0 */
    movw $irq0, 0x80
    movw $0, 0x82
    /* PIC: master base 0x20, slave 0x28; unmask IRQ0 only */
    PIC_INIT_PAIR
    mov $0xff, %al
    out %al, $0xa1
    mov $0xfe, %al
    out %al, $0x21
    /* PIT channel 0: mode 2 (rate generator), lobyte/hibyte */
    mov $0x34, %al
    out %al, $0x43
    mov $(DIVISOR & 0xff), %al
    out %al, $0x40
    mov $(DIVISOR >> 8), %al
    out %al, $0x40

    /* Phase 1: wait in HLT */
    movl $0, count
    sti
1:  hlt
    cmpl $(PERIODS + 2), count
    jb 1b
    cli
    mov $n_hlt, %si
    call pass
    call check_rate_hlt

    /* Phase 2: busy loop */
    movl $0, count
    sti
2:  cmpl $(PERIODS + 2), count
    jb 2b
    cli
    call check_rate_busy

    /* Phase 3: the guest sets its TSC back to 0. On a PC the PIT does not
     * care: IRQ0 keeps coming while the guest spins (a bounded loop of
     * ~2 M instructions, less than the TSC was set back by). */
    xor %eax, %eax
    xor %edx, %edx
    mov $0x10, %ecx
    wrmsr
    movl $0, count
    mov $600000, %ecx
    sti
7:  cmpl $5, count
    jae 8f
    dec %ecx
    jnz 7b
8:  cli
    mov count, %eax
    cmp $5, %eax
    mov $n_tsc_write, %si
    jb 9f
    call pass
    jmp poweroff
9:  mov $w_value, %di
    call fail_hex
    jmp poweroff

check_rate_hlt:
    mov $n_rate_hlt, %si
    jmp check_rate
check_rate_busy:
    mov $n_rate_busy, %si
check_rate:
    mov t_end, %eax
    sub t_start, %eax
    push %si
    mov $w_info, %si
    call puts
    call putdec
    mov $w_expected, %si
    call puts
    push %eax
    mov expect_total, %eax
    call putdec
    pop %eax
    mov $'\n', %al
    call putc
    pop %si
    mov t_end, %eax
    sub t_start, %eax
    mov %eax, %ebx
    sub expect_total, %ebx
    jns 3f
    neg %ebx
3:  mov expect_total, %ecx
    push %eax
    mov %ecx, %eax
    xor %edx, %edx
    mov $100, %ecx
    div %ecx /* eax = 1 % of expected */
    cmp %eax, %ebx
    pop %eax
    ja 4f
    call pass
    ret
4:  mov $w_rate, %di
    call fail_hex
    ret

no15:
    mov $n_rate_hlt, %si
    mov $w_no15, %di
    call fail
    jmp poweroff

irq0:
    push %eax
    push %edx
    rdtsc
    incl count
    cmpl $2, count /* the first may have been pending since before STI */
    jne 5f
    mov %eax, t_start
5:  cmpl $(PERIODS + 2), count
    jne 6f
    mov %eax, t_end
6:  mov $0x20, %al /* non-specific EOI */
    out %al, $0x20
    pop %edx
    pop %eax
    iret

    .balign 4
tsc_hz:       .long 0
period:       .long 0
expect_total: .long 0
count:        .long 0
t_start:      .long 0
t_end:        .long 0
n_hlt:        .asciz "pit hlt wakes up on IRQ0"
n_tsc_write:  .asciz "pit IRQ0 keeps coming after the guest sets its TSC back to 0"
w_value:      .asciz "IRQ0 count"
n_rate_hlt:   .asciz "pit IRQ0 rate within 1% of 1000.15 Hz (guest in HLT)"
n_rate_busy:  .asciz "pit IRQ0 rate within 1% of 1000.15 Hz (guest busy)"
w_rate:       .asciz "measured TSC ticks"
w_expected:   .asciz " expected "
w_info:       .asciz "pit: TSC ticks for 50 IRQ0 periods: measured "
w_no15:       .asciz "no CPUID leaf 0x15"
