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
    default:
        dc->differ++;
        t->diffs++;
        t->ack_diff += ack;
        return t->reports++ < t->max_reports;
    }
    return t->strict && t->reports++ < t->max_reports;
}

void xc_print_apic(const struct qscript *s)
{
    if (s->apic)
        printf("  APIC platform: %" PRIu64 " vectors of the PIC's range injected while the "
               "8259A's IMR masked that IR (the APICs', not compared as acknowledges), %" PRIu64
               " local/I/O APIC MMIO accesses not compared\n",
               s->apic_acks, s->apic_mmio);
}
