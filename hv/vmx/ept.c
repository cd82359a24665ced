/* Extended page tables: guest RAM only, write-back, 2 MiB leaves. Any GPA
 * at or above the RAM size has no mapping and causes an EPT violation. */
#include "hv/vmx/vmx.h"
#include "hv/lib.h"
#include "hv/mm.h"

#define EPT_R      (1ull << 0)
#define EPT_W      (1ull << 1)
#define EPT_X      (1ull << 2)
#define EPT_RWX    (EPT_R | EPT_W | EPT_X)
#define EPT_MT_WB  (6ull << 3)
#define EPT_LARGE  (1ull << 7)
#define EPTP_WB    6ull
#define EPTP_WALK4 (3ull << 3)
#define SZ_2M      (2ull << 20)
#define SZ_1G      (1ull << 30)

int ept_build(struct ept *e, uint64_t ram_hpa, uint64_t ram_bytes)
{
    if ((ram_hpa | ram_bytes) & (SZ_2M - 1) || ram_bytes > 512 * SZ_1G)
        return -1;
    uint64_t pml4 = mm_alloc(PAGE_SIZE, PAGE_SIZE);
    uint64_t pdpt = mm_alloc(PAGE_SIZE, PAGE_SIZE);
    if (!pml4 || !pdpt)
        return -1;
    uint64_t *l4 = phys_to_virt(pml4), *l3 = phys_to_virt(pdpt);
    l4[0] = pdpt | EPT_RWX;
    for (uint64_t gpa = 0; gpa < ram_bytes; gpa += SZ_1G) {
        uint64_t pd = mm_alloc(PAGE_SIZE, PAGE_SIZE);
        if (!pd)
            return -1;
        l3[gpa / SZ_1G] = pd | EPT_RWX;
        uint64_t *l2 = phys_to_virt(pd);
        for (unsigned i = 0; i < 512 && gpa + i * SZ_2M < ram_bytes; i++)
            l2[i] = (ram_hpa + gpa + i * SZ_2M) | EPT_RWX | EPT_MT_WB | EPT_LARGE;
    }
    e->pml4_pa = pml4;
    e->eptp = pml4 | EPTP_WALK4 | EPTP_WB;
    return 0;
}
