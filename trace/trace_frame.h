/* Serial-safe framing of the trace (docs/trace-format.md, "Framing").
 *
 * A capture is a sequence of frames. Each frame is a 28-byte little-endian
 * header followed by a zstd-compressed payload:
 *
 *   off size
 *    0   4  sync marker 9E 48 56 54 ("\x9eHVT")
 *    4   1  frame format version (TRACE_FRAME_VERSION)
 *    5   1  flags (TRACE_FRAME_FINAL: holds the end-of-trace record)
 *    6   2  reserved, written 0, ignored
 *    8   4  frame sequence number (0, 1, 2, ...)
 *   12   4  payload length (compressed bytes that follow the header)
 *   16   4  uncompressed payload length
 *   20   4  CRC-32C of the payload
 *   24   4  CRC-32C of header bytes 0..23
 *
 * Freestanding-safe: no libc beyond memcpy.
 */
#ifndef HVRR_TRACE_FRAME_H
#define HVRR_TRACE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_FRAME_HDR_LEN 28
#define TRACE_FRAME_VERSION 1
#define TRACE_FRAME_FINAL   0x01
#define TRACE_MARKER0       0x9e
#define TRACE_MARKER1       0x48
#define TRACE_MARKER2       0x56
#define TRACE_MARKER3       0x54

/* Bounds a reader enforces; a writer never produces more. */
#define TRACE_MAX_RAW     (16u << 20) /* uncompressed bytes per frame */
#define TRACE_MAX_PAYLOAD (17u << 20) /* compressed bytes per frame */
/* Decompression-bomb bound: raw bytes <= TRACE_MAX_RATIO_BASE + TRACE_MAX_RATIO
 * * compressed bytes (16 MiB of zeros fit in ~600 zstd bytes; real frames
 * compress 10-50x, synthetic zero-jitter ones ~110x). */
#define TRACE_MAX_RATIO_BASE (256u << 10)
#define TRACE_MAX_RATIO      1024u

struct trace_frame_hdr {
    uint8_t version;
    uint8_t flags;
    uint32_t seq;
    uint32_t payload_len;
    uint32_t raw_len;
    uint32_t payload_crc;
};

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78). Start with crc = 0;
 * chaining calls with the previous result gives the CRC of the concatenation. */
uint32_t trace_crc32c(uint32_t crc, const void *buf, size_t len);

/* Writes the 28-byte header (computing the header CRC) into out. */
void trace_frame_hdr_encode(const struct trace_frame_hdr *h, uint8_t out[TRACE_FRAME_HDR_LEN]);

/* Checks marker and header CRC and decodes. Returns 0, or a negative
 * TRACE_FRAME_E_* value. Does not check the version or the lengths. */
enum {
    TRACE_FRAME_E_MARKER = -1,
    TRACE_FRAME_E_HDR_CRC = -2,
};
int trace_frame_hdr_decode(const uint8_t in[TRACE_FRAME_HDR_LEN], struct trace_frame_hdr *h);

/* Varints (protobuf base-128) used for the stream-level record prefix. */
size_t trace_varint_put(uint8_t *out, uint64_t v); /* at most 10 bytes */
/* Returns bytes consumed, 0 if truncated or longer than 10 bytes. */
size_t trace_varint_get(const uint8_t *in, size_t len, uint64_t *v);

/* The stream-level prefix of a record: field 1, wire type 2. */
#define TRACE_STREAM_RECORD_TAG 0x0a

#endif
