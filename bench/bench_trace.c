/* Trace writer and reader cost on the synthetic Linux-like mix
 * (trace/trace_synth.h): writer ns per record and per exit, compressed bytes
 * per exit, compression ratio, reader records/s and exits/s. The records are
 * generated before timing starts; each timing is process CPU time (robust
 * on a shared machine), the best of a few runs.
 * One figure per line. Usage: bench_trace [exits] [level] [frame_bytes] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/trace_host.h"
#include "trace/trace_reader.h"
#include "trace/trace_synth.h"
#include "trace/trace_writer.h"

#define RUNS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct sink {
    unsigned char *buf;
    size_t len, cap;
};

static int sink_write(void *ctx, const void *p, size_t n)
{
    struct sink *s = ctx;
    if (s->len + n > s->cap)
        return -1;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long long exits = argc > 1 ? strtoull(argv[1], NULL, 0) : 1200000;
    int level = argc > 2 ? atoi(argv[2]) : TRACE_DEFAULT_LEVEL;
    size_t frame_bytes = argc > 3 ? strtoull(argv[3], NULL, 0) : TRACE_DEFAULT_FRAME_BYTES;

    struct trace_synth *syn = malloc(sizeof(*syn));
    struct trace_synth_config sc = {.seed = 1,
                                    .exits = exits,
                                    .tsc_jitter = TRACE_SYNTH_DEFAULT_JITTER,
                                    .checkpoint_every = 100000};
    trace_synth_init(syn, &sc);
    struct trace_header hdr;
    trace_synth_header(syn, &hdr);
    size_t cap = exits + exits / 4 + 1024, n = 0;
    struct trace_synth_item *items = malloc(cap * sizeof(*items));
    if (!syn || !items)
        return 1;
    while (n < cap && trace_synth_next(syn, &items[n]))
        n++;

    struct sink sink = {.cap = exits * 40 + (16u << 20)};
    sink.buf = malloc(sink.cap);
    struct trace_writer_config wc = {.level = level,
                                     .frame_bytes = frame_bytes,
                                     .write = sink_write,
                                     .write_ctx = &sink,
                                     .alloc = &trace_libc_allocator};
    double best_w = 1e30;
    struct trace_writer_stats ws = {0};
    for (int run = 0; run < RUNS; run++) {
        sink.len = 0;
        struct trace_writer *w = trace_writer_init(&wc, NULL, 0);
        if (!w) {
            fprintf(stderr, "bench_trace: writer init failed\n");
            return 1;
        }
        double t0 = now_s();
        int rc = trace_write_header(w, &hdr);
        for (size_t i = 0; i < n && !rc; i++) {
            const struct trace_synth_item *it = &items[i];
            if (it->type == TRACE_ITEM_EXIT)
                rc = trace_write_exit(w, &it->u.exit);
            else if (it->type == TRACE_ITEM_DEV)
                rc = trace_write_dev(w, &it->u.dev);
            else
                rc = trace_write_checkpoint(w, &it->u.checkpoint);
        }
        if (!rc)
            rc = trace_writer_finish(w, NULL);
        double t = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench_trace: writer failed: %s\n", trace_writer_strerror(rc));
            return 1;
        }
        trace_writer_get_stats(w, &ws);
        trace_writer_destroy(w);
        if (t < best_w)
            best_w = t;
    }

    double best_r = 1e30;
    unsigned long long got_records = 0, got_exits = 0;
    for (int run = 0; run < RUNS; run++) {
        struct trace_reader *r = trace_reader_new();
        double t0 = now_s();
        trace_reader_feed(r, sink.buf, sink.len);
        trace_reader_eof(r);
        struct trace_item it;
        unsigned long long recs = 0, ex = 0;
        int rc;
        while ((rc = trace_reader_next(r, &it)) == TRACE_R_ITEM) {
            recs++;
            ex += it.type == TRACE_ITEM_EXIT;
        }
        double t = now_s() - t0;
        struct trace_reader_stats st;
        trace_reader_get_stats(r, &st);
        trace_reader_free(r);
        if (rc != TRACE_R_END || ex != ws.exits || st.damage_reports) {
            fprintf(stderr, "bench_trace: reader mismatch (%llu of %llu exits, %llu damage)\n", ex,
                    (unsigned long long)ws.exits, (unsigned long long)st.damage_reports);
            return 1;
        }
        got_records = recs;
        got_exits = ex;
        if (t < best_r)
            best_r = t;
    }

    printf("trace mix: %llu records, %llu exits, zstd level %d, %zu-byte frames, %llu frames\n",
           got_records, got_exits, level, frame_bytes, (unsigned long long)ws.frames);
    printf("writer ns/record: %.1f\n", best_w * 1e9 / (double)ws.records);
    printf("writer ns/exit: %.1f\n", best_w * 1e9 / (double)ws.exits);
    printf("compressed bytes/exit: %.3f\n", (double)ws.out_bytes / (double)ws.exits);
    printf("uncompressed bytes/exit: %.2f\n", (double)ws.raw_bytes / (double)ws.exits);
    printf("compression ratio: %.2f\n", (double)ws.raw_bytes / (double)ws.out_bytes);
    printf("reader records/s: %.3g\n", (double)got_records / best_r);
    printf("reader exits/s: %.3g\n", (double)got_exits / best_r);
    free(sink.buf);
    free(items);
    free(syn);
    return 0;
}
