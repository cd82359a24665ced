#include "hv/devs/savestate.h"

void sv_init_write(struct sv *s, void *buf, size_t cap)
{
    *s = (struct sv){.buf = buf, .cap = cap};
}

void sv_init_read(struct sv *s, const void *buf, size_t len)
{
    *s = (struct sv){.in = buf, .cap = len, .sec_end = len};
}

static void put(struct sv *s, uint64_t v, unsigned n)
{
    if (s->err || !s->buf || s->cap - s->pos < n) {
        s->err = true;
        return;
    }
    for (unsigned i = 0; i < n; i++)
        s->buf[s->pos++] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(struct sv *s, unsigned n)
{
    uint64_t v = 0;
    if (s->err || !s->in || s->sec_end - s->pos < n || s->pos > s->sec_end) {
        s->err = true;
        return 0;
    }
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)s->in[s->pos++] << (8 * i);
    return v;
}

void sv_put_u8(struct sv *s, uint8_t v)
{
    put(s, v, 1);
}
void sv_put_u16(struct sv *s, uint16_t v)
{
    put(s, v, 2);
}
void sv_put_u32(struct sv *s, uint32_t v)
{
    put(s, v, 4);
}
void sv_put_u64(struct sv *s, uint64_t v)
{
    put(s, v, 8);
}
void sv_put_bool(struct sv *s, bool v)
{
    put(s, v ? 1 : 0, 1);
}

void sv_put_bytes(struct sv *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n && !s->err; i++)
        put(s, b[i], 1);
}

void sv_begin(struct sv *s, uint32_t tag, uint16_t version)
{
    put(s, tag, 4);
    put(s, version, 2);
    if (s->depth >= SV_MAX_DEPTH)
        s->err = true;
    if (s->err)
        return;
    s->open[s->depth++] = s->pos;
    put(s, 0, 4); /* patched by sv_end */
}

void sv_end(struct sv *s)
{
    if (s->err || s->depth == 0) {
        s->err = true;
        return;
    }
    size_t at = s->open[--s->depth];
    uint32_t len = (uint32_t)(s->pos - at - 4);
    for (unsigned i = 0; i < 4; i++)
        s->buf[at + i] = (uint8_t)(len >> (8 * i));
}

uint16_t sv_open(struct sv *s, uint32_t tag, uint16_t max_version)
{
    uint32_t t = (uint32_t)get(s, 4);
    uint16_t ver = (uint16_t)get(s, 2);
    uint32_t len = (uint32_t)get(s, 4);
    if (s->err || t != tag || ver == 0 || ver > max_version || len > s->sec_end - s->pos ||
        s->depth >= SV_MAX_DEPTH) {
        s->err = true;
        return 0;
    }
    s->open[s->depth++] = s->sec_end;
    s->sec_end = s->pos + len;
    return ver;
}

void sv_close(struct sv *s)
{
    if (!s->err && s->pos != s->sec_end)
        s->err = true;
    if (s->depth == 0) {
        s->err = true;
        return;
    }
    s->sec_end = s->open[--s->depth];
}

void sv_skip_rest(struct sv *s)
{
    if (!s->err)
        s->pos = s->sec_end;
}

uint8_t sv_get_u8(struct sv *s)
{
    return (uint8_t)get(s, 1);
}
uint16_t sv_get_u16(struct sv *s)
{
    return (uint16_t)get(s, 2);
}
uint32_t sv_get_u32(struct sv *s)
{
    return (uint32_t)get(s, 4);
}
uint64_t sv_get_u64(struct sv *s)
{
    return get(s, 8);
}

bool sv_get_bool(struct sv *s)
{
    uint8_t v = (uint8_t)get(s, 1);
    if (v > 1)
        s->err = true;
    return v == 1;
}

void sv_get_bytes(struct sv *s, void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)get(s, 1);
}

/* ---- declared fields ---------------------------------------------------- */

static uint64_t mem_get(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++) /* the host is little-endian (x86-64) */
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void mem_set(uint8_t *p, unsigned w, uint64_t v)
{
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static bool is_scalar(const struct sv_field *f)
{
    return f->kind >= SVK_U8 && f->kind <= SVK_BOOL;
}

static void save_fields(struct sv *s, const struct sv_desc *d, const void *obj)
{
    const uint8_t *o = obj;
    for (unsigned i = 0; i < d->nfields; i++) {
        const struct sv_field *f = &d->fields[i];
        if (f->flags & SVF_VIEW)
            continue;
        if (is_scalar(f)) {
            for (unsigned k = 0; k < f->count; k++)
                put(s, mem_get(o + f->off + k * f->width, f->width), f->width);
        } else if (f->kind == SVK_ACCESSOR) {
            put(s, f->get(obj), f->width);
        } else if (f->kind == SVK_STRUCT) {
            for (unsigned k = 0; k < f->count; k++)
                save_fields(s, f->sub, o + f->off + k * f->stride);
        } else if (f->kind == SVK_SECTION) {
            sv_save(s, f->sub, o + f->off);
        } else if (f->kind == SVK_CODEC) {
            f->put(s, obj);
        } else {
            s->err = true;
        }
    }
}

void sv_save(struct sv *s, const struct sv_desc *d, const void *obj)
{
    sv_begin(s, d->tag, d->version);
    save_fields(s, d, obj);
    sv_end(s);
}

/* A field the blob's layout does not have yet. */
static void set_default(const struct sv_field *f, uint8_t *o, void *obj)
{
    if (is_scalar(f)) {
        for (unsigned k = 0; k < f->count; k++)
            mem_set(o + f->off + k * f->width, f->width, f->dflt);
    } else if (f->kind == SVK_ACCESSOR) {
        f->set(obj, f->dflt);
    }
    /* STRUCT, SECTION, CODEC added later: the object keeps what it holds
     * (restore: the live state; a decode: zeros). */
}

static void load_fields(struct sv *s, const struct sv_desc *d, void *obj, uint16_t ver)
{
    uint8_t *o = obj;
    for (unsigned i = 0; i < d->nfields && !s->err; i++) {
        const struct sv_field *f = &d->fields[i];
        if (f->flags & SVF_VIEW)
            continue;
        if (f->since > ver) {
            set_default(f, o, obj);
            continue;
        }
        if (is_scalar(f)) {
            for (unsigned k = 0; k < f->count; k++) {
                uint64_t v = get(s, f->width);
                if (f->kind == SVK_BOOL && v > 1)
                    s->err = true;
                mem_set(o + f->off + k * f->width, f->width, v);
            }
        } else if (f->kind == SVK_ACCESSOR) {
            uint64_t v = get(s, f->width);
            if (!s->err)
                f->set(obj, v);
        } else if (f->kind == SVK_STRUCT) {
            for (unsigned k = 0; k < f->count && !s->err; k++)
                load_fields(s, f->sub, o + f->off + k * f->stride, ver);
        } else if (f->kind == SVK_SECTION) {
            sv_load(s, f->sub, o + f->off);
        } else if (f->kind == SVK_CODEC) {
            f->load(s, obj);
        } else {
            s->err = true;
        }
    }
    if (s->err)
        return;
    if (d->post_load)
        d->post_load(obj, ver);
    if (!s->lax && d->valid && !d->valid(obj))
        s->err = true;
}

uint16_t sv_load(struct sv *s, const struct sv_desc *d, void *obj)
{
    uint16_t ver = sv_open(s, d->tag, d->version);
    if (s->err)
        return 0;
    if (ver < d->min_version)
        s->err = true;
    if (s->versions && s->nversions < s->versions_cap)
        s->versions[s->nversions++] = ver;
    load_fields(s, d, obj, ver);
    sv_close(s);
    return s->err ? 0 : ver;
}

/* ---- comparison --------------------------------------------------------- */

struct cmp {
    sv_diff_fn diff;
    void *ctx;
    const uint16_t *vers; /* want's section versions, in sv_load order */
    unsigned nvers, vi;
    unsigned n;
    char path[SV_PATH_MAX];
};

/* Appends to c->path at `at`; returns the new length (cut, never overrun). */
static size_t path_add(struct cmp *c, size_t at, const char *str)
{
    while (*str && at + 1 < sizeof c->path)
        c->path[at++] = *str++;
    c->path[at] = 0;
    return at;
}

static size_t path_index(struct cmp *c, size_t at, unsigned k)
{
    char num[12];
    unsigned n = 0;
    do {
        num[n++] = (char)('0' + k % 10);
        k /= 10;
    } while (k);
    at = path_add(c, at, "[");
    while (n)
        at = path_add(c, at, (char[2]){num[--n], 0});
    return path_add(c, at, "]");
}

static void differ(struct cmp *c, uint64_t want, uint64_t got)
{
    if (want == got)
        return;
    c->n++;
    if (c->diff)
        c->diff(c->ctx, c->path, want, got);
}

static void cmp_fields(struct cmp *c, size_t at, const struct sv_desc *d, const void *a,
                       const void *b, uint16_t ver);

static void cmp_section(struct cmp *c, size_t at, const struct sv_desc *d, const void *a,
                        const void *b)
{
    uint16_t ver = d->version;
    if (c->vers && c->vi < c->nvers)
        ver = c->vers[c->vi++];
    cmp_fields(c, at, d, a, b, ver);
}

static void cmp_fields(struct cmp *c, size_t at, const struct sv_desc *d, const void *a,
                       const void *b, uint16_t ver)
{
    const uint8_t *x = a, *y = b;
    for (unsigned i = 0; i < d->nfields; i++) {
        const struct sv_field *f = &d->fields[i];
        if (f->kind == SVK_CODEC || (f->flags & SVF_NOCMP))
            continue; /* its views say what it holds; a latch of the user's */
        if (f->kind == SVK_SECTION && f->since > ver)
            continue; /* want's layout had no such device */
        if (f->kind == SVK_SECTION) {
            char keep[SV_PATH_MAX];
            for (size_t k = 0; k < sizeof keep; k++)
                keep[k] = c->path[k];
            cmp_section(c, path_add(c, 0, f->name), f->sub, x + f->off, y + f->off);
            for (size_t k = 0; k < sizeof keep; k++)
                c->path[k] = keep[k];
            continue;
        }
        if (f->since > ver && !(f->flags & SVF_DERIVED))
            continue; /* want's layout did not have it: only a default there */
        size_t here = path_add(c, at ? path_add(c, at, ".") : 0, f->name);
        if (f->kind == SVK_ACCESSOR) {
            differ(c, f->get(a), f->get(b));
            continue;
        }
        for (unsigned k = 0; k < f->count; k++) {
            size_t el = f->count > 1 ? path_index(c, here, k) : here;
            if (f->kind == SVK_STRUCT) {
                cmp_fields(c, el, f->sub, x + f->off + k * f->stride, y + f->off + k * f->stride,
                           ver);
            } else {
                unsigned w = f->width;
                differ(c, mem_get(x + f->off + k * w, w), mem_get(y + f->off + k * w, w));
            }
        }
    }
}

unsigned sv_compare(const struct sv_desc *d, const char *root, const void *want,
                    const uint16_t *want_versions, unsigned nversions, const void *got,
                    sv_diff_fn diff, void *ctx)
{
    struct cmp c = {.diff = diff, .ctx = ctx, .vers = want_versions, .nvers = nversions};
    cmp_section(&c, path_add(&c, 0, root ? root : ""), d, want, got);
    return c.n;
}
