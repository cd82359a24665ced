/* Hosted conveniences for the trace writer: a malloc-backed allocator and a
 * stdio write callback. Host only (the hypervisor brings its own). */
#ifndef HVRR_TRACE_HOST_H
#define HVRR_TRACE_HOST_H

#include <stdio.h>

#include "trace/trace_writer.h"

extern const struct trace_allocator trace_libc_allocator;

/* trace_write_fn for a FILE * passed as ctx. */
int trace_write_stdio(void *file, const void *buf, size_t len);

/* trace_write_fn appending to a growing in-memory buffer. */
struct trace_membuf {
    unsigned char *data;
    size_t len, cap;
};
int trace_write_membuf(void *membuf, const void *buf, size_t len);
void trace_membuf_free(struct trace_membuf *m);

#endif
