/* Multiboot2 parsing and a range allocator: free RAM is a list of ranges;
 * allocations are carved from the top of the first range that fits. VMs run
 * one after another, so per-VM memory is released by restoring a mark. */
#include "hv/mm.h"
#include "hv/lib.h"

extern char __hv_start[], __hv_end[];

static struct mm_state mm;

#define MB2_TAG_END        0
#define MB2_TAG_CMDLINE    1
#define MB2_TAG_MODULE     3
#define MB2_TAG_MMAP       6
#define MB2_MMAP_AVAILABLE 1
#define LOW_LIMIT          (1ull << 20) /* leave the first MiB alone */
#define HIGH_LIMIT         (1ull << 32) /* only the identity-mapped low 4 GiB */

struct mb2_tag {
    uint32_t type, size;
};

static void range_add(uint64_t s, uint64_t e)
{
    s = align_up(s, PAGE_SIZE);
    e &= ~(PAGE_SIZE - 1);
    if (s < LOW_LIMIT)
        s = LOW_LIMIT;
    if (e > HIGH_LIMIT)
        e = HIGH_LIMIT;
    if (s >= e || mm.n >= MM_MAX_RANGES)
        return;
    mm.r[mm.n++] = (struct mm_range){s, e};
}

static void range_remove(uint64_t s, uint64_t e)
{
    s &= ~(PAGE_SIZE - 1);
    e = align_up(e, PAGE_SIZE);
    for (unsigned i = 0; i < mm.n; i++) {
        struct mm_range *r = &mm.r[i];
        if (e <= r->start || s >= r->end)
            continue;
        if (s <= r->start && e >= r->end) {
            r->start = r->end = 0; /* emptied */
        } else if (s <= r->start) {
            r->start = e;
        } else if (e >= r->end) {
            r->end = s;
        } else if (mm.n < MM_MAX_RANGES) {
            mm.r[mm.n++] = (struct mm_range){e, r->end};
            r->end = s;
        } else {
            r->end = s; /* table full: lose the upper part */
        }
    }
}

void mm_init(uint64_t mbi, struct boot_info *out)
{
    *out = (struct boot_info){.cmdline = ""};
    uint32_t total = *(uint32_t *)phys_to_virt(mbi);
    uint64_t p = mbi + 8, end = mbi + total;
    while (p + 8 <= end) {
        const struct mb2_tag *t = phys_to_virt(p);
        if (t->type == MB2_TAG_END)
            break;
        if (t->type == MB2_TAG_CMDLINE) {
            out->cmdline = (const char *)(t + 1);
        } else if (t->type == MB2_TAG_MODULE && out->nmods >= MB_MAX_MODULES) {
            out->nmods_ignored++;
        } else if (t->type == MB2_TAG_MODULE) {
            const uint32_t *m = (const uint32_t *)(t + 1);
            out->mods[out->nmods++] =
                (struct mb_module){.start = m[0], .end = m[1], .cmdline = (const char *)(m + 2)};
        } else if (t->type == MB2_TAG_MMAP) {
            const uint32_t *h = (const uint32_t *)(t + 1);
            uint32_t esize = h[0];
            for (uint64_t q = p + 16; esize && q + esize <= p + t->size; q += esize) {
                const uint64_t *ent = phys_to_virt(q);
                uint32_t type = *(const uint32_t *)(ent + 2);
                if (type == MB2_MMAP_AVAILABLE) {
                    out->ram_total += ent[1];
                    range_add(ent[0], ent[0] + ent[1]);
                }
            }
        }
        p += align_up(t->size, 8);
    }
    range_remove(virt_to_phys(__hv_start), virt_to_phys(__hv_end));
    range_remove(mbi, end);
    for (unsigned i = 0; i < out->nmods; i++)
        range_remove(out->mods[i].start, out->mods[i].end);
}

uint64_t mm_alloc_raw(uint64_t bytes, uint64_t align)
{
    bytes = align_up(bytes, PAGE_SIZE);
    if (align < PAGE_SIZE)
        align = PAGE_SIZE;
    for (unsigned i = 0; i < mm.n; i++) {
        struct mm_range *r = &mm.r[i];
        if (r->end - r->start < bytes)
            continue;
        uint64_t a = (r->end - bytes) & ~(align - 1);
        if (a < r->start)
            continue;
        if (a + bytes < r->end && mm.n < MM_MAX_RANGES)
            mm.r[mm.n++] = (struct mm_range){a + bytes, r->end}; /* alignment slack */
        r->end = a;
        return a;
    }
    return 0;
}

uint64_t mm_alloc(uint64_t bytes, uint64_t align)
{
    uint64_t a = mm_alloc_raw(bytes, align);
    if (a)
        memset(phys_to_virt(a), 0, align_up(bytes, PAGE_SIZE));
    return a;
}

void mm_mark(struct mm_state *save)
{
    *save = mm;
}

void mm_release(const struct mm_state *save)
{
    mm = *save;
}

uint64_t mm_free_bytes(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < mm.n; i++)
        n += mm.r[i].end - mm.r[i].start;
    return n;
}
