/* Flat, versioned, little-endian save/restore of device state.
 *
 * A save is a sequence of sections. Each section is
 *     u32 tag, u16 version, u32 payload length, payload
 * Devices declare their fields in a table (struct sv_desc, below) that
 * sv_save/sv_load/sv_compare walk; the sv_put_* / sv_get_* primitives
 * underneath serve fields with a wire format of their own (SVK_CODEC).
 * Errors are sticky (sv->err): the caller checks once at the end. Sections
 * nest (a VM checkpoint holds one section per device). Nothing here
 * allocates.
 */
#ifndef HVRR_SAVESTATE_H
#define HVRR_SAVESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    bool lax; /* reader: decode only, skip the validity checks (sv_load) */
    /* reader, optional: sv_load notes here the version of each section it
     * opens, in order (the root first), for sv_compare */
    uint16_t *versions;
    unsigned nversions, versions_cap;
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

/* ---- Declared, versioned fields (QEMU's vmstate idea, our own code) -----
 *
 * A device declares its state once, as a table of fields; save, restore and
 * the checkpoint comparison all walk that table. The wire format of a
 * section is its fields in table order, each little-endian at its width
 * (bool: one byte, 0 or 1), arrays element by element; a STRUCT field is
 * its sub-table once per element (no header); a SECTION field is a nested
 * section of its own (tag, version, length).
 *
 * Versions: a section carries the layout version it was written with.
 * Restore accepts min_version..version. Fields are only ever added, each
 * with `since`, the first layout that holds it; loading an older layout
 * gives such a field its documented default (`dflt`), then the table's
 * post_load(obj, version) may derive better values (the upgrade). A layout
 * change is therefore: add the field to the table (its place in the table
 * is its place on the wire) with since = the new version, bump version,
 * document the default or the derivation; min_version moves up only when
 * an old layout really cannot be upgraded. Restore of a current-version
 * blob is byte-exact: save(restore(blob)) == blob. */

enum sv_kind {
    SVK_U8 = 1,
    SVK_U16,
    SVK_U32,
    SVK_U64,
    SVK_BOOL,
    SVK_ACCESSOR, /* scalar of `width` bytes read/written through get/set */
    SVK_STRUCT,   /* `count` elements of the sub-table `sub`, `stride` bytes apart */
    SVK_SECTION,  /* a nested section described by `sub` (another device) */
    SVK_CODEC,    /* a wire format of its own (put/load); compared through views */
};

#define SVF_VIEW 1u /* not on the wire: compared and reported only */
/* On the wire and restored, never compared: a latch the device's user
 * clears when it acts (a core event), which is not a device call. */
#define SVF_NOCMP 4u
#define SVF_DERIVED                                                                                \
    2u /* post_load computes it exactly from an older layout: a                                    \
        * comparison with such a blob still checks it */

struct sv_desc;

struct sv_field {
    const char *name;
    uint8_t kind;  /* enum sv_kind */
    uint8_t width; /* bytes of one element on the wire and in memory */
    uint8_t flags; /* SVF_* */
    uint16_t count;
    uint16_t since; /* first layout version holding the field (1: always there) */
    uint32_t off;   /* offsetof() in the object */
    uint32_t stride;
    uint64_t dflt; /* value of a scalar in layouts older than `since` */
    const struct sv_desc *sub;
    uint64_t (*get)(const void *obj); /* SVK_ACCESSOR */
    void (*set)(void *obj, uint64_t v);
    void (*put)(struct sv *s, const void *obj); /* SVK_CODEC */
    void (*load)(struct sv *s, void *obj);
};

struct sv_desc {
    const char *name;
    uint32_t tag;         /* sections only; 0 for a STRUCT's sub-table */
    uint16_t version;     /* layout written */
    uint16_t min_version; /* oldest layout restore accepts */
    const struct sv_field *fields;
    unsigned nfields;
    /* After the fields of a `version` layout were loaded (newer ones set to
     * their defaults): derive the fields that layout lacks. May be NULL. */
    void (*post_load)(void *obj, uint16_t version);
    /* False for a state no sequence of accesses can produce: restore
     * refuses it (not called when decoding for a comparison). May be NULL. */
    bool (*valid)(const void *obj);
};

/* Compile-time check that a member has the width the table claims. */
#define SV_W_(T, m, w) (0 * sizeof(char[(sizeof(((T *)0)->m) == (w)) ? 1 : -1]))
#define SV_SCALAR_(T, m, k, w, n, v, d, fl)                                                        \
    {                                                                                              \
        .name = #m, .kind = (k), .width = (w), .flags = (fl), .count = (n), .since = (v),          \
        .dflt = (d), .off = (uint32_t)(offsetof(T, m) + SV_W_(T, m, (w) * (n)))                    \
    }
#define SV_U8(T, m)       SV_SCALAR_(T, m, SVK_U8, 1, 1, 1, 0, 0)
#define SV_U16(T, m)      SV_SCALAR_(T, m, SVK_U16, 2, 1, 1, 0, 0)
#define SV_U32(T, m)      SV_SCALAR_(T, m, SVK_U32, 4, 1, 1, 0, 0)
#define SV_U64(T, m)      SV_SCALAR_(T, m, SVK_U64, 8, 1, 1, 0, 0)
#define SV_BOOL(T, m)     SV_SCALAR_(T, m, SVK_BOOL, 1, 1, 1, 0, 0)
#define SV_U8_ARRAY(T, m) SV_SCALAR_(T, m, SVK_U8, 1, sizeof(((T *)0)->m), 1, 0, 0)
/* Added in layout v: older blobs load `d` (not compared against them), or
 * (DERIVED) post_load computes the value (compared). */
#define SV_U8_SINCE(T, m, v, d)   SV_SCALAR_(T, m, SVK_U8, 1, 1, v, d, 0)
#define SV_U16_SINCE(T, m, v, d)  SV_SCALAR_(T, m, SVK_U16, 2, 1, v, d, 0)
#define SV_U32_SINCE(T, m, v, d)  SV_SCALAR_(T, m, SVK_U32, 4, 1, v, d, 0)
#define SV_U64_SINCE(T, m, v, d)  SV_SCALAR_(T, m, SVK_U64, 8, 1, v, d, 0)
#define SV_BOOL_SINCE(T, m, v, d) SV_SCALAR_(T, m, SVK_BOOL, 1, 1, v, d, 0)
#define SV_U8_DERIVED(T, m, v)    SV_SCALAR_(T, m, SVK_U8, 1, 1, v, 0, SVF_DERIVED)
#define SV_VIEW_U8(T, m)                                                                           \
    {                                                                                              \
        .name = #m, .kind = SVK_U8, .width = 1, .flags = SVF_VIEW, .count = 1, .since = 1,         \
        .off = (uint32_t)(offsetof(T, m) + SV_W_(T, m, 1))                                         \
    }
#define SV_VIEW_U8_ARRAY(T, m)                                                                     \
    {                                                                                              \
        .name = #m, .kind = SVK_U8, .width = 1, .flags = SVF_VIEW, .count = sizeof(((T *)0)->m),   \
        .since = 1, .off = (uint32_t)offsetof(T, m)                                                \
    }
#define SV_STRUCT(T, m, n, d)                                                                      \
    {                                                                                              \
        .name = #m, .kind = SVK_STRUCT, .count = (n), .since = 1, .off = (uint32_t)offsetof(T, m), \
        .stride = sizeof(((T *)0)->m[0]), .sub = (d)                                               \
    }
#define SV_SECTION(T, m, d)                                                                        \
    {                                                                                              \
        .name = #m, .kind = SVK_SECTION, .count = 1, .since = 1, .off = (uint32_t)offsetof(T, m),  \
        .sub = (d)                                                                                 \
    }
/* A device added in layout v: older blobs leave it as it is (restore: the
 * live state; a decode: zeros) and a comparison against them skips it. */
#define SV_SECTION_SINCE(T, m, d, v)                                                               \
    {                                                                                              \
        .name = #m, .kind = SVK_SECTION, .count = 1, .since = (v),                                 \
        .off = (uint32_t)offsetof(T, m), .sub = (d)                                                \
    }
#define SV_ACCESSOR(nm, w, g, s)                                                                   \
    {                                                                                              \
        .name = (nm), .kind = SVK_ACCESSOR, .width = (w), .count = 1, .since = 1, .get = (g),      \
        .set = (s)                                                                                 \
    }
#define SV_CODEC(nm, p, l)                                                                         \
    {                                                                                              \
        .name = (nm), .kind = SVK_CODEC, .count = 1, .since = 1, .put = (p), .load = (l)           \
    }
#define SV_NFIELDS(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

/* The section `d` describes, from obj, at d->version. */
void sv_save(struct sv *s, const struct sv_desc *d, const void *obj);
/* Reads a section of d->tag, version min_version..version, into obj (fields
 * the blob's layout lacks get their defaults, then post_load, then valid
 * unless s->lax). Returns the blob's version, 0 on error (s->err set; obj
 * may be partly written: load into a scratch copy). */
uint16_t sv_load(struct sv *s, const struct sv_desc *d, void *obj);

/* Field-by-field comparison of two objects of desc d: calls diff once per
 * differing scalar (array element) with its path ("root.field[i]"; a
 * SECTION field starts a path of its own name, e.g. "com1.thre_ip") and
 * both values. Returns the number of differences. `want` was decoded from
 * a blob whose section versions are want_versions (as sv_load noted them;
 * NULL: all current): a field its layout lacked is not compared unless
 * SVF_DERIVED — a default is no observation. */
typedef void (*sv_diff_fn)(void *ctx, const char *path, uint64_t want, uint64_t got);
#define SV_PATH_MAX 64
unsigned sv_compare(const struct sv_desc *d, const char *root, const void *want,
                    const uint16_t *want_versions, unsigned nversions, const void *got,
                    sv_diff_fn diff, void *ctx);

#endif
