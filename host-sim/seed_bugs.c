/* Seeded device-model bugs for the replay tests (seed_bugs.h). */
#include "host-sim/seed_bugs.h"

#include <string.h>

static int pic_eoi_bug(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                       uint64_t now_ns)
{
    if (write && port == 0x20 && (*val & 0xff) == 0x60)
        return DEV_IO_OK; /* specific EOI for IR0 lost */
    return pic_io(dev, port, size, write, val, now_ns);
}

static int pit_bcd_bug(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                       uint64_t now_ns)
{
    if (write && port == 0x43 && (*val & 0xc0) != 0xc0) {
        uint32_t v = *val | 1; /* BCD counting */
        return pit_io(dev, port, size, write, &v, now_ns);
    }
    return pit_io(dev, port, size, write, val, now_ns);
}

static int uart_thre_bug(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                         uint64_t now_ns)
{
    struct uart *u = dev;
    if (write && (port & 7) == UART_IER && !(u->lcr & UART_LCR_DLAB)) {
        uint32_t v = *val & ~(uint32_t)UART_IER_ETBEI;
        return uart_io(dev, port, size, write, &v, now_ns);
    }
    return uart_io(dev, port, size, write, val, now_ns);
}

enum seed_bug seed_bug_by_name(const char *name)
{
    if (!strcmp(name, "pic_eoi"))
        return SEED_BUG_PIC_EOI;
    if (!strcmp(name, "pit_bcd"))
        return SEED_BUG_PIT_BCD;
    if (!strcmp(name, "uart_thre"))
        return SEED_BUG_UART_THRE;
    return SEED_BUG_NONE;
}

static void wrap(struct vm_devices *d, const char *range, dev_io_fn fn)
{
    for (unsigned i = 0; i < d->bus.n; i++)
        if (!strcmp(d->bus.r[i].name, range))
            d->bus.r[i].fn = fn;
}

void seed_bug_patch(struct vm_devices *d, void *ctx)
{
    switch (*(const enum seed_bug *)ctx) {
    case SEED_BUG_PIC_EOI: wrap(d, "pic-master", pic_eoi_bug); break;
    case SEED_BUG_PIT_BCD: wrap(d, "pit", pit_bcd_bug); break;
    case SEED_BUG_UART_THRE: wrap(d, "com1", uart_thre_bug); break;
    default: break;
    }
}
