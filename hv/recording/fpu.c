/* The FPU section around the compressing libraries (fpu.h). */
#include "hv/recording/fpu.h"

#include "hv/arch.h"
#include "hv/lib.h"

#define CR0_MP         (1ull << 1)
#define CR0_EM         (1ull << 2)
#define CR0_TS         (1ull << 3)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define FPU_SAVE_MASK  3u /* XCR0 components saved around the libraries: x87, SSE */

void rec_fpu_setup(void)
{
    /* The guest's own CR0/CR4 are separate VMCS fields. */
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    struct cpuid_regs d0 = cpuid(0xd, 0);
    if (d0.ecx > REC_FPU_AREA_SIZE)
        hv_panic("record: XSAVE area of %u bytes does not fit", d0.ecx);
}

void rec_fpu_enter(struct rec_fpu *f)
{
    if (f->in)
        return;
    /* x87 and SSE only: the libraries hold no AVX/AVX-512 code (make
     * trace-freestanding checks the linked writer for ymm/zmm/k registers),
     * and legacy SSE instructions leave the upper halves alone. */
    __asm__ volatile("xsave64 %0" : "+m"(f->area) : "a"(FPU_SAVE_MASK), "d"(0));
    uint32_t mxcsr = 0x1f80; /* default: all exceptions masked */
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
    f->in = true;
    f->sections++;
}

void rec_fpu_leave(struct rec_fpu *f)
{
    if (!f->in)
        return;
    __asm__ volatile("xrstor64 %0" : : "m"(f->area), "a"(FPU_SAVE_MASK), "d"(0));
    f->in = false;
}
