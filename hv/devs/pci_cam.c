/* STUB: replaced by the real model. */
#include "hv/devs/pci_cam.h"

void pci_init(struct pci_cam *p, const struct dev_request_sink *req)
{
    *p = (struct pci_cam){0};
    if (req)
        p->req = *req;
}
void pci_reset(struct pci_cam *p) { p->addr = 0; }
int pci_io(void *pci, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    (void)pci; (void)port; (void)size; (void)now_ns;
    if (!write)
        *val = 0xffffffff;
    return DEV_IO_OK;
}
void pci_save(const struct pci_cam *p, struct sv *s) { sv_begin(s, SV_TAG('P','C','I','1'), 1); sv_put_u32(s, p->addr); sv_end(s); }
int pci_restore(struct pci_cam *p, struct sv *s) { sv_open(s, SV_TAG('P','C','I','1'), 1); p->addr = sv_get_u32(s); sv_close(s); return s->err ? -1 : 0; }
