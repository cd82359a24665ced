/* The vCPU scheduler's decisions (hv/vcpu_sched.h): round robin from the
 * vCPU after the current one, the current one last; halted vCPUs wake only
 * with an interrupt pending; vCPUs waiting for a SIPI never run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/vcpu_sched.h"

#define R VCPU_RUNNABLE
#define H VCPU_IN_HLT
#define W VCPU_WAIT_SIPI

/* One vCPU: it runs until it halts; halted, only an interrupt wakes it. */
static void test_one_vcpu(void **s)
{
    (void)s;
    enum vcpu_run_state run[1] = {R};
    bool pend[1] = {false};
    assert_int_equal(vcpu_sched_next(run, pend, 1, 0, false), 0);
    assert_int_equal(vcpu_sched_next(run, pend, 1, 0, true), 0); /* yields to itself */
    run[0] = H;
    assert_int_equal(vcpu_sched_next(run, pend, 1, 0, true), -1);
    pend[0] = true;
    assert_int_equal(vcpu_sched_next(run, pend, 1, 0, true), 0);
}

/* The BSP runs alone while the APs wait for their SIPI. */
static void test_aps_waiting_for_sipi_never_run(void **s)
{
    (void)s;
    enum vcpu_run_state run[4] = {R, W, W, W};
    bool pend[4] = {false, true, true, true}; /* an interrupt does not start an AP */
    for (unsigned cur = 0; cur < 4; cur++)
        assert_int_equal(vcpu_sched_next(run, pend, 4, cur, true), 0);
    run[0] = H;
    pend[0] = false;
    assert_int_equal(vcpu_sched_next(run, pend, 4, 0, true), -1);
}

/* Quantum over: the next one in index order, wrapping, the current last. */
static void test_round_robin_order(void **s)
{
    (void)s;
    enum vcpu_run_state run[4] = {R, R, R, R};
    bool pend[4] = {false};
    unsigned cur = 0, seen[8];
    for (unsigned k = 0; k < 8; k++) {
        cur = (unsigned)vcpu_sched_next(run, pend, 4, cur, true);
        seen[k] = cur;
    }
    static const unsigned want[8] = {1, 2, 3, 0, 1, 2, 3, 0};
    assert_memory_equal(seen, want, sizeof want);
    /* not yielding: the current one keeps the CPU */
    assert_int_equal(vcpu_sched_next(run, pend, 4, 2, false), 2);
}

/* Halted vCPUs are passed over unless an interrupt is pending for them;
 * a halted current vCPU gives the CPU away even without yielding. */
static void test_halted_skipped_until_interrupt(void **s)
{
    (void)s;
    enum vcpu_run_state run[3] = {H, H, R};
    bool pend[3] = {false, false, false};
    assert_int_equal(vcpu_sched_next(run, pend, 3, 0, false), 2);
    assert_int_equal(vcpu_sched_next(run, pend, 3, 2, true), 2); /* only itself */
    pend[1] = true;
    assert_int_equal(vcpu_sched_next(run, pend, 3, 2, true), 1);
    assert_int_equal(vcpu_sched_next(run, pend, 3, 0, false), 1);
    run[2] = W;
    pend[1] = false;
    assert_int_equal(vcpu_sched_next(run, pend, 3, 1, true), -1);
}

static void test_bad_arguments(void **s)
{
    (void)s;
    enum vcpu_run_state run[2] = {R, R};
    bool pend[2] = {false, false};
    assert_int_equal(vcpu_sched_next(run, pend, 0, 0, false), -1);
    assert_int_equal(vcpu_sched_next(run, pend, 2, 2, false), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_vcpu),
        cmocka_unit_test(test_aps_waiting_for_sipi_never_run),
        cmocka_unit_test(test_round_robin_order),
        cmocka_unit_test(test_halted_skipped_until_interrupt),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
