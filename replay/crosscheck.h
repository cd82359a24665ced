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

#define XC_NDEV 8
struct devcount {
    const char *dev;
    uint64_t compared, equal, timing, tolerated, explained, differ, absent;
};
/* The counters of `dev` ("pic", "pit", ...) in a table of XC_NDEV. */
struct devcount *xc_devcount(struct devcount *t, const char *dev);

/* How one compared IN or acknowledge came out (replay/xc_tally.c). */
enum xc_outcome {
    XC_EQUAL,
    XC_TIMING, /* not comparable at all: counted apart, not compared */
    XC_TOLERATED,
    XC_EXPLAINED,
    XC_ABSENT, /* a device QEMU's pc machine has and hvrr's platform has not */
    XC_DIFFER,
};
/* The counts of one cross-check run. */
struct xc_tally {
    struct devcount counts[XC_NDEV];
    uint64_t diffs, expl, tol, absent, reports, ack_cmp, ack_diff;
    uint64_t max_reports;
    bool strict;
};
/* Counts outcome `o` of a comparison on device `dc` (ack: an acknowledge,
 * also counted apart); true if it is to be reported: a difference, or a
 * tolerated/explained one under --strict, while fewer than max_reports were. */
bool xc_count(struct xc_tally *t, struct devcount *dc, enum xc_outcome o, bool ack);

/* The acknowledge `op` took a vector of the slave 8259A. */
bool xc_slave_vector(const struct qop *op);
/* The IRQ (0-15) a master/slave poll byte pair names, -1 none pending
 * (slave_v: the slave's byte was read). */
int xc_poll_irq(uint32_t master, uint32_t slave, bool slave_v);
/* `op` is a non-specific or specific EOI to the master 8259A. */
bool xc_master_eoi(const struct qop *op);
/* xc_relatch_dev if it explains `diff` on the IN `op` while a relatched
 * acknowledge awaits the master's EOI, else NULL. */
const struct deviation *xc_relatch_explains(const struct qop *op, uint32_t diff, bool relatched);
/* Platform differences, not model disagreements: why the IN `op` whose
 * answer differs in `diff` reads a device QEMU's pc machine has and hvrr's
 * platform has not (a PCI function other than hvrr's host bridge, the PS/2
 * keyboard or mouse behind the i8042), or NULL (replay/xc_classes.c). */
const char *xc_absent(const struct qop *op, uint32_t diff);
/* A PIT count read of a counting element never loaded since power-on
 * (undefined, 8254 datasheet), hvrr's 0: not comparable (xc_classes.c). */
bool xc_pit_undefined(const struct qop *op);
/* The acknowledge `op`, for which QEMU's poll named IRQ `got` (-1 none), is
 * explained by the 8259A ICW1 LTIM deviation (xc_classes.c); timed: QEMU's
 * own devices drive its lines. */
bool xc_ltim_ack(const struct qop *op, int got, bool timed);
/* On an APIC-platform trace: a line counting what was left to the APICs. */
void xc_print_apic(const struct qscript *s);
/* The value bits of an access of op->size bytes. */
uint32_t xc_size_mask(const struct qop *op);

/* A temporary file $TMPDIR/hvrr-crosscheck-TAG-XXXXXX opened w+, its name in
 * path; NULL on failure. */
FILE *xc_tmpfile(char *path, size_t len, const char *tag);
/* Closes f (if not NULL) and removes its file, unless path was emptied
 * (a file kept for the user). */
void xc_tmpfile_close(FILE *f, const char *path);

/* --timed: plays the trace's port traffic at its virtual times in QEMU
 * (-icount) through the player guest and compares every IN and acknowledge.
 * ops_out: also write the op list (the player's module) there. Returns a
 * CLI_* status. */
int xc_timed(struct qscript *s, const char *path, const char *qemu, const char *player,
             const char *ops_out, bool strict, uint64_t max_reports);

#endif
