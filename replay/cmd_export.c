/* hvrr export: the trace's contents in another form. --raw writes the
 * decompressed payloads of all good frames: one hvrr.TraceStream message. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host-sim/perfetto.h"
#include "replay/cli.h"

static void help(void)
{
    printf("usage: hvrr export --raw [-o OUT] FILE\n"
           "       hvrr export --perfetto [-o OUT.json] FILE\n"
           "--perfetto writes Chrome trace-event JSON for ui.perfetto.dev or\n"
           "chrome://tracing: exits per vCPU as slices, IRQ lines and INTR as\n"
           "counters, port accesses per device (see docs/replay.md).\n\n"
           "Writes the decompressed payloads of every good frame of the trace FILE\n"
           "('-' for stdin), concatenated, to OUT (default stdout). The result is\n"
           "one protobuf message of type hvrr.TraceStream:\n"
           "  hvrr export --raw t.hvrr | protoc --decode=hvrr.TraceStream trace/hvrr.proto\n"
           "Damaged frames are left out and reported on stderr.\n\n"
           "options:\n"
           "  -r, --raw         raw protobuf stream\n"
           "  -p, --perfetto    Chrome trace-event JSON timeline\n"
           "  -o, --output OUT  output file\n"
           "  -h, --help        this text\n\n"
           "Exit status: 0 if anything was recovered, 1 if the input cannot be read\n"
           "or holds no usable frame or the output cannot be written, 2 usage error.\n");
}

struct export_ctx {
    FILE *out;
    bool failed;
};

static void on_raw(void *vctx, uint32_t frame, const void *raw, size_t len)
{
    struct export_ctx *c = vctx;
    (void)frame;
    if (len && fwrite(raw, 1, len, c->out) != len)
        c->failed = true;
}

static int on_item(void *vctx, const struct trace_item *it)
{
    (void)vctx;
    if (it->type == TRACE_ITEM_DAMAGE) {
        char line[512];
        cli_format_item(line, sizeof(line), it);
        fprintf(stderr, "hvrr export: %s\n", line);
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"raw", no_argument, NULL, 'r'},
                                         {"perfetto", no_argument, NULL, 'p'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool raw = false, perfetto = false;
    const char *outpath = NULL;
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "rpo:h", opts, NULL)) != -1) {
        switch (o) {
        case 'r': raw = true; break;
        case 'p': perfetto = true; break;
        case 'o': outpath = optarg; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (raw == perfetto)
        return cli_usage_error("export", "choose one format: --raw or --perfetto");
    if (optind != argc - 1)
        return cli_usage_error("export", "expected one trace file");
    if (perfetto) {
        int prc = perfetto_export_file(argv[optind], outpath ? outpath : "-", stderr);
        return prc ? CLI_BAD_INPUT : CLI_OK;
    }
    struct export_ctx c = {.out = stdout};
    if (outpath && strcmp(outpath, "-") != 0) {
        c.out = fopen(outpath, "wb");
        if (!c.out) {
            fprintf(stderr, "hvrr export: cannot create '%s': %s\n", outpath, strerror(errno));
            return CLI_BAD_INPUT;
        }
    }
    struct trace_reader_stats st;
    int rc = cli_read_trace_raw("export", argv[optind], on_item, &c, on_raw, &c, &st);
    int cerr = c.out == stdout ? fflush(c.out) : fclose(c.out);
    if (rc)
        return rc;
    if (c.failed || cerr) {
        fprintf(stderr, "hvrr export: writing the output failed\n");
        return CLI_BAD_INPUT;
    }
    if (st.frames_ok == 0) {
        fprintf(stderr, "hvrr export: '%s': nothing recoverable\n", argv[optind]);
        return CLI_BAD_INPUT;
    }
    return CLI_OK;
}
