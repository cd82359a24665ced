/* The i8042 keyboard controller through the hypervisor, then the reset it
 * is used for: self-test (0x55, system flag), status bit 3 (last write to
 * the command port), the controller command byte (0x20/0x60) and the IRQ1 /
 * IRQ12 enables seen at the PIC, bytes placed in the output buffer as from
 * the keyboard (0xD2) or the AUX device (0xD3, status bit 5), the AUX write
 * without a mouse (0xD4: 0xFE with the timeout bit), the output port (0xD0),
 * 0xFF (pulses nothing), and finally 0xFE: the CPU reset line pulses and the
 * VM ends with reason "reset". Also PCI mechanism #1 (CONFIG_ADDRESS
 * read-back, address bits 1-0, the enable bit, byte access, the command
 * register's writable bits, an absent device) and 0xCF9 without RST_CPU.
 * Also bus decode at the edges: ports 0x22,
 * 0x44, 0x72, 0x400 and 0x4d2 are nobody's (all ones), port 0x80 answers
 * bytes only. */
#include "guest.h"

/* PCI mechanism #1 and the reset control register at 0xCF9. */
static void test_pci(void)
{
    outl(0xcf8, 0xff000003);
    check_eq("pci CONFIG_ADDRESS reads back without bits 30-24 and 1-0", inl(0xcf8), 0x80000000);
    check_eq("pci 00:00.0 vendor/device: 440FX", inl(0xcfc), 0x12378086);
    outl(0xcf8, 0x80000002);
    check_eq("pci address bits 1-0 do not move the register", inl(0xcfc), 0x12378086);
    check_eq("pci byte 2 of register 0 through port 0xcfe", inb(0xcfe), 0x37);
    outl(0xcf8, 0x00000000);
    check_eq("pci enable bit clear: no configuration cycle", inl(0xcfc), 0xffffffff);
    outl(0xcf8, 0x80000004);
    outb(0xcfd, 0xff); /* command high byte: only SERR# (bit 8) is writable */
    outb(0xcfc, 0xff); /* low byte: PERR# (bit 6); memory, bus master fixed */
    uint16_t w;
    __asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"((uint16_t)0xcfc));
    check_eq("pci command register: 0x0006 fixed, PERR# and SERR# written", w, 0x0146);
    outl(0xcf8, 0x80000100); /* device 1: absent */
    check_eq("pci absent device reads all ones", inl(0xcfc), 0xffffffff);
    outb(0xcf9, 0x02); /* SYS_RST without RST_CPU: no reset */
    check_eq("pci reset control 0x02 kept, no reset", inb(0xcf9), 0x02);
    outb(0xcf9, 0x00);
}

static uint8_t status(void)
{
    return inb(0x64);
}

static void cmd(uint8_t c)
{
    outb(0x64, c);
}

static uint8_t irr(void)
{
    outb(0x20, 0x0a);
    return inb(0x20);
}

static uint8_t irr2(void)
{
    outb(0xa0, 0x0a);
    return inb(0xa0);
}

void guest_main(void)
{
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0xa0, 0x11);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    cmd(0x60);
    outb(0x60, 0x00); /* command byte bit 2 = 0: the system flag follows */
    check_eq("kbc system flag clear with command byte bit 2 clear", status() & 0x04, 0x00);
    cmd(0xaa);
    check_eq("kbc self-test: command flag and output buffer full", status() & 0x09, 0x09);
    check_eq("kbc self-test answers 0x55", inb(0x60), 0x55);
    check_eq("kbc self-test sets the system flag, buffer empty", status() & 0x07, 0x04);

    cmd(0x60);
    outb(0x60, 0x04); /* interrupts off, system flag */
    check_eq("kbc data write clears the command flag", status() & 0x08, 0x00);
    cmd(0x20);
    check_eq("kbc command byte reads back", inb(0x60), 0x04);
    cmd(0xd2);
    outb(0x60, 0x11);
    check_eq("kbc 0xD2 keyboard byte: OBF, not AUX", status() & 0x21, 0x01);
    check_eq("kbc no IRQ1 with the keyboard interrupt off", irr() & 0x02, 0);
    check_eq("kbc 0xD2 byte read back", inb(0x60), 0x11);

    cmd(0x60);
    outb(0x60, 0x01); /* keyboard interrupt only */
    cmd(0xd3);
    outb(0x60, 0x22);
    check_eq("kbc 0xD3 AUX byte: OBF and AUX", status() & 0x21, 0x21);
    check_eq("kbc no IRQ12 with only the keyboard interrupt on", irr2() & 0x10, 0);
    check_eq("kbc AUX byte read back", inb(0x60), 0x22);
    check_eq("kbc read empties OBF and AUX", status() & 0x21, 0x00);
    cmd(0xd2);
    outb(0x60, 0x33);
    check_eq("kbc IRQ1 with the keyboard interrupt on", irr() & 0x02, 0x02);
    (void)inb(0x60);
    check_eq("kbc IRQ1 drops when the byte is read", irr() & 0x02, 0x00);

    cmd(0x60);
    outb(0x60, 0x02); /* AUX interrupt only */
    cmd(0xd3);
    outb(0x60, 0x44);
    check_eq("kbc IRQ12 with the AUX interrupt on", irr2() & 0x10, 0x10);
    (void)inb(0x60);
    cmd(0xd4);
    outb(0x60, 0xf4); /* to the mouse: there is none */
    check_eq("kbc 0xD4 without a mouse: timeout, AUX, OBF", status() & 0x61, 0x61);
    check_eq("kbc 0xD4 answer 0xFE", inb(0x60), 0xfe);

    cmd(0xd0);
    check_eq("kbc output port: reset line high (bit 0)", inb(0x60) & 0x01, 0x01);
    cmd(0xff); /* pulses no output port bit */
    cmd(0xd0);
    check_eq("kbc 0xFF pulses nothing: still running, reset line high", inb(0x60) & 0x01, 0x01);

    check_eq("bus: port 0x22 is nobody's (all ones)", inb(0x22), 0xff);
    check_eq("bus: port 0x44 is nobody's (all ones)", inb(0x44), 0xff);
    check_eq("bus: port 0x400 (after COM1's eight) is nobody's", inb(0x400), 0xff);
    check_eq("bus: port 0x72 (after the CMOS pair) is nobody's", inb(0x72), 0xff);
    check_eq("bus: port 0x4d2 (after the ELCR pair) is nobody's", inb(0x4d2), 0xff);
    outb(0x80, 0x5a);
    check_eq("port 0x80 byte read", inb(0x80), 0x5a);
    uint16_t w;
    __asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"((uint16_t)0x80));
    check_eq("port 0x80 word read is not claimed (all ones)", w, 0xffff);

    test_pci();
    puts_("PASS kbc pulsing the reset line (0xFE): the VM must end by reset\n");
    cmd(0xfe);
    for (;;)
        __asm__ volatile("hlt");
}
