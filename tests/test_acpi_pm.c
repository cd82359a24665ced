/* ACPI fixed hardware (hv/devs/acpi_pm.c): ACPI 6.x spec 4.8.3 (PM1
 * status/enable/control, PM timer), with the accesses ACPICA makes
 * (16-bit PM1 halves, 32-bit PM timer reads, SLP_TYP|SLP_EN for S5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/devs/acpi_pm.h"
#include "hv/devs/vm_devices.h"

#define BASE 0x600u

struct fx {
    struct acpi_pm pm;
    unsigned sci_changes, poweroffs;
    bool sci;
};
static struct fx F;

static void on_sci(void *ctx, unsigned line, bool level)
{
    struct fx *f = ctx;
    assert_int_equal(line, 9);
    assert_true(level != f->sci);
    f->sci = level;
    f->sci_changes++;
}

static void on_req(void *ctx, enum dev_request what)
{
    struct fx *f = ctx;
    assert_int_equal(what, DEV_REQ_POWEROFF);
    f->poweroffs++;
}

static int setup(void **st)
{
    memset(&F, 0, sizeof F);
    const struct irq_sink s = {on_sci, &F};
    const struct dev_request_sink r = {on_req, &F};
    acpi_pm_init(&F.pm, BASE, &s, 9, 5, &r, 0);
    *st = &F;
    return 0;
}

static uint32_t in(struct fx *f, unsigned off, unsigned size, uint64_t now)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(acpi_pm_io(&f->pm, (uint16_t)(BASE + off), size, false, &v, now), DEV_IO_OK);
    return v;
}

static void out(struct fx *f, unsigned off, unsigned size, uint32_t v, uint64_t now)
{
    assert_int_equal(acpi_pm_io(&f->pm, (uint16_t)(BASE + off), size, true, &v, now), DEV_IO_OK);
}

/* 4.8.3.3: a 24-bit counter at 3.579545 MHz. */
static void test_timer(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in(f, 8, 4, 0), 0);
    assert_int_equal(in(f, 8, 4, 1000000000), 3579545);
    /* 2^24 counts wrap: at 5 s, 17897725 - 16777216 */
    assert_int_equal(in(f, 8, 4, 5000000000ull), 17897725 - 16777216);
    assert_int_equal(in(f, 8, 4, 1000000000) >> 24, 0);
    /* one count is 279.365 ns: floor at each ns */
    assert_int_equal(acpi_pm_timer(279), 0);
    assert_int_equal(acpi_pm_timer(280), 1);
    assert_int_equal(in(f, 11, 1, 5000000000ull), 0); /* top byte of a 24-bit timer */
}

/* SCI_EN reads 1 (no legacy mode); TMR_STS on each bit-23 change; the SCI
 * is level and follows enables and write-1-to-clear. */
static void test_status_enable_sci(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in(f, 4, 2, 0) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
    out(f, 4, 2, 0, 0); /* cannot clear SCI_EN */
    assert_int_equal(in(f, 4, 2, 0) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
    out(f, 2, 2, ACPI_PM1_TMR | ACPI_PM1_WAK, 0); /* WAK is not an enable bit */
    assert_int_equal(in(f, 2, 2, 0), ACPI_PM1_TMR);
    /* bit 23 changes after 2^23 counts: 2343484 us */
    uint64_t t = acpi_pm_next_event_ns(&f->pm, 0);
    assert_int_equal(acpi_pm_timer(t), 0x800000);
    assert_int_equal(acpi_pm_timer(t - 1), 0x7fffff);
    acpi_pm_tick(&f->pm, t - 1);
    assert_false(f->sci);
    acpi_pm_tick(&f->pm, t);
    assert_true(f->sci);
    assert_int_equal(in(f, 0, 2, t), ACPI_PM1_TMR);
    assert_int_equal(acpi_pm_next_event_ns(&f->pm, t), TIME_NEVER); /* already pending */
    out(f, 0, 2, 0xfffe, t); /* writing 0 to TMR_STS keeps it */
    assert_true(f->sci);
    out(f, 0, 2, ACPI_PM1_TMR, t);
    assert_false(f->sci);
    assert_int_equal(in(f, 0, 2, t), 0);
    /* status set while disabled raises the SCI when enabled */
    out(f, 2, 2, 0, t);
    acpi_pm_tick(&f->pm, 2 * t + 10);
    assert_false(f->sci);
    assert_int_equal(in(f, 0, 2, 2 * t + 10), ACPI_PM1_TMR);
    out(f, 2, 1, ACPI_PM1_TMR, 2 * t + 10); /* byte write of PM1_EN */
    assert_true(f->sci);
    /* a 32-bit write to the event block clears status and sets enables */
    out(f, 0, 4, ACPI_PM1_TMR, 2 * t + 20);
    assert_false(f->sci);
    assert_int_equal(in(f, 2, 2, 2 * t + 20), 0);
}

/* SLP_TYP = \_S5's type with SLP_EN: power off; other types do nothing;
 * SLP_EN and GBL_RLS read 0. */
static void test_sleep(void **st)
{
    struct fx *f = *st;
    out(f, 4, 2, ACPI_PM1_SLP_EN | (1u << 10) | ACPI_PM1_SCI_EN, 0); /* S1 */
    assert_int_equal(f->poweroffs, 0);
    assert_int_equal(in(f, 4, 2, 0), (1u << 10) | ACPI_PM1_SCI_EN);
    out(f, 4, 2, (5u << 10) | ACPI_PM1_SCI_EN, 0); /* type set, no SLP_EN */
    assert_int_equal(f->poweroffs, 0);
    out(f, 4, 2, ACPI_PM1_SLP_EN | (5u << 10) | ACPI_PM1_SCI_EN, 0);
    assert_int_equal(f->poweroffs, 1);
}

/* Decoding: 12 ports from the base; reserved bytes read 0xff; an access
 * running past the block is refused. */
static void test_ports(void **st)
{
    struct fx *f = *st;
    assert_int_equal(in(f, 6, 2, 0), 0xffff);
    uint32_t v;
    assert_int_equal(acpi_pm_io(&f->pm, BASE + 12, 1, false, &v, 0), DEV_IO_UNMAPPED);
    assert_int_equal(acpi_pm_io(&f->pm, BASE + 10, 4, false, &v, 0), DEV_IO_BADSIZE);
}

/* On the APIC platform: ports at VM_DEVICES_ACPI_PM_BASE, SCI on IRQ 9
 * (PIC and I/O APIC pin 9), the S5 write ends the VM; not there without. */
static void test_platform(void **st)
{
    (void)st;
    static struct vm_devices d;
    struct vm_devices_config cfg = {.apic = false};
    vm_devices_init(&d, &cfg, NULL, 0);
    uint32_t v = 0;
    vm_devices_io(&d, VM_DEVICES_ACPI_PM_BASE + 4, 2, false, &v, 0);
    assert_int_equal(v, 0xffff); /* unmapped */
    cfg.apic = true;
    vm_devices_init(&d, &cfg, NULL, 0);
    vm_devices_io(&d, VM_DEVICES_ACPI_PM_BASE + 4, 2, false, &v, 0);
    assert_int_equal(v, ACPI_PM1_SCI_EN);
    v = ACPI_PM1_TMR;
    vm_devices_io(&d, VM_DEVICES_ACPI_PM_BASE + 2, 2, true, &v, 0);
    uint64_t t = vm_devices_next_event_ns(&d, 0);
    vm_devices_advance(&d, t);
    assert_true(d.pic.chip[1].pins & 0x02); /* IRQ9 */
    assert_true(d.ioapic.pins & (1u << 9));
    v = ACPI_PM1_SLP_EN | (VM_DEVICES_S5_TYP << 10);
    vm_devices_io(&d, VM_DEVICES_ACPI_PM_BASE + 4, 2, true, &v, t);
    assert_true(d.requests & (1u << DEV_REQ_POWEROFF));
}

/* Restore refuses impossible states. */
static void test_restore(void **st)
{
    struct fx *f = *st;
    uint8_t buf[128];
    struct acpi_pm bad = f->pm;
    bad.cnt = 0; /* SCI_EN clear */
    struct sv s;
    sv_init_write(&s, buf, sizeof buf);
    sv_save(&s, &acpi_pm_sv_desc, &bad);
    size_t n = sv_len(&s);
    struct acpi_pm t = f->pm;
    sv_init_read(&s, buf, n);
    assert_int_equal(sv_load(&s, &acpi_pm_sv_desc, &t), 0);
    bad = f->pm;
    bad.sts = ACPI_PM1_TMR;
    bad.en = ACPI_PM1_TMR; /* SCI would be high */
    sv_init_write(&s, buf, sizeof buf);
    sv_save(&s, &acpi_pm_sv_desc, &bad);
    sv_init_read(&s, buf, sv_len(&s));
    assert_int_equal(sv_load(&s, &acpi_pm_sv_desc, &t), 0);
    sv_init_write(&s, buf, sizeof buf);
    sv_save(&s, &acpi_pm_sv_desc, &f->pm);
    sv_init_read(&s, buf, sv_len(&s));
    assert_int_equal(sv_load(&s, &acpi_pm_sv_desc, &t), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_timer, setup),
        cmocka_unit_test_setup(test_status_enable_sci, setup),
        cmocka_unit_test_setup(test_sleep, setup),
        cmocka_unit_test_setup(test_ports, setup),
        cmocka_unit_test_setup(test_platform, setup),
        cmocka_unit_test_setup(test_restore, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
