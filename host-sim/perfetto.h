/* Trace -> Chrome trace-event JSON, for the Perfetto UI (ui.perfetto.dev) and
 * chrome://tracing. Virtual time (guest TSC -> ns) on the time axis:
 *  - per vCPU, one slice per exit, from the exit to the vCPU's next record
 *    (exit handling plus guest run time; an HLT slice spans the idle time);
 *  - IRQ lines 0-15 and the PIC INTR output as counters (0/1);
 *  - per device (from the header's device list), an instant per port access,
 *    injected vectors and UART input as instants on the vCPU track;
 *  - checkpoints as global instants.
 * Strings from the trace (device names) are JSON-escaped. Host only. The
 * output is a function of the trace alone; `hvrr export --perfetto` feeds it. */
#ifndef HVRR_HOSTSIM_PERFETTO_H
#define HVRR_HOSTSIM_PERFETTO_H

#include <stdio.h>

#include "trace/trace_reader.h"

struct perfetto;

struct perfetto *perfetto_new(FILE *out);
/* One reader item (the signature of cli_item_fn); always returns 0. */
int perfetto_item(void *p, const struct trace_item *it);
/* Closes the JSON document and frees p. 0, or -1 if writing failed. */
int perfetto_finish(struct perfetto *p);

#endif
