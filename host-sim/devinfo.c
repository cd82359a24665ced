/* Port, register and state-section names for replay reports (devinfo.h). */
#include "host-sim/devinfo.h"

#include <stdio.h>
#include <string.h>

#include "hv/devs/savestate.h"

const char *devinfo_port_device(const struct vm_devices *d, uint16_t port)
{
    const struct iobus_range *r = iobus_find(&d->bus, port);
    return r ? r->name : "unmapped";
}

static const char *uart_reg(const struct devinfo_regs *d, unsigned off, bool write)
{
    bool dlab = d->uart_lcr & 0x80;
    switch (off) {
    case 0: return dlab ? "DLL" : write ? "THR" : "RBR";
    case 1: return dlab ? "DLM" : "IER";
    case 2: return write ? "FCR" : "IIR";
    case 3: return "LCR";
    case 4: return "MCR";
    case 5: return "LSR";
    case 6: return "MSR";
    default: return "SCR";
    }
}

void devinfo_port(const struct vm_devices *d, uint16_t port, bool write, char *buf, size_t len)
{
    struct devinfo_regs rg;
    devinfo_regs_get(d, &rg);
    devinfo_port_regs(&rg, port, write, buf, len);
}

void devinfo_port_regs(const struct devinfo_regs *d, uint16_t port, bool write, char *buf,
                       size_t len)
{
    uint16_t cb = d->com1_base;
    if (port >= cb && port < cb + 8) {
        snprintf(buf, len, "uart %s (0x%x)", uart_reg(d, port - cb, write), port);
        return;
    }
    switch (port) {
    case 0x20:
    case 0xa0:
        snprintf(buf, len, "pic %s %s (0x%x)", port == 0x20 ? "master" : "slave",
                 write ? "ICW1/OCW2/OCW3" : "IRR/ISR/poll", port);
        return;
    case 0x21:
    case 0xa1:
        snprintf(buf, len, "pic %s %s (0x%x)", port == 0x21 ? "master" : "slave",
                 write ? "IMR/ICW2-4" : "IMR", port);
        return;
    case 0x4d0:
    case 0x4d1: snprintf(buf, len, "pic ELCR%u (0x%x)", port - 0x4d0, port); return;
    case 0x40:
    case 0x41:
    case 0x42: snprintf(buf, len, "pit ch%u count (0x%x)", port - 0x40, port); return;
    case 0x43: snprintf(buf, len, "pit control word (0x43)"); return;
    case 0x61: snprintf(buf, len, "port61 gate/speaker/OUT2 (0x61)"); return;
    case 0x60: snprintf(buf, len, "kbc data (0x60)"); return;
    case 0x64: snprintf(buf, len, "kbc %s (0x64)", write ? "command" : "status"); return;
    case 0x70: snprintf(buf, len, "cmos index (0x70)"); return;
    case 0x71: snprintf(buf, len, "cmos reg 0x%02x (0x71)", d->cmos_index & 0x7f); return;
    case 0x80: snprintf(buf, len, "post code (0x80)"); return;
    case 0xcf9: snprintf(buf, len, "pci reset control (0xcf9)"); return;
    default: break;
    }
    if (port >= 0xcf8 && port < 0xcfc) {
        snprintf(buf, len, "pci CONFIG_ADDRESS (0x%x)", port);
    } else if (port >= 0xcfc && port < 0xd00) {
        uint32_t a = d->pci_addr;
        snprintf(buf, len, "pci CONFIG_DATA %02x:%02x.%x reg 0x%02x (0x%x)", (a >> 16) & 0xff,
                 (a >> 11) & 0x1f, (a >> 8) & 7, (a & 0xfc) + (port & 3), port);
    } else {
        snprintf(buf, len, "port 0x%x", port);
    }
}

const char *devinfo_irq_device(const struct vm_devices *d, unsigned irq)
{
    if (irq == d->cfg.com1_irq)
        return "com1";
    switch (irq) {
    case 0: return "pit";
    case 1:
    case 12: return "kbc";
    case 8: return "cmos";
    default: return "-";
    }
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Section header: u32 tag, u16 version, u32 payload length (savestate.h). */
#define SEC_HDR 10

int devinfo_sections(const void *blob, size_t len, struct devinfo_section *out, int max)
{
    const uint8_t *b = blob;
    if (len < SEC_HDR + 12 || max < 1)
        return -1;
    size_t end = SEC_HDR + (size_t)rd32(b + 6);
    if (end > len)
        return -1;
    int n = 0;
    out[n++] = (struct devinfo_section){0, SEC_HDR, 12}; /* now_ns, requests */
    size_t pos = SEC_HDR + 12;
    while (pos + SEC_HDR <= end && n < max) {
        size_t plen = rd32(b + pos + 6);
        if (plen > end - pos - SEC_HDR)
            return -1;
        out[n++] = (struct devinfo_section){rd32(b + pos), pos, SEC_HDR + plen};
        pos += SEC_HDR + plen;
    }
    return pos == end ? n : -1;
}

const char *devinfo_section_name(uint32_t tag, char buf[8])
{
    static const struct {
        uint32_t tag;
        const char *name;
    } names[] = {
        {SV_TAG('P', 'I', 'C', '2'), "pic"},        {SV_TAG('P', 'I', 'T', '4'), "pit"},
        {SV_TAG('P', '6', '1', 'B'), "port61"},     {SV_TAG('U', 'A', 'R', 'T'), "com1"},
        {SV_TAG('C', 'M', 'O', 'S'), "cmos"},       {SV_TAG('P', 'C', 'I', '1'), "pci"},
        {SV_TAG('P', 'O', 'S', 'T'), "post"},       {SV_TAG('K', 'B', 'C', '0'), "kbc"},
        {SV_TAG('D', 'B', 'G', 'X'), "debug-exit"}, {SV_TAG('L', 'A', 'P', 'C'), "lapic"},
        {SV_TAG('I', 'O', 'A', 'P'), "ioapic"},     {SV_TAG('C', 'P', 'U', 'S'), "cpus"},
    };
    if (!tag)
        return "vm(time,requests)";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].tag == tag)
            return names[i].name;
    for (int i = 0; i < 4; i++) {
        char c = (char)(tag >> (8 * i));
        buf[i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    buf[4] = 0;
    return buf;
}

int devinfo_diff(const void *a, size_t alen, const void *b, size_t blen, char *buf, size_t len)
{
    struct devinfo_section sa[DEVINFO_MAX_SECTIONS], sb[DEVINFO_MAX_SECTIONS];
    int na = devinfo_sections(a, alen, sa, DEVINFO_MAX_SECTIONS);
    int nb = devinfo_sections(b, blen, sb, DEVINFO_MAX_SECTIONS);
    if (len)
        buf[0] = 0;
    if (na < 0 || nb < 0) {
        snprintf(buf, len, "(state blob malformed)");
        return -1;
    }
    const uint8_t *pa = a, *pb = b;
    int ndiff = 0;
    size_t used = 0;
    for (int i = 0; i < na; i++) {
        const struct devinfo_section *y = NULL;
        for (int j = 0; j < nb; j++)
            if (sb[j].tag == sa[i].tag)
                y = &sb[j];
        const struct devinfo_section *x = &sa[i];
        char tb[8];
        const char *name = devinfo_section_name(x->tag, tb);
        int k = 0;
        if (!y) {
            k = snprintf(buf + used, len - used, "%s%s (missing)", ndiff ? ", " : "", name);
        } else {
            size_t n = x->len < y->len ? x->len : y->len, at = n;
            for (size_t o = 0; o < n; o++)
                if (pa[x->off + o] != pb[y->off + o]) {
                    at = o;
                    break;
                }
            if (at == n && x->len == y->len)
                continue;
            if (x->tag) /* payload offset: the device's own field order */
                at = at >= SEC_HDR ? at - SEC_HDR : 0;
            k = snprintf(buf + used, len - used, "%s%s (byte %zu)", ndiff ? ", " : "", name, at);
        }
        ndiff++;
        if (k > 0 && used + (size_t)k < len)
            used += (size_t)k;
    }
    if (!ndiff)
        snprintf(buf, len, "none");
    return ndiff;
}
