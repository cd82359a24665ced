/* National/TI 16550A UART with 16-byte FIFOs. Registers at base+0..7
 * (the model decodes port & 7). Output bytes go to an injected sink; input
 * bytes come from the host through uart_rx(). */
#ifndef HVRR_UART16550_H
#define HVRR_UART16550_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

typedef void (*uart_tx_fn)(void *ctx, uint8_t byte);

struct uart {
    uint8_t ier, lcr, mcr, scr; /* (completed by the UART implementation) */
    /* wiring, not state: */
    struct irq_sink irq;
    unsigned irq_line;
    uart_tx_fn tx;
    void *tx_ctx;
};

void uart_init(struct uart *u, const struct irq_sink *irq, unsigned irq_line, uart_tx_fn tx,
               void *tx_ctx);
void uart_reset(struct uart *u);
int uart_io(void *uart, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Host -> guest bytes. Returns how many were accepted (the RX FIFO's room). */
size_t uart_rx(struct uart *u, const uint8_t *buf, size_t n, uint64_t now_ns);
size_t uart_rx_space(const struct uart *u);
/* Time-driven behaviour (RX character timeout). */
void uart_tick(struct uart *u, uint64_t now_ns);
uint64_t uart_next_event_ns(const struct uart *u, uint64_t now_ns);
void uart_save(const struct uart *u, struct sv *s);
int uart_restore(struct uart *u, struct sv *s);

#endif
