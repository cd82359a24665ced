/* The FPU section (docs/hypervisor.md, "Recording"): the compressing
 * libraries use SSE, so before the writer first runs one of them after an
 * exit (trace_writer_config.lib_enter) the guest's x87/SSE state is saved
 * (XSAVE64, RFBM = x87|SSE) and the libraries get a clean x87 and the
 * default MXCSR; rec_fpu_leave() restores the guest's state before the
 * next VM entry. One section per exit at most, and none in the exits that
 * compress nothing. */
#ifndef HVRR_HV_RECORDING_FPU_H
#define HVRR_HV_RECORDING_FPU_H

#include <stdbool.h>
#include <stdint.h>

#define REC_FPU_AREA_SIZE 8192u

struct rec_fpu {
    uint8_t area[REC_FPU_AREA_SIZE] __attribute__((aligned(64))); /* XSAVE area */
    bool in; /* inside a section: the guest's state is in area */
    uint64_t sections;
};

/* Host set-up for the libraries: CR0.MP on, EM/TS off, CR4.OSFXSR and
 * OSXMMEXCPT; panics when the CPU's XSAVE area does not fit. */
void rec_fpu_setup(void);
void rec_fpu_enter(struct rec_fpu *f);
void rec_fpu_leave(struct rec_fpu *f);

#endif
