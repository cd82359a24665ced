/* The trace's legacy-device traffic as a QEMU qtest script (`hvrr export
 * --qtest`, `hvrr crosscheck`; docs/crosscheck.md).
 *
 * Every port access to a device QEMU's pc machine also has (8259A pair with
 * ELCR, 8254 + port 0x61, COM1 16550A, CMOS/RTC, PCI type-1 config ports,
 * i8042) becomes one command, in trace order; IRQ line changes of ISA lines
 * 0-15 become `set_irq_in` on the PIC inputs (QEMU's PIC is driven with the
 * line levels hvrr's devices produced, so it is checked on its own); every
 * injected PIC vector becomes a poll-mode acknowledge (OCW3 poll command and
 * a read, of the slave too for a slave vector). Other ports (POST 0x80,
 * debug ports, ACPI, reset-triggering writes) are left out and counted. */
#ifndef HVRR_QTEST_SCRIPT_H
#define HVRR_QTEST_SCRIPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum qop_kind { QOP_OUT = 1, QOP_IN, QOP_IRQ, QOP_ACK };

struct qop {
    enum qop_kind kind;
    uint64_t exit_seq; /* exit number (IRQ/ACK: the last exit before it) */
    uint64_t tsc;
    uint16_t port;
    uint8_t size;
    uint32_t value; /* OUT: written; IN: the trace's value; IRQ: line; ACK: vector */
    bool level;     /* IRQ */
    /* state at the time, for naming and classification */
    uint8_t cmos_index;
    bool uart_dlab;
    uint8_t pic_ocw3[2]; /* last OCW3 read-register select per PIC */
    uint8_t pic_base[2]; /* ICW2 vector base per PIC */
    int withdrawn;       /* spurious IRQ7/15 ACK: the withdrawn line QEMU still latched, else -1 */
    bool after_break;    /* UART RBR read after an LSR read that showed BI */
    uint8_t withdrawn_irr; /* PIC read: edge requests the trace withdrew unacknowledged */
    unsigned ncmds;        /* qtest commands this op produced */
};

struct qscript {
    struct qop *ops;
    size_t n, cap;
    uint64_t tsc_hz;
    uint64_t skipped_ports; /* port exits to devices QEMU does not share, or unsafe */
    uint64_t skipped_irqs;  /* IRQ changes on lines >= 16 */
    uint64_t skipped_acks;  /* vectors outside both PICs' ranges (APIC) */
    uint64_t uart_rx;       /* host input bytes the script cannot feed */
    bool oom;
    /* tracking */
    uint8_t cmos_index, ocw3[2], base[2], icw_step[2];
    bool dlab, after_d1, uart_break;
    uint16_t level, latched; /* trace line levels; edges not yet acknowledged */
    uint64_t last_seq, last_tsc;
};

struct trace_item;
/* Adds one trace item; returns 0, or -1 when out of memory. */
int qscript_add(struct qscript *s, const struct trace_item *it);
void qscript_free(struct qscript *s);
/* Writes the script. clock: `clock_step NS` before each op whose time moved
 * (needs QEMU's qtest accelerator). master/slave: the QOM paths of the two
 * i8259s. Returns 0, or -1 on a write error. */
int qscript_write(struct qscript *s, FILE *f, bool clock, const char *master, const char *slave);

/* "pic", "pit", ... for a port, NULL if the port is not in the script. */
const char *qscript_device(uint16_t port);
/* The register's name (PIC "IMR", CMOS "CMOS[0x0b]", UART "LSR", ...). */
void qscript_register(const struct qop *op, char *buf, size_t len);

#endif
