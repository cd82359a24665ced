/* Minimal i8042: the command sequences Linux 6.1's i8042/atkbd/psmouse and
 * reboot code send, IRQ1/IRQ12 edges, reset requests, save/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/kbc8042.h"
#include "hv/devs/vm_devices.h"

struct fx {
    struct kbc8042 k;
    bool level[16];
    unsigned calls[16]; /* sink calls per line */
    unsigned resets, other;
};

static void on_irq(void *ctx, unsigned line, bool level)
{
    struct fx *f = ctx;
    assert_true(line < 16);
    assert_true(f->level[line] != level); /* only real level changes */
    f->level[line] = level;
    f->calls[line]++;
}

static void on_req(void *ctx, enum dev_request what)
{
    struct fx *f = ctx;
    if (what == DEV_REQ_RESET)
        f->resets++;
    else
        f->other++;
}

static void fx_init(struct fx *f)
{
    memset(f, 0x77, sizeof *f);
    memset(f->level, 0, sizeof f->level);
    memset(f->calls, 0, sizeof f->calls);
    f->resets = f->other = 0;
    const struct irq_sink irq = {on_irq, f};
    const struct dev_request_sink req = {on_req, f};
    kbc_init(&f->k, &irq, &req);
}

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
    uint32_t x = v;
    assert_int_equal(kbc_io(&f->k, port, 1, true, &x, 0), DEV_IO_OK);
}

static uint8_t inb(struct fx *f, uint16_t port)
{
    uint32_t x = 0xdeadbeef;
    assert_int_equal(kbc_io(&f->k, port, 1, false, &x, 0), DEV_IO_OK);
    assert_true(x <= 0xff);
    return (uint8_t)x;
}

/* Linux's __i8042_command(): command to 0x64, parameters to 0x60 (each after
 * i8042_wait_write: IBF clear), then results (each after i8042_wait_read:
 * OBF set within 10000 polls). nparam/nresult are the 0xNMcc nibbles.
 * Returns -1 where Linux would time out. */
static int i8042_command(struct fx *f, uint8_t *param, uint16_t command)
{
    unsigned nout = (command >> 12) & 0xf, nin = (command >> 8) & 0xf;
    assert_int_equal(inb(f, 0x64) & KBC_STS_IBF, 0);
    outb(f, 0x64, (uint8_t)command);
    for (unsigned i = 0; i < nout; i++) {
        assert_int_equal(inb(f, 0x64) & KBC_STS_IBF, 0);
        outb(f, 0x60, param[i]);
    }
    for (unsigned i = 0; i < nin; i++) {
        unsigned polls = 0;
        while (!(inb(f, 0x64) & KBC_STS_OBF))
            if (++polls >= 10000)
                return -1;
        if (command == 0x11d3 && !(inb(f, 0x64) & KBC_STS_AUXDATA))
            return -1;
        param[i] = inb(f, 0x60);
    }
    return 0;
}

/* i8042_flush(): read data while OBF, at most 16 bytes. */
static int i8042_flush(struct fx *f)
{
    unsigned n = 0;
    while (inb(f, 0x64) & KBC_STS_OBF) {
        if (n++ >= 16)
            return -1;
        inb(f, 0x60);
    }
    return 0;
}

static void test_reset_state(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    assert_int_equal(inb(&f, 0x64), 0x1c);
    uint8_t ctr = 0;
    assert_int_equal(i8042_command(&f, &ctr, 0x0120), 0);
    assert_int_equal(ctr, 0x45);
    /* CTR has KBDINT set: the reply raised IRQ1, the read dropped it. */
    assert_int_equal(f.calls[1], 2);
    assert_false(f.level[1]);
    assert_int_equal(f.calls[12], 0);
}

static void test_controller_check_and_init(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* i8042_controller_check(): flush must end ("No controller found"
     * otherwise); status 0xff would mean no controller. */
    assert_int_equal(i8042_flush(&f), 0);
    /* i8042_controller_init(): two equal CTR reads, keylock check, disable
     * KBD and its interrupt, write the CTR back, flush. */
    uint8_t c0 = 0, c1 = 1;
    assert_int_equal(i8042_command(&f, &c0, 0x0120), 0);
    assert_int_equal(i8042_command(&f, &c1, 0x0120), 0);
    assert_int_equal(c0, c1);
    assert_true(inb(&f, 0x64) & KBC_STS_UNLOCK); /* no "Keylock active" */
    uint8_t ctr = (uint8_t)((c0 | KBC_CTR_KBDDIS) & ~KBC_CTR_KBDINT);
    assert_int_equal(i8042_command(&f, &ctr, 0x1060), 0);
    assert_int_equal(i8042_flush(&f), 0);
    uint8_t back = 0;
    assert_int_equal(i8042_command(&f, &back, 0x0120), 0);
    assert_int_equal(back, 0x54);
    /* IRQ1 pulsed for the two reads under the firmware CTR, not after. */
    assert_int_equal(f.calls[1], 4);
    assert_false(f.level[1]);
}

static void test_selftest_and_interface_tests(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint8_t p = 0;
    assert_int_equal(i8042_command(&f, &p, 0x01aa), 0);
    assert_int_equal(p, 0x55);
    assert_true(inb(&f, 0x64) & KBC_STS_SYS);
    p = 0xff;
    assert_int_equal(i8042_command(&f, &p, 0x01ab), 0);
    assert_int_equal(p, 0x00);
    p = 0xff;
    assert_int_equal(i8042_command(&f, &p, 0x01a9), 0);
    assert_int_equal(p, 0x00);
}

/* The system flag (status bit 2) is 0 after a power-on reset and set to 1
 * by a successful controller self-test (IBM PS/2 keyboard controller, status
 * register "system flag"; CTR bit 2 also writes it). Clear it through the
 * CTR first, so that only the self-test can set it again. */
static void test_selftest_sets_system_flag(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint8_t p = KBC_RESET_CTR & (uint8_t)~KBC_CTR_SYS;
    assert_int_equal(i8042_command(&f, &p, 0x1060), 0);
    assert_false(inb(&f, 0x64) & KBC_STS_SYS);
    assert_int_equal(i8042_command(&f, &p, 0x01aa), 0);
    assert_int_equal(p, 0x55);
    assert_true(inb(&f, 0x64) & KBC_STS_SYS);
}

static void test_check_aux_loop_and_toggle(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* i8042_check_aux(): AUX_LOOP 0x5a must come back with AUXDATA... */
    uint8_t p = 0x5a;
    assert_int_equal(i8042_command(&f, &p, 0x11d3), 0);
    assert_int_equal(p, 0x5a);
    /* ...then i8042_toggle_aux(false/true): AUX_DISABLE/ENABLE and CTR bit 5. */
    assert_int_equal(i8042_command(&f, NULL, 0x00a7), 0);
    uint8_t ctr = 0;
    i8042_command(&f, &ctr, 0x0120);
    assert_true(ctr & KBC_CTR_AUXDIS);
    assert_int_equal(i8042_command(&f, NULL, 0x00a8), 0);
    i8042_command(&f, &ctr, 0x0120);
    assert_false(ctr & KBC_CTR_AUXDIS);
}

static void test_aux_irq_test(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* i8042_enable_aux_port(): CTR &= ~AUXDIS, |= AUXINT, write CTR. Then
     * __i8042_command(0xa5, AUX_LOOP & 0xf0ff): no read, the byte must raise
     * IRQ12; the handler reads status then data. */
    uint8_t ctr = 0;
    i8042_command(&f, &ctr, 0x0120);
    ctr = (uint8_t)((ctr & ~KBC_CTR_AUXDIS) | KBC_CTR_AUXINT);
    i8042_command(&f, &ctr, 0x1060);
    assert_int_equal(f.calls[12], 0);
    uint8_t p = 0xa5;
    i8042_command(&f, &p, 0x10d3);
    assert_true(f.level[12]);
    assert_false(f.level[1]);
    assert_int_equal(f.calls[12], 1);
    uint8_t str = inb(&f, 0x64);
    assert_int_equal(str & (KBC_STS_OBF | KBC_STS_AUXDATA), KBC_STS_OBF | KBC_STS_AUXDATA);
    assert_int_equal(inb(&f, 0x60), 0xa5);
    assert_false(f.level[12]);
    assert_int_equal(f.calls[12], 2);
    assert_int_equal(inb(&f, 0x64) & (KBC_STS_OBF | KBC_STS_AUXDATA), 0);
}

static void test_no_mux_detected(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* i8042_set_mux_mode(): loop f0, 56, a4; an active multiplexer answers
     * something other than a4 to the third; we echo, so no MUX. */
    const uint8_t seq[3] = {0xf0, 0x56, 0xa4};
    for (int i = 0; i < 3; i++) {
        uint8_t p = seq[i];
        assert_int_equal(i8042_command(&f, &p, 0x11d3), 0);
        assert_int_equal(p, seq[i]);
    }
}

static void test_keyboard_write_without_keyboard(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* atkbd_probe(): ps2_command(GETID = 0xf2) -> i8042_kbd_write writes 0xf2
     * to 0x60. No keyboard: 0xfe with the timeout bit, IRQ1 (KBDINT set). */
    outb(&f, 0x60, 0xf2);
    uint8_t str = inb(&f, 0x64);
    assert_int_equal(str & (KBC_STS_OBF | KBC_STS_TIMEOUT | KBC_STS_AUXDATA | KBC_STS_CMD),
                     KBC_STS_OBF | KBC_STS_TIMEOUT);
    assert_true(f.level[1]);
    assert_int_equal(inb(&f, 0x60), 0xfe);
    assert_false(f.level[1]);
    /* Second attempt after the NAK (libps2 resends once): same answer. */
    outb(&f, 0x60, 0xf2);
    assert_int_equal(inb(&f, 0x60), 0xfe);
    assert_int_equal(f.calls[1], 4);
}

static void test_aux_write_without_mouse(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint8_t ctr = KBC_RESET_CTR | KBC_CTR_AUXINT;
    i8042_command(&f, &ctr, 0x1060);
    /* i8042_aux_write(): AUX_SEND (0xd4) + byte; psmouse's reset 0xff. */
    uint8_t p = 0xff;
    assert_int_equal(i8042_command(&f, &p, 0x10d4), 0);
    uint8_t str = inb(&f, 0x64);
    assert_int_equal(str & (KBC_STS_OBF | KBC_STS_TIMEOUT | KBC_STS_AUXDATA),
                     KBC_STS_OBF | KBC_STS_TIMEOUT | KBC_STS_AUXDATA);
    assert_true(f.level[12]);
    assert_false(f.level[1]);
    assert_int_equal(inb(&f, 0x60), 0xfe);
    assert_false(f.level[12]);
}

static void test_reboot_kbd_pulse(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* native_machine_emergency_restart() BOOT_KBD: 10 x { kb_wait(): poll
     * 0x64 until bit 1 clear (0x10000 polls max); outb(0xfe, 0x64) }. */
    for (int i = 0; i < 10; i++) {
        unsigned polls = 0;
        while (inb(&f, 0x64) & KBC_STS_IBF)
            assert_true(++polls < 0x10000);
        assert_int_equal(polls, 0);
        outb(&f, 0x64, 0xfe);
        assert_int_equal(f.resets, (unsigned)i + 1);
    }
    assert_int_equal(f.other, 0);
    assert_int_equal(f.k.resets, 10);
    /* 0xff pulses nothing, 0xfc pulses bit 0 too. */
    outb(&f, 0x64, 0xff);
    assert_int_equal(f.resets, 10);
    outb(&f, 0x64, 0xfc);
    assert_int_equal(f.resets, 11);
}

static void test_output_port_write_reset(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint8_t p = 0;
    i8042_command(&f, &p, 0x01d0);
    assert_int_equal(p, KBC_RESET_OUTPORT);
    p = 0x03; /* keep reset high: nothing happens */
    i8042_command(&f, &p, 0x10d1);
    assert_int_equal(f.resets, 0);
    p = 0x02; /* bit 0 low: CPU reset */
    i8042_command(&f, &p, 0x10d1);
    assert_int_equal(f.resets, 1);
    i8042_command(&f, &p, 0x01d0);
    assert_int_equal(p, 0x02);
}

static void test_kbd_disable_enable_and_ram(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint8_t ctr;
    i8042_command(&f, NULL, 0x00ad);
    i8042_command(&f, &ctr, 0x0120);
    assert_int_equal(ctr, 0x55);
    i8042_command(&f, NULL, 0x00ae);
    i8042_command(&f, &ctr, 0x0120);
    assert_int_equal(ctr, 0x45);
    uint8_t v = 0x9c;
    i8042_command(&f, &v, 0x1065); /* RAM byte 5 */
    v = 0;
    i8042_command(&f, &v, 0x0125);
    assert_int_equal(v, 0x9c);
    i8042_command(&f, &ctr, 0x0120);
    assert_int_equal(ctr, 0x45);
}

static void test_cmd_bit_and_loopback_kbd(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    outb(&f, 0x64, 0xd2);
    assert_true(inb(&f, 0x64) & KBC_STS_CMD);
    outb(&f, 0x60, 0x1e);
    uint8_t str = inb(&f, 0x64);
    assert_false(str & KBC_STS_CMD);
    assert_int_equal(str & (KBC_STS_OBF | KBC_STS_AUXDATA | KBC_STS_TIMEOUT), KBC_STS_OBF);
    assert_true(f.level[1]);
    assert_int_equal(inb(&f, 0x60), 0x1e);
    /* An empty buffer reads the last byte again without raising anything. */
    assert_int_equal(inb(&f, 0x60), 0x1e);
    assert_int_equal(f.calls[1], 2);
}

static void test_irq_only_on_level_change(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    /* Two controller replies without a read: IRQ1 rises once. */
    outb(&f, 0x64, 0xaa);
    outb(&f, 0x64, 0xab);
    assert_int_equal(f.calls[1], 1);
    assert_int_equal(inb(&f, 0x60), 0x00);
    assert_int_equal(f.calls[1], 2);
    /* Disabling KBDINT while a byte waits drops the line. */
    outb(&f, 0x64, 0xaa);
    assert_true(f.level[1]);
    outb(&f, 0x64, 0x60);
    outb(&f, 0x60, 0x44);
    assert_false(f.level[1]);
    assert_int_equal(f.calls[1], 4);
    /* With interrupts off, replies raise nothing. */
    outb(&f, 0x64, 0xaa);
    assert_int_equal(f.calls[1], 4);
    /* kbc_reset drops nothing more (already low) and empties the buffer. */
    kbc_reset(&f.k);
    assert_int_equal(inb(&f, 0x64), 0x1c);
}

static void test_unknown_command_and_pending_cancel(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    outb(&f, 0x64, 0xc7); /* unknown: nothing */
    assert_false(inb(&f, 0x64) & KBC_STS_OBF);
    outb(&f, 0x64, 0x60); /* pending CTR write... */
    outb(&f, 0x64, 0xa7); /* ...cancelled by a new command */
    outb(&f, 0x60, 0x00); /* goes to the (absent) keyboard */
    assert_int_equal(inb(&f, 0x60), 0xfe);
    uint8_t ctr;
    i8042_command(&f, &ctr, 0x0120);
    assert_int_equal(ctr, 0x65);
}

static void test_bad_size_and_port(void **st)
{
    (void)st;
    struct fx f;
    fx_init(&f);
    uint32_t v = 0xfe;
    assert_int_equal(kbc_io(&f.k, 0x64, 2, true, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(kbc_io(&f.k, 0x64, 4, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(kbc_io(&f.k, 0x60, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(kbc_io(&f.k, 0x62, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(f.resets, 0);
}

/* Through the per-VM device set: IRQ1/IRQ12 reach the PIC inputs, 0xfe on
 * port 0x64 reaches the platform as a reset request. */
struct vm_obs {
    unsigned up[16], down[16], resets;
};

static void vm_irq_line(void *ctx, unsigned irq, bool level, uint64_t now_ns)
{
    struct vm_obs *o = ctx;
    (void)now_ns;
    assert_true(irq < 16);
    level ? o->up[irq]++ : o->down[irq]++;
}

static void vm_request(void *ctx, enum dev_request what)
{
    struct vm_obs *o = ctx;
    if (what == DEV_REQ_RESET)
        o->resets++;
}

static void test_wired_in_vm_devices(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct vm_obs o = {0};
    const struct vm_devices_hooks hooks = {
        .irq_line = vm_irq_line, .request = vm_request, .ctx = &o};
    vm_devices_init(&d, NULL, &hooks, 0);
    uint32_t v = 0x60;
    vm_devices_io(&d, 0x64, 1, true, &v, 10);
    v = 0x47; /* KBDINT | AUXINT */
    vm_devices_io(&d, 0x60, 1, true, &v, 20);
    v = 0xd3;
    vm_devices_io(&d, 0x64, 1, true, &v, 30);
    v = 0xa5;
    vm_devices_io(&d, 0x60, 1, true, &v, 40);
    assert_int_equal(o.up[12], 1);
    assert_int_equal(o.up[1], 0);
    vm_devices_io(&d, 0x60, 1, false, &v, 50);
    assert_int_equal(v, 0xa5);
    assert_int_equal(o.down[12], 1);
    v = 0xaa;
    vm_devices_io(&d, 0x64, 1, true, &v, 60);
    assert_int_equal(o.up[1], 1);
    vm_devices_io(&d, 0x60, 1, false, &v, 70);
    assert_int_equal(v, 0x55);
    assert_int_equal(o.down[1], 1);
    vm_devices_io(&d, 0x64, 1, false, &v, 80);
    assert_int_equal(v & KBC_STS_IBF, 0);
    v = 0xfe;
    vm_devices_io(&d, 0x64, 1, true, &v, 90);
    assert_int_equal(o.resets, 1);
    assert_true(d.requests & (1u << DEV_REQ_RESET));
}

static size_t save(const struct kbc8042 *k, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    kbc_save(k, &s);
    return s.err ? 0 : sv_len(&s);
}

static int restore(struct kbc8042 *k, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return kbc_restore(k, &s);
}

static void test_save_restore_identical(void **st)
{
    (void)st;
    struct fx a, b;
    fx_init(&a);
    fx_init(&b);
    uint8_t ctr = 0x47;
    i8042_command(&a, &ctr, 0x1060);
    outb(&a, 0x64, 0xd3);
    outb(&a, 0x60, 0x5a); /* AUX byte waiting, IRQ12 high */
    outb(&a, 0x64, 0xd1); /* output-port write pending */
    uint8_t buf[128], buf2[128];
    size_t n = save(&a.k, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(restore(&b.k, buf, n), 0);
    assert_int_equal(b.calls[12], 0); /* restore does not call the sink */
    b.level[12] = true;               /* the PIC restores its own input */
    assert_int_equal(inb(&b, 0x64), inb(&a, 0x64));
    outb(&a, 0x60, 0x00);
    outb(&b, 0x60, 0x00);
    assert_int_equal(a.resets, 1);
    assert_int_equal(b.resets, 1);
    assert_int_equal(inb(&a, 0x60), 0x5a);
    assert_int_equal(inb(&b, 0x60), 0x5a);
    assert_false(b.level[12]);
    save(&a.k, buf, sizeof buf);
    assert_int_equal(save(&b.k, buf2, sizeof buf2), n);
    assert_memory_equal(buf, buf2, n);
}

static void test_restore_corrupt_rejected(void **st)
{
    (void)st;
    struct fx a, b;
    fx_init(&a);
    fx_init(&b);
    outb(&b, 0x64, 0xad);
    uint8_t buf[128], bad[128];
    size_t n = save(&a.k, buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(restore(&b.k, buf, cut), -1);
    /* payload at 10: status, ctr, out, outport, pending, ram[32], irq1, irq12 */
    memcpy(bad, buf, n);
    bad[10] |= KBC_STS_IBF;
    assert_int_equal(restore(&b.k, bad, n), -1);
    memcpy(bad, buf, n);
    bad[14] = 0xaa; /* not a command that waits for data */
    assert_int_equal(restore(&b.k, bad, n), -1);
    memcpy(bad, buf, n);
    bad[47] = 1; /* IRQ1 high with an empty buffer */
    assert_int_equal(restore(&b.k, bad, n), -1);
    memcpy(bad, buf, n);
    bad[48] = 2; /* not a bool */
    assert_int_equal(restore(&b.k, bad, n), -1);
    uint8_t ctr;
    i8042_command(&b, &ctr, 0x0120);
    assert_int_equal(ctr, 0x55); /* untouched */
    assert_int_equal(restore(&b.k, buf, n), 0);
    i8042_command(&b, &ctr, 0x0120);
    assert_int_equal(ctr, 0x45);
}

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* Random port traffic: IBF never shows, the IRQ lines always equal what the
 * status and CTR say (the sink asserts it only sees real changes), the data
 * read is what the status announced. */
static void test_random_traffic_invariants(void **st)
{
    (void)st;
    static const uint8_t cmds[] = {0x20, 0x21, 0x60, 0x61, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
                                   0xad, 0xae, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xc0, 0xff};
    struct fx f;
    fx_init(&f);
    uint32_t x = 99;
    for (int i = 0; i < 20000; i++) {
        uint32_t r = lcg(&x);
        switch (r % 4) {
        case 0: outb(&f, 0x64, cmds[(r >> 4) % sizeof cmds]); break;
        case 1: {
            uint8_t v = (uint8_t)(r >> 8);
            if (f.k.pending == 0xd1)
                v |= 1; /* keep the reset line released */
            outb(&f, 0x60, v);
            break;
        }
        case 2: (void)inb(&f, 0x60); break;
        default: (void)inb(&f, 0x64); break;
        }
        uint8_t str = inb(&f, 0x64);
        assert_int_equal(str & KBC_STS_IBF, 0);
        bool obf = str & KBC_STS_OBF, aux = str & KBC_STS_AUXDATA;
        assert_int_equal(f.level[1], obf && !aux && (f.k.ctr & KBC_CTR_KBDINT));
        assert_int_equal(f.level[12], obf && aux && (f.k.ctr & KBC_CTR_AUXINT));
    }
    assert_int_equal(f.resets, 0);
    assert_true(f.calls[1] > 100);
    assert_true(f.calls[12] > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_state),
        cmocka_unit_test(test_controller_check_and_init),
        cmocka_unit_test(test_selftest_and_interface_tests),
        cmocka_unit_test(test_selftest_sets_system_flag),
        cmocka_unit_test(test_check_aux_loop_and_toggle),
        cmocka_unit_test(test_aux_irq_test),
        cmocka_unit_test(test_no_mux_detected),
        cmocka_unit_test(test_keyboard_write_without_keyboard),
        cmocka_unit_test(test_aux_write_without_mouse),
        cmocka_unit_test(test_reboot_kbd_pulse),
        cmocka_unit_test(test_output_port_write_reset),
        cmocka_unit_test(test_kbd_disable_enable_and_ram),
        cmocka_unit_test(test_cmd_bit_and_loopback_kbd),
        cmocka_unit_test(test_irq_only_on_level_change),
        cmocka_unit_test(test_unknown_command_and_pending_cancel),
        cmocka_unit_test(test_bad_size_and_port),
        cmocka_unit_test(test_wired_in_vm_devices),
        cmocka_unit_test(test_save_restore_identical),
        cmocka_unit_test(test_restore_corrupt_rejected),
        cmocka_unit_test(test_random_traffic_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
