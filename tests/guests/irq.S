/* Interrupts through the cascaded slave 8259A and from the UART:
 * RTC periodic interrupt (IRQ8, register A rate 6 = 1024 Hz) measured
 * against the guest TSC within 1 %, with register C acknowledge and
 * slave-then-master EOI; then the 16550A THRE interrupt (IER bit 1,
 * MCR OUT2) on IRQ4, cleared by reading IIR. */
#include "common.inc"
#define PERIODS 64

main:
    mov $0x15, %eax /* TSC Hz from CPUID 0x15 */
    xor %ecx, %ecx
    cpuid
    mov %eax, %esi
    mov %ecx, %eax
    mul %ebx
    div %esi
    /* expected ticks for PERIODS periods of 1/1024 s = tsc_hz * PERIODS / 1024 */
    mov $PERIODS, %ebx
    mul %ebx
    mov $1024, %ebx
    div %ebx
    mov %eax, expect_total

    movw $rtc_isr, 0x28 * 4
    movw $0, 0x28 * 4 + 2
    movw $uart_isr, 0x24 * 4
    movw $0, 0x24 * 4 + 2
    PIC_INIT_PAIR
    mov $0xeb, %al /* master: IRQ2 (cascade) and IRQ4 */
    out %al, $0x21
    mov $0xfe, %al /* slave: IRQ8 */
    out %al, $0xa1

    /* RTC: 32.768 kHz divider, rate 6 (1024 Hz), periodic interrupt enable */
    mov $0x0a, %al
    out %al, $0x70
    mov $0x26, %al
    out %al, $0x71
    mov $0x0b, %al
    out %al, $0x70
    in $0x71, %al
    or $0x40, %al
    mov %al, %ah
    mov $0x0b, %al
    out %al, $0x70
    mov %ah, %al
    out %al, $0x71
    mov $0x0c, %al
    out %al, $0x70
    in $0x71, %al

    sti
1:  hlt
    cmpl $(PERIODS + 2), rtc_count
    jb 1b
    cli
    /* periodic interrupt off */
    mov $0x0b, %al
    out %al, $0x70
    in $0x71, %al
    and $~0x40, %al
    mov %al, %ah
    mov $0x0b, %al
    out %al, $0x70
    mov %ah, %al
    out %al, $0x71

    mov t_end, %eax
    sub t_start, %eax
    mov $w_info, %si
    call puts
    call putdec
    mov $w_expected, %si
    call puts
    push %eax
    mov expect_total, %eax
    call putdec
    mov $'\n', %al
    call putc
    pop %eax
    mov %eax, %ebx
    sub expect_total, %ebx
    jns 2f
    neg %ebx
2:  push %eax
    mov expect_total, %eax
    xor %edx, %edx
    mov $100, %ecx
    div %ecx
    cmp %eax, %ebx
    pop %eax
    CHECK jbe, n_rtc, w_rate

    /* UART THRE interrupt on IRQ4 */
    mov $0x3fc, %dx
    mov $0x08, %al /* MCR: OUT2 gates the IRQ line */
    out %al, %dx
    mov $0x3f9, %dx
    mov $0x02, %al /* IER: transmitter holding register empty */
    out %al, %dx
    sti
    mov $100000, %ecx
3:  cmpl $0, uart_count
    jne 4f
    dec %ecx
    jnz 3b
4:  cli
    mov uart_iir, %eax
    and $0x0f, %eax
    cmp $0x02, %eax
    CHECK je, n_uart, w_value
    jmp poweroff

rtc_isr:
    push %eax
    push %edx
    rdtsc
    incl rtc_count
    cmpl $2, rtc_count
    jne 5f
    mov %eax, t_start
5:  cmpl $(PERIODS + 2), rtc_count
    jne 6f
    mov %eax, t_end
6:  mov $0x0c, %al /* read register C: acknowledges the interrupt */
    out %al, $0x70
    in $0x71, %al
    mov $0x20, %al
    out %al, $0xa0 /* EOI slave, then master */
    out %al, $0x20
    pop %edx
    pop %eax
    iret

uart_isr:
    push %eax
    push %edx
    mov $0x3fa, %dx
    in %dx, %al /* IIR: reading it clears the THRE interrupt */
    movzbl %al, %eax
    mov %eax, uart_iir
    mov $0x3f9, %dx
    xor %al, %al
    out %al, %dx /* IER off */
    incl uart_count
    mov $0x20, %al
    out %al, $0x20
    pop %edx
    pop %eax
    iret

    .balign 4
expect_total: .long 0
rtc_count:    .long 0
uart_count:   .long 0
uart_iir:     .long 0xff
t_start:      .long 0
t_end:        .long 0
n_rtc:      .asciz "irq RTC periodic IRQ8 via the slave PIC within 1% of 1024 Hz"
n_uart:     .asciz "irq UART THRE interrupt on IRQ4, IIR=2"
w_rate:     .asciz "measured TSC ticks"
w_value:    .asciz "IIR"
w_info:     .asciz "irq: TSC ticks for 64 RTC periods: measured "
w_expected: .asciz " expected "
