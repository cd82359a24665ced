/* Recording in the hypervisor (recording.h): the options, the trace sink
 * (stream or flight), set-up and per-VM begin/end, and the wrappers around
 * hv/record. Each concern keeps its state in its own struct, in
 * hv/recording/: com2 (the trace port's UART driver and transmit queue),
 * flight (the flight ring), fpu (the FPU section around the libraries),
 * time (hiding recorder time from the guest), panic (Linux panic
 * detection on the guest console). */
#include "hv/recording.h"

#include "hv/arch.h"
#include "hv/lib.h"
#include "hv/mm.h"
#include "hv/recording/com2.h"
#include "hv/recording/flight.h"
#include "hv/recording/fpu.h"
#include "hv/recording/panic.h"
#include "hv/recording/time.h"
#include "hv/rt/rt.h"
#include "hv/vcpu.h"
#include "hv/vmx/vmx.h"
#include "hv/version.h" /* generated: HV_BUILD_ID, HV_DEVMODEL_VERSION (hv/hv.mk) */

#define MSR_FS_BASE    0xc0000100u
#define RT_ARENA_BYTES (256u << 10)

/* The options and the writer. */
static struct {
    enum hvrec_mode mode;
    uint64_t checkpoint_every;
    int level;
    void *wmem;
    size_t wmem_len;
    struct trace_writer *w;
    struct vm_recorder rec;
    char cmdline[512];
    bool streaming;      /* frames go to the port (stream mode, or flight after a dump) */
    const char *pending; /* a dump was asked for (why) */
} g;

static struct rec_com2 com2;
static struct rec_flight flight;
static struct rec_fpu fpu;
static struct rec_time rtime;
static struct rec_panic panic;

enum hvrec_mode hvrec_mode(void)
{
    return g.mode;
}

static void dump_now(const char *why)
{
    hv_log("record: flight ring dump (%s): header + %lu frame(s), %lu older frame(s) dropped", why,
           flight.frames, flight.dropped);
    rec_flight_dump(&flight, &com2);
    g.streaming = true;
}

/* The writer is about to run zstd or protobuf-c (SSE): the guest's FPU
 * state out of the way until the next entry. */
static void lib_enter(void *ctx)
{
    (void)ctx;
    rec_fpu_enter(&fpu);
}

/* The trace writer's output: one whole frame per call. */
static int trace_out(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    rtime.emitted = true;
    if (g.streaming) {
        rec_com2_write(&com2, buf, len);
        return 0;
    }
    return rec_flight_put(&flight, buf, len);
}

void hvrec_before_entry(void)
{
    if (g.pending && g.mode == HVREC_FLIGHT && !g.streaming && g.w) {
        rec_fpu_enter(&fpu);
        uint64_t t0 = rec_time_begin(&rtime);
        trace_writer_flush(g.w);
        dump_now(g.pending);
        rec_time_end(&rtime, t0);
    }
    g.pending = NULL;
    rec_fpu_leave(&fpu);
    rec_com2_burst(&com2, false);
}

/* ---- set-up ---- */

static void rt_panic(const char *msg)
{
    hv_panic("library runtime: %s", msg);
}

void hvrec_setup(const struct hv_options *o)
{
    g.mode = o->record == HV_RECORD_STREAM   ? HVREC_STREAM
             : o->record == HV_RECORD_FLIGHT ? HVREC_FLIGHT
                                             : HVREC_OFF;
    com2.port = o->record_port;
    com2.baud = o->record_baud;
    g.checkpoint_every = o->checkpoint;
    g.level = o->record_level;
    if (g.mode == HVREC_OFF) {
        hv_log("record: off");
        return;
    }

    /* The libraries use SSE: enable it for the host, give them a heap and
     * the %fs canary. */
    rec_fpu_setup();
    uint64_t arena = mm_alloc(RT_ARENA_BYTES, 4096);
    if (!arena)
        hv_panic("record: no memory for the library heap");
    struct rt_tcb *tcb =
        rt_init(phys_to_virt(arena), RT_ARENA_BYTES, rdtsc() ^ 0x9e3779b97f4a7c15ull, rt_panic);
    wrmsr(MSR_FS_BASE, (uint64_t)(uintptr_t)tcb); /* vmx.c copies it into HOST_FS_BASE */

    struct trace_writer_config wc = {.level = g.level, .write = trace_out, .lib_enter = lib_enter};
    g.wmem_len = trace_writer_mem_size(&wc);
    uint64_t wm = mm_alloc(g.wmem_len, 4096);
    if (!wm)
        hv_panic("record: no memory for the trace writer (%lu bytes)", (uint64_t)g.wmem_len);
    g.wmem = phys_to_virt(wm);
    uint64_t tq = mm_alloc_raw(REC_COM2_TXQ_BYTES, 4096);
    if (!tq)
        hv_panic("record: no memory for the transmit queue");
    com2.txq = phys_to_virt(tq);
    if (g.mode == HVREC_FLIGHT) {
        flight.cap = o->flight_bytes;
        uint64_t rm = mm_alloc_raw(flight.cap, 4096);
        uint64_t hm = mm_alloc(REC_FLIGHT_HDR_MAX, 4096);
        if (!rm || !hm)
            hv_panic("record: no memory for a %lu KiB flight ring", (uint64_t)(flight.cap >> 10));
        flight.ring = phys_to_virt(rm);
        flight.hdr = phys_to_virt(hm);
    }
    rec_com2_init(&com2);
    hv_log("record: %s to port 0x%x at %u baud, checkpoint every %lu exits, zstd level %d, "
           "writer %lu KiB%s",
           g.mode == HVREC_STREAM ? "stream" : "flight", com2.port, com2.baud, g.checkpoint_every,
           g.level, (uint64_t)(g.wmem_len >> 10), g.mode == HVREC_FLIGHT ? ", flight ring" : "");
    if (g.mode == HVREC_FLIGHT)
        hv_log("record: flight ring %lu KiB; dump on triple fault, Linux panic or OUT to port 0x%x",
               (uint64_t)(flight.cap >> 10), HVREC_MAGIC_PORT);
}

/* ---- per VM ---- */

struct vm_recorder *hvrec_vm_begin(struct vm_devices *d, const struct vm_devices_config *dc,
                                   const struct vm_devices_hooks *hooks, uint64_t ram_bytes,
                                   uint64_t tsc_hz, const char *cmdline, uint64_t time_limit_ns,
                                   struct vmx_vcpu *vcpu)
{
    if (g.mode == HVREC_OFF)
        return NULL;
    rtime.vcpu = vcpu;
    rtime.hidden = 0;
    com2.txq_full_waits = 0;
    struct trace_writer_config wc = {.level = g.level, .write = trace_out, .lib_enter = lib_enter};
    g.streaming = g.mode == HVREC_STREAM;
    rec_flight_reset(&flight);
    g.pending = NULL;
    rec_panic_reset(&panic);
    size_t cl = cmdline ? strlen(cmdline) : 0;
    if (cl >= sizeof g.cmdline)
        cl = sizeof g.cmdline - 1;
    memcpy(g.cmdline, cmdline ? cmdline : "", cl);
    g.cmdline[cl] = 0;
    fpu.sections = 0;
    rec_fpu_enter(&fpu);
    g.w = trace_writer_init(&wc, g.wmem, g.wmem_len);
    if (!g.w) {
        hv_log("record: trace writer init failed; this VM is not recorded");
        return NULL;
    }
    struct vm_recorder_config rc = {.w = g.w,
                                    .tsc_hz = tsc_hz,
                                    .ram_bytes = ram_bytes,
                                    .vcpus = dc->cpus ? dc->cpus : 1,
                                    .hv_build_id = "hvrr-hv " HV_BUILD_ID,
                                    .devmodel_version = "hv/devs " HV_DEVMODEL_VERSION,
                                    .cmdline = g.cmdline,
                                    .checkpoint_every = g.checkpoint_every,
                                    .start_tsc = 0,
                                    .host_cpu = vcpu_host_cpu(),
                                    .entry_decisions = true,
                                    .policy_records = true,
                                    .time_limit_ns = time_limit_ns};
    int rc_ = vm_recorder_init(&g.rec, d, dc, hooks, &rc);
    if (rc_) {
        hv_log("record: header failed: %s", trace_writer_strerror(rc_));
        return NULL;
    }
    return &g.rec;
}

void hvrec_vm_end(struct vm_recorder *r, uint32_t reason)
{
    if (!r)
        return;
    rec_fpu_enter(&fpu);
    int rc = vm_rec_finish(r, reason);
    if (g.mode == HVREC_FLIGHT && !g.streaming && (g.pending || reason == TRACE_END_TRIPLE_FAULT))
        dump_now(g.pending ? g.pending : "triple fault");
    g.pending = NULL;
    struct trace_writer_stats st;
    trace_writer_get_stats(g.w, &st);
    rec_fpu_leave(&fpu);
    rec_com2_flush(&com2); /* the trace is complete on the line before the next VM */
    hv_log("record: %lu exits, %lu records, %lu frames, %lu raw bytes -> %lu bytes, %lu TSC ticks "
           "of recorder work hidden from the guest, transmit queue full %lu times, %lu FPU "
           "sections%s%s",
           r->seq, st.records, st.frames, st.raw_bytes, st.out_bytes, rtime.hidden,
           com2.txq_full_waits, fpu.sections, rc ? ", error: " : "",
           rc ? trace_writer_strerror(rc) : "");
    g.w = NULL;
    rtime.vcpu = NULL;
}

/* ---- wrappers: every device call of the VM layer ---- */

uint32_t hvrec_io(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint16_t port,
                  unsigned size, bool write, uint32_t value)
{
    if (write && port == HVREC_MAGIC_PORT)
        hvrec_trigger("magic port write");
    uint64_t t0 = rec_time_begin(&rtime);
    uint32_t v = vm_rec_io(r, x, port, size, write, value);
    rec_time_end(&rtime, t0);
    return v;
}

uint64_t hvrec_mmio(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint64_t gpa,
                    unsigned size, bool write, uint64_t value)
{
    uint64_t t0 = rec_time_begin(&rtime);
    uint64_t v = vm_rec_mmio(r, x, gpa, size, write, value);
    rec_time_end(&rtime, t0);
    return v;
}

int hvrec_msr(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint32_t msr, bool write,
              uint64_t *val)
{
    uint64_t t0 = rec_time_begin(&rtime);
    int rc = vm_rec_msr(r, x, msr, write, val);
    rec_time_end(&rtime, t0);
    return rc;
}

void hvrec_advance(struct vm_recorder *r, uint64_t tsc)
{
    uint64_t t0 = rec_time_begin(&rtime);
    vm_rec_advance(r, tsc);
    rec_time_end(&rtime, t0);
}

uint8_t hvrec_ack(struct vm_recorder *r, uint64_t tsc)
{
    uint64_t t0 = rec_time_begin(&rtime);
    uint8_t v = vm_rec_ack(r, tsc);
    rec_time_end(&rtime, t0);
    return v;
}

void hvrec_policy(struct vm_recorder *r, struct trace_dev_event *ev)
{
    uint64_t t0 = rec_time_begin(&rtime);
    vm_rec_policy(r, ev);
    rec_time_end(&rtime, t0);
}

void hvrec_deadline(struct vm_recorder *r, uint64_t tsc, uint64_t deadline)
{
    uint64_t t0 = rec_time_begin(&rtime);
    vm_rec_deadline(r, tsc, deadline);
    rec_time_end(&rtime, t0);
}

size_t hvrec_com1_rx(struct vm_recorder *r, const uint8_t *buf, size_t n, uint64_t tsc)
{
    uint64_t t0 = rec_time_begin(&rtime);
    size_t v = vm_rec_com1_rx(r, buf, n, tsc);
    rec_time_end(&rtime, t0);
    return v;
}

void hvrec_exit(struct vm_recorder *r, struct trace_exit *e)
{
    uint64_t t0 = rec_time_begin(&rtime);
    vm_rec_exit(r, e);
    rec_time_end(&rtime, t0);
}

void hvrec_trigger(const char *why)
{
    if (g.mode == HVREC_FLIGHT && !g.streaming && !g.pending)
        g.pending = why;
}

void hvrec_console_byte(uint8_t c)
{
    if (rec_panic_byte(&panic, c))
        hvrec_trigger("guest kernel panic");
}

bool hvrec_guest_panicked(void)
{
    return panic.seen;
}
