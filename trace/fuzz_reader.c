/* libFuzzer target for the trace reader (`make fuzz`). The first input byte
 * picks the feed chunk size, so both whole-buffer and streaming paths are
 * exercised; every pointer an item carries is read in full so that ASan
 * checks it. Built with clang -fsanitize=fuzzer,address,undefined. */
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

static void use_item(const struct trace_item *it)
{
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
    default: sink += it->u.exit.seq; break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size ? (size_t)data[0] * 37 + 1 : 1;
    struct trace_reader *r = trace_reader_new();
    if (!r)
        return 0;
    size_t fed = 0;
    struct trace_item it;
    for (;;) {
        int rc = trace_reader_next(r, &it);
        if (rc == TRACE_R_ITEM) {
            use_item(&it);
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
    return 0;
}
