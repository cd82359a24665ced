/* MC146818-style CMOS RAM and real-time clock at 0x70 (index, bit 7 = NMI
 * mask) / 0x71 (data). The clock counts virtual time from a configured
 * epoch; the periodic/alarm/update interrupts drive IRQ8. */
#ifndef HVRR_CMOS_RTC_H
#define HVRR_CMOS_RTC_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

struct cmos_rtc {
    uint8_t index;
    uint8_t ram[128];
    /* (completed by the RTC implementation) */
    struct irq_sink irq; /* wiring */
    unsigned irq_line;
};

/* epoch_sec: the wall-clock time (seconds since 1970-01-01 UTC) that virtual
 * time 0 corresponds to; part of the VM configuration, recorded in traces. */
void cmos_init(struct cmos_rtc *c, const struct irq_sink *irq, unsigned irq_line, uint64_t epoch_sec);
void cmos_reset(struct cmos_rtc *c, uint64_t now_ns);
/* Set a non-clock CMOS byte (e.g. memory size fields) at configuration time. */
void cmos_set_byte(struct cmos_rtc *c, uint8_t index, uint8_t val);
int cmos_io(void *cmos, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
void cmos_tick(struct cmos_rtc *c, uint64_t now_ns);
uint64_t cmos_next_event_ns(const struct cmos_rtc *c, uint64_t now_ns);
void cmos_save(const struct cmos_rtc *c, struct sv *s);
int cmos_restore(struct cmos_rtc *c, struct sv *s);

#endif
