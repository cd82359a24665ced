/* hv/record: the recorder as the hypervisor will use it — caller memory
 * only, the header (VM config, device list, start state), the checkpoint
 * cadence, one record per device call with the answer the device gave,
 * the caller's hooks still called, and writer errors reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host-sim/replay_testutil.h"
#include "hv/record/recorder.h"

#define HZ 2000000000ull

static _Alignas(8) uint8_t wmem[8u << 20];

struct out {
    struct trace_membuf m;
    int fail_after; /* >0: the write callback fails from this call on */
    int calls;
};

static int out_write(void *ctx, const void *p, size_t n)
{
    struct out *o = ctx;
    if (o->fail_after && ++o->calls >= o->fail_after)
        return -1;
    return trace_write_membuf(&o->m, p, n);
}

/* A writer in caller memory (no allocator): what the hypervisor does. */
static struct trace_writer *writer(struct out *o)
{
    struct trace_writer_config cfg = {.level = 1, .write = out_write, .write_ctx = o};
    size_t need = trace_writer_mem_size(&cfg);
    assert_true(need <= sizeof wmem);
    return trace_writer_init(&cfg, wmem, need);
}

struct hooks_seen {
    unsigned tx, requests;
    uint8_t last_tx;
};
static void user_tx(void *ctx, uint8_t b)
{
    struct hooks_seen *h = ctx;
    h->tx++;
    h->last_tx = b;
}
static void user_request(void *ctx, enum dev_request what)
{
    struct hooks_seen *h = ctx;
    (void)what;
    h->requests++;
}

static struct vm_recorder rec;
static struct vm_devices dev;

static void start(struct out *o, uint64_t every, struct hooks_seen *hs)
{
    memset(o, 0, sizeof *o);
    struct trace_writer *w = writer(o);
    assert_non_null(w);
    struct vm_recorder_config rc = {.w = w,
                                    .tsc_hz = HZ,
                                    .ram_bytes = 96ull << 20,
                                    .hv_build_id = "test",
                                    .cmdline = "console=ttyS0",
                                    .checkpoint_every = every,
                                    .start_tsc = 1000};
    struct vm_devices_config dc = {.rtc_epoch_sec = 1767225600ull, .com1_irq = 3};
    struct vm_devices_hooks uh = {.com1_tx = user_tx, .request = user_request, .ctx = hs};
    assert_int_equal(vm_recorder_init(&rec, &dev, &dc, &uh, &rc), 0);
}

static uint32_t io(uint64_t tsc, uint16_t port, bool write, uint32_t v)
{
    struct vm_rec_exit_info x = {.tsc = tsc, .rip = 0xfff0, .insn_len = 1, .qual = port << 16};
    return vm_rec_io(&rec, &x, port, 1, write, v);
}

struct collect {
    struct trace_header h;
    char names[16][16];
    int dev_irq[16];
    size_t ndev;
    uint64_t ckpt_seq[64];
    unsigned nckpt;
    struct trace_item items[256];
    unsigned n;
};

static int collect(void *ctx, uint64_t rec_no, const struct trace_item *it)
{
    struct collect *c = ctx;
    (void)rec_no;
    if (it->type == TRACE_ITEM_HEADER) {
        c->h = it->u.header;
        c->ndev = it->u.header.ndevices;
        for (size_t i = 0; i < c->ndev && i < 16; i++) {
            snprintf(c->names[i], sizeof c->names[i], "%s", it->u.header.devices[i].name);
            c->dev_irq[i] = it->u.header.devices[i].irq;
        }
    }
    if (it->type == TRACE_ITEM_CHECKPOINT && c->nckpt < 64)
        c->ckpt_seq[c->nckpt++] = it->u.checkpoint.seq;
    if (c->n < 256) {
        c->items[c->n] = *it;
        if (it->type == TRACE_ITEM_DEV && it->u.dev.kind == TRACE_DEV_UART_RX)
            c->items[c->n].u.dev.u.uart_rx.data = NULL; /* only valid in the call */
        c->n++;
    }
    return 0;
}

static int irq_of(const struct collect *c, const char *name)
{
    for (size_t i = 0; i < c->ndev; i++)
        if (!strcmp(c->names[i], name))
            return c->dev_irq[i];
    return -100;
}

static void test_header_carries_config_devices_and_start_state(void **state)
{
    (void)state;
    struct out o;
    struct hooks_seen hs = {0};
    start(&o, 0, &hs);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    static struct collect c;
    memset(&c, 0, sizeof c);
    rt_scan(&o.m, collect, &c);
    assert_true(c.h.tsc_hz == HZ);
    assert_true(c.h.ram_bytes == 96ull << 20);
    assert_int_equal(c.h.vcpus, 1);
    assert_true(c.h.has_start);
    assert_int_equal(c.h.start.devices_version, VM_DEVICES_STATE_VERSION);
    assert_true(c.h.start.time_ns == vm_rec_tsc_to_ns(1000, HZ));
    assert_int_equal(c.ndev, dev.bus.n);
    assert_int_equal(irq_of(&c, "pit"), 0);
    assert_int_equal(irq_of(&c, "com1"), 3); /* from the config */
    assert_int_equal(irq_of(&c, "cmos"), 8);
    assert_int_equal(irq_of(&c, "kbc-data"), 1);
    assert_int_equal(irq_of(&c, "pic-master"), -1);
    trace_membuf_free(&o.m);
}

static void test_checkpoint_every_n_exits_before_the_exit(void **state)
{
    (void)state;
    struct out o;
    struct hooks_seen hs = {0};
    start(&o, 5, &hs);
    for (unsigned i = 0; i < 23; i++)
        io(2000 + i * 100, 0x80, true, i);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    static struct collect c;
    memset(&c, 0, sizeof c);
    rt_scan(&o.m, collect, &c);
    assert_int_equal(c.nckpt, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(c.ckpt_seq[i], 5 * (i + 1));
    /* the checkpoint record sits right before exit 5 */
    for (unsigned i = 0; i + 1 < c.n; i++)
        if (c.items[i].type == TRACE_ITEM_CHECKPOINT && c.items[i].u.checkpoint.seq == 5) {
            assert_int_equal(c.items[i + 1].type, TRACE_ITEM_EXIT);
            assert_int_equal(c.items[i + 1].u.exit.seq, 5);
            /* state after exit 4, at that call's TSC */
            assert_true(c.items[i].u.checkpoint.tsc == 2000 + 4 * 100);
        }
    trace_membuf_free(&o.m);
}

static void test_each_call_one_record_with_the_devices_answer(void **state)
{
    (void)state;
    struct out o;
    struct hooks_seen hs = {0};
    start(&o, 0, &hs);
    /* PIC: ICW1-4, unmask IRQ3 (COM1 here) */
    io(2000, 0x20, true, 0x11);
    io(2100, 0x21, true, 0x08);
    io(2200, 0x21, true, 0x04);
    io(2300, 0x21, true, 0x01);
    io(2400, 0x21, true, 0xf7);
    io(2500, 0x3f9, true, 0x01); /* IER: RX data */
    io(2600, 0x3fc, true, 0x08); /* MCR: OUT2 */
    assert_int_equal(io(2700, 0x3fd, false, 0) & 1, 0);
    size_t got = vm_rec_com1_rx(&rec, (const uint8_t *)"A", 1, 3000);
    assert_int_equal(got, 1);
    assert_true(vm_devices_intr(&dev));
    uint8_t vec = vm_rec_ack(&rec, 3100);
    assert_int_equal(vec, 0x0b);
    assert_int_equal(io(3200, 0x3f8, false, 0), 'A');
    io(3300, 0x3f8, true, 'z'); /* console output reaches the caller's hook */
    io(3400, 0x64, true, 0xfe); /* reset pulse: request hook */
    assert_int_equal(hs.tx, 1);
    assert_int_equal(hs.last_tx, 'z');
    assert_int_equal(hs.requests, 1);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_RESET), 0);

    static struct collect c;
    memset(&c, 0, sizeof c);
    rt_scan(&o.m, collect, &c);
    /* the sequence after the header, by kind */
    char seq[64] = "";
    size_t k = 0;
    for (unsigned i = 1; i < c.n && k + 1 < sizeof seq; i++) {
        const struct trace_item *it = &c.items[i];
        char ch = '?';
        if (it->type == TRACE_ITEM_EXIT)
            ch = 'E';
        else if (it->type == TRACE_ITEM_END)
            ch = '.';
        else if (it->type == TRACE_ITEM_DEV)
            ch = "?LJRTIQ"[it->u.dev.kind]; /* irq Line, inJect, Rx, Timer, Intr, reQuest */
        seq[k++] = ch;
    }
    seq[k] = 0;
    /* 8 exits; the RX raises IRQ3 and INTR before its UartRx record; the
     * ack drops INTR before its Inject; the RBR read lowers IRQ3 before its
     * exit; the reset request precedes the 0x64 exit. */
    assert_string_equal(seq, "EEEEEEEELIRIJLEEQE.");
    const struct trace_item *rx = &c.items[11];
    assert_int_equal(rx->u.dev.kind, TRACE_DEV_UART_RX);
    assert_int_equal(rx->u.dev.u.uart_rx.len, 1);
    assert_int_equal(rx->u.dev.u.uart_rx.port, 0x3f8);
    assert_true(c.items[9].u.dev.tsc == 3000); /* outputs carry the call's TSC */
    assert_int_equal(c.items[9].u.dev.u.irq.irq, 3);
    const struct trace_item *in = &c.items[15];
    assert_int_equal(in->type, TRACE_ITEM_EXIT);
    assert_int_equal(in->u.exit.u.io.value, 'A');
    assert_int_equal(in->u.exit.reason, TRACE_EXIT_IO_INSTRUCTION);
    assert_true(in->u.exit.qual == 0x3f8u << 16);
    assert_int_equal(c.items[13].u.dev.u.inject.vector, 0x0b);
    trace_membuf_free(&o.m);
}

static void test_other_exits_leave_the_devices_alone(void **state)
{
    (void)state;
    struct out o;
    struct hooks_seen hs = {0};
    start(&o, 0, &hs);
    static uint8_t before[VM_DEVICES_SAVE_MAX], after[VM_DEVICES_SAVE_MAX];
    size_t n1 = vm_devices_save(&dev, before, sizeof before);
    struct trace_exit e = {
        .tsc = 5000000000ull, .reason = TRACE_EXIT_CPUID, .detail = TRACE_DETAIL_CPUID, .seq = 99};
    assert_int_equal(vm_rec_exit(&rec, &e), 0);
    assert_int_equal(e.seq, 0); /* the recorder numbers exits */
    size_t n2 = vm_devices_save(&dev, after, sizeof after);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    assert_int_equal(rec.seq, 1);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    trace_membuf_free(&o.m);
}

static void test_writer_failure_is_reported(void **state)
{
    (void)state;
    struct out o;
    struct hooks_seen hs = {0};
    start(&o, 2, &hs);
    o.fail_after = 1; /* every later frame write fails */
    for (unsigned i = 0; i < 10; i++)
        io(2000 + i, 0x80, true, i); /* checkpoints flush frames */
    assert_int_not_equal(rec.err, 0);
    assert_int_not_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    trace_membuf_free(&o.m);
}

static void test_bad_config_refused(void **state)
{
    (void)state;
    struct out o;
    memset(&o, 0, sizeof o);
    struct trace_writer *w = writer(&o);
    struct vm_recorder_config rc = {.w = w, .tsc_hz = 0};
    assert_int_not_equal(vm_recorder_init(&rec, &dev, NULL, NULL, &rc), 0);
    rc.tsc_hz = HZ;
    rc.w = NULL;
    assert_int_not_equal(vm_recorder_init(&rec, &dev, NULL, NULL, &rc), 0);
    trace_membuf_free(&o.m);
}

/* Recording off: a recorder with a null sink. The same calls reach the
 * devices in the same order, with the same answers and the caller's hooks,
 * and nothing is written: the state ends byte-identical to a recorded run's. */
static void test_null_sink_same_devices_nothing_written(void **state)
{
    (void)state;
    static const struct {
        uint16_t port;
        bool write;
        uint8_t v;
    } seq[] = {{0x3fb, true, 0x03}, {0x3f8, true, 'h'}, {0x3fd, false, 0},
               {0x43, true, 0x34},  {0x40, true, 0x10}, {0x40, true, 0x00},
               {0x61, false, 0},    {0x64, true, 0xfe}, {0x71, false, 0}};
    struct out o;
    struct hooks_seen hr = {0}, hn = {0};
    start(&o, 2, &hr);
    uint32_t want[9];
    for (unsigned i = 0; i < 9; i++)
        want[i] = io(2000 + 500 * i, seq[i].port, seq[i].write, seq[i].v);
    vm_rec_advance(&rec, 9000);
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    vm_devices_sync(&dev);
    size_t na = vm_devices_save(&dev, a, sizeof a);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    trace_membuf_free(&o.m);

    struct vm_recorder_config off = {.off = true, .tsc_hz = HZ, .start_tsc = 1000};
    struct vm_devices_config dc = {.rtc_epoch_sec = 1767225600ull, .com1_irq = 3};
    struct vm_devices_hooks uh = {.com1_tx = user_tx, .request = user_request, .ctx = &hn};
    assert_int_equal(vm_recorder_init(&rec, &dev, &dc, &uh, &off), 0);
    for (unsigned i = 0; i < 9; i++)
        assert_int_equal(io(2000 + 500 * i, seq[i].port, seq[i].write, seq[i].v), want[i]);
    vm_rec_advance(&rec, 9000);
    vm_devices_sync(&dev);
    size_t nb = vm_devices_save(&dev, b, sizeof b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_int_equal(hn.tx, hr.tx);
    assert_int_equal(hn.requests, 1); /* 8042 0xfe: reset */
    assert_int_equal(rec.seq, 9);
    assert_int_equal(rec.outputs, 0);
    assert_int_equal(rec.err, 0);
    assert_int_equal(vm_rec_finish(&rec, TRACE_END_STOPPED), 0);
    /* off with a writer is a contradiction */
    start(&o, 0, &hr);
    off.w = rec.w;
    assert_int_not_equal(vm_recorder_init(&rec, &dev, NULL, NULL, &off), 0);
    trace_membuf_free(&o.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_carries_config_devices_and_start_state),
        cmocka_unit_test(test_checkpoint_every_n_exits_before_the_exit),
        cmocka_unit_test(test_each_call_one_record_with_the_devices_answer),
        cmocka_unit_test(test_other_exits_leave_the_devices_alone),
        cmocka_unit_test(test_writer_failure_is_reported),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test(test_null_sink_same_devices_nothing_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
