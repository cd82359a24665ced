/* String port I/O (INS/OUTS) in real mode: REP OUTSB prints a whole line,
 * REP INSB/INSW fill memory, DF=1 walks backwards, a segment override and
 * 32-bit address size (ESI/ECX) are honoured, a 16-bit one steps SI only
 * (ESI bits 31-16 kept), REP with CX=0 does nothing,
 * and an interrupt that becomes pending in the middle of a REP OUTSB is
 * taken between two elements (the ISR sees SI part-way), after which the
 * instruction finishes. */
#include "common.inc"

#define SCR 0x3ff /* UART scratch register: any byte in, the last one out */

main:
    cld
    /* 1. a line through REP OUTSB straight into the THR */
    mov $line, %si
    mov $(line_end - line), %cx
    mov $0x3f8, %dx
    rep outsb
    mov %si, %ax
    cmp $line_end, %ax
    jne 1f
    test %cx, %cx
1:  CHECK je, n_outs_regs, w_value

    /* 2. REP INSB: four copies of the scratch register */
    mov $0x5a, %al
    mov $SCR, %dx
    out %al, %dx
    mov $buf, %di
    mov $4, %cx
    rep insb
    mov buf, %eax
    cmp $0x5a5a5a5a, %eax
    jne 1f
    mov %di, %ax
    cmp $(buf + 4), %ax
1:  CHECK je, n_insb, w_value

    /* 3. INSW from a port nobody decodes: all-ones, DI steps by 2 */
    movl $0, buf + 4
    mov $(buf + 4), %di
    mov $0x1234, %dx
    insw
    mov buf + 4, %eax
    cmp $0x0000ffff, %eax
    jne 1f
    mov %di, %ax
    cmp $(buf + 6), %ax
1:  CHECK je, n_insw, w_value

    /* 4. DF=1: "xyz" written backwards, the last byte out is 'x' */
    std
    mov $(xyz + 2), %si
    mov $3, %cx
    mov $SCR, %dx
    rep outsb
    cld
    in %dx, %al
    movzbl %al, %eax
    cmp $'x', %al
    jne 1f
    mov %si, %ax
    cmp $(xyz - 1), %ax
1:  CHECK je, n_df, w_value

    /* 5. REP with CX = 0: no access, SI unchanged */
    mov $0x11, %al
    out %al, %dx
    mov $xyz, %si
    xor %cx, %cx
    rep outsb
    in %dx, %al
    movzbl %al, %eax
    cmp $0x11, %al
    jne 1f
    mov %si, %ax
    cmp $xyz, %ax
1:  CHECK je, n_cx0, w_value

    /* 6. segment override: ES:SI with ES = 0x800 reaches the same byte */
    mov $0x800, %ax
    mov %ax, %es
    mov $(xyz + 1 - 0x8000), %si
    outsb %es:(%si), (%dx)
    xor %ax, %ax
    mov %ax, %es
    in %dx, %al
    movzbl %al, %eax
    cmp $'y', %al
    CHECK je, n_seg, w_value

    /* 7. 32-bit address size: ESI and ECX count */
    mov $xyz, %esi
    mov $2, %ecx
    addr32 rep outsb
    in %dx, %al
    movzbl %al, %eax
    cmp $'y', %al
    jne 1f
    cmp $(xyz + 2), %esi
    jne 1f
    test %ecx, %ecx
1:  CHECK je, n_a32, w_value

    /* 7b. 16-bit address size with ESI bits 31-16 set: the element comes
     * from DS:SI and only SI steps; the upper half of ESI stays (SDM vol. 2,
     * OUTS: SI is the index with a 16-bit address size) */
    mov $(0x10000 + xyz), %esi
    outsb
    in %dx, %al
    movzbl %al, %eax
    cmp $'x', %al
    jne 1f
    cmp $(0x10000 + xyz + 1), %esi
1:  CHECK je, n_a16, w_value

    /* 8. an interrupt in the middle of REP OUTSB. IRQ0 is made pending with
     * the PIC masking it; the string writes the IMR: 0xff, 0xff, then 0xfe
     * unmasks IRQ0, so INTR rises after the third element. The ISR records
     * SI (the instruction resumes after it) and masks IRQ0 again. */
    movw $irq0, 0x20 * 4
    movw $0, 0x20 * 4 + 2
    PIC_INIT_MASTER
    mov $0xff, %al
    out %al, $0x21
    mov $0x34, %al /* PIT channel 0: mode 2, count 0x0400 */
    out %al, $0x43
    xor %al, %al
    out %al, $0x40
    mov $0x04, %al
    out %al, $0x40
    mov $0x0a, %al /* OCW3: read IRR */
    out %al, $0x20
2:  in $0x20, %al
    test $1, %al
    jz 2b
    movw $0, isr_si
    mov $imr_seq, %si
    mov $(imr_seq_end - imr_seq), %cx
    mov $0x21, %dx
    sti /* its shadow covers the first element only */
    rep outsb
    cli
    mov $0xff, %al
    out %al, $0x21
    movzwl isr_si, %eax
    cmp $(imr_seq + 3), %ax
    jne 1f
    mov %si, %ax
    cmp $imr_seq_end, %ax
1:  CHECK je, n_irq, w_value
    jmp poweroff

irq0:
    mov %si, isr_si
    push %ax
    mov $0xff, %al /* mask it again: the rest of the string keeps unmasking */
    out %al, $0x21
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

line:     .ascii "PASS strio REP OUTSB prints this line\n"
line_end:
xyz:      .ascii "xyz"
imr_seq:  .byte 0xff, 0xff, 0xfe, 0xfe, 0xfe, 0xfe
imr_seq_end:
    .balign 4
buf:      .skip 8
isr_si:   .word 0
n_outs_regs: .asciz "strio REP OUTSB advances SI by the count, CX to 0"
n_insb:   .asciz "strio REP INSB fills 4 bytes, DI advanced"
n_insw:   .asciz "strio INSW from an undecoded port reads all-ones, DI += 2"
n_df:     .asciz "strio REP OUTSB with DF=1 goes backwards"
n_cx0:    .asciz "strio REP OUTSB with CX=0 does nothing"
n_seg:    .asciz "strio OUTSB with an ES override"
n_a32:    .asciz "strio REP OUTSB with 32-bit addresses uses ESI/ECX"
n_a16:    .asciz "strio OUTSB with 16-bit addresses keeps ESI bits 31-16"
n_irq:    .asciz "strio IRQ taken between REP OUTSB elements, string completes"
w_value:  .asciz "value"
