/* National/TI PC16550D UART ("16550A") with 16-byte FIFOs. Registers at
 * base+0..7 (the model decodes port & 7). Output bytes go to an injected sink;
 * input bytes come from the host through uart_rx().
 *
 * The serial line is infinitely fast: a byte written to THR leaves at once
 * (THRE/TEMT never read 0), and host bytes land in the RX FIFO at the time of
 * the uart_rx() call. The only time-driven behaviour is the FIFO character
 * timeout (4 character times at the programmed divisor and frame format).
 * docs/devices/uart16550.md describes the choices made.
 */
#ifndef HVRR_UART16550_H
#define HVRR_UART16550_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define UART_FIFO_SIZE     16
#define UART_STATE_VERSION 1

/* Register offsets (port & 7). */
enum {
    UART_RBR = 0, /* read, DLAB=0 (THR on write) */
    UART_IER = 1, /* DLAB=0 */
    UART_IIR = 2, /* read (FCR on write) */
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

/* Register bits (PC16550D datasheet, section 8). */
#define UART_IER_ERBFI 0x01 /* received data available (and timeout) */
#define UART_IER_ETBEI 0x02 /* THR empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NONE 0x01
#define UART_IIR_MSI  0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI  0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_CTI  0x0c
#define UART_IIR_FIFO 0xc0

#define UART_FCR_ENABLE   0x01
#define UART_FCR_RX_RESET 0x02
#define UART_FCR_TX_RESET 0x04
#define UART_FCR_DMA      0x08
#define UART_FCR_TRIGGER  0xc0

#define UART_LCR_SBC  0x40 /* set break */
#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR      0x01
#define UART_LSR_OE      0x02
#define UART_LSR_PE      0x04
#define UART_LSR_FE      0x08
#define UART_LSR_BI      0x10
#define UART_LSR_THRE    0x20
#define UART_LSR_TEMT    0x40
#define UART_LSR_FIFOERR 0x80

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

/* Modem inputs a connected terminal drives at power-on: DCD, DSR, CTS. */
#define UART_MODEM_CONNECTED (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

typedef void (*uart_tx_fn)(void *ctx, uint8_t byte);

/* State fields are declared once, in uart16550.c's field table (savestate.h):
 * a new field goes there, with the layout version that introduces it. */
struct uart {
    uint8_t ier, lcr, mcr, scr;
    uint8_t dll, dlm;
    uint8_t fcr;      /* FIFO enable, DMA mode, RX trigger as last programmed */
    uint8_t lsr_err;  /* latched OE/PE/FE/BI, cleared by reading LSR */
    uint8_t msr;      /* bits 7-4 the modem lines as seen, 3-0 the deltas */
    uint8_t modem_in; /* external CTS/DSR/RI/DCD pins, in MSR bit positions */
    uint8_t rbr_last; /* what RBR reads when nothing is received */
    bool thre_ip;     /* THRE interrupt latched */
    bool cti;         /* FIFO character timeout latched */
    bool irq_out;     /* level last driven on the IRQ line (after OUT2 gating) */
    /* RX FIFO; in 16450 mode entry rx_head is the 1-byte RBR. */
    uint8_t rx_data[UART_FIFO_SIZE];
    uint8_t rx_err[UART_FIFO_SIZE]; /* PE/FE/BI of each entry, LSR bit positions */
    uint8_t rx_head, rx_count;
    uint64_t rx_activity_ns; /* last byte received or read by the CPU */
    /* wiring, not state: */
    struct irq_sink irq;
    unsigned irq_line;
    uart_tx_fn tx;
    void *tx_ctx;
};

/* Wires the UART and puts it in its power-on state (uart_reset) with the
 * modem inputs of a connected terminal (UART_MODEM_CONNECTED). */
void uart_init(struct uart *u, const struct irq_sink *irq, unsigned irq_line, uart_tx_fn tx,
               void *tx_ctx);
/* Master reset: power-on register values, FIFOs emptied, IRQ line low. The
 * modem input pins are external and keep their level. */
void uart_reset(struct uart *u);
int uart_io(void *uart, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Host -> guest bytes. Returns how many were accepted (the RX FIFO's room). */
size_t uart_rx(struct uart *u, const uint8_t *buf, size_t n, uint64_t now_ns);
size_t uart_rx_space(const struct uart *u);
/* Host -> guest break condition: one 0x00 character flagged BI|FE. Returns
 * false (nothing received) when the RX FIFO has no room. */
bool uart_rx_break(struct uart *u, uint64_t now_ns);
/* Host side of the modem lines: `lines` is CTS/DSR/RI/DCD in MSR bit
 * positions (UART_MSR_CTS...); other bits are ignored. */
void uart_set_modem_inputs(struct uart *u, uint8_t lines, uint64_t now_ns);
/* Time-driven behaviour (RX character timeout). */
void uart_tick(struct uart *u, uint64_t now_ns);
uint64_t uart_next_event_ns(const struct uart *u, uint64_t now_ns);
/* Four character times at the current divisor and LCR frame format, in ns
 * (rounded up): the FIFO character-timeout delay. */
uint64_t uart_char_timeout_ns(const struct uart *u);
/* Level of the IRQ output (what the sink was last told). */
bool uart_irq_level(const struct uart *u);
/* Save/restore: section 'UART', version UART_STATE_VERSION. Restore checks
 * the blob for consistency, leaves *u untouched on error (returns -1), never
 * touches the wiring and does not call the sink: the IRQ level is restored as
 * state, like the input pin of whatever it is wired to. */
extern const struct sv_desc uart_sv_desc;
void uart_save(const struct uart *u, struct sv *s);
int uart_restore(struct uart *u, struct sv *s);

#endif
