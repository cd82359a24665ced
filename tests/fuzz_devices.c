/* The record/replay promise under hostile guests: an input byte string is
 * read as a guest's device traffic on a platform it chooses (legacy
 * XT-PIC; APIC with 1, 2, 3 or 4 vCPUs): port accesses of every size to
 * every device (ACPI PM1 and PM timer included) and to random ports, local
 * APIC MMIO on any vCPU (every register, ICR in every delivery mode,
 * shorthand and destination mode, the timer in every mode, LVTs, TPR, EOI,
 * SVR, misaligned and odd-sized accesses, a moved page), IA32_APIC_BASE,
 * IA32_TSC_DEADLINE and x2APIC MSRs, I/O APIC index/data/EOI, time steps
 * from nanoseconds to seconds, interrupt acknowledges on the running vCPU
 * while its INTR is high, INIT/SIPI (the APs started as hv/vm.c starts
 * them, with a CpuStart record), vCPU switches, UART receive bytes, other
 * exits; played through hv/record exactly as the hypervisor does, and the
 * resulting trace must
 *   - decode with no damage, end with its End record and hold every exit;
 *   - replay through a fresh device set with 0 divergences (IN values,
 *     IRQ/INTR/request outputs with their times, injected vectors, device
 *     state at every checkpoint);
 * after every call, ticking a copy of the devices to the same instant must
 * leave its state unchanged (what checkpoints rely on), and a tick of the
 * recorded devices themselves at random such instants (as a checkpoint
 * makes, unrecorded) must change nothing the replay sees;
 * and at random points the device state must save, restore into another
 * device set and save again to the same bytes. Any violation aborts with a
 * report (so libFuzzer keeps the input); ASan/UBSan catch the rest.
 *
 * Two drivers share the harness:
 *   build/fuzz/fuzz_devices   libFuzzer (clang), `make fuzz-devices`
 *   build/host/tests/fuzz_devices [N [SEED]]
 *                             a self-check (the trace recorded with the real
 *                             models, replayed through subtle mutants of
 *                             hv/devs from tests/mutants/, must diverge),
 *                             then N pseudo-random inputs from SEED
 *                             (gcc, ASan + UBSan); `make devs-soak` runs it
 *                             in make test. `fuzz_devices FILE` plays one
 *                             saved input (FUZZ_DEVICES_TRACE=PATH keeps
 *                             its trace for hvrr dump/replay).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-sim/replay.h"
#include "host-sim/replay_testutil.h"
#include "hv/record/recorder.h"
#include "hv/vm_policy.h"
#include "trace/xorshift.h"

#ifndef HVRR_LIBFUZZER
/* The self-check's mutants (tests/tests.mk SOAK_MUTANTS). */
DECLARE_MUTANT(pit_mode3_odd_count);
DECLARE_MUTANT(uart_iir_read_clears_thre_always);
DECLARE_MUTANT(pic_specific_eoi_rotates);
DECLARE_MUTANT(ioapic_masked_edge_kept);
DECLARE_MUTANT(lapic_ppr_equal_class_delivered);
DECLARE_MUTANT(lapic_sipi_while_running);
#endif

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned u16(struct in *in)
{
    return u8(in) | u8(in) << 8;
}

static uint32_t u32(struct in *in)
{
    return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

/* Every port a device of the per-VM set decodes, some twice (the common
 * ones), and the neighbours of each range. */
static const uint16_t ports[] = {
    0x20,
    0x21,
    0x20,
    0x21,
    0xa0,
    0xa1,
    0x4d0,
    0x4d1,
    0x40,
    0x41,
    0x42,
    0x43,
    0x40,
    0x42,
    0x43,
    0x61,
    0x61,
    0x3f8,
    0x3f9,
    0x3fa,
    0x3fb,
    0x3fc,
    0x3fd,
    0x3fe,
    0x3ff,
    0x3f8,
    0x3fd,
    0x70,
    0x71,
    0x70,
    0x71,
    0xcf8,
    0xcf9,
    0xcfa,
    0xcfb,
    0xcfc,
    0xcfd,
    0xcfe,
    0xcff,
    0xcf8,
    0xcfc,
    0x80,
    0x60,
    0x64,
    0x64,
    0x1f,
    0x22,
    0x44,
    0x3f7,
    0x400,
    0x72,
    0xcf7,
    0xd00,
    0x81,
    0x92,
    0x2f8,
    /* ACPI PM1 status/enable/control and the PM timer (APIC platform) */
    0x600,
    0x602,
    0x604,
    0x608,
    0x608,
    0x601,
    0x603,
    0x605,
    0x609,
    0x60a,
    0x5ff,
    0x60c,
};

struct fail {
    char why[512];
};

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(f->why, sizeof f->why, __VA_ARGS__);                                          \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static struct vm_devices dev, scratch;
static struct vm_devices_config devcfg; /* the platform of the input being played */
static struct vm_recorder rec;

/* The guest CPUs the input drives, as the exit policy (hv/vm_policy.h) sees
 * them: the policy decides, exactly as in the hypervisor, when devices
 * advance, when an interrupt is injected or the window asked for, how HLT
 * moves time, how an IN merges into RAX and how string I/O steps. Several
 * vCPUs share one physical CPU and one clock (the hypervisor's round
 * robin, hv/vm.c): the running one is `cur`, the policy's cpu. */
struct fcpu {
    uint64_t regs[16], rflags;
    bool shadow;     /* STI / MOV SS blocking */
    bool window;     /* interrupt window asked for */
    uint8_t mem[64]; /* the string operand's memory (linear 0x1000..) */
    uint64_t injected;
};
static struct fcpu vcpu[VM_DEVICES_MAX_CPUS];
static uint64_t guest_tsc; /* the one guest clock */
static unsigned ncpu, cur;
/* The hypervisor's view of each AP (hv/vm.c cpu_events): waiting for a
 * SIPI (not runnable) until one starts it. */
static bool wait_sipi[VM_DEVICES_MAX_CPUS];
static uint32_t ioregsel; /* the last I/O APIC index the guest selected */
static struct vm_policy pol;

/* What the inputs reached, summed over a run (the soak prints it). */
static struct reach {
    uint64_t inputs[4]; /* legacy, apic 1 vCPU, 2 vCPUs, 3-4 vCPUs */
    uint64_t mmio, msrs, cpu_starts, injects, ap_exits, switches, checkpoints;
} reach;

static uint64_t op_reg(void *c, unsigned r)
{
    return ((struct fcpu *)c)->regs[r & 15];
}
static void op_set_reg(void *c, unsigned r, uint64_t v)
{
    ((struct fcpu *)c)->regs[r & 15] = v;
}
static uint64_t op_rflags(void *c)
{
    return ((struct fcpu *)c)->rflags;
}
static bool op_interruptible(void *c)
{
    struct fcpu *f = c;
    return (f->rflags & VM_POLICY_RFLAGS_IF) && !f->shadow;
}
static void op_inject(void *c, uint8_t v)
{
    (void)v;
    ((struct fcpu *)c)->injected++;
}
static void op_inject_pf(void *c, uint64_t cr2, uint32_t err)
{
    (void)c, (void)cr2, (void)err;
}
static void op_window(void *c, bool on)
{
    ((struct fcpu *)c)->window = on;
}
static void op_skip(void *c)
{
    ((struct fcpu *)c)->shadow = false;
}
static enum vm_policy_map op_map(void *c, uint64_t la, bool write, uint8_t **p, uint32_t *err)
{
    struct fcpu *f = c;
    if (la >= 0x1000 && la < 0x1000 + sizeof f->mem) {
        *p = &f->mem[la - 0x1000];
        return VM_POLICY_MAP_OK;
    }
    *err = write ? 6 : 4; /* user, not present */
    return VM_POLICY_MAP_PF;
}
static uint64_t op_tsc_now(void *c)
{
    (void)c;
    return guest_tsc;
}
static void op_skip_tsc(void *c, uint64_t d)
{
    (void)c;
    guest_tsc += d;
}
static uint32_t op_io(void *c, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                      bool write, uint32_t value)
{
    (void)c;
    return vm_rec_io(&rec, x, port, size, write, value);
}
static void op_advance(void *c, uint64_t tsc)
{
    (void)c;
    vm_rec_advance(&rec, tsc);
}
static uint8_t op_ack(void *c, uint64_t tsc)
{
    (void)c;
    reach.injects++;
    return vm_rec_ack(&rec, tsc);
}
static void op_blocked(void *c, uint64_t tsc)
{
    (void)c;
    vm_rec_blocked(&rec, tsc);
}
static const struct vm_policy_ops fuzz_ops = {
    .reg = op_reg,
    .set_reg = op_set_reg,
    .rflags = op_rflags,
    .interruptible = op_interruptible,
    .inject_extint = op_inject,
    .inject_pf = op_inject_pf,
    .set_intr_window = op_window,
    .skip_insn = op_skip,
    .end_interrupt_shadow = op_skip,
    .map_operand = op_map,
    .tsc_now = op_tsc_now,
    .skip_tsc = op_skip_tsc,
    .io = op_io,
    .advance = op_advance,
    .ack = op_ack,
    .blocked = op_blocked,
};

static struct vm_rec_exit_info exit_info(uint64_t rip)
{
    return (struct vm_rec_exit_info){.tsc = guest_tsc, .rip = rip, .insn_len = 1, .vcpu = cur};
}

static void plain_exit(uint32_t reason, uint64_t rip)
{
    struct trace_exit e = {.tsc = guest_tsc, .reason = reason, .rip = rip, .vcpu = cur};
    vm_rec_exit(&rec, &e);
}

/* The running vCPU becomes v (hv/vm.c switch_to): the policy, the
 * recorder's Inject / IntrBlocked stamps and the next exits are its. */
static void switch_to(unsigned v)
{
    if (v != cur)
        reach.switches++;
    cur = v;
    pol.cpu = v;
    pol.ctx = &vcpu[v];
    rec.vcpu = v;
}

/* INIT and SIPI the local APICs received, as the hypervisor acts on them
 * before an entry (hv/vm.c cpu_events): an INIT stops an AP, a SIPI starts
 * a waiting one (both events taken, a CpuStart record written). The
 * running vCPU stopped by an INIT gives the CPU to the BSP. */
static void cpu_events(void)
{
    for (unsigned i = 1; i < ncpu; i++) {
        uint32_t ev = vm_devices_cpu_events(&dev, i);
        if (ev & VM_CPU_EV_INIT)
            wait_sipi[i] = true;
        if ((ev & VM_CPU_EV_SIPI) && wait_sipi[i]) {
            uint8_t vector = vm_devices_sipi_vector(&dev, i);
            vm_devices_cpu_events_take(&dev, i, VM_CPU_EV_INIT | VM_CPU_EV_SIPI);
            wait_sipi[i] = false;
            struct trace_dev_event ev = {.tsc = guest_tsc, .kind = TRACE_DEV_CPU_START};
            ev.u.cpu_start.vcpu = i;
            ev.u.cpu_start.vector = vector;
            vm_rec_policy(&rec, &ev);
            reach.cpu_starts++;
        }
    }
    if (wait_sipi[cur])
        switch_to(0);
}

/* The VM entry of the running vCPU (after every exit, and at a switch). */
static void entry(void)
{
    if (ncpu > 1)
        cpu_events();
    vm_policy_prepare_entry(&pol);
}

/* Destination fields a guest uses: physical IDs 0..3, broadcast, logical
 * flat bit sets, logical cluster IDs. */
static const uint8_t dests[16] = {0,    1,    2,    3,    0xff, 0x01, 0x02, 0x04,
                                  0x08, 0x03, 0x06, 0x0f, 0x0e, 0x11, 0x21, 0xf0};

/* A vector: mostly one of a few that share priority classes (so nesting,
 * priority and same-vector edge/level cases come up), else any byte
 * (below 16 illegal). */
static unsigned vec(struct in *in)
{
    static const uint8_t v[16] = {0x20, 0x21, 0x22, 0x2f, 0x30, 0x31, 0x3f, 0x40,
                                  0x41, 0xec, 0xed, 0xef, 0xfb, 0xfd, 0xfe, 0xff};
    unsigned k = u8(in);
    return k < 0xc0 ? v[k & 15] : k;
}

/* A value for a write to local APIC register off (xAPIC offset): raw 32
 * bits (shaped false) or one of the values a guest writes there. */
static uint64_t lapic_value(struct in *in, uint32_t off, bool shaped, bool x2)
{
    if (!shaped)
        return u32(in);
    unsigned k = u8(in);
    switch (off) {
    case LAPIC_ICR_HI:
    case LAPIC_LDR: return (uint32_t)dests[k & 15] << 24;
    case LAPIC_ID: return (uint32_t)(k & 3) << 24;
    case LAPIC_DFR: return k & 1 ? 0xffffffffu : 0x0fffffffu;
    case LAPIC_SVR:
        return (k & 3 ? APIC_SVR_ENABLE : 0) | (k & 4 ? APIC_SVR_NO_BCAST : 0) | vec(in);
    case LAPIC_TPR: return k;
    case LAPIC_EOI: return 0;
    case LAPIC_TMICT: return u16(in) >> (k & 7);
    case LAPIC_TDCR: return k & 0xb;
    case LAPIC_ICR_LO: { /* vector, delivery mode, destination mode, level, trigger, shorthand */
        uint32_t v = u8(in) << 8 | vec(in);
        uint32_t lo = (v & 0x0fff) | (k & 1 ? 0x4000u : 0) | (k & 2 ? 0x8000u : 0) |
                      (uint32_t)(k >> 2 & 3) << 18;
        if (x2)
            return (uint64_t)(k & 0x10 ? 0xffffffffu : dests[k >> 4 & 3] & 3) << 32 | lo;
        return lo;
    }
    default:
        if (off >= LAPIC_LVT_TMR && off <= LAPIC_LVT_ERR) { /* vector, mode, masked, timer mode */
            uint32_t v = u8(in) << 8 | vec(in);
            return (v & 0x7ff) | (k & 1 ? APIC_LVT_LOW : 0) | (k & 2 ? APIC_LVT_LEVEL : 0) |
                   (k & 4 ? APIC_LVT_MASKED : 0) | (uint32_t)(k >> 3 & 3) << 17;
        }
        return u32(in);
    }
}

/* One MMIO exit of the running vCPU, recorded as hv/vm.c's handle_mmio
 * does (vm_rec_mmio: an 8-byte access is two 4-byte device calls). */
static void mmio_exit(uint64_t gpa, unsigned size, bool write, uint64_t value)
{
    struct vm_rec_exit_info x = exit_info(0x6000 + (gpa & 0xfff));
    if (size < 8) /* the store's operand is as wide as the access (mmio_store_value) */
        value &= (1ull << 8 * size) - 1;
    vm_rec_mmio(&rec, &x, gpa, size, write, value);
    reach.mmio++;
}

/* A local APIC register access: any offset of the page (every register,
 * misaligned and odd-sized ones too), at the default base or where the
 * vCPU's IA32_APIC_BASE put it. */
static void lapic_op(struct in *in)
{
    /* half of them to the registers a guest uses most */
    static const uint16_t hot[16] = {
        LAPIC_EOI,    LAPIC_EOI,        LAPIC_ICR_LO,     LAPIC_ICR_LO,
        LAPIC_ICR_HI, LAPIC_TPR,        LAPIC_TMICT,      LAPIC_LVT_TMR,
        LAPIC_SVR,    LAPIC_ISR + 0x70, LAPIC_IRR + 0x30, LAPIC_TMCCT,
        LAPIC_TDCR,   LAPIC_LDR,        LAPIC_LVT_LINT0,  LAPIC_TMR + 0x20};
    unsigned a = u8(in), b = u8(in);
    uint32_t off = a & 0x40 ? hot[a & 15] : (a & 0x3f) << 4;
    static const uint8_t sizes[8] = {4, 4, 4, 4, 4, 8, 1, 2};
    unsigned size = sizes[b >> 1 & 7];
    if (b & 0x10)
        off |= (a >> 6) * 4 + (size < 4);
    uint64_t base = b & 0x20 ? dev.lapic[cur].apic_base & ~0xfffull : LAPIC_DEFAULT_BASE;
    bool write = b & 1;
    uint64_t v = write ? lapic_value(in, off & ~0xfu, b & 0xc0, false) : 0;
    if (size == 8)
        v |= (uint64_t)u32(in) << 32;
    mmio_exit(base + off, size, write, v);
}

/* The I/O APIC: index, data (redirection entries and the ID, version,
 * arbitration registers), the EOI register, anything else in its page. */
static void ioapic_op(struct in *in)
{
    unsigned a = u8(in);
    uint64_t g = IOAPIC_DEFAULT_BASE;
    switch (a & 3) {
    case 0: { /* select a register */
        unsigned k = u8(in);
        ioregsel = k & 0x80 ? IOAPIC_REG_REDIR + (k & 0x3f) % (2 * IOAPIC_PINS) : k & 0x83;
        mmio_exit(g + IOAPIC_IOREGSEL, 4, true, ioregsel);
        break;
    }
    case 1: { /* its data window */
        bool write = a & 4;
        uint32_t v = 0;
        if (write && (a & 8)) {
            unsigned k = u8(in);
            if (ioregsel >= IOAPIC_REG_REDIR && (ioregsel & 1)) /* destination */
                v = (uint32_t)dests[k & 15] << 24;
            else /* vector, delivery mode, destination mode, polarity, trigger, mask */
                v = ((u8(in) << 8 | vec(in)) & 0x0fff) | (k & 1 ? IOAPIC_RTE_LOW : 0) |
                    (k & 2 ? IOAPIC_RTE_LEVEL : 0) | (k & 0xc ? 0 : IOAPIC_RTE_MASKED);
        } else if (write) {
            v = u32(in);
        }
        mmio_exit(g + IOAPIC_IOWIN, 4, write, v);
        break;
    }
    case 2: /* EOI register */ mmio_exit(g + IOAPIC_EOIR, 4, true, u8(in)); break;
    default: { /* any offset and size, or outside both pages */
        static const uint8_t sizes[4] = {1, 2, 4, 8};
        unsigned off = u16(in);
        if (a & 0x10)
            g = (a & 0x20) ? 0xfee00000ull + 0x1000 : (uint64_t)u32(in) << 4;
        uint64_t v = (a & 4) ? u32(in) : 0;
        mmio_exit(g + (off & 0xfff), sizes[a >> 2 & 3], a & 4, v);
        break;
    }
    }
}

/* RDMSR/WRMSR of a local APIC MSR: IA32_APIC_BASE (mode changes, moving
 * and disabling the page), IA32_TSC_DEADLINE, the x2APIC registers. Not
 * one the models own (no APIC): a plain exit, as hv/vm.c leaves it to the
 * vCPU policy. */
static void msr_op(struct in *in)
{
    unsigned a = u8(in), b = u8(in);
    bool write = b & 1;
    uint32_t msr;
    uint64_t v = 0;
    if (a < 0x30) {
        msr = MSR_IA32_APIC_BASE;
        static const uint64_t bases[6] = {LAPIC_DEFAULT_BASE | APIC_BASE_EN,
                                          LAPIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD,
                                          LAPIC_DEFAULT_BASE,
                                          LAPIC_DEFAULT_BASE | APIC_BASE_EXTD,
                                          0xfe000000ull | APIC_BASE_EN,
                                          LAPIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_BSP};
        unsigned k = b >> 1 & 7;
        v = k < 6 ? bases[k] : k == 6 ? u32(in) : (uint64_t)u32(in) << 32 | u32(in);
    } else if (a < 0x50) {
        msr = MSR_IA32_TSC_DEADLINE;
        unsigned k = b >> 1 & 3;
        /* k == 1: due one TSC tick after the next operation's exit (its
         * cost, 1 + 37 * (op >> 4), read ahead) */
        v = k == 0   ? 0
            : k == 1 ? guest_tsc + 2 + 37 * (in->n ? in->p[0] >> 4 : 0)
            : k == 2 ? guest_tsc + ((uint64_t)u16(in) << (u8(in) & 15))
                     : u32(in);
    } else {
        msr = MSR_X2APIC_FIRST + (a & 0x80 ? u8(in) : (a & 0x3f));
        uint32_t off = (msr - MSR_X2APIC_FIRST) << 4;
        if (write)
            v = b & 0x80 ? (uint64_t)u32(in) << 32 | u32(in) : lapic_value(in, off, b & 0x40, true);
    }
    struct vm_rec_exit_info x = exit_info(0x7000);
    x.insn_len = 2;
    if (vm_rec_msr(&rec, &x, msr, write, &v) == 1)
        plain_exit(write ? TRACE_EXIT_WRMSR : TRACE_EXIT_RDMSR, 0x7000);
    reach.msrs++;
}

static void lapic_write_exit(uint32_t off, uint32_t v)
{
    guest_tsc += 500;
    mmio_exit(LAPIC_DEFAULT_BASE + off, 4, true, v);
    entry();
}

/* Linux's wakeup_secondary_cpu_via_init() on the running vCPU: INIT
 * assert, INIT de-assert, SIPI, SIPI to one AP (each an exit, with its
 * entry); then, if asked, the AP's setup_local_APIC() (software enable,
 * logical flat ID, TPR 0) on the AP, if it runs. */
static void wake_ap(struct in *in)
{
    unsigned k = u8(in), ap = 1 + k % (ncpu - 1), vector = u8(in);
    static const uint32_t lo[4] = {0xc500, 0x8500, 0x0600, 0x0600};
    for (unsigned i = 0; i < 4; i++) {
        lapic_write_exit(LAPIC_ICR_HI, ap << 24);
        lapic_write_exit(LAPIC_ICR_LO, lo[i] | (i >= 2 ? vector : 0));
    }
    if (!(k & 0xc0) || wait_sipi[ap] || (dev.lapic[ap].apic_base & APIC_BASE_EXTD))
        return;
    unsigned was = cur;
    switch_to(ap);
    entry();
    lapic_write_exit(LAPIC_SVR, APIC_SVR_ENABLE | 0xff);
    lapic_write_exit(LAPIC_LDR, (1u << ap) << 24);
    lapic_write_exit(LAPIC_TPR, 0);
    if (!wait_sipi[was])
        switch_to(was);
    entry();
}

static uint8_t blob1[VM_DEVICES_SAVE_MAX], blob2[VM_DEVICES_SAVE_MAX];

static size_t first_diff(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    return (i == na && nb == na) ? SIZE_MAX : i;
}

/* blob1 (n1 bytes) -> restore into a fresh set of the same platform ->
 * (tick it: every device to its now) -> save into blob2. False with
 * f->why if restoring fails; else *n2 is blob2's length. */
static bool reload(size_t n1, bool tick, struct fail *f, size_t *n2)
{
    vm_devices_init(&scratch, &devcfg, NULL, 0);
    if (vm_devices_restore(&scratch, blob1, n1) != 0) {
        snprintf(f->why, sizeof f->why, "vm_devices_restore refused its own %zu-byte blob", n1);
        return false;
    }
    if (tick)
        vm_devices_sync(&scratch);
    *n2 = vm_devices_save(&scratch, blob2, sizeof blob2);
    return true;
}

/* State -> save -> restore elsewhere -> save: the same bytes. */
static bool save_restore_exact(struct fail *f)
{
    size_t n1 = vm_devices_save(&dev, blob1, sizeof blob1), n2, at;
    if (!n1) {
        snprintf(f->why, sizeof f->why, "vm_devices_save failed");
        return false;
    }
    if (!reload(n1, false, f, &n2))
        return false;
    if ((at = first_diff(blob1, n1, blob2, n2)) != SIZE_MAX) {
        snprintf(f->why, sizeof f->why,
                 "save/restore/save differs in a %zu-byte blob, first at %zu", n1, at);
        return false;
    }
    return true;
}

/* The first field where two blobs differ (vm_devices_compare), for the
 * report. */
static struct vm_devices cmp_scratch[2];
struct first_field {
    char path[96];
    uint64_t want, got;
};
static void note_field(void *ctx, const char *path, uint64_t want, uint64_t got)
{
    struct first_field *ff = ctx;
    if (ff->path[0])
        return;
    snprintf(ff->path, sizeof ff->path, "%s", path);
    ff->want = want;
    ff->got = got;
}

/* Ticking to the instant of the last call right after it changes nothing:
 * a checkpoint is the state after the last call with every device ticked
 * to that instant (vm_devices_sync), and the replay ticks to the
 * checkpoint's time before comparing (recorder.h). On the APIC platform
 * every call ticks every device (every local APIC) to its instant, so a
 * copy ticked there must save the same bytes (a call that left an event
 * due at its own instant fails this: lapic.c's MMIO timer case); on the
 * legacy one the devices' own clocks may lag behind the last call (the
 * cached deadlines skip ticks), so the copy ticked once must tick again
 * to the same bytes. */
static bool idempotent_at_now(struct fail *f, unsigned op, uint64_t exits)
{
    size_t n1 = vm_devices_save(&dev, blob1, sizeof blob1), n2, at;
    if (!n1) {
        snprintf(f->why, sizeof f->why, "vm_devices_save failed");
        return false;
    }
    if (!devcfg.apic) {
        if (!reload(n1, true, f, &n2))
            return false;
        memcpy(blob1, blob2, n2);
        n1 = n2;
    }
    if (!reload(n1, true, f, &n2))
        return false;
    if ((at = first_diff(blob1, n1, blob2, n2)) != SIZE_MAX) {
        struct first_field ff;
        memset(&ff, 0, sizeof ff);
        vm_devices_compare(blob1, n1, blob2, n2, cmp_scratch, note_field, &ff);
        snprintf(f->why, sizeof f->why,
                 "ticking to the same instant after op %u (exit %llu) changed the state at "
                 "byte %zu of %zu: %s 0x%llx -> 0x%llx",
                 op & 15, (unsigned long long)exits, at, n1, ff.path, (unsigned long long)ff.want,
                 (unsigned long long)ff.got);
        return false;
    }
    return true;
}

/* Plays one input; 0 if every property held, else 1 with f->why set.
 * bug != NULL replays through that mutated hv/devs instead (the
 * self-check): then 0 means the replay diverged, as it must.
 *
 * Input: a platform byte (legacy; APIC with 1, 2, 3 or 4 vCPUs), a TSC
 * rate and start, checkpoint interval and RTC epoch, then operations, one
 * byte each (low 4 bits the operation, high 4 bits the guest time it
 * costs) with their operands. */
static int run_one(const uint8_t *data, size_t len, const struct vm_devices_ops *bug,
                   struct fail *f)
{
    static const uint64_t hz_choice[] = {50000000ull, 1000000000ull, 3000000000ull, 1193182ull};
    static const uint8_t cpus_choice[8] = {0, 0, 1, 1, 2, 2, 3, 4}; /* 0: legacy */
    struct in in = {data, len};
    f->why[0] = 0;
    int bad = 1;
    struct trace_membuf m;
    struct trace_writer *w = rt_writer(&m);
    if (!w) {
        snprintf(f->why, sizeof f->why, "no writer");
        return 1;
    }
    unsigned plat = cpus_choice[u8(&in) & 7];
    unsigned cfgb = u8(&in);
    uint64_t hz = hz_choice[cfgb & 3];
    guest_tsc = 1000 + (cfgb >> 2);
    ncpu = plat ? plat : 1;
    reach.inputs[plat == 0 ? 0 : plat == 1 ? 1 : plat == 2 ? 2 : 3]++;
    struct vm_recorder_config rc = {.w = w,
                                    .tsc_hz = hz,
                                    .ram_bytes = 64ull << 20,
                                    .vcpus = ncpu,
                                    .hv_build_id = "fuzz",
                                    .cmdline = "fuzz",
                                    .checkpoint_every = 1 + u8(&in) % 16,
                                    .start_tsc = guest_tsc,
                                    .entry_decisions = true};
    devcfg = (struct vm_devices_config){.rtc_epoch_sec = 1700000000ull + u16(&in),
                                        .apic = plat != 0,
                                        .tsc_hz = plat ? hz : 0,
                                        .cpus = ncpu};
    CHECK(vm_recorder_init(&rec, &dev, &devcfg, NULL, &rc) == 0, "vm_recorder_init failed");

    memset(vcpu, 0, sizeof vcpu);
    for (unsigned i = 0; i < VM_DEVICES_MAX_CPUS; i++)
        wait_sipi[i] = i > 0;
    ioregsel = 0;
    const struct vm_policy_config pc = {.tsc_hz = hz};
    vm_policy_init(&pol, &fuzz_ops, &vcpu[0], &dev, &pc);
    cur = 0;
    switch_to(0);
    uint64_t exits = 0, starts0 = reach.cpu_starts;
    entry();
    while (in.n) {
        unsigned op = u8(&in);
        struct fcpu *cpu = &vcpu[cur];
        uint64_t seq0 = rec.seq;
        guest_tsc += 1 + (op >> 4) * 37; /* every exit costs the guest some time */
        unsigned kind = op & 15;
        if (!devcfg.apic && kind >= 4 && kind <= 6)
            kind = 0; /* no MMIO nor APIC MSRs on the legacy platform: port I/O */
        switch (kind) {
        case 0:
        case 1:
        case 2:
        case 3: { /* port access: IN/OUT, or INS/OUTS (REP) on a small buffer */
            unsigned a = u8(&in);
            uint16_t port = (a & 0x80) == 0x80 && (a & 0x40) ? (uint16_t)u16(&in)
                                                             : ports[a % (sizeof ports / 2)];
            unsigned b = u8(&in);
            unsigned size = (b & 3) == 3 ? 4 : (b & 3) == 2 ? 2 : 1;
            bool write = b & 4;
            uint32_t v = (b & 8) ? u32(&in) : u8(&in);
            struct vm_policy_io io = {.x = exit_info(0x1000 + exits),
                                      .port = port,
                                      .size = (uint8_t)size,
                                      .in = !write,
                                      .value = v};
            if ((b & 0x30) == 0x30) { /* string, 16-bit addresses */
                io.string = true;
                io.rep = b & 0x40;
                io.addr_bits = 16;
                io.gla = 0x1000 + (v & 0x3f);
                cpu->regs[VM_POLICY_RCX] = v >> 6 & 3;
                cpu->regs[write ? VM_POLICY_RSI : VM_POLICY_RDI] = io.gla;
                cpu->rflags = (cpu->rflags & ~(uint64_t)VM_POLICY_RFLAGS_DF) |
                              ((b & 0x80) ? VM_POLICY_RFLAGS_DF : 0);
            }
            if (vm_policy_io(&pol, &io) != VM_POLICY_IO_DEVICE)
                plain_exit(TRACE_EXIT_IO_INSTRUCTION, 0x1000 + exits);
            break;
        }
        case 4: lapic_op(&in); break;
        case 5: ioapic_op(&in); break;
        case 6: msr_op(&in); break;
        case 7:
        case 8: { /* time passes: the guest runs until a preemption-timer exit */
            unsigned k = u8(&in);
            uint64_t step = (uint64_t)u16(&in) << ((k & 3) * 8);
            guest_tsc += step;
            plain_exit(TRACE_EXIT_PREEMPTION_TIMER, 0x2000);
            break;
        }
        case 9:
        case 10: { /* STI (with its shadow) or CLI; an open window exits */
            bool sti = op & 1;
            cpu->rflags = sti ? cpu->rflags | VM_POLICY_RFLAGS_IF
                              : cpu->rflags & ~(uint64_t)VM_POLICY_RFLAGS_IF;
            cpu->shadow = sti && (op & 0x10);
            if (sti && cpu->window && !cpu->shadow)
                plain_exit(TRACE_EXIT_INTERRUPT_WINDOW, 0x3000);
            break;
        }
        case 11: { /* bytes typed on the console */
            uint8_t b[16];
            size_t n = 1 + u8(&in) % sizeof b;
            for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)u8(&in);
            vm_rec_com1_rx(&rec, b, n, guest_tsc);
            break;
        }
        case 12: { /* STI; HLT: time jumps to the next device deadline */
            cpu->rflags |= VM_POLICY_RFLAGS_IF;
            cpu->shadow = false;
            plain_exit(TRACE_EXIT_HLT, 0x4000);
            vm_policy_halt(&pol, guest_tsc);
            if (pol.stop == VM_STOP_IDLE) { /* nothing due: let 50 ms pass */
                pol.stop = VM_RUNNING;
                guest_tsc += hz / 20;
            }
            break;
        }
        case 13: /* CPUID; with several vCPUs also another vCPU's turn, or an AP woken */
            if (ncpu > 1 && (op & 0x30) == 0x10) {
                unsigned v = u8(&in) % ncpu;
                if (!wait_sipi[v])
                    switch_to(v);
            } else if (ncpu > 1 && (op & 0x30) == 0x20) {
                wake_ap(&in);
            } else {
                plain_exit(TRACE_EXIT_CPUID, 0x5000);
            }
            break;
        default:                     /* 14, 15 */
            if ((op & 0x11) == 0x11) /* a checkpoint's tick at the last call: changes nothing */
                vm_devices_sync(&dev);
            if (!save_restore_exact(f))
                goto out;
            break;
        }
        if (cur && rec.seq != seq0)
            reach.ap_exits++;
        exits = rec.seq;
        entry(); /* the VM entry after the exit */
        CHECK(pol.stop == VM_RUNNING, "the policy stopped the VM (%s)", vm_stop_name(pol.stop));
        if (!idempotent_at_now(f, op, exits))
            goto out;
        CHECK(rec.err == 0, "recorder/writer error %d after %llu exits", rec.err,
              (unsigned long long)exits);
        CHECK(guest_tsc < (1ull << 62), "time overflow");
    }
    if (!save_restore_exact(f))
        goto out;
    CHECK(vm_rec_finish(&rec, TRACE_END_STOPPED) == 0, "vm_rec_finish failed");

    const char *keep = getenv("FUZZ_DEVICES_TRACE"); /* write the trace there (debugging) */
    if (keep && !bug) {
        FILE *t = fopen(keep, "wb");
        if (t) {
            fwrite(m.data, 1, m.len, t);
            fclose(t);
        }
    }
    char *text = NULL;
    struct replay_opts o = {.max_reports = 1};
    if (bug) {
        o.devs = bug;
        o.stop_at_first = true;
    }
    struct replay_stats st;
    int rr = rt_replay(&m, &o, &st, &text);
    CHECK(rr == 0, "replay could not read the trace:\n%s", text ? text : "");
    bool ok = st.divergences == 0 && st.damage == 0 && st.end_seen && st.exits == exits &&
              st.cpu_starts == reach.cpu_starts - starts0;
    reach.checkpoints += st.checkpoints;
    if (bug) {
        free(text);
        bad = st.divergences == 0;
        if (bad)
            snprintf(f->why, sizeof f->why, "seeded bug not caught");
        goto out;
    }
    if (!ok)
        snprintf(f->why, sizeof f->why,
                 "replay: %llu divergences, %llu damage, end %s, %llu/%llu exits\n%.380s",
                 (unsigned long long)st.divergences, (unsigned long long)st.damage,
                 st.end_seen ? "seen" : "missing", (unsigned long long)st.exits,
                 (unsigned long long)exits, text ? text : "");
    free(text);
    if (!ok)
        goto out;
    bad = 0;
out:
    trace_writer_destroy(w);
    trace_membuf_free(&m);
    return bad;
}

#ifdef HVRR_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fail f;
    if (run_one(data, len, NULL, &f)) {
        fprintf(stderr, "fuzz_devices: %s\n", f.why);
        abort();
    }
    return 0;
}
#else
/* xorshift64*: the same inputs on every machine. */
static uint64_t rng(uint64_t *s)
{
    return xorshift64s(s);
}

/* Input i of the stream from seed: biased toward the device ports and short
 * time steps for odd i, plain noise for even i. */
static size_t make_input(uint64_t *s, unsigned long i, uint8_t *buf, size_t cap)
{
    size_t len = 16 + rng(s) % (cap - 16);
    for (size_t k = 0; k < len; k++) {
        uint64_t r = rng(s);
        buf[k] = (uint8_t)(r >> 56);
        if ((i & 1) && (r & 0xf) < 6)
            buf[k] = (uint8_t)((r >> 8) & 0x0f);
    }
    return len;
}

/* fuzz_devices FILE: play one saved input (a failure, or a libFuzzer crash). */
static int play_file(const char *path)
{
    static uint8_t data[1 << 20];
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return 2;
    }
    size_t len = fread(data, 1, sizeof data, fp);
    fclose(fp);
    static struct fail f;
    if (run_one(data, len, NULL, &f)) {
        fprintf(stderr, "fuzz_devices: %s: %s\n", path, f.why);
        return 1;
    }
    printf("fuzz_devices: %s: %zu bytes, every property holds\n", path, len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))
        return play_file(argv[1]);
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 300;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    if (!n || !seed) {
        fprintf(stderr, "usage: fuzz_devices [INPUTS>0 [SEED!=0]]\n");
        return 2;
    }
    static uint8_t buf[8192];
    static struct fail f;

    /* Self-check first: the harness must see a one-line model bug. Each
     * mutant (tests/mutants/NAME.mut, linked as a renamed copy of hv/devs)
     * replays the traces the real models recorded until one diverges. */
    static const struct {
        const char *name;
        const struct vm_devices_ops *ops;
    } bugs[] = {
        {"pit-mode3-odd-count", &MUTANT_OPS(pit_mode3_odd_count)},
        {"uart-iir-read-clears-thre-always", &MUTANT_OPS(uart_iir_read_clears_thre_always)},
        {"pic-specific-eoi-rotates", &MUTANT_OPS(pic_specific_eoi_rotates)},
        {"ioapic-masked-edge-kept", &MUTANT_OPS(ioapic_masked_edge_kept)},
        {"lapic-ppr-equal-class-delivered", &MUTANT_OPS(lapic_ppr_equal_class_delivered)},
        {"lapic-sipi-while-running", &MUTANT_OPS(lapic_sipi_while_running)},
    };
    for (size_t b = 0; b < sizeof bugs / sizeof bugs[0]; b++) {
        uint64_t s = seed;
        unsigned long i;
        for (i = 0; i < 200; i++) {
            size_t len = make_input(&s, i, buf, sizeof buf);
            if (run_one(buf, len, bugs[b].ops, &f) == 0)
                break;
        }
        if (i == 200) {
            fprintf(stderr, "fuzz_devices: self-check: mutant %s never caught in 200 inputs\n",
                    bugs[b].name);
            return 1;
        }
        printf("fuzz_devices: self-check: mutant %s caught by input %lu\n", bugs[b].name, i);
    }

    uint64_t s = seed, bytes = 0;
    memset(&reach, 0, sizeof reach);
    for (unsigned long i = 0; i < n; i++) {
        size_t len = make_input(&s, i, buf, sizeof buf);
        bytes += len;
        if (run_one(buf, len, NULL, &f)) {
            fprintf(stderr, "fuzz_devices: input %lu (seed %llu, %zu bytes): %s\n", i,
                    (unsigned long long)seed, len, f.why);
            char path[64];
            snprintf(path, sizeof path, "fuzz-devices-fail-%lu.bin", i);
            FILE *o = fopen(path, "wb");
            if (o) {
                fwrite(buf, 1, len, o);
                fclose(o);
                fprintf(stderr, "fuzz_devices: input saved to %s (replay it: fuzz_devices FILE)\n",
                        path);
            }
            return 1;
        }
    }
    printf("fuzz_devices: %lu inputs (%llu bytes, seed %llu): every trace decoded whole and "
           "replayed with 0 divergences; save/restore byte-exact\n",
           n, (unsigned long long)bytes, (unsigned long long)seed);
    printf("fuzz_devices: platforms: %llu legacy, %llu APIC 1 vCPU, %llu 2 vCPUs, %llu 3-4 vCPUs; "
           "%llu MMIO and %llu APIC MSR exits, %llu exits of APs, %llu vCPU switches, %llu "
           "CpuStarts, %llu injections, %llu checkpoints compared\n",
           (unsigned long long)reach.inputs[0], (unsigned long long)reach.inputs[1],
           (unsigned long long)reach.inputs[2], (unsigned long long)reach.inputs[3],
           (unsigned long long)reach.mmio, (unsigned long long)reach.msrs,
           (unsigned long long)reach.ap_exits, (unsigned long long)reach.switches,
           (unsigned long long)reach.cpu_starts, (unsigned long long)reach.injects,
           (unsigned long long)reach.checkpoints);
    return 0;
}
#endif
