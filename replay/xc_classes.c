/* The platform classes of `hvrr crosscheck` (both modes; docs/crosscheck.md,
 * "Platform classes"): differences that are not model disagreements because
 * QEMU's pc machine has a device hvrr's platform has not (`absent`).
 * Each is decided from the trace alone (replay/qtest_script.c tracks what it
 * needs), never from QEMU's answer but for which bits differ. */
#include "replay/crosscheck.h"

static bool pci_data_port(uint16_t port)
{
    return port >= 0xcfc && port <= 0xcff;
}

const char *xc_absent(const struct qop *op, uint32_t diff)
{
    if (op->kind == QOP_IN && op->port == 0x60 && op->kbd_reply)
        return "i8042 data after a byte sent to the keyboard or mouse: hvrr's platform has "
               "neither (its controller answers 0xfe with the timeout bit); QEMU's i8042 always "
               "has a PS/2 keyboard and mouse, which answer (0xfa, IDs)";
    if (op->kind == QOP_IN && op->port == 0x64 && op->kbd_dev && (diff & 0x61) && !(diff & ~0x6du))
        return "i8042 status OBF/AUX/timeout bits after bytes sent to the keyboard or mouse: "
               "hvrr's controller sets the timeout bit (6) for the absent device and keeps it "
               "until its next output byte; QEMU's devices answer, so its OBF (0) and AUX (5) "
               "follow their bytes (bits 2-3: the i8042 status deviation)";
    if (op->kind == QOP_IN && pci_data_port(op->port) && (op->pci_addr & 0x80000000u) &&
        (op->pci_addr & 0x00ffff00u) &&
        op->value == (op->size == 4 ? 0xffffffffu : (1u << (8 * op->size)) - 1))
        return "PCI configuration read of a function hvrr's platform does not have (its only "
               "function is the host bridge at 00:00.0; it answers all-ones, a master abort); "
               "QEMU's pc machine has the PIIX3 functions at 00:01.x, which -M pc cannot remove";
    return NULL;
}
