/* The machine's own CMOS clock, read once at boot so that a guest's RTC
 * starts at today's date (rtc=host, the default); rtc=SECONDS fixes it for
 * reproducible runs. Either way the value is part of the recorded start
 * state, so replay does not depend on it. */
#ifndef HVRR_HOST_RTC_H
#define HVRR_HOST_RTC_H

#include <stdint.h>

/* Seconds since 1970-01-01 00:00 UTC (the RTC is taken to keep UTC), or 0
 * when the clock reads as garbage. */
uint64_t host_rtc_read(void);

#endif
