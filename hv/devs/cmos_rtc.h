/* MC146818A-compatible CMOS RAM and real-time clock at 0x70 (index; bit 7 =
 * NMI disable, remembered) / 0x71 (data), 128 bytes.
 *
 * The clock is a function of virtual time: wall seconds = epoch_sec +
 * now_ns / 1e9 until the guest sets the clock, after which it runs on from
 * what was written, keeping the phase of its divider chain (updates stay on
 * the same sub-second instant). The 32.768 kHz divider is modelled exactly:
 * the periodic interrupt (register A RS), the update-ended interrupt, the
 * alarm interrupt and UIP are all derived from the count of 32.768 kHz
 * cycles since a reference second boundary, so nothing drifts.
 *
 * Registers (datasheet names):
 *   0x00-0x09  seconds, alarm s, minutes, alarm m, hours, alarm h, weekday
 *              (1 = Sunday), day, month, year; 0x32 century. BCD or binary
 *              per B.DM, 12-hour (bit 7 = PM) or 24-hour per B.24/12.
 *   0x0a  A: UIP (bit 7, read-only, high from 244 us before the update cycle
 *         to its end: the last 2228 us before each update),
 *         DV2-0 (bits 6-4; only 010 runs the clock, 11x resets the divider,
 *         the first update comes 500 ms after leaving reset), RS3-0.
 *   0x0b  B: SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE (stored, no effect).
 *   0x0c  C: IRQF, PF, AF, UF; read-only, cleared by a read (drops IRQ8).
 *   0x0d  D: VRT (always 0x80), read-only.
 * IRQ8 is IRQF: PF&PIE | AF&AIE | UF&UIE, signalled only when it changes.
 * Reads of the index port return 0xff (it is write-only on PC chipsets).
 * Details and simplifications: docs/devices/platform.md.
 */
#ifndef HVRR_CMOS_RTC_H
#define HVRR_CMOS_RTC_H

#include "hv/devs/dev.h"
#include "hv/devs/savestate.h"

#define CMOS_INDEX_PORT 0x70
#define CMOS_DATA_PORT  0x71

#define CMOS_SEC      0x00
#define CMOS_SEC_ALM  0x01
#define CMOS_MIN      0x02
#define CMOS_MIN_ALM  0x03
#define CMOS_HOUR     0x04
#define CMOS_HOUR_ALM 0x05
#define CMOS_WDAY     0x06
#define CMOS_MDAY     0x07
#define CMOS_MON      0x08
#define CMOS_YEAR     0x09
#define CMOS_REG_A    0x0a
#define CMOS_REG_B    0x0b
#define CMOS_REG_C    0x0c
#define CMOS_REG_D    0x0d
#define CMOS_CENTURY  0x32

#define CMOS_A_UIP  0x80
#define CMOS_A_DV   0x70
#define CMOS_A_RS   0x0f
#define CMOS_B_SET  0x80
#define CMOS_B_PIE  0x40
#define CMOS_B_AIE  0x20
#define CMOS_B_UIE  0x10
#define CMOS_B_SQWE 0x08
#define CMOS_B_DM   0x04 /* 1 = binary */
#define CMOS_B_24H  0x02
#define CMOS_B_DSE  0x01
#define CMOS_C_IRQF 0x80
#define CMOS_C_PF   0x40
#define CMOS_C_AF   0x20
#define CMOS_C_UF   0x10
#define CMOS_D_VRT  0x80

#define CMOS_POWERON_A 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define CMOS_POWERON_B 0x02 /* 24-hour, BCD, interrupts off */

struct cmos_rtc {
    uint8_t index;       /* last byte written to 0x70 (bit 7 = NMI disable) */
    uint8_t ram[128];    /* RAM and registers A-D; the clock bytes hold values
                            only while SET is 1 (else they are computed) */
    uint64_t ref_ns;     /* a second boundary of the divider chain */
    int64_t ref_sec;     /* wall seconds from ref_ns on; while the divider is
                            stopped (DV != 010) the frozen time */
    uint64_t last_ns;    /* flags are up to date up to this time */
    bool irq_out;        /* current IRQ8 level (= IRQF) */
    struct irq_sink irq; /* wiring */
    unsigned irq_line;
};

/* Calendar time, proleptic Gregorian, UTC. */
struct cmos_tm {
    int64_t year;
    unsigned mon;  /* 1-12 */
    unsigned mday; /* 1-31 */
    unsigned hour, min, sec;
    unsigned wday; /* 1 = Sunday .. 7 = Saturday, as the RTC counts */
};
void cmos_secs_to_tm(int64_t secs, struct cmos_tm *tm);
/* Inverse of cmos_secs_to_tm for valid dates; a day past the month's end
 * carries into the next month. */
int64_t cmos_tm_to_secs(const struct cmos_tm *tm);

/* epoch_sec: the wall-clock time (seconds since 1970-01-01 UTC) that virtual
 * time 0 corresponds to; part of the VM configuration, recorded in traces.
 * Power-on state: A 0x26, B 0x02, C 0, D 0x80, RAM 0. */
void cmos_init(struct cmos_rtc *c, const struct irq_sink *irq, unsigned irq_line,
               uint64_t epoch_sec);
/* The chip's RESET pin: clears PIE/AIE/UIE/SQWE and the flags (dropping
 * IRQ8); time, register A and RAM are kept. */
void cmos_reset(struct cmos_rtc *c, uint64_t now_ns);
/* Set a non-clock CMOS byte (e.g. memory size fields) at configuration time.
 * Ignored for the clock and status bytes 0x00-0x0d and the century 0x32. */
void cmos_set_byte(struct cmos_rtc *c, uint8_t index, uint8_t val);
/* Ports 0x70/0x71, byte access only (else DEV_IO_BADSIZE). */
int cmos_io(void *cmos, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns);
bool cmos_nmi_disabled(const struct cmos_rtc *c);
/* Brings the flags (and IRQ8) up to now_ns. */
void cmos_tick(struct cmos_rtc *c, uint64_t now_ns);
/* When IRQ8 will next rise by itself: TIME_NEVER if it is already high or no
 * enabled source (PIE/AIE/UIE) can fire. May be <= now_ns if cmos_tick has
 * not caught up yet. */
uint64_t cmos_next_event_ns(const struct cmos_rtc *c, uint64_t now_ns);
/* Section 'CMOS' (savestate.h field table). */
extern const struct sv_desc cmos_sv_desc;
void cmos_save(const struct cmos_rtc *c, struct sv *s);
/* 0, or -1 with *c untouched for a missing, malformed or inconsistent
 * section. IRQ8 is restored as saved; the sink is not called. */
int cmos_restore(struct cmos_rtc *c, struct sv *s);

#endif
