/* Flat, versioned, little-endian save/restore of device state.
 *
 * A save is a sequence of sections. Each section is
 *     u32 tag, u16 version, u32 payload length, payload
 * and a device writes its fields one by one with sv_put_*; restore reads them
 * back with sv_get_* in the same order. Errors are sticky (sv->err): the caller
 * checks once at the end. Sections nest (a VM checkpoint holds one section
 * per device). Nothing here allocates.
 */
#ifndef HVRR_SAVESTATE_H
#define HVRR_SAVESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SV_MAX_DEPTH 4

#define SV_MAX_DEPTH 4

struct sv {
    uint8_t *buf;      /* writer: output buffer */
    const uint8_t *in; /* reader: input buffer */
    size_t cap;        /* writer: capacity; reader: length */
    size_t pos;
    size_t sec_end;            /* reader: end of the innermost open section */
    size_t open[SV_MAX_DEPTH]; /* writer: length-field offsets; reader: enclosing ends */
    unsigned depth;            /* sections open now (they nest up to SV_MAX_DEPTH) */
    bool err;
};

#define SV_TAG(a, b, c, d)                                                                         \
    ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

void sv_init_write(struct sv *s, void *buf, size_t cap);
void sv_init_read(struct sv *s, const void *buf, size_t len);

/* Writer. */
void sv_begin(struct sv *s, uint32_t tag, uint16_t version);
void sv_end(struct sv *s);
void sv_put_u8(struct sv *s, uint8_t v);
void sv_put_u16(struct sv *s, uint16_t v);
void sv_put_u32(struct sv *s, uint32_t v);
void sv_put_u64(struct sv *s, uint64_t v);
void sv_put_bool(struct sv *s, bool v);
void sv_put_bytes(struct sv *s, const void *p, size_t n);

/* Reader. sv_open checks the tag, returns the section's version (0 and sets
 * err on mismatch or if the version is above max_version). sv_close checks
 * that exactly the section's payload was consumed, unless the section is of
 * a newer minor layout the caller chose to skip with sv_skip_rest. */
uint16_t sv_open(struct sv *s, uint32_t tag, uint16_t max_version);
void sv_close(struct sv *s);
void sv_skip_rest(struct sv *s);
uint8_t sv_get_u8(struct sv *s);
uint16_t sv_get_u16(struct sv *s);
uint32_t sv_get_u32(struct sv *s);
uint64_t sv_get_u64(struct sv *s);
bool sv_get_bool(struct sv *s); /* any value other than 0/1 is an error */
void sv_get_bytes(struct sv *s, void *p, size_t n);

/* Bytes written so far (writer) or consumed (reader). */
static inline size_t sv_len(const struct sv *s)
{
    return s->pos;
}

#endif
