/* Guest page-table walk (guest_walk.h). */
#include "hv/guest_walk.h"

#define CR0_WP   (1ull << 16)
#define CR0_PG   (1ull << 31)
#define CR4_PSE  (1ull << 4)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)

#define PTE_P    1ull
#define PTE_RW   2ull
#define PTE_US   4ull
#define PTE_A    0x20ull
#define PTE_D    0x40ull
#define PTE_PS   0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

struct walk {
    gw_map_fn map;
    void *ctx;
    struct gw_result *r;
    void *path[5]; /* entries used, to set their accessed bits */
    unsigned wide[5];
    unsigned n;
};

/* Reads the entry at gpa (4 or 8 bytes) and remembers where it is. */
static bool read_entry(struct walk *w, uint64_t gpa, unsigned size, uint64_t *val)
{
    void *p = w->map(w->ctx, gpa, size);
    if (!p) {
        w->r->bad_gpa = gpa;
        return false;
    }
    *val = size == 8 ? *(uint64_t *)p : *(uint32_t *)p;
    w->path[w->n] = p;
    w->wide[w->n] = size;
    w->n++;
    return true;
}

static void set_bits(void *p, unsigned size, uint64_t bits)
{
    if (size == 8)
        *(uint64_t *)p |= bits;
    else
        *(uint32_t *)p |= (uint32_t)bits;
}

enum gw_status guest_walk(const struct gw_mode *m, uint64_t la, bool write, gw_map_fn map,
                          void *ctx, struct gw_result *r)
{
    r->gpa = r->bad_gpa = 0;
    r->pf_err = 0;
    if (!(m->cr0 & CR0_PG)) {
        r->gpa = (m->efer & EFER_LMA) ? la : (la & 0xffffffffull);
        return GW_OK;
    }
    struct walk w = {.map = map, .ctx = ctx, .r = r};
    uint32_t err = (write ? GW_PF_WRITE : 0) | (m->cpl == 3 ? GW_PF_USER : 0);
    bool rw = true, us = true;
    uint64_t e = 0, base = 0, page = 0;

    if (!(m->cr4 & CR4_PAE)) {
        /* 32-bit paging: PD and PT of 1024 4-byte entries. */
        la &= 0xffffffffull;
        if (!read_entry(&w, (m->cr3 & 0xfffff000ull) + ((la >> 22) & 0x3ff) * 4, 4, &e))
            return GW_NOT_RAM;
        if (!(e & PTE_P))
            goto not_present;
        rw = rw && (e & PTE_RW);
        us = us && (e & PTE_US);
        if ((e & PTE_PS) && (m->cr4 & CR4_PSE)) {
            page = 1ull << 22;
            base = (e & 0xffc00000ull) | (((e >> 13) & 0xff) << 32);
        } else {
            if (!read_entry(&w, (e & 0xfffff000ull) + ((la >> 12) & 0x3ff) * 4, 4, &e))
                return GW_NOT_RAM;
            if (!(e & PTE_P))
                goto not_present;
            rw = rw && (e & PTE_RW);
            us = us && (e & PTE_US);
            page = 1ull << 12;
            base = e & 0xfffff000ull;
        }
    } else {
        uint64_t table;
        int shift;
        if (!(m->efer & EFER_LMA)) {
            /* PAE: four PDPTEs at CR3 (no permission bits), then PD, PT. */
            la &= 0xffffffffull;
            if (!read_entry(&w, (m->cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8, 8, &e))
                return GW_NOT_RAM;
            if (!(e & PTE_P))
                goto not_present;
            w.n--; /* PDPTEs have no accessed bit to set here */
            table = e & PTE_ADDR;
            shift = 21;
        } else {
            table = m->cr3 & PTE_ADDR;
            shift = (m->cr4 & CR4_LA57) ? 48 : 39;
        }
        for (;; shift -= 9) {
            if (!read_entry(&w, table + ((la >> shift) & 0x1ff) * 8, 8, &e))
                return GW_NOT_RAM;
            if (!(e & PTE_P))
                goto not_present;
            rw = rw && (e & PTE_RW);
            us = us && (e & PTE_US);
            if (shift == 12 || ((shift == 21 || shift == 30) && (e & PTE_PS))) {
                page = 1ull << shift;
                base = e & PTE_ADDR & ~(page - 1);
                break;
            }
            table = e & PTE_ADDR;
        }
    }

    if (m->cpl == 3 && !us) {
        r->pf_err = err | GW_PF_P;
        return GW_PAGE_FAULT;
    }
    if (write && !rw && (m->cpl == 3 || (m->cr0 & CR0_WP))) {
        r->pf_err = err | GW_PF_P;
        return GW_PAGE_FAULT;
    }
    for (unsigned i = 0; i < w.n; i++)
        set_bits(w.path[i], w.wide[i], PTE_A | (write && i + 1 == w.n ? PTE_D : 0));
    r->gpa = base | (la & (page - 1));
    return GW_OK;

not_present:
    r->pf_err = err;
    return GW_PAGE_FAULT;
}
