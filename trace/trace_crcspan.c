/* Prefix CRCs for O(1)-ish CRC-32C of any stretch (trace_crcspan.h). */
#include "trace/trace_crcspan.h"

#include <stdlib.h>
#include <string.h>

#include "trace/trace_frame.h"

#define POLY 0x82f63b78u /* CRC-32C, reflected */

/* a·b mod P, polynomials in reflected order (bit 31: x^0). */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
    uint32_t p = 0;
    for (uint32_t m = 1u << 31; m; m >>= 1) {
        if (a & m)
            p ^= b;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

/* x^(8n) mod P: the operator that appends n zero bytes. */
static uint32_t x_pow_8n(uint64_t n)
{
    uint32_t r = 1u << 31, sq = 1u << 23; /* 1 and x^8 */
    for (; n; n >>= 1) {
        if (n & 1)
            r = gf_mul(r, sq);
        sq = gf_mul(sq, sq);
    }
    return r;
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return gf_mul(crc_a, x_pow_8n(len_b)) ^ crc_b;
}

void crc_span_reset(struct crc_span *s)
{
    s->n = 0;
}

void crc_span_free(struct crc_span *s)
{
    free(s->ck);
    s->ck = NULL;
    s->n = s->cap = 0;
}

/* Moves the base up to the first step boundary at or after `from`:
 * P'(x) = P(x) ^ P(b')·x^(8(x-b')). */
static void rebase(struct crc_span *s, uint64_t from)
{
    size_t k0 = (size_t)((from - s->base + CRC_SPAN_STEP - 1) / CRC_SPAN_STEP);
    if (k0 >= s->n) {
        s->n = 0;
        return;
    }
    uint32_t m = x_pow_8n(CRC_SPAN_STEP), sh = s->ck[k0];
    for (size_t j = 0; k0 + j < s->n; j++) {
        s->ck[j] = s->ck[k0 + j] ^ sh;
        sh = gf_mul(sh, m);
    }
    s->n -= k0;
    s->base += (uint64_t)k0 * CRC_SPAN_STEP;
}

/* P(x) for base <= x <= base + n * STEP (entries up to x's step exist). */
static uint32_t prefix(struct crc_span *s, const uint8_t *buf, uint64_t buf_off, uint64_t x)
{
    size_t k = (size_t)((x - s->base) / CRC_SPAN_STEP);
    if (k >= s->n)
        k = s->n - 1;
    uint64_t at = s->base + (uint64_t)k * CRC_SPAN_STEP;
    s->hashed += x - at;
    return trace_crc32c(s->ck[k], buf + (at - buf_off), (size_t)(x - at));
}

int crc_span_crc(struct crc_span *s, const uint8_t *buf, uint64_t buf_off, size_t buf_len,
                 uint64_t a, size_t len, uint32_t *out)
{
    uint64_t b = a + len;
    if (a < buf_off || b > buf_off + buf_len)
        return -1;
    if (s->n && s->base < buf_off)
        rebase(s, buf_off);
    /* a may sit up to one step before the (rounded-up) base: its head is
     * hashed directly and combined */
    if (s->n == 0 || a + CRC_SPAN_STEP < s->base || b < s->base) {
        s->base = a;
        s->n = 0;
    }
    size_t need = (size_t)((b - s->base) / CRC_SPAN_STEP) + 1;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < need)
            cap *= 2;
        uint32_t *p = realloc(s->ck, cap * sizeof *p);
        if (!p)
            return -1;
        s->ck = p;
        s->cap = cap;
    }
    if (s->n == 0)
        s->ck[s->n++] = 0;
    while (s->n < need) {
        uint64_t at = s->base + (uint64_t)(s->n - 1) * CRC_SPAN_STEP;
        s->ck[s->n] = trace_crc32c(s->ck[s->n - 1], buf + (at - buf_off), CRC_SPAN_STEP);
        s->hashed += CRC_SPAN_STEP;
        s->n++;
    }
    uint32_t pb = prefix(s, buf, buf_off, b);
    if (a < s->base) {
        uint32_t head = trace_crc32c(0, buf + (a - buf_off), (size_t)(s->base - a));
        s->hashed += s->base - a;
        *out = crc32c_combine(head, pb, b - s->base);
    } else {
        *out = pb ^ gf_mul(prefix(s, buf, buf_off, a), x_pow_8n(len));
    }
    return 0;
}
