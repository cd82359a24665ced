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
