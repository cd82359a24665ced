/* The VM exit policy (hv/vm_policy.h) on a fake vCPU: a register file,
 * RFLAGS, an interruptibility flag, a TSC and a small guest memory behind
 * the ops table, with the real device set behind the device ops (no
 * recorder). Each test states the rule it checks: when devices advance,
 * interrupt injection vs. the interrupt window (SDM Vol. 3 26.3.2.5,
 * 25.4.2 "Interrupt-window exiting"), HLT fast-forward and idle, IN merged
 * into RAX (SDM Vol. 1 3.4.1.1: a 32-bit destination zero-extends, 8/16-bit
 * ones keep the upper bits), INS/OUTS one element per exit with RSI/RDI/RCX
 * stepped in the address size (SDM Vol. 2 INS/OUTS, REP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/vm_policy.h"

#define HZ 1000000000ull /* 1 GHz: TSC ticks are nanoseconds */

struct fake {
    struct vm_devices dev;
    struct vm_policy p;
    uint64_t regs[16], rflags, tsc;
    bool interruptible, window, idle_wakes;
    uint64_t timer;
    unsigned skips, shadow_ends, advances, acks, ios, blocked, polls, idle_waits;
    int injected; /* -1: none */
    uint64_t pf_cr2;
    uint32_t pf_err;
    unsigned pfs;
    uint64_t last_advance_tsc, idle_deadline;
    uint8_t mem[32]; /* guest linear 0x1000.. */
    /* NMIs: the VMCS interruptibility state (bit 0 STI, 1 MOV SS, 3 NMI),
     * an event queued for the entry, what the policy did */
    uint32_t blocking;
    bool queued, nmi_window;
    unsigned nmis_injected, nmi_takes, nmi_blocked;
};

static uint64_t f_reg(void *c, unsigned r)
{
    return ((struct fake *)c)->regs[r];
}
static void f_set_reg(void *c, unsigned r, uint64_t v)
{
    ((struct fake *)c)->regs[r] = v;
}
static uint64_t f_rflags(void *c)
{
    return ((struct fake *)c)->rflags;
}
static bool f_interruptible(void *c)
{
    return ((struct fake *)c)->interruptible && !((struct fake *)c)->queued;
}
static bool f_nmi_ready(void *c)
{
    struct fake *f = c;
    return !(f->blocking & (2u | 8u)) && !f->queued;
}
static void f_inject_nmi(void *c)
{
    struct fake *f = c;
    f->nmis_injected++;
    f->queued = true;
}
static void f_nmi_window(void *c, bool on)
{
    ((struct fake *)c)->nmi_window = on;
}
static void f_inject(void *c, uint8_t v)
{
    ((struct fake *)c)->injected = v;
}
static void f_inject_pf(void *c, uint64_t cr2, uint32_t err)
{
    struct fake *f = c;
    f->pf_cr2 = cr2;
    f->pf_err = err;
    f->pfs++;
}
static void f_window(void *c, bool on)
{
    ((struct fake *)c)->window = on;
}
static void f_skip(void *c)
{
    ((struct fake *)c)->skips++;
}
static void f_shadow_end(void *c)
{
    ((struct fake *)c)->shadow_ends++;
}
static enum vm_policy_map f_map(void *c, uint64_t la, bool write, uint8_t **p, uint32_t *err)
{
    struct fake *f = c;
    if (la >= 0x1000 && la < 0x1000 + sizeof f->mem) {
        *p = &f->mem[la - 0x1000];
        return VM_POLICY_MAP_OK;
    }
    if (la >= 0x2000 && la < 0x3000) {
        *err = write ? 2 : 0; /* not present */
        return VM_POLICY_MAP_PF;
    }
    return VM_POLICY_MAP_OUTSIDE;
}
static uint64_t f_tsc_now(void *c)
{
    return ((struct fake *)c)->tsc;
}
static void f_skip_tsc(void *c, uint64_t d)
{
    ((struct fake *)c)->tsc += d;
}
static void f_arm(void *c, uint64_t tsc)
{
    ((struct fake *)c)->timer = tsc;
}
static void f_poll(void *c, uint64_t tsc)
{
    (void)tsc;
    ((struct fake *)c)->polls++;
}
static bool f_idle_wait(void *c, uint64_t deadline)
{
    struct fake *f = c;
    f->idle_waits++;
    f->idle_deadline = deadline;
    return f->idle_wakes;
}
static uint32_t f_io(void *c, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                     bool write, uint32_t value)
{
    struct fake *f = c;
    f->ios++;
    uint32_t v = write ? value : 0;
    vm_devices_io(&f->dev, port, size, write, &v, vm_rec_tsc_to_ns(x->tsc, HZ));
    return v & dev_size_mask(size);
}
static void f_advance(void *c, uint64_t tsc)
{
    struct fake *f = c;
    f->advances++;
    f->last_advance_tsc = tsc;
    vm_devices_advance(&f->dev, vm_rec_tsc_to_ns(tsc, HZ));
}
static uint8_t f_ack(void *c, uint64_t tsc)
{
    struct fake *f = c;
    f->acks++;
    return vm_devices_ack(&f->dev, vm_rec_tsc_to_ns(tsc, HZ));
}
static void f_blocked(void *c, uint64_t tsc)
{
    (void)tsc;
    ((struct fake *)c)->blocked++;
}
static void f_take_nmi(void *c, uint64_t tsc)
{
    (void)tsc;
    struct fake *f = c;
    f->nmi_takes++;
    vm_devices_nmi_take_cpu(&f->dev, f->p.cpu);
}
static void f_nmi_blocked(void *c, uint64_t tsc)
{
    (void)tsc;
    ((struct fake *)c)->nmi_blocked++;
}

static const struct vm_policy_ops ops = {
    .reg = f_reg,
    .set_reg = f_set_reg,
    .rflags = f_rflags,
    .interruptible = f_interruptible,
    .inject_extint = f_inject,
    .nmi_ready = f_nmi_ready,
    .inject_nmi = f_inject_nmi,
    .set_nmi_window = f_nmi_window,
    .inject_pf = f_inject_pf,
    .set_intr_window = f_window,
    .skip_insn = f_skip,
    .end_interrupt_shadow = f_shadow_end,
    .map_operand = f_map,
    .tsc_now = f_tsc_now,
    .skip_tsc = f_skip_tsc,
    .arm_timer = f_arm,
    .poll_input = f_poll,
    .idle_wait = f_idle_wait,
    .io = f_io,
    .advance = f_advance,
    .ack = f_ack,
    .blocked = f_blocked,
    .take_nmi = f_take_nmi,
    .nmi_blocked = f_nmi_blocked,
};

static struct fake F;

static void setup_limit(uint64_t limit_ns)
{
    memset(&F, 0, sizeof F);
    F.injected = -1;
    vm_devices_init(&F.dev, NULL, NULL, 0);
    const struct vm_policy_config pc = {.tsc_hz = HZ, .time_limit_ns = limit_ns};
    vm_policy_init(&F.p, &ops, &F, &F.dev, &pc);
}

static void setup(void)
{
    setup_limit(0);
}

static void out8(uint16_t port, uint8_t v)
{
    uint32_t x = v;
    vm_devices_io(&F.dev, port, 1, true, &x, vm_rec_tsc_to_ns(F.tsc, HZ));
}

/* Linux's init_8259A (vectors 0x30/0x38, slave on IR2), IRQ0 unmasked,
 * then PIT channel 0 mode 2 (rate generator) with the given count. */
static void pic_and_pit(uint16_t count)
{
    static const uint8_t seq[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                     {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01},
                                     {0x21, 0xfe}, {0xa1, 0xff}};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        out8(seq[i][0], seq[i][1]);
    out8(0x43, 0x34);
    out8(0x40, (uint8_t)count);
    out8(0x40, (uint8_t)(count >> 8));
    /* the control word raised OUT (8254 data sheet, mode 2: OUT goes high on the control word):
     * that edge's interrupt is taken and EOIed before the tests start */
    if (vm_devices_intr(&F.dev)) {
        assert_int_equal(vm_devices_ack(&F.dev, vm_rec_tsc_to_ns(F.tsc, HZ)), 0x30);
        out8(0x20, 0x20);
    }
    assert_false(vm_devices_intr(&F.dev));
}

/* The PIT input clock: 1 193 182 Hz; count N ends after N * 1e9 / 1193182 ns. */
static uint64_t pit_ns(uint64_t count)
{
    return (count * 1000000000ull + 1193181) / 1193182;
}

/* ---- entry preparation ---- */

static void test_entry_without_due_event_does_not_advance(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932); /* ~10 ms */
    F.tsc = 5000000;    /* 5 ms: nothing due */
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.advances, 0);
    assert_int_equal(F.acks, 0);
    assert_int_equal(F.injected, -1);
    assert_false(F.window);
    /* the preemption timer is armed at the PIT's first terminal count */
    uint64_t dl = vm_devices_next_event_ns(&F.dev, F.dev.now_ns);
    assert_true(dl > 5000000 && dl <= pit_ns(11932) + 1000);
    assert_int_equal(F.timer, vm_policy_ns_to_tsc_ceil(dl, HZ));
}

static void test_due_event_advances_and_injects_when_interruptible(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932);
    F.interruptible = true;
    F.tsc = 10100000; /* past the first count */
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.advances, 1);
    assert_int_equal(F.last_advance_tsc, 10100000);
    assert_int_equal(F.acks, 1);
    assert_int_equal(F.injected, 0x30); /* IRQ0 at the master's base */
    assert_false(F.window);
    assert_int_equal(F.p.injected_irqs, 1);
    assert_false(vm_devices_intr(&F.dev)); /* acknowledged: INTR drops */
    /* the next deadline is the PIT's next period, after now */
    assert_true(F.timer > 10100000);
}

/* An event due exactly at the entry's time is due ("devices advanced to this
 * time first", docs/replay.md): the entry at the deadline itself advances
 * and injects; one nanosecond before it, nothing happens. */
static void test_event_due_exactly_now_is_taken(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932);
    F.interruptible = true;
    uint64_t dl = vm_devices_next_event_ns(&F.dev, F.dev.now_ns);
    F.tsc = dl - 1; /* 1 GHz: TSC ticks are nanoseconds */
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.advances, 0);
    assert_int_equal(F.injected, -1);
    F.tsc = dl;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.advances, 1);
    assert_int_equal(F.last_advance_tsc, dl);
    assert_int_equal(F.injected, 0x30);
}

static void test_blocked_guest_gets_the_window_not_the_vector(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932);
    F.interruptible = false; /* IF=0, or an STI shadow */
    F.tsc = 10100000;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.acks, 0);
    assert_int_equal(F.injected, -1);
    assert_true(F.window);
    assert_int_equal(F.blocked, 1);
    assert_true(vm_devices_intr(&F.dev)); /* still pending */
    /* window exit: the guest can take it now */
    F.interruptible = true;
    F.tsc += 300;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.injected, 0x30);
    assert_false(F.window);
    assert_int_equal(F.blocked, 1);
}

static void test_time_limit_stops_before_entry_and_caps_the_timer(void **s)
{
    (void)s;
    setup_limit(3000000);
    pic_and_pit(11932);
    F.tsc = 1000000;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.p.stop, VM_RUNNING);
    assert_int_equal(F.timer, 3000000); /* the limit comes before the PIT */
    F.tsc = 3000000;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.p.stop, VM_STOP_TIMEOUT);
}

static void test_no_device_deadline_arms_no_timer(void **s)
{
    (void)s;
    setup();
    F.tsc = 1000;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.timer, UINT64_MAX);
}

static void test_host_input_polled_every_256_entries(void **s)
{
    (void)s;
    setup();
    for (unsigned i = 0; i < 513; i++)
        vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.polls, 3); /* entries 0, 256, 512 */
}

/* ---- port I/O ---- */

static void test_in_merges_into_rax_by_size(void **s)
{
    (void)s;
    setup();
    out8(0x21, 0xa5); /* PIC master IMR reads back */
    struct vm_policy_io io = {.port = 0x21, .size = 1, .in = true};
    F.regs[VM_POLICY_RAX] = 0x1122334455667788ull;
    assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_DEVICE);
    assert_int_equal(F.regs[VM_POLICY_RAX], 0x11223344556677a5ull); /* AL only */
    assert_int_equal(io.value, 0xa5);
    /* 16 bits from an unknown port: all ones into AX */
    io = (struct vm_policy_io){.port = 0x1234, .size = 2, .in = true};
    assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_DEVICE);
    assert_int_equal(F.regs[VM_POLICY_RAX], 0x112233445566ffffull);
    /* 32 bits: EAX written, the upper half of RAX cleared */
    io = (struct vm_policy_io){.port = 0x1234, .size = 4, .in = true};
    vm_policy_io(&F.p, &io);
    assert_int_equal(F.regs[VM_POLICY_RAX], 0xffffffffull);
    assert_int_equal(F.skips, 3); /* each instruction retired once */
    assert_int_equal(F.ios, 3);
}

static void test_out_leaves_rax(void **s)
{
    (void)s;
    setup();
    F.regs[VM_POLICY_RAX] = 0xdeadbeef000000a5ull;
    struct vm_policy_io io = {.port = 0x21, .size = 1, .in = false, .value = 0xa5};
    vm_policy_io(&F.p, &io);
    assert_int_equal(F.regs[VM_POLICY_RAX], 0xdeadbeef000000a5ull);
    assert_int_equal(F.dev.pic.chip[0].imr, 0xa5);
    assert_int_equal(F.skips, 1);
}

/* REP OUTSB, CX = 3: one element per exit, the instruction re-executed
 * until CX = 0; between elements the STI/MOV SS shadow ends but RIP stays. */
static void test_rep_outsb_one_element_per_exit(void **s)
{
    (void)s;
    setup();
    F.mem[0] = 0x11, F.mem[1] = 0x22, F.mem[2] = 0x33;
    F.regs[VM_POLICY_RCX] = 0xabcd0003; /* 16-bit: only CX counts */
    F.regs[VM_POLICY_RSI] = 0x1000;
    for (unsigned i = 0; i < 3; i++) {
        struct vm_policy_io io = {.port = 0x80,
                                  .size = 1,
                                  .string = true,
                                  .rep = true,
                                  .addr_bits = 16,
                                  .gla = F.regs[VM_POLICY_RSI]};
        assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_DEVICE);
        assert_int_equal(F.dev.post.last, F.mem[i]);
        assert_int_equal(F.regs[VM_POLICY_RSI], 0x1001 + i);
        assert_int_equal(F.regs[VM_POLICY_RCX], 0xabcd0002 - i);
        assert_int_equal(F.skips, i == 2 ? 1 : 0);
        assert_int_equal(F.shadow_ends, i < 2 ? i + 1 : 2);
    }
    /* REP with CX = 0: nothing to do, no device access */
    struct vm_policy_io io = {
        .port = 0x80, .size = 1, .string = true, .rep = true, .addr_bits = 16, .gla = 0x1003};
    assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_NO_ACCESS);
    assert_int_equal(F.ios, 3);
    assert_int_equal(F.skips, 2);
}

/* INSW with DF=1: two bytes stored little-endian, DI steps down by 2, a
 * 16-bit DI wraps within its 16 bits and keeps the upper ones. */
static void test_insw_df_and_16bit_wrap(void **s)
{
    (void)s;
    setup();
    F.rflags = VM_POLICY_RFLAGS_DF;
    F.regs[VM_POLICY_RDI] = 0x55550000;
    struct vm_policy_io io = {
        .port = 0x1234, .size = 2, .in = true, .string = true, .addr_bits = 16, .gla = 0x1004};
    assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_DEVICE);
    assert_int_equal(F.mem[4], 0xff);
    assert_int_equal(F.mem[5], 0xff);
    assert_int_equal(F.regs[VM_POLICY_RDI], 0x5555fffe);
    assert_int_equal(F.skips, 1);
    /* 32-bit addresses zero-extend into RDI */
    F.rflags = 0;
    F.regs[VM_POLICY_RDI] = 0x77777777fffffffeull;
    io = (struct vm_policy_io){
        .port = 0x1234, .size = 2, .in = true, .string = true, .addr_bits = 32, .gla = 0x1008};
    vm_policy_io(&F.p, &io);
    assert_int_equal(F.regs[VM_POLICY_RDI], 0);
}

static void test_string_operand_fault_injects_pf_before_any_access(void **s)
{
    (void)s;
    setup();
    F.regs[VM_POLICY_RCX] = 2;
    F.regs[VM_POLICY_RDI] = 0x2ffe;
    /* INSD whose operand crosses into a non-present page at 0x2000.. */
    struct vm_policy_io io = {.port = 0x1234,
                              .size = 4,
                              .in = true,
                              .string = true,
                              .rep = true,
                              .addr_bits = 32,
                              .gla = 0x2ffe};
    assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_NO_ACCESS);
    assert_int_equal(F.pfs, 1);
    assert_int_equal(F.pf_cr2, 0x2ffe);
    assert_int_equal(F.pf_err, 2); /* a write to memory */
    assert_int_equal(F.ios, 0);
    assert_int_equal(F.regs[VM_POLICY_RCX], 2); /* restarted: nothing repeated */
    assert_int_equal(F.regs[VM_POLICY_RDI], 0x2ffe);
    assert_int_equal(F.skips, 0);
    /* an operand outside guest RAM ends the VM */
    io.gla = 0x9000;
    assert_int_equal(vm_policy_io(&F.p, &io), VM_POLICY_IO_FATAL);
    assert_int_equal(F.p.stop, VM_STOP_FATAL);
    assert_int_equal(F.ios, 0);
}

/* ---- HLT ---- */

static void test_hlt_with_if_clear_powers_off(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932);
    F.rflags = 0;
    vm_policy_halt(&F.p, 1000);
    assert_int_equal(F.p.stop, VM_STOP_POWEROFF);
    assert_int_equal(F.advances, 0);
}

static void test_hlt_skips_to_the_next_deadline(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932);
    F.rflags = VM_POLICY_RFLAGS_IF;
    F.tsc = 2000000;
    vm_policy_halt(&F.p, F.tsc);
    uint64_t first = F.tsc;
    /* time moved to the first terminal count, then the devices caught up */
    assert_true(first >= pit_ns(11932) - 1000 && first <= pit_ns(11932) + 1000);
    assert_int_equal(F.advances, 2);
    assert_int_equal(F.last_advance_tsc, first);
    assert_true(vm_devices_intr(&F.dev)); /* IRQ0 raised: the entry injects */
    assert_int_equal(F.p.hlt_skipped_ns, first - 2000000);
    assert_int_equal(F.p.stop, VM_RUNNING);
    /* an interrupt already pending: no time skipped */
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.tsc, first);
    assert_int_equal(F.advances, 3);
    assert_int_equal(F.idle_waits, 1);
}

static void test_hlt_skip_capped_by_time_limit(void **s)
{
    (void)s;
    setup_limit(4000000);
    pic_and_pit(11932);
    F.rflags = VM_POLICY_RFLAGS_IF;
    F.tsc = 2000000;
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.tsc, 4000000);
    assert_false(vm_devices_intr(&F.dev));
}

static void test_hlt_with_nothing_due_stops_idle_unless_input_wakes(void **s)
{
    (void)s;
    setup();
    F.rflags = VM_POLICY_RFLAGS_IF;
    F.tsc = 5000;
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.p.stop, VM_STOP_IDLE);
    assert_int_equal(F.idle_deadline, UINT64_MAX);
    setup();
    F.rflags = VM_POLICY_RFLAGS_IF;
    F.idle_wakes = true; /* interactive: a key was typed */
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.p.stop, VM_RUNNING);
    assert_int_equal(F.tsc, 0);
}

static void test_hlt_wait_that_ends_in_input_skips_no_time(void **s)
{
    (void)s;
    setup();
    pic_and_pit(11932);
    F.rflags = VM_POLICY_RFLAGS_IF;
    F.tsc = 2000000;
    F.idle_wakes = true; /* realtime: typing ended the wait */
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.tsc, 2000000);
    assert_int_equal(F.idle_deadline,
                     vm_policy_ns_to_tsc_ceil(vm_devices_next_event_ns(&F.dev, 2000000), HZ));
    assert_int_equal(F.p.hlt_skipped_ns, 0);
}

static void test_ns_to_tsc_ceil_is_the_inverse_of_the_floor(void **s)
{
    (void)s;
    static const uint64_t hz[] = {50000000ull, 1193182ull, 3000000000ull, 2999999999ull};
    for (size_t i = 0; i < sizeof hz / sizeof hz[0]; i++)
        for (uint64_t ns = 0; ns < 5000000000ull; ns += 999999937ull) {
            uint64_t t = vm_policy_ns_to_tsc_ceil(ns, hz[i]);
            assert_true(vm_rec_tsc_to_ns(t, hz[i]) >= ns);
            assert_true(t == 0 || vm_rec_tsc_to_ns(t - 1, hz[i]) < ns);
        }
}

/* ---- NMIs (SDM Vol. 3 "NMI Handling", 24.4.2, 26.3.1.5) ---- */

#define LAPIC_GPA 0xfee00000ull

/* The APIC platform (the BSP's local APIC as a BIOS leaves it), IF=1. */
static void setup_apic(void)
{
    memset(&F, 0, sizeof F);
    F.injected = -1;
    const struct vm_devices_config cfg = {.apic = true, .tsc_hz = HZ};
    vm_devices_init(&F.dev, &cfg, NULL, 0);
    const struct vm_policy_config pc = {.tsc_hz = HZ};
    vm_policy_init(&F.p, &ops, &F, &F.dev, &pc);
    F.rflags = VM_POLICY_RFLAGS_IF;
    F.interruptible = true;
}

/* An IPI from the BSP to itself (physical destination 0): ICR high, then
 * ICR low sends (mode: bits 10:8). */
static void self_ipi(uint32_t lo)
{
    uint32_t hi = 0, v = lo;
    assert_int_equal(vm_devices_mmio_cpu(&F.dev, 0, LAPIC_GPA + 0x310, 4, true, &hi, 0), DEV_IO_OK);
    assert_int_equal(vm_devices_mmio_cpu(&F.dev, 0, LAPIC_GPA + 0x300, 4, true, &v, 0), DEV_IO_OK);
}

#define ICR_NMI   (4u << 8)
#define ICR_FIXED 0u

static void test_nmi_injected_and_taken_from_the_devices(void **s)
{
    (void)s;
    setup_apic();
    vm_policy_prepare_entry(&F.p); /* nothing pending: nothing happens */
    assert_int_equal(F.nmis_injected + F.nmi_takes, 0);
    self_ipi(ICR_NMI);
    assert_true(vm_devices_nmi_cpu(&F.dev, 0));
    F.tsc = 1000;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.nmi_takes, 1);
    assert_int_equal(F.nmis_injected, 1);
    assert_int_equal(F.p.injected_nmis, 1);
    assert_false(F.nmi_window);
    assert_int_equal(F.nmi_blocked, 0);
    assert_false(vm_devices_nmi_cpu(&F.dev, 0)); /* taken when injected */
    assert_int_equal(F.injected, -1);            /* no external interrupt */
    assert_int_equal(F.blocked, 0);
    /* the next entry finds nothing */
    F.queued = false;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.nmis_injected, 1);
}

/* Blocking by NMI (an NMI handler before its IRET) and MOV-SS blocking
 * hold the NMI: the NMI window is asked for, the NMI stays in the devices
 * and is injected at the first entry that may take it. */
static void test_nmi_held_by_nmi_and_mov_ss_blocking(void **s)
{
    (void)s;
    static const uint32_t holds[] = {8u, 2u, 8u | 1u};
    for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++) {
        setup_apic();
        self_ipi(ICR_NMI);
        F.blocking = holds[i];
        F.tsc = 1000;
        vm_policy_prepare_entry(&F.p);
        assert_int_equal(F.nmis_injected, 0);
        assert_int_equal(F.nmi_takes, 0);
        assert_true(F.nmi_window);
        assert_int_equal(F.nmi_blocked, 1);
        assert_int_equal(F.p.nmi_windows, 1);
        assert_true(vm_devices_nmi_cpu(&F.dev, 0));
        /* the NMI-window exit: the IRET (or the MOV SS shadow) is past */
        F.blocking = 0;
        F.tsc += 100;
        vm_policy_prepare_entry(&F.p);
        assert_int_equal(F.nmis_injected, 1);
        assert_false(F.nmi_window);
        assert_int_equal(F.nmi_blocked, 1);
        assert_false(vm_devices_nmi_cpu(&F.dev, 0));
    }
}

/* IF=0 and an STI shadow mask maskable interrupts only. */
static void test_nmi_not_held_by_if_or_sti_shadow(void **s)
{
    (void)s;
    setup_apic();
    self_ipi(ICR_NMI);
    F.rflags = 0;
    F.interruptible = false;
    F.blocking = 1u; /* blocking by STI */
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.nmis_injected, 1);
    assert_false(F.nmi_window);
    assert_false(vm_devices_nmi_cpu(&F.dev, 0));
}

/* An NMI and a maskable interrupt pending at one entry: the NMI goes in,
 * the interrupt waits for the interrupt window (one event per entry), and
 * goes in at the next entry. */
static void test_nmi_before_a_pending_interrupt(void **s)
{
    (void)s;
    setup_apic();
    self_ipi(ICR_FIXED | 0x41);
    self_ipi(ICR_NMI);
    assert_true(vm_devices_intr_cpu(&F.dev, 0));
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.nmis_injected, 1);
    assert_int_equal(F.injected, -1);
    assert_int_equal(F.acks, 0);
    assert_true(F.window);
    assert_int_equal(F.blocked, 1);
    assert_true(vm_devices_intr_cpu(&F.dev, 0));
    /* the window exit after the handler's IRET */
    F.queued = false;
    vm_policy_prepare_entry(&F.p);
    assert_int_equal(F.nmis_injected, 1);
    assert_int_equal(F.injected, 0x41);
    assert_false(F.window);
}

/* HLT with an NMI pending resumes at once, IF=0 or not (no power-off). */
static void test_hlt_with_nmi_pending_resumes(void **s)
{
    (void)s;
    setup_apic();
    self_ipi(ICR_NMI);
    F.rflags = 0;
    F.tsc = 5000;
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.p.stop, VM_RUNNING);
    assert_int_equal(F.tsc, 5000);
    F.rflags = VM_POLICY_RFLAGS_IF;
    vm_policy_halt(&F.p, F.tsc);
    assert_int_equal(F.p.stop, VM_RUNNING);
    assert_int_equal(F.tsc, 5000);
    assert_int_equal(F.idle_waits, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_without_due_event_does_not_advance),
        cmocka_unit_test(test_due_event_advances_and_injects_when_interruptible),
        cmocka_unit_test(test_event_due_exactly_now_is_taken),
        cmocka_unit_test(test_blocked_guest_gets_the_window_not_the_vector),
        cmocka_unit_test(test_time_limit_stops_before_entry_and_caps_the_timer),
        cmocka_unit_test(test_no_device_deadline_arms_no_timer),
        cmocka_unit_test(test_host_input_polled_every_256_entries),
        cmocka_unit_test(test_in_merges_into_rax_by_size),
        cmocka_unit_test(test_out_leaves_rax),
        cmocka_unit_test(test_rep_outsb_one_element_per_exit),
        cmocka_unit_test(test_insw_df_and_16bit_wrap),
        cmocka_unit_test(test_string_operand_fault_injects_pf_before_any_access),
        cmocka_unit_test(test_hlt_with_if_clear_powers_off),
        cmocka_unit_test(test_nmi_injected_and_taken_from_the_devices),
        cmocka_unit_test(test_nmi_held_by_nmi_and_mov_ss_blocking),
        cmocka_unit_test(test_nmi_not_held_by_if_or_sti_shadow),
        cmocka_unit_test(test_nmi_before_a_pending_interrupt),
        cmocka_unit_test(test_hlt_with_nmi_pending_resumes),
        cmocka_unit_test(test_hlt_skips_to_the_next_deadline),
        cmocka_unit_test(test_hlt_skip_capped_by_time_limit),
        cmocka_unit_test(test_hlt_with_nothing_due_stops_idle_unless_input_wakes),
        cmocka_unit_test(test_hlt_wait_that_ends_in_input_skips_no_time),
        cmocka_unit_test(test_ns_to_tsc_ceil_is_the_inverse_of_the_floor),
    };
    return cmocka_run_group_tests_name("vm_policy", tests, NULL, NULL);
}
