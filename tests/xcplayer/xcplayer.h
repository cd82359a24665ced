/* The op list `hvrr crosscheck --timed` hands to the player guest
 * (tests/xcplayer/player.c) as a Multiboot module, and what the player
 * writes back on QEMU's debugcon (port 0xe9). Little-endian, packed. */
#ifndef HVRR_XCPLAYER_H
#define HVRR_XCPLAYER_H

#include <stdint.h>

#define XP_MAGIC    0x50585648u /* "HVXP" */
#define XP_VERSION  1u
#define XP_DONE     0x454e4f44u /* "DONE", after the last answer */
#define XP_DEBUGCON 0xe9

struct xp_header {
    uint32_t magic, version, n, reserved;
    /* The player does the access of trace time t at virtual time base_ns + t
     * (virtual time = RDTSC under -icount shift=0). */
    uint64_t base_ns, reserved2;
};

enum { XP_OUT = 1, XP_IN = 2, XP_ACK = 3 };

struct xp_op {
    uint64_t t_ns; /* trace virtual time of the access */
    uint16_t port; /* ACK: XP_ACK_EXPECT | the master IRQ (0-7) the trace took, or 0 */
    uint8_t kind;  /* XP_* */
    uint8_t size;  /* OUT/IN: 1, 2, 4; ACK: 1 master poll, 2 master and slave poll */
    /* OUT: the value; ACK: a withdrawn line to send a specific EOI for after
     * the polls (QEMU keeps withdrawn edges latched), or 0xffffffff */
    uint32_t value;
};

/* An acknowledge whose master poll finds nothing, or another IRQ than the
 * trace's (not IRQ2; that one is given a specific EOI first), is polled
 * again this long after its time: an interrupt edge within one PIT clock
 * (838 ns) after the trace's acknowledge counts as tolerated, not as
 * missing. */
#define XP_ACK_EXPECT    0x100
#define XP_ACK_WINDOW_NS 1000

/* Debugcon output: the 8-byte virtual time the player was ready at, then
 * per IN its `size` bytes and per ACK its `size` poll bytes and a byte 1 if
 * they are of the second poll (XP_ACK_WINDOW_NS later), in op order; then the largest lateness (8
 * bytes, ns an access came after its time), the number of accesses later than 100 ns (4 bytes),
 * XP_DONE. */

#endif
