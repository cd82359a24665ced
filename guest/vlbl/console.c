/* vlbl console: polled output to the 16550A at 0x3f8 (COM1). */
#include <stdarg.h>

#include "guest/vlbl/vlbl.h"

#define COM1     0x3f8
#define LSR_THRE 0x20

/* With the FIFO on, THRE set means the whole 16-byte FIFO is free: poll
 * LSR once per 16 characters (fewer port exits under the hypervisor). */
static unsigned fifo_room;

void con_init(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB */
    outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFOs on and cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
    fifo_room = 0;
}

void con_putc(char c)
{
    if (fifo_room == 0) {
        /* Bounded wait: an absent UART reads all-ones (THRE set) anyway. */
        for (uint32_t i = 0; i < 1000000; i++)
            if (inb(COM1 + 5) & LSR_THRE)
                break;
        fifo_room = 16;
    }
    outb(COM1, (uint8_t)c);
    fifo_room--;
}

void con_puts(const char *s)
{
    while (*s) {
        if (*s == '\n')
            con_putc('\r');
        con_putc(*s++);
    }
}

static void put_num(uint64_t v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d;
        if (base == 16) {
            d = (unsigned)(v & 15);
            v >>= 4;
        } else { /* decimal: values fit 32 bits here */
            uint32_t w = (uint32_t)v;
            d = w % 10;
            v = w / 10;
        }
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    } while (v && n < (int)sizeof buf);
    while (n < width--)
        con_putc(pad);
    while (n)
        con_putc(buf[--n]);
}

static void con_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            if (*fmt == '\n')
                con_putc('\r');
            con_putc(*fmt);
            continue;
        }
        char pad = ' ';
        int width = 0, ll = 0;
        fmt++;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            ll++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            con_puts(s ? s : "(null)");
            break;
        }
        case 'c': con_putc((char)va_arg(ap, int)); break;
        case 'u': put_num(va_arg(ap, unsigned), 10, width, pad); break;
        case 'x':
            put_num(ll >= 2 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case '%': con_putc('%'); break;
        default: con_putc('?'); break;
        }
    }
}

void con_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
}

void vlbl_die(const char *fmt, ...)
{
    va_list ap;
    con_puts("vlbl: FATAL: ");
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
    con_puts("\nvlbl: halted\n");
    vlbl_halt();
}
