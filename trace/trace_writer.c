/* Trace writer (see trace_writer.h). Freestanding-safe: no stdio, no malloc;
 * memory comes from the caller or from the caller's allocator, and zstd runs
 * in a static context placed in that memory. */
#define ZSTD_STATIC_LINKING_ONLY
#include "trace/trace_writer.h"

#include <string.h>
#include <zstd.h>

#include "trace/hvrr.pb-c.h"
#include "trace/trace_encode.h"
#include "trace/trace_frame.h"

#define MAX_HDR_DEVICES 64
/* UartRx records with at most this many bytes go through trace_encode.c
 * (the hypervisor feeds at most 16 at a time); longer ones through
 * protobuf-c. */
#define UART_RX_FAST 256u
#define ALIGN_UP(x)  (((x) + 63u) & ~(size_t)63u)

struct trace_writer {
    trace_write_fn write;
    void *write_ctx;
    const struct trace_allocator *alloc; /* non-NULL if we own the block */
    void *block;
    int err;
    bool finished;
    bool need_sync; /* the current frame has no Sync record yet */
    bool protobuf_only;
    void (*lib_enter)(void *ctx);
    void *lib_ctx;

    /* delta-coding state, same rules as the reader's */
    uint64_t prev_seq; /* seq of the last exit; UINT64_MAX before the first */
    uint64_t prev_tsc;
    uint64_t prev_rip;

    uint32_t frame_seq;
    uint8_t *raw; /* uncompressed records of the current frame */
    size_t raw_len, raw_cap;
    uint8_t *out; /* frame header + compressed payload */
    size_t out_cap;
    ZSTD_CCtx *cctx;
    struct trace_writer_stats st;
};

struct layout {
    int level;
    size_t frame_bytes, out_cap, cctx_size;
    ZSTD_compressionParameters cp;
};

static void layout_of(const struct trace_writer_config *cfg, struct layout *l)
{
    l->level = cfg->level ? cfg->level : TRACE_DEFAULT_LEVEL;
    if (l->level < ZSTD_minCLevel())
        l->level = ZSTD_minCLevel();
    if (l->level > ZSTD_maxCLevel())
        l->level = ZSTD_maxCLevel();
    l->frame_bytes = cfg->frame_bytes ? cfg->frame_bytes : TRACE_DEFAULT_FRAME_BYTES;
    if (l->frame_bytes < TRACE_MIN_FRAME_BYTES)
        l->frame_bytes = TRACE_MIN_FRAME_BYTES;
    if (l->frame_bytes > TRACE_MAX_FRAME_BYTES)
        l->frame_bytes = TRACE_MAX_FRAME_BYTES;
    /* Parameters fixed for the largest frame, so the static context always
     * suffices; zstd only shrinks them for smaller inputs. */
    l->cp = ZSTD_getCParams(l->level, l->frame_bytes, 0);
    l->cctx_size = ZSTD_estimateCCtxSize_usingCParams(l->cp);
    l->out_cap = TRACE_FRAME_HDR_LEN + ZSTD_compressBound(l->frame_bytes);
}

size_t trace_writer_mem_size(const struct trace_writer_config *cfg)
{
    struct layout l;
    if (!cfg)
        return 0;
    layout_of(cfg, &l);
    return ALIGN_UP(sizeof(struct trace_writer)) + ALIGN_UP(l.frame_bytes) + ALIGN_UP(l.out_cap) +
           ALIGN_UP(l.cctx_size) + 64;
}

static int set_cparams(ZSTD_CCtx *c, const struct layout *l)
{
    const ZSTD_compressionParameters *cp = &l->cp;
    size_t r = 0;
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, (int)cp->windowLog));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_chainLog, (int)cp->chainLog));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, (int)cp->hashLog));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_searchLog, (int)cp->searchLog));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, (int)cp->minMatch));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_targetLength, (int)cp->targetLength));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_strategy, (int)cp->strategy));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1));
    r |= ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0));
    return r ? -1 : 0;
}

struct trace_writer *trace_writer_init(const struct trace_writer_config *cfg, void *mem,
                                       size_t mem_len)
{
    struct layout l;
    if (!cfg || !cfg->write)
        return NULL;
    layout_of(cfg, &l);
    size_t need = trace_writer_mem_size(cfg);
    const struct trace_allocator *owner = NULL;
    if (!mem) {
        if (!cfg->alloc || !cfg->alloc->alloc)
            return NULL;
        mem = cfg->alloc->alloc(cfg->alloc->ctx, need);
        if (!mem)
            return NULL;
        mem_len = need;
        owner = cfg->alloc;
    }
    if (mem_len < need) {
        return NULL;
    }
    uint8_t *p = (uint8_t *)ALIGN_UP((uintptr_t)mem);
    struct trace_writer *w = (struct trace_writer *)p;
    memset(w, 0, sizeof(*w));
    p += ALIGN_UP(sizeof(*w));
    w->raw = p;
    w->raw_cap = l.frame_bytes;
    p += ALIGN_UP(l.frame_bytes);
    w->out = p;
    w->out_cap = l.out_cap;
    p += ALIGN_UP(l.out_cap);
    w->cctx = ZSTD_initStaticCCtx(p, l.cctx_size);
    w->write = cfg->write;
    w->write_ctx = cfg->write_ctx;
    w->alloc = owner;
    w->block = mem;
    w->prev_seq = UINT64_MAX;
    w->need_sync = true;
    w->protobuf_only = cfg->protobuf_only;
    w->lib_enter = cfg->lib_enter;
    w->lib_ctx = cfg->lib_ctx;
    if (!w->cctx || set_cparams(w->cctx, &l) != 0) {
        if (owner && owner->free)
            owner->free(owner->ctx, mem);
        return NULL;
    }
    return w;
}

void trace_writer_destroy(struct trace_writer *w)
{
    if (w && w->alloc && w->alloc->free)
        w->alloc->free(w->alloc->ctx, w->block);
}

static int fail(struct trace_writer *w, int err)
{
    if (!w->err)
        w->err = err;
    return w->err;
}

/* Before zstd or protobuf-c runs (trace_writer_config.lib_enter). */
static void lib_enter(struct trace_writer *w)
{
    if (w->lib_enter)
        w->lib_enter(w->lib_ctx);
}

static int emit_frame(struct trace_writer *w, uint8_t flags)
{
    if (w->raw_len == 0 && !(flags & TRACE_FRAME_FINAL))
        return 0;
    lib_enter(w);
    size_t clen = ZSTD_compress2(w->cctx, w->out + TRACE_FRAME_HDR_LEN,
                                 w->out_cap - TRACE_FRAME_HDR_LEN, w->raw, w->raw_len);
    if (ZSTD_isError(clen))
        return fail(w, TRACE_W_E_ZSTD);
    struct trace_frame_hdr h = {
        .version = TRACE_FRAME_VERSION,
        .flags = flags,
        .seq = w->frame_seq,
        .payload_len = (uint32_t)clen,
        .raw_len = (uint32_t)w->raw_len,
        .payload_crc = trace_crc32c(0, w->out + TRACE_FRAME_HDR_LEN, clen),
    };
    trace_frame_hdr_encode(&h, w->out);
    size_t total = TRACE_FRAME_HDR_LEN + clen;
    if (w->write(w->write_ctx, w->out, total) != 0)
        return fail(w, TRACE_W_E_WRITE);
    w->frame_seq++;
    w->st.frames++;
    w->st.raw_bytes += w->raw_len;
    w->st.out_bytes += total;
    w->raw_len = 0;
    w->need_sync = true;
    return 0;
}

int trace_writer_flush(struct trace_writer *w)
{
    if (!w)
        return TRACE_W_E_ARG;
    if (w->err)
        return w->err;
    if (w->finished)
        return fail(w, TRACE_W_E_FINISHED);
    return emit_frame(w, 0);
}

/* Appends one record (already packed by `pack`) to the frame, flushing the
 * frame first when it would not fit. */
static int append_packed(struct trace_writer *w, const ProtobufCMessage *msg, const void *bytes,
                         size_t len)
{
    size_t need = 1 + 10 + len;
    if (need > w->raw_cap)
        return fail(w, TRACE_W_E_TOOBIG);
    if (w->raw_len + need > w->raw_cap) {
        int rc = emit_frame(w, 0);
        if (rc)
            return rc;
    }
    uint8_t *p = w->raw + w->raw_len;
    *p++ = TRACE_STREAM_RECORD_TAG;
    p += trace_varint_put(p, len);
    if (msg)
        protobuf_c_message_pack(msg, p);
    else
        memcpy(p, bytes, len);
    p += len;
    w->raw_len = (size_t)(p - w->raw);
    w->st.records++;
    return 0;
}

static int append(struct trace_writer *w, const Hvrr__Record *rec)
{
    lib_enter(w);
    return append_packed(w, &rec->base, NULL, protobuf_c_message_get_packed_size(&rec->base));
}

static int check(struct trace_writer *w)
{
    if (w->err)
        return w->err;
    if (w->finished)
        return fail(w, TRACE_W_E_FINISHED);
    return 0;
}

/* Records that use the delta chain need the frame's Sync record first. */
#define SYNC_MAX (1 + 10 + 2 + 3 * 11) /* prefix + Record tag/len + 3 varint fields */

/* Appends a record that uses the delta chain: either a message (rec) or
 * already-encoded bytes. */
static int append_timed_any(struct trace_writer *w, const Hvrr__Record *rec, const void *bytes,
                            size_t len)
{
    size_t need = 1 + 10 + len;
    if (need + SYNC_MAX > w->raw_cap)
        return fail(w, TRACE_W_E_TOOBIG);
    int rc;
    if (w->raw_len + need + (w->need_sync ? SYNC_MAX : 0) > w->raw_cap) {
        rc = emit_frame(w, 0);
        if (rc)
            return rc;
    }
    if (w->need_sync && !w->protobuf_only) {
        uint8_t sync[TRACE_ENCODE_MAX];
        rc = append_packed(w, NULL, sync,
                           trace_encode_sync(sync, w->prev_seq + 1, w->prev_tsc, w->prev_rip));
        if (rc)
            return rc;
        w->need_sync = false;
    } else if (w->need_sync) {
        Hvrr__Sync s = HVRR__SYNC__INIT;
        s.next_seq = w->prev_seq + 1;
        s.tsc = w->prev_tsc;
        s.rip = w->prev_rip;
        Hvrr__Record r = HVRR__RECORD__INIT;
        r.kind_case = HVRR__RECORD__KIND_SYNC;
        r.sync = &s;
        rc = append(w, &r);
        if (rc)
            return rc;
        w->need_sync = false;
    }
    return append_packed(w, rec ? &rec->base : NULL, bytes, len);
}

static int append_timed(struct trace_writer *w, const Hvrr__Record *rec)
{
    lib_enter(w);
    return append_timed_any(w, rec, NULL, protobuf_c_message_get_packed_size(&rec->base));
}

int trace_write_exit(struct trace_writer *w, const struct trace_exit *e)
{
    if (!w || !e)
        return TRACE_W_E_ARG;
    int rc = check(w);
    if (rc)
        return rc;
    uint8_t rec[TRACE_ENCODE_MAX];
    size_t len = w->protobuf_only ? 0
                                  : trace_encode_exit(rec, e, e->seq - (w->prev_seq + 1),
                                                      (int64_t)(e->tsc - w->prev_tsc),
                                                      (int64_t)(e->rip - w->prev_rip));
    if (len) {
        rc = append_timed_any(w, NULL, rec, len);
        if (rc)
            return rc;
        w->prev_seq = e->seq;
        w->prev_tsc = e->tsc;
        w->prev_rip = e->rip;
        w->st.exits++;
        return 0;
    }
    Hvrr__Exit x = HVRR__EXIT__INIT;
    x.seq_skip = e->seq - (w->prev_seq + 1);
    x.tsc_delta = (int64_t)(e->tsc - w->prev_tsc);
    x.reason = (Hvrr__ExitReason)e->reason;
    x.vcpu = e->vcpu;
    x.rip_delta = (int64_t)(e->rip - w->prev_rip);
    x.insn_len = e->insn_len;
    x.qual = e->qual;
    Hvrr__PortIo io = HVRR__PORT_IO__INIT;
    Hvrr__Cpuid cpuid = HVRR__CPUID__INIT;
    Hvrr__Msr msr = HVRR__MSR__INIT;
    Hvrr__Xsetbv xs = HVRR__XSETBV__INIT;
    Hvrr__CrAccess cr = HVRR__CR_ACCESS__INIT;
    Hvrr__EptViolation ept = HVRR__EPT_VIOLATION__INIT;
    Hvrr__ExtInt ei = HVRR__EXT_INT__INIT;
    switch (e->detail) {
    case TRACE_DETAIL_NONE: break;
    case TRACE_DETAIL_IO:
        io.port = e->u.io.port;
        io.size = e->u.io.size;
        io.write = e->u.io.write;
        io.value = e->u.io.value;
        x.detail_case = HVRR__EXIT__DETAIL_IO;
        x.io = &io;
        break;
    case TRACE_DETAIL_CPUID:
        cpuid.leaf = e->u.cpuid.leaf;
        cpuid.subleaf = e->u.cpuid.subleaf;
        cpuid.eax = e->u.cpuid.eax;
        cpuid.ebx = e->u.cpuid.ebx;
        cpuid.ecx = e->u.cpuid.ecx;
        cpuid.edx = e->u.cpuid.edx;
        x.detail_case = HVRR__EXIT__DETAIL_CPUID;
        x.cpuid = &cpuid;
        break;
    case TRACE_DETAIL_MSR:
        msr.index = e->u.msr.index;
        msr.write = e->u.msr.write;
        msr.value = e->u.msr.value;
        x.detail_case = HVRR__EXIT__DETAIL_MSR;
        x.msr = &msr;
        break;
    case TRACE_DETAIL_XSETBV:
        xs.xcr = e->u.xsetbv.xcr;
        xs.value = e->u.xsetbv.value;
        x.detail_case = HVRR__EXIT__DETAIL_XSETBV;
        x.xsetbv = &xs;
        break;
    case TRACE_DETAIL_CR:
        cr.cr = e->u.cr.cr;
        cr.access = e->u.cr.access;
        cr.gpr = e->u.cr.gpr;
        cr.value = e->u.cr.value;
        x.detail_case = HVRR__EXIT__DETAIL_CR;
        x.cr = &cr;
        break;
    case TRACE_DETAIL_EPT:
        ept.gpa = e->u.ept.gpa;
        ept.access = e->u.ept.access;
        ept.gla = e->u.ept.gla;
        ept.size = e->u.ept.size;
        ept.value = e->u.ept.value;
        x.detail_case = HVRR__EXIT__DETAIL_EPT;
        x.ept = &ept;
        break;
    case TRACE_DETAIL_EXTINT:
        ei.vector = e->u.extint.vector;
        x.detail_case = HVRR__EXIT__DETAIL_EXTINT;
        x.extint = &ei;
        break;
    default: return TRACE_W_E_ARG;
    }
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_EXIT;
    r.exit = &x;
    rc = append_timed(w, &r);
    if (rc)
        return rc;
    w->prev_seq = e->seq;
    w->prev_tsc = e->tsc;
    w->prev_rip = e->rip;
    w->st.exits++;
    return 0;
}

int trace_write_dev(struct trace_writer *w, const struct trace_dev_event *d)
{
    if (!w || !d)
        return TRACE_W_E_ARG;
    int rc = check(w);
    if (rc)
        return rc;
    if (d->kind == TRACE_DEV_UART_RX && d->u.uart_rx.len && !d->u.uart_rx.data)
        return TRACE_W_E_ARG;
    /* a deadline at or before the record's TSC cannot be armed */
    if (d->kind == TRACE_DEV_DEADLINE && d->u.deadline.tsc != UINT64_MAX &&
        d->u.deadline.tsc <= d->tsc)
        return TRACE_W_E_ARG;
    if (!w->protobuf_only && (d->kind != TRACE_DEV_UART_RX || d->u.uart_rx.len <= UART_RX_FAST)) {
        uint8_t rec[TRACE_ENCODE_MAX + UART_RX_FAST];
        size_t len = trace_encode_dev(rec, d, (int64_t)(d->tsc - w->prev_tsc));
        if (!len)
            return TRACE_W_E_ARG; /* an unknown kind */
        rc = append_timed_any(w, NULL, rec, len);
        if (rc)
            return rc;
        w->prev_tsc = d->tsc;
        return 0;
    }
    Hvrr__DeviceEvent x = HVRR__DEVICE_EVENT__INIT;
    x.tsc_delta = (int64_t)(d->tsc - w->prev_tsc);
    x.vcpu = d->vcpu;
    Hvrr__IrqLine irq = HVRR__IRQ_LINE__INIT;
    Hvrr__Inject inj = HVRR__INJECT__INIT;
    Hvrr__UartRx rx = HVRR__UART_RX__INIT;
    Hvrr__TimerEdge tm = HVRR__TIMER_EDGE__INIT;
    Hvrr__IntrLine intr = HVRR__INTR_LINE__INIT;
    Hvrr__DevRequest req = HVRR__DEV_REQUEST__INIT;
    Hvrr__IntrBlocked blocked = HVRR__INTR_BLOCKED__INIT;
    Hvrr__PolicyIo pio = HVRR__POLICY_IO__INIT;
    Hvrr__Halt halt = HVRR__HALT__INIT;
    Hvrr__Deadline deadline = HVRR__DEADLINE__INIT;
    Hvrr__CpuStart start = HVRR__CPU_START__INIT;
    switch (d->kind) {
    case TRACE_DEV_IRQ_LINE:
        irq.irq = d->u.irq.irq;
        irq.level = d->u.irq.level;
        x.ev_case = HVRR__DEVICE_EVENT__EV_IRQ;
        x.irq = &irq;
        break;
    case TRACE_DEV_INJECT:
        inj.vector = d->u.inject.vector;
        x.ev_case = HVRR__DEVICE_EVENT__EV_INJECT;
        x.inject = &inj;
        break;
    case TRACE_DEV_UART_RX:
        rx.port = d->u.uart_rx.port;
        rx.data.data = (uint8_t *)d->u.uart_rx.data;
        rx.data.len = d->u.uart_rx.len;
        x.ev_case = HVRR__DEVICE_EVENT__EV_UART_RX;
        x.uart_rx = &rx;
        break;
    case TRACE_DEV_TIMER_EDGE:
        tm.source = d->u.timer.source;
        tm.level = d->u.timer.level;
        x.ev_case = HVRR__DEVICE_EVENT__EV_TIMER;
        x.timer = &tm;
        break;
    case TRACE_DEV_INTR:
        intr.level = d->u.intr.level;
        x.ev_case = HVRR__DEVICE_EVENT__EV_INTR;
        x.intr = &intr;
        break;
    case TRACE_DEV_REQUEST:
        req.what = d->u.request.what;
        x.ev_case = HVRR__DEVICE_EVENT__EV_REQUEST;
        x.request = &req;
        break;
    case TRACE_DEV_INTR_BLOCKED:
        blocked.rflags = d->u.blocked.rflags;
        blocked.blocking = d->u.blocked.blocking;
        x.ev_case = HVRR__DEVICE_EVENT__EV_BLOCKED;
        x.blocked = &blocked;
        break;
    case TRACE_DEV_POLICY_IO:
        pio.rax = d->u.pio.rax;
        pio.rax_xor = d->u.pio.rax ^ d->u.pio.rax_after;
        pio.addr_bits = d->u.pio.addr_bits;
        pio.rcx = d->u.pio.rcx;
        pio.rcx_xor = d->u.pio.rcx ^ d->u.pio.rcx_after;
        pio.index = d->u.pio.index;
        pio.index_xor = d->u.pio.index ^ d->u.pio.index_after;
        pio.rflags = d->u.pio.rflags;
        pio.gla = d->u.pio.gla;
        pio.fault = d->u.pio.fault;
        pio.retired = d->u.pio.retired;
        x.ev_case = HVRR__DEVICE_EVENT__EV_PIO;
        x.pio = &pio;
        break;
    case TRACE_DEV_HALT:
        halt.rflags = d->u.halt.rflags;
        halt.input = d->u.halt.input;
        halt.stop = d->u.halt.stop;
        x.ev_case = HVRR__DEVICE_EVENT__EV_HALT;
        x.halt = &halt;
        break;
    case TRACE_DEV_DEADLINE:
        deadline.ahead = d->u.deadline.tsc == UINT64_MAX ? 0 : d->u.deadline.tsc - d->tsc;
        x.ev_case = HVRR__DEVICE_EVENT__EV_DEADLINE;
        x.deadline = &deadline;
        break;
    case TRACE_DEV_CPU_START:
        start.vcpu = d->u.cpu_start.vcpu;
        start.vector = d->u.cpu_start.vector;
        x.ev_case = HVRR__DEVICE_EVENT__EV_CPU_START;
        x.cpu_start = &start;
        break;
    default: return TRACE_W_E_ARG;
    }
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_DEV;
    r.dev = &x;
    rc = append_timed(w, &r);
    if (rc)
        return rc;
    w->prev_tsc = d->tsc;
    return 0;
}

static void fill_checkpoint(Hvrr__Checkpoint *m, const struct trace_checkpoint *c)
{
    m->seq = c->seq;
    m->tsc = c->tsc;
    m->time_ns = c->time_ns;
    m->devices_version = c->devices_version;
    m->devices.data = (uint8_t *)c->devices;
    m->devices.len = c->devices ? c->devices_len : 0;
}

int trace_write_checkpoint(struct trace_writer *w, const struct trace_checkpoint *c)
{
    if (!w || !c)
        return TRACE_W_E_ARG;
    int rc = check(w);
    if (rc)
        return rc;
    Hvrr__Checkpoint m = HVRR__CHECKPOINT__INIT;
    fill_checkpoint(&m, c);
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_CHECKPOINT;
    r.checkpoint = &m;
    rc = emit_frame(w, 0);
    if (rc)
        return rc;
    return append_timed(w, &r);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

int trace_write_header(struct trace_writer *w, const struct trace_header *h)
{
    if (!w || !h || h->ndevices > MAX_HDR_DEVICES || (h->ndevices && !h->devices) ||
        h->host_cpu.nleaves > TRACE_HOST_CPUID_MAX || (h->host_cpu.nleaves && !h->host_cpu.leaves))
        return TRACE_W_E_ARG;
    int rc = check(w);
    if (rc)
        return rc;
    Hvrr__Device devs[MAX_HDR_DEVICES];
    Hvrr__Device *devp[MAX_HDR_DEVICES];
    for (size_t i = 0; i < h->ndevices; i++) {
        Hvrr__Device d = HVRR__DEVICE__INIT;
        d.name = (char *)str_or_empty(h->devices[i].name);
        d.port_base = h->devices[i].port_base;
        d.port_count = h->devices[i].port_count;
        d.irq = h->devices[i].irq;
        devs[i] = d;
        devp[i] = &devs[i];
    }
    Hvrr__VmConfig cfg = HVRR__VM_CONFIG__INIT;
    cfg.ram_bytes = h->ram_bytes;
    cfg.vcpus = h->vcpus;
    cfg.tsc_hz = h->tsc_hz;
    cfg.n_devices = h->ndevices;
    cfg.devices = devp;
    Hvrr__CpuidLeaf leaves[TRACE_HOST_CPUID_MAX];
    Hvrr__CpuidLeaf *leafp[TRACE_HOST_CPUID_MAX];
    for (size_t i = 0; i < h->host_cpu.nleaves; i++) {
        const struct trace_cpuid_leaf *l = &h->host_cpu.leaves[i];
        Hvrr__CpuidLeaf m = HVRR__CPUID_LEAF__INIT;
        m.leaf = l->leaf;
        m.subleaf = l->subleaf;
        m.eax = l->eax;
        m.ebx = l->ebx;
        m.ecx = l->ecx;
        m.edx = l->edx;
        leaves[i] = m;
        leafp[i] = &leaves[i];
    }
    cfg.n_host_cpuid = h->host_cpu.nleaves;
    cfg.host_cpuid = leafp;
    cfg.host_xcr0 = h->host_cpu.xcr0;
    cfg.host_features = h->host_cpu.features;
    cfg.entry_decisions = h->entry_decisions;
    cfg.apic = h->apic;
    cfg.policy_records = h->policy_records;
    cfg.time_limit_ns = h->time_limit_ns;
    cfg.intr_per_vcpu = h->intr_per_vcpu;
    Hvrr__Checkpoint start = HVRR__CHECKPOINT__INIT;
    Hvrr__Header m = HVRR__HEADER__INIT;
    m.format_version = h->format_version ? h->format_version : TRACE_FORMAT_VERSION;
    m.hv_build_id = (char *)str_or_empty(h->hv_build_id);
    m.devmodel_version = (char *)str_or_empty(h->devmodel_version);
    m.cmdline = (char *)str_or_empty(h->cmdline);
    m.config = &cfg;
    if (h->has_start) {
        fill_checkpoint(&start, &h->start);
        m.start = &start;
    }
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_HEADER;
    r.header = &m;
    rc = append(w, &r);
    if (rc)
        return rc;
    /* The header travels alone, so damage elsewhere never costs it. */
    return emit_frame(w, 0);
}

int trace_write_raw_record(struct trace_writer *w, const void *rec, size_t len)
{
    if (!w || (len && !rec))
        return TRACE_W_E_ARG;
    int rc = check(w);
    if (rc)
        return rc;
    return append_packed(w, NULL, rec, len);
}

int trace_writer_finish(struct trace_writer *w, const struct trace_end *end)
{
    if (!w)
        return TRACE_W_E_ARG;
    int rc = check(w);
    if (rc)
        return rc;
    Hvrr__End m = HVRR__END__INIT;
    if (end) {
        m.exits = end->exits;
        m.reason = end->reason;
    } else {
        m.exits = w->st.exits;
    }
    m.records = w->st.records;
    Hvrr__Record r = HVRR__RECORD__INIT;
    r.kind_case = HVRR__RECORD__KIND_END;
    r.end = &m;
    rc = append(w, &r);
    if (rc)
        return rc;
    rc = emit_frame(w, TRACE_FRAME_FINAL);
    if (rc)
        return rc;
    w->finished = true;
    return 0;
}

int trace_writer_error(const struct trace_writer *w)
{
    return w ? w->err : TRACE_W_E_ARG;
}

const char *trace_writer_strerror(int err)
{
    switch (err) {
    case TRACE_W_OK: return "no error";
    case TRACE_W_E_ARG: return "invalid argument";
    case TRACE_W_E_NOMEM: return "not enough memory";
    case TRACE_W_E_TOOBIG: return "record larger than a frame";
    case TRACE_W_E_ZSTD: return "zstd compression failed";
    case TRACE_W_E_WRITE: return "write callback failed";
    case TRACE_W_E_FINISHED: return "trace already finished";
    default: return "unknown error";
    }
}

void trace_writer_get_stats(const struct trace_writer *w, struct trace_writer_stats *st)
{
    if (w && st)
        *st = w->st;
}
