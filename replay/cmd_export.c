/* hvrr export: the trace's contents in another form. --raw writes the
 * decompressed payloads of all good frames: one hvrr.TraceStream message. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host-sim/perfetto.h"
#include "replay/cli.h"
#include "replay/qtest_script.h"

static void help(void)
{
    printf("usage: hvrr export --raw [-o OUT] FILE\n"
           "       hvrr export --perfetto [-o OUT.json] FILE\n"
           "       hvrr export --qtest [-o OUT.qtest] FILE\n"
           "--qtest writes the legacy-device traffic as a QEMU qtest script: port\n"
           "writes and reads in order, virtual time as clock_step, IRQ lines 0-15 as\n"
           "set_irq_in on the i8259 inputs, acknowledges as PIC poll commands (for a\n"
           "QEMU with the qtest accelerator: -M pc,hpet=off,acpi=off -accel qtest\n"
           "-qtest stdio; the i8259 paths are QEMU 7.2's /machine/unattached/device[6]\n"
           "and [7]; see docs/crosscheck.md). `hvrr crosscheck` runs the same script\n"
           "without clock_step and compares the answers.\n"
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
           "  -q, --qtest       QEMU qtest script\n"
           "  -o, --output OUT  output file\n"
           "  -h, --help        this text\n\n"
           "Exit status: 0 the trace is whole; 1 it is damaged (what was recovered is\n"
           "still written; damage goes to stderr with its byte offset), cannot be read,\n"
           "holds no usable frame, or the output cannot be written; 2 usage error.\n");
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
    (void)it; /* damage is reported by cli_read_trace */
    return 0;
}

/* --perfetto: the JSON document is always completed (what was recovered). */
static int export_perfetto(const char *in, const char *outpath)
{
    FILE *o = outpath && strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
    if (!o) {
        fprintf(stderr, "hvrr export: cannot create '%s': %s\n", outpath, strerror(errno));
        return CLI_BAD_INPUT;
    }
    struct perfetto *p = perfetto_new(o);
    if (!p) {
        fprintf(stderr, "hvrr export: out of memory\n");
        if (o != stdout)
            fclose(o);
        return CLI_BAD_INPUT;
    }
    struct trace_reader_stats st;
    int rc = cli_read_trace("export", in, perfetto_item, p, &st);
    int werr = perfetto_finish(p);
    if (o == stdout)
        werr |= fflush(o);
    else
        werr |= fclose(o);
    if (werr) {
        fprintf(stderr, "hvrr export: writing '%s' failed\n", outpath ? outpath : "-");
        return CLI_BAD_INPUT;
    }
    return cli_finish("export", in, rc, &st);
}

static int on_qtest(void *ctx, const struct trace_item *it)
{
    return qscript_add(ctx, it) ? 1 : 0;
}

static int export_qtest(const char *in, const char *outpath)
{
    struct qscript s = {0};
    struct trace_reader_stats st;
    int rc = cli_read_trace("export", in, on_qtest, &s, &st);
    if (s.oom) {
        fprintf(stderr, "hvrr export: out of memory\n");
        qscript_free(&s);
        return CLI_BAD_INPUT;
    }
    FILE *o = outpath && strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
    if (!o) {
        fprintf(stderr, "hvrr export: cannot create '%s': %s\n", outpath, strerror(errno));
        qscript_free(&s);
        return CLI_BAD_INPUT;
    }
    int werr = qscript_write(&s, o, true, "/machine/unattached/device[6]",
                             "/machine/unattached/device[7]");
    qscript_free(&s);
    if (o != stdout)
        werr |= fclose(o);
    if (werr) {
        fprintf(stderr, "hvrr export: writing '%s' failed\n", outpath ? outpath : "-");
        return CLI_BAD_INPUT;
    }
    return cli_finish("export", in, rc, &st);
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"raw", no_argument, NULL, 'r'},   {"perfetto", no_argument, NULL, 'p'},
        {"qtest", no_argument, NULL, 'q'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},  {NULL, 0, NULL, 0}};
    bool raw = false, perfetto = false, qtest = false;
    const char *outpath = NULL;
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "rpqo:h", opts, NULL)) != -1) {
        switch (o) {
        case 'r': raw = true; break;
        case 'p': perfetto = true; break;
        case 'q': qtest = true; break;
        case 'o': outpath = optarg; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (raw + perfetto + qtest != 1)
        return cli_usage_error("export", "choose one format: --raw, --perfetto or --qtest");
    if (optind != argc - 1)
        return cli_usage_error("export", "expected one trace file");
    if (perfetto)
        return export_perfetto(argv[optind], outpath);
    if (qtest)
        return export_qtest(argv[optind], outpath);
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
    int cerr = c.out == stdout ? fflush(c.out) || ferror(c.out) : fclose(c.out);
    if (c.failed || cerr) {
        fprintf(stderr, "hvrr export: writing the output failed\n");
        return CLI_BAD_INPUT;
    }
    return cli_finish("export", argv[optind], rc, &st);
}
