/* hvrr dump: every record of a trace, one line each. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "replay/cli.h"

static void help(void)
{
    printf("usage: hvrr dump [options] FILE\n"
           "Prints every record of the trace FILE ('-' for stdin), one line each:\n"
           "exits as 'SEQ cpuN tsc=... rip=... REASON details', device events\n"
           "indented with '-', header/checkpoints/end as '#' lines, and damage as\n"
           "'!!' lines giving the byte offset, bytes skipped and frames lost.\n\n"
           "options:\n"
           "  -f, --frames      prefix each line with [frame N @ byte offset]\n"
           "  -n, --limit N     stop after N exits\n"
           "  -h, --help        this text\n\n"
           "Damage also goes to stderr with its byte offset and frame number.\n"
           "Exit status: 0 the trace is whole; 1 damage was found (everything that\n"
           "could be read is still printed), the file cannot be read or holds no usable\n"
           "frame, or the output cannot be written; 2 usage error.\n");
}

struct dump_ctx {
    bool frames;
    unsigned long long limit, exits;
    char line[1024];
};

static int on_item(void *vctx, const struct trace_item *it)
{
    struct dump_ctx *c = vctx;
    cli_format_item(c->line, sizeof(c->line), it);
    if (c->frames && it->type != TRACE_ITEM_DAMAGE)
        printf("[frame %u @ %" PRIu64 "] ", it->frame, it->offset);
    puts(c->line);
    if (it->type == TRACE_ITEM_EXIT && c->limit && ++c->exits >= c->limit)
        return 1;
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {{"frames", no_argument, NULL, 'f'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct dump_ctx c = {0};
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "fn:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f': c.frames = true; break;
        case 'n':
            if (cli_parse_u64(optarg, &c.limit))
                return cli_usage_error("dump", "bad --limit '%s'", optarg);
            break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("dump", "expected one trace file");
    struct trace_reader_stats st;
    int rc = cli_read_trace("dump", argv[optind], on_item, &c, &st);
    return cli_finish("dump", argv[optind], rc, &st);
}
