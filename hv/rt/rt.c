/* Freestanding runtime for libzstd.a and libprotobuf-c.a (see rt.h). */
#include "hv/rt/rt.h"

static struct {
    uint8_t *base;
    size_t size, used, peak;
    size_t last; /* offset of the most recent block's header, or SIZE_MAX */
    uint64_t allocs, failed;
    void (*panic)(const char *msg);
    struct rt_tcb tcb;
} rt;

#define ALIGN 16u
#define HDR   16u /* block header: the block's payload size */

struct rt_tcb *rt_init(void *arena, size_t len, uint64_t guard, void (*panic)(const char *msg))
{
    uintptr_t p = ((uintptr_t)arena + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    size_t lost = (size_t)(p - (uintptr_t)arena);
    rt.base = (uint8_t *)p;
    rt.size = len > lost ? len - lost : 0;
    rt.used = rt.peak = 0;
    rt.last = (size_t)-1;
    rt.allocs = rt.failed = 0;
    rt.panic = panic;
    rt.tcb.self = (uint64_t)(uintptr_t)&rt.tcb;
    rt.tcb.stack_guard = guard;
    return &rt.tcb;
}

void rt_heap_stats(struct rt_heap_stats *st)
{
    st->size = rt.size;
    st->used = rt.used;
    st->peak = rt.peak;
    st->allocs = rt.allocs;
    st->failed = rt.failed;
}

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void free(void *p);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
void __assert_fail(const char *expr, const char *file, unsigned line, const char *func);
void __stack_chk_fail(void);

void *malloc(size_t n)
{
    size_t need = HDR + ((n + ALIGN - 1) & ~(size_t)(ALIGN - 1));
    if (n > rt.size || need > rt.size - rt.used) {
        rt.failed++;
        return 0;
    }
    uint8_t *h = rt.base + rt.used;
    *(size_t *)h = n;
    rt.last = rt.used;
    rt.used += need;
    if (rt.used > rt.peak)
        rt.peak = rt.used;
    rt.allocs++;
    return h + HDR;
}

void *calloc(size_t n, size_t m)
{
    if (m && n > (size_t)-1 / m)
        return 0;
    uint8_t *p = malloc(n * m);
    if (p)
        for (size_t i = 0; i < n * m; i++)
            p[i] = 0;
    return p;
}

void free(void *p)
{
    if (!p)
        return;
    size_t off = (size_t)((uint8_t *)p - rt.base) - HDR;
    if (off == rt.last) { /* the most recent block: give it back */
        rt.used = off;
        rt.last = (size_t)-1;
    }
}

void *rt_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

void rt_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

#ifndef RT_HOST_HAS_STRLEN /* the hypervisor's hv/lib.c has one */
size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
#endif

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

void __assert_fail(const char *expr, const char *file, unsigned line, const char *func)
{
    (void)file;
    (void)line;
    (void)func;
    if (rt.panic)
        rt.panic(expr);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void __stack_chk_fail(void)
{
    if (rt.panic)
        rt.panic("stack protector: canary overwritten in a library");
    for (;;)
        __asm__ volatile("cli; hlt");
}
