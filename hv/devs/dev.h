/* Common vocabulary of the device models.
 *
 * Rules every model in hv/devs follows (docs/architecture.md):
 *  - a device is a plain state struct; no globals, no libc I/O, no malloc;
 *  - time comes in as an argument: virtual nanoseconds since VM start;
 *  - interrupts leave through an injected struct irq_sink, called only when a
 *    line's level actually changes;
 *  - state is saved to / restored from a flat, versioned byte blob
 *    (savestate.h), never by copying the struct.
 */
#ifndef HVRR_DEV_H
#define HVRR_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_PER_SEC 1000000000ull
#define TIME_NEVER UINT64_MAX /* "no event pending" from *_next_event_ns() */

/* An interrupt output. `line` is the device's own numbering (e.g. the IRQ
 * number it was wired to); `level` is the new electrical level. */
struct irq_sink {
    void (*set)(void *ctx, unsigned line, bool level);
    void *ctx;
};

static inline void irq_sink_set(const struct irq_sink *s, unsigned line, bool level)
{
    if (s && s->set)
        s->set(s->ctx, line, level);
}

/* Requests a device makes of the platform (a reset pulse, a power-off, the
 * end of the run with a status the device holds: isa-debug-exit). */
enum dev_request { DEV_REQ_RESET = 1, DEV_REQ_POWEROFF = 2, DEV_REQ_EXIT = 3 };
struct dev_request_sink {
    void (*request)(void *ctx, enum dev_request what);
    void *ctx;
};

static inline const char *dev_request_name(uint32_t what)
{
    return what == DEV_REQ_RESET      ? "reset"
           : what == DEV_REQ_POWEROFF ? "power-off"
           : what == DEV_REQ_EXIT     ? "debug-exit"
                                      : "?";
}

static inline void dev_request(const struct dev_request_sink *s, enum dev_request what)
{
    if (s && s->request)
        s->request(s->ctx, what);
}

/* Result of a port access handed to a device. */
enum dev_io_result {
    DEV_IO_OK = 0,
    DEV_IO_BADSIZE = -1, /* access size this port does not support: bus returns all-ones */
    DEV_IO_UNMAPPED = -2 /* port inside the range but not decoded by the device */
};

/* Uniform port handler: `size` is 1, 2 or 4; on a read the handler stores the
 * result in *val (only the low `size` bytes are used); on a write *val holds
 * the value. Returns enum dev_io_result. */
typedef int (*dev_io_fn)(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                         uint64_t now_ns);

static inline uint32_t dev_size_mask(unsigned size)
{
    return size >= 4 ? 0xffffffffu : ((1u << (8 * size)) - 1u);
}

#endif
