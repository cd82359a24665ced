/* PCI configuration mechanism #1 with one 440FX host bridge: see pci_cam.h. */
#include "hv/devs/pci_cam.h"

#define PCI_TAG     SV_TAG('P', 'C', 'I', '1')
#define PCI_VERSION 1

static void put16(uint8_t *cfg, unsigned off, uint16_t v)
{
    cfg[off] = (uint8_t)v;
    cfg[off + 1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *cfg, unsigned off)
{
    return (uint16_t)(cfg[off] | (cfg[off + 1] << 8));
}

/* Configuration space as it is after a reset, except the command register
 * which the caller sets. */
static void hb_build(uint8_t *cfg, uint16_t command)
{
    for (unsigned i = 0; i < 256; i++)
        cfg[i] = 0;
    put16(cfg, 0x00, PCI_HB_VENDOR);
    put16(cfg, 0x02, PCI_HB_DEVICE);
    put16(cfg, 0x04, command);
    put16(cfg, 0x06, PCI_HB_STATUS);
    cfg[0x08] = PCI_HB_REVISION;
    cfg[0x09] = 0x00; /* programming interface */
    cfg[0x0a] = 0x00; /* subclass: host bridge */
    cfg[0x0b] = 0x06; /* base class: bridge */
    cfg[0x0e] = 0x00; /* header type 0, single function */
}

void pci_init(struct pci_cam *p, const struct dev_request_sink *req)
{
    p->req = req ? *req : (struct dev_request_sink){0};
    pci_reset(p);
}

void pci_reset(struct pci_cam *p)
{
    p->addr = 0;
    p->rcr = 0;
    hb_build(p->hb_cfg, PCI_HB_CMD_FIXED);
}

static bool is_host_bridge(unsigned bus, unsigned dev, unsigned fn)
{
    return bus == 0 && dev == 0 && fn == 0;
}

uint32_t pci_cfg_read(const struct pci_cam *p, unsigned bus, unsigned dev, unsigned fn,
                      unsigned reg, unsigned size)
{
    if (!is_host_bridge(bus, dev, fn) || reg > 255 || reg + size > 256)
        return dev_size_mask(size);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)p->hb_cfg[reg + i] << (8 * i);
    return v;
}

/* One byte of a host bridge configuration write. Only the command register
 * holds writable bits; the status error bits are write-1-to-clear and never
 * set, so writing them changes nothing. */
static void hb_write_byte(struct pci_cam *p, unsigned off, uint8_t b)
{
    if (off == 0x04 || off == 0x05) {
        uint16_t cmd = get16(p->hb_cfg, 0x04);
        unsigned sh = 8 * (off - 0x04);
        uint16_t mask = (uint16_t)((PCI_HB_CMD_WMASK >> sh) & 0xff) << sh;
        cmd = (uint16_t)((cmd & ~mask) | (((uint16_t)b << sh) & mask));
        put16(p->hb_cfg, 0x04, cmd);
    }
}

static int data_io(struct pci_cam *p, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    unsigned byte = port & 3u;
    if (byte + size > 4)
        return DEV_IO_BADSIZE;
    uint32_t a = p->addr;
    unsigned bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
    unsigned reg = (a & 0xfc) + byte;
    bool present = (a & PCI_CAM_ENABLE) && is_host_bridge(bus, dev, fn);
    if (!write) {
        *val = present ? pci_cfg_read(p, bus, dev, fn, reg, size) : dev_size_mask(size);
        return DEV_IO_OK;
    }
    if (present)
        for (unsigned i = 0; i < size; i++)
            hb_write_byte(p, reg + i, (uint8_t)(*val >> (8 * i)));
    return DEV_IO_OK;
}

int pci_io(void *pci, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct pci_cam *p = pci;
    (void)now_ns;
    if (size != 1 && size != 2 && size != 4)
        return DEV_IO_BADSIZE;
    if (port >= PCI_CAM_DATA_PORT && port <= PCI_CAM_DATA_PORT + 3)
        return data_io(p, port, size, write, val);
    if (port == PCI_CAM_RCR_PORT && size == 1) {
        if (!write) {
            *val = p->rcr;
            return DEV_IO_OK;
        }
        p->rcr = (uint8_t)(*val & PCI_RCR_WMASK);
        if (*val & PCI_RCR_RST_CPU)
            dev_request(&p->req, DEV_REQ_RESET);
        return DEV_IO_OK;
    }
    if (port == PCI_CAM_RCR_PORT)
        return DEV_IO_BADSIZE;
    if (port == PCI_CAM_ADDR_PORT && size == 4) {
        if (write)
            p->addr = *val & PCI_CAM_ADDR_MASK;
        else
            *val = p->addr;
        return DEV_IO_OK;
    }
    if (port >= PCI_CAM_ADDR_PORT && port <= PCI_CAM_ADDR_PORT + 3) {
        /* Non-dword access to 0xcf8/0xcfa/0xcfb: not claimed, master abort. */
        if (!write)
            *val = dev_size_mask(size);
        return DEV_IO_OK;
    }
    return DEV_IO_UNMAPPED;
}

/* The host bridge's configuration space is fixed but for its command
 * register: the blob holds that register only. */
static uint64_t hb_command_get(const void *obj)
{
    const struct pci_cam *p = obj;
    return get16(p->hb_cfg, 0x04);
}

static void hb_command_set(void *obj, uint64_t v)
{
    struct pci_cam *p = obj;
    hb_build(p->hb_cfg, (uint16_t)v);
}

static bool pci_valid(const void *obj)
{
    const struct pci_cam *p = obj;
    uint16_t cmd = get16(p->hb_cfg, 0x04);
    return !(p->addr & ~PCI_CAM_ADDR_MASK) && !(p->rcr & ~PCI_RCR_WMASK) &&
           (cmd & ~PCI_HB_CMD_WMASK) == PCI_HB_CMD_FIXED;
}

static const struct sv_field pci_fields[] = {
    SV_U32(struct pci_cam, addr),
    SV_U8(struct pci_cam, rcr),
    SV_ACCESSOR("hb_command", 2, hb_command_get, hb_command_set),
};

const struct sv_desc pci_sv_desc = {
    .name = "pci",
    .tag = PCI_TAG,
    .version = PCI_VERSION,
    .min_version = 1,
    .fields = pci_fields,
    .nfields = SV_NFIELDS(pci_fields),
    .valid = pci_valid,
};

void pci_save(const struct pci_cam *p, struct sv *s)
{
    sv_save(s, &pci_sv_desc, p);
}

int pci_restore(struct pci_cam *p, struct sv *s)
{
    struct pci_cam t = *p;
    if (!sv_load(s, &pci_sv_desc, &t))
        return -1;
    *p = t;
    return 0;
}
