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

/* hvrr's ACPI PM block (APIC platform; hv/devs/vm_devices.h): PM1_STS,
 * PM1_EN, PM1_CNT, PM_TMR at +0, +2, +4, +8 */
#define QS_ACPI_PM 0x600u

/* 8259A states where QEMU's i8259 is known to answer otherwise (qop.pic_flags) */
enum {
    QPIC_LTIM = 1,         /* ICW1 LTIM set on the PIC read: level mode on every input */
    QPIC_SMM_EOI = 2,      /* a non-specific EOI in special mask mode with lines masked */
    QPIC_RELATCH = 4,      /* ACK: the slave still requested at the previous slave ACK */
    QPIC_CW_EDGE = 8,      /* ACK of IRQ0 / master read with IRQ0's edge pending that a PIT
                            * control word alone made */
    QPIC_PIT_REWRITE = 16, /* ACK of IRQ0 with channel 0 given a new count in mode 2/3 */
};

/* Where a PIC is in its ICW sequence. */
struct icw_track {
    uint8_t icw1;
    int step; /* 0: OCW1 next; 2, 3, 4: that ICW next */
};

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
    uint8_t uart_lcr;
    uint8_t pic_ocw3[2]; /* last OCW3 read-register select per PIC */
    uint8_t pic_base[2]; /* ICW2 vector base per PIC */
    int withdrawn;       /* spurious IRQ7/15 ACK: the withdrawn line QEMU still latched, else -1 */
    bool after_break;    /* UART RBR read after an LSR read that showed BI */
    uint8_t withdrawn_irr; /* PIC read: edge requests the trace withdrew unacknowledged */
    uint8_t detached;      /* PIC IRR/IMR read: bits of QEMU's own devices' lines, not compared */
    uint8_t pic_flags;     /* PIC read/ACK: QPIC_* (known QEMU deviations in effect) */
    bool pit_status;       /* PIT data read that returns a read-back status byte */
    uint8_t pit_mode;      /* PIT read: that channel's mode; port 0x61 read: channel 2's */
    bool pit_cw_only;      /* ... whose control word came after its last complete count */
    bool pit_odd;          /* ... whose last count written is odd */
    bool pit_rewritten;    /* ... given a new count while counting (no control word between) */
    bool pit_bcd;          /* ... counting in BCD (control word bit 0) */
    uint16_t pit_count;    /* ... its last count written (0: 65536) */
    bool pit_half;         /* ... RW 3 and only the LSB of a new count written */
    bool pit_gate_low;     /* ... channel 2 with its gate (port 0x61 bit 0) low */
    bool rtc_set_seen;     /* CMOS C read: register B's SET was 1 since the last C read */
    bool rtc_phase_split;  /* CMOS time or C read: QEMU's second boundaries, moved by a time
                            * byte written while running, and hvrr's give different counts */
    uint8_t rx_mask;       /* UART read: bits that depend on host input QEMU is not fed
                            * (LSR DR, IIR id, RBR); ACK: nonzero while such input waits */
    bool kbc_outport;      /* i8042 data read answering 0xd0 (output port) */
    uint32_t pci_addr;     /* PCI read: the last CONFIG_ADDRESS written, as written */
    bool kbd_dev;          /* i8042 read: a byte was sent to the keyboard or mouse before */
    bool kbd_reply;        /* ... and no controller command since the last such byte */
    bool pit_unloaded;     /* PIT data read: the channel's counting element never loaded since
                            * power-on (modes 1/5 load only at a gate trigger) */
    uint16_t ltim_other;   /* ACK with QPIC_LTIM: the other IRs of that 8259A whose lines
                            * are high in the trace (LTIM: requests) and unmasked */
    bool irq4_gated;       /* ACK: the trace's 16550 has an interrupt enabled (IER) while
                            * MCR keeps it off IRQ4 (OUT2 clear or loopback) */
    unsigned ncmds;        /* qtest commands this op produced (answers to read) */
};

struct qscript {
    struct qop *ops;
    size_t n, cap;
    uint64_t tsc_hz;
    uint64_t skipped_ports; /* port exits to devices QEMU does not share, or unsafe */
    uint64_t skipped_wide;  /* accesses wider than hvrr's device takes (ignored by it) */
    uint64_t skipped_irqs;  /* IRQ changes on lines >= 16 */
    uint64_t skipped_acks;  /* vectors outside both PICs' ranges (APIC) */
    uint64_t uart_rx;       /* host input bytes the script cannot feed */
    uint64_t apic_acks;     /* APIC platform: PIC-range vectors of IRs the IMR masked */
    uint64_t apic_mmio;     /* APIC platform: local/I/O APIC MMIO accesses (not scripted) */
    bool apic;              /* the trace's platform has the APICs (header) */
    bool with_acpi;         /* set before reading: script hvrr's ACPI PM (--timed, apic) */
    bool oom;
    /* tracking */
    uint8_t cmos_index, ocw3[2], base[2], icw_step[2];
    struct icw_track icw[2];
    uint8_t imr[2], pic_flags[2]; /* per PIC: QPIC_LTIM, QPIC_SMM_EOI */
    bool smm[2], relatch;
    bool pit_status[3];
    uint64_t irq0_rise_tsc;                        /* last IRQ0 rise (+1; 0 none) */
    bool cw_edge0;                                 /* ... made by a control word to channel 0 */
    uint8_t pit_mode[3], pit_rw[3], pit_wbytes[3]; /* per channel: mode, RW, count bytes due */
    bool pit_hi_next[3];                           /* RW 3: the next count byte is the MSB */
    uint16_t pit_count[3];                         /* the last count written */
    uint8_t pit_ncounts[3]; /* complete counts written since the control word (saturating) */
    bool pit_bcd[3];
    bool pit_loaded[3]; /* per channel: its counting element was loaded since power-on */
    bool gate2;
    /* hvrr's RTC at the start checkpoint: wall second ref_sec from virtual
     * time ref_ns on (have_rtc false: no start checkpoint) */
    bool have_rtc;
    int64_t rtc_ref_sec;
    uint64_t rtc_ref_ns;
    /* The phases (ns mod 1 s, trace time) of hvrr's (rtc_h) and QEMU's
     * (rtc_q) second boundaries, QEMU's `offset` (rtc_qoff), registers A
     * and B as written, the last C read; rtc_phase_known false once the
     * guest did something the tracking does not follow */
    bool rtc_phase_known, rtc_set_seen;
    uint64_t rtc_h, rtc_q, rtc_qoff, rtc_last_c;
    uint8_t rtc_a, rtc_b;
    uint8_t start_mcr, start_ctr; /* 16550 MCR, i8042 command byte at the start */
    uint8_t start_cmos_index;     /* CMOS index (0x70, bit 7 dropped) at the start */
    uint32_t pci_addr;            /* CONFIG_ADDRESS as the guest wrote it */
    bool kbc_d0;                  /* i8042: 0xd0 (read output port) written */
    uint8_t kbc_wcmd;             /* i8042 command whose data byte port 0x60 takes next (0: none) */
    bool kbd_dev, kbd_reply;
    uint64_t rx_pending; /* host input bytes hvrr's UART holds, not yet read */
    bool dlab, after_d1, uart_break;
    uint8_t lcr, uart_ier, uart_mcr;
    uint16_t level, latched; /* trace line levels; edges not yet acknowledged */
    uint16_t used;           /* ISA lines the trace drives */
    /* ISA lines QEMU's own COM1, keyboard and mouse interrupts are moved to
     * (qscript_detach()), kept masked in QEMU's PICs; detach_mask 0: none */
    int detach_line[3];
    uint16_t detach_mask;
    unsigned prefix_cmds; /* commands qscript_write() put before the first op */
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

/* Chooses three ISA lines the trace never drives (slave lines first) for
 * QEMU's own 16550 (detach_line[0]), keyboard [1] and mouse [2] interrupts;
 * qscript_write() keeps them masked in QEMU's PICs so only the trace's levels
 * reach QEMU's 8259A pair. Returns 0, or -1 when the trace drives too many
 * lines. */
int qscript_detach(struct qscript *s);

/* "pic", "pit", ... for a port, NULL if the port is not in the script. */
const char *qscript_device(uint16_t port);
/* The register's name (PIC "IMR", CMOS "CMOS[0x0b]", UART "LSR", ...). */
void qscript_register(const struct qop *op, char *buf, size_t len);

#endif
