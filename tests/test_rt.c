/* hv/rt: the heap and libc hooks the hypervisor gives libzstd/libprotobuf-c.
 * The file is compiled into this test with its libc names renamed so it
 * does not replace the host's allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define malloc           rt_test_malloc
#define calloc           rt_test_calloc
#define free             rt_test_free
#define strlen           rt_test_strlen
#define strcmp           rt_test_strcmp
#define __assert_fail    rt_test_assert_fail
#define __stack_chk_fail rt_test_stack_chk_fail
#include "hv/rt/rt.c"

static const char *panicked;
static jmp_buf panic_jmp;
static void on_panic(const char *msg)
{
    panicked = msg;
    longjmp(panic_jmp, 1);
}

static _Alignas(16) uint8_t arena[4096];

static void test_tcb_guard_is_at_fs_0x28(void **st)
{
    (void)st;
    struct rt_tcb *t = rt_init(arena, sizeof arena, 0x1122334455667788ull, on_panic);
    assert_int_equal(offsetof(struct rt_tcb, stack_guard), 0x28);
    assert_true(t->stack_guard == 0x1122334455667788ull);
    assert_ptr_equal((void *)(uintptr_t)t->self, t);
}

static void test_allocations_are_aligned_and_disjoint(void **st)
{
    (void)st;
    rt_init(arena + 3, sizeof arena - 3, 1, on_panic); /* misaligned arena */
    uint8_t *a = malloc(1), *b = malloc(17), *c = malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_int_equal((uintptr_t)b % 16, 0);
    assert_true(b >= a + 16);
    assert_true(c >= b + 32);
    assert_true(a >= arena + 3 && c < arena + sizeof arena);
}

static void test_free_reclaims_only_the_last_block(void **st)
{
    (void)st;
    rt_init(arena, sizeof arena, 1, on_panic);
    void *a = malloc(100);
    void *b = malloc(100);
    struct rt_heap_stats s;
    rt_heap_stats(&s);
    size_t used = s.used;
    free(a); /* not the last: stays allocated */
    rt_heap_stats(&s);
    assert_int_equal(s.used, used);
    free(b); /* the last: given back */
    rt_heap_stats(&s);
    assert_true(s.used < used);
    assert_int_equal(s.peak, used);
    assert_ptr_equal(malloc(100), b);
    free(NULL);
}

static void test_exhaustion_returns_null_and_counts(void **st)
{
    (void)st;
    rt_init(arena, sizeof arena, 1, on_panic);
    assert_null(malloc(sizeof arena));
    assert_null(malloc((size_t)-1));
    assert_null(calloc((size_t)1 << 40, (size_t)1 << 40)); /* n*m overflows */
    struct rt_heap_stats s;
    rt_heap_stats(&s);
    assert_int_equal(s.failed, 2);
    assert_int_equal(s.used, 0);
}

static void test_calloc_zeroes(void **st)
{
    (void)st;
    rt_init(arena, sizeof arena, 1, on_panic);
    uint8_t *p = malloc(64);
    for (int i = 0; i < 64; i++)
        p[i] = 0xaa;
    free(p);
    uint8_t *q = calloc(8, 8);
    assert_ptr_equal(p, q);
    for (int i = 0; i < 64; i++)
        assert_int_equal(q[i], 0);
}

static void test_string_functions(void **st)
{
    (void)st;
    assert_int_equal(strlen(""), 0);
    assert_int_equal(strlen("hvrr"), 4);
    assert_int_equal(strcmp("abc", "abc"), 0);
    assert_true(strcmp("abc", "abd") < 0);
    assert_true(strcmp("abc", "ab") > 0);
    assert_true(strcmp("\xff", "a") > 0); /* compares as unsigned char */
}

static void test_assert_and_canary_failures_panic(void **st)
{
    (void)st;
    rt_init(arena, sizeof arena, 1, on_panic);
    panicked = NULL;
    if (!setjmp(panic_jmp))
        __assert_fail("x > 0", "f.c", 1, "fn");
    assert_string_equal(panicked, "x > 0");
    panicked = NULL;
    if (!setjmp(panic_jmp))
        __stack_chk_fail();
    assert_non_null(panicked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcb_guard_is_at_fs_0x28),
        cmocka_unit_test(test_allocations_are_aligned_and_disjoint),
        cmocka_unit_test(test_free_reclaims_only_the_last_block),
        cmocka_unit_test(test_exhaustion_returns_null_and_counts),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_string_functions),
        cmocka_unit_test(test_assert_and_canary_failures_panic),
    };
    return cmocka_run_group_tests_name("rt", tests, NULL, NULL);
}
