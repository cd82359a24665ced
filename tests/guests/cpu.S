/* CPUID as the hypervisor presents it, RDMSR/WRMSR, XSETBV/XGETBV with
 * CPUID leaf 0xD following the guest's XCR0, XSAVE/XRSTOR of SSE state
 * across VM exits, and #GP for invalid XCR0 values and unknown MSRs. */
#include "common.inc"

/* GPCHECK len: expect the next instruction (len bytes) to raise #GP. */
.macro EXPECT_GP len
    movw $\len, gp_skip
    movw $0, gp_count
.endm

main:
    movw $gp_handler, 13 * 4
    movw $0, 13 * 4 + 2

    /* vendor */
    xor %eax, %eax
    cpuid
    mov %eax, max_leaf
    mov %ebx, %eax
    cmp $0x756e6547, %ebx
    jne 1f
    cmp $0x49656e69, %edx
    jne 1f
    cmp $0x6c65746e, %ecx
1:  CHECK je, n_vendor, w_value
    mov max_leaf, %eax
    cmp $0x15, %eax
    CHECK jae, n_maxleaf, w_value

    /* leaf 1 feature policy */
    mov $1, %eax
    cpuid
    mov %edx, %eax
    test $(1 << 9), %edx
    CHECK jz, n_noapic, w_bits
    mov %ecx, %eax
    test $((1 << 21) | (1 << 5) | (1 << 30)), %ecx
    CHECK jz, n_nox2apic, w_bits
    mov %ecx, %eax
    test $(1 << 26), %ecx
    CHECK jnz, n_xsave, w_bits
    mov %ecx, %eax
    test $(1 << 27), %ecx
    CHECK jz, n_osxsave0, w_bits

    /* leaf 0x15: TSC frequency */
    mov $0x15, %eax
    xor %ecx, %ecx
    cpuid
    mov %ecx, %eax
    test %ecx, %ecx
    CHECK jnz, n_leaf15, w_value

    /* CR4.OSXSAVE | OSFXSR | OSXMMEXCPT; CR0: MP on, EM off */
    mov %cr4, %eax
    or $((1 << 18) | (1 << 9) | (1 << 10)), %eax
    mov %eax, %cr4
    mov %cr0, %eax
    and $~(1 << 2), %eax
    or $(1 << 1), %eax
    mov %eax, %cr0
    mov $1, %eax
    cpuid
    mov %ecx, %eax
    test $(1 << 27), %ecx
    CHECK jnz, n_osxsave1, w_bits

    xor %ecx, %ecx
    xgetbv
    cmp $1, %eax
    CHECK je, n_xcr0_init, w_value

    mov $0xd, %eax
    xor %ecx, %ecx
    cpuid
    mov %eax, xcr0_supported
    mov %ebx, %eax
    cmp $576, %ebx
    CHECK je, n_d_size1, w_value

    /* XCR0 = x87|SSE */
    mov $3, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    xgetbv
    cmp $3, %eax
    CHECK je, n_xsetbv3, w_value
    mov $0xd, %eax
    xor %ecx, %ecx
    cpuid
    mov %ebx, %eax
    cmp $576, %ebx
    CHECK je, n_d_size3, w_value

    /* XCR0 = x87|SSE|AVX if offered: leaf 0xD size = offset+size of AVX */
    testl $4, xcr0_supported
    jz 2f
    mov $0xd, %eax
    mov $2, %ecx
    cpuid
    add %ebx, %eax
    mov %eax, avx_end
    mov $7, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    mov $0xd, %eax
    xor %ecx, %ecx
    cpuid
    mov %ebx, %eax
    cmp avx_end, %ebx
    CHECK je, n_d_size7, w_value
2:
    /* XCR0 = everything offered: leaf 0xD size = max(offset + size) */
    mov xcr0_supported, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    movl $576, max_end
    mov $2, %esi
3:  mov xcr0_supported, %eax
    bt %esi, %eax
    jnc 4f
    mov $0xd, %eax
    mov %esi, %ecx
    cpuid
    add %ebx, %eax
    cmp max_end, %eax
    jbe 4f
    mov %eax, max_end
4:  inc %esi
    cmp $32, %esi
    jb 3b
    mov $0xd, %eax
    xor %ecx, %ecx
    cpuid
    mov %ebx, %eax
    cmp max_end, %ebx
    CHECK je, n_d_sizeall, w_value
    mov $3, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    /* invalid XCR0 values raise #GP */
    EXPECT_GP 3
    mov $5, %eax /* AVX without SSE */
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    movzwl gp_count, %eax
    cmp $1, %eax
    CHECK je, n_xsetbv_bad, w_value
    EXPECT_GP 3
    mov $2, %eax /* x87 bit clear */
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    movzwl gp_count, %eax
    cmp $1, %eax
    CHECK je, n_xsetbv_bad0, w_value

    /* XSAVE/XRSTOR keep XMM1 across exits */
    mov $0x12345678, %eax
    movd %eax, %xmm1
    mov $0x3f8 + 7, %dx /* an exit in between */
    in %dx, %al
    mov $3, %eax
    xor %edx, %edx
    xsave xsave_area
    mov xsave_area + 160 + 16, %eax
    cmp $0x12345678, %eax
    CHECK je, n_xsave_st, w_value
    pxor %xmm1, %xmm1
    mov $3, %eax
    xor %edx, %edx
    xrstor xsave_area
    mov $0x80, %dx
    out %al, %dx /* another exit */
    movd %xmm1, %eax
    cmp $0x12345678, %eax
    CHECK je, n_xrstor, w_value

    /* XSAVEC and XSAVES, when CPUID.(0DH,1):EAX offers them, write the
     * compacted layout (SDM Vol. 1 13.4.3): the AVX component (YMM0-7 high
     * halves here, outside 64-bit mode) right after the header, at 576,
     * and XCOMP_BV bit 63 set; an XRSTOR of that image gives the registers
     * back. Bochs 2.7 writes it 160 bytes early, so the hv hides both. */
    testl $4, xcr0_supported
    jz 7f
    mov $7, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    mov $0xd, %eax
    mov $1, %ecx
    cpuid
    mov %eax, d1_eax
    testl $2, d1_eax
    jz 5f
    call load_ymm
    movl $0, cmp_area + 576
    movl $0, cmp_area + 576 + 124
    mov $7, %eax
    xor %edx, %edx
    xsavec cmp_area
    call check_cmp
    CHECK je, n_xsavec, w_value
5:  testl $8, d1_eax
    jz 6f
    call load_ymm
    movl $0, cmp_area + 576
    movl $0, cmp_area + 576 + 124
    mov $7, %eax
    xor %edx, %edx
    xsaves cmp_area
    call check_cmp
    CHECK je, n_xsaves, w_value
6:  mov $3, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
7:

    /* MSRs */
    mov $0x277, %ecx
    rdmsr
    cmp $0x00070406, %edx
    jne 3f
    cmp $0x00070406, %eax
3:  CHECK je, n_pat_reset, w_value
    mov $0x277, %ecx
    mov $0x00070106, %eax
    mov $0x00070106, %edx
    wrmsr
    rdmsr
    cmp $0x00070106, %eax
    CHECK je, n_pat_rw, w_value
    mov $0x174, %ecx
    mov $0x1234, %eax
    xor %edx, %edx
    wrmsr
    xor %eax, %eax
    rdmsr
    cmp $0x1234, %eax
    CHECK je, n_sysenter, w_value
    mov $0xc0000080, %ecx
    rdmsr
    cmp $0, %eax
    CHECK je, n_efer, w_value
    /* IA32_TSC follows RDTSC */
    rdtsc
    mov %eax, %ebx
    mov $0x10, %ecx
    rdmsr
    sub %ebx, %eax
    cmp $1000000, %eax
    CHECK jb, n_tsc_msr, w_value
    /* unknown MSR -> #GP */
    EXPECT_GP 2
    mov $0x4b564d00, %ecx
    rdmsr
    movzwl gp_count, %eax
    cmp $1, %eax
    CHECK je, n_msr_gp, w_value
    EXPECT_GP 2
    mov $0x4b564d00, %ecx
    wrmsr
    movzwl gp_count, %eax
    cmp $1, %eax
    CHECK je, n_wrmsr_gp, w_value
    jmp poweroff

/* #GP in real mode: count it and step over the faulting instruction. */
gp_handler:
    push %bp
    mov %sp, %bp
    push %ax
    mov gp_skip, %ax
    add %ax, 2(%bp)
    incw gp_count
    pop %ax
    pop %bp
    iret

/* YMM0-7 high halves := ymm_img's pattern (standard-format XRSTOR). */
load_ymm:
    mov $7, %eax
    xor %edx, %edx
    xrstor ymm_img
    ret

/* cmp_area, just written by a compacted save: pattern at 576 and 700,
 * XCOMP_BV bit 63 set; then XRSTOR it over cleared registers and read them
 * back with a standard XSAVE. ZF set if all holds; %eax = the bad value. */
check_cmp:
    mov cmp_area + 576, %eax
    cmp $0xa5c30000, %eax
    jne 1f
    mov cmp_area + 576 + 124, %eax
    cmp $0xa5c3001f, %eax
    jne 1f
    mov cmp_area + 512 + 12, %eax
    test $0x80000000, %eax
    jnz 2f
    or $1, %eax /* ZF clear: XCOMP_BV bit 63 missing */
    ret
2:
    mov $7, %eax
    xor %edx, %edx
    xrstor init_img /* XSTATE_BV = 0: every component to its initial state */
    mov $7, %eax
    xor %edx, %edx
    xrstor cmp_area
    movl $0, xsave_area + 576
    mov $7, %eax
    xor %edx, %edx
    xsave xsave_area
    mov xsave_area + 576, %eax
    cmp $0xa5c30000, %eax
1:  ret

    .balign 4
max_leaf:       .long 0
xcr0_supported: .long 0
avx_end:        .long 0
max_end:        .long 0
d1_eax:         .long 0
gp_skip:        .word 0
gp_count:       .word 0
n_vendor:      .asciz "cpu CPUID vendor GenuineIntel"
n_maxleaf:     .asciz "cpu CPUID max leaf >= 0x15"
n_noapic:      .asciz "cpu CPUID.1 no local APIC"
n_nox2apic:    .asciz "cpu CPUID.1 no x2APIC, VMX, RDRAND"
n_xsave:       .asciz "cpu CPUID.1 XSAVE offered"
n_osxsave0:    .asciz "cpu CPUID.1 OSXSAVE clear while CR4.OSXSAVE=0"
n_osxsave1:    .asciz "cpu CPUID.1 OSXSAVE follows CR4.OSXSAVE"
n_leaf15:      .asciz "cpu CPUID 0x15 TSC frequency"
n_xcr0_init:   .asciz "cpu XCR0 starts as 1"
n_d_size1:     .asciz "cpu CPUID 0xD size 576 for XCR0=1"
n_xsetbv3:     .asciz "cpu XSETBV 3 / XGETBV"
n_d_size3:     .asciz "cpu CPUID 0xD size 576 for XCR0=3"
n_d_size7:     .asciz "cpu CPUID 0xD size includes AVX for XCR0=7"
n_d_sizeall:   .asciz "cpu CPUID 0xD size = max(offset+size) for all offered components"
n_xsetbv_bad:  .asciz "cpu XSETBV AVX without SSE -> #GP"
n_xsetbv_bad0: .asciz "cpu XSETBV without x87 -> #GP"
n_xsave_st:    .asciz "cpu XSAVE stores XMM1"
n_xrstor:      .asciz "cpu XRSTOR restores XMM1 across exits"
n_xsavec:      .asciz "cpu XSAVEC (offered) writes the compacted layout"
n_xsaves:      .asciz "cpu XSAVES (offered) writes the compacted layout"
n_pat_reset:   .asciz "cpu RDMSR PAT reset value"
n_pat_rw:      .asciz "cpu WRMSR/RDMSR PAT"
n_sysenter:    .asciz "cpu WRMSR/RDMSR SYSENTER_CS"
n_efer:        .asciz "cpu EFER 0 in real mode"
n_tsc_msr:     .asciz "cpu RDMSR TSC close to RDTSC"
n_msr_gp:      .asciz "cpu RDMSR unknown MSR -> #GP"
n_wrmsr_gp:    .asciz "cpu WRMSR unknown MSR -> #GP"
w_value:       .asciz "value"
w_bits:        .asciz "bits"
    .balign 64
xsave_area: .skip 1024
    .balign 64
cmp_area: .skip 1024
    .balign 64
init_img: /* legacy region with MXCSR = 0x1f80, header all zeros */
    .skip 24
    .long 0x1f80
    .skip 512 + 64 - 28
    .balign 64
ymm_img: /* standard format: XSTATE_BV = AVX, YMM0-7 high halves at 576 */
    .skip 24
    .long 0x1f80
    .skip 512 - 28
    .quad 4
    .skip 56
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long 0xa5c30000 + \n
    .endr
