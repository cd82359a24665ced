/* Self-check of the host's XSAVE family before any guest runs.
 *
 * A guest's extended state (AVX, AVX-512) lives in the physical registers
 * while it runs, and its kernel saves it with whichever XSAVE variant
 * CPUID offers. If the CPU (or the emulator standing in for it) writes a
 * layout other than the one the SDM and its own CPUID leaf 0xD describe,
 * the guest loses register contents on every context switch. Checking once
 * at boot lets the hypervisor hide a broken variant instead.
 */
#ifndef HVRR_XSTATE_H
#define HVRR_XSTATE_H

#include <stdbool.h>
#include <stdint.h>

struct xstate_check {
    bool xsave_ok;  /* standard format XSAVE/XRSTOR round trip */
    bool xsavec;    /* offered by the CPU (CPUID.(0DH,1):EAX[1]) */
    bool xsavec_ok; /* XSAVEC writes, and XRSTOR reads, the compacted layout */
    bool xsaves;    /* offered by the CPU and usable (caller's say) */
    bool xsaves_ok; /* the same for XSAVES / XRSTORS */
    /* first mismatch seen by each check, for the log */
    char xsave_why[96], xsavec_why[96], xsaves_why[96];
};

/* Runs with CR4.OSXSAVE set and XCR0 = xcr0; leaves every component in
 * its initial state. try_xsaves: the caller knows XSAVES may execute
 * (CPUID.(0DH,1):EAX[3] and IA32_XSS = 0). */
void xstate_check(uint64_t xcr0, bool try_xsaves, struct xstate_check *out);

/* x87, SSE, AVX, AVX-512 registers (every component in xcr0) to their
 * initial configuration: what a new vCPU starts with, so that nothing one
 * VM left in the registers reaches the next. */
void xstate_reset(uint64_t xcr0);

/* The bytes a standard-format XSAVE area needs for every component the
 * host XCR0 may enable (CPUID.(0DH,0):ECX); at most XSTATE_AREA_MAX. */
#define XSTATE_AREA_MAX 8192u
uint32_t xstate_area_size(void);
/* A fresh area: every component in its initial state, MXCSR 0x1f80 (what
 * xstate_load gives a vCPU that has not run yet). */
void xstate_area_init(void *area);
/* Standard-format XSAVE / XRSTOR of the components in xcr0 (64-byte
 * aligned area): how vCPUs that share the physical registers swap them. */
void xstate_save(void *area, uint64_t xcr0);
void xstate_load(const void *area, uint64_t xcr0);

#endif
