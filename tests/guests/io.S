/* Port I/O to every emulated device, with expectations from the datasheets:
 * 8259A (ICW1-4, OCW1 mask read-back, OCW3 IRR/ISR read), 8254 (counter
 * latch, mode 0 OUT2 through port 0x61), 16550A (scratch, LCR, LSR, IIR,
 * FIFO enable), MC146818 (register D VRT bit, BCD seconds), PCI mechanism #1
 * (0xcf8 read-back, host bridge vendor 8086, absent device all-ones),
 * port 0x80 latch, 8042 status, and an unknown port reading all-ones. */
#include "common.inc"
main:
    /* --- 8259A pair: initialise as Linux does, then masks read back --- */
    PIC_INIT_PAIR
    mov $0xa5, %al
    out %al, $0x21
    in $0x21, %al
    movzx %al, %eax
    cmp $0xa5, %eax
    CHECK je, n_pic_imr, w_readback
    mov $0x5a, %al
    out %al, $0xa1
    in $0xa1, %al
    movzx %al, %eax
    cmp $0x5a, %eax
    CHECK je, n_pic_imr2, w_readback
    mov $0x0b, %al /* OCW3: read ISR */
    out %al, $0x20
    in $0x20, %al
    movzx %al, %eax
    cmp $0, %eax
    CHECK je, n_pic_isr, w_nonzero
    mov $0xff, %al
    out %al, $0x21
    out %al, $0xa1

    /* --- 8254: channel 0 mode 2, count 0x8000, latch twice: counts down --- */
    mov $0x34, %al
    out %al, $0x43
    xor %al, %al
    out %al, $0x40
    mov $0x80, %al
    out %al, $0x40
    mov $200, %cx
1:  loop 1b
    xor %al, %al /* counter latch ch0 */
    out %al, $0x43
    in $0x40, %al
    mov %al, %bl
    in $0x40, %al
    mov %al, %bh
    movzx %bx, %eax
    cmp $0, %eax
    je 2f
    cmp $0x8000, %eax
    CHECK jbe, n_pit_latch, w_range
    jmp 3f
2:  mov $n_pit_latch, %si
    mov $w_range, %di
    call fail_hex
3:
    /* channel 2 mode 0, gate via port 0x61 bit 0; OUT2 = port 0x61 bit 5 */
    in $0x61, %al
    and $0xfc, %al
    out %al, $0x61
    mov $0xb0, %al
    out %al, $0x43
    mov $100, %al /* 100 clocks = 84 us */
    out %al, $0x42
    xor %al, %al
    out %al, $0x42
    in $0x61, %al
    or $0x01, %al
    out %al, $0x61
    in $0x61, %al
    movzx %al, %eax
    test $0x01, %al
    CHECK jnz, n_p61_gate, w_readback
    mov $100000, %ecx
4:  in $0x61, %al
    test $0x20, %al
    jnz 5f
    dec %ecx
    jnz 4b
5:  movzx %al, %eax
    test $0x20, %al
    CHECK jnz, n_p61_out2, w_never
    in $0x61, %al
    and $0xfc, %al
    out %al, $0x61

    /* --- 16550A --- */
    mov $0x3ff, %dx
    mov $0x5a, %al
    out %al, %dx
    in %dx, %al
    movzx %al, %eax
    cmp $0x5a, %eax
    CHECK je, n_uart_scr, w_readback
    mov $0x3fb, %dx
    mov $0x1b, %al /* 8 bits, 2 stop, even parity */
    out %al, %dx
    in %dx, %al
    movzx %al, %eax
    cmp $0x1b, %eax
    CHECK je, n_uart_lcr, w_readback
    mov $0x03, %al
    out %al, %dx
    mov $0x3fd, %dx
    in %dx, %al
    movzx %al, %eax
    and $0x60, %eax /* THRE and TEMT after the output drained */
    cmp $0x60, %eax
    CHECK je, n_uart_lsr, w_bits
    mov $0x3fa, %dx
    mov $0x01, %al /* FCR: enable FIFOs */
    out %al, %dx
    in %dx, %al
    movzx %al, %eax
    and $0xcf, %eax
    cmp $0xc1, %eax /* FIFOs enabled, no interrupt pending */
    CHECK je, n_uart_iir, w_bits

    /* --- MC146818 CMOS/RTC --- */
    mov $0x0d, %al
    out %al, $0x70
    in $0x71, %al
    movzx %al, %eax
    test $0x80, %al
    CHECK jnz, n_rtc_vrt, w_bits
    mov $0x0b, %al
    out %al, $0x70
    in $0x71, %al
    test $0x04, %al /* binary mode: skip the BCD check */
    jnz 6f
    mov $0x00, %al
    out %al, $0x70
    in $0x71, %al
    movzx %al, %eax
    mov %al, %bl
    and $0x0f, %bl
    cmp $9, %bl
    ja 7f
    cmp $0x59, %eax
    CHECK jbe, n_rtc_bcd, w_range
    jmp 6f
7:  mov $n_rtc_bcd, %si
    mov $w_range, %di
    call fail_hex
6:
    /* --- PCI configuration mechanism #1 --- */
    mov $0xcf8, %dx
    mov $0x80000000, %eax
    out %eax, %dx
    in %dx, %eax
    cmp $0x80000000, %eax
    CHECK je, n_pci_cf8, w_readback
    mov $0xcfc, %dx
    in %dx, %eax
    and $0xffff, %eax
    cmp $0x8086, %eax
    CHECK je, n_pci_vendor, w_value
    mov $0xcf8, %dx
    mov $0x8000f800, %eax /* bus 0, device 31: absent */
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    cmp $0xffffffff, %eax
    CHECK je, n_pci_absent, w_value

    /* --- port 0x80 --- */
    mov $0xc3, %al
    out %al, $0x80
    in $0x80, %al
    movzx %al, %eax
    cmp $0xc3, %eax
    CHECK je, n_post, w_readback

    /* --- 8042: status register, input buffer empty --- */
    in $0x64, %al
    movzx %al, %eax
    test $0x02, %al
    CHECK jz, n_kbc, w_bits

    /* --- an unknown port: all-ones at every size, writes ignored --- */
    mov $0x1234, %dx
    mov $0, %al
    out %al, %dx
    in %dx, %al
    movzx %al, %eax
    cmp $0xff, %eax
    CHECK je, n_unk8, w_value
    in %dx, %ax
    movzx %ax, %eax
    cmp $0xffff, %eax
    CHECK je, n_unk16, w_value
    in %dx, %eax
    cmp $0xffffffff, %eax
    CHECK je, n_unk32, w_value
    jmp poweroff

n_pic_imr:    .asciz "io pic master IMR read-back"
n_pic_imr2:   .asciz "io pic slave IMR read-back"
n_pic_isr:    .asciz "io pic ISR empty after init"
n_pit_latch:  .asciz "io pit channel 0 latched count in (0, 0x8000]"
n_p61_gate:   .asciz "io port61 gate2 read-back"
n_p61_out2:   .asciz "io port61 OUT2 high after mode-0 terminal count"
n_uart_scr:   .asciz "io uart scratch read-back"
n_uart_lcr:   .asciz "io uart LCR read-back"
n_uart_lsr:   .asciz "io uart LSR THRE+TEMT"
n_uart_iir:   .asciz "io uart IIR FIFOs enabled, no interrupt"
n_rtc_vrt:    .asciz "io cmos register D VRT"
n_rtc_bcd:    .asciz "io cmos seconds valid BCD"
n_pci_cf8:    .asciz "io pci 0xcf8 read-back"
n_pci_vendor: .asciz "io pci host bridge vendor 8086"
n_pci_absent: .asciz "io pci absent device all-ones"
n_post:       .asciz "io port 0x80 read-back"
n_kbc:        .asciz "io kbc status input buffer empty"
n_unk8:       .asciz "io unknown port inb all-ones"
n_unk16:      .asciz "io unknown port inw all-ones"
n_unk32:      .asciz "io unknown port inl all-ones"
w_readback:   .asciz "read back"
w_nonzero:    .asciz "non-zero"
w_range:      .asciz "out of range"
w_never:      .asciz "never set"
w_bits:       .asciz "bits"
w_value:      .asciz "value"
