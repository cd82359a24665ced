/* Port 0x80 (POST code / I/O delay): see debugport.h. */
#include "hv/devs/debugport.h"

#define DEBUGPORT_TAG     SV_TAG('P', 'O', 'S', 'T')
#define DEBUGPORT_VERSION 1

void debugport_init(struct debugport *d)
{
    d->last = 0;
    d->writes = 0;
}

int debugport_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                 uint64_t now_ns)
{
    struct debugport *d = dev;
    (void)now_ns;
    if (port != DEBUGPORT_PORT)
        return DEV_IO_UNMAPPED;
    if (size != 1 && size != 2 && size != 4)
        return DEV_IO_BADSIZE;
    if (write) {
        d->last = (uint8_t)*val;
        d->writes++;
        return DEV_IO_OK;
    }
    if (size != 1)
        return DEV_IO_BADSIZE;
    *val = d->last;
    return DEV_IO_OK;
}

void debugport_save(const struct debugport *d, struct sv *s)
{
    sv_begin(s, DEBUGPORT_TAG, DEBUGPORT_VERSION);
    sv_put_u8(s, d->last);
    sv_put_u64(s, d->writes);
    sv_end(s);
}

int debugport_restore(struct debugport *d, struct sv *s)
{
    struct debugport tmp;
    sv_open(s, DEBUGPORT_TAG, DEBUGPORT_VERSION);
    tmp.last = sv_get_u8(s);
    tmp.writes = sv_get_u64(s);
    sv_close(s);
    if (s->err)
        return -1;
    *d = tmp;
    return 0;
}
