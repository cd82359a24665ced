/* libFuzzer target for the trace reader (`make fuzz`). The first input byte
 * picks the feed chunk size, so both whole-buffer and streaming paths are
 * exercised; every pointer an item carries is read in full so that ASan
 * checks it; and the input is decoded twice, with the fast exit decoder and
 * with protobuf-c only, which must agree item for item (else abort). Built
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
    case TRACE_ITEM_DEV:
        if (it->u.dev.kind == TRACE_DEV_UART_RX)
            touch(it->u.dev.u.uart_rx.data, it->u.dev.u.uart_rx.len);
        break;
    case TRACE_ITEM_CHECKPOINT:
        touch(it->u.checkpoint.devices, it->u.checkpoint.devices_len);
        break;
    case TRACE_ITEM_DAMAGE: touch(it->u.damage.msg, strlen(it->u.damage.msg)); break;
    case TRACE_ITEM_EXIT: {
        const struct trace_exit *e = &it->u.exit;
        h = mix(mix(mix(mix(h, e->seq), e->tsc), e->rip), e->qual);
        h = mix(mix(mix(mix(h, e->vcpu), e->reason), e->insn_len), e->detail);
        if (e->detail == TRACE_DETAIL_IO)
            h = mix(mix(mix(mix(h, e->u.io.port), e->u.io.size), e->u.io.write), e->u.io.value);
        break;
    }
    default: break;
    }
    if (it->type == TRACE_ITEM_DAMAGE)
        h = mix(mix(h, it->u.damage.kind), it->u.damage.offset);
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
    trace_reader_free(r);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (run(data, size, false) != run(data, size, true))
        abort(); /* fast and protobuf-c decoders disagree */
    return 0;
}
