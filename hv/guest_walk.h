/* Guest linear -> guest physical, walking the guest's own page tables the
 * way the processor does (SDM Vol. 3 4.3-4.5): no paging, 32-bit paging
 * (4 KiB and, with CR4.PSE, 4 MiB pages), PAE (4 KiB, 2 MiB), 4- and 5-level
 * (4 KiB, 2 MiB, 1 GiB). Checks present, write and user permission (CR0.WP),
 * sets accessed and dirty bits, and on failure gives the #PF error code.
 * Reserved-bit checks, protection keys and SMAP are not done.
 *
 * Used to emulate the memory side of string port I/O (INS/OUTS). Pure code:
 * guest memory comes through a callback, so the walker is unit-tested on the
 * host (tests/test_guest_walk.c).
 */
#ifndef HVRR_GUEST_WALK_H
#define HVRR_GUEST_WALK_H

#include <stdbool.h>
#include <stdint.h>

struct gw_mode {
    uint64_t cr0, cr3, cr4, efer; /* as the guest sees them */
    unsigned cpl;
};

/* Guest RAM at gpa for len bytes (never crossing a page), or NULL when gpa
 * is not RAM. */
typedef void *(*gw_map_fn)(void *ctx, uint64_t gpa, unsigned len);

enum gw_status {
    GW_OK = 0,
    GW_PAGE_FAULT, /* inject #PF(err) with CR2 = the linear address */
    GW_NOT_RAM,    /* a table or the target is outside guest RAM (bad_gpa) */
};

struct gw_result {
    uint64_t gpa;     /* GW_OK */
    uint32_t pf_err;  /* GW_PAGE_FAULT: P, W/R, U/S bits */
    uint64_t bad_gpa; /* GW_NOT_RAM */
};

#define GW_PF_P     1u
#define GW_PF_WRITE 2u
#define GW_PF_USER  4u

enum gw_status guest_walk(const struct gw_mode *m, uint64_t la, bool write, gw_map_fn map,
                          void *ctx, struct gw_result *r);

#endif
