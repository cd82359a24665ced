/* Helpers for the replay/record tests (tests/test_replay*.c, test_record*.c):
 * traces in memory, scanning and rewriting them record by record (record
 * numbers as the replayer counts them: every item but damage reports), and
 * replaying with the report captured in a string. Host only, header-only. */
#ifndef HVRR_HOSTSIM_REPLAY_TESTUTIL_H
#define HVRR_HOSTSIM_REPLAY_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-sim/replay.h"
#include "trace/trace_host.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

/* A mutated copy of hv/devs linked into a test (docs/mutants.md): the
 * mutant tests/mutants/NAME.mut, NAME with '-' written '_', built by the
 * make rule $(BUILD)/host/mutants/NAME.o that the test's link rule lists. */
#define MUTANT_OPS(id)     mut_##id##_mutant_ops
#define DECLARE_MUTANT(id) extern const struct vm_devices_ops MUTANT_OPS(id)

static inline struct trace_writer *rt_writer(struct trace_membuf *m)
{
    memset(m, 0, sizeof *m);
    struct trace_writer_config cfg = {
        .level = 1, .write = trace_write_membuf, .write_ctx = m, .alloc = &trace_libc_allocator};
    return trace_writer_init(&cfg, NULL, 0);
}

static inline int rt_load(const char *path, struct trace_membuf *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        trace_write_membuf(m, buf, n);
    fclose(f);
    return 0;
}

/* Calls fn for every item; fn returns non-zero to stop. */
typedef int (*rt_scan_fn)(void *ctx, uint64_t rec, const struct trace_item *it);
static inline void rt_scan(const struct trace_membuf *m, rt_scan_fn fn, void *ctx)
{
    struct trace_reader *r = trace_reader_new();
    trace_reader_feed(r, m->data, m->len);
    trace_reader_eof(r);
    struct trace_item it;
    uint64_t rec = 0;
    while (trace_reader_next(r, &it) == TRACE_R_ITEM) {
        if (it.type == TRACE_ITEM_DAMAGE)
            continue;
        if (fn(ctx, rec++, &it))
            break;
    }
    trace_reader_free(r);
}

/* Copies a trace record by record; fn may change the item (return 0) or
 * drop it (return 1). Returns the writer's error. */
typedef int (*rt_mutate_fn)(void *ctx, uint64_t rec, struct trace_item *it);
static inline int rt_rewrite(const struct trace_membuf *in, struct trace_membuf *out,
                             rt_mutate_fn fn, void *ctx)
{
    struct trace_writer *w = rt_writer(out);
    struct trace_reader *r = trace_reader_new();
    trace_reader_feed(r, in->data, in->len);
    trace_reader_eof(r);
    struct trace_item it;
    uint64_t rec = 0;
    int err = 0;
    bool ended = false;
    while (!err && trace_reader_next(r, &it) == TRACE_R_ITEM) {
        if (it.type == TRACE_ITEM_DAMAGE)
            continue;
        if (fn && fn(ctx, rec++, &it))
            continue;
        switch (it.type) {
        case TRACE_ITEM_HEADER: err = trace_write_header(w, &it.u.header); break;
        case TRACE_ITEM_EXIT: err = trace_write_exit(w, &it.u.exit); break;
        case TRACE_ITEM_DEV: err = trace_write_dev(w, &it.u.dev); break;
        case TRACE_ITEM_CHECKPOINT: err = trace_write_checkpoint(w, &it.u.checkpoint); break;
        case TRACE_ITEM_END:
            err = trace_writer_finish(w, &it.u.end);
            ended = true;
            break;
        default: break;
        }
    }
    if (!err && !ended)
        err = trace_writer_flush(w);
    trace_reader_free(r);
    trace_writer_destroy(w);
    return err;
}

/* Replays m; the printed report lands in *text (free it) if text != NULL. */
static inline int rt_replay(const struct trace_membuf *m, struct replay_opts *o,
                            struct replay_stats *st, char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = text ? open_memstream(&buf, &len) : NULL;
    o->out = f;
    int rc = replay_buffer(m->data, m->len, o, st);
    if (f) {
        fclose(f);
        *text = buf;
    }
    return rc;
}

#endif
