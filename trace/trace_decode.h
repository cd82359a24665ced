/* Hand-written decoder for the hot record kinds (host only; used by
 * trace_reader.c, docs/trace-format.md "Decoding"). It reads a Record
 * holding a Sync, an Exit (any detail) or a DeviceEvent (any event) straight
 * into the reader's structs, with no allocation, and gives exactly what
 * protobuf-c and the reader's conversion give for the same bytes.
 *
 * It only takes what it fully understands: one-byte field keys of the
 * schema's known fields with their expected wire types, varints as
 * protobuf-c reads them (at most 10 bytes, bits past 64 dropped, 32-bit
 * fields truncated, a bool true when any payload bit is set), length
 * prefixes of at most 5 bytes, scalars repeated (the last one wins). It
 * returns TRACE_FAST_NONE, touching nothing, for anything else: unknown
 * field numbers (fields added since), other wire types, multi-byte keys, a
 * second detail or event submessage (protobuf-c merges those), other record
 * kinds, malformed bytes. The caller then decodes the record with
 * protobuf-c, which decides. */
#ifndef HVRR_TRACE_DECODE_H
#define HVRR_TRACE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "trace/trace.h"

/* The delta-coding chain: the previous exit's seq and RIP, the previous
 * timed record's TSC (set by Sync records). */
struct trace_delta {
    uint64_t seq, tsc, rip;
};

enum trace_fast_kind {
    TRACE_FAST_NONE = 0, /* not taken: decode with protobuf-c */
    TRACE_FAST_SYNC,     /* d updated, nothing to hand out */
    TRACE_FAST_EXIT,     /* *e filled, d updated */
    TRACE_FAST_DEV       /* *ev filled, d updated (uart_rx.data points into p) */
};

/* Decodes the Record in p[0..len). e and ev may be the same storage (the
 * reader's item union): only the one named by the result is written. */
enum trace_fast_kind trace_decode_record(const uint8_t *p, size_t len, struct trace_delta *d,
                                         struct trace_exit *e, struct trace_dev_event *ev);

#endif
