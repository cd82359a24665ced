/* hvrr synth: writes a synthetic Linux-like trace (trace/trace_synth.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/cli.h"
#include "trace/trace_host.h"
#include "host-sim/smp_synth.h"
#include "hv/devs/vm_devices.h"
#include "trace/trace_craft.h"
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
           "  -v, --vcpus N            N = 2..%u: a replayable SMP capture instead (the\n"
           "                           real device models run a scripted N-vCPU guest on\n"
           "                           the APIC platform: INIT/SIPI bring-up, IPIs, per-vCPU\n"
           "                           local APIC timers, round-robin scheduling)\n"
           "  -k, --craft KIND         valid framing but one impossible record (a test\n"
           "                           input, trace/trace_craft.c): io-value, out-wide,\n"
           "                           io-size, seq-gap, seq-back, reason-detail, vcpu,\n"
           "                           dev-irq, dev-names, no-header, crc-storm, random\n"
           "      --from TRACE         with --craft: re-encode TRACE's records instead of\n"
           "                           the synthetic ones (--exits: twice the exit to change)\n"
           "  -h, --help               this text\n",
           TRACE_SYNTH_DEFAULT_JITTER, TRACE_DEFAULT_LEVEL, TRACE_DEFAULT_FRAME_BYTES,
           VM_DEVICES_MAX_CPUS);
}

/* --craft KIND: valid framing, impossible records (trace/trace_craft.h). */
static int write_crafted(const char *kind, const char *out, const char *base,
                         const struct trace_synth_config *sc)
{
    uint8_t *buf, *in = NULL;
    size_t len, in_len = 0;
    if (base) {
        FILE *bf = fopen(base, "rb");
        long n = -1;
        if (bf && fseek(bf, 0, SEEK_END) == 0 && (n = ftell(bf)) >= 0 && n <= (64l << 20) &&
            fseek(bf, 0, SEEK_SET) == 0 && (in = malloc((size_t)n + 1)) != NULL)
            in_len = fread(in, 1, (size_t)n, bf);
        if (bf)
            fclose(bf);
        if (!in || in_len != (size_t)n) {
            fprintf(stderr, "hvrr synth: cannot read '%s'\n", base);
            free(in);
            return CLI_BAD_INPUT;
        }
    }
    int rc = trace_craft(kind, sc->seed, sc->exits, sc->checkpoint_every, in, in_len, &buf, &len);
    free(in);
    if (rc == -1) {
        fprintf(stderr, "hvrr synth: unknown --craft kind '%s'; kinds:", kind);
        for (size_t i = 0; trace_craft_kinds[i]; i++)
            fprintf(stderr, " %s", trace_craft_kinds[i]);
        fprintf(stderr, "\n");
        return CLI_USAGE;
    }
    if (rc) {
        fprintf(stderr, "hvrr synth: cannot build the crafted trace\n");
        return CLI_BAD_INPUT;
    }
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "wb");
    bool ok = f && fwrite(buf, 1, len, f) == len;
    if (f && (f == stdout ? fflush(f) : fclose(f)) != 0)
        ok = false;
    free(buf);
    if (!ok) {
        fprintf(stderr, "hvrr synth: cannot write '%s'\n", out);
        return CLI_BAD_INPUT;
    }
    return CLI_OK;
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
                                         {"craft", required_argument, NULL, 'k'},
                                         {"from", required_argument, NULL, 'F'},
                                         {"vcpus", required_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct trace_synth_config sc = {.seed = 1,
                                    .exits = 100000,
                                    .tsc_jitter = TRACE_SYNTH_DEFAULT_JITTER,
                                    .checkpoint_every = 50000};
    struct trace_writer_config wc = {
        .level = TRACE_DEFAULT_LEVEL, .alloc = &trace_libc_allocator, .write = trace_write_stdio};
    const char *out = NULL, *craft = NULL, *base = NULL;
    unsigned vcpus = 1;
    unsigned long long v;
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "o:e:s:j:c:l:b:k:F:v:h", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'k': craft = optarg; break;
        case 'F': base = optarg; break;
        case 'h': help(); return CLI_OK;
        case 'l': {
            char *end;
            long lv = strtol(optarg, &end, 10);
            if (*end || end == optarg || lv < -100 || lv > 22)
                return cli_usage_error("synth", "bad --level '%s'", optarg);
            wc.level = lv ? (int)lv : TRACE_DEFAULT_LEVEL;
            break;
        }
        case 'v':
            if (cli_parse_u64(optarg, &v) || v < 1 || v > VM_DEVICES_MAX_CPUS)
                return cli_usage_error("synth", "--vcpus must be 1..%u", VM_DEVICES_MAX_CPUS);
            vcpus = (unsigned)v;
            break;
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
    if (craft && vcpus > 1)
        return cli_usage_error("synth", "--craft and --vcpus do not go together");
    if (craft)
        return write_crafted(craft, out, base, &sc);
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
    const struct smp_synth_config smp = {.vcpus = vcpus,
                                         .seed = sc.seed,
                                         .exits = sc.exits,
                                         .checkpoint_every = sc.checkpoint_every};
    int rc = vcpus > 1 ? smp_synth_write(w, &smp) : trace_synth_write(w, &sc);
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
