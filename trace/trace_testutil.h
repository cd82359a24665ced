/* Helpers shared by the trace unit tests (tests/test_trace_*.c), the fuzz
 * target and the benchmark: a writer into memory that remembers where each
 * frame ends, hand-made frames, and a reader loop that keeps copies of every
 * item. Host only; header-only so that each test program stays one file. */
#ifndef HVRR_TRACE_TESTUTIL_H
#define HVRR_TRACE_TESTUTIL_H

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "trace/trace_frame.h"
#include "trace/trace_host.h"
#include "trace/trace_reader.h"
#include "trace/trace_synth.h"
#include "trace/trace_writer.h"

#define TT_MAX_FRAMES 4096

struct tt_out {
    struct trace_membuf buf;
    size_t frame_end[TT_MAX_FRAMES]; /* byte offset after frame i */
    size_t nframes;
    int fail_after; /* >0: the write callback fails from this call on */
    int calls;
};

static inline int tt_write(void *ctx, const void *p, size_t len)
{
    struct tt_out *o = ctx;
    o->calls++;
    if (o->fail_after && o->calls >= o->fail_after)
        return -1;
    if (trace_write_membuf(&o->buf, p, len))
        return -1;
    if (o->nframes < TT_MAX_FRAMES)
        o->frame_end[o->nframes++] = o->buf.len;
    return 0;
}

/* Set to make tt_writer encode everything with protobuf-c. */
static bool tt_protobuf_only;

static inline struct trace_writer *tt_writer(struct tt_out *o, int level, size_t frame_bytes)
{
    memset(o, 0, sizeof(*o));
    struct trace_writer_config cfg = {.protobuf_only = tt_protobuf_only,
                                      .level = level,
                                      .frame_bytes = frame_bytes,
                                      .write = tt_write,
                                      .write_ctx = o,
                                      .alloc = &trace_libc_allocator};
    return trace_writer_init(&cfg, NULL, 0);
}

/* A synthetic trace in memory. */
static inline int tt_synth(struct tt_out *o, uint64_t exits, uint64_t checkpoint_every,
                           uint64_t seed)
{
    struct trace_writer *w = tt_writer(o, 3, 0);
    if (!w)
        return -1;
    struct trace_synth_config sc = {.seed = seed,
                                    .exits = exits,
                                    .tsc_jitter = TRACE_SYNTH_DEFAULT_JITTER,
                                    .checkpoint_every = checkpoint_every};
    int rc = trace_synth_write(w, &sc);
    trace_writer_destroy(w);
    return rc;
}

/* Appends one hand-made frame (payload compressed unless raw_payload). */
static inline void tt_frame(struct trace_membuf *m, uint32_t seq, uint8_t version, uint8_t flags,
                            const void *raw, size_t raw_len, bool raw_payload)
{
    size_t cap = ZSTD_compressBound(raw_len) + 16;
    uint8_t *payload = malloc(cap);
    size_t plen;
    if (raw_payload) {
        memcpy(payload, raw, raw_len);
        plen = raw_len;
    } else {
        plen = ZSTD_compress(payload, cap, raw, raw_len, 3);
    }
    struct trace_frame_hdr h = {.version = version,
                                .flags = flags,
                                .seq = seq,
                                .payload_len = (uint32_t)plen,
                                .raw_len = (uint32_t)raw_len,
                                .payload_crc = trace_crc32c(0, payload, plen)};
    uint8_t hdr[TRACE_FRAME_HDR_LEN];
    trace_frame_hdr_encode(&h, hdr);
    trace_write_membuf(m, hdr, sizeof(hdr));
    trace_write_membuf(m, payload, plen);
    free(payload);
}

/* One item as read, with copies of what its pointers referred to. */
struct tt_item {
    struct trace_item it;
    uint8_t data[64];
    char cmdline[128];
};

struct tt_got {
    struct tt_item *v;
    size_t n, cap;
    size_t exits, damages;
    uint64_t lost; /* sum of lost_frames */
    struct trace_reader_stats st;
    int final_rc;
};

static inline void tt_got_free(struct tt_got *g)
{
    free(g->v);
    memset(g, 0, sizeof(*g));
}

static inline void tt_keep(struct tt_got *g, const struct trace_item *it)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 256;
        g->v = realloc(g->v, g->cap * sizeof(*g->v));
    }
    struct tt_item *c = &g->v[g->n++];
    memset(c, 0, sizeof(*c));
    c->it = *it;
    if (it->type == TRACE_ITEM_DEV && it->u.dev.kind == TRACE_DEV_UART_RX) {
        size_t n = it->u.dev.u.uart_rx.len < 64 ? it->u.dev.u.uart_rx.len : 64;
        memcpy(c->data, it->u.dev.u.uart_rx.data, n);
        c->it.u.dev.u.uart_rx.data = NULL;
    }
    if (it->type == TRACE_ITEM_HEADER) {
        strncpy(c->cmdline, it->u.header.cmdline, sizeof(c->cmdline) - 1);
        c->it.u.header.cmdline = NULL;
        c->it.u.header.hv_build_id = NULL;
        c->it.u.header.devmodel_version = NULL;
        c->it.u.header.devices = NULL;
        c->it.u.header.start.devices = NULL;
    }
    if (it->type == TRACE_ITEM_CHECKPOINT)
        c->it.u.checkpoint.devices = NULL;
    if (it->type == TRACE_ITEM_EXIT)
        g->exits++;
    if (it->type == TRACE_ITEM_DAMAGE) {
        g->damages++;
        g->lost += it->u.damage.lost_frames;
    }
}

/* Set to decode everything with protobuf-c only (differential tests). */
static bool tt_slow_path;
/* Record checks in tt_read (off: the codec tests write odd sequences on purpose). */
static bool tt_record_checks;

/* Reads buf through a fresh reader, feeding `chunk` bytes at a time (0: all
 * at once). */
static inline void tt_read(const uint8_t *buf, size_t len, size_t chunk, struct tt_got *g)
{
    memset(g, 0, sizeof(*g));
    struct trace_reader *r = trace_reader_new();
    trace_reader_set_slow_path(r, tt_slow_path);
    trace_reader_set_record_checks(r, tt_record_checks);
    size_t fed = 0;
    struct trace_item it;
    for (;;) {
        int rc = trace_reader_next(r, &it);
        if (rc == TRACE_R_ITEM) {
            tt_keep(g, &it);
            continue;
        }
        if (rc == TRACE_R_MORE) {
            if (fed >= len) {
                trace_reader_eof(r);
                continue;
            }
            size_t n = chunk && chunk < len - fed ? chunk : len - fed;
            trace_reader_feed(r, buf + fed, n);
            fed += n;
            continue;
        }
        g->final_rc = rc;
        break;
    }
    trace_reader_get_stats(r, &g->st);
    trace_reader_free(r);
}

static inline bool tt_exit_eq(const struct trace_exit *a, const struct trace_exit *b)
{
    if (a->seq != b->seq || a->tsc != b->tsc || a->rip != b->rip || a->qual != b->qual ||
        a->vcpu != b->vcpu || a->reason != b->reason || a->insn_len != b->insn_len ||
        a->detail != b->detail)
        return false;
    switch (a->detail) {
    case TRACE_DETAIL_IO:
        return a->u.io.port == b->u.io.port && a->u.io.size == b->u.io.size &&
               a->u.io.write == b->u.io.write && a->u.io.value == b->u.io.value;
    case TRACE_DETAIL_CPUID:
        return a->u.cpuid.leaf == b->u.cpuid.leaf && a->u.cpuid.subleaf == b->u.cpuid.subleaf &&
               a->u.cpuid.eax == b->u.cpuid.eax && a->u.cpuid.ebx == b->u.cpuid.ebx &&
               a->u.cpuid.ecx == b->u.cpuid.ecx && a->u.cpuid.edx == b->u.cpuid.edx;
    case TRACE_DETAIL_MSR:
        return a->u.msr.index == b->u.msr.index && a->u.msr.write == b->u.msr.write &&
               a->u.msr.value == b->u.msr.value;
    case TRACE_DETAIL_XSETBV:
        return a->u.xsetbv.xcr == b->u.xsetbv.xcr && a->u.xsetbv.value == b->u.xsetbv.value;
    case TRACE_DETAIL_CR:
        return a->u.cr.cr == b->u.cr.cr && a->u.cr.access == b->u.cr.access &&
               a->u.cr.gpr == b->u.cr.gpr && a->u.cr.value == b->u.cr.value;
    case TRACE_DETAIL_EPT:
        return a->u.ept.gpa == b->u.ept.gpa && a->u.ept.gla == b->u.ept.gla &&
               a->u.ept.value == b->u.ept.value && a->u.ept.access == b->u.ept.access &&
               a->u.ept.size == b->u.ept.size;
    case TRACE_DETAIL_EXTINT: return a->u.extint.vector == b->u.extint.vector;
    default: return true;
    }
}

/* Items equal as far as a test cares (damage items: kind only). */
static inline bool tt_item_eq(const struct tt_item *a, const struct tt_item *b)
{
    if (a->it.type != b->it.type || a->it.frame != b->it.frame)
        return false;
    switch (a->it.type) {
    case TRACE_ITEM_EXIT: return tt_exit_eq(&a->it.u.exit, &b->it.u.exit);
    case TRACE_ITEM_DEV: {
        const struct trace_dev_event *x = &a->it.u.dev, *y = &b->it.u.dev;
        if (x->tsc != y->tsc || x->vcpu != y->vcpu || x->kind != y->kind)
            return false;
        if (x->kind == TRACE_DEV_UART_RX)
            return x->u.uart_rx.len == y->u.uart_rx.len && x->u.uart_rx.port == y->u.uart_rx.port &&
                   memcmp(a->data, b->data, sizeof(a->data)) == 0;
        switch (x->kind) {
        case TRACE_DEV_IRQ_LINE:
            return x->u.irq.irq == y->u.irq.irq && x->u.irq.level == y->u.irq.level;
        case TRACE_DEV_INJECT:
            return x->u.inject.vector == y->u.inject.vector && x->u.inject.nmi == y->u.inject.nmi;
        case TRACE_DEV_INTR_BLOCKED:
            return x->u.blocked.rflags == y->u.blocked.rflags &&
                   x->u.blocked.blocking == y->u.blocked.blocking &&
                   x->u.blocked.nmi == y->u.blocked.nmi;
        case TRACE_DEV_TIMER_EDGE:
            return x->u.timer.source == y->u.timer.source && x->u.timer.level == y->u.timer.level;
        case TRACE_DEV_INTR: return x->u.intr.level == y->u.intr.level;
        case TRACE_DEV_REQUEST: return x->u.request.what == y->u.request.what;
        case TRACE_DEV_CPU_START:
            return x->u.cpu_start.vcpu == y->u.cpu_start.vcpu &&
                   x->u.cpu_start.vector == y->u.cpu_start.vector;
        default: return true;
        }
    }
    case TRACE_ITEM_CHECKPOINT:
        return a->it.u.checkpoint.seq == b->it.u.checkpoint.seq &&
               a->it.u.checkpoint.tsc == b->it.u.checkpoint.tsc &&
               a->it.u.checkpoint.devices_len == b->it.u.checkpoint.devices_len;
    case TRACE_ITEM_END:
        return a->it.u.end.exits == b->it.u.end.exits && a->it.u.end.reason == b->it.u.end.reason;
    case TRACE_ITEM_HEADER: return strcmp(a->cmdline, b->cmdline) == 0;
    case TRACE_ITEM_DAMAGE: return a->it.u.damage.kind == b->it.u.damage.kind;
    default: return true;
    }
}

#endif
