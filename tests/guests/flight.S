/* Flight-recorder guest (make e2e-flight, not in guests.list): fills the
 * console with numbered lines (≈ 27 k port exits, many trace frames), then
 * writes to the hypervisor's flight-dump port 0xbf0 (HVREC_MAGIC_PORT in
 * hv/recording.h), prints one more line and powers off. */
#include "common.inc"
main:
    xor %ebx, %ebx
1:  mov $filler, %si
    call puts
    mov %ebx, %eax
    call puthex
    mov $'\n', %al
    call putc
    inc %ebx
    cmp $300, %ebx
    jb 1b
    mov $0xbf0, %dx
    mov $1, %al
    out %al, %dx
    mov $name, %si
    call pass
    jmp poweroff
filler: .asciz "flight guest filler line, number "
name: .asciz "flight guest asked for a flight-recorder dump"
