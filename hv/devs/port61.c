/* STUB: replaced by the real model. */
#include "hv/devs/port61.h"

void port61_init(struct port61 *p, struct pit *pit) { *p = (struct port61){.pit = pit}; }
void port61_reset(struct port61 *p, uint64_t now_ns) { (void)now_ns; p->reg = 0; }
int port61_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct port61 *p = dev;
    (void)port; (void)size; (void)now_ns;
    if (write)
        p->reg = (uint8_t)*val;
    else
        *val = p->reg;
    return DEV_IO_OK;
}
void port61_save(const struct port61 *p, struct sv *s) { sv_begin(s, SV_TAG('P','6','1','B'), 1); sv_put_u8(s, p->reg); sv_end(s); }
int port61_restore(struct port61 *p, struct sv *s) { sv_open(s, SV_TAG('P','6','1','B'), 1); p->reg = sv_get_u8(s); sv_close(s); return s->err ? -1 : 0; }
