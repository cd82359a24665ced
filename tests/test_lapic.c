/* Local APIC model: rules from the Intel SDM Vol. 3A ch. 11 "Advanced
 * Programmable Interrupt Controller (APIC)" (section names quoted per
 * test) and the register sequences Linux 6.1 (arch/x86/kernel/apic/apic.c)
 * sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/lapic.h"
#include "hv/record/recorder.h"

/* ---- harness ---------------------------------------------------------- */

struct fx {
    struct lapic l;
    unsigned intr_calls;
    bool intr;
    unsigned eois;
    uint8_t eoi_vec[16];
    unsigned sent;
    struct apic_msg msg[16];
};

static void on_intr(void *ctx, unsigned line, bool level)
{
    struct fx *f = ctx;
    assert_int_equal(line, 0);
    assert_true(level != f->intr); /* called only on a change */
    f->intr = level;
    f->intr_calls++;
}

static void on_eoi(void *ctx, uint8_t v)
{
    struct fx *f = ctx;
    assert_true(f->eois < 16);
    f->eoi_vec[f->eois++] = v;
}

static void on_msg(void *ctx, const struct apic_msg *m)
{
    struct fx *f = ctx;
    assert_true(f->sent < 16);
    f->msg[f->sent++] = *m;
}

static struct fx F;

static void fx_init(struct fx *f, const struct lapic_config *cfg, bool bus)
{
    memset(f, 0, sizeof *f);
    struct irq_sink is = {on_intr, f};
    struct apic_eoi_sink es = {on_eoi, f};
    struct apic_msg_sink ms = {on_msg, f};
    lapic_init(&f->l, cfg, &is, bus ? &ms : NULL, &es, 0);
}

static int setup(void **st)
{
    struct lapic_config cfg = {.apic_id = 0, .bsp = true, .bus_hz = 1000000000, .tsc_hz = 0};
    fx_init(&F, &cfg, false);
    *st = &F;
    return 0;
}

static uint32_t rd(struct fx *f, uint32_t off)
{
    return lapic_read(&f->l, off, f->l.last_ns);
}

static void wr(struct fx *f, uint32_t off, uint32_t v)
{
    lapic_write(&f->l, off, v, f->l.last_ns);
}

/* Linux's setup_local_APIC() essentials: SVR enabled with vector 0xff,
 * LINT0 ExtINT (virtual wire), LINT1 NMI, TPR 0. */
static void sw_enable(struct fx *f)
{
    wr(f, LAPIC_SVR, 0x1ff);
    wr(f, LAPIC_TPR, 0);
}

static void fixed(struct fx *f, uint8_t v, bool level)
{
    struct apic_msg m = {.dest = 0, .vector = v, .mode = APIC_DM_FIXED, .level = level};
    lapic_deliver(&f->l, &m);
}

static bool irr(struct fx *f, unsigned v)
{
    return (rd(f, LAPIC_IRR + (v / 32) * 16) >> (v % 32)) & 1u;
}

static bool isr(struct fx *f, unsigned v)
{
    return (rd(f, LAPIC_ISR + (v / 32) * 16) >> (v % 32)) & 1u;
}

static bool tmr(struct fx *f, unsigned v)
{
    return (rd(f, LAPIC_TMR + (v / 32) * 16) >> (v % 32)) & 1u;
}

/* ---- power-on ---------------------------------------------------------- */

/* "Local APIC State After Power-Up or Reset". */
static void test_power_on(void **st)
{
    struct fx *f = *st;
    uint64_t base;
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_APIC_BASE, &base, 0), 0);
    assert_int_equal(base, 0xfee00900ull); /* EN, BSP, default base */
    assert_true(lapic_xapic_mode(&f->l));
    assert_int_equal(lapic_mmio_base(&f->l), 0xfee00000ull);
    assert_int_equal(rd(f, LAPIC_ID), 0);
    assert_int_equal(rd(f, LAPIC_VER) & 0xff, 0x14);
    assert_int_equal((rd(f, LAPIC_VER) >> 16) & 0xff, 5); /* 6 LVT entries */
    assert_int_equal(rd(f, LAPIC_SVR), 0xff);
    assert_int_equal(rd(f, LAPIC_DFR), 0xffffffffu);
    for (uint32_t o = LAPIC_LVT_TMR; o <= LAPIC_LVT_ERR; o += 0x10)
        assert_int_equal(rd(f, o), 0x00010000u);
    assert_int_equal(rd(f, LAPIC_TPR), 0);
    assert_int_equal(rd(f, LAPIC_TMICT), 0);
    assert_int_equal(rd(f, LAPIC_TDCR), 0);
    assert_false(lapic_intr(&f->l));
    assert_int_equal(f->intr_calls, 0);
}

/* "Enabling or Disabling the Local APIC": software-disabled, LVT masks
 * cannot be cleared; clearing SVR.8 masks every LVT again; a disabled APIC
 * accepts no fixed interrupt. */
static void test_software_disable(void **st)
{
    struct fx *f = *st;
    wr(f, LAPIC_LVT_LINT0, 0x700);
    assert_int_equal(rd(f, LAPIC_LVT_LINT0), 0x10700);
    fixed(f, 0x40, false);
    assert_false(irr(f, 0x40));
    sw_enable(f);
    wr(f, LAPIC_LVT_LINT0, 0x700);
    assert_int_equal(rd(f, LAPIC_LVT_LINT0), 0x700);
    wr(f, LAPIC_LVT_ERR, 0xfe);
    wr(f, LAPIC_SVR, 0xff);
    assert_int_equal(rd(f, LAPIC_LVT_LINT0), 0x10700);
    assert_int_equal(rd(f, LAPIC_LVT_ERR), 0x100fe);
    /* SVR vector: all 8 bits writable on current processors. */
    wr(f, LAPIC_SVR, 0x1f3);
    assert_int_equal(rd(f, LAPIC_SVR), 0x1f3);
}

/* ---- acceptance, priority, EOI ----------------------------------------- */

/* "Interrupt Acceptance for Fixed Interrupts" and "Signaling Interrupt
 * Servicing Completion". */
static void test_fixed_ack_eoi(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    fixed(f, 0x31, false);
    assert_true(irr(f, 0x31));
    assert_false(tmr(f, 0x31));
    assert_true(f->intr);
    uint8_t v = 0;
    assert_int_equal(lapic_pending(&f->l, &v), LAPIC_INTR_FIXED);
    assert_int_equal(v, 0x31);
    assert_int_equal(lapic_ack(&f->l), 0x31);
    assert_false(irr(f, 0x31));
    assert_true(isr(f, 0x31));
    assert_false(f->intr);
    assert_int_equal(rd(f, LAPIC_PPR), 0x30);
    /* A second request of the same vector while in service queues in IRR
     * but the class does not beat the PPR. */
    fixed(f, 0x31, false);
    assert_true(irr(f, 0x31));
    assert_false(f->intr);
    wr(f, LAPIC_EOI, 0);
    assert_false(isr(f, 0x31));
    assert_true(f->intr);
    assert_int_equal(lapic_ack(&f->l), 0x31);
    wr(f, LAPIC_EOI, 0);
    assert_int_equal(f->eois, 0); /* edge: no EOI message */
    assert_int_equal(rd(f, LAPIC_PPR), 0);
}

/* "Interrupt, Task, and Processor Priority": PPR = TPR if TPR[7:4] >=
 * ISRV[7:4] else ISRV[7:4] << 4; only classes above PPR[7:4] are
 * delivered, highest vector first. */
static void test_priority(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_TPR, 0x45);
    assert_int_equal(rd(f, LAPIC_PPR), 0x45);
    fixed(f, 0x4f, false);
    assert_false(lapic_intr(&f->l)); /* class 4 is not above 4 */
    fixed(f, 0x50, false);
    uint8_t v;
    assert_int_equal(lapic_pending(&f->l, &v), LAPIC_INTR_FIXED);
    assert_int_equal(v, 0x50);
    assert_int_equal(lapic_ack(&f->l), 0x50);
    assert_int_equal(rd(f, LAPIC_PPR), 0x50);
    fixed(f, 0x5a, false); /* same class as in service: held */
    assert_false(lapic_intr(&f->l));
    fixed(f, 0x61, false); /* higher class nests */
    assert_int_equal(lapic_ack(&f->l), 0x61);
    wr(f, LAPIC_EOI, 0); /* ends 0x61: the highest ISR bit */
    assert_true(isr(f, 0x50));
    assert_false(isr(f, 0x61));
    wr(f, LAPIC_EOI, 0);
    assert_int_equal(lapic_ack(&f->l), 0x5a);
    wr(f, LAPIC_EOI, 0);
    wr(f, LAPIC_TPR, 0x30);
    assert_int_equal(lapic_ack(&f->l), 0x4f);
}

/* "Arbitration Priority Register (APR)", the SDM's formula. */
static void test_apr(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_TPR, 0x52);
    fixed(f, 0x41, false);
    assert_int_equal(rd(f, LAPIC_APR), 0x52); /* TPR >= IRRV, TPR > ISRV */
    fixed(f, 0x71, false);
    assert_int_equal(rd(f, LAPIC_APR), 0x70); /* IRRV class wins */
    wr(f, LAPIC_TPR, 0);
    assert_int_equal(lapic_ack(&f->l), 0x71);
    wr(f, LAPIC_TPR, 0x72);
    /* TPR[7:4] == ISRV[7:4]: ELSE branch, max(7 AND 7, IRRV=4) = 7. */
    assert_int_equal(rd(f, LAPIC_APR), 0x70);
    /* The ELSE branch ANDs the TPR and ISRV classes, as the SDM writes it:
     * TPR 5, ISRV 6, IRRV 4 -> max(5 AND 6, 4) = 4. */
    wr(f, LAPIC_EOI, 0);
    wr(f, LAPIC_TPR, 0);
    fixed(f, 0x61, false);
    assert_int_equal(lapic_ack(&f->l), 0x61);
    wr(f, LAPIC_TPR, 0x50);
    assert_int_equal(rd(f, LAPIC_APR), 0x40);
}

/* "Spurious Interrupt": TPR raised between INTR and INTA; the APIC
 * answers with the SVR vector and sets no ISR bit. */
static void test_spurious(void **st)
{
    struct fx *f = *st;
    wr(f, LAPIC_SVR, 0x1e7);
    fixed(f, 0x40, false);
    assert_true(f->intr);
    wr(f, LAPIC_TPR, 0xf0);
    assert_false(f->intr);
    assert_int_equal(lapic_ack(&f->l), 0xe7);
    assert_false(isr(f, 0x40));
    assert_true(irr(f, 0x40));
}

/* Level-triggered interrupts set TMR; their EOI goes to the I/O APIC
 * unless the SVR suppresses the broadcast ("EOI Register", "Directed
 * EOI"); edge ones clear TMR on acceptance. */
static void test_level_eoi_broadcast(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    assert_true(rd(f, LAPIC_VER) & (1u << 24));
    fixed(f, 0x38, true);
    assert_true(tmr(f, 0x38));
    assert_int_equal(lapic_ack(&f->l), 0x38);
    wr(f, LAPIC_EOI, 0);
    assert_int_equal(f->eois, 1);
    assert_int_equal(f->eoi_vec[0], 0x38);
    fixed(f, 0x38, false);
    assert_false(tmr(f, 0x38));
    lapic_ack(&f->l);
    wr(f, LAPIC_EOI, 0);
    assert_int_equal(f->eois, 1);
    wr(f, LAPIC_SVR, 0x11ff); /* suppress EOI broadcasts */
    assert_int_equal(rd(f, LAPIC_SVR), 0x11ff);
    fixed(f, 0x38, true);
    lapic_ack(&f->l);
    wr(f, LAPIC_EOI, 0);
    assert_int_equal(f->eois, 1);
    assert_false(isr(f, 0x38));
}

/* "Error Handling": illegal vectors (0-15) are not accepted; the error
 * shows in ESR after the next ESR write (writes latch), and raises the LVT
 * error interrupt once per new error. */
static void test_esr_illegal_vector(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_LVT_ERR, 0xfe);
    fixed(f, 0x05, false);
    assert_false(irr(f, 0x05));
    assert_int_equal(rd(f, LAPIC_ESR), 0); /* not latched yet */
    assert_true(irr(f, 0xfe));             /* error interrupt */
    wr(f, LAPIC_ESR, 0);
    assert_int_equal(rd(f, LAPIC_ESR), APIC_ESR_RECV_ILLEGAL);
    wr(f, LAPIC_ESR, 0);
    assert_int_equal(rd(f, LAPIC_ESR), 0);
    /* Send side: an ICR with an illegal fixed vector. */
    wr(f, LAPIC_ICR_LO, 0x40003); /* self, fixed, vector 3 */
    wr(f, LAPIC_ESR, 0);
    assert_int_equal(rd(f, LAPIC_ESR), APIC_ESR_SEND_ILLEGAL);
    /* Reserved register offset. */
    wr(f, 0x3c0, 1);
    wr(f, LAPIC_ESR, 0);
    assert_int_equal(rd(f, LAPIC_ESR), APIC_ESR_ILLEGAL_REG);
}

/* ---- IPIs -------------------------------------------------------------- */

/* "Interrupt Command Register (ICR)": self shorthand stays local, delivery
 * status reads idle; other destinations go on the bus. */
static void test_icr(void **st)
{
    struct fx *f = *st;
    struct lapic_config cfg = {.apic_id = 3, .bus_hz = 1000000000};
    fx_init(f, &cfg, true);
    sw_enable(f);
    assert_int_equal(rd(f, LAPIC_ID), 3u << 24);
    wr(f, LAPIC_ICR_LO, 0x40000 | 0x41); /* self */
    assert_true(irr(f, 0x41));
    assert_int_equal(f->sent, 0);
    assert_int_equal(rd(f, LAPIC_ICR_LO) & (1u << 12), 0);
    wr(f, LAPIC_ICR_HI, 0x05000000);
    wr(f, LAPIC_ICR_LO, 0x4052); /* physical dest 5, fixed, assert */
    assert_int_equal(f->sent, 1);
    assert_int_equal(f->msg[0].dest, 5);
    assert_int_equal(f->msg[0].vector, 0x52);
    assert_int_equal(f->msg[0].src_id, 3);
    assert_false(f->msg[0].logical);
    /* The bus hands it back to every APIC: not ours. */
    lapic_deliver(&f->l, &f->msg[0]);
    assert_false(irr(f, 0x52));
    /* All-excluding-self does not reach the sender. */
    wr(f, LAPIC_ICR_LO, 0xc0000 | 0x53);
    assert_int_equal(f->sent, 2);
    lapic_deliver(&f->l, &f->msg[1]);
    assert_false(irr(f, 0x53));
    /* All-including-self does. */
    wr(f, LAPIC_ICR_LO, 0x80000 | 0x54);
    lapic_deliver(&f->l, &f->msg[2]);
    assert_true(irr(f, 0x54));
    /* NMI IPI to self. */
    wr(f, LAPIC_ICR_LO, 0x40400);
    assert_true(lapic_nmi_pending(&f->l));
    lapic_nmi_take(&f->l);
    assert_false(lapic_nmi_pending(&f->l));
}

/* Without a bus, a physical IPI to our own ID is delivered locally. */
static void test_icr_no_bus(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_ICR_HI, 0);
    wr(f, LAPIC_ICR_LO, 0x4061);
    assert_true(irr(f, 0x61));
    wr(f, LAPIC_ICR_HI, 0x07000000);
    wr(f, LAPIC_ICR_LO, 0x4062);
    assert_false(irr(f, 0x62));
}

/* "Logical Destination Mode": flat (DFR 0xF) matches any common LDR bit,
 * cluster (DFR 0x0) the cluster nibble and a member bit; 0xFF is
 * broadcast. */
static void test_logical_destination(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_LDR, 0x01000000); /* Linux flat: bit (cpu) */
    struct apic_msg m = {.dest = 0x03, .vector = 0x70, .logical = true};
    lapic_deliver(&f->l, &m);
    assert_true(irr(f, 0x70));
    m.dest = 0x02, m.vector = 0x71;
    lapic_deliver(&f->l, &m);
    assert_false(irr(f, 0x71));
    wr(f, LAPIC_DFR, 0x0fffffff); /* cluster model */
    assert_int_equal(rd(f, LAPIC_DFR), 0x0fffffff);
    wr(f, LAPIC_LDR, 0x24000000); /* cluster 2, member bit 2 */
    m.dest = 0x24, m.vector = 0x72;
    lapic_deliver(&f->l, &m);
    assert_true(irr(f, 0x72));
    m.dest = 0x14, m.vector = 0x73;
    lapic_deliver(&f->l, &m);
    assert_false(irr(f, 0x73));
    m.dest = 0xff, m.vector = 0x74;
    lapic_deliver(&f->l, &m);
    assert_true(irr(f, 0x74));
}

/* ---- LINT pins --------------------------------------------------------- */

/* Virtual wire mode: LINT0 ExtINT follows the 8259A's INTR (always level
 * sensitive); the INTA goes to the external controller. */
static void test_lint0_extint(void **st)
{
    struct fx *f = *st;
    lapic_set_lint(&f->l, 0, true);
    assert_false(lapic_intr(&f->l)); /* masked at power-on */
    sw_enable(f);
    wr(f, LAPIC_LVT_LINT0, 0x700);
    assert_int_equal(lapic_pending(&f->l, NULL), LAPIC_INTR_EXTINT);
    assert_true(f->intr);
    assert_int_equal(lapic_ack(&f->l), LAPIC_ACK_EXTINT);
    lapic_set_lint(&f->l, 0, false);
    assert_false(f->intr);
    /* ExtINT goes first, whatever the TPR. */
    wr(f, LAPIC_TPR, 0xf0);
    lapic_set_lint(&f->l, 0, true);
    assert_true(f->intr);
    wr(f, LAPIC_LVT_LINT0, 0x10700);
    assert_false(f->intr);
}

/* "Local APIC Status and Location": with IA32_APIC_BASE.EN clear the
 * processor acts as if it had no APIC: LINT0 is INTR, LINT1 NMI. */
static void test_hw_disabled_passthrough(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_TPR, 0x20);
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00000, 0), 0);
    assert_false(lapic_xapic_mode(&f->l));
    lapic_set_lint(&f->l, 0, true);
    assert_int_equal(lapic_pending(&f->l, NULL), LAPIC_INTR_EXTINT);
    assert_int_equal(lapic_ack(&f->l), LAPIC_ACK_EXTINT);
    lapic_set_lint(&f->l, 1, true);
    assert_true(lapic_nmi_pending(&f->l));
    /* Re-enabled: power-on register values (SVR 0xff, TPR 0). */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00900, 0), 0);
    assert_int_equal(rd(f, LAPIC_SVR), 0xff);
    assert_int_equal(rd(f, LAPIC_TPR), 0);
    assert_int_equal(rd(f, LAPIC_LVT_LINT0), 0x10000);
}

/* LINT1 NMI (always edge), LINT fixed edge and level with remote IRR
 * ("Local Vector Table": remote IRR set on acceptance, reset on EOI). */
static void test_lint_modes(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_LVT_LINT1, 0x400);
    lapic_set_lint(&f->l, 1, true);
    assert_true(lapic_nmi_pending(&f->l));
    lapic_nmi_take(&f->l);
    lapic_set_lint(&f->l, 1, true); /* no new edge */
    assert_false(lapic_nmi_pending(&f->l));
    lapic_set_lint(&f->l, 1, false);
    /* Fixed, level, active high. */
    wr(f, LAPIC_LVT_LINT1, 0x8000 | 0x66);
    lapic_set_lint(&f->l, 1, true);
    assert_true(irr(f, 0x66));
    assert_true(tmr(f, 0x66));
    assert_true(rd(f, LAPIC_LVT_LINT1) & APIC_LVT_REMOTE);
    assert_int_equal(lapic_ack(&f->l), 0x66);
    wr(f, LAPIC_EOI, 0); /* still high: accepted again */
    assert_true(irr(f, 0x66));
    assert_true(rd(f, LAPIC_LVT_LINT1) & APIC_LVT_REMOTE);
    lapic_set_lint(&f->l, 1, false);
    assert_int_equal(lapic_ack(&f->l), 0x66);
    wr(f, LAPIC_EOI, 0);
    assert_false(rd(f, LAPIC_LVT_LINT1) & APIC_LVT_REMOTE);
    assert_false(irr(f, 0x66));
    /* Fixed, edge, active low: a falling level is the assertion. */
    wr(f, LAPIC_LVT_LINT1, 0x2000 | 0x67);
    lapic_set_lint(&f->l, 1, true);
    assert_false(irr(f, 0x67));
    lapic_set_lint(&f->l, 1, false);
    assert_true(irr(f, 0x67));
}

/* ---- timer ------------------------------------------------------------- */

static uint64_t next(struct fx *f, uint64_t now)
{
    return lapic_next_event_ns(&f->l, now);
}

/* "APIC Timer": one-shot counts down from the initial count at the bus
 * clock / divider, interrupts at 0 and stays at 0. bus 1 GHz, /16. */
static void test_timer_oneshot(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    lapic_write(&f->l, LAPIC_TDCR, 0x3, 1000); /* divide by 16 */
    lapic_write(&f->l, LAPIC_LVT_TMR, 0xec, 1000);
    lapic_write(&f->l, LAPIC_TMICT, 1000, 1000);
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 1000), 1000);
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 1000 + 8000), 500);
    assert_int_equal(next(f, 9000), 1000 + 16000);
    lapic_advance(&f->l, 1000 + 15999);
    assert_false(irr(f, 0xec));
    lapic_advance(&f->l, 1000 + 16000);
    assert_true(irr(f, 0xec));
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 50000), 0);
    assert_int_equal(next(f, 50000), TIME_NEVER);
    assert_int_equal(lapic_read(&f->l, LAPIC_TMICT, 50000), 1000);
    /* A new initial count restarts it; 0 stops it. */
    lapic_write(&f->l, LAPIC_TMICT, 10, 60000);
    assert_int_equal(next(f, 60000), 60000 + 160);
    lapic_write(&f->l, LAPIC_TMICT, 0, 60100);
    assert_int_equal(next(f, 60100), TIME_NEVER);
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 60100), 0);
}

/* Divide configuration encodings: bits 3,1,0 = 000 /2, 001 /4, 010 /8,
 * 011 /16, 100 /32, 101 /64, 110 /128, 111 /1. */
static void test_timer_divide(void **st)
{
    struct fx *f = *st;
    static const struct {
        uint32_t tdcr, div;
    } t[] = {{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
    sw_enable(f);
    uint64_t now = 0;
    for (unsigned i = 0; i < 8; i++) {
        lapic_write(&f->l, LAPIC_TDCR, t[i].tdcr | 0xf4, now); /* reserved bits dropped */
        assert_int_equal(lapic_read(&f->l, LAPIC_TDCR, now), t[i].tdcr);
        lapic_write(&f->l, LAPIC_TMICT, 100, now);
        assert_int_equal(next(f, now), now + 100 * t[i].div);
        now += 1000000;
    }
}

/* Periodic mode reloads at 0: interrupts every initial * divisor clocks,
 * exactly; missed periods coalesce into one interrupt. Bus 100 MHz. */
/* A write that makes the timer due at its own instant fires it then, as
 * an MSR write does (lapic_msr_write), not at the next tick: an expired
 * one-shot count switched to periodic ("APIC Timer": periodic reloads at
 * every count of 0) interrupts at the LVT write, so ticking again at that
 * instant (a checkpoint) changes nothing. */
static void test_lvt_write_that_makes_the_timer_due_fires_now(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    lapic_write(&f->l, LAPIC_TDCR, 0xb, 0); /* /1 at 1 GHz */
    lapic_write(&f->l, LAPIC_LVT_TMR, 0x30, 0);
    lapic_write(&f->l, LAPIC_TMICT, 100, 0);
    lapic_advance(&f->l, 150);
    assert_int_equal(lapic_ack(&f->l), 0x30);
    wr(f, LAPIC_EOI, 0);
    lapic_write(&f->l, LAPIC_LVT_TMR, APIC_TIMER_PERIODIC | 0x31, 1000);
    assert_int_equal(lapic_pending(&f->l, NULL), LAPIC_INTR_FIXED);
    uint64_t fired = f->l.timer_fired;
    lapic_advance(&f->l, 1000);
    assert_int_equal(f->l.timer_fired, fired);
    assert_int_equal(lapic_ack(&f->l), 0x31);
}

static void test_timer_periodic(void **st)
{
    struct fx *f = *st;
    struct lapic_config cfg = {.bus_hz = 100000000};
    fx_init(f, &cfg, false);
    sw_enable(f);
    lapic_write(&f->l, LAPIC_TDCR, 0xb, 0); /* /1 */
    lapic_write(&f->l, LAPIC_LVT_TMR, APIC_TIMER_PERIODIC | 0xef, 0);
    lapic_write(&f->l, LAPIC_TMICT, 400000, 0); /* 4 ms at 100 MHz: 250 Hz */
    unsigned irqs = 0;
    uint64_t t = 0;
    for (unsigned i = 1; i <= 250; i++) {
        uint64_t e = next(f, t);
        assert_int_equal(e, i * 4000000ull);
        lapic_advance(&f->l, e);
        assert_int_equal(lapic_ack(&f->l), 0xef);
        wr(f, LAPIC_EOI, 0);
        irqs++;
        t = e;
        assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, t), 400000);
        assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, t + 10), 399999);
    }
    assert_int_equal(irqs, 250); /* 1 s of periods */
    /* 10 periods missed: one interrupt, and the next is on the grid. */
    lapic_advance(&f->l, t + 40000000 + 5);
    assert_int_equal(lapic_ack(&f->l), 0xef);
    wr(f, LAPIC_EOI, 0);
    assert_int_equal(lapic_pending(&f->l, NULL), LAPIC_INTR_NONE);
    assert_int_equal(next(f, t + 40000005), t + 44000000);
}

/* A masked timer keeps counting but interrupts nobody. */
static void test_timer_masked(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    lapic_write(&f->l, LAPIC_LVT_TMR, APIC_LVT_MASKED | APIC_TIMER_PERIODIC | 0xec, 0);
    lapic_write(&f->l, LAPIC_TDCR, 0xb, 0);
    lapic_write(&f->l, LAPIC_TMICT, 100, 0);
    lapic_advance(&f->l, 1050);
    assert_false(irr(f, 0xec));
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 1050), 50);
}

/* A divide change while counting keeps the ticks counted so far. */
static void test_timer_divide_change(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    lapic_write(&f->l, LAPIC_TDCR, 0xb, 0);
    lapic_write(&f->l, LAPIC_LVT_TMR, 0xec, 0);
    lapic_write(&f->l, LAPIC_TMICT, 1000, 0);
    lapic_write(&f->l, LAPIC_TDCR, 0x0, 400); /* 400 counted, now /2 */
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 400), 600);
    assert_int_equal(lapic_read(&f->l, LAPIC_TMCCT, 600), 500);
    assert_int_equal(next(f, 600), 400 + 1200);
}

/* Linux 6.1 calibrate_APIC_clock(): __setup_APIC_LVTT(0xffffffff, 0, 0)
 * writes LVTT = vector | periodic | masked, TDCR /16 keeping the reserved
 * bits it read, TMICT 0xffffffff; then TMCCT is sampled on PIT ticks. */
static void test_linux_calibration(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_LVT_TMR, 0xec | APIC_TIMER_PERIODIC | APIC_LVT_MASKED);
    uint32_t tdcr = rd(f, LAPIC_TDCR);
    wr(f, LAPIC_TDCR, (tdcr & ~0xbu) | 0x3);
    lapic_write(&f->l, LAPIC_TMICT, 0xffffffffu, 5000000);
    uint32_t a = lapic_read(&f->l, LAPIC_TMCCT, 5000000);
    uint32_t b = lapic_read(&f->l, LAPIC_TMCCT, 5000000 + 100000000); /* 100 ms */
    assert_int_equal(a, 0xffffffffu);
    assert_int_equal(a - b, 100000000 / 16);
    /* lapic_timer_set_periodic: unmasked, TMICT = period. */
    wr(f, LAPIC_LVT_TMR, 0xec | APIC_TIMER_PERIODIC);
    lapic_write(&f->l, LAPIC_TMICT, 250000, 200000000);
    assert_int_equal(next(f, 200000000), 200000000 + 250000ull * 16);
}

/* "TSC-Deadline Mode": the interrupt comes when the TSC reaches the
 * deadline, once; the MSR then reads 0; 0 disarms; TMICT writes are
 * ignored and TMCCT reads 0; outside the mode the MSR reads 0 and writes
 * are ignored; changing to or from the mode disarms. */
static void test_tsc_deadline(void **st)
{
    struct fx *f = *st;
    const uint64_t hz = 2500000001ull; /* not a divisor of anything */
    struct lapic_config cfg = {.bus_hz = 1000000000, .tsc_hz = hz};
    fx_init(f, &cfg, false);
    sw_enable(f);
    uint64_t v;
    /* Not in deadline mode: reads 0, writes ignored. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, 12345, 0), 0);
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_TSC_DEADLINE, &v, 0), 0);
    assert_int_equal(v, 0);
    wr(f, LAPIC_LVT_TMR, APIC_TIMER_DEADLINE | 0xec);
    wr(f, LAPIC_TMICT, 1000);
    assert_int_equal(rd(f, LAPIC_TMICT), 0);
    assert_int_equal(rd(f, LAPIC_TMCCT), 0);
    const uint64_t D = 7777777777ull;
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, D, 1000), 0);
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_TSC_DEADLINE, &v, 1000), 0);
    assert_int_equal(v, D);
    /* The event is the first ns at which every TSC value is >= D, under the
     * platform's TSC -> ns mapping. */
    uint64_t t = next(f, 1000);
    assert_true(vm_rec_tsc_to_ns(D - 1, hz) < t);
    assert_true(t <= vm_rec_tsc_to_ns(D, hz) + 1);
    lapic_advance(&f->l, t - 1);
    assert_false(irr(f, 0xec));
    lapic_advance(&f->l, t);
    assert_true(irr(f, 0xec));
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_TSC_DEADLINE, &v, t), 0);
    assert_int_equal(v, 0);
    assert_int_equal(next(f, t), TIME_NEVER);
    lapic_ack(&f->l);
    wr(f, LAPIC_EOI, 0);
    /* A deadline in the past fires at once; 0 disarms. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, 5, t + 10), 0);
    assert_true(irr(f, 0xec));
    lapic_ack(&f->l);
    wr(f, LAPIC_EOI, 0);
    lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, D * 2, t + 20);
    lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, 0, t + 30);
    assert_int_equal(next(f, t + 30), TIME_NEVER);
    /* Leaving the mode disarms. */
    lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, D * 2, t + 40);
    lapic_write(&f->l, LAPIC_LVT_TMR, 0xec, t + 50);
    assert_int_equal(next(f, t + 50), TIME_NEVER);
    lapic_write(&f->l, LAPIC_LVT_TMR, APIC_TIMER_DEADLINE | 0xec, t + 60);
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_TSC_DEADLINE, &v, t + 60), 0);
    assert_int_equal(v, 0);
}

/* Without a TSC rate the deadline MSR does not exist. */
static void test_tsc_deadline_absent(void **st)
{
    struct fx *f = *st;
    uint64_t v;
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_TSC_DEADLINE, &v, 0), -1);
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_TSC_DEADLINE, 1, 0), -1);
}

/* ---- x2APIC ------------------------------------------------------------ */

/* "x2APIC State Transitions" and "x2APIC Register Availability". */
static void test_x2apic_transitions(void **st)
{
    struct fx *f = *st;
    uint64_t v;
    /* x2APIC MSRs #GP in xAPIC mode. */
    assert_int_equal(lapic_msr_read(&f->l, 0x802, &v, 0), -1);
    /* EN=0, EXTD=1 is invalid. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00400, 0), -1);
    /* Reserved bits. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00d01, 0), -1);
    /* xAPIC -> x2APIC. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00c00, 0), 0);
    assert_false(lapic_xapic_mode(&f->l));
    assert_int_equal(lapic_msr_read(&f->l, MSR_IA32_APIC_BASE, &v, 0), 0);
    assert_int_equal(v, 0xfee00d00ull); /* BSP kept */
    /* x2APIC -> xAPIC: #GP. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00800, 0), -1);
    /* x2APIC -> disabled -> x2APIC: #GP on the second step. */
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00000, 0), 0);
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00c00, 0), -1);
    assert_int_equal(lapic_msr_write(&f->l, MSR_IA32_APIC_BASE, 0xfee00800, 0), 0);
    assert_true(lapic_xapic_mode(&f->l));
}

static void test_x2apic_registers(void **st)
{
    struct fx *f = *st;
    struct lapic_config cfg = {.apic_id = 0x23, .bus_hz = 1000000000};
    fx_init(f, &cfg, false);
    struct lapic *l = &f->l;
    uint64_t v;
    assert_int_equal(lapic_msr_write(l, MSR_IA32_APIC_BASE, 0xfee00c00, 0), 0);
    assert_int_equal(lapic_msr_read(l, 0x802, &v, 0), 0);
    assert_int_equal(v, 0x23); /* 32-bit ID */
    assert_int_equal(lapic_msr_read(l, 0x80d, &v, 0), 0);
    assert_int_equal(v, (2u << 16) | (1u << 3));           /* LDR derived from the ID */
    assert_int_equal(lapic_msr_write(l, 0x80d, v, 0), -1); /* LDR read-only */
    assert_int_equal(lapic_msr_read(l, 0x809, &v, 0), -1); /* no APR */
    assert_int_equal(lapic_msr_read(l, 0x80e, &v, 0), -1); /* no DFR */
    assert_int_equal(lapic_msr_read(l, 0x831, &v, 0), -1); /* no ICR high */
    assert_int_equal(lapic_msr_read(l, 0x80b, &v, 0), -1); /* EOI write-only */
    assert_int_equal(lapic_msr_read(l, 0x83f, &v, 0), -1); /* SELF IPI write-only */
    assert_int_equal(lapic_msr_write(l, 0x80f, 0x1ff, 0), 0);
    assert_int_equal(lapic_msr_write(l, 0x808, 0x100, 0), -1); /* TPR reserved bits */
    assert_int_equal(lapic_msr_write(l, 0x808, 1ull << 32, 0), -1);
    /* SELF IPI register. */
    assert_int_equal(lapic_msr_write(l, 0x83f, 0x45, 0), 0);
    assert_int_equal(lapic_msr_read(l, 0x814 - 2, &v, 0), 0); /* IRR bits 95:64 */
    assert_int_equal(lapic_msr_read(l, 0x822, &v, 0), 0);
    assert_int_equal(v, 1u << (0x45 - 64));
    assert_int_equal(lapic_ack(l), 0x45);
    assert_int_equal(lapic_msr_write(l, 0x80b, 1, 0), -1); /* EOI non-zero */
    assert_int_equal(lapic_msr_write(l, 0x80b, 0, 0), 0);
    /* ICR: one 64-bit write, destination in bits 63:32. */
    assert_int_equal(lapic_msr_write(l, 0x830, (0x23ull << 32) | 0x4056, 0), 0);
    assert_int_equal(lapic_pending(l, NULL), LAPIC_INTR_FIXED);
    assert_int_equal(lapic_msr_read(l, 0x830, &v, 0), 0);
    assert_int_equal(v, (0x23ull << 32) | 0x4056);
    assert_int_equal(lapic_ack(l), 0x56);
    /* The xAPIC page is gone. */
    assert_int_equal(lapic_read(l, LAPIC_SVR, 0), 0);
}

/* ---- save / restore ---------------------------------------------------- */

static size_t save(const struct lapic *l, uint8_t *buf, size_t cap)
{
    struct sv s;
    sv_init_write(&s, buf, cap);
    lapic_save(l, &s);
    assert_false(s.err);
    return sv_len(&s);
}

static int restore(struct lapic *l, const uint8_t *buf, size_t len)
{
    struct sv s;
    sv_init_read(&s, buf, len);
    return lapic_restore(l, &s);
}

/* Mid-count restore: byte-exact re-save, the same next event, the same
 * count, and the sink is not called by restore. */
static void test_save_restore(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    wr(f, LAPIC_LVT_TMR, APIC_TIMER_PERIODIC | 0xec);
    lapic_write(&f->l, LAPIC_TDCR, 0x1, 100);
    lapic_write(&f->l, LAPIC_TMICT, 777, 100);
    fixed(f, 0x81, true);
    lapic_ack(&f->l);
    fixed(f, 0x33, false);
    lapic_advance(&f->l, 5000);
    uint8_t a[1024], b[1024];
    size_t n = save(&f->l, a, sizeof a);
    struct fx g;
    struct lapic_config cfg = f->l.cfg;
    fx_init(&g, &cfg, false);
    unsigned calls = g.intr_calls;
    assert_int_equal(restore(&g.l, a, n), 0);
    assert_int_equal(g.intr_calls, calls);
    g.intr = g.l.intr; /* the sink saw the old level; restore is silent */
    assert_int_equal(save(&g.l, b, sizeof b), n);
    assert_memory_equal(a, b, n);
    assert_int_equal(lapic_next_event_ns(&g.l, 5000), lapic_next_event_ns(&f->l, 5000));
    assert_int_equal(lapic_read(&g.l, LAPIC_TMCCT, 6000), lapic_read(&f->l, LAPIC_TMCCT, 6000));
    assert_int_equal(lapic_ack(&g.l), lapic_ack(&f->l));
}

/* Restore refuses states no access sequence produces; the live state is
 * left alone. */
static void test_restore_rejects(void **st)
{
    struct fx *f = *st;
    sw_enable(f);
    uint8_t a[1024];
    struct lapic bad = f->l;
    bad.irr[0] = 0x08; /* vector 3 */
    size_t n = save(&bad, a, sizeof a);
    struct lapic keep = f->l;
    assert_int_equal(restore(&f->l, a, n), -1);
    assert_memory_equal(&keep, &f->l, sizeof keep);
    bad = f->l;
    bad.irr[8] = 1; /* a deliverable vector 0x40 but intr low */
    n = save(&bad, a, sizeof a);
    assert_int_equal(restore(&f->l, a, n), -1);
    bad = f->l;
    bad.svr = 0xff; /* software-disabled with an LVT unmasked */
    bad.lvt[LAPIC_LVT_ERROR] = 0xfe;
    n = save(&bad, a, sizeof a);
    assert_int_equal(restore(&f->l, a, n), -1);
    bad = f->l;
    bad.apic_base = APIC_BASE_EXTD | LAPIC_DEFAULT_BASE;
    n = save(&bad, a, sizeof a);
    assert_int_equal(restore(&f->l, a, n), -1);
    n = save(&f->l, a, sizeof a);
    assert_int_equal(restore(&f->l, a, n - 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_power_on, setup),
        cmocka_unit_test_setup(test_software_disable, setup),
        cmocka_unit_test_setup(test_fixed_ack_eoi, setup),
        cmocka_unit_test_setup(test_priority, setup),
        cmocka_unit_test_setup(test_apr, setup),
        cmocka_unit_test_setup(test_spurious, setup),
        cmocka_unit_test_setup(test_level_eoi_broadcast, setup),
        cmocka_unit_test_setup(test_esr_illegal_vector, setup),
        cmocka_unit_test_setup(test_icr, setup),
        cmocka_unit_test_setup(test_icr_no_bus, setup),
        cmocka_unit_test_setup(test_logical_destination, setup),
        cmocka_unit_test_setup(test_lint0_extint, setup),
        cmocka_unit_test_setup(test_hw_disabled_passthrough, setup),
        cmocka_unit_test_setup(test_lint_modes, setup),
        cmocka_unit_test_setup(test_timer_oneshot, setup),
        cmocka_unit_test_setup(test_timer_divide, setup),
        cmocka_unit_test_setup(test_timer_periodic, setup),
        cmocka_unit_test_setup(test_lvt_write_that_makes_the_timer_due_fires_now, setup),
        cmocka_unit_test_setup(test_timer_masked, setup),
        cmocka_unit_test_setup(test_timer_divide_change, setup),
        cmocka_unit_test_setup(test_linux_calibration, setup),
        cmocka_unit_test_setup(test_tsc_deadline, setup),
        cmocka_unit_test_setup(test_tsc_deadline_absent, setup),
        cmocka_unit_test_setup(test_x2apic_transitions, setup),
        cmocka_unit_test_setup(test_x2apic_registers, setup),
        cmocka_unit_test_setup(test_save_restore, setup),
        cmocka_unit_test_setup(test_restore_rejects, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
