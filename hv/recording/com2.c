/* The trace port's UART driver and transmit queue (com2.h). */
#include "hv/recording/com2.h"

#include "hv/arch.h"
#include "hv/lib.h"

#define UART_LSR_THRE 0x20

void rec_com2_init(struct rec_com2 *c)
{
    uint16_t p = c->port;
    uint32_t div = c->baud ? 115200u / c->baud : 1;
    if (!div)
        div = 1;
    outb(p + 1, 0x00); /* IER: no interrupts */
    outb(p + 3, 0x80); /* LCR: DLAB */
    outb(p + 0, (uint8_t)div);
    outb(p + 1, (uint8_t)(div >> 8));
    outb(p + 3, 0x03); /* 8N1 */
    outb(p + 2, 0x07); /* FCR: FIFOs on, both cleared */
    outb(p + 4, 0x03); /* MCR: DTR, RTS */
}

/* THRE with FIFOs on means the whole 16-byte FIFO is free. */
void rec_com2_burst(struct rec_com2 *c, bool wait)
{
    uint16_t p = c->port;
    if (!c->txq_used)
        return;
    if (!(inb(p + 5) & UART_LSR_THRE)) {
        if (!wait)
            return;
        while (!(inb(p + 5) & UART_LSR_THRE))
            cpu_pause();
    }
    size_t k = c->txq_used < 16 ? c->txq_used : 16;
    for (size_t i = 0; i < k; i++)
        outb(p, c->txq[(c->txq_head + i) % REC_COM2_TXQ_BYTES]);
    c->txq_head = (c->txq_head + k) % REC_COM2_TXQ_BYTES;
    c->txq_used -= k;
    c->port_bytes += k;
}

void rec_com2_flush(struct rec_com2 *c)
{
    while (c->txq_used)
        rec_com2_burst(c, true);
}

void rec_com2_write(struct rec_com2 *c, const uint8_t *b, size_t n)
{
    while (n) {
        if (c->txq_used == REC_COM2_TXQ_BYTES) {
            c->txq_full_waits++;
            rec_com2_burst(c, true);
        }
        size_t tail = (c->txq_head + c->txq_used) % REC_COM2_TXQ_BYTES;
        size_t k = REC_COM2_TXQ_BYTES - c->txq_used;
        if (k > REC_COM2_TXQ_BYTES - tail)
            k = REC_COM2_TXQ_BYTES - tail;
        if (k > n)
            k = n;
        memcpy(c->txq + tail, b, k);
        c->txq_used += k;
        b += k;
        n -= k;
    }
}
