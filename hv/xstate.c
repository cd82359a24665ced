/* Boot-time self-check of XSAVE / XSAVEC / XSAVES (xstate.h).
 *
 * Layouts (SDM Vol. 1, 13.4): both formats start with the 512-byte legacy
 * region (x87, MXCSR at 24, XMM0-15 at 160) and the 64-byte header
 * (XSTATE_BV at 512, XCOMP_BV at 520). The standard format then puts
 * component i at CPUID.(0DH,i):EBX; the compacted format packs the
 * requested components in index order from 576, rounding a component's
 * start up to 64 when CPUID.(0DH,i):ECX[1] is set.
 *
 * The check loads distinct byte patterns into every enabled component with
 * a standard-format XRSTOR, then compares what each save variant writes
 * against the layout above, and what each restore variant reads back.
 */
#include "hv/xstate.h"

#include "hv/arch.h"
#include "hv/lib.h"

#define AREA_MAX   8192u
#define LEGACY_SSE 160u /* XMM0-15 in the legacy region */
#define SSE_LEN    256u
#define HDR        512u
#define WHY_LEN    sizeof(((struct xstate_check *)0)->xsave_why)
#define COMPACTED  (UINT64_C(1) << 63)

static uint8_t std_img[AREA_MAX] __attribute__((aligned(64)));
static uint8_t cmp_img[AREA_MAX] __attribute__((aligned(64)));
static uint8_t out[AREA_MAX] __attribute__((aligned(64)));

struct layout {
    uint32_t std_off[64], cmp_off[64], size[64];
    uint32_t std_size, cmp_size;
};

#define XINSN(name, insn)                                                                          \
    static inline void name(void *p, uint64_t m)                                                   \
    {                                                                                              \
        __asm__ volatile(insn " (%0)" ::"r"(p), "a"((uint32_t)m), "d"((uint32_t)(m >> 32))         \
                         : "memory");                                                              \
    }
XINSN(xsave64, "xsave64")
XINSN(xrstor64, "xrstor64")
XINSN(xsavec64, "xsavec64")
XINSN(xsaves64, "xsaves64")
XINSN(xrstors64, "xrstors64")

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void layout_of(uint64_t xcr0, struct layout *l)
{
    l->std_size = HDR + 64;
    l->cmp_size = HDR + 64;
    for (unsigned i = 2; i < 63; i++) {
        if (!(xcr0 & (1ull << i)))
            continue;
        struct cpuid_regs c = cpuid(0xd, i);
        l->size[i] = c.eax;
        l->std_off[i] = c.ebx;
        if (c.ecx & 2)
            l->cmp_size = (l->cmp_size + 63) & ~63u;
        l->cmp_off[i] = l->cmp_size;
        l->cmp_size += c.eax;
        if (c.ebx + c.eax > l->std_size)
            l->std_size = c.ebx + c.eax;
    }
}

static uint8_t pattern(unsigned comp, uint32_t k)
{
    return (uint8_t)((comp * 0x35u + k * 7u) | 1u);
}

/* Components to check: SSE (as index 1) and every enabled one from 2. */
static bool checked(uint64_t xcr0, unsigned i)
{
    return i == 1 || (i >= 2 && i < 63 && (xcr0 & (1ull << i)));
}

static uint32_t off_in(const struct layout *l, unsigned i, bool compacted)
{
    if (i == 1)
        return LEGACY_SSE;
    return compacted ? l->cmp_off[i] : l->std_off[i];
}

static uint32_t len_of(const struct layout *l, unsigned i)
{
    return i == 1 ? SSE_LEN : l->size[i];
}

/* Does img hold every checked component's pattern where `compacted` says? */
static bool holds_patterns(const uint8_t *img, uint64_t xcr0, const struct layout *l,
                           bool compacted, const char *what, char *why)
{
    for (unsigned i = 1; i < 63; i++) {
        if (!checked(xcr0, i))
            continue;
        uint32_t off = off_in(l, i, compacted), len = len_of(l, i);
        for (uint32_t k = 0; k < len; k++) {
            if (img[off + k] != pattern(i, k)) {
                if (!why[0])
                    hv_snprintf(why, WHY_LEN,
                                "%s: component %u byte %u at offset %u: 0x%02x, want 0x%02x", what,
                                i, k, off + k, img[off + k], pattern(i, k));
                return false;
            }
        }
    }
    return true;
}

/* Every component in xcr0 to its initial configuration (XRSTOR of a header
 * with XSTATE_BV = 0; MXCSR gets its reset value 0x1f80). */
void xstate_reset(uint64_t xcr0)
{
    static uint8_t area[HDR + 64] __attribute__((aligned(64)));
    memset(area, 0, sizeof area);
    put32(area + 24, 0x1f80);
    xrstor64(area, xcr0);
}

uint32_t xstate_area_size(void)
{
    return cpuid(0xd, 0).ecx;
}

void xstate_area_init(void *area)
{
    uint8_t *a = area;
    memset(a, 0, HDR + 64);
    put32(a + 24, 0x1f80);
}

void xstate_save(void *area, uint64_t xcr0)
{
    xsave64(area, xcr0);
}

void xstate_load(const void *area, uint64_t xcr0)
{
    xrstor64((void *)(uintptr_t)area, xcr0);
}

/* Load the patterns with a standard-format XRSTOR. */
static void load_patterns(uint64_t xcr0)
{
    xrstor64(std_img, xcr0);
}

/* Save with `save` into `out`, check the layout and the canary after it. */
static bool check_save(void (*save)(void *, uint64_t), uint64_t xcr0, const struct layout *l,
                       const char *what, char *why)
{
    memset(out, 0xcc, sizeof out);
    load_patterns(xcr0);
    save(out, xcr0);
    if (!holds_patterns(out, xcr0, l, true, what, why))
        return false;
    uint64_t xcomp = get64(out + HDR + 8);
    if (xcomp != (xcr0 | COMPACTED)) {
        if (!why[0])
            hv_snprintf(why, WHY_LEN, "%s: XCOMP_BV 0x%lx, want 0x%lx", what, xcomp,
                        (uint64_t)(xcr0 | COMPACTED));
        return false;
    }
    for (uint32_t k = l->cmp_size; k < l->cmp_size + 64 && k < AREA_MAX; k++) {
        if (out[k] != 0xcc) {
            if (!why[0])
                hv_snprintf(why, WHY_LEN, "%s: wrote past the %u-byte area (offset %u)", what,
                            l->cmp_size, k);
            return false;
        }
    }
    return true;
}

/* Restore the architectural compacted image with `restore`, read it back
 * with a standard XSAVE and compare. */
static bool check_restore(void (*restore)(void *, uint64_t), uint64_t xcr0, const struct layout *l,
                          const char *what, char *why)
{
    xstate_reset(xcr0);
    restore(cmp_img, xcr0);
    memset(out, 0, sizeof out);
    xsave64(out, xcr0);
    return holds_patterns(out, xcr0, l, false, what, why);
}

void xstate_check(uint64_t xcr0, bool try_xsaves, struct xstate_check *r)
{
    memset(r, 0, sizeof *r);
    r->xsavec = (cpuid(0xd, 1).eax & 2) != 0;
    r->xsaves = try_xsaves;
    static struct layout l;
    memset(&l, 0, sizeof l);
    layout_of(xcr0, &l);
    if (l.std_size + 64 > AREA_MAX || l.cmp_size + 64 > AREA_MAX) {
        hv_snprintf(r->xsave_why, WHY_LEN, "XSAVE area of %u bytes too large to check", l.std_size);
        return;
    }

    /* The standard image: x87 left in its initial state, MXCSR default. */
    memset(std_img, 0, sizeof std_img);
    memset(cmp_img, 0, sizeof cmp_img);
    put32(std_img + 24, 0x1f80);
    put32(cmp_img + 24, 0x1f80);
    for (unsigned i = 1; i < 63; i++) {
        if (!checked(xcr0, i))
            continue;
        for (uint32_t k = 0; k < len_of(&l, i); k++) {
            std_img[off_in(&l, i, false) + k] = pattern(i, k);
            cmp_img[off_in(&l, i, true) + k] = pattern(i, k);
        }
    }
    put64(std_img + HDR, xcr0 & ~1ull);
    put64(cmp_img + HDR, xcr0 & ~1ull);
    put64(cmp_img + HDR + 8, (uint64_t)(xcr0 | COMPACTED));

    load_patterns(xcr0);
    memset(out, 0, sizeof out);
    xsave64(out, xcr0);
    r->xsave_ok = holds_patterns(out, xcr0, &l, false, "XSAVE", r->xsave_why);

    if (r->xsave_ok && r->xsavec)
        r->xsavec_ok = check_save(xsavec64, xcr0, &l, "XSAVEC", r->xsavec_why) &&
                       check_restore(xrstor64, xcr0, &l, "XRSTOR compacted", r->xsavec_why);
    if (r->xsave_ok && r->xsaves)
        r->xsaves_ok = check_save(xsaves64, xcr0, &l, "XSAVES", r->xsaves_why) &&
                       check_restore(xrstors64, xcr0, &l, "XRSTORS", r->xsaves_why);
    xstate_reset(xcr0);
}
