/* Recording in the hypervisor (recording.h): options, COM2 transport, the
 * flight ring, the FPU section, and the wrappers around hv/record. */
#include "hv/recording.h"

#include "hv/arch.h"
#include "hv/lib.h"
#include "hv/mm.h"
#include "hv/rt/rt.h"
#include "hv/vcpu.h"
#include "hv/vmx/vmx.h"
#include "hv/version.h" /* generated: HV_BUILD_ID, HV_DEVMODEL_VERSION (hv/hv.mk) */

#define MSR_FS_BASE     0xc0000100u
#define CR0_EM          (1ull << 2)
#define CR0_MP          (1ull << 1)
#define CR0_TS          (1ull << 3)
#define CR4_OSFXSR      (1ull << 9)
#define CR4_OSXMMEXCPT  (1ull << 10)
#define RT_ARENA_BYTES  (256u << 10)
#define HDR_FRAME_MAX   (64u << 10)
#define XSAVE_AREA_SIZE 8192u
#define TXQ_BYTES       (1u << 20)
#define FPU_SAVE_MASK   3u /* XCR0 components saved around the libraries: x87, SSE */

static struct {
    enum hvrec_mode mode;
    uint16_t port;
    uint32_t baud;
    uint64_t checkpoint_every;
    int level;
    /* writer */
    void *wmem;
    size_t wmem_len;
    struct trace_writer *w;
    struct vm_recorder rec;
    char cmdline[512];
    /* flight ring of whole frames: [u32 len][bytes], oldest at head */
    uint8_t *ring;
    size_t ring_cap, ring_head, ring_used;
    uint64_t ring_frames, ring_dropped;
    uint8_t *hdr; /* frame 0 (the Header), kept apart */
    size_t hdr_len;
    bool streaming;      /* frames go to the port (stream mode, or flight after a dump) */
    const char *pending; /* a dump was asked for (why) */
    /* panic detection in the guest console */
    char line[96];
    unsigned line_len;
    bool panic_seen;
    /* time the recorder spends compressing and sending, hidden from the guest */
    struct vmx_vcpu *vcpu;
    bool emitted; /* a frame left the writer during the current call */
    uint64_t hidden;
    /* FPU section */
    bool in_fpu;
    uint64_t fpu_sections;
    uint64_t port_bytes;
    /* transmit queue: frames wait here and leave 16 bytes (one FIFO load)
     * per VM entry while the guest runs; full queue: the recorder waits */
    uint8_t *txq;
    size_t txq_head, txq_used;
    uint64_t txq_full_waits;
} g;

static uint8_t xsave_area[XSAVE_AREA_SIZE] __attribute__((aligned(64)));

enum hvrec_mode hvrec_mode(void)
{
    return g.mode;
}

/* ---- trace port: a 16550 polled, FIFO on, no interrupts ---- */

static void port_init(void)
{
    uint16_t p = g.port;
    uint32_t div = g.baud ? 115200u / g.baud : 1;
    if (!div)
        div = 1;
    outb(p + 1, 0x00);
    outb(p + 3, 0x80);
    outb(p + 0, (uint8_t)div);
    outb(p + 1, (uint8_t)(div >> 8));
    outb(p + 3, 0x03);
    outb(p + 2, 0x07);
    outb(p + 4, 0x03);
}

/* One FIFO load (THRE with FIFOs on: 16 bytes free) from the queue if the
 * transmitter is empty; with wait, waits for it first. */
static void tx_burst(bool wait)
{
    uint16_t p = g.port;
    if (!g.txq_used)
        return;
    if (!(inb(p + 5) & 0x20)) {
        if (!wait)
            return;
        while (!(inb(p + 5) & 0x20))
            cpu_pause();
    }
    size_t k = g.txq_used < 16 ? g.txq_used : 16;
    for (size_t i = 0; i < k; i++)
        outb(p, g.txq[(g.txq_head + i) % TXQ_BYTES]);
    g.txq_head = (g.txq_head + k) % TXQ_BYTES;
    g.txq_used -= k;
    g.port_bytes += k;
}

static void tx_flush(void)
{
    while (g.txq_used)
        tx_burst(true);
}

/* Lossless: queues the bytes; when the queue is full, waits for the line
 * (the guest is held back meanwhile). */
static void port_write(const uint8_t *b, size_t n)
{
    while (n) {
        if (g.txq_used == TXQ_BYTES) {
            g.txq_full_waits++;
            tx_burst(true);
        }
        size_t tail = (g.txq_head + g.txq_used) % TXQ_BYTES;
        size_t k = TXQ_BYTES - g.txq_used;
        if (k > TXQ_BYTES - tail)
            k = TXQ_BYTES - tail;
        if (k > n)
            k = n;
        memcpy(g.txq + tail, b, k);
        g.txq_used += k;
        b += k;
        n -= k;
    }
}

/* ---- flight ring ---- */

static void ring_copy_in(size_t pos, const uint8_t *src, size_t n)
{
    pos %= g.ring_cap;
    size_t first = g.ring_cap - pos < n ? g.ring_cap - pos : n;
    memcpy(g.ring + pos, src, first);
    memcpy(g.ring, src + first, n - first);
}

static void ring_copy_out(size_t pos, uint8_t *dst, size_t n)
{
    pos %= g.ring_cap;
    size_t first = g.ring_cap - pos < n ? g.ring_cap - pos : n;
    memcpy(dst, g.ring + pos, first);
    memcpy(dst + first, g.ring, n - first);
}

static void ring_drop_oldest(void)
{
    uint32_t len;
    ring_copy_out(g.ring_head, (uint8_t *)&len, 4);
    g.ring_head = (g.ring_head + 4 + len) % g.ring_cap;
    g.ring_used -= 4 + (size_t)len;
    g.ring_frames--;
    g.ring_dropped++;
}

static void ring_put(const uint8_t *b, size_t n)
{
    if (4 + n > g.ring_cap) {
        g.ring_dropped++; /* a frame larger than the whole ring */
        return;
    }
    while (g.ring_used + 4 + n > g.ring_cap)
        ring_drop_oldest();
    uint32_t len = (uint32_t)n;
    size_t tail = g.ring_head + g.ring_used;
    ring_copy_in(tail, (const uint8_t *)&len, 4);
    ring_copy_in(tail + 4, b, n);
    g.ring_used += 4 + n;
    g.ring_frames++;
}

static void ring_dump(void)
{
    if (g.hdr_len)
        port_write(g.hdr, g.hdr_len);
    uint8_t chunk[512];
    while (g.ring_frames) {
        uint32_t len;
        ring_copy_out(g.ring_head, (uint8_t *)&len, 4);
        size_t pos = g.ring_head + 4;
        for (size_t off = 0; off < len;) {
            size_t k = len - off < sizeof chunk ? len - off : sizeof chunk;
            ring_copy_out(pos + off, chunk, k);
            port_write(chunk, k);
            off += k;
        }
        g.ring_head = (g.ring_head + 4 + len) % g.ring_cap;
        g.ring_used -= 4 + (size_t)len;
        g.ring_frames--;
    }
}

static void dump_now(const char *why)
{
    hv_log("record: flight ring dump (%s): header + %lu frame(s), %lu older frame(s) dropped", why,
           g.ring_frames, g.ring_dropped);
    ring_dump();
    g.streaming = true;
}

/* The trace writer's output: one whole frame per call. */
static int trace_out(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    g.emitted = true;
    if (g.streaming) {
        port_write(buf, len);
        return 0;
    }
    if (!g.hdr_len) { /* flight: frame 0 is the header, kept for every dump */
        if (len > HDR_FRAME_MAX)
            return -1;
        memcpy(g.hdr, buf, len);
        g.hdr_len = len;
        return 0;
    }
    ring_put(buf, len);
    return 0;
}

/* ---- FPU section ---- */

static void fpu_enter(void)
{
    if (g.in_fpu)
        return;
    /* x87 and SSE only: the libraries hold no AVX/AVX-512 code (make
     * trace-freestanding checks the linked writer for ymm/zmm/k registers),
     * and legacy SSE instructions leave the upper halves alone. */
    __asm__ volatile("xsave64 %0"
                     : "+m"(*(uint8_t(*)[XSAVE_AREA_SIZE])xsave_area)
                     : "a"(FPU_SAVE_MASK), "d"(0));
    uint32_t mxcsr = 0x1f80; /* default: all exceptions masked */
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
    g.in_fpu = true;
    g.fpu_sections++;
}

static void fpu_leave(void)
{
    if (!g.in_fpu)
        return;
    __asm__ volatile("xrstor64 %0"
                     :
                     : "m"(*(uint8_t(*)[XSAVE_AREA_SIZE])xsave_area), "a"(FPU_SAVE_MASK), "d"(0));
    g.in_fpu = false;
}

/* A call that compressed or sent a frame: its whole duration is recorder
 * work the guest would not have waited for without recording. Taking it
 * out of the guest TSC (raising nothing, lowering the offset) keeps the
 * guest's view of time the same with recording on or off; it stays
 * monotonic because all of it elapsed after the exit and after every TSC
 * the devices have seen. */
static uint64_t call_begin(void)
{
    g.emitted = false;
    return rdtsc();
}

static void call_end(uint64_t t0)
{
    if (!g.emitted || !g.vcpu)
        return;
    uint64_t d = rdtsc() - t0;
    g.hidden += d;
    if (g.vcpu->hide_host_time)
        return; /* the entry hides all hypervisor time, this included */
    vmx_set_tsc_offset(g.vcpu, g.vcpu->tsc_offset - d);
}

void hvrec_before_entry(void)
{
    if (g.pending && g.mode == HVREC_FLIGHT && !g.streaming && g.w) {
        fpu_enter();
        uint64_t t0 = call_begin();
        trace_writer_flush(g.w);
        dump_now(g.pending);
        call_end(t0);
    }
    g.pending = NULL;
    fpu_leave();
    tx_burst(false);
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
    g.port = o->record_port;
    g.baud = o->record_baud;
    g.checkpoint_every = o->checkpoint;
    g.level = o->record_level;
    if (g.mode == HVREC_OFF) {
        hv_log("record: off");
        return;
    }

    /* The libraries use SSE: enable it for the host (the guest's own CR0/CR4
     * are separate VMCS fields), give them a heap and the %fs canary. */
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    uint64_t arena = mm_alloc(RT_ARENA_BYTES, 4096);
    if (!arena)
        hv_panic("record: no memory for the library heap");
    struct rt_tcb *tcb =
        rt_init(phys_to_virt(arena), RT_ARENA_BYTES, rdtsc() ^ 0x9e3779b97f4a7c15ull, rt_panic);
    wrmsr(MSR_FS_BASE, (uint64_t)(uintptr_t)tcb); /* vmx.c copies it into HOST_FS_BASE */

    struct cpuid_regs d0 = cpuid(0xd, 0);
    if (d0.ecx > XSAVE_AREA_SIZE)
        hv_panic("record: XSAVE area of %u bytes does not fit", d0.ecx);

    struct trace_writer_config wc = {.level = g.level, .write = trace_out};
    g.wmem_len = trace_writer_mem_size(&wc);
    uint64_t wm = mm_alloc(g.wmem_len, 4096);
    if (!wm)
        hv_panic("record: no memory for the trace writer (%lu bytes)", (uint64_t)g.wmem_len);
    g.wmem = phys_to_virt(wm);
    uint64_t tq = mm_alloc_raw(TXQ_BYTES, 4096);
    if (!tq)
        hv_panic("record: no memory for the transmit queue");
    g.txq = phys_to_virt(tq);
    if (g.mode == HVREC_FLIGHT) {
        g.ring_cap = o->flight_bytes;
        uint64_t rm = mm_alloc_raw(g.ring_cap, 4096);
        uint64_t hm = mm_alloc(HDR_FRAME_MAX, 4096);
        if (!rm || !hm)
            hv_panic("record: no memory for a %lu KiB flight ring", (uint64_t)(g.ring_cap >> 10));
        g.ring = phys_to_virt(rm);
        g.hdr = phys_to_virt(hm);
    }
    port_init();
    hv_log("record: %s to port 0x%x at %u baud, checkpoint every %lu exits, zstd level %d, "
           "writer %lu KiB%s",
           g.mode == HVREC_STREAM ? "stream" : "flight", g.port, g.baud, g.checkpoint_every,
           g.level, (uint64_t)(g.wmem_len >> 10), g.mode == HVREC_FLIGHT ? ", flight ring" : "");
    if (g.mode == HVREC_FLIGHT)
        hv_log("record: flight ring %lu KiB; dump on triple fault, Linux panic or OUT to port 0x%x",
               (uint64_t)(g.ring_cap >> 10), HVREC_MAGIC_PORT);
}

/* ---- per VM ---- */

struct vm_recorder *hvrec_vm_begin(struct vm_devices *d, const struct vm_devices_config *dc,
                                   const struct vm_devices_hooks *hooks, uint64_t ram_bytes,
                                   uint64_t tsc_hz, const char *cmdline, struct vmx_vcpu *vcpu)
{
    if (g.mode == HVREC_OFF)
        return NULL;
    g.vcpu = vcpu;
    g.hidden = 0;
    g.txq_full_waits = 0;
    struct trace_writer_config wc = {.level = g.level, .write = trace_out};
    g.streaming = g.mode == HVREC_STREAM;
    g.hdr_len = 0;
    g.ring_head = g.ring_used = 0;
    g.ring_frames = g.ring_dropped = 0;
    g.pending = NULL;
    g.line_len = 0;
    size_t cl = cmdline ? strlen(cmdline) : 0;
    if (cl >= sizeof g.cmdline)
        cl = sizeof g.cmdline - 1;
    memcpy(g.cmdline, cmdline ? cmdline : "", cl);
    g.cmdline[cl] = 0;
    fpu_enter();
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
                                    .entry_decisions = true};
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
    fpu_enter();
    int rc = vm_rec_finish(r, reason);
    if (g.mode == HVREC_FLIGHT && !g.streaming && (g.pending || reason == TRACE_END_TRIPLE_FAULT))
        dump_now(g.pending ? g.pending : "triple fault");
    g.pending = NULL;
    struct trace_writer_stats st;
    trace_writer_get_stats(g.w, &st);
    fpu_leave();
    tx_flush(); /* the trace is complete on the line before the next VM */
    hv_log("record: %lu exits, %lu records, %lu frames, %lu raw bytes -> %lu bytes, %lu TSC ticks "
           "of recorder work hidden from the guest, transmit queue full %lu times%s%s",
           r->seq, st.records, st.frames, st.raw_bytes, st.out_bytes, g.hidden, g.txq_full_waits,
           rc ? ", error: " : "", rc ? trace_writer_strerror(rc) : "");
    g.w = NULL;
    g.vcpu = NULL;
}

/* ---- wrappers: every device call of the VM layer ---- */

uint32_t hvrec_io(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint16_t port,
                  unsigned size, bool write, uint32_t value)
{
    fpu_enter();
    if (write && port == HVREC_MAGIC_PORT)
        hvrec_trigger("magic port write");
    uint64_t t0 = call_begin();
    uint32_t v = vm_rec_io(r, x, port, size, write, value);
    call_end(t0);
    return v;
}

uint64_t hvrec_mmio(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint64_t gpa,
                    unsigned size, bool write, uint64_t value)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    uint64_t v = vm_rec_mmio(r, x, gpa, size, write, value);
    call_end(t0);
    return v;
}

int hvrec_msr(struct vm_recorder *r, const struct vm_rec_exit_info *x, uint32_t msr, bool write,
              uint64_t *val)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    int rc = vm_rec_msr(r, x, msr, write, val);
    call_end(t0);
    return rc;
}

void hvrec_advance(struct vm_recorder *r, uint64_t tsc)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    vm_rec_advance(r, tsc);
    call_end(t0);
}

uint8_t hvrec_ack(struct vm_recorder *r, uint64_t tsc)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    uint8_t v = vm_rec_ack(r, tsc);
    call_end(t0);
    return v;
}

void hvrec_blocked(struct vm_recorder *r, uint64_t tsc)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    vm_rec_blocked(r, tsc);
    call_end(t0);
}

size_t hvrec_com1_rx(struct vm_recorder *r, const uint8_t *buf, size_t n, uint64_t tsc)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    size_t v = vm_rec_com1_rx(r, buf, n, tsc);
    call_end(t0);
    return v;
}

void hvrec_exit(struct vm_recorder *r, struct trace_exit *e)
{
    fpu_enter();
    uint64_t t0 = call_begin();
    vm_rec_exit(r, e);
    call_end(t0);
}

void hvrec_trigger(const char *why)
{
    if (g.mode == HVREC_FLIGHT && !g.streaming && !g.pending)
        g.pending = why;
}

void hvrec_console_byte(uint8_t c)
{
    if (c == '\n' || g.line_len + 1 >= sizeof g.line) {
        g.line[g.line_len] = 0;
        if (strstr_n(g.line, g.line_len, "Kernel panic - not syncing")) {
            g.panic_seen = true;
            hvrec_trigger("guest kernel panic");
        }
        g.line_len = 0;
    } else if (c != '\r') {
        g.line[g.line_len++] = (char)c;
    }
}

bool hvrec_guest_panicked(void)
{
    return g.panic_seen;
}
