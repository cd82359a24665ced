/* ACPI fixed power-management hardware of the APIC platform (ACPI 6.x
 * spec, 4.8 "ACPI Hardware Model" fixed hardware registers): the PM1a
 * event block (PM1_STS, PM1_EN), the PM1a control block (PM1_CNT: SCI_EN,
 * SLP_TYP/SLP_EN) and the 24-bit 3.579545 MHz power-management timer.
 * Ports: base+0 PM1_STS, +2 PM1_EN, +4 PM1_CNT, +8 PM_TMR (hv/acpi.c
 * describes them in the FADT). What is and is not modelled:
 * docs/devices/platform.md. */
#ifndef HVRR_ACPI_PM_H
#define HVRR_ACPI_PM_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define ACPI_PM_STATE_VERSION 1
#define ACPI_PM_TMR_HZ        3579545ull
#define ACPI_PM_PORTS         12u

/* PM1 status / enable bits. */
#define ACPI_PM1_TMR    0x0001u
#define ACPI_PM1_BM     0x0010u /* status only */
#define ACPI_PM1_GBL    0x0020u
#define ACPI_PM1_PWRBTN 0x0100u
#define ACPI_PM1_SLPBTN 0x0200u
#define ACPI_PM1_RTC    0x0400u
#define ACPI_PM1_WAK    0x8000u /* status only */
/* PM1 control bits. */
#define ACPI_PM1_SCI_EN  0x0001u
#define ACPI_PM1_BM_RLD  0x0002u
#define ACPI_PM1_GBL_RLS 0x0004u /* write-only */
#define ACPI_PM1_SLP_EN  0x2000u /* write-only */

struct acpi_pm {
    uint16_t sts, en, cnt;
    uint64_t tmr_seen; /* PM-timer bit-23 transitions already in TMR_STS */
    uint64_t last_ns;
    bool sci; /* SCI level last given to the sink */
    /* wiring and configuration, not state */
    uint16_t base;
    uint8_t sci_irq, s5_typ;
    struct irq_sink sci_out;
    struct dev_request_sink req;
};

/* s5_typ: the SLP_TYP value of \_S5 (hv/acpi.c's DSDT); SLP_EN with it
 * requests DEV_REQ_POWEROFF. The SCI leaves on sci_out line sci_irq. */
void acpi_pm_init(struct acpi_pm *p, uint16_t base, const struct irq_sink *sci, uint8_t sci_irq,
                  uint8_t s5_typ, const struct dev_request_sink *req, uint64_t now_ns);
/* Ports base..base+11, any size: each byte is its register's byte
 * (base+6/7 read 0xff, PM_TMR's top byte 0). */
int acpi_pm_io(void *pm, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
uint32_t acpi_pm_timer(uint64_t now_ns); /* PM_TMR value at now_ns */
void acpi_pm_tick(struct acpi_pm *p, uint64_t now_ns);
uint64_t acpi_pm_next_event_ns(const struct acpi_pm *p, uint64_t now_ns);

extern const struct sv_desc acpi_pm_sv_desc; /* section 'APM1' */

#endif
