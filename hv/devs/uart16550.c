/* STUB: replaced by the real model. */
#include "hv/devs/uart16550.h"

void uart_init(struct uart *u, const struct irq_sink *irq, unsigned irq_line, uart_tx_fn tx, void *tx_ctx)
{
    *u = (struct uart){.irq_line = irq_line, .tx = tx, .tx_ctx = tx_ctx};
    if (irq)
        u->irq = *irq;
}
void uart_reset(struct uart *u) { (void)u; }
int uart_io(void *uart, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct uart *u = uart;
    (void)size; (void)now_ns;
    if (write && (port & 7) == 0 && u->tx)
        u->tx(u->tx_ctx, (uint8_t)*val);
    if (!write)
        *val = (port & 7) == 5 ? 0x60 : 0;
    return DEV_IO_OK;
}
size_t uart_rx(struct uart *u, const uint8_t *buf, size_t n, uint64_t now_ns) { (void)u; (void)buf; (void)n; (void)now_ns; return 0; }
size_t uart_rx_space(const struct uart *u) { (void)u; return 0; }
void uart_tick(struct uart *u, uint64_t now_ns) { (void)u; (void)now_ns; }
uint64_t uart_next_event_ns(const struct uart *u, uint64_t now_ns) { (void)u; (void)now_ns; return TIME_NEVER; }
void uart_save(const struct uart *u, struct sv *s) { (void)u; sv_begin(s, SV_TAG('U','A','R','T'), 1); sv_end(s); }
int uart_restore(struct uart *u, struct sv *s) { (void)u; sv_open(s, SV_TAG('U','A','R','T'), 1); sv_close(s); return s->err ? -1 : 0; }
