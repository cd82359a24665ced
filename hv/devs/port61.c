/* Port 0x61 (PC/AT system control port B). */
#include "hv/devs/port61.h"

#define P61_TAG SV_TAG('P', '6', '1', 'B')

void port61_init(struct port61 *p, struct pit *pit)
{
    *p = (struct port61){.pit = pit};
}

void port61_reset(struct port61 *p, uint64_t now_ns)
{
    p->reg = 0;
    if (p->pit)
        pit_set_gate(p->pit, 2, false, now_ns);
}

int port61_io(void *dev, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct port61 *p = dev;
    if (size != 1)
        return DEV_IO_BADSIZE;
    if (port != 0x61)
        return DEV_IO_UNMAPPED;
    if (write) {
        p->reg = (uint8_t)(*val & PORT61_RW_MASK);
        if (p->pit)
            pit_set_gate(p->pit, 2, p->reg & 1, now_ns);
        return DEV_IO_OK;
    }
    uint32_t v = p->reg;
    /* Bit 4: DRAM refresh request toggle. On the AT it follows PIT channel
     * 1 (mode 2, count 18 = 15.085 us); here it is a pure function of
     * virtual time, so it flips whatever channel 1 is programmed to. */
    if ((now_ns / PORT61_REFRESH_NS) & 1)
        v |= 0x10;
    if (p->pit && pit_out(p->pit, 2, now_ns))
        v |= 0x20;
    *val = v;
    return DEV_IO_OK;
}

static bool port61_valid(const void *obj)
{
    const struct port61 *p = obj;
    return !(p->reg & ~PORT61_RW_MASK);
}

static const struct sv_field port61_fields[] = {
    SV_U8(struct port61, reg),
};

const struct sv_desc port61_sv_desc = {
    .name = "port61",
    .tag = P61_TAG,
    .version = PORT61_STATE_VERSION,
    .min_version = 1,
    .fields = port61_fields,
    .nfields = SV_NFIELDS(port61_fields),
    .valid = port61_valid,
};

void port61_save(const struct port61 *p, struct sv *s)
{
    sv_save(s, &port61_sv_desc, p);
}

int port61_restore(struct port61 *p, struct sv *s)
{
    struct port61 t = *p;
    if (!sv_load(s, &port61_sv_desc, &t))
        return -1;
    *p = t;
    return 0;
}
