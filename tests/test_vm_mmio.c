/* MMIO exit policy (hv/vm_mmio.c) on a fake vCPU with the APIC platform
 * behind it: Linux's APIC accessors (mov (%rdi),%eax / mov %esi,(%rdi))
 * reach the local APIC and the I/O APIC; loads merge as the SDM says; RIP
 * moves by the decoded length; an instruction running onto a missing page
 * is a #PF (instruction fetch); a refused instruction stops the VM with
 * its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/vm_mmio.h"

#define CODE_LA 0x1000u
#define CODE_SZ 32u

struct fake {
    struct vm_devices dev;
    struct vm_policy p;
    uint64_t regs[16], rip;
    uint8_t code[CODE_SZ];
    unsigned mapped; /* bytes of code[] the guest's paging maps */
    bool outside;    /* unmapped bytes are outside RAM (else not present) */
    unsigned accesses, pfs;
    uint64_t pf_cr2;
    uint32_t pf_err;
};

static uint64_t f_reg(void *c, unsigned r)
{
    return ((struct fake *)c)->regs[r];
}
static void f_set_reg(void *c, unsigned r, uint64_t v)
{
    ((struct fake *)c)->regs[r] = v;
}
static void f_inject_pf(void *c, uint64_t cr2, uint32_t err)
{
    struct fake *f = c;
    f->pfs++;
    f->pf_cr2 = cr2;
    f->pf_err = err;
}
static enum vm_policy_map f_map(void *c, uint64_t la, bool write, uint8_t **p, uint32_t *err)
{
    struct fake *f = c;
    assert_false(write);
    if (la < CODE_LA || la >= CODE_LA + f->mapped) {
        *err = 0;
        return f->outside ? VM_POLICY_MAP_OUTSIDE : VM_POLICY_MAP_PF;
    }
    *p = &f->code[la - CODE_LA];
    return VM_POLICY_MAP_OK;
}
static uint64_t f_access(void *c, const struct vm_rec_exit_info *x, uint64_t gpa, unsigned size,
                         bool write, uint64_t value)
{
    struct fake *f = c;
    (void)x;
    f->accesses++;
    uint32_t v = (uint32_t)value;
    if (vm_devices_mmio(&f->dev, gpa, size, write, &v, 0) != DEV_IO_OK)
        v = 0xffffffffu;
    return v;
}
static void f_advance_rip(void *c, unsigned len)
{
    ((struct fake *)c)->rip += len;
}

static const struct vm_policy_ops ops = {
    .reg = f_reg, .set_reg = f_set_reg, .inject_pf = f_inject_pf, .map_operand = f_map};
static const struct vm_mmio_ops mops = {.access = f_access, .advance_rip = f_advance_rip};

static struct fake F;

static void setup_fake(const uint8_t *code, unsigned n)
{
    memset(&F, 0, sizeof F);
    const struct vm_devices_config dc = {.apic = true};
    vm_devices_init(&F.dev, &dc, NULL, 0);
    const struct vm_policy_config pc = {.tsc_hz = 1000000000};
    vm_policy_init(&F.p, &ops, &F, &F.dev, &pc);
    memcpy(F.code, code, n);
    F.mapped = CODE_SZ;
}

static enum vm_policy_io_result run(uint64_t gpa, struct vm_mmio_exit *m)
{
    *m = (struct vm_mmio_exit){.gpa = gpa, .mode = MMIO_MODE_64, .code_la = CODE_LA};
    return vm_policy_mmio(&F.p, &mops, m);
}

/* native_apic_mem_read(APIC_LVR): mov (%rdi),%eax with RDI = 0xfee00030;
 * the 32-bit load zero-extends RAX. */
static void test_apic_read(void **st)
{
    (void)st;
    static const uint8_t c[] = {0x8b, 0x07};
    setup_fake(c, sizeof c);
    F.regs[0] = ~0ull;
    struct vm_mmio_exit m;
    assert_int_equal(run(0xfee00030, &m), VM_POLICY_IO_DEVICE);
    assert_int_equal(F.regs[0], LAPIC_VERSION);
    assert_int_equal(F.rip, 2);
    assert_int_equal(F.accesses, 1);
}

/* native_apic_mem_write(APIC_TASKPRI, 0x20): mov %esi,(%rdi). */
static void test_apic_write(void **st)
{
    (void)st;
    static const uint8_t c[] = {0x89, 0x37};
    setup_fake(c, sizeof c);
    F.regs[6] = 0xffffffff00000020ull;
    struct vm_mmio_exit m;
    assert_int_equal(run(0xfee00080, &m), VM_POLICY_IO_DEVICE);
    assert_int_equal(m.value, 0x20);
    assert_int_equal(F.dev.lapic[0].tpr, 0x20);
    assert_int_equal(F.rip, 2);
}

/* io_apic_write(): writel to IOREGSEL then IOWIN, io_apic_read(): readl. */
static void test_ioapic_window(void **st)
{
    (void)st;
    static const uint8_t wr[] = {0x89, 0x37}, rd[] = {0x8b, 0x47, 0x10};
    struct vm_mmio_exit m;
    setup_fake(wr, sizeof wr);
    F.regs[6] = 0x01; /* IOAPICVER */
    assert_int_equal(run(0xfec00000, &m), VM_POLICY_IO_DEVICE);
    memcpy(F.code, rd, sizeof rd);
    assert_int_equal(run(0xfec00010, &m), VM_POLICY_IO_DEVICE);
    assert_int_equal(F.regs[0], 0x00170020u);
    assert_int_equal(F.rip, 2 + 3);
}

/* A byte load into AH merges bits 15:8 only. */
static void test_byte_load_merges(void **st)
{
    (void)st;
    static const uint8_t c[] = {0x8a, 0x27}; /* mov (%rdi),%ah */
    setup_fake(c, sizeof c);
    F.regs[0] = 0x1122334455667788ull;
    struct vm_mmio_exit m;
    assert_int_equal(run(0xfee000f0, &m), VM_POLICY_IO_DEVICE); /* SVR = 0x1ff */
    assert_int_equal(F.regs[0], 0x112233445566ff88ull);
}

/* The instruction runs onto a page that is not present: #PF with I/D set at
 * the first missing byte, no device access, RIP unchanged. */
static void test_fetch_fault(void **st)
{
    (void)st;
    static const uint8_t c[] = {0x8b, 0x87, 0xf0, 0x00, 0x00, 0x00};
    setup_fake(c, sizeof c);
    F.mapped = 3;
    struct vm_mmio_exit m;
    assert_int_equal(run(0xfee000f0, &m), VM_POLICY_IO_NO_ACCESS);
    assert_int_equal(F.pfs, 1);
    assert_int_equal(F.pf_cr2, CODE_LA + 3);
    assert_true(F.pf_err & 0x10u);
    assert_int_equal(F.accesses, 0);
    assert_int_equal(F.rip, 0);
    assert_int_equal(F.p.stop, VM_RUNNING);
    /* bytes after a complete instruction may be missing */
    F.mapped = 6;
    assert_int_equal(run(0xfee000f0, &m), VM_POLICY_IO_DEVICE);
    assert_int_equal(F.rip, 6);
    /* outside RAM: fatal with the reason */
    F.mapped = 3;
    F.outside = true;
    F.rip = 0;
    assert_int_equal(run(0xfee000f0, &m), VM_POLICY_IO_FATAL);
    assert_int_equal(F.p.stop, VM_STOP_FATAL);
    assert_non_null(strstr(m.why, "outside guest RAM"));
}

/* Not a MOV (a locked add, as a read-modify-write on a register would be):
 * the VM stops with the decoder's reason; nothing reaches the device. */
static void test_refused_stops(void **st)
{
    (void)st;
    static const uint8_t c[] = {0xf0, 0x01, 0x37};
    setup_fake(c, sizeof c);
    struct vm_mmio_exit m;
    assert_int_equal(run(0xfee00080, &m), VM_POLICY_IO_FATAL);
    assert_int_equal(F.p.stop, VM_STOP_FATAL);
    assert_non_null(strstr(m.why, "LOCK/REP"));
    assert_int_equal(F.accesses, 0);
    assert_int_equal(F.rip, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apic_read),     cmocka_unit_test(test_apic_write),
        cmocka_unit_test(test_ioapic_window), cmocka_unit_test(test_byte_load_merges),
        cmocka_unit_test(test_fetch_fault),   cmocka_unit_test(test_refused_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
