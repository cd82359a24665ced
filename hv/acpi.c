/* ACPI table builder (ACPI 6.x spec, ch. 5.2 "ACPI System Description
 * Tables"; section numbers below are that chapter's). Little-endian
 * fields written byte by byte at the spec's offsets. Layout in the buffer:
 *   0x000 RSDP (36 bytes, revision 2)
 *   0x030 RSDT, XSDT, FADT, FACS (64-byte aligned), DSDT, MADT, each
 *         16-byte aligned
 */
#include "hv/acpi.h"

#include <stdbool.h>

#define OEM_ID       "HVRR  "
#define OEM_TABLE_ID "HVRRPLAT"
#define CREATOR_ID   "HVRR"

#define FADT_LEN 276 /* revision 6 */
#define FACS_LEN 64
#define HDR_LEN  36

struct out {
    uint8_t *b;
    size_t cap, pos;
    bool err;
};

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_str(uint8_t *p, const char *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)s[i];
}

uint8_t acpi_sum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + b[i]);
    return s;
}

/* Reserves n bytes at the next `align` boundary; returns their offset. */
static size_t take(struct out *o, size_t n, size_t align)
{
    size_t at = (o->pos + align - 1) & ~(align - 1);
    if (at + n > o->cap) {
        o->err = true;
        return 0;
    }
    o->pos = at + n;
    return at;
}

/* 5.2.6 System Description Table Header; checksum filled by finish(). */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    put_str(t, sig, 4);
    put(t + 4, len, 4);
    t[8] = rev;
    put_str(t + 10, OEM_ID, 6);
    put_str(t + 16, OEM_TABLE_ID, 8);
    put(t + 24, 1, 4); /* OEM revision */
    put_str(t + 28, CREATOR_ID, 4);
    put(t + 32, 1, 4); /* creator revision */
}

static void finish(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = (uint8_t)(0u - acpi_sum(t, len));
}

/* 5.2.3.2 Generic Address Structure: system I/O space. */
static void gas_io(uint8_t *g, uint16_t port, uint8_t bits)
{
    g[0] = 1; /* system I/O */
    g[1] = bits;
    g[2] = 0;
    g[3] = bits == 8 ? 1 : bits == 16 ? 2 : 3; /* byte/word/dword access */
    put(g + 4, port, 8);
}

/* 5.2.12 MADT. */
static size_t madt_len(const struct acpi_config *c, unsigned ncpus)
{
    return HDR_LEN + 8 + 8u * ncpus + 12 + 10 + (c->pm1a_evt ? 10 : 0) + 6;
}

static void build_madt(const struct acpi_config *c, unsigned ncpus, uint8_t *t, uint32_t len)
{
    header(t, "APIC", len, 3);
    put(t + 36, c->lapic_base ? c->lapic_base : 0xfee00000u, 4);
    put(t + 40, 1, 4); /* PCAT_COMPAT: a dual 8259 is present */
    uint8_t *e = t + 44;
    for (unsigned i = 0; i < ncpus; i++, e += 8) {
        e[0] = 0; /* processor local APIC */
        e[1] = 8;
        e[2] = (uint8_t)i; /* ACPI processor UID */
        e[3] = (uint8_t)i; /* APIC ID */
        put(e + 4, 1, 4);  /* enabled */
    }
    e[0] = 1; /* I/O APIC */
    e[1] = 12;
    e[2] = c->ioapic_id;
    e[3] = 0;
    put(e + 4, c->ioapic_base ? c->ioapic_base : 0xfec00000u, 4);
    put(e + 8, 0, 4); /* GSI base */
    e += 12;
    /* Interrupt source overrides: ISA IRQ0 (PIT) is GSI 2; flags 0 =
     * conforms to the bus (ISA: edge, active high). */
    e[0] = 2;
    e[1] = 10;
    e[2] = 0; /* ISA */
    e[3] = 0;
    put(e + 4, 2, 4);
    put(e + 8, 0, 2);
    e += 10;
    if (c->pm1a_evt) {
        /* The SCI: level triggered, active high (MPS INTI flags). */
        e[0] = 2;
        e[1] = 10;
        e[2] = 0;
        e[3] = c->sci_irq;
        put(e + 4, c->sci_irq, 4);
        put(e + 8, 0x000d, 2);
        e += 10;
    }
    /* Local APIC NMI: LINT1 of every processor, flags conform. */
    e[0] = 4;
    e[1] = 6;
    e[2] = 0xff;
    put(e + 3, 0, 2);
    e[5] = 1;
    finish(t, len);
}

/* 5.2.9 FADT, revision 6. No SMI command port: the platform is always in
 * ACPI mode. IAPC_BOOT_ARCH: legacy devices and an 8042. */
static void build_fadt(const struct acpi_config *c, uint8_t *t, uint64_t facs, uint64_t dsdt)
{
    header(t, "FACP", FADT_LEN, 6);
    put(t + 36, facs, 4);
    put(t + 40, dsdt, 4);
    t[45] = 0; /* preferred PM profile: unspecified */
    if (c->pm1a_evt) {
        put(t + 46, c->sci_irq, 2);
        put(t + 56, c->pm1a_evt, 4);
        t[88] = 4; /* PM1_EVT_LEN */
    }
    if (c->pm1a_cnt) {
        put(t + 64, c->pm1a_cnt, 4);
        t[89] = 2; /* PM1_CNT_LEN */
    }
    if (c->pm_tmr) {
        put(t + 76, c->pm_tmr, 4);
        t[91] = 4; /* PM_TMR_LEN */
    }
    put(t + 96, 101, 2);  /* P_LVL2_LAT > 100: no C2 */
    put(t + 98, 1001, 2); /* P_LVL3_LAT > 1000: no C3 */
    t[108] = 0x32;        /* CMOS century byte */
    put(t + 109, 0x0003, 2);
    /* Flags: WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON (no fixed-feature
     * buttons), RESET_REG_SUP. */
    put(t + 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10), 4);
    gas_io(t + 116, 0xcf9, 8); /* reset register: PCI reset control */
    t[128] = 0x06;             /* full reset */
    t[131] = 0;                /* FADT minor version */
    put(t + 132, facs, 8);
    put(t + 140, dsdt, 8);
    if (c->pm1a_evt)
        gas_io(t + 148, c->pm1a_evt, 32);
    if (c->pm1a_cnt)
        gas_io(t + 172, c->pm1a_cnt, 16);
    if (c->pm_tmr)
        gas_io(t + 208, c->pm_tmr, 32);
    put_str(t + 268, "HVRRHVRR", 8); /* hypervisor vendor identity */
    finish(t, FADT_LEN);
}

/* The DSDT: a header, and with a PM1 control block the \_S5 package
 * Linux needs to power off: Name (_S5, Package (4) {typ, typ, 0, 0}). */
static size_t dsdt_len(const struct acpi_config *c)
{
    return HDR_LEN + (c->pm1a_cnt ? 14 : 0);
}

static void build_dsdt(const struct acpi_config *c, uint8_t *t, uint32_t len)
{
    header(t, "DSDT", len, 2);
    if (c->pm1a_cnt) {
        static const uint8_t s5[14] = {0x08, '_',  'S', '5',  '_', 0x12, 0x08,
                                       0x04, 0x0a, 0,   0x0a, 0,   0x00, 0x00};
        uint8_t *a = t + HDR_LEN;
        for (unsigned i = 0; i < sizeof s5; i++)
            a[i] = s5[i];
        a[9] = a[11] = c->s5_slp_typ;
    }
    finish(t, len);
}

size_t acpi_build(const struct acpi_config *c, void *buf, size_t cap)
{
    struct out o = {buf, cap, 0, false};
    unsigned ncpus = c->ncpus ? c->ncpus : 1;
    if ((c->base & 15u) || ncpus > 255)
        return 0;
    for (size_t i = 0; i < cap; i++)
        o.b[i] = 0;
    size_t rsdp = take(&o, 36, 16);
    size_t rsdt = take(&o, HDR_LEN + 2 * 4, 16);
    size_t xsdt = take(&o, HDR_LEN + 2 * 8, 16);
    size_t fadt = take(&o, FADT_LEN, 16);
    size_t facs = take(&o, FACS_LEN, 64);
    size_t dl = dsdt_len(c), ml = madt_len(c, ncpus);
    size_t dsdt = take(&o, dl, 16);
    size_t madt = take(&o, ml, 16);
    if (o.err || (uint64_t)c->base + o.pos > 0x100000000ull)
        return 0;
    uint8_t *b = o.b;
    uint64_t base = c->base;

    /* 5.2.5.3 RSDP: checksum over the first 20 bytes, extended checksum
     * over all 36. */
    put_str(b + rsdp, "RSD PTR ", 8);
    put_str(b + rsdp + 9, OEM_ID, 6);
    b[rsdp + 15] = 2;
    put(b + rsdp + 16, base + rsdt, 4);
    put(b + rsdp + 20, 36, 4);
    put(b + rsdp + 24, base + xsdt, 8);
    b[rsdp + 8] = (uint8_t)(0u - acpi_sum(b + rsdp, 20));
    b[rsdp + 32] = (uint8_t)(0u - acpi_sum(b + rsdp, 36));

    /* 5.2.7 RSDT / 5.2.8 XSDT: FADT and MADT. */
    header(b + rsdt, "RSDT", HDR_LEN + 8, 1);
    put(b + rsdt + 36, base + fadt, 4);
    put(b + rsdt + 40, base + madt, 4);
    finish(b + rsdt, HDR_LEN + 8);
    header(b + xsdt, "XSDT", HDR_LEN + 16, 1);
    put(b + xsdt + 36, base + fadt, 8);
    put(b + xsdt + 44, base + madt, 8);
    finish(b + xsdt, HDR_LEN + 16);

    build_fadt(c, b + fadt, base + facs, base + dsdt);
    /* 5.2.10 FACS: no checksum; hardware signature 0, no waking vector. */
    put_str(b + facs, "FACS", 4);
    put(b + facs + 4, FACS_LEN, 4);
    b[facs + 32] = 2; /* version */
    build_dsdt(c, b + dsdt, (uint32_t)dl);
    build_madt(c, ncpus, b + madt, (uint32_t)ml);
    return o.pos;
}
