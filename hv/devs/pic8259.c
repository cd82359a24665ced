/* STUB: replaced by the real model. */
#include "hv/devs/pic8259.h"

void pic_init(struct pic_pair *p, const struct irq_sink *intr_out)
{
    *p = (struct pic_pair){0};
    if (intr_out)
        p->intr_out = *intr_out;
}
void pic_reset(struct pic_pair *p) { (void)p; }
int pic_io(void *pic, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    (void)pic; (void)port; (void)size; (void)now_ns;
    if (!write)
        *val = 0;
    return DEV_IO_OK;
}
void pic_set_irq(struct pic_pair *p, unsigned irq, bool level) { (void)p; (void)irq; (void)level; }
bool pic_intr(const struct pic_pair *p) { return p->intr; }
uint8_t pic_ack(struct pic_pair *p) { (void)p; return 0x0f; }
void pic_save(const struct pic_pair *p, struct sv *s) { (void)p; sv_begin(s, SV_TAG('P','I','C','2'), 1); sv_end(s); }
int pic_restore(struct pic_pair *p, struct sv *s) { (void)p; sv_open(s, SV_TAG('P','I','C','2'), 1); sv_close(s); return s->err ? -1 : 0; }
