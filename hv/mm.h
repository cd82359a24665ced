/* Multiboot2 information and the physical page allocator. Physical memory
 * below 4 GiB is identity-mapped, so a physical address is also a pointer. */
#ifndef HVRR_MM_H
#define HVRR_MM_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE      4096ull
#define MM_MAX_RANGES  64
#define MB_MAX_MODULES 32

struct mb_module {
    uint64_t start, end; /* physical, [start, end) */
    const char *cmdline; /* the module2 line after the path */
};

struct boot_info {
    const char *cmdline; /* hv command line (may be "") */
    struct mb_module mods[MB_MAX_MODULES];
    unsigned nmods;
    unsigned nmods_ignored; /* modules beyond MB_MAX_MODULES */
    uint64_t ram_total;     /* usable RAM reported by the firmware */
};

struct mm_range {
    uint64_t start, end;
};
/* The allocator state; copy it to take a mark, copy it back to release. */
struct mm_state {
    struct mm_range r[MM_MAX_RANGES];
    unsigned n;
};

/* Parses the multiboot2 information at mbi and seeds the allocator with the
 * usable RAM below 4 GiB minus the hv image, the mbi and the modules. */
void mm_init(uint64_t mbi, struct boot_info *out);
/* Zeroed, `align`-aligned (power of two, >= 4 KiB) physical memory, or 0. */
uint64_t mm_alloc(uint64_t bytes, uint64_t align);
/* Non-zeroed variant for large areas the caller initialises itself. */
uint64_t mm_alloc_raw(uint64_t bytes, uint64_t align);
void mm_mark(struct mm_state *save);
void mm_release(const struct mm_state *save);
uint64_t mm_free_bytes(void);

static inline void *phys_to_virt(uint64_t pa)
{
    return (void *)(uintptr_t)pa;
}
static inline uint64_t virt_to_phys(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

#endif
