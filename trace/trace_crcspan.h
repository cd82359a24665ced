/* CRC-32C of any stretch of a stream in O(CRC_SPAN_STEP) after a linear
 * pass (host only; the reader's resynchronisation, trace_reader.c).
 *
 * After damage the reader tries a frame at every marker, and a frame whose
 * header is good but whose payload CRC is not may hide real frames inside
 * its claimed payload, so those are tried too. Computing each claimed
 * payload's CRC afresh made back-to-back headers quadratic (1 MiB: ~30 s).
 * Here the CRC of [a, b) comes from prefix CRCs P kept every CRC_SPAN_STEP
 * bytes: crc[a,b) = P(b) ^ P(a)·x^(8(b-a)) mod the CRC polynomial (CRC is
 * linear over GF(2); the same identity lets CRCs of two pieces combine). */
#ifndef HVRR_TRACE_CRCSPAN_H
#define HVRR_TRACE_CRCSPAN_H

#include <stddef.h>
#include <stdint.h>

#define CRC_SPAN_STEP 256

struct crc_span {
    uint64_t base; /* input offset of ck[0] */
    uint32_t *ck;  /* ck[k]: CRC-32C of input [base, base + k * CRC_SPAN_STEP) */
    size_t n, cap;
    uint64_t hashed; /* bytes run through the CRC so far (tests: linear work) */
};

/* CRC-32C of input [a, a + len), with buf holding input [buf_off, buf_off +
 * buf_len) and a >= buf_off, a + len <= buf_off + buf_len. Reuses and extends
 * the prefix CRCs (dropping those before buf_off). 0, or -1 when out of
 * memory (compute it directly then). */
int crc_span_crc(struct crc_span *s, const uint8_t *buf, uint64_t buf_off, size_t buf_len,
                 uint64_t a, size_t len, uint32_t *out);
void crc_span_reset(struct crc_span *s); /* forgets the prefixes, keeps memory */
void crc_span_free(struct crc_span *s);

/* GF(2) helpers, exposed for tests: crc(A||B) = crc32c_combine(crc(A), crc(B), |B|). */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
