#include "hv/devs/iobus.h"

void iobus_init(struct iobus *bus)
{
    bus->n = 0;
    bus->unknown_reads = bus->unknown_writes = bus->bad_size = 0;
    for (unsigned p = 0; p < sizeof bus->low; p++)
        bus->low[p] = 0;
}

int iobus_register(struct iobus *bus, uint16_t base, uint16_t len, dev_io_fn fn, void *dev,
                   const char *name)
{
    if (len == 0 || (uint32_t)base + len > 0x10000u || !fn || bus->n >= IOBUS_MAX_RANGES)
        return -1;
    for (unsigned i = 0; i < bus->n; i++) {
        const struct iobus_range *r = &bus->r[i];
        if (base < r->base + r->len && r->base < base + len)
            return -1;
    }
    bus->r[bus->n++] = (struct iobus_range){base, len, fn, dev, name, -1};
    for (uint32_t p = base; p < (uint32_t)base + len && p < sizeof bus->low; p++)
        bus->low[p] = (uint8_t)bus->n;
    return 0;
}

const struct iobus_range *iobus_find(const struct iobus *bus, uint16_t port)
{
    if (port < sizeof bus->low)
        return bus->low[port] ? &bus->r[bus->low[port] - 1] : 0;
    for (unsigned i = 0; i < bus->n; i++) {
        const struct iobus_range *r = &bus->r[i];
        if (port >= r->base && port - r->base < r->len)
            return r;
    }
    return 0;
}

int iobus_access(struct iobus *bus, uint16_t port, unsigned size, bool write, uint32_t *val,
                 uint64_t now_ns)
{
    const struct iobus_range *r = (size == 1 || size == 2 || size == 4) ? iobus_find(bus, port) : 0;
    int rc = DEV_IO_UNMAPPED;
    if (r) {
        uint32_t v = write ? (*val & dev_size_mask(size)) : 0;
        rc = r->fn(r->dev, port, size, write, &v, now_ns);
        if (rc == DEV_IO_OK) {
            if (!write)
                *val = v & dev_size_mask(size);
            return rc;
        }
        if (rc == DEV_IO_BADSIZE)
            bus->bad_size++;
    }
    if (write) {
        if (rc == DEV_IO_UNMAPPED)
            bus->unknown_writes++;
    } else {
        if (rc == DEV_IO_UNMAPPED)
            bus->unknown_reads++;
        *val = dev_size_mask(size ? size : 4);
    }
    return rc;
}
