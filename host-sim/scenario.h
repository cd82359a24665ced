/* Scripted guests: host-side stand-ins for real captures until the
 * hypervisor records (docs/replay.md, corpus/MANIFEST.md). Each plays the
 * port sequences Linux 6.1 sends while booting (PIC probe/init with port 0x80
 * delays, PIT quick TSC calibration on channel 2 through port 0x61, channel 0
 * periodic then one-shot, CMOS time read, 8250 autoconfig and polled console
 * output, PCI type-1 check and bus-0 scan, i8042 probe), takes the timer and
 * UART interrupts the devices raise, idles in HLT, and ends in power-off or
 * reset. It drives the devices only through hv/record, exactly as the
 * hypervisor will, so its trace is a faithful capture of what the device
 * models did. Guest TSC runs at 3 GHz; every exit costs guest time.
 */
#ifndef HVRR_HOSTSIM_SCENARIO_H
#define HVRR_HOSTSIM_SCENARIO_H

#include <stdint.h>

#include "trace/trace_writer.h"

enum scenario_guest {
    SCEN_LINUX = 0, /* Linux 6.1 boot (log_lines, idle_ms, rx, rtc_irq, reset_at_end) */
    SCEN_IO_GUEST,  /* tests/guests/io.S: every device's registers, PASS/FAIL lines */
};

struct scenario_config {
    const char *name;
    enum scenario_guest guest;
    unsigned log_lines;        /* console lines after the console registers */
    unsigned idle_ms;          /* idle time in HLT spread over the boot */
    const char *rx;            /* bytes typed on COM1 after boot, NULL: none */
    bool rtc_irq;              /* program the RTC periodic interrupt (IRQ8, cascade) */
    bool reset_at_end;         /* reboot through the i8042 (else power-off: cli; hlt) */
    uint64_t checkpoint_every; /* exits; 0 means 4096 */
    uint64_t seed;             /* TSC jitter */
};

/* The scenarios that make up corpus/ ("linux-boot", ...); NULL-name ended. */
extern const struct scenario_config scenario_table[];
const struct scenario_config *scenario_find(const char *name);

/* Plays the scenario into w (header to End). Returns 0 or a writer error. */
int scenario_run(const struct scenario_config *cfg, struct trace_writer *w);

#endif
