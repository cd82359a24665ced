/* Hosted helpers for the trace writer (see trace_host.h). */
#include "trace/trace_host.h"

#include <stdlib.h>
#include <string.h>

static void *libc_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

const struct trace_allocator trace_libc_allocator = {libc_alloc, libc_free, NULL};

int trace_write_stdio(void *file, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, file) == len ? 0 : -1;
}

int trace_write_membuf(void *membuf, const void *buf, size_t len)
{
    struct trace_membuf *m = membuf;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        unsigned char *p = realloc(m->data, cap);
        if (!p)
            return -1;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

void trace_membuf_free(struct trace_membuf *m)
{
    free(m->data);
    m->data = NULL;
    m->len = m->cap = 0;
}
