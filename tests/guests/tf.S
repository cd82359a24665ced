/* Triple fault: an interrupt with an empty real-mode IVT (limit 0) raises
 * #GP, then #DF, then shutdown. The hypervisor must end only this VM. */
#include "common.inc"
main:
    mov $name, %si
    call pass
    lidt empty_idt
    int $3
    mov $name2, %si
    mov $why, %di
    call fail
    jmp poweroff
empty_idt:
    .word 0
    .long 0
name:  .asciz "tf guest about to triple fault"
name2: .asciz "tf triple fault"
why:   .asciz "execution continued after the fault"
