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

static const struct sv_field debugport_fields[] = {
    SV_U8(struct debugport, last),
    SV_U64(struct debugport, writes),
};

const struct sv_desc debugport_sv_desc = {
    .name = "post",
    .tag = DEBUGPORT_TAG,
    .version = DEBUGPORT_VERSION,
    .min_version = 1,
    .fields = debugport_fields,
    .nfields = SV_NFIELDS(debugport_fields),
};

void debugport_save(const struct debugport *d, struct sv *s)
{
    sv_save(s, &debugport_sv_desc, d);
}

int debugport_restore(struct debugport *d, struct sv *s)
{
    struct debugport t = *d;
    if (!sv_load(s, &debugport_sv_desc, &t))
        return -1;
    *d = t;
    return 0;
}
