/* PCI configuration mechanism #1: CONFIG_ADDRESS at 0xcf8 (dword), data at
 * 0xcfc-0xcff (byte/word/dword). One host bridge at 00:00.0; every other
 * function reads as 0xffffffff. Port 0xcf9 (byte) is the reset control
 * register: writing bit 2 with bit 1 requests a reset. */
#ifndef HVRR_PCI_CAM_H
#define HVRR_PCI_CAM_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

struct pci_cam {
    uint32_t addr;          /* CONFIG_ADDRESS */
    uint8_t hb_cfg[256];    /* host bridge configuration space */
    uint8_t rcr;            /* 0xcf9 */
    struct dev_request_sink req; /* wiring */
};

void pci_init(struct pci_cam *p, const struct dev_request_sink *req);
void pci_reset(struct pci_cam *p);
int pci_io(void *pci, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
void pci_save(const struct pci_cam *p, struct sv *s);
int pci_restore(struct pci_cam *p, struct sv *s);

#endif
