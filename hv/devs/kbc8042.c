/* STUB: replaced by the real model. */
#include "hv/devs/kbc8042.h"

void kbc_init(struct kbc8042 *k, const struct irq_sink *irq, const struct dev_request_sink *req)
{
    *k = (struct kbc8042){0};
    if (irq) k->irq = *irq;
    if (req) k->req = *req;
}
void kbc_reset(struct kbc8042 *k) { k->status = 0; }
int kbc_io(void *kbc, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct kbc8042 *k = kbc;
    (void)size; (void)now_ns;
    if (write && port == 0x64 && (*val & 0xff) == 0xfe)
        dev_request(&k->req, DEV_REQ_RESET);
    if (!write)
        *val = port == 0x64 ? k->status : k->out;
    return DEV_IO_OK;
}
void kbc_save(const struct kbc8042 *k, struct sv *s) { sv_begin(s, SV_TAG('K','B','C','0'), 1); sv_put_u8(s, k->status); sv_end(s); }
int kbc_restore(struct kbc8042 *k, struct sv *s) { sv_open(s, SV_TAG('K','B','C','0'), 1); k->status = sv_get_u8(s); sv_close(s); return s->err ? -1 : 0; }
