/* Hand-written decoder for Sync, Exit and DeviceEvent records
 * (trace_decode.h). Every rule here is protobuf-c 1.4's, so that what this
 * decoder takes it decodes to the same values:
 *  - a varint is at most 10 bytes (longer: an error), bits past 64 dropped;
 *    a 32-bit field keeps the low 32 bits; a bool is true when any of its
 *    bytes has a payload bit set (so a 10-byte varint whose only set bit is
 *    past bit 63 is true though its 64-bit value is 0);
 *  - a length prefix is at most 5 bytes and must fit in what remains;
 *  - a scalar seen twice takes the last value.
 * Anything else is left to protobuf-c (TRACE_FAST_NONE). */
#include "trace/trace_decode.h"

#include <stdbool.h>
#include <string.h>

/* protobuf-c keeps one bookkeeping entry per field occurrence in its
 * arena; capping occurrences keeps every record we take far below the
 * reader's per-record memory limit, so protobuf-c could not have failed on
 * it for lack of memory. */
#define MAX_FIELDS 64

enum { WT_VARINT = 0, WT_LEN = 2 };
#define KEY(field, wt) ((field) << 3 | (wt))

static inline size_t varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && !(p[0] & 0x80)) {
        *v = p[0];
        return 1;
    }
    if (end - p >= 2 && !(p[1] & 0x80)) { /* two bytes: TSC and RIP deltas, most often */
        *v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        return 2;
    }
    if (end - p >= 8) {
        /* up to 8 bytes at once: the first byte without bit 7 ends it; the
         * 7-bit groups are then packed pairwise (little-endian load) */
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t stop = ~x & 0x8080808080808080ull;
        if (stop) {
            unsigned bits = (unsigned)__builtin_ctzll(stop) + 1; /* 8 * length */
            if (bits < 64)
                x &= (1ull << bits) - 1;
            x &= 0x7f7f7f7f7f7f7f7full;
            x = (x & 0x007f007f007f007full) | (x & 0x7f007f007f007f00ull) >> 1;
            x = (x & 0x00003fff00003fffull) | (x & 0x3fff00003fff0000ull) >> 2;
            x = (x & 0x000000000fffffffull) | (x & 0x0fffffff00000000ull) >> 4;
            *v = x;
            return bits / 8;
        }
    }
    size_t max = (size_t)(end - p) < 10 ? (size_t)(end - p) : 10;
    uint64_t r = 0;
    for (size_t i = 0; i < max; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* A bool as protobuf-c reads it: 1 when any byte has a payload bit. */
static inline size_t boolean(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    size_t max = (size_t)(end - p) < 10 ? (size_t)(end - p) : 10;
    unsigned any = 0;
    for (size_t i = 0; i < max; i++) {
        any |= p[i] & 0x7f;
        if (!(p[i] & 0x80)) {
            *v = any != 0;
            return i + 1;
        }
    }
    return 0;
}

/* A length prefix: its bytes (1..5), with *l fitting in [p + n, end); 0 if
 * not. */
static inline size_t len_prefix(const uint8_t *p, const uint8_t *end, size_t *l)
{
    uint64_t v;
    size_t n = varint(p, end, &v);
    if (!n || n > 5 || v > (uint64_t)(end - p) - n)
        return 0;
    *l = (size_t)v;
    return n;
}

static inline int64_t unzigzag(uint64_t v)
{
    return (int64_t)((v >> 1) ^ (0 - (v & 1)));
}

/* A message of varint fields 1..nf only (bools: bit f of bools), each into
 * v[f] (v zeroed by the caller). */
static bool varint_msg(const uint8_t *p, const uint8_t *end, unsigned nf, unsigned bools,
                       uint64_t *v)
{
    unsigned count = 0;
    while (p < end) {
        unsigned k = *p++;
        unsigned f = k >> 3;
        /* one-byte key, varint, a known field (k >= 0x80 gives f >= 16 > nf) */
        if ((k & 7) != WT_VARINT || f == 0 || f > nf || ++count > MAX_FIELDS)
            return false;
        size_t n = (bools >> f & 1) ? boolean(p, end, &v[f]) : varint(p, end, &v[f]);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

/* The same, for fields in number order each at most once (as every writer
 * puts them): one pass over the fields present, each key a later field
 * than the one before; anything else goes through varint_msg. */
static inline bool varint_msg_ordered(const uint8_t *p, const uint8_t *end, unsigned nf,
                                      unsigned bools, uint64_t *v)
{
    const uint8_t *q = p;
    unsigned last = 0;
    while (q < end) {
        unsigned k = *q, f = k >> 3;
        /* one-byte key, varint, a later known field (k >= 0x80 gives f >= 16 > nf) */
        if ((k & 7) != WT_VARINT || f <= last || f > nf)
            goto any_order;
        size_t n = (bools >> f & 1) ? boolean(q + 1, end, &v[f]) : varint(q + 1, end, &v[f]);
        if (!n)
            return false;
        last = f;
        q += 1 + n;
    }
    return true;
any_order:
    for (unsigned f = 1; f <= nf; f++)
        v[f] = 0;
    return varint_msg(p, end, nf, bools, v);
}

static bool exit_detail(unsigned f, const uint8_t *p, const uint8_t *end, struct trace_exit *e)
{
    uint64_t v[7] = {0};
    switch (f) {
    case 7: /* PortIo: port, size, write (bool), value */
        if (!varint_msg_ordered(p, end, 4, 1u << 3, v))
            return false;
        e->detail = TRACE_DETAIL_IO;
        e->u.io.port = (uint16_t)v[1];
        /* the reader's rule: out of range (not truncated) gives size 0 */
        e->u.io.size = (uint32_t)v[2] > 255 || (uint32_t)v[1] > 0xffff ? 0 : (uint8_t)v[2];
        e->u.io.write = v[3] != 0;
        e->u.io.value = (uint32_t)v[4];
        return true;
    case 8: /* Cpuid */
        if (!varint_msg_ordered(p, end, 6, 0, v))
            return false;
        e->detail = TRACE_DETAIL_CPUID;
        e->u.cpuid.leaf = (uint32_t)v[1];
        e->u.cpuid.subleaf = (uint32_t)v[2];
        e->u.cpuid.eax = (uint32_t)v[3];
        e->u.cpuid.ebx = (uint32_t)v[4];
        e->u.cpuid.ecx = (uint32_t)v[5];
        e->u.cpuid.edx = (uint32_t)v[6];
        return true;
    case 9: /* Msr: index, write (bool), value */
        if (!varint_msg_ordered(p, end, 3, 1u << 2, v))
            return false;
        e->detail = TRACE_DETAIL_MSR;
        e->u.msr.index = (uint32_t)v[1];
        e->u.msr.write = v[2] != 0;
        e->u.msr.value = v[3];
        return true;
    case 10: /* Xsetbv */
        if (!varint_msg_ordered(p, end, 2, 0, v))
            return false;
        e->detail = TRACE_DETAIL_XSETBV;
        e->u.xsetbv.xcr = (uint32_t)v[1];
        e->u.xsetbv.value = v[2];
        return true;
    case 11: /* CrAccess */
        if (!varint_msg_ordered(p, end, 4, 0, v))
            return false;
        e->detail = TRACE_DETAIL_CR;
        e->u.cr.cr = (uint8_t)v[1];
        e->u.cr.access = (uint8_t)v[2];
        e->u.cr.gpr = (uint8_t)v[3];
        e->u.cr.value = v[4];
        return true;
    case 12: /* EptViolation: gpa, access, gla, size, value */
        if (!varint_msg_ordered(p, end, 5, 0, v))
            return false;
        e->detail = TRACE_DETAIL_EPT;
        e->u.ept.gpa = v[1];
        e->u.ept.access = (uint32_t)v[2];
        e->u.ept.gla = v[3];
        e->u.ept.size = (uint32_t)v[4];
        e->u.ept.value = v[5];
        return true;
    case 13: /* ExtInt */
        if (!varint_msg_ordered(p, end, 1, 0, v))
            return false;
        e->detail = TRACE_DETAIL_EXTINT;
        e->u.extint.vector = (uint8_t)v[1];
        return true;
    default: return false;
    }
}

static enum trace_fast_kind dec_exit(const uint8_t *p, const uint8_t *end, struct trace_delta *d,
                                     struct trace_exit *e)
{
    uint64_t reason = 0, vcpu = 0, insn_len = 0, qual = 0, rip = 0, skip = 0, tsc = 0;
    bool detail = false;
    unsigned count = 0;
    memset(&e->u, 0, sizeof e->u);
    e->detail = TRACE_DETAIL_NONE;

    /* Fields in number order, each at most once (every writer's order). */
    const uint8_t *q = p;
    size_t n, l;
#define ORDERED(field, var)                                                                        \
    if (q < end && *q == KEY(field, WT_VARINT)) {                                                  \
        n = varint(q + 1, end, &var);                                                              \
        if (!n)                                                                                    \
            return TRACE_FAST_NONE;                                                                \
        q += 1 + n;                                                                                \
    }
    ORDERED(1, reason)
    ORDERED(2, vcpu)
    ORDERED(3, insn_len)
    ORDERED(4, qual)
    ORDERED(5, rip)
    ORDERED(6, skip)
    if (q + 1 < end && q[0] == KEY(7, WT_LEN) && q[1] < 0x80) {
        /* PortIo, nine exits in ten: port, size, write, value in order */
        const uint8_t *s = q + 2, *se = s + q[1];
        uint64_t port = 0, size = 0, write = 0, value = 0;
        if (se > end)
            return TRACE_FAST_NONE;
#define IO_FIELD(field, var, fn)                                                                   \
    if (s < se && *s == KEY(field, WT_VARINT)) {                                                   \
        n = fn(s + 1, se, &var);                                                                   \
        if (!n)                                                                                    \
            return TRACE_FAST_NONE;                                                                \
        s += 1 + n;                                                                                \
    }
        IO_FIELD(1, port, varint)
        IO_FIELD(2, size, varint)
        IO_FIELD(3, write, boolean)
        IO_FIELD(4, value, varint)
#undef IO_FIELD
        if (s != se && !exit_detail(7, q + 2, se, e))
            return TRACE_FAST_NONE;
        if (s == se) {
            e->detail = TRACE_DETAIL_IO;
            e->u.io.port = (uint16_t)port;
            e->u.io.size = (uint32_t)size > 255 || (uint32_t)port > 0xffff ? 0 : (uint8_t)size;
            e->u.io.write = write != 0;
            e->u.io.value = (uint32_t)value;
        }
        q = se;
    } else if (q < end && (*q & 7) == WT_LEN && *q >= KEY(7, WT_LEN) && *q <= KEY(13, WT_LEN)) {
        n = len_prefix(q + 1, end, &l);
        if (!n || !exit_detail(*q >> 3, q + 1 + n, q + 1 + n + l, e))
            return TRACE_FAST_NONE;
        q += 1 + n + l;
    }
    ORDERED(15, tsc)
#undef ORDERED
    if (q == end)
        goto done;

    /* Any order, scalars repeated: start again. */
    reason = vcpu = insn_len = qual = rip = skip = tsc = 0;
    memset(&e->u, 0, sizeof e->u);
    e->detail = TRACE_DETAIL_NONE;
    while (p < end) {
        unsigned k = *p++;
        if (++count > MAX_FIELDS)
            return TRACE_FAST_NONE;
        switch (k) {
        case KEY(1, WT_VARINT): n = varint(p, end, &reason); break;
        case KEY(2, WT_VARINT): n = varint(p, end, &vcpu); break;
        case KEY(3, WT_VARINT): n = varint(p, end, &insn_len); break;
        case KEY(4, WT_VARINT): n = varint(p, end, &qual); break;
        case KEY(5, WT_VARINT): n = varint(p, end, &rip); break;
        case KEY(6, WT_VARINT): n = varint(p, end, &skip); break;
        case KEY(15, WT_VARINT): n = varint(p, end, &tsc); break;
        case KEY(7, WT_LEN):
        case KEY(8, WT_LEN):
        case KEY(9, WT_LEN):
        case KEY(10, WT_LEN):
        case KEY(11, WT_LEN):
        case KEY(12, WT_LEN):
        case KEY(13, WT_LEN): {
            if (detail) /* a second one: protobuf-c merges or replaces */
                return TRACE_FAST_NONE;
            detail = true;
            n = len_prefix(p, end, &l);
            if (!n || !exit_detail(k >> 3, p + n, p + n + l, e))
                return TRACE_FAST_NONE;
            n += l;
            break;
        }
        default: return TRACE_FAST_NONE;
        }
        if (!n)
            return TRACE_FAST_NONE;
        p += n;
    }
done:
    e->reason = (uint32_t)reason;
    e->vcpu = (uint32_t)vcpu;
    e->insn_len = (uint32_t)insn_len;
    e->qual = qual;
    e->seq = d->seq + 1 + skip;
    e->rip = d->rip + (uint64_t)unzigzag(rip);
    e->tsc = d->tsc + (uint64_t)unzigzag(tsc);
    d->seq = e->seq;
    d->rip = e->rip;
    d->tsc = e->tsc;
    return TRACE_FAST_EXIT;
}

static bool dev_event(unsigned f, const uint8_t *p, const uint8_t *end, struct trace_dev_event *ev)
{
    uint64_t v[4] = {0};
    switch (f) {
    case 2: /* IrqLine: irq, level (bool) */
        if (!varint_msg_ordered(p, end, 2, 1u << 2, v))
            return false;
        ev->kind = TRACE_DEV_IRQ_LINE;
        ev->u.irq.irq = (uint32_t)v[1];
        ev->u.irq.level = v[2] != 0;
        return true;
    case 3: /* Inject */
        if (!varint_msg_ordered(p, end, 1, 0, v))
            return false;
        ev->kind = TRACE_DEV_INJECT;
        ev->u.inject.vector = (uint8_t)v[1];
        return true;
    case 4: { /* UartRx: port (varint), data (bytes, the last one wins) */
        unsigned count = 0;
        ev->kind = TRACE_DEV_UART_RX;
        while (p < end) {
            unsigned k = *p++;
            size_t n, l;
            if (++count > MAX_FIELDS)
                return false;
            if (k == KEY(1, WT_VARINT)) {
                n = varint(p, end, &v[1]);
            } else if (k == KEY(2, WT_LEN)) {
                n = len_prefix(p, end, &l);
                if (!n)
                    return false;
                ev->u.uart_rx.data = l ? p + n : NULL; /* protobuf-c: NULL when empty */
                ev->u.uart_rx.len = l;
                n += l;
            } else {
                return false;
            }
            if (!n)
                return false;
            p += n;
        }
        ev->u.uart_rx.port = (uint16_t)v[1];
        return true;
    }
    case 5: /* TimerEdge: source, level (bool) */
        if (!varint_msg_ordered(p, end, 2, 1u << 2, v))
            return false;
        ev->kind = TRACE_DEV_TIMER_EDGE;
        ev->u.timer.source = (uint32_t)v[1];
        ev->u.timer.level = v[2] != 0;
        return true;
    case 6: /* IntrLine: level (bool) */
        if (!varint_msg_ordered(p, end, 1, 1u << 1, v))
            return false;
        ev->kind = TRACE_DEV_INTR;
        ev->u.intr.level = v[1] != 0;
        return true;
    case 7: /* DevRequest */
        if (!varint_msg_ordered(p, end, 1, 0, v))
            return false;
        ev->kind = TRACE_DEV_REQUEST;
        ev->u.request.what = (uint32_t)v[1];
        return true;
    case 8: /* IntrBlocked: rflags, blocking (policy_records) */
        if (!varint_msg_ordered(p, end, 2, 0, v))
            return false;
        ev->kind = TRACE_DEV_INTR_BLOCKED;
        ev->u.blocked.rflags = v[1];
        ev->u.blocked.blocking = (uint32_t)v[2];
        return true;
    case 9: { /* PolicyIo: registers as value before and XOR after; retired (bool) */
        uint64_t w[12] = {0};
        if (!varint_msg_ordered(p, end, 11, 1u << 11, w))
            return false;
        ev->kind = TRACE_DEV_POLICY_IO;
        ev->u.pio.rax = w[1];
        ev->u.pio.rax_after = w[1] ^ w[2];
        ev->u.pio.addr_bits = (uint32_t)w[3];
        ev->u.pio.rcx = w[4];
        ev->u.pio.rcx_after = w[4] ^ w[5];
        ev->u.pio.index = w[6];
        ev->u.pio.index_after = w[6] ^ w[7];
        ev->u.pio.rflags = w[8];
        ev->u.pio.gla = w[9];
        ev->u.pio.fault = (uint32_t)w[10];
        ev->u.pio.retired = w[11] != 0;
        return true;
    }
    case 10: /* Halt: rflags, input (bool), stop */
        if (!varint_msg_ordered(p, end, 3, 1u << 2, v))
            return false;
        ev->kind = TRACE_DEV_HALT;
        ev->u.halt.rflags = v[1];
        ev->u.halt.input = v[2] != 0;
        ev->u.halt.stop = (uint32_t)v[3];
        return true;
    case 11: /* Deadline: ahead of the record's TSC (dec_dev makes it a TSC) */
        if (!varint_msg_ordered(p, end, 1, 0, v))
            return false;
        ev->kind = TRACE_DEV_DEADLINE;
        ev->u.deadline.tsc = v[1];
        return true;
    case 12: /* CpuStart: vcpu, vector */
        if (!varint_msg_ordered(p, end, 2, 0, v))
            return false;
        ev->kind = TRACE_DEV_CPU_START;
        ev->u.cpu_start.vcpu = (uint32_t)v[1];
        ev->u.cpu_start.vector = (uint32_t)v[2];
        return true;
    default: return false;
    }
}

static enum trace_fast_kind dec_dev(const uint8_t *p, const uint8_t *end, struct trace_delta *d,
                                    struct trace_dev_event *ev)
{
    uint64_t vcpu = 0, tsc = 0;
    bool event = false;
    unsigned count = 0;
    size_t n, l;
    memset(&ev->u, 0, sizeof ev->u);

    /* In number order, each at most once. */
    const uint8_t *q = p;
    if (q < end && *q == KEY(1, WT_VARINT)) {
        n = varint(q + 1, end, &vcpu);
        if (!n)
            return TRACE_FAST_NONE;
        q += 1 + n;
    }
    if (q < end && (*q & 7) == WT_LEN && *q >= KEY(2, WT_LEN) && *q <= KEY(12, WT_LEN)) {
        n = len_prefix(q + 1, end, &l);
        if (!n || !dev_event(*q >> 3, q + 1 + n, q + 1 + n + l, ev))
            return TRACE_FAST_NONE;
        q += 1 + n + l;
        event = true;
    }
    if (q < end && *q == KEY(15, WT_VARINT)) {
        n = varint(q + 1, end, &tsc);
        if (!n)
            return TRACE_FAST_NONE;
        q += 1 + n;
    }
    if (q == end && event)
        goto done;

    /* Any order, scalars repeated: start again. */
    vcpu = tsc = 0;
    event = false;
    memset(&ev->u, 0, sizeof ev->u);
    while (p < end) {
        unsigned k = *p++;
        if (++count > MAX_FIELDS)
            return TRACE_FAST_NONE;
        switch (k) {
        case KEY(1, WT_VARINT): n = varint(p, end, &vcpu); break;
        case KEY(15, WT_VARINT): n = varint(p, end, &tsc); break;
        case KEY(2, WT_LEN):
        case KEY(3, WT_LEN):
        case KEY(4, WT_LEN):
        case KEY(5, WT_LEN):
        case KEY(6, WT_LEN):
        case KEY(7, WT_LEN):
        case KEY(8, WT_LEN):
        case KEY(9, WT_LEN):
        case KEY(10, WT_LEN):
        case KEY(11, WT_LEN):
        case KEY(12, WT_LEN): {
            if (event)
                return TRACE_FAST_NONE;
            event = true;
            n = len_prefix(p, end, &l);
            if (!n || !dev_event(k >> 3, p + n, p + n + l, ev))
                return TRACE_FAST_NONE;
            n += l;
            break;
        }
        default: return TRACE_FAST_NONE;
        }
        if (!n)
            return TRACE_FAST_NONE;
        p += n;
    }
    if (!event) /* no event the reader knows: protobuf-c's path counts it */
        return TRACE_FAST_NONE;
done:
    ev->vcpu = (uint32_t)vcpu;
    ev->tsc = d->tsc + (uint64_t)unzigzag(tsc);
    d->tsc = ev->tsc;
    if (ev->kind == TRACE_DEV_DEADLINE) /* the reader's rule: 0 ahead is no deadline */
        ev->u.deadline.tsc = ev->u.deadline.tsc ? ev->tsc + ev->u.deadline.tsc : UINT64_MAX;
    return TRACE_FAST_DEV;
}

enum trace_fast_kind trace_decode_record(const uint8_t *p, size_t len, struct trace_delta *d,
                                         struct trace_exit *e, struct trace_dev_event *ev)
{
    const uint8_t *end = p + len;
    size_t l, n;
    /* exactly one field: the kind, spanning the record */
    if (len < 2)
        return TRACE_FAST_NONE;
    n = len_prefix(p + 1, end, &l);
    if (!n || 1 + n + l != len)
        return TRACE_FAST_NONE;
    const uint8_t *s = p + 1 + n;
    switch (p[0]) {
    case KEY(2, WT_LEN): return dec_exit(s, end, d, e);
    case KEY(3, WT_LEN): return dec_dev(s, end, d, ev);
    case KEY(1, WT_LEN): { /* Sync: next_seq, tsc, rip */
        uint64_t v[4] = {0};
        if (!varint_msg_ordered(s, end, 3, 0, v))
            return TRACE_FAST_NONE;
        d->seq = v[1] - 1;
        d->tsc = v[2];
        d->rip = v[3];
        return TRACE_FAST_SYNC;
    }
    default: return TRACE_FAST_NONE;
    }
}
