/* Smallest guest: one line on the UART, then power-off. */
#include "common.inc"
main:
    mov $name, %si
    call pass
    jmp poweroff
name: .asciz "smoke real-mode guest runs and prints"
