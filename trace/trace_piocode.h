/* How PolicyIo records after a non-string IN are written when
 * VmConfig.pio_coded is set (docs/trace-format.md, "PolicyIo coding"): the
 * writer and the reader keep the same state and apply exact inverses.
 *
 * Per vCPU, since the current frame's Sync record (a Sync starts a new
 * generation: state of an older one is not used, so a frame decodes on its
 * own): the last port-I/O exit (an IN: its size and value) and the last
 * PolicyIo's RAX after. For a PolicyIo with addr_bits 0 whose vCPU's last
 * I/O exit in this generation was an IN:
 *   wire rax     = rax     XOR (previous RAX after AND NOT mask), if known
 *   wire rax_xor = rax_xor XOR the IN's value
 * mask covering the IN's size bytes (all 64 bits for a size of 8 or more).
 * Both are 0 for a guest polling a port in a loop, which zstd then matches
 * whole. Any other record is written as it is. Freestanding-safe. */
#ifndef HVRR_TRACE_PIOCODE_H
#define HVRR_TRACE_PIOCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

#define TRACE_PIOCODE_VCPUS 8 /* vCPUs with state; PolicyIo of others: as it is */

struct trace_piocode_vcpu {
    uint64_t in_gen, after_gen; /* generation + 1 of in_* / after; 0: none */
    uint64_t after;             /* true RAX after of the last PolicyIo */
    uint32_t in_value;
    uint8_t in_size;
    bool in; /* the last I/O exit was an IN */
};

struct trace_piocode {
    uint64_t gen; /* incremented at every Sync record */
    struct trace_piocode_vcpu v[TRACE_PIOCODE_VCPUS];
};

static inline void trace_piocode_sync(struct trace_piocode *c)
{
    c->gen++;
}

/* After an exit record of the generation in force. */
static inline void trace_piocode_exit(struct trace_piocode *c, const struct trace_exit *e)
{
    if (e->detail != TRACE_DETAIL_IO || e->vcpu >= TRACE_PIOCODE_VCPUS)
        return;
    c->v[e->vcpu].in_gen = c->gen + 1;
    c->v[e->vcpu].in = !e->u.io.write;
    c->v[e->vcpu].in_size = e->u.io.size;
    c->v[e->vcpu].in_value = e->u.io.value;
}

/* Turns a PolicyIo event between its true values and the written ones, in
 * place, for a record of generation gen (the writer passes the generation
 * its Sync will start when one is due); encode: true -> wire, else back.
 * Remembers the true RAX after. */
static inline void trace_piocode_pio(struct trace_piocode *c, uint64_t gen,
                                     struct trace_dev_event *d, bool encode)
{
    if (d->kind != TRACE_DEV_POLICY_IO || d->vcpu >= TRACE_PIOCODE_VCPUS)
        return;
    struct trace_piocode_vcpu *s = &c->v[d->vcpu];
    uint64_t true_after = d->u.pio.rax_after;
    if (d->u.pio.addr_bits == 0 && s->in_gen == gen + 1 && s->in) {
        uint64_t mask = s->in_size >= 8 ? ~0ull : (1ull << (8 * s->in_size)) - 1;
        uint64_t rax_key = s->after_gen == gen + 1 ? s->after & ~mask : 0;
        uint64_t xor_ = d->u.pio.rax ^ d->u.pio.rax_after;
        d->u.pio.rax ^= rax_key;
        d->u.pio.rax_after = d->u.pio.rax ^ xor_ ^ s->in_value;
    }
    s->after_gen = gen + 1;
    s->after = encode ? true_after : d->u.pio.rax_after;
}

#endif
