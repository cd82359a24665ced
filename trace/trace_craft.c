/* Crafted traces (trace_craft.h). Every kind but the last two changes
 * records before they reach the writer, so framing, CRCs and compression are
 * all valid and only a record-level check can catch the damage. */
#include "trace/trace_craft.h"

#include <stdlib.h>
#include <string.h>

#include "trace/trace_frame.h"
#include "trace/trace_reader.h"
#include "trace/trace_synth.h"
#include "trace/trace_writer.h"

const char *const trace_craft_kinds[] = {
    "io-value",      /* an IN of size 1 returns 0x12345678 (wider than its size) */
    "out-wide",      /* an OUT of size 2 writes 0x12345 */
    "io-size",       /* a port access of size 255 */
    "seq-gap",       /* exit numbers jump by 3 in the middle of a frame */
    "seq-back",      /* an exit repeats the previous exit's number */
    "reason-detail", /* a port-I/O detail on a CPUID exit */
    "vcpu",          /* an exit on vCPU 7 of a 1-vCPU VM */
    "dev-irq",       /* an IRQ line event for pin 200 */
    "dev-names",     /* header device names holding '"', '\\' and control bytes */
    "no-header",     /* the first frame (header alone) is cut out */
    "crc-storm",     /* 1 MiB of frame headers (good header CRC, bad payload CRC of a 512 KiB
                        payload), then a trace */
    "random",        /* the seed picks several records and fields to corrupt */
    NULL};

struct membuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 1u << 16;
        while (cap < m->len + len)
            cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            m->oom = true;
            return -1;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

static void *lib_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}
static void lib_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int kind_index(const char *kind)
{
    for (int i = 0; trace_craft_kinds[i]; i++)
        if (!strcmp(kind, trace_craft_kinds[i]))
            return i;
    return -1;
}

/* Corrupts one exit the "random" way. */
static void corrupt_exit(struct trace_exit *e, uint64_t *rs)
{
    switch (rnd(rs) % 8) {
    case 0: e->seq += 1 + rnd(rs) % 5; break;
    case 1: e->vcpu = (uint32_t)(rnd(rs) % 300); break;
    case 2: e->reason = (uint32_t)(rnd(rs) % 80); break;
    case 3:
        if (e->detail == TRACE_DETAIL_IO)
            e->u.io.size = (uint8_t)rnd(rs);
        break;
    case 4:
        if (e->detail == TRACE_DETAIL_IO)
            e->u.io.value = (uint32_t)rnd(rs);
        break;
    case 5: e->detail = (enum trace_detail)(rnd(rs) % 8); break;
    case 6: e->seq -= rnd(rs) % 3; break;
    default:
        if (e->detail == TRACE_DETAIL_IO)
            e->u.io.port = (uint16_t)rnd(rs);
        break;
    }
}

static void corrupt_dev(struct trace_dev_event *d, uint64_t *rs)
{
    switch (rnd(rs) % 4) {
    case 0: d->vcpu = (uint32_t)(rnd(rs) % 300); break;
    case 1:
        if (d->kind == TRACE_DEV_IRQ_LINE)
            d->u.irq.irq = (uint32_t)(rnd(rs) % 300);
        break;
    case 2:
        if (d->kind == TRACE_DEV_REQUEST)
            d->u.request.what = (uint32_t)(rnd(rs) % 5);
        break;
    default: d->kind = (enum trace_dev_kind)(1 + rnd(rs) % 6); break;
    }
    if (d->kind == TRACE_DEV_CPU_START) {
        if (rnd(rs) & 1)
            d->u.cpu_start.vcpu = (uint32_t)(rnd(rs) % 300);
        else
            d->u.cpu_start.vector = (uint32_t)(rnd(rs) % 0x200);
    }
}

struct craft {
    const char *name;
    uint64_t rs, n_exit, target, seq_shift;
    bool done;
    unsigned nrandom;
    uint64_t exits;
};

static void craft_exit(struct craft *c, struct trace_exit *e)
{
    const char *name = c->name;
    e->seq += c->seq_shift;
    bool io = e->detail == TRACE_DETAIL_IO;
    if (!c->done && c->n_exit >= c->target) {
        if (!strcmp(name, "io-value") && io && !e->u.io.write && e->u.io.size == 1) {
            e->u.io.value = 0x12345678;
            c->done = true;
        } else if (!strcmp(name, "out-wide") && io && e->u.io.write) {
            e->u.io.size = 2;
            e->u.io.value = 0x12345;
            c->done = true;
        } else if (!strcmp(name, "io-size") && io) {
            e->u.io.size = 255;
            c->done = true;
        } else if (!strcmp(name, "seq-gap")) {
            c->seq_shift = 3;
            e->seq += 3;
            c->done = true;
        } else if (!strcmp(name, "seq-back") && e->seq > 0) {
            c->seq_shift = (uint64_t)-1;
            e->seq -= 1;
            c->done = true;
        } else if (!strcmp(name, "reason-detail") && io) {
            e->reason = TRACE_EXIT_CPUID;
            c->done = true;
        } else if (!strcmp(name, "vcpu")) {
            e->vcpu = 7;
            c->done = true;
        }
    }
    if (!strcmp(name, "random") && c->nrandom && rnd(&c->rs) % (c->exits / 8 + 1) == 0) {
        corrupt_exit(e, &c->rs);
        c->nrandom--;
    }
    c->n_exit++;
}

static void craft_dev(struct craft *c, struct trace_dev_event *d)
{
    if (!c->done && c->n_exit >= c->target && !strcmp(c->name, "dev-irq") &&
        d->kind == TRACE_DEV_IRQ_LINE) {
        d->u.irq.irq = 200;
        c->done = true;
    }
    if (!strcmp(c->name, "random") && c->nrandom && rnd(&c->rs) % (c->exits / 4 + 1) == 0) {
        corrupt_dev(d, &c->rs);
        c->nrandom--;
    }
}

static int craft_header(struct craft *c, struct trace_writer *w, struct membuf *m,
                        const struct trace_header *hin, size_t *header_end)
{
    struct trace_header h = *hin;
    struct trace_device devs[32];
    if (!strcmp(c->name, "dev-names") && h.ndevices <= 32) {
        static const char *const odd[] = {"pit\"}]", "pic\\x", "pic\nslave", "\x01\x7f\xff"};
        memcpy(devs, h.devices, h.ndevices * sizeof devs[0]);
        for (size_t i = 0; i < h.ndevices; i++)
            if (!devs[i].name || strcmp(devs[i].name, "com1") != 0) /* COM1 keeps its wiring */
                devs[i].name = odd[i % 4];
        h.devices = devs;
    }
    int rc = trace_write_header(w, &h);
    if (!rc && !strcmp(c->name, "no-header"))
        rc = trace_writer_flush(w);
    *header_end = m->len;
    return rc;
}

/* Re-encodes the records of an existing trace (damage items dropped). */
static int copy_trace(struct craft *c, struct trace_writer *w, struct membuf *m, const void *in,
                      size_t in_len, size_t *header_end, uint64_t *exits)
{
    struct trace_reader *r = trace_reader_new();
    if (!r || trace_reader_feed(r, in, in_len)) {
        trace_reader_free(r);
        return -2;
    }
    trace_reader_eof(r);
    struct trace_item it;
    int rc = 0;
    while (!rc && trace_reader_next(r, &it) == TRACE_R_ITEM) {
        switch (it.type) {
        case TRACE_ITEM_HEADER: rc = craft_header(c, w, m, &it.u.header, header_end); break;
        case TRACE_ITEM_EXIT:
            craft_exit(c, &it.u.exit);
            rc = trace_write_exit(w, &it.u.exit);
            break;
        case TRACE_ITEM_DEV:
            craft_dev(c, &it.u.dev);
            rc = trace_write_dev(w, &it.u.dev);
            break;
        case TRACE_ITEM_CHECKPOINT:
            it.u.checkpoint.seq += c->seq_shift;
            rc = trace_write_checkpoint(w, &it.u.checkpoint);
            break;
        case TRACE_ITEM_END: *exits = it.u.end.exits; break;
        default: break;
        }
    }
    trace_reader_free(r);
    return rc;
}

static int synth_trace(struct craft *c, struct trace_writer *w, struct membuf *m, uint64_t seed,
                       uint64_t exits, uint64_t checkpoint_every, size_t *header_end)
{
    struct trace_synth *s = malloc(sizeof *s);
    if (!s)
        return -2;
    struct trace_synth_config sc = {.seed = seed,
                                    .exits = exits,
                                    .tsc_jitter = TRACE_SYNTH_DEFAULT_JITTER,
                                    .checkpoint_every = checkpoint_every};
    trace_synth_init(s, &sc);
    struct trace_header h;
    trace_synth_header(s, &h);
    int rc = craft_header(c, w, m, &h, header_end);
    struct trace_synth_item it;
    while (!rc && trace_synth_next(s, &it)) {
        if (it.type == TRACE_ITEM_EXIT) {
            craft_exit(c, &it.u.exit);
            rc = trace_write_exit(w, &it.u.exit);
        } else if (it.type == TRACE_ITEM_DEV) {
            craft_dev(c, &it.u.dev);
            rc = trace_write_dev(w, &it.u.dev);
        } else if (it.type == TRACE_ITEM_CHECKPOINT) {
            it.u.checkpoint.seq += c->seq_shift;
            rc = trace_write_checkpoint(w, &it.u.checkpoint);
        }
    }
    free(s);
    return rc;
}

int trace_craft(const char *kind, uint64_t seed, uint64_t exits, uint64_t checkpoint_every,
                const void *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    int k = kind_index(kind);
    if (k < 0)
        return -1;
    struct craft c = {.name = trace_craft_kinds[k],
                      .rs = (seed ? seed : 1) * 0x9e3779b97f4a7c15ull,
                      .exits = exits,
                      .target = exits / 2};
    c.nrandom = 1 + (unsigned)(rnd(&c.rs) % 6);
    struct membuf m = {0};
    struct trace_allocator al = {.alloc = lib_alloc, .free = lib_free};
    struct trace_writer_config wc = {.write = mem_write, .write_ctx = &m, .alloc = &al};
    if (!strcmp(c.name, "crc-storm")) {
        /* Back-to-back headers 28 bytes apart, each claiming a 512 KiB payload. */
        for (uint32_t i = 0; m.len < (1u << 20) && !m.oom; i++) {
            struct trace_frame_hdr h = {.version = TRACE_FRAME_VERSION,
                                        .seq = i,
                                        .payload_len = 1u << 19,
                                        .raw_len = 1u << 20,
                                        .payload_crc = 0x12345678};
            uint8_t b[TRACE_FRAME_HDR_LEN];
            trace_frame_hdr_encode(&h, b);
            mem_write(&m, b, sizeof b);
        }
    }
    struct trace_writer *w = trace_writer_init(&wc, NULL, 0);
    if (!w) {
        free(m.p);
        return -2;
    }
    size_t header_end = 0;
    uint64_t end_exits = exits;
    int rc = in ? copy_trace(&c, w, &m, in, in_len, &header_end, &end_exits)
                : synth_trace(&c, w, &m, seed ? seed : 1, exits, checkpoint_every, &header_end);
    if (!rc) {
        struct trace_end end = {.exits = (in ? end_exits : exits) + c.seq_shift,
                                .reason = TRACE_END_STOPPED};
        rc = trace_writer_finish(w, &end);
    }
    trace_writer_destroy(w);
    if (rc || m.oom) {
        free(m.p);
        return -2;
    }
    if (!strcmp(c.name, "no-header")) {
        memmove(m.p, m.p + header_end, m.len - header_end);
        m.len -= header_end;
    }
    *out = m.p;
    *out_len = m.len;
    return 0;
}
