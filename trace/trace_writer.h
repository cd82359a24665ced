/* Trace writer: encodes records (Sync, Exit and DeviceEvent with the
 * hand-written trace_encode.c, byte for byte what protobuf-c packs; Header,
 * Checkpoint and End with protobuf-c), batches them into zstd frames and
 * hands framed bytes to a caller-supplied write callback.
 *
 * Usable freestanding: no stdio, and no allocation unless the caller passes
 * an allocator. Memory is either one caller-provided block of
 * trace_writer_mem_size() bytes, or one block taken from the allocator.
 *
 *   struct trace_writer_config cfg = { .level = 3, .write = my_write, .write_ctx = port };
 *   size_t need = trace_writer_mem_size(&cfg);
 *   struct trace_writer *w = trace_writer_init(&cfg, mem, need);   // or mem NULL + cfg.alloc
 *   trace_write_header(w, &hdr);
 *   for each exit: trace_write_exit(w, &ex);
 *   trace_writer_finish(w, &end);
 *   trace_writer_destroy(w);
 *
 * Errors are sticky: once a call fails every later call returns the same
 * error; trace_writer_error() reads it.
 */
#ifndef HVRR_TRACE_WRITER_H
#define HVRR_TRACE_WRITER_H

#include "trace/trace.h"

/* Returns 0 on success, anything else on failure. Must take all len bytes. */
typedef int (*trace_write_fn)(void *ctx, const void *buf, size_t len);

/* Same shape as ProtobufCAllocator and ZSTD_customMem. */
struct trace_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
};

#define TRACE_DEFAULT_LEVEL       3
#define TRACE_DEFAULT_FRAME_BYTES (64u << 10)
#define TRACE_MIN_FRAME_BYTES     (16u << 10)
#define TRACE_MAX_FRAME_BYTES     (4u << 20)

struct trace_writer_config {
    int level;          /* zstd level; 0 means TRACE_DEFAULT_LEVEL; clamped to zstd's range */
    size_t frame_bytes; /* uncompressed bytes per frame; 0 means the default; clamped */
    trace_write_fn write;
    void *write_ctx;
    const struct trace_allocator *alloc; /* used when init gets no memory */
    bool protobuf_only; /* encode every record with protobuf-c, not trace_encode.c (tests) */
    /* Called (when set) before the writer runs library code, zstd or
     * protobuf-c, which may use SSE: the hypervisor saves the guest's FPU
     * state there (hv/recording/fpu.h). Its own encoding needs no FPU. */
    void (*lib_enter)(void *ctx);
    void *lib_ctx;
};

enum trace_writer_err {
    TRACE_W_OK = 0,
    TRACE_W_E_ARG = -1,     /* bad argument or configuration */
    TRACE_W_E_NOMEM = -2,   /* memory block too small or allocator failed */
    TRACE_W_E_TOOBIG = -3,  /* one record larger than a frame */
    TRACE_W_E_ZSTD = -4,    /* compression failed */
    TRACE_W_E_WRITE = -5,   /* write callback failed */
    TRACE_W_E_FINISHED = -6 /* write after trace_writer_finish */
};

struct trace_writer_stats {
    uint64_t records; /* records written, Sync records included */
    uint64_t exits;
    uint64_t frames;
    uint64_t raw_bytes; /* uncompressed payload bytes */
    uint64_t out_bytes; /* bytes handed to the write callback */
};

struct trace_writer;

/* Bytes of memory trace_writer_init needs for this configuration. */
size_t trace_writer_mem_size(const struct trace_writer_config *cfg);
/* mem/mem_len: caller memory (8-byte aligned, at least trace_writer_mem_size);
 * or mem NULL and cfg->alloc set. Returns NULL on error. */
struct trace_writer *trace_writer_init(const struct trace_writer_config *cfg, void *mem,
                                       size_t mem_len);
/* Releases memory taken from the allocator; caller memory is just dropped. */
void trace_writer_destroy(struct trace_writer *w);

/* Each returns 0 or a negative enum trace_writer_err. */
int trace_write_header(struct trace_writer *w, const struct trace_header *h);
int trace_write_exit(struct trace_writer *w, const struct trace_exit *e);
int trace_write_dev(struct trace_writer *w, const struct trace_dev_event *d);
/* Starts a new frame first, so a reader can begin decoding at a checkpoint. */
int trace_write_checkpoint(struct trace_writer *w, const struct trace_checkpoint *c);
/* An already-encoded Record message (for tools that copy or extend traces). */
int trace_write_raw_record(struct trace_writer *w, const void *rec, size_t len);
/* Compresses and writes the records buffered so far as one frame. */
int trace_writer_flush(struct trace_writer *w);
/* Writes the End record and the final frame. */
int trace_writer_finish(struct trace_writer *w, const struct trace_end *end);

int trace_writer_error(const struct trace_writer *w);
const char *trace_writer_strerror(int err);
void trace_writer_get_stats(const struct trace_writer *w, struct trace_writer_stats *st);

#endif
