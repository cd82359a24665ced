/* isa-debug-exit (debugexit.h). */
#include "hv/devs/debugexit.h"

#define DEBUGEXIT_TAG     SV_TAG('D', 'B', 'G', 'X')
#define DEBUGEXIT_VERSION 1

void debugexit_init(struct debugexit *d, const struct dev_request_sink *req)
{
    d->value = 0;
    d->size = 0;
    d->writes = 0;
    d->req = req ? *req : (struct dev_request_sink){0};
}

int debugexit_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val,
                 uint64_t now_ns)
{
    struct debugexit *d = dev;
    (void)now_ns;
    if (port < DEBUGEXIT_PORT || port >= DEBUGEXIT_PORT + DEBUGEXIT_LEN || !write)
        return DEV_IO_UNMAPPED;
    if (size != 1 && size != 2 && size != 4)
        return DEV_IO_BADSIZE;
    d->value = *val & dev_size_mask(size);
    d->size = (uint8_t)size;
    d->writes++;
    dev_request(&d->req, DEV_REQ_EXIT);
    return DEV_IO_OK;
}

static bool debugexit_valid(const void *obj)
{
    const struct debugexit *d = obj;
    bool sized = d->size == 1 || d->size == 2 || d->size == 4;
    if (!d->writes)
        return d->size == 0 && d->value == 0;
    return sized && (d->value & ~dev_size_mask(d->size)) == 0;
}

static const struct sv_field debugexit_fields[] = {
    SV_U32(struct debugexit, value),
    SV_U8(struct debugexit, size),
    SV_U32(struct debugexit, writes),
};

const struct sv_desc debugexit_sv_desc = {
    .name = "debug-exit",
    .tag = DEBUGEXIT_TAG,
    .version = DEBUGEXIT_VERSION,
    .min_version = 1,
    .fields = debugexit_fields,
    .nfields = SV_NFIELDS(debugexit_fields),
    .valid = debugexit_valid,
};
