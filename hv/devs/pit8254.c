/* STUB: replaced by the real model. */
#include "hv/devs/pit8254.h"

void pit_init(struct pit *p, const struct irq_sink *irq, uint64_t now_ns)
{
    (void)now_ns;
    *p = (struct pit){0};
    if (irq)
        p->irq = *irq;
}
void pit_reset(struct pit *p, uint64_t now_ns) { (void)p; (void)now_ns; }
int pit_io(void *pit, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    (void)pit; (void)port; (void)size; (void)now_ns;
    if (!write)
        *val = 0;
    return DEV_IO_OK;
}
void pit_set_gate(struct pit *p, unsigned ch, bool level, uint64_t now_ns) { (void)p; (void)ch; (void)level; (void)now_ns; }
bool pit_get_gate(const struct pit *p, unsigned ch) { (void)p; (void)ch; return false; }
bool pit_out(const struct pit *p, unsigned ch, uint64_t now_ns) { (void)p; (void)ch; (void)now_ns; return false; }
void pit_tick(struct pit *p, uint64_t now_ns) { (void)p; (void)now_ns; }
uint64_t pit_next_event_ns(const struct pit *p, uint64_t now_ns) { (void)p; (void)now_ns; return TIME_NEVER; }
void pit_save(const struct pit *p, struct sv *s) { (void)p; sv_begin(s, SV_TAG('P','I','T','4'), 1); sv_end(s); }
int pit_restore(struct pit *p, struct sv *s) { (void)p; sv_open(s, SV_TAG('P','I','T','4'), 1); sv_close(s); return s->err ? -1 : 0; }
