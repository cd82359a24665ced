/* libFuzzer target for the trace reader (`make fuzz`). The first input byte
 * picks the feed chunk size, so both whole-buffer and streaming paths are
 * exercised; every pointer an item carries is read in full so that ASan
 * checks it; and the input is decoded twice, with the hand-written decoder
 * (trace/trace_decode.h) and with protobuf-c only, which must agree item
 * for item, every field, and in their counts (else abort). Built
 * with clang -fsanitize=fuzzer,address,undefined. */
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace/trace_reader.h"

static volatile uint64_t sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static uint64_t use_item(const struct trace_item *it)
{
    uint64_t h = mix(mix(0xcbf29ce484222325ull, it->type), it->frame);
    switch (it->type) {
    case TRACE_ITEM_HEADER: {
        const struct trace_header *h = &it->u.header;
        touch(h->hv_build_id, strlen(h->hv_build_id));
        touch(h->devmodel_version, strlen(h->devmodel_version));
        touch(h->cmdline, strlen(h->cmdline));
        for (size_t i = 0; i < h->ndevices; i++)
            touch(h->devices[i].name, strlen(h->devices[i].name));
        if (h->has_start)
            touch(h->start.devices, h->start.devices_len);
        break;
    }
    case TRACE_ITEM_DEV: {
        const struct trace_dev_event *d = &it->u.dev;
        h = mix(mix(mix(h, d->tsc), d->vcpu), d->kind);
        switch (d->kind) {
        case TRACE_DEV_IRQ_LINE: h = mix(mix(h, d->u.irq.irq), d->u.irq.level); break;
        case TRACE_DEV_INJECT: h = mix(mix(h, d->u.inject.vector), d->u.inject.nmi); break;
        case TRACE_DEV_UART_RX:
            touch(d->u.uart_rx.data, d->u.uart_rx.len);
            h = mix(mix(h, d->u.uart_rx.port), d->u.uart_rx.len);
            for (size_t i = 0; i < d->u.uart_rx.len; i++)
                h = mix(h, d->u.uart_rx.data[i]);
            break;
        case TRACE_DEV_TIMER_EDGE: h = mix(mix(h, d->u.timer.source), d->u.timer.level); break;
        case TRACE_DEV_INTR: h = mix(h, d->u.intr.level); break;
        case TRACE_DEV_REQUEST: h = mix(h, d->u.request.what); break;
        case TRACE_DEV_INTR_BLOCKED:
            h = mix(mix(mix(h, d->u.blocked.rflags), d->u.blocked.blocking), d->u.blocked.nmi);
            break;
        case TRACE_DEV_POLICY_IO:
            h = mix(mix(mix(mix(h, d->u.pio.rax), d->u.pio.rax_after), d->u.pio.addr_bits),
                    d->u.pio.rcx);
            h = mix(mix(mix(mix(h, d->u.pio.rcx_after), d->u.pio.index), d->u.pio.index_after),
                    d->u.pio.rflags);
            h = mix(mix(mix(h, d->u.pio.gla), d->u.pio.fault), d->u.pio.retired);
            break;
        case TRACE_DEV_HALT:
            h = mix(mix(mix(h, d->u.halt.rflags), d->u.halt.input), d->u.halt.stop);
            break;
        case TRACE_DEV_DEADLINE: h = mix(h, d->u.deadline.tsc); break;
        case TRACE_DEV_CPU_START:
            h = mix(mix(h, d->u.cpu_start.vcpu), d->u.cpu_start.vector);
            break;
        default: break;
        }
        break;
    }
    case TRACE_ITEM_CHECKPOINT:
        touch(it->u.checkpoint.devices, it->u.checkpoint.devices_len);
        break;
    case TRACE_ITEM_DAMAGE: touch(it->u.damage.msg, strlen(it->u.damage.msg)); break;
    case TRACE_ITEM_EXIT: {
        const struct trace_exit *e = &it->u.exit;
        h = mix(mix(mix(mix(h, e->seq), e->tsc), e->rip), e->qual);
        h = mix(mix(mix(mix(h, e->vcpu), e->reason), e->insn_len), e->detail);
        switch (e->detail) {
        case TRACE_DETAIL_IO:
            h = mix(mix(mix(mix(h, e->u.io.port), e->u.io.size), e->u.io.write), e->u.io.value);
            break;
        case TRACE_DETAIL_CPUID:
            h = mix(mix(mix(h, e->u.cpuid.leaf), e->u.cpuid.subleaf), e->u.cpuid.eax);
            h = mix(mix(mix(h, e->u.cpuid.ebx), e->u.cpuid.ecx), e->u.cpuid.edx);
            break;
        case TRACE_DETAIL_MSR:
            h = mix(mix(mix(h, e->u.msr.index), e->u.msr.write), e->u.msr.value);
            break;
        case TRACE_DETAIL_XSETBV: h = mix(mix(h, e->u.xsetbv.xcr), e->u.xsetbv.value); break;
        case TRACE_DETAIL_CR:
            h = mix(mix(mix(mix(h, e->u.cr.cr), e->u.cr.access), e->u.cr.gpr), e->u.cr.value);
            break;
        case TRACE_DETAIL_EPT:
            h = mix(mix(mix(h, e->u.ept.gpa), e->u.ept.gla), e->u.ept.value);
            h = mix(mix(h, e->u.ept.access), e->u.ept.size);
            break;
        case TRACE_DETAIL_EXTINT: h = mix(h, e->u.extint.vector); break;
        default: break;
        }
        break;
    }
    default: break;
    }
    if (it->type == TRACE_ITEM_DAMAGE)
        h = mix(mix(h, it->u.damage.kind), it->u.damage.offset);
    if (it->type == TRACE_ITEM_END)
        h = mix(mix(mix(h, it->u.end.exits), it->u.end.records), it->u.end.reason);
    return h;
}

static uint64_t run(const uint8_t *data, size_t size, bool slow)
{
    size_t chunk = size ? (size_t)data[0] * 37 + 1 : 1;
    struct trace_reader *r = trace_reader_new();
    if (!r)
        abort();
    trace_reader_set_slow_path(r, slow);
    uint64_t h = 0;
    size_t fed = 0;
    struct trace_item it;
    for (;;) {
        int rc = trace_reader_next(r, &it);
        if (rc == TRACE_R_ITEM) {
            h = mix(h, use_item(&it));
        } else if (rc == TRACE_R_MORE) {
            if (fed >= size) {
                trace_reader_eof(r);
            } else {
                size_t n = chunk < size - fed ? chunk : size - fed;
                trace_reader_feed(r, data + fed, n);
                fed += n;
            }
        } else {
            break;
        }
    }
    struct trace_reader_stats st;
    trace_reader_get_stats(r, &st);
    h = mix(mix(mix(mix(h, st.records), st.exits), st.unknown), st.frames_damaged);
    trace_reader_free(r);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (run(data, size, false) != run(data, size, true))
        abort(); /* fast and protobuf-c decoders disagree */
    return 0;
}
