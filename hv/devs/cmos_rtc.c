/* STUB: replaced by the real model. */
#include "hv/devs/cmos_rtc.h"

void cmos_init(struct cmos_rtc *c, const struct irq_sink *irq, unsigned irq_line, uint64_t epoch_sec)
{
    (void)epoch_sec;
    *c = (struct cmos_rtc){.irq_line = irq_line};
    if (irq)
        c->irq = *irq;
}
void cmos_reset(struct cmos_rtc *c, uint64_t now_ns) { (void)c; (void)now_ns; }
void cmos_set_byte(struct cmos_rtc *c, uint8_t index, uint8_t val) { c->ram[index & 0x7f] = val; }
int cmos_io(void *cmos, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct cmos_rtc *c = cmos;
    (void)size; (void)now_ns;
    if (port == 0x70) {
        if (write)
            c->index = (uint8_t)*val;
        else
            *val = 0xff;
    } else if (write) {
        c->ram[c->index & 0x7f] = (uint8_t)*val;
    } else {
        *val = c->ram[c->index & 0x7f];
    }
    return DEV_IO_OK;
}
void cmos_tick(struct cmos_rtc *c, uint64_t now_ns) { (void)c; (void)now_ns; }
uint64_t cmos_next_event_ns(const struct cmos_rtc *c, uint64_t now_ns) { (void)c; (void)now_ns; return TIME_NEVER; }
void cmos_save(const struct cmos_rtc *c, struct sv *s) { sv_begin(s, SV_TAG('C','M','O','S'), 1); sv_put_u8(s, c->index); sv_put_bytes(s, c->ram, 128); sv_end(s); }
int cmos_restore(struct cmos_rtc *c, struct sv *s) { sv_open(s, SV_TAG('C','M','O','S'), 1); c->index = sv_get_u8(s); sv_get_bytes(s, c->ram, 128); sv_close(s); return s->err ? -1 : 0; }
