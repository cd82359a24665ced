/* Trace reader (host only): streams frames, verifies CRCs and frame
 * sequence numbers, resynchronises after damage and hands out the records
 * one by one, interleaved with damage reports.
 *
 *   struct trace_reader *r = trace_reader_new();
 *   struct trace_item it;
 *   for (;;) {
 *       int rc = trace_reader_next(r, &it);
 *       if (rc == TRACE_R_ITEM) { ...use it (valid until the next call)...; continue; }
 *       if (rc == TRACE_R_MORE) { if (trace_reader_read_file(r, f) < 0) ...; continue; }
 *       break;  // TRACE_R_END, or TRACE_R_FATAL: trace_reader_error(r)
 *   }
 *   trace_reader_free(r);
 *
 * Any byte sequence is valid input: the reader never crashes, bounds every
 * allocation (TRACE_MAX_RAW, TRACE_MAX_PAYLOAD, a per-record decode limit) and
 * reports what it could not use as TRACE_ITEM_DAMAGE items.
 */
#ifndef HVRR_TRACE_READER_H
#define HVRR_TRACE_READER_H

#include <stdio.h>

#include "trace/trace.h"

enum trace_item_type {
    TRACE_ITEM_HEADER = 1,
    TRACE_ITEM_EXIT,
    TRACE_ITEM_DEV,
    TRACE_ITEM_CHECKPOINT,
    TRACE_ITEM_END,
    TRACE_ITEM_DAMAGE
};

enum trace_damage_kind {
    TRACE_DMG_GARBAGE = 1, /* bytes that are not part of any frame */
    TRACE_DMG_BAD_HEADER,  /* sync marker found, header CRC wrong */
    TRACE_DMG_BAD_VERSION, /* frame format version not supported */
    TRACE_DMG_BAD_LENGTH,  /* length field beyond the reader's bounds */
    TRACE_DMG_BAD_CRC,     /* payload CRC wrong (corrupt or missing bytes) */
    TRACE_DMG_TRUNCATED,   /* input ends inside a frame */
    TRACE_DMG_DECOMPRESS,  /* CRC fine but the payload does not decompress */
    TRACE_DMG_DECODE,      /* a record does not decode; rest of its frame dropped */
    TRACE_DMG_GAP,         /* frames missing from the sequence, bytes otherwise fine */
    TRACE_DMG_SEQ,         /* frame sequence number went backwards */
    TRACE_DMG_NO_END,      /* input ends without the end-of-trace record */
    TRACE_DMG_RECORD       /* a record that decodes but is impossible in its context */
};

struct trace_damage {
    enum trace_damage_kind kind; /* the first problem seen in this stretch */
    uint64_t offset;             /* byte offset where unusable input starts */
    uint64_t length;             /* bytes from offset that were skipped */
    uint64_t lost_frames;        /* frames known lost (at the tail: a lower bound) */
    bool at_end;                 /* the stretch runs to the end of the input */
    char msg[192];               /* printable, one line, no newline */
};

struct trace_item {
    enum trace_item_type type;
    uint32_t frame;  /* frame sequence number the record came from */
    uint64_t offset; /* byte offset of that frame in the input */
    union {
        struct trace_header header;
        struct trace_exit exit;
        struct trace_dev_event dev;
        struct trace_checkpoint checkpoint;
        struct trace_end end;
        struct trace_damage damage;
    } u;
};

enum trace_reader_rc {
    TRACE_R_FATAL = -1, /* out of memory or misuse; trace_reader_error() says which */
    TRACE_R_MORE = 0,   /* feed more bytes, or call trace_reader_eof() */
    TRACE_R_ITEM = 1,
    TRACE_R_END = 2 /* everything after eof consumed */
};

struct trace_reader_stats {
    uint64_t bytes_in;
    uint64_t frames_ok;      /* frames whose payload was decoded */
    uint64_t frames_lost;    /* sum of lost_frames over damage reports */
    uint64_t frames_damaged; /* frames decoded only in part (TRACE_DMG_DECODE) */
    uint64_t damage_reports;
    uint64_t bytes_damaged; /* sum of damage lengths */
    uint64_t payload_bytes; /* compressed bytes of good frames */
    uint64_t raw_bytes;     /* their uncompressed bytes */
    uint64_t frame_bytes;   /* good frames including headers */
    uint64_t records;       /* records decoded, Sync included */
    uint64_t unknown;       /* records or stream fields skipped as unknown */
    uint64_t exits;
    uint64_t bad_records;  /* TRACE_DMG_RECORD reports */
    uint64_t crc_bytes;    /* bytes run through payload CRCs (linear in the input) */
    uint64_t records_fast; /* of records: taken by the hand-written decoder (trace_decode.h) */
    bool end_seen;
};

struct trace_reader;

struct trace_reader *trace_reader_new(void);
void trace_reader_free(struct trace_reader *r);
/* Appends input. 0, or -1 (out of memory, or after eof). */
int trace_reader_feed(struct trace_reader *r, const void *buf, size_t len);
/* No more input will come. */
void trace_reader_eof(struct trace_reader *r);
/* Reads what f's descriptor has now (one read(2), at most one chunk) into
 * the reader, so a pipe or FIFO is not waited on for a full chunk; f must
 * not have buffered input of its own. At end of file calls trace_reader_eof.
 * Returns bytes read, 0 at end of file, -1 on error. */
long trace_reader_read_file(struct trace_reader *r, FILE *f);
int trace_reader_next(struct trace_reader *r, struct trace_item *it);
const char *trace_reader_error(const struct trace_reader *r);
/* Input offset just past the frame the last record handed out came from
 * (`hvrr capture` cuts the output there after the end record). */
uint64_t trace_reader_frame_end(const struct trace_reader *r);
/* Optional: called with the decompressed payload of every good frame before
 * its records are handed out (what `hvrr export --raw` writes). */
typedef void (*trace_raw_fn)(void *ctx, uint32_t frame, const void *raw, size_t len);
void trace_reader_set_raw_sink(struct trace_reader *r, trace_raw_fn fn, void *ctx);
/* Sync, Exit and DeviceEvent records take a hand-written decoder by
 * default (trace_decode.h; what it does not take goes to protobuf-c); true
 * sends every record through protobuf-c (for differential tests). */
void trace_reader_set_slow_path(struct trace_reader *r, bool slow_only);
/* Record checks (below) are on by default; codec tests that write
 * deliberately odd sequences turn them off. */
void trace_reader_set_record_checks(struct trace_reader *r, bool on);
void trace_reader_get_stats(const struct trace_reader *r, struct trace_reader_stats *st);

const char *trace_damage_kind_name(enum trace_damage_kind k);

/* Record checks (trace_validate.c), applied by the reader to every record:
 * false, with a one-line reason in why, for a record no hypervisor run can
 * produce (vcpus: the header's count, 0 if unknown). Beyond these, the reader
 * checks the sequence: exit numbers count up by one, a checkpoint is taken
 * before the next exit, the end record counts the exits. A failed check is a
 * TRACE_DMG_RECORD damage item (frame, byte offset of the frame, payload
 * offset of the record); the record is dropped, except after an exit-number
 * gap and a wrong end count, where the damage item comes first and the
 * record is then handed out. */
bool trace_check_exit(const struct trace_exit *e, uint32_t vcpus, char *why, size_t n);
bool trace_check_dev(const struct trace_dev_event *d, uint32_t vcpus, char *why, size_t n);

#endif
