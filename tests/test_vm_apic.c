/* The APIC platform of vm_devices (cfg.apic): ISA wiring as a PC's (PIT on
 * I/O APIC pin 2, COM1 on pin 4, the 8259A through LINT0 as ExtINT), the
 * local APIC timer, MMIO and MSR decoding, and the state blob. The
 * sequences are the ones Linux 6.1 sends (arch/x86/kernel/apic/io_apic.c
 * ioapic_write_entry, apic.c setup_local_APIC / lapic timer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/vm_devices.h"

#define LAPIC_GPA  0xfee00000ull
#define IOAPIC_GPA 0xfec00000ull

static struct vm_devices D;
static unsigned intr_changes;

static void on_intr(void *ctx, bool level, uint64_t now_ns)
{
    (void)ctx, (void)level, (void)now_ns;
    intr_changes++;
}

static void init(struct vm_devices *d, bool apic)
{
    const struct vm_devices_config cfg = {.rtc_epoch_sec = 1764115200, .apic = apic};
    const struct vm_devices_hooks hooks = {.intr = on_intr};
    intr_changes = 0;
    vm_devices_init(d, &cfg, &hooks, 0);
}

static void out8(struct vm_devices *d, uint16_t port, uint8_t v, uint64_t now)
{
    uint32_t x = v;
    assert_int_equal(vm_devices_io(d, port, 1, true, &x, now), DEV_IO_OK);
}

static uint32_t mmio_rd(struct vm_devices *d, uint64_t gpa, uint64_t now)
{
    uint32_t v = 0;
    assert_int_equal(vm_devices_mmio(d, gpa, 4, false, &v, now), DEV_IO_OK);
    return v;
}

static void mmio_wr(struct vm_devices *d, uint64_t gpa, uint32_t v, uint64_t now)
{
    assert_int_equal(vm_devices_mmio(d, gpa, 4, true, &v, now), DEV_IO_OK);
}

static void ioapic_entry(struct vm_devices *d, unsigned pin, uint64_t e)
{
    mmio_wr(d, IOAPIC_GPA, 0x11 + 2 * pin, 0);
    mmio_wr(d, IOAPIC_GPA + 0x10, (uint32_t)(e >> 32), 0);
    mmio_wr(d, IOAPIC_GPA, 0x10 + 2 * pin, 0);
    mmio_wr(d, IOAPIC_GPA + 0x10, (uint32_t)e, 0);
}

/* Linux's PIC init (ICW1-4 as in i8259.c), all masked but the cascade. */
static void pic_init_linux(struct vm_devices *d, uint8_t master_imr)
{
    static const uint8_t seq[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                     {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}};
    for (unsigned i = 0; i < 8; i++)
        out8(d, seq[i][0], seq[i][1], 0);
    out8(d, 0x21, master_imr, 0);
    out8(d, 0xa1, 0xff, 0);
}

/* PIT channel 0 mode 2 at 0x12a5 (Linux's HZ=250 setup). */
static void pit_periodic(struct vm_devices *d)
{
    out8(d, 0x43, 0x34, 0);
    out8(d, 0x40, 0xa5, 0);
    out8(d, 0x40, 0x12, 0);
}

/* Without cfg.apic nothing new is decoded and the PIC drives the vCPU. */
static void test_no_apic_platform(void **st)
{
    (void)st;
    init(&D, false);
    uint32_t v = 0;
    assert_int_equal(vm_devices_mmio(&D, LAPIC_GPA + 0x30, 4, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(vm_devices_mmio(&D, IOAPIC_GPA, 4, false, &v, 0), DEV_IO_UNMAPPED);
    uint64_t m = 0;
    assert_int_equal(vm_devices_msr(&D, MSR_IA32_APIC_BASE, false, &m, 0), 1);
    pic_init_linux(&D, 0xfa); /* IRQ0 unmasked */
    pit_periodic(&D);
    vm_devices_advance(&D, vm_devices_next_event_ns(&D, 0));
    assert_true(vm_devices_intr(&D));
    assert_int_equal(vm_devices_ack(&D, D.now_ns), 0x30);
}

/* The platform starts in virtual-wire mode, as a BIOS leaves it: the
 * 8259A's interrupts reach the vCPU through LINT0 (ExtINT) and its INTA. */
static void test_virtual_wire(void **st)
{
    (void)st;
    init(&D, true);
    assert_int_equal(mmio_rd(&D, LAPIC_GPA + LAPIC_SVR, 0), 0x1ff);
    assert_int_equal(mmio_rd(&D, LAPIC_GPA + LAPIC_LVT_LINT0, 0), 0x700);
    assert_int_equal(mmio_rd(&D, LAPIC_GPA + LAPIC_LVT_LINT1, 0), 0x400);
    pic_init_linux(&D, 0xfa);
    pit_periodic(&D);
    uint64_t t = vm_devices_next_event_ns(&D, 0);
    vm_devices_advance(&D, t);
    assert_true(vm_devices_intr(&D));
    assert_int_equal(vm_devices_ack(&D, t), 0x30); /* the PIC's vector */
    assert_false(vm_devices_intr(&D));
    out8(&D, 0x20, 0x60, t); /* specific EOI IRQ0 */
    assert_true(intr_changes >= 2);
}

/* IO-APIC routing as Linux programs it: PIT (ISA IRQ0) on pin 2, COM1
 * (IRQ4) on pin 4, edge, active high, physical destination 0; the 8259A
 * masked. The vector comes from the local APIC, the EOI goes to it. */
static void test_ioapic_routing(void **st)
{
    (void)st;
    init(&D, true);
    pic_init_linux(&D, 0xff);
    ioapic_entry(&D, 2, 0x30);
    ioapic_entry(&D, 4, 0x24);
    pit_periodic(&D);
    uint64_t t = vm_devices_next_event_ns(&D, 0);
    vm_devices_advance(&D, t);
    assert_true(vm_devices_intr(&D));
    assert_int_equal(vm_devices_ack(&D, t), 0x30);
    mmio_wr(&D, LAPIC_GPA + LAPIC_EOI, 0, t);
    assert_false(vm_devices_intr(&D));
    /* COM1: IER THRE interrupt with OUT2 set raises IRQ4 -> pin 4. */
    out8(&D, 0x3fc, 0x08, t); /* MCR OUT2 */
    out8(&D, 0x3f9, 0x02, t); /* IER: THRE */
    assert_true(vm_devices_intr(&D));
    assert_int_equal(vm_devices_ack(&D, t), 0x24);
}

/* A level-triggered pin: remote IRR until the local APIC's EOI broadcast
 * (the TMR bit set on acceptance). RTC IRQ8 on pin 8, level, vector 0x38. */
static void test_level_eoi_path(void **st)
{
    (void)st;
    init(&D, true);
    pic_init_linux(&D, 0xff);
    ioapic_entry(&D, 8, 0x8000 | 0x38);
    out8(&D, 0x70, 0x0b, 0);
    out8(&D, 0x71, 0x42, 0); /* PIE, 24-hour */
    uint64_t t = vm_devices_next_event_ns(&D, 0);
    assert_true(t != TIME_NEVER);
    vm_devices_advance(&D, t);
    assert_int_equal(vm_devices_ack(&D, t), 0x38);
    assert_true(D.ioapic.rte[8] & IOAPIC_RTE_REMOTE);
    mmio_wr(&D, LAPIC_GPA + LAPIC_EOI, 0, t); /* IRQ8 still high: sent again */
    assert_true(vm_devices_intr(&D));
    assert_int_equal(vm_devices_ack(&D, t), 0x38);
    out8(&D, 0x70, 0x0c, t);
    (void)vm_devices_io(&D, 0x71, 1, false, &(uint32_t){0}, t); /* read C: IRQ8 low */
    mmio_wr(&D, LAPIC_GPA + LAPIC_EOI, 0, t);
    assert_false(D.ioapic.rte[8] & IOAPIC_RTE_REMOTE);
}

/* The local APIC timer is a platform deadline: next_event and advance. */
static void test_lapic_timer_deadline(void **st)
{
    (void)st;
    init(&D, true);
    mmio_wr(&D, LAPIC_GPA + LAPIC_TDCR, 0x3, 1000);
    mmio_wr(&D, LAPIC_GPA + LAPIC_LVT_TMR, 0xec, 1000);
    mmio_wr(&D, LAPIC_GPA + LAPIC_TMICT, 100, 1000);
    assert_int_equal(vm_devices_next_event_ns(&D, 1000), 1000 + 1600);
    vm_devices_advance(&D, 2600);
    assert_true(vm_devices_intr(&D));
    assert_int_equal(vm_devices_ack(&D, 2600), 0xec);
}

/* Decoding: 32-bit aligned LAPIC registers only; the I/O APIC's window;
 * MSRs; the LAPIC page moves with IA32_APIC_BASE and vanishes in x2APIC. */
static void test_decode(void **st)
{
    (void)st;
    init(&D, true);
    uint32_t v = 0;
    assert_int_equal(vm_devices_mmio(&D, LAPIC_GPA + 0x32, 4, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(vm_devices_mmio(&D, LAPIC_GPA + 0x30, 2, false, &v, 0), DEV_IO_BADSIZE);
    assert_int_equal(vm_devices_mmio(&D, LAPIC_GPA + 0x1000, 4, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(vm_devices_mmio(&D, IOAPIC_GPA + 0x20, 4, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(mmio_rd(&D, LAPIC_GPA + LAPIC_VER, 0), LAPIC_VERSION);
    uint64_t m = 0;
    assert_int_equal(vm_devices_msr(&D, 0x10, false, &m, 0), 1); /* not a device MSR */
    assert_int_equal(vm_devices_msr(&D, MSR_IA32_APIC_BASE, false, &m, 0), 0);
    assert_int_equal(m, 0xfee00900ull);
    m = 0xfed00900ull;
    assert_int_equal(vm_devices_msr(&D, MSR_IA32_APIC_BASE, true, &m, 0), 0);
    assert_int_equal(vm_devices_mmio(&D, LAPIC_GPA + 0x30, 4, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(mmio_rd(&D, 0xfed00000ull + LAPIC_VER, 0), LAPIC_VERSION);
    m = 0xfed00d00ull;
    assert_int_equal(vm_devices_msr(&D, MSR_IA32_APIC_BASE, true, &m, 0), 0);
    assert_int_equal(vm_devices_mmio(&D, 0xfed00030ull, 4, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(vm_devices_msr(&D, 0x803, false, &m, 0), 0);
    assert_int_equal(m, LAPIC_VERSION);
}

/* The blob holds both APICs: byte-exact re-save, and a restored platform
 * takes the same interrupts. */
static void test_save_restore(void **st)
{
    (void)st;
    static struct vm_devices E;
    static uint8_t a[VM_DEVICES_SAVE_MAX], b[VM_DEVICES_SAVE_MAX];
    init(&D, true);
    pic_init_linux(&D, 0xff);
    ioapic_entry(&D, 2, 0x30);
    pit_periodic(&D);
    mmio_wr(&D, LAPIC_GPA + LAPIC_LVT_TMR, APIC_TIMER_PERIODIC | 0xec, 0);
    mmio_wr(&D, LAPIC_GPA + LAPIC_TMICT, 12345, 0);
    vm_devices_advance(&D, 3000000);
    size_t n = vm_devices_save(&D, a, sizeof a);
    assert_true(n > 0);
    init(&E, true);
    assert_int_equal(vm_devices_restore(&E, a, n), 0);
    assert_int_equal(vm_devices_save(&E, b, sizeof b), n);
    assert_memory_equal(a, b, n);
    for (unsigned i = 0; i < 20; i++) {
        uint64_t t = vm_devices_next_event_ns(&D, D.now_ns);
        assert_int_equal(vm_devices_next_event_ns(&E, E.now_ns), t);
        vm_devices_advance(&D, t);
        vm_devices_advance(&E, t);
        assert_int_equal(vm_devices_intr(&D), vm_devices_intr(&E));
        if (vm_devices_intr(&D)) {
            uint8_t v = vm_devices_ack(&D, t);
            assert_int_equal(vm_devices_ack(&E, t), v);
            mmio_wr(&D, LAPIC_GPA + LAPIC_EOI, 0, t);
            mmio_wr(&E, LAPIC_GPA + LAPIC_EOI, 0, t);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_apic_platform),     cmocka_unit_test(test_virtual_wire),
        cmocka_unit_test(test_ioapic_routing),       cmocka_unit_test(test_level_eoi_path),
        cmocka_unit_test(test_lapic_timer_deadline), cmocka_unit_test(test_decode),
        cmocka_unit_test(test_save_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
