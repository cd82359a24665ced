/* Hand-written encoder for the records the writer sends at every exit
 * (trace_writer.c, docs/trace-format.md "Encoding"): a Record holding a
 * Sync, an Exit (any detail) or a DeviceEvent (any event), written straight
 * from the writer's structs, with no intermediate messages. The bytes are
 * exactly the ones protobuf-c packs for the same record (fields in number
 * order, proto3 zero values left out, a oneof member always present, int32
 * enums sign-extended, sint64 zigzag-coded): tests/test_trace_roundtrip.c
 * compares the two for every kind. The reader and the format do not change.
 *
 * Freestanding: no libc beyond memmove. */
#ifndef HVRR_TRACE_ENCODE_H
#define HVRR_TRACE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "trace/trace.h"

/* Room an encoded Record needs at most, UartRx data not counted (an Exit
 * with an EPT detail, a PolicyIo DeviceEvent: about 125 bytes). */
#define TRACE_ENCODE_MAX 192u

/* Each writes one Record message at out (at least TRACE_ENCODE_MAX bytes,
 * plus uart_rx.len for a UartRx event) and returns its length, or 0 when the
 * record is not of a kind they encode (an unknown detail or event kind; the
 * caller validates everything else first). The deltas are the writer's
 * (trace_writer.c): seq_skip, tsc_delta and rip_delta against its chain. */
size_t trace_encode_sync(uint8_t *out, uint64_t next_seq, uint64_t tsc, uint64_t rip);
size_t trace_encode_exit(uint8_t *out, const struct trace_exit *e, uint64_t seq_skip,
                         int64_t tsc_delta, int64_t rip_delta);
size_t trace_encode_dev(uint8_t *out, const struct trace_dev_event *d, int64_t tsc_delta);

#endif
