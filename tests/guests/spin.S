/* An endless loop with interrupts off: the per-guest virtual-time budget
 * (timeout_ms= in guests.list) must end the VM as "timeout". */
#include "common.inc"
main:
    mov $name, %si
    call pass
    cli
1:  jmp 1b
name: .asciz "spin guest about to loop for ever"
