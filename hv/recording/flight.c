/* The flight ring (flight.h). */
#include "hv/recording/flight.h"

#include "hv/lib.h"

static void copy_in(struct rec_flight *f, size_t pos, const uint8_t *src, size_t n)
{
    pos %= f->cap;
    size_t first = f->cap - pos < n ? f->cap - pos : n;
    memcpy(f->ring + pos, src, first);
    memcpy(f->ring, src + first, n - first);
}

static void copy_out(const struct rec_flight *f, size_t pos, uint8_t *dst, size_t n)
{
    pos %= f->cap;
    size_t first = f->cap - pos < n ? f->cap - pos : n;
    memcpy(dst, f->ring + pos, first);
    memcpy(dst + first, f->ring, n - first);
}

/* Removes the oldest frame; returns its length. */
static uint32_t pop_oldest(struct rec_flight *f)
{
    uint32_t len;
    copy_out(f, f->head, (uint8_t *)&len, 4);
    f->head = (f->head + 4 + len) % f->cap;
    f->used -= 4 + (size_t)len;
    f->frames--;
    return len;
}

void rec_flight_reset(struct rec_flight *f)
{
    f->hdr_len = 0;
    f->head = f->used = 0;
    f->frames = f->dropped = 0;
}

int rec_flight_put(struct rec_flight *f, const uint8_t *b, size_t n)
{
    if (!f->hdr_len) {
        if (n > REC_FLIGHT_HDR_MAX)
            return -1;
        memcpy(f->hdr, b, n);
        f->hdr_len = n;
        return 0;
    }
    if (4 + n > f->cap) {
        f->dropped++; /* a frame larger than the whole ring */
        return 0;
    }
    while (f->used + 4 + n > f->cap) {
        pop_oldest(f);
        f->dropped++;
    }
    uint32_t len = (uint32_t)n;
    size_t tail = f->head + f->used;
    copy_in(f, tail, (const uint8_t *)&len, 4);
    copy_in(f, tail + 4, b, n);
    f->used += 4 + n;
    f->frames++;
    return 0;
}

void rec_flight_dump(struct rec_flight *f, struct rec_com2 *port)
{
    if (f->hdr_len)
        rec_com2_write(port, f->hdr, f->hdr_len);
    uint8_t chunk[512];
    while (f->frames) {
        size_t pos = f->head + 4;
        uint32_t len = pop_oldest(f);
        for (size_t off = 0; off < len;) {
            size_t k = len - off < sizeof chunk ? len - off : sizeof chunk;
            copy_out(f, pos + off, chunk, k);
            rec_com2_write(port, chunk, k);
            off += k;
        }
    }
}
