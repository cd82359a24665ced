/* Shared pieces of the `hvrr` CLI: the subcommand table entry type, usage
 * errors, reading a trace file and formatting one item per line.
 *
 * Adding a subcommand: write replay/cmd_NAME.c with `int cmd_NAME(int argc,
 * char **argv)` (argv[0] is the subcommand name), declare it below and add
 * one line to the table in replay/hvrr.c. Exit codes: 0 success, 1 bad or
 * unreadable input, 2 usage error.
 */
#ifndef HVRR_CLI_H
#define HVRR_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "trace/trace_reader.h"

#define CLI_OK        0
#define CLI_BAD_INPUT 1
#define CLI_USAGE     2

struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

int cmd_dump(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_bisect(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_crosscheck(int argc, char **argv);

/* Prints "hvrr CMD: message" and a --help hint to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses an unsigned number (decimal, 0x hex, optional k/M/G suffix). */
int cli_parse_u64(const char *s, unsigned long long *out);

/* Streams the trace at path ("-" for stdin) through fn. fn returns 0 to go
 * on, non-zero to stop; reading also stops when writing stdout failed. Input
 * is taken as it arrives (a FIFO or pipe is not waited on for a full chunk)
 * and stdout is flushed before each wait, so output streams. Every damage
 * item also goes to stderr as "hvrr CMD: 'PATH': damage at byte N (frame
 * F): ..." (the first CLI_MAX_DAMAGE_LINES, then a count). Returns 0, or
 * CLI_BAD_INPUT after printing why (cannot open, read error, reader
 * failure). Reader statistics land in *st; see cli_finish. */
typedef int (*cli_item_fn)(void *ctx, const struct trace_item *it);
int cli_read_trace(const char *cmd, const char *path, cli_item_fn fn, void *ctx,
                   struct trace_reader_stats *st);
/* Same, also handing each good frame's decompressed payload to raw_fn. */
int cli_read_trace_raw(const char *cmd, const char *path, cli_item_fn fn, void *ctx,
                       trace_raw_fn raw_fn, void *raw_ctx, struct trace_reader_stats *st);

#define CLI_MAX_DAMAGE_LINES 20

/* The end of a command that read a trace and wrote a report to stdout:
 * flushes stdout ("writing the output failed: ..." on error) and, if the
 * trace was damaged, says so on stderr. Returns rc if non-zero, else
 * CLI_BAD_INPUT for an output error, nothing recoverable or damage, else
 * CLI_OK. */
int cli_finish(const char *cmd, const char *path, int rc, const struct trace_reader_stats *st);
/* Flushes stdout; on failure prints why and returns CLI_BAD_INPUT. */
int cli_flush_stdout(const char *cmd);
/* Waits for the child `pid` (retrying on EINTR): its exit status; if a
 * signal ended it, -1 when sig_fails, else 128 + the signal number (as a
 * shell says); -1 if it cannot be waited for. */
int cli_wait_child(pid_t pid, bool sig_fails);

/* One human-readable line (no newline) for an item. */
void cli_format_item(char *buf, size_t len, const struct trace_item *it);

#endif
