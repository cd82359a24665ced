/* PC16550D UART model. Rules cite the National/TI PC16550D datasheet
 * (SNLS378) by register or topic name ("FIFO Interrupt Mode Operation",
 * "Line Status Register", the RESET functions table...).
 * See uart16550.h and docs/devices/uart16550.md. */
#include "hv/devs/uart16550.h"

#define UART_SV_TAG SV_TAG('U', 'A', 'R', 'T')

#define LSR_ERR_BITS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define RX_ERR_BITS  (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define FCR_KEPT     (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER)

/* RX trigger levels selected by FCR bits 7-6 (FIFO Control Register). */
static const uint8_t rx_trigger_levels[4] = {1, 4, 8, 14};

static bool fifo_on(const struct uart *u)
{
    return u->fcr & UART_FCR_ENABLE;
}

static unsigned rx_trigger(const struct uart *u)
{
    return rx_trigger_levels[u->fcr >> 6];
}

static unsigned rx_capacity(const struct uart *u)
{
    return fifo_on(u) ? UART_FIFO_SIZE : 1;
}

/* ---- timing ------------------------------------------------------------ */

/* One bit lasts divisor * 16 cycles of the 1.8432 MHz reference clock,
 * i.e. divisor * 78125/9 ns. A character is start + 5..8 data + optional
 * parity + 1, 1.5 (5-bit words) or 2 stop bits (Line Control Register). Counted in
 * half bits, four characters last half_bits * divisor * 4 * 78125 / 18 ns. */
uint64_t uart_char_timeout_ns(const struct uart *u)
{
    uint64_t divisor = (uint64_t)u->dll | ((uint64_t)u->dlm << 8);
    if (divisor == 0)
        divisor = 65536; /* the 16-bit counter wraps: the slowest rate */
    unsigned word = 5 + (u->lcr & 3);
    unsigned parity = (u->lcr >> 3) & 1;
    unsigned stop_half = (u->lcr & 4) ? (word == 5 ? 3 : 4) : 2;
    uint64_t half_bits = 2 * (1 + word + parity) + stop_half;
    uint64_t num = half_bits * divisor * 156250; /* <= 24 * 65536 * 156250 */
    return (num + 8) / 9;
}

static uint64_t cti_deadline(const struct uart *u)
{
    uint64_t t = u->rx_activity_ns + uart_char_timeout_ns(u);
    return t < u->rx_activity_ns ? TIME_NEVER : t;
}

/* FIFO Interrupt Mode Operation: a timeout indication occurs when the FIFO holds at least one
 * character and nothing has entered or left it for four character times. */
static bool cti_armed(const struct uart *u)
{
    return fifo_on(u) && u->rx_count > 0 && !u->cti;
}

/* ---- interrupts ---------------------------------------------------------- */

/* Highest-priority enabled source (Interrupt Identification Register), as the IIR low nibble. */
static uint8_t iir_source(const struct uart *u)
{
    if ((u->ier & UART_IER_ELSI) && (u->lsr_err & LSR_ERR_BITS))
        return UART_IIR_RLSI;
    if (u->ier & UART_IER_ERBFI) {
        if (u->rx_count > 0 && (!fifo_on(u) || u->rx_count >= rx_trigger(u)))
            return UART_IIR_RDI;
        if (u->cti)
            return UART_IIR_CTI;
    }
    if ((u->ier & UART_IER_ETBEI) && u->thre_ip)
        return UART_IIR_THRI;
    if ((u->ier & UART_IER_EDSSI) && (u->msr & 0x0f))
        return UART_IIR_MSI;
    return UART_IIR_NONE;
}

/* PC wiring: the INTR pin reaches the PIC through a buffer enabled by the
 * OUT2 output. In loopback mode OUT2 is forced inactive at the pin (MCR bit 4,
 * "Modem Control Register"), so the line is gated off as on a real PC serial port. */
static bool irq_level(const struct uart *u)
{
    return iir_source(u) != UART_IIR_NONE && (u->mcr & UART_MCR_OUT2) && !(u->mcr & UART_MCR_LOOP);
}

static void update_irq(struct uart *u)
{
    bool level = irq_level(u);
    if (level != u->irq_out) {
        u->irq_out = level;
        irq_sink_set(&u->irq, u->irq_line, level);
    }
}

/* Brings the character timeout up to now. Every entry point calls this first,
 * so the observable state is the same whether or not uart_tick() ran at the
 * exact deadline. */
static void sync_time(struct uart *u, uint64_t now_ns)
{
    if (cti_armed(u) && now_ns >= cti_deadline(u))
        u->cti = true;
}

/* ---- modem lines ------------------------------------------------------- */

/* The lines MSR bits 7-4 show: the external pins, or in loopback the MCR
 * outputs looped back (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD). */
static uint8_t modem_lines(uint8_t mcr, uint8_t modem_in)
{
    if (!(mcr & UART_MCR_LOOP))
        return modem_in & 0xf0;
    uint8_t m = 0;
    if (mcr & UART_MCR_DTR)
        m |= UART_MSR_DSR;
    if (mcr & UART_MCR_RTS)
        m |= UART_MSR_CTS;
    if (mcr & UART_MCR_OUT1)
        m |= UART_MSR_RI;
    if (mcr & UART_MCR_OUT2)
        m |= UART_MSR_DCD;
    return m;
}

/* Recomputes MSR bits 7-4 and latches the deltas (Modem Status Register): DCTS, DDSR,
 * DDCD on any change; TERI when RI goes from active to inactive. */
static void update_msr(struct uart *u)
{
    uint8_t old = u->msr & 0xf0;
    uint8_t now = modem_lines(u->mcr, u->modem_in);
    uint8_t changed = old ^ now;
    uint8_t delta = 0;
    if (changed & UART_MSR_CTS)
        delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        delta |= UART_MSR_DDSR;
    if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
        delta |= UART_MSR_TERI;
    if (changed & UART_MSR_DCD)
        delta |= UART_MSR_DDCD;
    u->msr = (uint8_t)(now | (u->msr & 0x0f) | delta);
}

/* ---- receiver ---------------------------------------------------------- */

static void rx_clear(struct uart *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
    u->cti = false;
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++) {
        u->rx_data[i] = 0;
        u->rx_err[i] = 0;
    }
}

/* One character arrives from the line (host or loopback) with its error
 * flags. Line Status Register: errors show in LSR when the character reaches the top
 * of the FIFO; a character arriving at a full FIFO is lost with OE (FIFO
 * mode) or overwrites the unread RBR with OE (16450 mode). */
static void rx_push(struct uart *u, uint8_t byte, uint8_t err, uint64_t now_ns)
{
    u->rx_activity_ns = now_ns;
    u->cti = false;
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr_err |= UART_LSR_OE;
        if (!fifo_on(u)) {
            u->rx_data[u->rx_head] = byte;
            u->rx_err[u->rx_head] = err;
            u->lsr_err |= err;
        }
        return;
    }
    unsigned slot = (u->rx_head + u->rx_count) % UART_FIFO_SIZE;
    u->rx_data[slot] = byte;
    u->rx_err[slot] = err;
    u->rx_count++;
    if (u->rx_count == 1)
        u->lsr_err |= err;
}

/* CPU read of RBR: the top character leaves, the next one's errors become
 * visible, and the timeout restarts (FIFO Interrupt Mode Operation). */
static uint8_t rx_pop(struct uart *u, uint64_t now_ns)
{
    if (u->rx_count == 0)
        return u->rbr_last;
    uint8_t byte = u->rx_data[u->rx_head];
    u->rx_data[u->rx_head] = 0;
    u->rx_err[u->rx_head] = 0;
    u->rx_head = (uint8_t)((u->rx_head + 1) % UART_FIFO_SIZE);
    u->rx_count--;
    if (u->rx_count > 0)
        u->lsr_err |= u->rx_err[u->rx_head];
    u->rbr_last = byte;
    u->rx_activity_ns = now_ns;
    u->cti = false;
    return byte;
}

static bool rx_fifo_has_error(const struct uart *u)
{
    for (unsigned i = 0; i < u->rx_count; i++)
        if (u->rx_err[(u->rx_head + i) % UART_FIFO_SIZE])
            return true;
    return false;
}

/* LSR read (Line Status Register): OE/PE/FE/BI clear on read; bit 7 (FIFO mode) stays
 * set while a character still in the FIFO carries an error not yet reported. */
static uint8_t read_lsr(struct uart *u)
{
    uint8_t v = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_err;
    if (u->rx_count > 0)
        v |= UART_LSR_DR;
    if (fifo_on(u) && rx_fifo_has_error(u))
        v |= UART_LSR_FIFOERR;
    u->lsr_err = 0;
    if (u->rx_count > 0)
        u->rx_err[u->rx_head] = 0; /* the top character's errors are reported */
    return v;
}

/* ---- transmitter ------------------------------------------------------- */

/* THR write: the byte leaves at once (or loops back into the receiver) and
 * THR is empty again, which sets the THRE interrupt (Interrupt Identification Register: cleared by
 * the write, set again when THR empties). */
static void write_thr(struct uart *u, uint8_t byte, uint64_t now_ns)
{
    if (u->mcr & UART_MCR_LOOP)
        rx_push(u, byte, 0, now_ns);
    else if (u->tx)
        u->tx(u->tx_ctx, byte);
    u->thre_ip = true;
}

/* FCR write (FIFO Control Register). Bit 0 must be 1 for the other bits to be
 * programmed; any change of bit 0 empties both FIFOs. The TX FIFO is never
 * occupied, so a TX reset has nothing to clear. */
static void write_fcr(struct uart *u, uint8_t v)
{
    bool was_on = fifo_on(u);
    if (!(v & UART_FCR_ENABLE)) {
        if (was_on)
            rx_clear(u);
        u->fcr = (uint8_t)(u->fcr & ~UART_FCR_ENABLE);
        return;
    }
    if (!was_on || (v & UART_FCR_RX_RESET))
        rx_clear(u);
    u->fcr = v & FCR_KEPT;
}

static void write_lcr(struct uart *u, uint8_t v, uint64_t now_ns)
{
    uint8_t old = u->lcr;
    u->lcr = v;
    /* In loopback the receiver sees the transmitter output: setting break
     * delivers one all-zero character with BI (and FE, the stop bit is 0). */
    if ((u->mcr & UART_MCR_LOOP) && !(old & UART_LCR_SBC) && (v & UART_LCR_SBC))
        rx_push(u, 0, UART_LSR_BI | UART_LSR_FE, now_ns);
}

static void write_ier(struct uart *u, uint8_t v)
{
    uint8_t old = u->ier;
    u->ier = v & 0x0f;
    /* Enabling ETBEI while THR is empty (it always is) raises THRE. */
    if (!(old & UART_IER_ETBEI) && (u->ier & UART_IER_ETBEI))
        u->thre_ip = true;
}

/* ---- register access --------------------------------------------------- */

static uint8_t reg_read(struct uart *u, unsigned reg, uint64_t now_ns)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_RBR: return dlab ? u->dll : rx_pop(u, now_ns);
    case UART_IER: return dlab ? u->dlm : u->ier;
    case UART_IIR: {
        uint8_t src = iir_source(u);
        if (src == UART_IIR_THRI)
            u->thre_ip = false; /* reading IIR clears THRE when it is the source */
        return (uint8_t)(src | (fifo_on(u) ? UART_IIR_FIFO : 0));
    }
    case UART_LCR: return u->lcr;
    case UART_MCR: return u->mcr;
    case UART_LSR: return read_lsr(u);
    case UART_MSR: {
        uint8_t v = u->msr;
        u->msr &= 0xf0;
        return v;
    }
    default: return u->scr;
    }
}

static void reg_write(struct uart *u, unsigned reg, uint8_t v, uint64_t now_ns)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_RBR:
        if (dlab)
            u->dll = v;
        else
            write_thr(u, v, now_ns);
        break;
    case UART_IER:
        if (dlab)
            u->dlm = v;
        else
            write_ier(u, v);
        break;
    case UART_IIR: write_fcr(u, v); break;
    case UART_LCR: write_lcr(u, v, now_ns); break;
    case UART_MCR:
        u->mcr = v & 0x1f;
        update_msr(u);
        break;
    case UART_LSR: /* read-only (factory test use): ignored */
    case UART_MSR: /* read-only: ignored */ break;
    default: u->scr = v; break;
    }
}

int uart_io(void *uart, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct uart *u = uart;
    if (size != 1) {
        if (!write)
            *val = dev_size_mask(size);
        return DEV_IO_BADSIZE;
    }
    sync_time(u, now_ns);
    if (write)
        reg_write(u, port & 7, (uint8_t)*val, now_ns);
    else
        *val = reg_read(u, port & 7, now_ns);
    /* Again after the access: a divisor or word-length change can move the
     * timeout deadline into the past. The state an access leaves must be
     * what time `now_ns` means, so that ticking to the same instant right
     * after it changes nothing (record/replay relies on it, docs/replay.md). */
    sync_time(u, now_ns);
    update_irq(u);
    return DEV_IO_OK;
}

/* ---- host side --------------------------------------------------------- */

void uart_init(struct uart *u, const struct irq_sink *irq, unsigned irq_line, uart_tx_fn tx,
               void *tx_ctx)
{
    *u = (struct uart){.irq_line = irq_line, .tx = tx, .tx_ctx = tx_ctx};
    if (irq)
        u->irq = *irq;
    u->modem_in = UART_MODEM_CONNECTED;
    uart_reset(u);
}

void uart_reset(struct uart *u)
{
    /* RESET functions table: IER, FCR, LCR, MCR, LSR error bits and MSR deltas clear;
     * IIR reads 0x01. The divisor and scratch register are not reset by the
     * chip; as power-on values we choose divisor 12 (9600 baud) and SCR 0. */
    u->ier = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->scr = 0;
    u->dll = 12;
    u->dlm = 0;
    u->fcr = 0;
    u->lsr_err = 0;
    u->msr = modem_lines(0, u->modem_in);
    u->rbr_last = 0;
    u->thre_ip = false;
    u->rx_activity_ns = 0;
    rx_clear(u);
    update_irq(u);
}

size_t uart_rx_space(const struct uart *u)
{
    if (u->mcr & UART_MCR_LOOP)
        return 0; /* the receiver is disconnected from the line in loopback */
    return rx_capacity(u) - u->rx_count;
}

size_t uart_rx(struct uart *u, const uint8_t *buf, size_t n, uint64_t now_ns)
{
    sync_time(u, now_ns);
    size_t room = uart_rx_space(u);
    size_t k = n < room ? n : room;
    for (size_t i = 0; i < k; i++)
        rx_push(u, buf[i], 0, now_ns);
    update_irq(u);
    return k;
}

bool uart_rx_break(struct uart *u, uint64_t now_ns)
{
    sync_time(u, now_ns);
    bool ok = uart_rx_space(u) > 0;
    if (ok)
        rx_push(u, 0, UART_LSR_BI | UART_LSR_FE, now_ns);
    update_irq(u);
    return ok;
}

void uart_set_modem_inputs(struct uart *u, uint8_t lines, uint64_t now_ns)
{
    sync_time(u, now_ns);
    u->modem_in = lines & 0xf0;
    update_msr(u);
    update_irq(u);
}

void uart_tick(struct uart *u, uint64_t now_ns)
{
    sync_time(u, now_ns);
    update_irq(u);
}

/* The timeout only matters when latching it raises the IRQ line: receive
 * interrupts enabled, the line not gated off and not already high. */
uint64_t uart_next_event_ns(const struct uart *u, uint64_t now_ns)
{
    if (!cti_armed(u) || !(u->ier & UART_IER_ERBFI) || !(u->mcr & UART_MCR_OUT2) ||
        (u->mcr & UART_MCR_LOOP) || u->irq_out)
        return TIME_NEVER;
    uint64_t t = cti_deadline(u);
    return t < now_ns ? now_ns : t;
}

bool uart_irq_level(const struct uart *u)
{
    return u->irq_out;
}

/* ---- save/restore ------------------------------------------------------ */

/* The RX FIFO on the wire: u8 count, then (data, error bits) per entry,
 * oldest first, so the blob does not depend on rx_head. Loading puts the
 * oldest entry at index 0 and zeroes the rest. */
static void rx_fifo_put(struct sv *s, const void *obj)
{
    const struct uart *u = obj;
    sv_put_u8(s, u->rx_count);
    for (unsigned i = 0; i < u->rx_count; i++) {
        unsigned k = (u->rx_head + i) % UART_FIFO_SIZE;
        sv_put_u8(s, u->rx_data[k]);
        sv_put_u8(s, u->rx_err[k]);
    }
}

static void rx_fifo_load(struct sv *s, void *obj)
{
    struct uart *u = obj;
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        u->rx_data[i] = u->rx_err[i] = 0;
    u->rx_head = 0;
    uint8_t count = sv_get_u8(s);
    if (count > UART_FIFO_SIZE)
        s->err = true;
    for (unsigned i = 0; i < count && !s->err; i++) {
        u->rx_data[i] = sv_get_u8(s);
        u->rx_err[i] = sv_get_u8(s);
    }
    u->rx_count = s->err ? 0 : count;
}

/* Values no sequence of register accesses can produce are corruption. */
static bool state_valid(const void *obj)
{
    const struct uart *t = obj;
    if ((t->ier & 0xf0) || (t->mcr & 0xe0) || (t->fcr & ~FCR_KEPT))
        return false;
    if ((t->lsr_err & ~LSR_ERR_BITS) || (t->modem_in & 0x0f))
        return false;
    if ((t->msr & 0xf0) != modem_lines(t->mcr, t->modem_in))
        return false;
    if (t->rx_count > rx_capacity(t) || (t->cti && !fifo_on(t)) || (t->cti && !t->rx_count))
        return false;
    for (unsigned i = 0; i < t->rx_count; i++)
        if (t->rx_err[i] & ~RX_ERR_BITS)
            return false;
    return t->irq_out == irq_level(t);
}

/* Every state field, none of the wiring. */

static const struct sv_field uart_fields[] = {
    SV_U8(struct uart, ier),
    SV_U8(struct uart, lcr),
    SV_U8(struct uart, mcr),
    SV_U8(struct uart, scr),
    SV_U8(struct uart, dll),
    SV_U8(struct uart, dlm),
    SV_U8(struct uart, fcr),
    SV_U8(struct uart, lsr_err),
    SV_U8(struct uart, msr),
    SV_U8(struct uart, modem_in),
    SV_U8(struct uart, rbr_last),
    SV_BOOL(struct uart, thre_ip),
    SV_BOOL(struct uart, cti),
    SV_BOOL(struct uart, irq_out),
    SV_U64(struct uart, rx_activity_ns),
    SV_CODEC("rx_fifo", rx_fifo_put, rx_fifo_load),
    /* what the FIFO holds, oldest first (compared and reported only) */
    SV_VIEW_U8(struct uart, rx_count),
    SV_VIEW_U8_ARRAY(struct uart, rx_data),
    SV_VIEW_U8_ARRAY(struct uart, rx_err),
};

const struct sv_desc uart_sv_desc = {
    .name = "com1",
    .tag = UART_SV_TAG,
    .version = UART_STATE_VERSION,
    .min_version = 1,
    .fields = uart_fields,
    .nfields = SV_NFIELDS(uart_fields),
    .valid = state_valid,
};

void uart_save(const struct uart *u, struct sv *s)
{
    sv_save(s, &uart_sv_desc, u);
}

int uart_restore(struct uart *u, struct sv *s)
{
    struct uart t = *u; /* the wiring comes along unchanged */
    if (!sv_load(s, &uart_sv_desc, &t))
        return -1;
    *u = t;
    return 0;
}
