/* The trace port (docs/hypervisor.md, "Recording"): the physical COM2
 * 16550 driven polled (FIFO on, no interrupts), behind a transmit queue.
 * Frames wait in the queue and leave one FIFO load (16 bytes) per VM entry
 * while the guest runs; when the queue is full the writer waits for the
 * line (lossless: the guest is held back meanwhile). */
#ifndef HVRR_HV_RECORDING_COM2_H
#define HVRR_HV_RECORDING_COM2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_COM2_TXQ_BYTES (1u << 20)

struct rec_com2 {
    uint16_t port;           /* UART base */
    uint32_t baud;           /* 115200 / divisor */
    uint8_t *txq;            /* REC_COM2_TXQ_BYTES, a ring */
    size_t txq_head;         /* oldest queued byte */
    size_t txq_used;         /* bytes queued */
    uint64_t txq_full_waits; /* writes that found the queue full */
    uint64_t port_bytes;     /* bytes sent to the UART */
};

/* Programs the UART (8N1, FIFOs on, interrupts off) at c->port / c->baud;
 * c->txq must already point at the queue memory. */
void rec_com2_init(struct rec_com2 *c);
/* Queues n bytes; a full queue waits for the line. */
void rec_com2_write(struct rec_com2 *c, const uint8_t *b, size_t n);
/* One FIFO load if the transmitter is empty (with wait: waits for it). */
void rec_com2_burst(struct rec_com2 *c, bool wait);
/* Sends the whole queue, waiting for the line. */
void rec_com2_flush(struct rec_com2 *c);

#endif
