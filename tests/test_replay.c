/* hv/record + host-sim: the recording convention (what each device call
 * writes, in which order), exact TSC -> ns conversion, and the replayer's
 * comparisons: a faithful trace replays clean; a changed IN value, output,
 * vector or checkpoint is reported at its record with device and register;
 * --from/--until; damaged input; deterministic output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host-sim/devinfo.h"
#include "host-sim/replay_testutil.h"
#include "host-sim/scenario.h"
#include "hv/devs/savestate.h"
#include "hv/record/recorder.h"
#include "trace/trace_synth.h"

#define HZ 1000000000ull /* 1 TSC cycle = 1 ns keeps expectations readable */

/* ---- a small recorded run ---- */

struct mini {
    struct vm_recorder rec;
    struct vm_devices dev;
    struct trace_writer *w;
    struct trace_membuf m;
    uint64_t tsc;
    unsigned acks;
};

static uint32_t mio(struct mini *g, uint16_t port, bool write, uint32_t v)
{
    struct vm_rec_exit_info x = {.tsc = g->tsc, .rip = 0x1000 + port, .insn_len = 1};
    g->tsc += 1000;
    return vm_rec_io(&g->rec, &x, port, 1, write, v);
}

/* Checkpoints every `every` exits; PIC + PIT ch0 at 1 kHz-ish, timer
 * interrupts taken and EOIed, a CPUID exit, COM1 RX with its interrupt. */
static void record_mini(struct mini *g, uint64_t every)
{
    memset(g, 0, sizeof *g);
    g->w = rt_writer(&g->m);
    struct vm_recorder_config rc = {
        .w = g->w, .tsc_hz = HZ, .checkpoint_every = every, .cmdline = "mini"};
    struct vm_devices_config dc = {.rtc_epoch_sec = 1767225600ull};
    assert_int_equal(vm_recorder_init(&g->rec, &g->dev, &dc, NULL, &rc), 0);
    const uint8_t init[][2] = {{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
                               {0xa0, 0x11}, {0xa1, 0x28}, {0xa1, 0x02}, {0xa1, 0x01},
                               {0x21, 0xee}, {0xa1, 0xff}};
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++)
        mio(g, init[i][0], true, init[i][1]);
    mio(g, 0x43, true, 0x34);
    mio(g, 0x40, true, 0xa9); /* 1193 -> ~1 ms */
    mio(g, 0x40, true, 0x04);
    mio(g, 0x3f9, true, 0x01); /* RX interrupt */
    mio(g, 0x3fc, true, 0x08); /* OUT2 */
    struct trace_exit cpuid = {
        .tsc = g->tsc, .reason = TRACE_EXIT_CPUID, .detail = TRACE_DETAIL_CPUID};
    cpuid.u.cpuid.eax = 0xd;
    vm_rec_exit(&g->rec, &cpuid);
    for (int step = 0; step < 60; step++) {
        g->tsc += 100000;
        vm_rec_advance(&g->rec, g->tsc);
        if (step == 30)
            vm_rec_com1_rx(&g->rec, (const uint8_t *)"hi", 2, g->tsc);
        while (vm_devices_intr(&g->dev)) {
            uint8_t vec = vm_rec_ack(&g->rec, g->tsc);
            g->acks++;
            if (vec == 0x24) {
                while (mio(g, 0x3fd, false, 0) & 1)
                    mio(g, 0x3f8, false, 0);
            }
            mio(g, 0x21, false, 0);
            mio(g, 0x20, true, 0x60 + (vec & 7));
        }
    }
    assert_int_equal(vm_rec_finish(&g->rec, TRACE_END_STOPPED), 0);
    trace_writer_destroy(g->w);
}

/* ---- time ---- */

static void test_tsc_to_ns_is_exact(void **state)
{
    (void)state;
    const uint64_t hzs[] = {1000000000ull, 3000000000ull, 2599999999ull, 33333333ull,
                            18000000000ull};
    uint64_t x = 88172645463325252ull;
    for (size_t h = 0; h < sizeof hzs / sizeof hzs[0]; h++) {
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* up to ~500 years of guest time at hz: the result fits 64 bits */
            uint64_t tsc = i < 10 ? (uint64_t)i : x % (hzs[h] * 500ull * 365 * 86400 / 1000);
            unsigned __int128 ref = (unsigned __int128)tsc * 1000000000u / hzs[h];
            assert_true(vm_rec_tsc_to_ns(tsc, hzs[h]) == (uint64_t)ref);
        }
    }
    assert_true(vm_rec_tsc_to_ns(2999999999ull, 3000000000ull) == 999999999ull);
    assert_true(vm_rec_tsc_to_ns(3000000000ull, 3000000000ull) == 1000000000ull);
}

/* ---- the recording convention ---- */

struct seen {
    uint64_t exits, irq, intr, inject, rx, ckpt, headers, ends;
    uint64_t last_seq;
    bool seq_ok, start_ok, order_ok, in_ok;
    uint64_t pending_outputs_tsc; /* tsc of outputs not yet followed by their call */
    bool pending;
    struct vm_devices shadow;
};

static int see(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct seen *s = ctx;
    (void)rec;
    switch (it->type) {
    case TRACE_ITEM_HEADER:
        s->headers++;
        s->start_ok = it->u.header.has_start && it->u.header.start.devices_len > 0 &&
                      it->u.header.tsc_hz == HZ && it->u.header.ndevices >= 8 &&
                      vm_devices_restore(&s->shadow, it->u.header.start.devices,
                                         it->u.header.start.devices_len) == 0;
        break;
    case TRACE_ITEM_EXIT:
        if (s->exits && it->u.exit.seq != s->last_seq + 1)
            s->seq_ok = false;
        s->last_seq = it->u.exit.seq;
        s->exits++;
        /* outputs are stamped with the TSC of the call that caused them and
         * come before the record of that call (or of a later one) */
        if (s->pending && it->u.exit.detail == TRACE_DETAIL_IO &&
            s->pending_outputs_tsc > it->u.exit.tsc)
            s->order_ok = false;
        if (it->u.exit.detail == TRACE_DETAIL_IO)
            s->pending = false;
        if (it->u.exit.detail == TRACE_DETAIL_IO && !it->u.exit.u.io.write &&
            it->u.exit.u.io.value > 0xff)
            s->in_ok = false;
        break;
    case TRACE_ITEM_DEV:
        switch (it->u.dev.kind) {
        case TRACE_DEV_IRQ_LINE: s->irq++; break;
        case TRACE_DEV_INTR: s->intr++; break;
        case TRACE_DEV_INJECT:
            s->inject++;
            s->pending = false;
            break;
        case TRACE_DEV_UART_RX:
            s->rx++;
            s->pending = false;
            break;
        default: break;
        }
        if (it->u.dev.kind == TRACE_DEV_IRQ_LINE || it->u.dev.kind == TRACE_DEV_INTR) {
            s->pending = true;
            s->pending_outputs_tsc = it->u.dev.tsc;
        }
        break;
    case TRACE_ITEM_CHECKPOINT: s->ckpt++; break;
    case TRACE_ITEM_END: s->ends++; break;
    default: break;
    }
    return 0;
}

static void test_recorder_writes_every_call_in_order(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 8);
    struct seen s = {.seq_ok = true, .order_ok = true, .in_ok = true};
    vm_devices_init(&s.shadow, NULL, NULL, 0);
    rt_scan(&g.m, see, &s);
    assert_int_equal(s.headers, 1);
    assert_true(s.start_ok);
    assert_int_equal(s.ends, 1);
    assert_true(s.seq_ok);
    assert_true(s.order_ok);
    assert_true(s.in_ok);
    assert_int_equal(s.exits, g.rec.seq);
    assert_int_equal(s.inject, g.acks);
    assert_true(s.inject >= 5); /* ~6 ms of 1 kHz ticks plus the RX interrupt */
    assert_int_equal(s.rx, 1);
    assert_true(s.irq >= 2 * 5); /* IRQ0 rises and falls every period */
    assert_true(s.intr >= 2 * 5);
    assert_int_equal(s.ckpt, (s.exits - 1) / 8);
    trace_membuf_free(&g.m);
}

struct first_io {
    uint16_t port;
    bool write;
    uint64_t rec, seq;
    uint32_t value;
    bool found;
};

static int find_io(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct first_io *f = ctx;
    if (it->type == TRACE_ITEM_EXIT && it->u.exit.detail == TRACE_DETAIL_IO &&
        it->u.exit.u.io.port == f->port && it->u.exit.u.io.write == f->write) {
        f->rec = rec;
        f->seq = it->u.exit.seq;
        f->value = it->u.exit.u.io.value;
        f->found = true;
        return 1;
    }
    return 0;
}

static void test_recorded_in_value_is_what_the_device_returned(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 0);
    struct first_io f = {.port = 0x21};
    rt_scan(&g.m, find_io, &f);
    assert_true(f.found);
    assert_int_equal(f.value, 0xee); /* the IMR the guest wrote, read back */
    trace_membuf_free(&g.m);
}

/* ---- replay: clean ---- */

static void test_faithful_trace_replays_clean(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 8);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&g.m, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.exits, g.rec.seq);
    assert_int_equal(st.injects, g.acks);
    assert_true(st.in_checked > 10);
    assert_true(st.outputs >= 20);
    assert_true(st.checkpoints >= 3);
    assert_int_equal(st.rx, 1);
    assert_int_equal(st.not_checked, 1); /* the CPUID answer */
    assert_true(st.end_seen);
    assert_non_null(strstr(text, "result: 0 divergences"));
    free(text);
    trace_membuf_free(&g.m);
}

/* ---- replay: every kind of divergence ---- */

struct mut {
    uint64_t rec; /* record to change */
    int what;     /* 0 IN value, 1 drop, 2 inject vector, 3 checkpoint byte */
    size_t byte;
    uint8_t blob[VM_DEVICES_SAVE_MAX];
};

static int mutate(void *ctx, uint64_t rec, struct trace_item *it)
{
    struct mut *m = ctx;
    if (rec != m->rec)
        return 0;
    switch (m->what) {
    case 0: it->u.exit.u.io.value ^= 0x01; return 0;
    case 1: return 1;
    case 2: it->u.dev.u.inject.vector ^= 0x01; return 0;
    default:
        memcpy(m->blob, it->u.checkpoint.devices, it->u.checkpoint.devices_len);
        m->blob[m->byte] ^= 0x40;
        it->u.checkpoint.devices = m->blob;
        return 0;
    }
}

static void test_changed_in_value_reported_at_its_record(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 0);
    struct first_io f = {.port = 0x3fd};
    rt_scan(&g.m, find_io, &f);
    assert_true(f.found);
    struct mut mu = {.rec = f.rec, .what = 0};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&g.m, &bad, mutate, &mu), 0);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_record, f.rec);
    assert_int_equal(st.first_seq, f.seq);
    assert_non_null(strstr(text, "register uart LSR (0x3fd)"));
    assert_non_null(strstr(text, "device   com1"));
    assert_non_null(strstr(text, "IO_INSTRUCTION") ? strstr(text, "IO_INSTRUCTION")
                                                   : strstr(text, " IO "));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&g.m);
}

struct find_dev {
    enum trace_dev_kind kind;
    unsigned skip;
    uint64_t rec;
    bool found;
};

static int find_devev(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct find_dev *f = ctx;
    if (it->type == TRACE_ITEM_DEV && it->u.dev.kind == f->kind && f->skip-- == 0) {
        f->rec = rec;
        f->found = true;
        return 1;
    }
    return 0;
}

struct next_call {
    uint64_t from, rec;
};

static int find_next_call(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct next_call *n = ctx;
    if (rec < n->from)
        return 0;
    if (it->type == TRACE_ITEM_DEV &&
        (it->u.dev.kind == TRACE_DEV_IRQ_LINE || it->u.dev.kind == TRACE_DEV_INTR ||
         it->u.dev.kind == TRACE_DEV_REQUEST))
        return 0;
    n->rec = rec;
    return 1;
}

static void test_missing_output_reported(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 0);
    struct find_dev f = {.kind = TRACE_DEV_IRQ_LINE, .skip = 2};
    rt_scan(&g.m, find_devev, &f);
    assert_true(f.found);
    struct mut mu = {.rec = f.rec, .what = 1};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&g.m, &bad, mutate, &mu), 0);
    struct replay_opts o = {.stop_at_first = true};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1); /* --stop-at-first: one report */
    /* the model raised the line the trace no longer mentions; outputs are
     * matched when the replay advances time to them, i.e. at the first
     * record after them that is not an output */
    struct next_call nc = {.from = f.rec};
    rt_scan(&bad, find_next_call, &nc);
    assert_int_equal(st.first_record, nc.rec);
    assert_non_null(strstr(text, "expected pic INTR -> high"));
    assert_non_null(strstr(text, "actual   IRQ0 (pit) -> high"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&g.m);
}

static void test_changed_vector_reported(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 0);
    struct find_dev f = {.kind = TRACE_DEV_INJECT, .skip = 1};
    rt_scan(&g.m, find_devev, &f);
    assert_true(f.found);
    struct mut mu = {.rec = f.rec, .what = 2};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&g.m, &bad, mutate, &mu), 0);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_record, f.rec);
    assert_non_null(strstr(text, "register INTA vector"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&g.m);
}

struct find_ckpt {
    uint64_t rec;
    size_t pit_byte;
    bool found;
};

static int find_checkpoint(void *ctx, uint64_t rec, const struct trace_item *it)
{
    struct find_ckpt *f = ctx;
    if (it->type != TRACE_ITEM_CHECKPOINT)
        return 0;
    struct devinfo_section sec[DEVINFO_MAX_SECTIONS];
    int n = devinfo_sections(it->u.checkpoint.devices, it->u.checkpoint.devices_len, sec,
                             DEVINFO_MAX_SECTIONS);
    for (int i = 0; i < n; i++)
        if (sec[i].tag == SV_TAG('P', 'I', 'T', '4'))
            f->pit_byte = sec[i].off + sec[i].len - 1; /* inside the PIT's payload */
    f->rec = rec;
    f->found = n > 0 && f->pit_byte;
    return 1;
}

static void test_checkpoint_difference_names_the_device(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 16);
    struct find_ckpt f = {0};
    rt_scan(&g.m, find_checkpoint, &f);
    assert_true(f.found);
    struct mut mu = {.rec = f.rec, .what = 3, .byte = f.pit_byte};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&g.m, &bad, mutate, &mu), 0);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    /* one report; the replayer resynchronises on the recorded state, so
     * the run goes on (the PIT then follows the changed state: later
     * reports may follow, but the first is the checkpoint) */
    assert_true(st.divergences >= 1);
    assert_int_equal(st.first_record, f.rec);
    /* named field by field: the last payload byte is channel 2's load_clk */
    assert_non_null(strstr(text, "\n  field    pit.ch[2].load_clk expected "));
    assert_null(strstr(text, "  field    pit.ch[0]"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&g.m);
}

static void test_from_and_until(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 8);
    struct first_io f = {.port = 0x3fd};
    rt_scan(&g.m, find_io, &f);
    struct mut mu = {.rec = f.rec, .what = 0};
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&g.m, &bad, mutate, &mu), 0);
    struct replay_stats st;
    /* --until before the changed exit: nothing to see */
    struct replay_opts o = {.until = f.seq - 1, .has_until = true};
    assert_int_equal(rt_replay(&bad, &o, &st, NULL), 0);
    assert_int_equal(st.divergences, 0);
    assert_int_equal(st.exits, f.seq);
    /* --from after it: not compared either */
    struct replay_opts o2 = {.from = f.seq + 1};
    assert_int_equal(rt_replay(&bad, &o2, &st, NULL), 0);
    assert_int_equal(st.divergences, 0);
    assert_true(f.seq > 16);
    assert_int_equal(st.restored, f.seq / 8); /* checkpoints before --from */
    /* a window holding it: found */
    struct replay_opts o3 = {.from = f.seq, .until = f.seq, .has_until = true};
    assert_int_equal(rt_replay(&bad, &o3, &st, NULL), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_seq, f.seq);
    trace_membuf_free(&bad);
    trace_membuf_free(&g.m);
}

static void test_damaged_trace_resynchronises(void **state)
{
    (void)state;
    struct trace_writer *w;
    struct trace_membuf m;
    w = rt_writer(&m);
    /* small frames so that damage costs a few frames, not the whole run */
    trace_writer_destroy(w);
    struct trace_writer_config cfg = {.level = 1,
                                      .frame_bytes = TRACE_MIN_FRAME_BYTES,
                                      .write = trace_write_membuf,
                                      .write_ctx = &m,
                                      .alloc = &trace_libc_allocator};
    memset(&m, 0, sizeof m);
    w = trace_writer_init(&cfg, NULL, 0);
    const struct scenario_config sc = {
        .name = "t", .log_lines = 4, .idle_ms = 2, .checkpoint_every = 512, .seed = 9};
    assert_int_equal(scenario_run(&sc, w), 0);
    trace_writer_destroy(w);
    memset(m.data + m.len / 2, 0xa5, 64);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&m, &o, &st, &text), 0);
    assert_true(st.damage >= 1);
    assert_int_equal(st.divergences, 0);
    assert_true(st.checkpoints >= 1);
    assert_non_null(strstr(text, "damage:"));
    free(text);
    trace_membuf_free(&m);
}

/* A start state these models cannot restore (another layout): not a
 * divergence, the trace cannot be replayed at all. */
static int break_start(void *ctx, uint64_t rec, struct trace_item *it)
{
    uint8_t *blob = ctx;
    (void)rec;
    if (it->type == TRACE_ITEM_HEADER) {
        memcpy(blob, it->u.header.start.devices, it->u.header.start.devices_len);
        blob[4] ^= 0x7f; /* the VM section's version */
        it->u.header.start.devices = blob;
    }
    return 0;
}

static void test_unrestorable_start_is_not_replayable(void **state)
{
    (void)state;
    struct mini g;
    record_mini(&g, 0);
    static uint8_t blob[VM_DEVICES_SAVE_MAX];
    struct trace_membuf bad;
    assert_int_equal(rt_rewrite(&g.m, &bad, break_start, blob), 0);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), -1);
    assert_null(strstr(text, "DIVERGENCE"));
    assert_non_null(strstr(text, "does not restore"));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&g.m);
}

static void test_garbage_is_not_a_trace(void **state)
{
    (void)state;
    struct trace_membuf m = {0};
    unsigned char junk[3000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    trace_write_membuf(&m, junk, sizeof junk);
    struct replay_opts o = {0};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&m, &o, &st, &text), -1);
    free(text);
    trace_membuf_free(&m);
}

/* A trace not recorded through hv/record (the synthetic generator's): its
 * fake start state does not restore, so it cannot be replayed; given a real
 * power-on start state instead, the models disagree with it, and the replay
 * reports that, bounded, deterministic, and survives. */
static int power_on_start(void *ctx, uint64_t rec, struct trace_item *it)
{
    (void)rec;
    if (it->type == TRACE_ITEM_HEADER) {
        static struct vm_devices d;
        vm_devices_init(&d, NULL, NULL, 0);
        size_t n = vm_devices_save(&d, ctx, VM_DEVICES_SAVE_MAX);
        it->u.header.start.devices = ctx;
        it->u.header.start.devices_len = n;
    }
    return 0;
}

static void test_foreign_trace_diverges_without_harm(void **state)
{
    (void)state;
    struct trace_membuf m;
    struct trace_writer *w = rt_writer(&m);
    struct trace_synth_config sc = {.seed = 5, .exits = 20000, .checkpoint_every = 4096};
    assert_int_equal(trace_synth_write(w, &sc), 0);
    trace_writer_destroy(w);
    struct replay_opts o = {.max_reports = 3};
    struct replay_stats st;
    char *t1, *t2;
    assert_int_equal(rt_replay(&m, &o, &st, &t1), -1);
    assert_non_null(strstr(t1, "does not restore"));
    free(t1);

    static uint8_t blob[VM_DEVICES_SAVE_MAX];
    struct trace_membuf m2;
    assert_int_equal(rt_rewrite(&m, &m2, power_on_start, blob), 0);
    assert_int_equal(rt_replay(&m2, &o, &st, &t1), 0);
    assert_true(st.divergences > 3);
    assert_int_equal(st.exits, 20000);
    assert_non_null(strstr(t1, "more divergences not shown"));
    assert_int_equal(rt_replay(&m2, &o, &st, &t2), 0);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    trace_membuf_free(&m2);
    trace_membuf_free(&m);
}

/* ---- determinism, scenario ---- */

static void test_scenario_and_replay_are_deterministic(void **state)
{
    (void)state;
    const struct scenario_config *sc = scenario_find("linux-boot-quiet");
    assert_non_null(sc);
    struct trace_membuf a, b;
    struct trace_writer *w = rt_writer(&a);
    assert_int_equal(scenario_run(sc, w), 0);
    trace_writer_destroy(w);
    w = rt_writer(&b);
    assert_int_equal(scenario_run(sc, w), 0);
    trace_writer_destroy(w);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    struct replay_opts o = {0};
    struct replay_stats s1, s2;
    char *t1, *t2;
    assert_int_equal(rt_replay(&a, &o, &s1, &t1), 0);
    assert_int_equal(rt_replay(&a, &o, &s2, &t2), 0);
    assert_int_equal(s1.divergences, 0);
    assert_true(s1.exits > 5000);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    trace_membuf_free(&a);
    trace_membuf_free(&b);
}

/* ---- names in reports ---- */

static void test_port_and_register_names(void **state)
{
    (void)state;
    static struct vm_devices d;
    vm_devices_init(&d, NULL, NULL, 0);
    char b[96];
    devinfo_port(&d, 0x42, false, b, sizeof b);
    assert_string_equal(b, "pit ch2 count (0x42)");
    devinfo_port(&d, 0x3fd, false, b, sizeof b);
    assert_string_equal(b, "uart LSR (0x3fd)");
    devinfo_port(&d, 0x3f8, true, b, sizeof b);
    assert_string_equal(b, "uart THR (0x3f8)");
    d.com1.lcr = 0x80;
    devinfo_port(&d, 0x3f8, true, b, sizeof b);
    assert_string_equal(b, "uart DLL (0x3f8)");
    d.cmos.index = 0x8a;
    devinfo_port(&d, 0x71, false, b, sizeof b);
    assert_string_equal(b, "cmos reg 0x0a (0x71)");
    assert_string_equal(devinfo_port_device(&d, 0x21), "pic-master");
    assert_string_equal(devinfo_port_device(&d, 0x1234), "unmapped");
    assert_string_equal(devinfo_irq_device(&d, 4), "com1");
    assert_string_equal(devinfo_irq_device(&d, 0), "pit");
}

static void test_state_diff_finds_the_section(void **state)
{
    (void)state;
    static struct vm_devices d;
    vm_devices_init(&d, NULL, NULL, 0);
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    size_t na = vm_devices_save(&d, a, sizeof a);
    uint32_t v = 0x11;
    vm_devices_io(&d, 0x20, 1, true, &v, 0); /* ICW1 on the PIC */
    size_t nb = vm_devices_save(&d, b, sizeof b);
    char txt[256];
    assert_int_equal(devinfo_diff(a, na, a, na, txt, sizeof txt), 0);
    assert_string_equal(txt, "none");
    assert_int_equal(devinfo_diff(a, na, b, nb, txt, sizeof txt), 1);
    assert_non_null(strstr(txt, "pic (byte"));
    assert_int_equal(devinfo_diff(a, 5, b, nb, txt, sizeof txt), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsc_to_ns_is_exact),
        cmocka_unit_test(test_recorder_writes_every_call_in_order),
        cmocka_unit_test(test_recorded_in_value_is_what_the_device_returned),
        cmocka_unit_test(test_faithful_trace_replays_clean),
        cmocka_unit_test(test_changed_in_value_reported_at_its_record),
        cmocka_unit_test(test_missing_output_reported),
        cmocka_unit_test(test_changed_vector_reported),
        cmocka_unit_test(test_checkpoint_difference_names_the_device),
        cmocka_unit_test(test_from_and_until),
        cmocka_unit_test(test_damaged_trace_resynchronises),
        cmocka_unit_test(test_unrestorable_start_is_not_replayable),
        cmocka_unit_test(test_garbage_is_not_a_trace),
        cmocka_unit_test(test_foreign_trace_diverges_without_harm),
        cmocka_unit_test(test_scenario_and_replay_are_deterministic),
        cmocka_unit_test(test_port_and_register_names),
        cmocka_unit_test(test_state_diff_finds_the_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
