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

/* Not comparable (both modes): the 8254's mode, count and output are
 * undefined at power-on (8254 datasheet, "Programming the 8254"), and a
 * control word does not load the counting element: it holds a defined value
 * only once a count was loaded into it (modes 0, 2, 3, 4 on the next clock,
 * modes 1 and 5 at a gate trigger; channels 0 and 1 have their gates tied
 * high on the PC and never see one). Before that hvrr's reads 0 (its
 * power-on state), QEMU's counts from its reset (mode 3, count 65536) or
 * from the write (it loads a mode 1/5 count at once). Only hvrr's 0 is taken:
 * any other trace value there would be an hvrr bug, and is compared. */
bool xc_pit_undefined(const struct qop *op)
{
    return op->kind == QOP_IN && op->port >= 0x40 && op->port <= 0x42 && op->size == 1 &&
           !op->pit_status && op->pit_unloaded && op->value == 0;
}

/* An acknowledge of a level request hvrr's ICW1 LTIM took again (the LTIM
 * deviation: QEMU's i8259 ignores LTIM, its edge was consumed by the first
 * acknowledge). QEMU answers nothing, or the next request it has: one the
 * trace requests too (line high, unmasked, on that 8259A: ltim_other), or, with
 * its own devices driving its lines (--timed), IRQ4 from its 16550 while
 * the trace's 16550 has an interrupt enabled but MCR keeps it off the bus
 * (OUT2 clear or loopback: QEMU's drives IRQ4 whatever OUT2 says). */
bool xc_ltim_ack(const struct qop *op, int got, bool timed)
{
    if (op->kind != QOP_ACK || !(op->pic_flags & QPIC_LTIM))
        return false;
    if (got < 0)
        return true;
    if (got < 16 && ((op->ltim_other >> got) & 1))
        return true;
    return timed && got == 4 && op->irq4_gated;
}
