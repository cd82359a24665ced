/* HLT with interrupts enabled and no device that will ever interrupt (PICs
 * masked, nothing programmed): the hypervisor must stop the VM as
 * "idle-forever" instead of waiting for ever. */
#include "common.inc"
main:
    mov $name, %si
    call pass
    mov $0xff, %al
    out %al, $0x21
    out %al, $0xa1
    sti
1:  hlt
    jmp 1b
name: .asciz "idle guest about to halt with nothing pending"
