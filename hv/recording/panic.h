/* Panic detection: the guest console, line by line, watched for Linux's
 * "Kernel panic - not syncing" (flight mode dumps its ring then; hv/main.c
 * reports a power-off after a panic as such). */
#ifndef HVRR_HV_RECORDING_PANIC_H
#define HVRR_HV_RECORDING_PANIC_H

#include <stdbool.h>
#include <stdint.h>

struct rec_panic {
    char line[96]; /* the current line (a longer one is cut in pieces) */
    unsigned line_len;
    bool seen;
};

/* A new VM: the line starts empty (seen stays: it is per hypervisor run). */
void rec_panic_reset(struct rec_panic *p);
/* One console byte; true when it completes a panic line. */
bool rec_panic_byte(struct rec_panic *p, uint8_t c);

#endif
