/* Shared by `hvrr crosscheck` (replay/cmd_crosscheck.c, stopped clock) and
 * its --timed mode (replay/xc_timed.c): the deviation list, per-device
 * counts, temporary files. docs/crosscheck.md. */
#ifndef HVRR_CROSSCHECK_H
#define HVRR_CROSSCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/qtest_script.h"

/* A deliberate deviation: hvrr follows the datasheet, QEMU does not. An IN
 * difference confined to `bits` of a read of `port` (whose trace value has
 * all of `need` set) is explained. */
struct deviation {
    uint16_t port;
    uint32_t need, bits;
    const char *what;
};
/* The deviation explaining `diff` (trace ^ QEMU, compared bits) on the IN
 * `op`, or NULL. */
const struct deviation *xc_explained(const struct qop *op, uint32_t diff);
extern const struct deviation xc_relatch_dev;

#define XC_NDEV 7
struct devcount {
    const char *dev;
    uint64_t compared, equal, timing, tolerated, explained, differ;
};
/* The counters of `dev` ("pic", "pit", ...) in a table of XC_NDEV. */
struct devcount *xc_devcount(struct devcount *t, const char *dev);

/* A temporary file $TMPDIR/hvrr-crosscheck-TAG-XXXXXX opened w+, its name in
 * path; NULL on failure. */
FILE *xc_tmpfile(char *path, size_t len, const char *tag);

/* --timed: plays the trace's port traffic at its virtual times in QEMU
 * (-icount) through the player guest and compares every IN and acknowledge.
 * ops_out: also write the op list (the player's module) there. Returns a
 * CLI_* status. */
int xc_timed(struct qscript *s, const char *path, const char *qemu, const char *player,
             const char *ops_out, bool strict, uint64_t max_reports);

#endif
