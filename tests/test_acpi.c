/* ACPI tables (hv/acpi.c) read the way Linux 6.1 reads them
 * (drivers/acpi/acpica/tbxfroot.c acpi_find_root_pointer, tbutils.c,
 * arch/x86/kernel/acpi/boot.c): RSDP on a 16-byte boundary of
 * 0xe0000-0xfffff with both checksums, XSDT entries, every table's length
 * and checksum, the FADT's DSDT/FACS, the MADT's entries (ACPI 6.x
 * ch. 5.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/acpi.h"

/* Guest memory 0xe0000-0xfffff with the tables at ACPI_TABLES_GPA. */
#define WIN_BASE 0xe0000u
#define WIN_SIZE 0x20000u
static uint8_t win[WIN_SIZE];

static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static const uint8_t *at(uint64_t gpa, size_t len)
{
    assert_true(gpa >= WIN_BASE && gpa + len <= WIN_BASE + WIN_SIZE);
    return win + (gpa - WIN_BASE);
}

static size_t build(const struct acpi_config *c)
{
    memset(win, 0, sizeof win);
    size_t n = acpi_build(c, win + (c->base - WIN_BASE), ACPI_TABLES_MAX);
    assert_true(n > 0 && n <= ACPI_TABLES_MAX);
    return n;
}

/* acpi_find_root_pointer: 16-byte steps, "RSD PTR ", checksum of 20 bytes,
 * and for revision >= 2 the extended checksum over `length`. */
static const uint8_t *find_rsdp(void)
{
    for (uint32_t off = 0; off < WIN_SIZE; off += 16) {
        const uint8_t *p = win + off;
        if (memcmp(p, "RSD PTR ", 8) || acpi_sum(p, 20))
            continue;
        return p;
    }
    return NULL;
}

/* A table as acpi_tb_verify_checksum sees it: its signature, a length of
 * at least the header, and a byte sum of 0. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
    const uint8_t *t = at(gpa, 36);
    assert_memory_equal(t, sig, 4);
    uint32_t len = (uint32_t)get(t + 4, 4);
    assert_true(len >= 36);
    t = at(gpa, len);
    assert_int_equal(acpi_sum(t, len), 0);
    assert_memory_equal(t + 10, "HVRR  ", 6);
    return t;
}

static const uint8_t *xsdt_find(const uint8_t *xsdt, const char *sig)
{
    uint32_t len = (uint32_t)get(xsdt + 4, 4);
    for (uint32_t o = 36; o + 8 <= len; o += 8) {
        uint64_t a = get(xsdt + o, 8);
        if (!memcmp(at(a, 4), sig, 4))
            return table(a, sig);
    }
    return NULL;
}

static void test_rsdp_and_roots(void **st)
{
    (void)st;
    struct acpi_config c = {.base = ACPI_TABLES_GPA};
    build(&c);
    const uint8_t *r = find_rsdp();
    assert_non_null(r);
    assert_int_equal(WIN_BASE + (uint32_t)(r - win), ACPI_TABLES_GPA);
    assert_int_equal(r[15], 2);           /* revision: ACPI 2.0+ */
    assert_int_equal(get(r + 20, 4), 36); /* length */
    assert_int_equal(acpi_sum(r, 36), 0); /* extended checksum */
    const uint8_t *rsdt = table(get(r + 16, 4), "RSDT");
    const uint8_t *xsdt = table(get(r + 24, 8), "XSDT");
    /* Both roots list the same tables: FADT and MADT. */
    assert_int_equal(get(rsdt + 4, 4), 36 + 2 * 4);
    assert_int_equal(get(xsdt + 4, 4), 36 + 2 * 8);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(get(rsdt + 36 + 4 * i, 4), get(xsdt + 36 + 8 * i, 8));
    assert_non_null(xsdt_find(xsdt, "FACP"));
    assert_non_null(xsdt_find(xsdt, "APIC"));
}

/* FADT: DSDT and FACS by 32- and 64-bit pointers (equal), FACS 64-byte
 * aligned with its length, no SMI command port (always in ACPI mode),
 * legacy devices and an 8042 in IAPC_BOOT_ARCH, the CMOS century byte,
 * the reset register (0xcf9 <- 6); without PM hardware no PM blocks. */
static void test_fadt(void **st)
{
    (void)st;
    struct acpi_config c = {.base = ACPI_TABLES_GPA};
    build(&c);
    const uint8_t *xsdt = table(get(find_rsdp() + 24, 8), "XSDT");
    const uint8_t *f = xsdt_find(xsdt, "FACP");
    assert_int_equal(get(f + 4, 4), 276);
    assert_int_equal(f[8], 6);
    uint64_t facs = get(f + 36, 4), dsdt = get(f + 40, 4);
    assert_int_equal(get(f + 132, 8), facs);
    assert_int_equal(get(f + 140, 8), dsdt);
    assert_int_equal(facs % 64, 0);
    const uint8_t *fa = at(facs, 64);
    assert_memory_equal(fa, "FACS", 4);
    assert_int_equal(get(fa + 4, 4), 64);
    const uint8_t *d = table(dsdt, "DSDT");
    assert_int_equal(get(d + 4, 4), 36);  /* empty namespace */
    assert_int_equal(get(f + 48, 4), 0);  /* SMI_CMD */
    assert_int_equal(get(f + 109, 2), 3); /* LEGACY_DEVICES | 8042 */
    assert_int_equal(f[108], 0x32);       /* century */
    assert_int_equal(get(f + 56, 4), 0);  /* no PM1a event block */
    assert_int_equal(get(f + 76, 4), 0);  /* no PM timer */
    uint32_t flags = (uint32_t)get(f + 112, 4);
    assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
    assert_false(flags & (1u << 20)); /* not hardware-reduced: PIT and PIC stay */
    assert_int_equal(f[116], 1);      /* reset register in I/O space */
    assert_int_equal(get(f + 120, 8), 0xcf9);
    assert_int_equal(f[128], 6);
}

struct madt_seen {
    unsigned lapics, ioapics, isos, nmis;
    uint8_t lapic_id[4];
    uint32_t ioapic_addr, gsi_base;
    uint8_t ioapic_id;
    uint8_t iso_src[4];
    uint32_t iso_gsi[4];
    uint16_t iso_flags[4];
    uint8_t nmi_lint;
};

/* acpi_parse_madt / acpi_table_parse_entries: entries back to back, each
 * with its type and length, ending exactly at the table's length. */
static struct madt_seen parse_madt(const uint8_t *m)
{
    struct madt_seen s = {0};
    uint32_t len = (uint32_t)get(m + 4, 4);
    assert_int_equal(get(m + 36, 4), 0xfee00000u);
    assert_int_equal(get(m + 40, 4) & 1, 1); /* PCAT_COMPAT */
    uint32_t o = 44;
    while (o < len) {
        const uint8_t *e = m + o;
        assert_true(e[1] >= 2 && o + e[1] <= len);
        switch (e[0]) {
        case 0:
            assert_int_equal(e[1], 8);
            assert_int_equal(get(e + 4, 4) & 1, 1);
            s.lapic_id[s.lapics++] = e[3];
            break;
        case 1:
            assert_int_equal(e[1], 12);
            s.ioapic_id = e[2];
            s.ioapic_addr = (uint32_t)get(e + 4, 4);
            s.gsi_base = (uint32_t)get(e + 8, 4);
            s.ioapics++;
            break;
        case 2:
            assert_int_equal(e[1], 10);
            assert_int_equal(e[2], 0); /* ISA */
            s.iso_src[s.isos] = e[3];
            s.iso_gsi[s.isos] = (uint32_t)get(e + 4, 4);
            s.iso_flags[s.isos++] = (uint16_t)get(e + 8, 2);
            break;
        case 4:
            assert_int_equal(e[1], 6);
            s.nmi_lint = e[5];
            s.nmis++;
            break;
        default: fail_msg("unexpected MADT entry type %u", e[0]);
        }
        o += e[1];
    }
    assert_int_equal(o, len);
    return s;
}

/* One local APIC, the I/O APIC at 0xfec00000 from GSI 0, ISA IRQ0 -> GSI 2
 * (conforming flags), LINT1 as NMI. */
static void test_madt(void **st)
{
    (void)st;
    struct acpi_config c = {.base = ACPI_TABLES_GPA};
    build(&c);
    const uint8_t *m = xsdt_find(table(get(find_rsdp() + 24, 8), "XSDT"), "APIC");
    struct madt_seen s = parse_madt(m);
    assert_int_equal(s.lapics, 1);
    assert_int_equal(s.lapic_id[0], 0);
    assert_int_equal(s.ioapics, 1);
    assert_int_equal(s.ioapic_addr, 0xfec00000u);
    assert_int_equal(s.gsi_base, 0);
    assert_int_equal(s.ioapic_id, 0);
    assert_int_equal(s.isos, 1);
    assert_int_equal(s.iso_src[0], 0);
    assert_int_equal(s.iso_gsi[0], 2);
    assert_int_equal(s.iso_flags[0], 0);
    assert_int_equal(s.nmis, 1);
    assert_int_equal(s.nmi_lint, 1);
}

/* With PM hardware: SCI on IRQ 9 (FADT and a level/active-high override),
 * PM1a blocks and timer in both the 32-bit fields and the GAS, the DSDT
 * holding \_S5 = Package (4) {typ, typ, 0, 0}. */
static void test_with_pm(void **st)
{
    (void)st;
    struct acpi_config c = {.base = ACPI_TABLES_GPA,
                            .pm1a_evt = 0x600,
                            .pm1a_cnt = 0x604,
                            .pm_tmr = 0x608,
                            .sci_irq = 9,
                            .s5_slp_typ = 5,
                            .ncpus = 2,
                            .ioapic_id = 2};
    build(&c);
    const uint8_t *xsdt = table(get(find_rsdp() + 24, 8), "XSDT");
    const uint8_t *f = xsdt_find(xsdt, "FACP");
    assert_int_equal(get(f + 46, 2), 9);
    assert_int_equal(get(f + 56, 4), 0x600);
    assert_int_equal(f[88], 4);
    assert_int_equal(get(f + 64, 4), 0x604);
    assert_int_equal(f[89], 2);
    assert_int_equal(get(f + 76, 4), 0x608);
    assert_int_equal(f[91], 4);
    assert_int_equal(f[148], 1); /* X_PM1a_EVT_BLK: I/O */
    assert_int_equal(f[149], 32);
    assert_int_equal(get(f + 152, 8), 0x600);
    assert_int_equal(get(f + 176, 8), 0x604);
    assert_int_equal(get(f + 212, 8), 0x608);
    const uint8_t *d = table(get(f + 140, 8), "DSDT");
    static const uint8_t s5[] = {0x08, '_',  'S', '5',  '_', 0x12, 0x08,
                                 0x04, 0x0a, 5,   0x0a, 5,   0x00, 0x00};
    assert_int_equal(get(d + 4, 4), 36 + sizeof s5);
    assert_memory_equal(d + 36, s5, sizeof s5);
    struct madt_seen s = parse_madt(xsdt_find(xsdt, "APIC"));
    assert_int_equal(s.lapics, 2);
    assert_int_equal(s.lapic_id[1], 1);
    assert_int_equal(s.ioapic_id, 2);
    assert_int_equal(s.isos, 2);
    assert_int_equal(s.iso_src[1], 9);
    assert_int_equal(s.iso_gsi[1], 9);
    assert_int_equal(s.iso_flags[1], 0x000d); /* active high, level */
}

/* A buffer too small or a misaligned base: nothing built. */
static void test_bad_config(void **st)
{
    (void)st;
    static uint8_t buf[ACPI_TABLES_MAX];
    struct acpi_config c = {.base = ACPI_TABLES_GPA};
    assert_int_equal(acpi_build(&c, buf, 200), 0);
    c.base = ACPI_TABLES_GPA + 8;
    assert_int_equal(acpi_build(&c, buf, sizeof buf), 0);
    c.base = 0xffffff00u; /* the tables would cross 4 GiB */
    assert_int_equal(acpi_build(&c, buf, sizeof buf), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsdp_and_roots), cmocka_unit_test(test_fadt),
        cmocka_unit_test(test_madt),           cmocka_unit_test(test_with_pm),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
