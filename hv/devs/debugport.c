/* STUB: replaced by the real model. */
#include "hv/devs/debugport.h"

void debugport_init(struct debugport *d) { *d = (struct debugport){0}; }
int debugport_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct debugport *d = dev;
    (void)port; (void)size; (void)now_ns;
    if (write) { d->last = (uint8_t)*val; d->writes++; } else *val = d->last;
    return DEV_IO_OK;
}
void debugport_save(const struct debugport *d, struct sv *s) { sv_begin(s, SV_TAG('P','O','S','T'), 1); sv_put_u8(s, d->last); sv_put_u64(s, d->writes); sv_end(s); }
int debugport_restore(struct debugport *d, struct sv *s) { sv_open(s, SV_TAG('P','O','S','T'), 1); d->last = sv_get_u8(s); d->writes = sv_get_u64(s); sv_close(s); return s->err ? -1 : 0; }
