/* hvrr replay: runs a trace through the device models (host-sim) and reports
 * every place where they disagree with what was recorded. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "host-sim/replay.h"
#include "replay/cli.h"

static void help(void)
{
    printf("usage: hvrr replay [--from N] [--until N] [--stop-at-first] [--max-reports N] "
           "FILE.hvt\n\n"
           "Replays FILE through the device models compiled into this hvrr and compares\n"
           "every recorded output: IN values, IRQ/INTR line changes, reset/power-off\n"
           "requests, injected vectors and device state at checkpoints.\n\n"
           "  --from N         compare from exit N on (earlier checkpoints are restored)\n"
           "  --until N        stop after exit N\n"
           "  --stop-at-first  stop at the first divergence\n"
           "  --max-reports N  print at most N full reports (default 10)\n\n"
           "Exit status: 0 no divergence, 1 divergence, damaged or unreadable trace\n"
           "(damage: a line with its byte offset and frame in the report, and a summary\n"
           "on stderr; a lost header: nothing is compared), output error; 2 usage.\n"
           "Output is deterministic: two replays of one file print the same bytes.\n");
}

int cmd_replay(int argc, char **argv)
{
    struct replay_opts o = {.out = stdout, .err = stderr};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long long v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return CLI_OK;
        } else if (!strcmp(a, "--stop-at-first")) {
            o.stop_at_first = true;
        } else if (!strcmp(a, "--from") || !strcmp(a, "--until") || !strcmp(a, "--max-reports")) {
            if (i + 1 >= argc || cli_parse_u64(argv[i + 1], &v))
                return cli_usage_error("replay", "%s needs a number", a);
            i++;
            if (!strcmp(a, "--from"))
                o.from = v;
            else if (!strcmp(a, "--until"))
                o.until = v, o.has_until = true;
            else
                o.max_reports = v ? (unsigned)(v > 100000 ? 100000 : v) : 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("replay", "unknown option '%s'", a);
        } else if (path) {
            return cli_usage_error("replay", "one trace file only");
        } else {
            path = a;
        }
    }
    if (!path)
        return cli_usage_error("replay", "no trace file given");
    if (o.has_until && o.until < o.from)
        return cli_usage_error("replay", "--until is before --from");
    struct replay_stats st;
    int rc = replay_file(path, &o, &st);
    if (cli_flush_stdout("replay") || rc != 0)
        return CLI_BAD_INPUT;
    /* A damaged trace was not checked in full: not a clean result. */
    if (st.damage)
        fprintf(stderr,
                "hvrr replay: '%s': damaged trace, not fully checked: %" PRIu64
                " damage report(s), the first: damage at byte %" PRIu64 " (frame %u)\n",
                path, st.damage, st.damage_offset, st.damage_frame);
    return st.divergences || st.damage ? 1 : CLI_OK;
}
