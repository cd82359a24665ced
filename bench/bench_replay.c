/* Replay throughput of two corpus traces, labelled: the real capture of
 * Linux booting under the hypervisor (hv-bochs-linux-boot.hvt) and the
 * scripted Linux boot (linux-boot.hvt), each replayed through host-sim
 * (trace decode + device calls + every comparison), in exits per second of
 * one core (process CPU time), with the decode-only rate and the replay core
 * on pre-decoded records beside it, and the peak resident memory. Run from
 * the repository root (make bench does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "host-sim/replay.h"
#include "trace/trace_host.h"
#include "trace/trace_reader.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t decode_only(const unsigned char *buf, size_t len, struct trace_reader_stats *st)
{
    struct trace_reader *r = trace_reader_new();
    trace_reader_feed(r, buf, len);
    trace_reader_eof(r);
    struct trace_item it;
    uint64_t exits = 0;
    while (trace_reader_next(r, &it) == TRACE_R_ITEM)
        exits += it.type == TRACE_ITEM_EXIT;
    trace_reader_get_stats(r, st);
    trace_reader_free(r);
    return exits;
}

/* The trace decoded once into memory (pointers copied), to time the replay
 * core (device calls and comparisons) apart from decoding. */
struct decoded {
    struct trace_item *it;
    size_t n, cap;
    unsigned char *arena;
    size_t used, arena_cap;
};

static const void *keep(struct decoded *d, const void *p, size_t len)
{
    if (d->used + len > d->arena_cap)
        return NULL;
    memcpy(d->arena + d->used, p, len);
    d->used += len;
    return d->arena + d->used - len;
}

static int decode_all(struct decoded *d, const unsigned char *buf, size_t len)
{
    d->arena_cap = 64u << 20;
    d->arena = malloc(d->arena_cap);
    struct trace_reader *r = trace_reader_new();
    trace_reader_feed(r, buf, len);
    trace_reader_eof(r);
    struct trace_item it;
    int rc = 0;
    while (!rc && trace_reader_next(r, &it) == TRACE_R_ITEM) {
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 4096;
            d->it = realloc(d->it, d->cap * sizeof *d->it);
        }
        if (it.type == TRACE_ITEM_HEADER) {
            it.u.header.start.devices =
                keep(d, it.u.header.start.devices, it.u.header.start.devices_len);
            struct trace_device *devs = (struct trace_device *)keep(
                d, it.u.header.devices, it.u.header.ndevices * sizeof *it.u.header.devices);
            for (size_t i = 0; devs && i < it.u.header.ndevices; i++)
                devs[i].name = keep(d, devs[i].name, strlen(devs[i].name) + 1);
            it.u.header.devices = devs;
        } else if (it.type == TRACE_ITEM_CHECKPOINT) {
            it.u.checkpoint.devices = keep(d, it.u.checkpoint.devices, it.u.checkpoint.devices_len);
        } else if (it.type == TRACE_ITEM_DEV && it.u.dev.kind == TRACE_DEV_UART_RX) {
            it.u.dev.u.uart_rx.data = keep(d, it.u.dev.u.uart_rx.data, it.u.dev.u.uart_rx.len);
        }
        d->it[d->n++] = it;
    }
    trace_reader_free(r);
    return rc;
}

static int bench_trace(const char *path, const char *label, double goal)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    struct trace_membuf m = {0};
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        trace_write_membuf(&m, chunk, n);
    fclose(f);

    struct replay_opts o = {0};
    struct replay_stats st;
    if (replay_buffer(m.data, m.len, &o, &st) != 0 || st.divergences) {
        fprintf(stderr, "bench_replay: %s does not replay clean\n", path);
        return 1;
    }
    /* Repeat for at least 1 s of CPU time. */
    uint64_t exits = 0, runs = 0;
    double t0 = cpu_now(), t;
    do {
        replay_buffer(m.data, m.len, &o, &st);
        exits += st.exits;
        runs++;
    } while ((t = cpu_now() - t0) < 1.0);
    double replay_rate = (double)exits / t;

    uint64_t dexits = 0;
    struct trace_reader_stats rst;
    t0 = cpu_now();
    do
        dexits += decode_only(m.data, m.len, &rst);
    while ((t = cpu_now() - t0) < 0.5);
    double decode_rate = (double)dexits / t;

    struct rusage ru_stream;
    getrusage(RUSAGE_SELF, &ru_stream); /* before the pre-decoded copy exists */

    struct decoded d = {0};
    decode_all(&d, m.data, m.len);
    uint64_t cexits = 0;
    t0 = cpu_now();
    do {
        struct replayer *rp = replayer_new(&o);
        for (size_t i = 0; i < d.n; i++)
            replayer_item(rp, &d.it[i]);
        replayer_finish(rp, &st);
        replayer_free(rp);
        if (st.divergences)
            return 1;
        cexits += st.exits;
    } while ((t = cpu_now() - t0) < 1.0);
    double core_rate = (double)cexits / t;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("replay %s (%s): %llu exits, %zu bytes, %llu runs\n", path, label,
           (unsigned long long)st.exits, m.len, (unsigned long long)runs);
    printf("  replay (decode + devices + compare): %.2f M exits/s per core (goal >= %g)\n",
           replay_rate / 1e6, goal);
    printf("  decode only:                         %.2f M exits/s per core (%llu of %llu records "
           "by the hand-written decoder)\n",
           decode_rate / 1e6, (unsigned long long)rst.records_fast,
           (unsigned long long)rst.records);
    printf("  replay core (pre-decoded records):   %.2f M exits/s per core\n", core_rate / 1e6);
    printf("  peak memory (ru_maxrss), streaming replay: %ld KiB (with the pre-decoded copy: %ld "
           "KiB)\n",
           ru_stream.ru_maxrss, ru.ru_maxrss);
    free(d.it);
    free(d.arena);
    trace_membuf_free(&m);
    return 0;
}

/* Without arguments the two corpus boots; else each trace given. */
int main(int argc, char **argv)
{
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= bench_trace(argv[i], argv[i], 5);
        return rc;
    }
    int rc = bench_trace("corpus/hv-bochs-linux-boot.hvt",
                         "real capture: Linux under hvrr on Bochs", 10);
    FILE *pf = fopen("corpus/hv-bochs-linux-boot-policy.hvt", "rb");
    if (pf) {
        fclose(pf);
        rc |= bench_trace("corpus/hv-bochs-linux-boot-policy.hvt",
                          "real capture: Linux under hvrr on Bochs, exit-policy records", 10);
    }
    rc |= bench_trace("corpus/linux-boot.hvt", "scripted Linux boot", 5);
    return rc;
}
