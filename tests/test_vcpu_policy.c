/* hv/vcpu_policy: the guest-visible CPUID and MSR set as pure functions of a
 * host CPUID snapshot, the guest configuration and the vCPU state. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hv/vcpu_policy.h"

/* A Skylake-server-like host: AVX-512 state components, XSAVES. */
static const struct trace_cpuid_leaf host_leaves[] = {
    {0x0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69},
    {0x1, 0, 0x00050654, 0x01100800, 0xfffefbff, 0xbfebfbff}, /* every feature bit we may hide */
    {0x4, 0, 0x3c004121, 0x01c0003f, 0x3f, 0},
    {0x4, 1, 0x3c004122, 0x01c0003f, 0x3f, 0},
    {0x7, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff},
    {0xd, 0, 0xe7, 0xa80, 0xa80, 0},
    {0xd, 1, 0xf, 0xa00, 0, 0},
    {0xd, 2, 256, 576, 0, 0},
    {0xd, 5, 64, 1088, 0, 0},
    {0xd, 6, 512, 1152, 0, 0},
    {0xd, 7, 1024, 1664, 0, 0},
    {0x80000000u, 0, 0x80000008u, 0, 0, 0},
    {0x80000001u, 0, 0, 0, 0xffffffff, 0xffffffff},
    {0x80000008u, 0, 0x3028, 0, 0, 0},
};

static const struct trace_host_cpu host = {
    .nleaves = sizeof host_leaves / sizeof host_leaves[0],
    .leaves = host_leaves,
    .xcr0 = 0xe7,
    .features = TRACE_HOST_XSAVES | TRACE_HOST_RDTSCP,
};

static struct vcpu_policy pol(void)
{
    struct vcpu_policy p;
    vcpu_policy_init(&p, &host, 2500000000ull);
    return p;
}

static void q(const struct vcpu_policy *p, uint32_t leaf, uint32_t sub, uint32_t o[4])
{
    vcpu_policy_cpuid(p, leaf, sub, o);
}

static void test_vendor_and_max_leaf(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint32_t o[4];
    q(&p, 0, 0, o);
    assert_int_equal(o[0], VCPU_POLICY_MAX_LEAF);
    char v[13];
    memcpy(v, &o[1], 4);
    memcpy(v + 4, &o[3], 4);
    memcpy(v + 8, &o[2], 4);
    v[12] = 0;
    assert_string_equal(v, "GenuineIntel");
}

static void test_leaf1_hides_apic_x2apic_vmx_hypervisor(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint32_t o[4];
    q(&p, 1, 0, o);
    assert_int_equal(o[0], 0x00050654);
    assert_int_equal(o[1], 0x0800);  /* one logical processor, APIC id 0 */
    assert_false(o[3] & (1u << 9));  /* APIC */
    assert_false(o[3] & (1u << 12)); /* MTRR */
    assert_false(o[2] & (1u << 21)); /* x2APIC */
    assert_false(o[2] & (1u << 5));  /* VMX */
    assert_false(o[2] & (1u << 30)); /* RDRAND */
    assert_false(o[2] & (1u << 31)); /* hypervisor present */
    assert_false(o[2] & (1u << 27)); /* OSXSAVE follows CR4 */
    /* vCPU 2 of an SMP VM: its initial APIC ID, nothing else changes
     * (Linux compares it with the MADT's: "APIC id mismatch") */
    p.apic_id = 2;
    uint32_t o2[4];
    q(&p, 1, 0, o2);
    assert_int_equal(o2[1], 0x02000800);
    assert_int_equal(o2[0], o[0]);
    assert_int_equal(o2[2], o[2]);
    assert_int_equal(o2[3], o[3]);
    assert_true(o[2] & (1u << 26)); /* XSAVE */
    assert_true(o[3] & (1u << 4));  /* TSC */
    p.osxsave = true;
    q(&p, 1, 0, o);
    assert_true(o[2] & (1u << 27));
}

static void test_leaf7_and_hidden_leaves(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint32_t o[4];
    q(&p, 7, 0, o);
    assert_int_equal(o[0], 0);
    assert_false(o[1] & (1u << 18)); /* RDSEED */
    assert_false(o[1] & (1u << 2));  /* SGX */
    assert_true(o[1] & (1u << 0));   /* FSGSBASE passes */
    assert_int_equal(o[3], 0);
    q(&p, 7, 1, o);
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    for (uint32_t leaf = 0x40000000u; leaf <= 0x40000010u; leaf++) { /* no hypervisor leaves */
        q(&p, leaf, 0, o);
        assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    }
    const uint32_t zero[] = {6, 0xa, 0xb, 0x12, 0x14, 0x17, 0x1f, 0x80000009u, 0x8fffffffu};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++) {
        q(&p, zero[i], 0, o);
        assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    }
    q(&p, 4, 1, o);
    assert_int_equal(o[0], 0x3c004122 & 0x3ff);
}

static void test_tsc_leaves(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint32_t o[4];
    q(&p, 0x15, 0, o);
    assert_int_equal(o[0], 1);
    assert_int_equal(o[1], 1);
    assert_int_equal(o[2], 2500000000u);
    q(&p, 0x16, 0, o);
    assert_int_equal(o[0], 2500);
    assert_int_equal(o[1], 2500);
    q(&p, 0x80000007u, 0, o);
    assert_int_equal(o[3], 1u << 8); /* invariant TSC */
    q(&p, 0x80000001u, 0, o);
    assert_true(o[3] & (1u << 27)); /* RDTSCP offered */
    struct trace_host_cpu h2 = host;
    h2.features = 0;
    p.host = &h2;
    q(&p, 0x80000001u, 0, o);
    assert_false(o[3] & (1u << 27));
    assert_true(o[3] & (1u << 29)); /* LM */
}

/* TRACE_HOST_NO_TSC_LEAVES (the hv's default for Linux): 0x15 and 0x16 read
 * as zeros, so Linux 6.1's native_calibrate_tsc()/cpu_khz_from_cpuid() find
 * nothing and it falls back to quick_pit_calibrate() on the virtual PIT. The
 * rest of the policy, invariant TSC included, is unchanged. */
static void test_tsc_leaves_hidden(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    struct trace_host_cpu h2 = host;
    h2.features |= TRACE_HOST_NO_TSC_LEAVES;
    p.host = &h2;
    uint32_t o[4];
    q(&p, 0x15, 0, o);
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    q(&p, 0x16, 0, o);
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    q(&p, 0x80000007u, 0, o);
    assert_int_equal(o[3], 1u << 8);
    q(&p, 0, 0, o);
    assert_int_equal(o[1], 0x756e6547); /* still GenuineIntel */
}

/* TRACE_HOST_APIC (hv option apic=1): CPUID.1:EDX.APIC reads 1; x2APIC and
 * TSC-deadline stay hidden (Linux then runs the local APIC timer in
 * one-shot mode calibrated against the PIT); nothing else changes. */
static void test_apic_platform_sets_only_the_apic_bit(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint32_t off[4], on[4];
    q(&p, 1, 0, off);
    struct trace_host_cpu h2 = host;
    h2.features |= TRACE_HOST_APIC;
    p.host = &h2;
    q(&p, 1, 0, on);
    assert_true(on[3] & (1u << 9));
    assert_int_equal(on[3] & ~(1u << 9), off[3]);
    assert_int_equal(on[2], off[2]);
    assert_false(on[2] & (1u << 21)); /* x2APIC */
    assert_false(on[2] & (1u << 24)); /* TSC-deadline */
    assert_int_equal(on[1], off[1]);
}

static void test_leaf_0xd_sizes_follow_xcr0(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint32_t o[4];
    static const struct {
        uint64_t xcr0;
        uint32_t std, compacted;
    } t[] = {
        {0x1, 576, 576},
        {0x3, 576, 576},
        {0x7, 832, 832},
        {0xe7, 2688, 2432},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_true(vcpu_policy_xsetbv(&p, 0, t[i].xcr0));
        q(&p, 0xd, 0, o);
        assert_int_equal(o[0], 0xe7);
        assert_int_equal(o[1], t[i].std);
        assert_int_equal(o[2], 2688); /* every allowed component */
        assert_int_equal(o[3], 0);
        q(&p, 0xd, 1, o);
        assert_int_equal(o[0], 0xb); /* XSAVEOPT XSAVEC XSAVES (no XGETBV1) */
        assert_int_equal(o[1], t[i].compacted);
    }
    q(&p, 0xd, 2, o);
    assert_int_equal(o[0], 256);
    assert_int_equal(o[1], 576);
    q(&p, 0xd, 3, o); /* not in the host XCR0 */
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    q(&p, 0xd, 64, o);
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
}

/* What the hv's boot-time XSAVE check hides (hv/xstate.h): a host whose
 * XSAVEC / XSAVES write a non-architectural layout (Bochs 2.7) offers
 * neither, so guest kernels use the standard format. */
static void test_xsave_variants_hidden(void **s)
{
    (void)s;
    static const struct {
        uint32_t features, eax;
        bool xss;
    } t[] = {
        {TRACE_HOST_XSAVES, 0xb, true},
        {TRACE_HOST_XSAVES | TRACE_HOST_NO_XSAVEC, 0x9, true},
        {0, 0x3, false},
        {TRACE_HOST_NO_XSAVEC, 0x1, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct trace_host_cpu h = host;
        h.features = t[i].features;
        struct vcpu_policy p;
        vcpu_policy_init(&p, &h, 2500000000ull);
        uint32_t o[4];
        q(&p, 0xd, 1, o);
        assert_int_equal(o[0], t[i].eax);
        uint64_t v = 1;
        assert_int_equal(vcpu_policy_rdmsr(&p, 0xda0, 0, &v), t[i].xss ? VCPU_MSR_OK : VCPU_MSR_GP);
        assert_int_equal(vcpu_policy_wrmsr(&p, 0xda0, 0), t[i].xss ? VCPU_MSR_OK : VCPU_MSR_GP);
        q(&p, 0xd, 0, o); /* the standard format is unaffected */
        assert_int_equal(o[0], 0xe7);
        assert_int_equal(o[2], 2688);
    }
}

static void test_xsetbv_rules(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    assert_int_equal(p.xcr0, 1);
    assert_false(vcpu_policy_xsetbv(&p, 0, 0));    /* x87 must stay */
    assert_false(vcpu_policy_xsetbv(&p, 0, 0x5));  /* AVX without SSE */
    assert_false(vcpu_policy_xsetbv(&p, 0, 0x27)); /* AVX-512 partly */
    assert_false(vcpu_policy_xsetbv(&p, 0, 0x1f)); /* MPX: not in the host XCR0 */
    assert_false(vcpu_policy_xsetbv(&p, 1, 0x3));  /* XCR1 */
    assert_int_equal(p.xcr0, 1);
    assert_true(vcpu_policy_xsetbv(&p, 0, 0x7));
    assert_int_equal(p.xcr0, 7);
}

static void test_unknown_msrs_gp(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint64_t v = 0;
    const uint32_t bad[] = {0x1b /* APIC base */,  0xfe /* MTRRcap */, 0x179 /* MCG_CAP */,
                            0x480 /* VMX_BASIC */, 0xc0000081u,        0x12345678u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vcpu_policy_rdmsr(&p, bad[i], 0, &v), VCPU_MSR_GP);
        assert_int_equal(vcpu_policy_wrmsr(&p, bad[i], 0), VCPU_MSR_GP);
    }
    assert_int_equal(vcpu_policy_wrmsr(&p, 0x3a, 5), VCPU_MSR_GP); /* FEATURE_CONTROL locked */
    assert_int_equal(vcpu_policy_wrmsr(&p, 0x277, 0x0202020202020202ull), VCPU_MSR_GP);
    assert_int_equal(vcpu_policy_wrmsr(&p, 0xda0, 1), VCPU_MSR_GP); /* no supervisor state */
    struct trace_host_cpu h2 = host;
    h2.features = 0;
    p.host = &h2;
    assert_int_equal(vcpu_policy_rdmsr(&p, 0xda0, 0, &v), VCPU_MSR_GP); /* no XSAVES */
    assert_int_equal(vcpu_policy_wrmsr(&p, 0xda0, 0), VCPU_MSR_GP);
}

static void test_msr_values_and_write_readback(void **s)
{
    (void)s;
    struct vcpu_policy p = pol();
    uint64_t v = 99;
    assert_int_equal(vcpu_policy_rdmsr(&p, 0x10, 123456789, &v), VCPU_MSR_OK);
    assert_int_equal(v, 123456789);
    assert_int_equal(vcpu_policy_rdmsr(&p, 0x3a, 0, &v), VCPU_MSR_OK);
    assert_int_equal(v, 1);
    assert_int_equal(vcpu_policy_rdmsr(&p, 0x8b, 0, &v), VCPU_MSR_OK);
    assert_int_equal(v, 0);
    assert_int_equal(vcpu_policy_rdmsr(&p, 0x1a0, 0, &v), VCPU_MSR_OK);
    assert_int_equal(v, 1);
    assert_int_equal(vcpu_policy_wrmsr(&p, 0x1a0, 0x850089), VCPU_MSR_OK);
    assert_int_equal(vcpu_policy_rdmsr(&p, 0x1a0, 0, &v), VCPU_MSR_OK);
    assert_int_equal(v, 0x850089);
    assert_int_equal(vcpu_policy_wrmsr(&p, 0xda0, 0), VCPU_MSR_OK);
    assert_int_equal(vcpu_policy_rdmsr(&p, 0xda0, 0, &v), VCPU_MSR_OK);
    assert_int_equal(v, 0);
    assert_int_equal(vcpu_policy_wrmsr(&p, 0x8b, 7), VCPU_MSR_OK);
    /* Registers the hypervisor keeps in the VMCS: the caller's business. */
    const uint32_t regs[] = {0x277, 0xc0000080u, 0x174, 0x175, 0x176, 0xc0000100u, 0xc0000101u};
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        assert_int_equal(vcpu_policy_rdmsr(&p, regs[i], 0, &v), VCPU_MSR_GUEST_REG);
        assert_int_equal(vcpu_policy_wrmsr(&p, regs[i], 0x0007040600070406ull), VCPU_MSR_GUEST_REG);
    }
    assert_int_equal(vcpu_policy_wrmsr(&p, 0x10, 5), VCPU_MSR_GUEST_REG);
}

static void test_snapshot_want(void **s)
{
    (void)s;
    unsigned n = 0;
    for (uint32_t leaf = 0; leaf <= 0x20; leaf++)
        for (uint32_t sub = 0; sub < 64; sub++)
            n += vcpu_policy_snapshot_want(leaf, sub, 0x1f, 0x80000008u);
    for (uint32_t leaf = 0x80000000u; leaf <= 0x80000020u; leaf++)
        n += vcpu_policy_snapshot_want(leaf, 0, 0x1f, 0x80000020u);
    assert_true(n <= TRACE_HOST_CPUID_MAX);
    assert_true(vcpu_policy_snapshot_want(0xd, 7, 0x1f, 0x80000008u));
    assert_false(vcpu_policy_snapshot_want(0xd, 8, 0x1f, 0x80000008u));
    assert_false(vcpu_policy_snapshot_want(1, 1, 0x1f, 0x80000008u));
    assert_false(vcpu_policy_snapshot_want(0x15, 0, 0x1f, 0x80000008u));
    assert_false(vcpu_policy_snapshot_want(0x80000009u, 0, 0x1f, 0x80000020u));
    assert_false(vcpu_policy_snapshot_want(7, 0, 0x5, 0x80000008u)); /* above the host's max */
    /* A leaf the snapshot lacks answers zeros. */
    struct trace_host_cpu none = {.xcr0 = 3};
    struct vcpu_policy p;
    vcpu_policy_init(&p, &none, 1000000000ull);
    uint32_t o[4];
    vcpu_policy_cpuid(&p, 1, 0, o);
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_and_max_leaf),
        cmocka_unit_test(test_leaf1_hides_apic_x2apic_vmx_hypervisor),
        cmocka_unit_test(test_leaf7_and_hidden_leaves),
        cmocka_unit_test(test_tsc_leaves),
        cmocka_unit_test(test_tsc_leaves_hidden),
        cmocka_unit_test(test_leaf_0xd_sizes_follow_xcr0),
        cmocka_unit_test(test_xsave_variants_hidden),
        cmocka_unit_test(test_xsetbv_rules),
        cmocka_unit_test(test_unknown_msrs_gp),
        cmocka_unit_test(test_msr_values_and_write_readback),
        cmocka_unit_test(test_snapshot_want),
        cmocka_unit_test(test_apic_platform_sets_only_the_apic_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
