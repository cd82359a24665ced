/* Hand-written encoder for Sync, Exit and DeviceEvent records
 * (trace_encode.h). Field numbers and types: trace/hvrr.proto. Every field
 * number here is below 16, so each key is one byte. */
#include "trace/trace_encode.h"

#include <string.h>

#define WT_VARINT 0u
#define WT_LEN    2u

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* uint32 / uint64 / bool field: left out when zero (proto3). */
static inline uint8_t *put_u(uint8_t *p, unsigned field, uint64_t v)
{
    if (!v)
        return p;
    *p++ = (uint8_t)(field << 3 | WT_VARINT);
    return put_varint(p, v);
}

/* int32 (an enum): a negative value is sign-extended to ten bytes. */
static inline uint8_t *put_i32(uint8_t *p, unsigned field, uint32_t v)
{
    return put_u(p, field, (uint64_t)(int64_t)(int32_t)v);
}

/* sint64: zigzag. */
static inline uint8_t *put_s(uint8_t *p, unsigned field, int64_t v)
{
    return put_u(p, field, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* A submessage: its key and a one-byte length slot; returns where its
 * content starts. close_msg writes the length (two bytes when the content
 * is 128 bytes or more: then the content moves up by one). */
static inline uint8_t *open_msg(uint8_t *p, unsigned field)
{
    *p = (uint8_t)(field << 3 | WT_LEN);
    return p + 2;
}

static inline uint8_t *close_msg(uint8_t *start, uint8_t *end)
{
    size_t n = (size_t)(end - start);
    if (n < 0x80) {
        start[-1] = (uint8_t)n;
        return end;
    }
    memmove(start + 1, start, n); /* n < 16384: the records are small */
    start[-1] = (uint8_t)(n | 0x80);
    start[0] = (uint8_t)(n >> 7);
    return end + 1;
}

size_t trace_encode_sync(uint8_t *out, uint64_t next_seq, uint64_t tsc, uint64_t rip)
{
    uint8_t *s = open_msg(out, 1);
    uint8_t *p = put_u(s, 1, next_seq);
    p = put_u(p, 2, tsc);
    p = put_u(p, 3, rip);
    return (size_t)(close_msg(s, p) - out);
}

static uint8_t *exit_detail(uint8_t *p, const struct trace_exit *e)
{
    uint8_t *s;
    switch (e->detail) {
    case TRACE_DETAIL_NONE: return p;
    case TRACE_DETAIL_IO:
        s = open_msg(p, 7);
        p = put_u(s, 1, e->u.io.port);
        p = put_u(p, 2, e->u.io.size);
        p = put_u(p, 3, e->u.io.write);
        p = put_u(p, 4, e->u.io.value);
        break;
    case TRACE_DETAIL_CPUID:
        s = open_msg(p, 8);
        p = put_u(s, 1, e->u.cpuid.leaf);
        p = put_u(p, 2, e->u.cpuid.subleaf);
        p = put_u(p, 3, e->u.cpuid.eax);
        p = put_u(p, 4, e->u.cpuid.ebx);
        p = put_u(p, 5, e->u.cpuid.ecx);
        p = put_u(p, 6, e->u.cpuid.edx);
        break;
    case TRACE_DETAIL_MSR:
        s = open_msg(p, 9);
        p = put_u(s, 1, e->u.msr.index);
        p = put_u(p, 2, e->u.msr.write);
        p = put_u(p, 3, e->u.msr.value);
        break;
    case TRACE_DETAIL_XSETBV:
        s = open_msg(p, 10);
        p = put_u(s, 1, e->u.xsetbv.xcr);
        p = put_u(p, 2, e->u.xsetbv.value);
        break;
    case TRACE_DETAIL_CR:
        s = open_msg(p, 11);
        p = put_u(s, 1, e->u.cr.cr);
        p = put_u(p, 2, e->u.cr.access);
        p = put_u(p, 3, e->u.cr.gpr);
        p = put_u(p, 4, e->u.cr.value);
        break;
    case TRACE_DETAIL_EPT:
        s = open_msg(p, 12);
        p = put_u(s, 1, e->u.ept.gpa);
        p = put_u(p, 2, e->u.ept.access);
        p = put_u(p, 3, e->u.ept.gla);
        p = put_u(p, 4, e->u.ept.size);
        p = put_u(p, 5, e->u.ept.value);
        break;
    case TRACE_DETAIL_EXTINT:
        s = open_msg(p, 13);
        p = put_u(s, 1, e->u.extint.vector);
        break;
    default: return NULL;
    }
    return close_msg(s, p);
}

size_t trace_encode_exit(uint8_t *out, const struct trace_exit *e, uint64_t seq_skip,
                         int64_t tsc_delta, int64_t rip_delta)
{
    uint8_t *x = open_msg(out, 2);
    uint8_t *p = put_i32(x, 1, e->reason);
    p = put_u(p, 2, e->vcpu);
    p = put_u(p, 3, e->insn_len);
    p = put_u(p, 4, e->qual);
    p = put_s(p, 5, rip_delta);
    p = put_u(p, 6, seq_skip);
    p = exit_detail(p, e);
    if (!p)
        return 0;
    p = put_s(p, 15, tsc_delta);
    return (size_t)(close_msg(x, p) - out);
}

static uint8_t *dev_event(uint8_t *p, const struct trace_dev_event *d)
{
    uint8_t *s;
    switch (d->kind) {
    case TRACE_DEV_IRQ_LINE:
        s = open_msg(p, 2);
        p = put_u(s, 1, d->u.irq.irq);
        p = put_u(p, 2, d->u.irq.level);
        break;
    case TRACE_DEV_INJECT:
        s = open_msg(p, 3);
        p = put_u(s, 1, d->u.inject.vector);
        break;
    case TRACE_DEV_UART_RX:
        s = open_msg(p, 4);
        p = put_u(s, 1, d->u.uart_rx.port);
        if (d->u.uart_rx.len) {
            *p++ = 2 << 3 | WT_LEN;
            p = put_varint(p, d->u.uart_rx.len);
            memcpy(p, d->u.uart_rx.data, d->u.uart_rx.len);
            p += d->u.uart_rx.len;
        }
        break;
    case TRACE_DEV_TIMER_EDGE:
        s = open_msg(p, 5);
        p = put_u(s, 1, d->u.timer.source);
        p = put_u(p, 2, d->u.timer.level);
        break;
    case TRACE_DEV_INTR:
        s = open_msg(p, 6);
        p = put_u(s, 1, d->u.intr.level);
        break;
    case TRACE_DEV_REQUEST:
        s = open_msg(p, 7);
        p = put_u(s, 1, d->u.request.what);
        break;
    case TRACE_DEV_INTR_BLOCKED:
        s = open_msg(p, 8);
        p = put_u(s, 1, d->u.blocked.rflags);
        p = put_u(p, 2, d->u.blocked.blocking);
        break;
    case TRACE_DEV_POLICY_IO:
        s = open_msg(p, 9);
        p = put_u(s, 1, d->u.pio.rax);
        p = put_u(p, 2, d->u.pio.rax ^ d->u.pio.rax_after);
        p = put_u(p, 3, d->u.pio.addr_bits);
        p = put_u(p, 4, d->u.pio.rcx);
        p = put_u(p, 5, d->u.pio.rcx ^ d->u.pio.rcx_after);
        p = put_u(p, 6, d->u.pio.index);
        p = put_u(p, 7, d->u.pio.index ^ d->u.pio.index_after);
        p = put_u(p, 8, d->u.pio.rflags);
        p = put_u(p, 9, d->u.pio.gla);
        p = put_u(p, 10, d->u.pio.fault);
        p = put_u(p, 11, d->u.pio.retired);
        break;
    case TRACE_DEV_HALT:
        s = open_msg(p, 10);
        p = put_u(s, 1, d->u.halt.rflags);
        p = put_u(p, 2, d->u.halt.input);
        p = put_u(p, 3, d->u.halt.stop);
        break;
    case TRACE_DEV_DEADLINE: /* ahead of the record's TSC; 0: none (the writer checked it) */
        s = open_msg(p, 11);
        p = put_u(s, 1, d->u.deadline.tsc == UINT64_MAX ? 0 : d->u.deadline.tsc - d->tsc);
        break;
    case TRACE_DEV_CPU_START:
        s = open_msg(p, 12);
        p = put_u(s, 1, d->u.cpu_start.vcpu);
        p = put_u(p, 2, d->u.cpu_start.vector);
        break;
    default: return NULL;
    }
    return close_msg(s, p);
}

size_t trace_encode_dev(uint8_t *out, const struct trace_dev_event *d, int64_t tsc_delta)
{
    uint8_t *x = open_msg(out, 3);
    uint8_t *p = put_u(x, 1, d->vcpu);
    p = dev_event(p, d);
    if (!p)
        return 0;
    p = put_s(p, 15, tsc_delta);
    return (size_t)(close_msg(x, p) - out);
}
