/* Trace reader (see trace_reader.h and docs/trace-format.md). Host only.
 *
 * Input accumulates in buf[pos..len). A frame is used only if its marker,
 * header CRC, version, bounds and payload CRC all check out; on any failure
 * the scan moves on one byte past the failed frame start, so frames inside or
 * after a damaged stretch are still found. Damage is reported lazily: one
 * report per damaged stretch, when the next good frame or the end of input
 * shows how long the stretch was and how many frames it cost.
 */
#include "trace/trace_reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "trace/hvrr.pb-c.h"
#include "trace/trace_crcspan.h"
#include "trace/trace_decode.h"
#include "trace/trace_frame.h"
#include "trace/trace_piocode.h"

#define ARENA_CHUNK (64u << 10)
#define ARENA_LIMIT (64u << 20) /* decode memory for one record */
#define READ_CHUNK  (256u << 10)

struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used, pad; /* pad: keeps data 16-byte aligned */
    unsigned char data[];
};

struct arena {
    struct arena_chunk *head;
    size_t total;
    bool used; /* something was allocated since the last reset */
};

struct trace_reader {
    uint8_t *buf;
    size_t len, cap, pos;
    uint64_t buf_off; /* input offset of buf[0] */
    bool eof, done, no_end_reported;

    /* frame being decoded */
    uint8_t *raw;
    size_t raw_cap, raw_len, raw_pos;
    bool in_frame;
    uint32_t frame_seq;
    uint64_t frame_off;
    uint64_t frame_end; /* input offset just past that frame */

    /* framing state */
    uint32_t expected; /* next frame sequence number */
    /* Payloads that failed their CRC may hold real frames, which are tried
     * too; CRCs of payloads starting before suspect_end come from span
     * (prefix CRCs), which keeps the scan linear. */
    uint64_t suspect_end;
    struct crc_span span;

    /* the damaged stretch being accumulated */
    bool dmg_active;
    enum trace_damage_kind dmg_kind;
    uint64_t dmg_off;
    uint64_t dmg_lost; /* frames known lost so far in this stretch */
    uint64_t dmg_hint; /* frames with a good header but unusable payload */
    char dmg_msg[160];

    struct trace_delta delta; /* delta-coding state */
    bool pio_coded;           /* the header's VmConfig.pio_coded */
    struct trace_piocode pio; /* its state (trace_piocode.h) */

    /* record checks: context from the header and the records so far */
    uint32_t vcpus;    /* the header's vCPU count, 0 until known */
    bool seq_known;    /* next_seq is known (no damage since it was set) */
    uint64_t next_seq; /* number of the next exit */
    size_t rec_at;     /* payload offset of the record being handed out */
    bool have_pending; /* `pending` goes out on the next call (after its damage item) */
    struct trace_item pending;

    trace_raw_fn raw_fn;
    void *raw_ctx;
    bool slow_only; /* decode every record with protobuf-c (tests, trace_decode.h) */
    bool no_checks; /* record checks off (codec tests) */
    ZSTD_DCtx *dctx;
    struct arena arena;
    ProtobufCAllocator pa;
    struct trace_reader_stats st;
    char err[160];
};

/* ---- bump arena for protobuf-c unpacking ---- */

static void *arena_alloc(void *ctx, size_t n)
{
    struct arena *a = ctx;
    a->used = true;
    n = (n + 15) & ~(size_t)15;
    struct arena_chunk *c = a->head;
    if (c && c->cap - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    if (a->total + cap > ARENA_LIMIT)
        return NULL;
    c = malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    c->cap = cap;
    c->used = n;
    c->next = a->head;
    a->head = c;
    a->total += cap;
    return c->data;
}

static void arena_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p; /* released all at once by arena_reset */
}

/* Frees all chunks but one standard-size chunk, which is kept for reuse. */
static void arena_reset(struct arena *a)
{
    if (!a->used)
        return;
    a->used = false;
    struct arena_chunk *keep = NULL, *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        if (!keep && c->cap == ARENA_CHUNK) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = keep;
    a->total = keep ? keep->cap : 0;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
}

static void arena_destroy(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

/* ---- setup ---- */

struct trace_reader *trace_reader_new(void)
{
    struct trace_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) {
        free(r);
        return NULL;
    }
    r->pa.alloc = arena_alloc;
    r->pa.free = arena_free;
    r->pa.allocator_data = &r->arena;
    r->delta.seq = UINT64_MAX;
    return r;
}

void trace_reader_free(struct trace_reader *r)
{
    if (!r)
        return;
    ZSTD_freeDCtx(r->dctx);
    arena_destroy(&r->arena);
    crc_span_free(&r->span);
    free(r->buf);
    free(r->raw);
    free(r);
}

static int fatal(struct trace_reader *r, const char *msg)
{
    snprintf(r->err, sizeof(r->err), "%s", msg);
    return TRACE_R_FATAL;
}

/* Makes room for `extra` more bytes after buf[len], dropping consumed input. */
static int reserve(struct trace_reader *r, size_t extra)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->buf_off += r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len + extra <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + extra) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *p = realloc(r->buf, cap);
    if (!p)
        return -1;
    r->buf = p;
    r->cap = cap;
    return 0;
}

int trace_reader_feed(struct trace_reader *r, const void *buf, size_t len)
{
    if (!r || r->eof || (len && !buf))
        return -1;
    if (len == 0)
        return 0;
    if (reserve(r, len) != 0) {
        fatal(r, "out of memory buffering input");
        return -1;
    }
    memcpy(r->buf + r->len, buf, len);
    r->len += len;
    r->st.bytes_in += len;
    return 0;
}

void trace_reader_eof(struct trace_reader *r)
{
    if (r)
        r->eof = true;
}

long trace_reader_read_file(struct trace_reader *r, FILE *f)
{
    if (!r || !f || r->eof)
        return -1;
    if (reserve(r, READ_CHUNK) != 0) {
        fatal(r, "out of memory buffering input");
        return -1;
    }
    /* One read(2): what a pipe, FIFO or tty has now, not a full chunk. */
    int fd = fileno(f);
    ssize_t n;
    if (fd >= 0) {
        do
            n = read(fd, r->buf + r->len, READ_CHUNK);
        while (n < 0 && errno == EINTR);
    } else { /* a stream without a descriptor (fmemopen) */
        n = (ssize_t)fread(r->buf + r->len, 1, READ_CHUNK, f);
        if (n == 0 && ferror(f))
            n = -1;
    }
    if (n < 0) {
        snprintf(r->err, sizeof r->err, "read error: %s", strerror(errno));
        return -1;
    }
    r->len += (size_t)n;
    r->st.bytes_in += (uint64_t)n;
    if (n == 0)
        r->eof = true;
    return (long)n;
}

/* ---- damage bookkeeping ---- */

__attribute__((format(printf, 4, 5))) static void start_damage(struct trace_reader *r,
                                                               enum trace_damage_kind kind,
                                                               uint64_t off, const char *fmt, ...)
{
    if (r->dmg_active)
        return;
    r->dmg_active = true;
    r->dmg_kind = kind;
    r->dmg_off = off;
    r->dmg_lost = 0;
    r->dmg_hint = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->dmg_msg, sizeof(r->dmg_msg), fmt, ap);
    va_end(ap);
}

static void emit_damage(struct trace_reader *r, struct trace_item *it, enum trace_damage_kind kind,
                        uint64_t off, uint64_t end, uint64_t lost, bool at_end, const char *what)
{
    memset(it, 0, sizeof(*it));
    it->type = TRACE_ITEM_DAMAGE;
    it->offset = off;
    it->frame = r->expected;
    struct trace_damage *d = &it->u.damage;
    d->kind = kind;
    d->offset = off;
    d->length = end > off ? end - off : 0;
    d->lost_frames = lost;
    d->at_end = at_end;
    snprintf(d->msg, sizeof(d->msg), "%s", what);
    r->st.damage_reports++;
    r->st.frames_lost += lost;
    r->st.bytes_damaged += d->length;
}

/* ---- record decoding ---- */

static void conv_checkpoint(struct trace_checkpoint *c, const Hvrr__Checkpoint *m)
{
    c->seq = m->seq;
    c->tsc = m->tsc;
    c->time_ns = m->time_ns;
    c->devices_version = m->devices_version;
    c->devices = m->devices.data;
    c->devices_len = m->devices.len;
}

static int conv_header(struct trace_reader *r, struct trace_header *h, const Hvrr__Header *m)
{
    memset(h, 0, sizeof(*h));
    h->format_version = m->format_version;
    h->hv_build_id = m->hv_build_id ? m->hv_build_id : "";
    h->devmodel_version = m->devmodel_version ? m->devmodel_version : "";
    h->cmdline = m->cmdline ? m->cmdline : "";
    if (m->config) {
        const Hvrr__VmConfig *c = m->config;
        h->ram_bytes = c->ram_bytes;
        h->vcpus = c->vcpus;
        h->tsc_hz = c->tsc_hz;
        if (c->n_devices) {
            struct trace_device *d = arena_alloc(&r->arena, c->n_devices * sizeof(*d));
            if (!d)
                return -1;
            for (size_t i = 0; i < c->n_devices; i++) {
                const Hvrr__Device *md = c->devices[i];
                d[i].name = md->name ? md->name : "";
                d[i].port_base = (uint16_t)md->port_base;
                d[i].port_count = (uint16_t)md->port_count;
                d[i].irq = md->irq;
            }
            h->devices = d;
            h->ndevices = c->n_devices;
        }
        if (c->n_host_cpuid) {
            struct trace_cpuid_leaf *l = arena_alloc(&r->arena, c->n_host_cpuid * sizeof(*l));
            if (!l)
                return -1;
            for (size_t i = 0; i < c->n_host_cpuid; i++) {
                const Hvrr__CpuidLeaf *ml = c->host_cpuid[i];
                l[i] = (struct trace_cpuid_leaf){.leaf = ml->leaf,
                                                 .subleaf = ml->subleaf,
                                                 .eax = ml->eax,
                                                 .ebx = ml->ebx,
                                                 .ecx = ml->ecx,
                                                 .edx = ml->edx};
            }
            h->host_cpu.leaves = l;
            h->host_cpu.nleaves = c->n_host_cpuid;
        }
        h->host_cpu.xcr0 = c->host_xcr0;
        h->host_cpu.features = c->host_features;
        h->entry_decisions = c->entry_decisions;
        h->apic = c->apic;
        h->policy_records = c->policy_records;
        h->time_limit_ns = c->time_limit_ns;
        h->intr_per_vcpu = c->intr_per_vcpu;
        h->pio_coded = c->pio_coded;
        r->pio_coded = c->pio_coded;
    }
    if (m->start) {
        h->has_start = true;
        conv_checkpoint(&h->start, m->start);
    }
    return 0;
}

static void conv_exit(struct trace_reader *r, struct trace_exit *e, const Hvrr__Exit *m)
{
    memset(e, 0, sizeof(*e));
    e->seq = r->delta.seq + 1 + m->seq_skip;
    e->tsc = r->delta.tsc + (uint64_t)m->tsc_delta;
    e->rip = r->delta.rip + (uint64_t)m->rip_delta;
    e->qual = m->qual;
    e->vcpu = m->vcpu;
    e->reason = (uint32_t)m->reason;
    e->insn_len = m->insn_len;
    r->delta.seq = e->seq;
    r->delta.tsc = e->tsc;
    r->delta.rip = e->rip;
    switch (m->detail_case) {
    case HVRR__EXIT__DETAIL_IO:
        e->detail = TRACE_DETAIL_IO;
        e->u.io.port = (uint16_t)m->io->port;
        /* out of range (not truncated): size 0, which the record checks reject */
        e->u.io.size = m->io->size > 255 || m->io->port > 0xffff ? 0 : (uint8_t)m->io->size;
        e->u.io.write = m->io->write;
        e->u.io.value = m->io->value;
        break;
    case HVRR__EXIT__DETAIL_CPUID:
        e->detail = TRACE_DETAIL_CPUID;
        e->u.cpuid.leaf = m->cpuid->leaf;
        e->u.cpuid.subleaf = m->cpuid->subleaf;
        e->u.cpuid.eax = m->cpuid->eax;
        e->u.cpuid.ebx = m->cpuid->ebx;
        e->u.cpuid.ecx = m->cpuid->ecx;
        e->u.cpuid.edx = m->cpuid->edx;
        break;
    case HVRR__EXIT__DETAIL_MSR:
        e->detail = TRACE_DETAIL_MSR;
        e->u.msr.index = m->msr->index;
        e->u.msr.write = m->msr->write;
        e->u.msr.value = m->msr->value;
        break;
    case HVRR__EXIT__DETAIL_XSETBV:
        e->detail = TRACE_DETAIL_XSETBV;
        e->u.xsetbv.xcr = m->xsetbv->xcr;
        e->u.xsetbv.value = m->xsetbv->value;
        break;
    case HVRR__EXIT__DETAIL_CR:
        e->detail = TRACE_DETAIL_CR;
        e->u.cr.cr = (uint8_t)m->cr->cr;
        e->u.cr.access = (uint8_t)m->cr->access;
        e->u.cr.gpr = (uint8_t)m->cr->gpr;
        e->u.cr.value = m->cr->value;
        break;
    case HVRR__EXIT__DETAIL_EPT:
        e->detail = TRACE_DETAIL_EPT;
        e->u.ept.gpa = m->ept->gpa;
        e->u.ept.access = m->ept->access;
        e->u.ept.gla = m->ept->gla;
        e->u.ept.size = m->ept->size;
        e->u.ept.value = m->ept->value;
        break;
    case HVRR__EXIT__DETAIL_EXTINT:
        e->detail = TRACE_DETAIL_EXTINT;
        e->u.extint.vector = (uint8_t)m->extint->vector;
        break;
    default: e->detail = TRACE_DETAIL_NONE; break;
    }
}

/* Returns false for an event kind this reader does not know (skipped). */
static bool conv_dev(struct trace_reader *r, struct trace_dev_event *d, const Hvrr__DeviceEvent *m)
{
    memset(d, 0, sizeof(*d));
    d->tsc = r->delta.tsc + (uint64_t)m->tsc_delta;
    d->vcpu = m->vcpu;
    r->delta.tsc = d->tsc;
    switch (m->ev_case) {
    case HVRR__DEVICE_EVENT__EV_IRQ:
        d->kind = TRACE_DEV_IRQ_LINE;
        d->u.irq.irq = m->irq->irq;
        d->u.irq.level = m->irq->level;
        return true;
    case HVRR__DEVICE_EVENT__EV_INJECT:
        d->kind = TRACE_DEV_INJECT;
        d->u.inject.vector = (uint8_t)m->inject->vector;
        d->u.inject.nmi = m->inject->nmi;
        return true;
    case HVRR__DEVICE_EVENT__EV_UART_RX:
        d->kind = TRACE_DEV_UART_RX;
        d->u.uart_rx.port = (uint16_t)m->uart_rx->port;
        d->u.uart_rx.data = m->uart_rx->data.data;
        d->u.uart_rx.len = m->uart_rx->data.len;
        return true;
    case HVRR__DEVICE_EVENT__EV_TIMER:
        d->kind = TRACE_DEV_TIMER_EDGE;
        d->u.timer.source = m->timer->source;
        d->u.timer.level = m->timer->level;
        return true;
    case HVRR__DEVICE_EVENT__EV_INTR:
        d->kind = TRACE_DEV_INTR;
        d->u.intr.level = m->intr->level;
        return true;
    case HVRR__DEVICE_EVENT__EV_REQUEST:
        d->kind = TRACE_DEV_REQUEST;
        d->u.request.what = m->request->what;
        return true;
    case HVRR__DEVICE_EVENT__EV_BLOCKED:
        d->kind = TRACE_DEV_INTR_BLOCKED;
        d->u.blocked.rflags = m->blocked->rflags;
        d->u.blocked.blocking = m->blocked->blocking;
        d->u.blocked.nmi = m->blocked->nmi;
        return true;
    case HVRR__DEVICE_EVENT__EV_PIO: {
        const Hvrr__PolicyIo *p = m->pio;
        d->kind = TRACE_DEV_POLICY_IO;
        d->u.pio.rax = p->rax;
        d->u.pio.rax_after = p->rax ^ p->rax_xor;
        d->u.pio.addr_bits = p->addr_bits;
        d->u.pio.rcx = p->rcx;
        d->u.pio.rcx_after = p->rcx ^ p->rcx_xor;
        d->u.pio.index = p->index;
        d->u.pio.index_after = p->index ^ p->index_xor;
        d->u.pio.rflags = p->rflags;
        d->u.pio.gla = p->gla;
        d->u.pio.fault = p->fault;
        d->u.pio.retired = p->retired;
        return true;
    }
    case HVRR__DEVICE_EVENT__EV_HALT:
        d->kind = TRACE_DEV_HALT;
        d->u.halt.rflags = m->halt->rflags;
        d->u.halt.input = m->halt->input;
        d->u.halt.stop = m->halt->stop;
        return true;
    case HVRR__DEVICE_EVENT__EV_DEADLINE:
        d->kind = TRACE_DEV_DEADLINE;
        d->u.deadline.tsc = m->deadline->ahead ? d->tsc + m->deadline->ahead : UINT64_MAX;
        return true;
    case HVRR__DEVICE_EVENT__EV_CPU_START:
        d->kind = TRACE_DEV_CPU_START;
        d->u.cpu_start.vcpu = m->cpu_start->vcpu;
        d->u.cpu_start.vector = m->cpu_start->vector;
        return true;
    default: return false;
    }
}

/* Skips one stream-level field of wire type wt at raw_pos. */
static int skip_field(struct trace_reader *r, unsigned wt)
{
    const uint8_t *p = r->raw + r->raw_pos;
    size_t left = r->raw_len - r->raw_pos;
    uint64_t v;
    size_t n;
    switch (wt) {
    case 0:
        n = trace_varint_get(p, left, &v);
        if (!n)
            return -1;
        r->raw_pos += n;
        return 0;
    case 1:
        if (left < 8)
            return -1;
        r->raw_pos += 8;
        return 0;
    case 2:
        n = trace_varint_get(p, left, &v);
        if (!n || v > left - n)
            return -1;
        r->raw_pos += n + v;
        return 0;
    case 5:
        if (left < 4)
            return -1;
        r->raw_pos += 4;
        return 0;
    default: return -1;
    }
}

/* Next record of the current frame: 1 with *it filled, 0 when the frame is
 * used up (or became undecodable: then damage is started). */
static int next_record(struct trace_reader *r, struct trace_item *it)
{
    while (r->raw_pos < r->raw_len) {
        size_t at = r->raw_pos;
        const uint8_t *p = r->raw + at;
        size_t left = r->raw_len - at;
        uint64_t key, len;
        size_t n, m;
        if (left >= 2 && p[0] == TRACE_STREAM_RECORD_TAG && p[1] < 0x80) {
            n = m = 1; /* the usual record: one-byte key and length */
            len = p[1];
            if (len > left - 2)
                goto bad;
        } else {
            n = trace_varint_get(p, left, &key);
            if (!n)
                goto bad;
            if (key != TRACE_STREAM_RECORD_TAG) {
                r->raw_pos += n;
                if ((key >> 3) == 0 || skip_field(r, (unsigned)(key & 7)) != 0)
                    goto bad;
                r->st.unknown++;
                continue;
            }
            m = trace_varint_get(p + n, left - n, &len);
            if (!m || len > left - n - m)
                goto bad;
        }
        r->raw_pos += n + m + len;
        r->rec_at = at;
        if (!r->slow_only) {
            enum trace_fast_kind k =
                trace_decode_record(p + n + m, len, &r->delta, &it->u.exit, &it->u.dev);
            if (k != TRACE_FAST_NONE) {
                r->st.records++;
                r->st.records_fast++;
                if (k == TRACE_FAST_SYNC) {
                    trace_piocode_sync(&r->pio);
                    continue;
                }
                if (k == TRACE_FAST_EXIT)
                    trace_piocode_exit(&r->pio, &it->u.exit);
                else if (r->pio_coded)
                    trace_piocode_pio(&r->pio, r->pio.gen, &it->u.dev, false);
                it->type = k == TRACE_FAST_EXIT ? TRACE_ITEM_EXIT : TRACE_ITEM_DEV;
                r->st.exits += k == TRACE_FAST_EXIT;
                it->frame = r->frame_seq;
                it->offset = r->frame_off;
                return 1;
            }
        }
        arena_reset(&r->arena); /* records skipped in this call need no memory kept */
        Hvrr__Record *rec = hvrr__record__unpack(&r->pa, len, p + n + m);
        if (!rec)
            goto bad;
        r->st.records++;
        memset(it, 0, offsetof(struct trace_item, u));
        it->frame = r->frame_seq;
        it->offset = r->frame_off;
        switch (rec->kind_case) {
        case HVRR__RECORD__KIND_SYNC:
            r->delta.seq = rec->sync->next_seq - 1;
            r->delta.tsc = rec->sync->tsc;
            r->delta.rip = rec->sync->rip;
            trace_piocode_sync(&r->pio);
            continue;
        case HVRR__RECORD__KIND_EXIT:
            it->type = TRACE_ITEM_EXIT;
            conv_exit(r, &it->u.exit, rec->exit);
            trace_piocode_exit(&r->pio, &it->u.exit);
            r->st.exits++;
            return 1;
        case HVRR__RECORD__KIND_DEV:
            it->type = TRACE_ITEM_DEV;
            if (!conv_dev(r, &it->u.dev, rec->dev)) {
                r->st.unknown++;
                continue;
            }
            if (r->pio_coded)
                trace_piocode_pio(&r->pio, r->pio.gen, &it->u.dev, false);
            return 1;
        case HVRR__RECORD__KIND_HEADER:
            it->type = TRACE_ITEM_HEADER;
            if (conv_header(r, &it->u.header, rec->header) != 0)
                goto bad;
            return 1;
        case HVRR__RECORD__KIND_CHECKPOINT:
            it->type = TRACE_ITEM_CHECKPOINT;
            conv_checkpoint(&it->u.checkpoint, rec->checkpoint);
            return 1;
        case HVRR__RECORD__KIND_END:
            it->type = TRACE_ITEM_END;
            it->u.end.exits = rec->end->exits;
            it->u.end.records = rec->end->records;
            it->u.end.reason = rec->end->reason;
            r->st.end_seen = true;
            return 1;
        default: r->st.unknown++; continue;
        }
    bad:
        r->st.frames_damaged++;
        start_damage(r, TRACE_DMG_DECODE, r->frame_off,
                     "frame %u: record at payload offset %zu does not decode; rest of the frame "
                     "dropped",
                     r->frame_seq, at);
        r->raw_pos = r->raw_len;
        return 0;
    }
    return 0;
}

/* ---- frame scanning ---- */

static bool is_marker(const uint8_t *p)
{
    return p[0] == TRACE_MARKER0 && p[1] == TRACE_MARKER1 && p[2] == TRACE_MARKER2 &&
           p[3] == TRACE_MARKER3;
}

/* Whether p[0..n) (n < 4) could be the start of a marker. */
static bool is_marker_prefix(const uint8_t *p, size_t n)
{
    static const uint8_t m[4] = {TRACE_MARKER0, TRACE_MARKER1, TRACE_MARKER2, TRACE_MARKER3};
    return n > 0 && memcmp(p, m, n) == 0;
}

/* End of input: the pending damage, then a missing end record, then END. */
static int finish(struct trace_reader *r, struct trace_item *it)
{
    uint64_t end = r->buf_off + r->len;
    if (r->dmg_active) {
        r->dmg_active = false;
        emit_damage(r, it, r->dmg_kind, r->dmg_off, end, r->dmg_lost + r->dmg_hint, true,
                    r->dmg_msg);
        return TRACE_R_ITEM;
    }
    if (!r->st.end_seen && !r->no_end_reported) {
        r->no_end_reported = true;
        emit_damage(r, it, TRACE_DMG_NO_END, end, end, 0, true,
                    r->st.frames_ok
                        ? "input ends without the end-of-trace record (capture cut short?)"
                        : "no trace frame found in the input");
        return TRACE_R_ITEM;
    }
    r->done = true;
    return TRACE_R_END;
}

/* take_frame results */
enum { TF_SCAN = 0, TF_FRAME, TF_MORE, TF_FATAL };

/* Tries to take a frame at buf[pos]: TF_FRAME when a good frame is loaded
 * (and maybe a damage item filled: *report set), TF_SCAN to go on scanning,
 * TF_MORE when more input is needed, TF_FATAL. */
static int take_frame(struct trace_reader *r, struct trace_item *it, bool *report)
{
    const uint8_t *p = r->buf + r->pos;
    size_t avail = r->len - r->pos;
    uint64_t off = r->buf_off + r->pos;

    if (avail < 4 || !is_marker(p)) {
        if (avail < 4 && is_marker_prefix(p, avail)) {
            if (!r->eof)
                return TF_MORE;
            start_damage(r, TRACE_DMG_TRUNCATED, off, "input ends inside a frame header");
            r->dmg_hint++;
            r->pos = r->len;
            return TF_SCAN;
        }
        start_damage(r, TRACE_DMG_GARBAGE, off, "bytes that belong to no frame");
        const uint8_t *q = avail > 1 ? memchr(p + 1, TRACE_MARKER0, avail - 1) : NULL;
        r->pos = q ? (size_t)(q - r->buf) : r->len;
        return TF_SCAN;
    }
    if (avail < TRACE_FRAME_HDR_LEN) {
        if (!r->eof)
            return TF_MORE;
        start_damage(r, TRACE_DMG_TRUNCATED, off, "input ends inside a frame header");
        r->dmg_hint++;
        r->pos++;
        return TF_SCAN;
    }
    struct trace_frame_hdr h;
    if (trace_frame_hdr_decode(p, &h) != 0) {
        start_damage(r, TRACE_DMG_BAD_HEADER, off, "frame header CRC mismatch");
        r->pos++;
        return TF_SCAN;
    }
    if (h.version != TRACE_FRAME_VERSION) {
        start_damage(r, TRACE_DMG_BAD_VERSION, off, "frame %u has format version %u (reader: %u)",
                     h.seq, h.version, TRACE_FRAME_VERSION);
        r->pos++;
        return TF_SCAN;
    }
    if (h.payload_len > TRACE_MAX_PAYLOAD || h.raw_len > TRACE_MAX_RAW) {
        start_damage(r, TRACE_DMG_BAD_LENGTH, off,
                     "frame %u claims %u compressed / %u raw bytes (limits %u / %u)", h.seq,
                     h.payload_len, h.raw_len, TRACE_MAX_PAYLOAD, TRACE_MAX_RAW);
        r->pos++;
        return TF_SCAN;
    }
    if (h.raw_len > TRACE_MAX_RATIO_BASE + (uint64_t)TRACE_MAX_RATIO * h.payload_len) {
        /* decompressing it would cost far more than its bytes: a bomb */
        start_damage(r, TRACE_DMG_BAD_LENGTH, off,
                     "frame %u claims %u raw bytes from %u compressed (more than %u KiB + "
                     "%ux)",
                     h.seq, h.raw_len, h.payload_len, TRACE_MAX_RATIO_BASE >> 10, TRACE_MAX_RATIO);
        r->pos++;
        return TF_SCAN;
    }
    size_t need = TRACE_FRAME_HDR_LEN + (size_t)h.payload_len;
    if (avail < need) {
        if (!r->eof) {
            if (reserve(r, need - avail) != 0) {
                fatal(r, "out of memory buffering a frame");
                return TF_FATAL;
            }
            return TF_MORE;
        }
        start_damage(r, TRACE_DMG_TRUNCATED, off,
                     "input ends inside frame %u (%zu of %zu bytes present)", h.seq, avail, need);
        r->dmg_hint++;
        r->pos++;
        return TF_SCAN;
    }
    const uint8_t *payload = p + TRACE_FRAME_HDR_LEN;
    uint64_t poff = off + TRACE_FRAME_HDR_LEN;
    uint32_t crc;
    if (poff >= r->suspect_end)
        crc_span_reset(&r->span);
    if (poff >= r->suspect_end || h.payload_len < 4 * CRC_SPAN_STEP ||
        crc_span_crc(&r->span, r->buf, r->buf_off, r->len, poff, h.payload_len, &crc) != 0) {
        crc = trace_crc32c(0, payload, h.payload_len);
        r->st.crc_bytes += h.payload_len;
    }
    if (crc != h.payload_crc) {
        if (poff + h.payload_len > r->suspect_end)
            r->suspect_end = poff + h.payload_len;
        start_damage(r, TRACE_DMG_BAD_CRC, off, "frame %u payload CRC mismatch", h.seq);
        r->dmg_hint++;
        r->pos++;
        return TF_SCAN;
    }

    /* A trusted frame: its sequence number counts. */
    uint64_t gap = h.seq >= r->expected ? (uint64_t)(h.seq - r->expected) : 0;
    bool backwards = h.seq < r->expected;
    uint32_t expected_before = r->expected;
    r->expected = h.seq + 1;
    r->pos += need;

    if (h.raw_len > r->raw_cap) {
        size_t cap = r->raw_cap ? r->raw_cap : 64u << 10;
        while (cap < h.raw_len)
            cap *= 2;
        uint8_t *nr = realloc(r->raw, cap);
        if (!nr) {
            fatal(r, "out of memory for a frame");
            return TF_FATAL;
        }
        r->raw = nr;
        r->raw_cap = cap;
    }
    size_t got = ZSTD_decompressDCtx(r->dctx, r->raw, h.raw_len, payload, h.payload_len);
    if (ZSTD_isError(got) || got != h.raw_len) {
        start_damage(r, TRACE_DMG_DECOMPRESS, off, "frame %u does not decompress (%s)", h.seq,
                     ZSTD_isError(got) ? ZSTD_getErrorName(got) : "size differs from header");
        r->dmg_lost += gap + 1;
        r->dmg_hint = 0;
        return TF_SCAN;
    }
    r->st.frames_ok++;
    r->st.payload_bytes += h.payload_len;
    r->st.raw_bytes += h.raw_len;
    r->st.frame_bytes += need;
    r->raw_len = h.raw_len;
    r->raw_pos = 0;
    r->in_frame = true;
    r->frame_seq = h.seq;
    r->frame_off = off;
    r->frame_end = off + need;
    if (r->raw_fn)
        r->raw_fn(r->raw_ctx, h.seq, r->raw, h.raw_len);

    if (r->dmg_active || gap || backwards)
        r->seq_known = false; /* records were lost: the exit numbering restarts here */
    if (r->dmg_active) {
        r->dmg_active = false;
        emit_damage(r, it, r->dmg_kind, r->dmg_off, off, r->dmg_lost + gap, false, r->dmg_msg);
        *report = true;
    } else if (gap) {
        char msg[96];
        snprintf(msg, sizeof(msg), "frames %u..%u missing", expected_before, h.seq - 1);
        emit_damage(r, it, TRACE_DMG_GAP, off, off, gap, false, msg);
        *report = true;
    } else if (backwards) {
        char msg[96];
        snprintf(msg, sizeof(msg), "frame sequence went back from %u to %u", expected_before,
                 h.seq);
        emit_damage(r, it, TRACE_DMG_SEQ, off, off, 0, false, msg);
        *report = true;
    }
    if (*report)
        it->frame = expected_before; /* the first frame the damage concerns */
    return TF_FRAME;
}

/* ---- record checks ---- */

/* Turns *it into a TRACE_DMG_RECORD report about the current record. */
__attribute__((format(printf, 3, 4))) static void
bad_record(struct trace_reader *r, struct trace_item *it, const char *fmt, ...)
{
    char what[128], msg[sizeof it->u.damage.msg + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "frame %u, record at payload offset %zu: %s", r->frame_seq, r->rec_at,
             what);
    emit_damage(r, it, TRACE_DMG_RECORD, r->frame_off, r->frame_off, 0, false, msg);
    it->frame = r->frame_seq;
    r->st.bad_records++;
}

/* Checks a decoded record against its fields and its context. Returns true
 * when *it is to be handed out: the record, or a damage report that replaced
 * it (dropped) or goes before it (then it waits in r->pending). */
static bool check_item(struct trace_reader *r, struct trace_item *it)
{
    char why[128];
    if (r->no_checks)
        return true;
    switch (it->type) {
    case TRACE_ITEM_HEADER:
        r->vcpus = it->u.header.vcpus;
        r->seq_known = true;
        r->next_seq = 0;
        return true;
    case TRACE_ITEM_EXIT: {
        const struct trace_exit *e = &it->u.exit;
        if (!trace_check_exit(e, r->vcpus, why, sizeof why)) {
            if (!r->seq_known || e->seq >= r->next_seq) { /* its number is used up */
                r->seq_known = true;
                r->next_seq = e->seq + 1;
            }
            bad_record(r, it, "exit %" PRIu64 ": %s; record dropped", e->seq, why);
            return true;
        }
        uint64_t want = r->next_seq;
        bool known = r->seq_known;
        if (known && e->seq < want) {
            bad_record(r, it, "exit number %" PRIu64 " where %" PRIu64 " is next; record dropped",
                       e->seq, want);
            return true;
        }
        r->seq_known = true;
        r->next_seq = e->seq + 1;
        if (known && e->seq > want) {
            r->pending = *it;
            r->have_pending = true;
            bad_record(r, it, "exits %" PRIu64 "..%" PRIu64 " missing (exit numbers jump)", want,
                       e->seq - 1);
        }
        return true;
    }
    case TRACE_ITEM_DEV:
        if (!trace_check_dev(&it->u.dev, r->vcpus, why, sizeof why)) {
            bad_record(r, it, "%s event: %s; record dropped", trace_dev_kind_name(it->u.dev.kind),
                       why);
        }
        return true;
    case TRACE_ITEM_CHECKPOINT:
        if (r->seq_known && it->u.checkpoint.seq != r->next_seq) {
            bad_record(r, it,
                       "checkpoint before exit %" PRIu64 " where exit %" PRIu64
                       " is next; record dropped",
                       it->u.checkpoint.seq, r->next_seq);
            return true;
        }
        r->seq_known = true;
        r->next_seq = it->u.checkpoint.seq;
        return true;
    case TRACE_ITEM_END:
        /* after damage the count cannot be checked (the lost part may hold exits) */
        if (r->seq_known && !r->st.damage_reports && it->u.end.exits != r->next_seq) {
            uint64_t n = it->u.end.exits;
            r->pending = *it;
            r->have_pending = true;
            bad_record(r, it, "the end record counts %" PRIu64 " exits, the trace numbers %" PRIu64,
                       n, r->next_seq);
        }
        return true;
    default: return true;
    }
}

int trace_reader_next(struct trace_reader *r, struct trace_item *it)
{
    if (!r || !it)
        return TRACE_R_FATAL;
    if (r->have_pending) { /* an exit or end record; no arena memory */
        r->have_pending = false;
        *it = r->pending;
        return TRACE_R_ITEM;
    }
    arena_reset(&r->arena);
    for (;;) {
        if (r->in_frame) {
            if (next_record(r, it)) {
                if (check_item(r, it))
                    return TRACE_R_ITEM;
                continue;
            }
            r->in_frame = false;
        }
        if (r->done)
            return TRACE_R_END;
        if (r->pos >= r->len) {
            if (!r->eof)
                return TRACE_R_MORE;
            return finish(r, it);
        }
        bool report = false;
        int rc = take_frame(r, it, &report);
        if (rc == TF_MORE)
            return TRACE_R_MORE;
        if (rc == TF_FATAL)
            return TRACE_R_FATAL;
        if (report)
            return TRACE_R_ITEM;
    }
}

void trace_reader_set_raw_sink(struct trace_reader *r, trace_raw_fn fn, void *ctx)
{
    if (r) {
        r->raw_fn = fn;
        r->raw_ctx = ctx;
    }
}

void trace_reader_set_record_checks(struct trace_reader *r, bool on)
{
    if (r)
        r->no_checks = !on;
}

void trace_reader_set_slow_path(struct trace_reader *r, bool slow_only)
{
    if (r)
        r->slow_only = slow_only;
}

uint64_t trace_reader_frame_end(const struct trace_reader *r)
{
    return r ? r->frame_end : 0;
}

const char *trace_reader_error(const struct trace_reader *r)
{
    return r && r->err[0] ? r->err : "no error";
}

void trace_reader_get_stats(const struct trace_reader *r, struct trace_reader_stats *st)
{
    if (r && st) {
        *st = r->st;
        st->crc_bytes += r->span.hashed;
    }
}

const char *trace_damage_kind_name(enum trace_damage_kind k)
{
    switch (k) {
    case TRACE_DMG_GARBAGE: return "garbage";
    case TRACE_DMG_BAD_HEADER: return "bad-header";
    case TRACE_DMG_BAD_VERSION: return "bad-version";
    case TRACE_DMG_BAD_LENGTH: return "bad-length";
    case TRACE_DMG_BAD_CRC: return "bad-crc";
    case TRACE_DMG_TRUNCATED: return "truncated";
    case TRACE_DMG_DECOMPRESS: return "decompress";
    case TRACE_DMG_DECODE: return "decode";
    case TRACE_DMG_GAP: return "gap";
    case TRACE_DMG_SEQ: return "sequence";
    case TRACE_DMG_NO_END: return "no-end";
    case TRACE_DMG_RECORD: return "bad-record";
    default: return "?";
    }
}
