/* hvrr synth: writes a synthetic Linux-like trace (trace/trace_synth.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/cli.h"
#include "trace/trace_host.h"
#include "trace/trace_synth.h"

static void help(void)
{
    printf("usage: hvrr synth -o FILE [options]\n"
           "Writes a deterministic synthetic trace that mimics a Linux guest booting\n"
           "on hvrr: ~90%% UART LSR/THR console polling, a 250 Hz PIT tick with its\n"
           "PIC traffic and interrupt events, idle HLTs, UART input, a boot prologue\n"
           "with CPUID/MSR/CR/XSETBV/EPT exits, and periodic checkpoints.\n\n"
           "options:\n"
           "  -o, --output FILE        output file ('-' for stdout); required\n"
           "  -e, --exits N            number of exits (default 100000; k/M suffixes)\n"
           "  -s, --seed N             random seed (default 1)\n"
           "  -j, --jitter N           TSC noise in cycles per exit (default %u)\n"
           "  -c, --checkpoint-every N exits between checkpoints (default 50000, 0: none)\n"
           "  -l, --level N            zstd level (default %d)\n"
           "  -b, --frame-bytes N      uncompressed bytes per frame (default %u)\n"
           "  -h, --help               this text\n",
           TRACE_SYNTH_DEFAULT_JITTER, TRACE_DEFAULT_LEVEL, TRACE_DEFAULT_FRAME_BYTES);
}

int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"exits", required_argument, NULL, 'e'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"jitter", required_argument, NULL, 'j'},
                                         {"checkpoint-every", required_argument, NULL, 'c'},
                                         {"level", required_argument, NULL, 'l'},
                                         {"frame-bytes", required_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct trace_synth_config sc = {.seed = 1,
                                    .exits = 100000,
                                    .tsc_jitter = TRACE_SYNTH_DEFAULT_JITTER,
                                    .checkpoint_every = 50000};
    struct trace_writer_config wc = {
        .level = TRACE_DEFAULT_LEVEL, .alloc = &trace_libc_allocator, .write = trace_write_stdio};
    const char *out = NULL;
    unsigned long long v;
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "o:e:s:j:c:l:b:h", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'h': help(); return CLI_OK;
        case 'l': {
            char *end;
            long lv = strtol(optarg, &end, 10);
            if (*end || end == optarg || lv < -100 || lv > 22)
                return cli_usage_error("synth", "bad --level '%s'", optarg);
            wc.level = lv ? (int)lv : TRACE_DEFAULT_LEVEL;
            break;
        }
        case 'e':
        case 's':
        case 'j':
        case 'c':
        case 'b':
            if (cli_parse_u64(optarg, &v))
                return cli_usage_error("synth", "bad number '%s'", optarg);
            if (o == 'e')
                sc.exits = v;
            else if (o == 's')
                sc.seed = v;
            else if (o == 'j')
                sc.tsc_jitter = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
            else if (o == 'c')
                sc.checkpoint_every = v;
            else if (v < TRACE_MIN_FRAME_BYTES || v > TRACE_MAX_FRAME_BYTES)
                return cli_usage_error("synth", "--frame-bytes must be %u..%u",
                                       TRACE_MIN_FRAME_BYTES, TRACE_MAX_FRAME_BYTES);
            else
                wc.frame_bytes = v;
            break;
        default: return cli_usage_error("synth", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!out)
        return cli_usage_error("synth", "missing -o FILE");
    if (optind != argc)
        return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "hvrr synth: cannot create '%s': %m\n", out);
        return CLI_BAD_INPUT;
    }
    wc.write_ctx = f;
    struct trace_writer *w = trace_writer_init(&wc, NULL, 0);
    if (!w) {
        fprintf(stderr, "hvrr synth: cannot set up the trace writer\n");
        if (f != stdout)
            fclose(f);
        return CLI_BAD_INPUT;
    }
    int rc = trace_synth_write(w, &sc);
    struct trace_writer_stats st;
    trace_writer_get_stats(w, &st);
    trace_writer_destroy(w);
    int cerr = f == stdout ? fflush(f) : fclose(f);
    if (rc || cerr) {
        fprintf(stderr, "hvrr synth: writing '%s' failed: %s\n", out,
                rc ? trace_writer_strerror(rc) : "I/O error");
        return CLI_BAD_INPUT;
    }
    fprintf(stderr,
            "hvrr synth: %" PRIu64 " exits, %" PRIu64 " records, %" PRIu64 " frames, %" PRIu64
            " bytes (%.2f bytes/exit)\n",
            st.exits, st.records, st.frames, st.out_bytes,
            st.exits ? (double)st.out_bytes / (double)st.exits : 0.0);
    return CLI_OK;
}
