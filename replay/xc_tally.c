/* The comparison bookkeeping shared by `hvrr crosscheck` (stopped clock,
 * replay/cmd_crosscheck.c) and --timed (replay/xc_timed.c): how an
 * acknowledge's poll answer is read, and how each compared IN or
 * acknowledge is counted and whether it is reported. */
#include <inttypes.h>

#include "replay/crosscheck.h"

bool xc_slave_vector(const struct qop *op)
{
    return (op->value & 0xf8) == op->pic_base[1] && op->pic_base[1] != op->pic_base[0];
}

int xc_poll_irq(uint32_t master, uint32_t slave, bool slave_v)
{
    /* poll byte: bit 7 set and the IRQ number, else none pending */
    if (!(master & 0x80))
        return -1;
    if ((master & 7) == 2 && slave_v)
        return (slave & 0x80) ? 8 + (int)(slave & 7) : -1;
    return (int)(master & 7);
}

bool xc_master_eoi(const struct qop *op)
{
    return op->kind == QOP_OUT && op->port == 0x20 && (op->value & 0x18) == 0 && (op->value & 0x20);
}

const struct deviation *xc_relatch_explains(const struct qop *op, uint32_t diff, bool relatched)
{
    return relatched && op->port == 0x20 && (op->pic_ocw3[0] & 7) == 3 && diff == 4
               ? &xc_relatch_dev
               : NULL;
}

uint32_t xc_size_mask(const struct qop *op)
{
    return op->size == 1 ? 0xff : op->size == 2 ? 0xffff : 0xffffffff;
}

bool xc_count(struct xc_tally *t, struct devcount *dc, enum xc_outcome o, bool ack)
{
    if (o == XC_TIMING) {
        dc->timing++;
        return false;
    }
    dc->compared++;
    t->ack_cmp += ack;
    switch (o) {
    case XC_EQUAL: dc->equal++; return false;
    case XC_TOLERATED:
        dc->tolerated++;
        t->tol++;
        break;
    case XC_EXPLAINED:
        dc->explained++;
        t->expl++;
        break;
    case XC_ABSENT:
        dc->absent++;
        t->absent++;
        break;
    case XC_INPUT:
        dc->input++;
        t->input++;
        break;
    default:
        dc->differ++;
        t->diffs++;
        t->ack_diff += ack;
        return t->reports++ < t->max_reports;
    }
    return t->strict && t->reports++ < t->max_reports;
}

static bool pci_data_port(uint16_t port)
{
    return port >= 0xcfc && port <= 0xcff;
}

const char *xc_absent(const struct qop *op, uint32_t diff)
{
    if (op->kind == QOP_IN && op->port == 0x60 && op->kbd_reply)
        return "i8042 data after a byte sent to the keyboard or mouse: hvrr's platform has "
               "neither (its controller answers 0xfe with the timeout bit); QEMU's i8042 always "
               "has a PS/2 keyboard and mouse, which answer (0xfa, IDs)";
    if (op->kind == QOP_IN && op->port == 0x64 && op->kbd_dev && (diff & 0x61) && !(diff & ~0x6du))
        return "i8042 status OBF/AUX/timeout bits after bytes sent to the keyboard or mouse: "
               "hvrr's controller sets the timeout bit (6) for the absent device and keeps it "
               "until its next output byte; QEMU's devices answer, so its OBF (0) and AUX (5) "
               "follow their bytes (bits 2-3: the i8042 status deviation)";
    if (op->kind == QOP_IN && pci_data_port(op->port) && (op->pci_addr & 0x80000000u) &&
        (op->pci_addr & 0x00ffff00u) && op->value == xc_size_mask(op))
        return "PCI configuration read of a function hvrr's platform does not have (its only "
               "function is the host bridge at 00:00.0; it answers all-ones, a master abort); "
               "QEMU's pc machine has the PIIX3 functions at 00:01.x, which -M pc cannot remove";
    return NULL;
}

const char *xc_host_input(const struct qop *op, uint32_t diff)
{
    if (op->kind != QOP_IN || !op->uart_host || op->uart_dlab)
        return NULL;
    if (op->port == 0x3f8 || (op->port == 0x3fd && !(diff & ~0x03u)) ||
        (op->port == 0x3fa && !(diff & ~0x0fu) &&
         ((op->value & 0x0f) == 0x04 || (op->value & 0x0f) == 0x0c)))
        return "COM1 holding host input (the trace's UartRx bytes): RBR, LSR DR/OE and the IIR "
               "receive interrupt ids follow it; QEMU's COM1 is on a null chardev and never "
               "receives (no qtest or player command can feed it at the trace's times)";
    return NULL;
}

bool xc_host_ack(const struct qop *op, int want, int got)
{
    return op->uart_host && want == 4 && got < 0;
}

void xc_print_apic(const struct qscript *s)
{
    if (s->apic)
        printf("  APIC platform: %" PRIu64 " vectors of the PIC's range injected while the "
               "8259A's IMR masked that IR (the APICs', not compared as acknowledges), %" PRIu64
               " local/I/O APIC MMIO accesses not compared\n",
               s->apic_acks, s->apic_mmio);
}
