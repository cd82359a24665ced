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

void port61_save(const struct port61 *p, struct sv *s)
{
    sv_begin(s, P61_TAG, PORT61_STATE_VERSION);
    sv_put_u8(s, p->reg);
    sv_end(s);
}

int port61_restore(struct port61 *p, struct sv *s)
{
    if (sv_open(s, P61_TAG, PORT61_STATE_VERSION) != PORT61_STATE_VERSION)
        s->err = true;
    uint8_t reg = sv_get_u8(s);
    if (reg & ~PORT61_RW_MASK)
        s->err = true;
    sv_close(s);
    if (s->err)
        return -1;
    p->reg = reg;
    return 0;
}
