/* The flight ring (record=flight, docs/hypervisor.md "Recording"): the last
 * whole frames of the trace, kept as [u32 len][bytes] with the oldest at the
 * head, plus frame 0 (the Header) apart; a dump sends the header and the
 * ring, oldest first, to the trace port. */
#ifndef HVRR_HV_RECORDING_FLIGHT_H
#define HVRR_HV_RECORDING_FLIGHT_H

#include "hv/recording/com2.h"

#define REC_FLIGHT_HDR_MAX (64u << 10)

struct rec_flight {
    uint8_t *ring; /* cap bytes */
    size_t cap, head, used;
    uint64_t frames, dropped; /* frames held; frames lost (oldest first) */
    uint8_t *hdr;             /* REC_FLIGHT_HDR_MAX bytes: frame 0 */
    size_t hdr_len;
};

/* Empties the ring and forgets the header (a new VM). */
void rec_flight_reset(struct rec_flight *f);
/* Keeps one frame: the first after a reset is the header (-1 if it is
 * larger than REC_FLIGHT_HDR_MAX), the others go to the ring, dropping the
 * oldest to make room (a frame larger than the ring is dropped). */
int rec_flight_put(struct rec_flight *f, const uint8_t *b, size_t n);
/* Sends the header and every held frame to the port and empties the ring. */
void rec_flight_dump(struct rec_flight *f, struct rec_com2 *port);

#endif
