/* PCI configuration mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2) and the
 * PIIX-style reset control register.
 *
 *   0xcf8  CONFIG_ADDRESS, dword access only: bit 31 enable, 23:16 bus,
 *          15:11 device, 10:8 function, 7:2 register. Reserved bits 30:24 and
 *          1:0 read back as 0. Byte/word accesses to 0xcf8/0xcfa/0xcfb are not
 *          claimed (as on a PIIX: plain I/O cycles nobody decodes): reads give
 *          all-ones, writes are ignored.
 *   0xcf9  reset control register (byte only): bits 1 (SYS_RST) and 2
 *          (RST_CPU) hold what was written; a write with bit 2 set requests
 *          DEV_REQ_RESET. Wider accesses are DEV_IO_BADSIZE.
 *   0xcfc-0xcff  CONFIG_DATA: byte/word/dword at register (addr & 0xfc) +
 *          (port & 3); an access crossing the dword is DEV_IO_BADSIZE.
 *
 * One device: an Intel 440FX host bridge at 00:00.0 (8086:1237, rev 02,
 * class 06/00/00, header type 0, single function). Command holds the bits the
 * 82441FX implements (PERR# and SERR# enables writable, memory and bus-master
 * hard-wired on); status is 0x0280 and its error bits (write-1-to-clear)
 * never get set. Every other register reads 0 and ignores writes. Any other
 * bus/device/function, or CONFIG_DATA with bit 31 clear, reads all-ones and
 * ignores writes (master abort).
 */
#ifndef HVRR_PCI_CAM_H
#define HVRR_PCI_CAM_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define PCI_CAM_ADDR_PORT 0xcf8
#define PCI_CAM_RCR_PORT  0xcf9
#define PCI_CAM_DATA_PORT 0xcfc

#define PCI_CAM_ADDR_MASK 0x80fffffcu /* CONFIG_ADDRESS bits that hold a value */
#define PCI_CAM_ENABLE    0x80000000u

#define PCI_HB_VENDOR    0x8086
#define PCI_HB_DEVICE    0x1237
#define PCI_HB_REVISION  0x02
#define PCI_HB_CMD_FIXED 0x0006 /* memory space + bus master, hard-wired */
#define PCI_HB_CMD_WMASK 0x0140 /* PERR# response, SERR# enable */
#define PCI_HB_STATUS    0x0280 /* fast back-to-back capable, DEVSEL medium */
#define PCI_RCR_WMASK    0x06
#define PCI_RCR_RST_CPU  0x04

struct pci_cam {
    uint32_t addr;               /* CONFIG_ADDRESS (reserved bits already 0) */
    uint8_t hb_cfg[256];         /* host bridge configuration space as read */
    uint8_t rcr;                 /* 0xcf9 */
    struct dev_request_sink req; /* wiring */
};

/* Initialises and resets (pci_reset). */
void pci_init(struct pci_cam *p, const struct dev_request_sink *req);
/* Platform reset: CONFIG_ADDRESS 0, RCR 0, host bridge command at default. */
void pci_reset(struct pci_cam *p);
int pci_io(void *pci, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
/* Configuration read as a CONFIG_DATA access would see it (size 1/2/4,
 * reg aligned to size); all-ones for absent functions. */
uint32_t pci_cfg_read(const struct pci_cam *p, unsigned bus, unsigned dev, unsigned fn,
                      unsigned reg, unsigned size);
/* Section 'PCI1' (savestate.h field table). */
extern const struct sv_desc pci_sv_desc;
void pci_save(const struct pci_cam *p, struct sv *s);
/* 0, or -1 with *p untouched when the section is missing, malformed, newer,
 * or holds values the hardware cannot (reserved address bits, RCR bits,
 * hard-wired command bits). */
int pci_restore(struct pci_cam *p, struct sv *s);

#endif
