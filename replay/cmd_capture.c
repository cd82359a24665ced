/* hvrr capture: read a trace as it leaves the hypervisor's trace port (a
 * serial device, or a file/pipe as Bochs and QEMU write it) and store it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "replay/cli.h"
#include "trace/trace_frame.h"

static void help(void)
{
    printf("usage: hvrr capture [options] SOURCE -o FILE.hvt\n"
           "Reads a trace from SOURCE (a serial device such as /dev/ttyS1, a file, a\n"
           "pipe, or '-' for stdin) and writes it to FILE.hvt, from the first frame\n"
           "marker to the end of the frame holding the end-of-trace record. Stops there,\n"
           "at the end of the input, or on Ctrl-C (what arrived so far is kept).\n"
           "Progress (bytes, frames, events, damage) goes to stderr.\n\n"
           "options:\n"
           "  -o, --output FILE   where to write the trace (required)\n"
           "  -b, --baud N        line speed for a serial device (default 115200)\n"
           "  -t, --trace N       skip N complete traces first (the hypervisor writes one\n"
           "                      trace per VM, one after another)\n"
           "  -c, --counts        at the end print 'EXIT-COUNTS total=N rREASON=N ...' and\n"
           "                      'SEQ-GAPS N' (gaps in the exit sequence, counting exits\n"
           "                      lost before the first and after the last surviving frame)\n"
           "  -q, --quiet         no progress line\n"
           "  -h, --help          this text\n\n"
           "The file is written as bytes arrive (memory stays bounded). Damage and\n"
           "exits missing from the sequence go to stderr even with -q.\n\n"
           "Exit status: 0 the end-of-trace record arrived (or Ctrl-C stopped a capture\n"
           "that had frames) and nothing was damaged or missing; 1 damage, missing exits,\n"
           "the source cannot be read or ended without an end record (the file is still\n"
           "written), or the file cannot be written; 2 usage error.\n");
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static speed_t baud_const(unsigned long long b)
{
    switch (b) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    default: return 0;
    }
}

/* The hypervisor's EXIT-COUNTS line counts reasons 0..79 one by one and
 * everything else (80 and up, its VMfail pseudo-reason) in slot 80. */
#define CAP_REASONS 80
#define CAP_CHUNK   (64u << 10) /* one read(2) */

/* The capture streams: bytes go to the output file as they arrive (from the
 * selected trace's first marker on), so memory stays bounded on an endless
 * source; the reader keeps at most one frame. Offsets are absolute input
 * offsets. */
struct cap {
    FILE *out;
    bool out_err;
    uint8_t carry[3]; /* last bytes before the current chunk while searching */
    size_t ncarry;
    bool started;     /* the selected trace (or one being skipped) began */
    uint64_t start;   /* its first marker */
    uint64_t written; /* output holds input [start, written) */
    uint64_t end;     /* end of the final frame once seen */
    unsigned long long skip;
    struct trace_reader *r;
    uint64_t frames, events, damage, exits;
    uint64_t next_seq, gaps, missing;
    bool have_seq;
    uint64_t by_reason[CAP_REASONS + 1]; /* the hv's EXIT-COUNTS slots; the last: the rest */
    uint64_t in_bytes;                   /* bytes read from the source */
};

static void reset_counts(struct cap *c)
{
    c->frames = c->events = c->damage = c->exits = 0;
    c->next_seq = c->gaps = c->missing = 0;
    c->have_seq = false;
    memset(c->by_reason, 0, sizeof c->by_reason);
}

static int restart(struct cap *c)
{
    if (c->r)
        trace_reader_free(c->r);
    c->r = trace_reader_new();
    if (!c->r)
        return -1;
    c->started = false;
    c->ncarry = 0;
    reset_counts(c);
    return 0;
}

static void put_out(struct cap *c, const uint8_t *p, size_t n)
{
    if (c->skip || !n || c->out_err)
        return;
    if (fwrite(p, 1, n, c->out) != n)
        c->out_err = true;
    c->written += n;
}

static void seq_gap(struct cap *c, uint64_t want, uint64_t got)
{
    c->gaps++;
    if (got > want)
        c->missing += got - want;
}

/* Drains the reader. Returns 1 once the trace's end record was seen (c->end
 * set), 0 to go on, -1 on a reader failure. */
static int drain(struct cap *c, const char *src)
{
    struct trace_item it;
    int rc;
    while ((rc = trace_reader_next(c->r, &it)) == TRACE_R_ITEM) {
        switch (it.type) {
        case TRACE_ITEM_EXIT: {
            c->events++;
            c->exits++;
            uint32_t rs = it.u.exit.reason;
            c->by_reason[rs < CAP_REASONS ? rs : CAP_REASONS]++;
            /* exits are numbered from 0: a first exit above 0 means lost ones */
            uint64_t want = c->have_seq ? c->next_seq : 0;
            if (it.u.exit.seq != want)
                seq_gap(c, want, it.u.exit.seq);
            c->have_seq = true;
            c->next_seq = it.u.exit.seq + 1;
            break;
        }
        case TRACE_ITEM_DEV: c->events++; break;
        case TRACE_ITEM_DAMAGE:
            if (it.u.damage.kind != TRACE_DMG_NO_END) {
                c->damage++;
                if (!c->skip)
                    fprintf(stderr,
                            "%shvrr capture: '%s': damage at byte %" PRIu64
                            " (frame %u; byte %" PRIu64 " of the output): %s: %s\n",
                            c->damage == 1 ? "\n" : "", src, c->start + it.u.damage.offset,
                            it.frame, it.u.damage.offset, trace_damage_kind_name(it.u.damage.kind),
                            it.u.damage.msg);
            }
            break;
        case TRACE_ITEM_END:
            /* exits lost after the last surviving frame */
            if (it.u.end.exits > (c->have_seq ? c->next_seq : 0))
                seq_gap(c, c->have_seq ? c->next_seq : 0, it.u.end.exits);
            c->end = c->start + trace_reader_frame_end(c->r);
            return 1;
        default: break;
        }
    }
    if (rc == TRACE_R_FATAL)
        return -1;
    struct trace_reader_stats st;
    trace_reader_get_stats(c->r, &st);
    c->frames = st.frames_ok;
    return 0;
}

static bool marker_at(const uint8_t *p)
{
    return p[0] == TRACE_MARKER0 && p[1] == TRACE_MARKER1 && p[2] == TRACE_MARKER2 &&
           p[3] == TRACE_MARKER3;
}

/* Takes input [off, off + n). Returns 1 when the selected trace ended, 0 to
 * go on, -1 on a reader failure. */
static int take(struct cap *c, const uint8_t *p, size_t n, uint64_t off, const char *src)
{
    while (n) {
        if (!c->started) {
            /* search carry + p for a marker */
            uint8_t head[6];
            size_t nh = c->ncarry + (n < 3 ? n : 3);
            memcpy(head, c->carry, c->ncarry);
            memcpy(head + c->ncarry, p, nh - c->ncarry);
            size_t m = SIZE_MAX;
            for (size_t i = 0; i + 4 <= nh && i < c->ncarry; i++)
                if (marker_at(head + i)) {
                    m = i;
                    break;
                }
            if (m != SIZE_MAX) { /* straddles: its first bytes are in carry */
                c->started = true;
                c->start = off - (c->ncarry - m);
                c->written = c->start;
                if (trace_reader_feed(c->r, head + m, c->ncarry - m))
                    return -1;
                put_out(c, head + m, c->ncarry - m);
            } else {
                const uint8_t *q = p;
                for (; (size_t)(q - p) + 4 <= n; q++) {
                    q = memchr(q, TRACE_MARKER0, n - (size_t)(q - p) - 3);
                    if (!q || marker_at(q))
                        break;
                }
                if (!q || (size_t)(q - p) + 4 > n) {
                    /* keep the last 3 bytes: a marker may straddle the next read */
                    uint8_t t[6];
                    size_t nt = c->ncarry + (n < 3 ? n : 3);
                    memcpy(t, c->carry, c->ncarry);
                    memcpy(t + c->ncarry, p + n - (nt - c->ncarry), nt - c->ncarry);
                    c->ncarry = nt > 3 ? 3 : nt;
                    memcpy(c->carry, t + nt - c->ncarry, c->ncarry);
                    return 0;
                }
                size_t k = (size_t)(q - p);
                c->started = true;
                c->start = off + k;
                c->written = c->start;
                p += k;
                n -= k;
                off += k;
            }
            c->ncarry = 0;
        }
        if (trace_reader_feed(c->r, p, n))
            return -1;
        int st = drain(c, src);
        if (st < 0)
            return -1;
        size_t use = st ? (size_t)(c->end - off) : n; /* the end lies in this chunk */
        put_out(c, p, use);
        if (!st)
            return 0;
        if (!c->skip)
            return 1;
        c->skip--; /* a skipped trace ended: look for the next one after it */
        if (restart(c))
            return -1;
        p += use;
        n -= use;
        off += use;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(const struct cap *c, bool last)
{
    fprintf(stderr,
            "\rcapture: %zu bytes, %" PRIu64 " frames, %" PRIu64 " events (%" PRIu64
            " exits), %" PRIu64 " damage%s",
            (size_t)(c->started ? c->written - c->start : 0), c->frames, c->events, c->exits,
            c->damage, last ? "\n" : "   ");
}

int cmd_capture(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"baud", required_argument, NULL, 'b'},
                                         {"trace", required_argument, NULL, 't'},
                                         {"counts", no_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    unsigned long long baud = 115200, skip = 0;
    bool counts = false, quiet = false;
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "o:b:t:cqh", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'b':
            if (cli_parse_u64(optarg, &baud) || !baud_const(baud))
                return cli_usage_error("capture", "bad --baud '%s'", optarg);
            break;
        case 't':
            if (cli_parse_u64(optarg, &skip))
                return cli_usage_error("capture", "bad --trace '%s'", optarg);
            break;
        case 'c': counts = true; break;
        case 'q': quiet = true; break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("capture", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("capture", "expected one SOURCE");
    if (!out)
        return cli_usage_error("capture", "-o FILE is required");
    const char *src = argv[optind];

    int fd = strcmp(src, "-") ? open(src, O_RDONLY | O_NOCTTY) : 0;
    if (fd < 0) {
        fprintf(stderr, "hvrr capture: cannot open '%s': %s\n", src, strerror(errno));
        return CLI_BAD_INPUT;
    }
    if (isatty(fd)) {
        struct termios t;
        if (tcgetattr(fd, &t) == 0) {
            cfmakeraw(&t);
            t.c_cflag |= CLOCAL | CREAD;
            t.c_cc[VMIN] = 1;
            t.c_cc[VTIME] = 0;
            cfsetispeed(&t, baud_const(baud));
            cfsetospeed(&t, baud_const(baud));
            if (tcsetattr(fd, TCSANOW, &t) != 0)
                fprintf(stderr, "hvrr capture: cannot set %llu baud on '%s': %s\n", baud, src,
                        strerror(errno));
        }
    }
    struct sigaction sa = {.sa_handler = on_sigint}; /* no SA_RESTART: read() returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    FILE *of = fopen(out, "wb");
    if (!of) {
        fprintf(stderr, "hvrr capture: cannot create '%s': %s\n", out, strerror(errno));
        if (fd != 0)
            close(fd);
        return CLI_BAD_INPUT;
    }
    struct cap c = {.skip = skip, .out = of};
    uint8_t *buf = malloc(CAP_CHUNK);
    if (!buf || restart(&c)) {
        fprintf(stderr, "hvrr capture: out of memory\n");
        free(buf);
        fclose(of);
        return CLI_BAD_INPUT;
    }
    int state = 0, rc = CLI_OK;
    double last = 0;
    bool read_err = false;
    while (!interrupted && state == 0) {
        ssize_t n = read(fd, buf, CAP_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "\nhvrr capture: reading '%s': %s\n", src, strerror(errno));
            read_err = true;
            break;
        }
        if (n == 0)
            break; /* end of file / pipe closed */
        state = take(&c, buf, (size_t)n, c.in_bytes, src);
        c.in_bytes += (uint64_t)n;
        if (c.out_err)
            break;
        if (!quiet && now_s() - last > 0.5) {
            progress(&c, false);
            last = now_s();
        }
    }
    /* Ctrl-C: the frame in flight was cut by the user, not damaged */
    if (state == 0 && !read_err && !c.out_err && !interrupted) {
        trace_reader_eof(c.r);
        state = drain(&c, src);
        if (state == 1 && c.end < c.written) /* cannot happen: the end frame is whole */
            state = -1;
    }
    if (!quiet)
        progress(&c, true);
    if (fd != 0)
        close(fd);
    free(buf);

    bool have = c.started && !c.skip;
    if (fclose(of) != 0 || c.out_err) {
        fprintf(stderr, "hvrr capture: cannot write '%s': %s\n", out, strerror(errno));
        rc = CLI_BAD_INPUT;
    } else if (!have) {
        fprintf(stderr, "hvrr capture: no trace frame found in '%s'%s\n", src,
                skip ? " (after the skipped traces)" : "");
        rc = CLI_BAD_INPUT;
    } else {
        fprintf(stderr, "hvrr capture: wrote %" PRIu64 " bytes to %s%s\n", c.written - c.start, out,
                state == 1    ? ", end of trace seen"
                : interrupted ? ", stopped by Ctrl-C (no end-of-trace record)"
                              : ", input ended without the end-of-trace record");
    }
    if (state != 1 && !(interrupted && have))
        rc = CLI_BAD_INPUT;
    if (state < 0) {
        fprintf(stderr, "hvrr capture: reader failure: %s\n", trace_reader_error(c.r));
        rc = CLI_BAD_INPUT;
    }
    if (c.damage) {
        fprintf(stderr, "hvrr capture: the trace is damaged: %" PRIu64 " damage report(s)%s\n",
                c.damage, c.gaps ? ", exits missing (see SEQ-GAPS with --counts)" : "");
        rc = CLI_BAD_INPUT;
    } else if (c.gaps) {
        fprintf(stderr, "hvrr capture: %" PRIu64 " exit(s) missing from the sequence\n", c.missing);
        rc = CLI_BAD_INPUT;
    }
    if (counts) {
        printf("EXIT-COUNTS total=%" PRIu64, c.exits);
        for (unsigned r = 0; r <= CAP_REASONS; r++)
            if (c.by_reason[r])
                printf(" r%u=%" PRIu64, r, c.by_reason[r]);
        printf("\nSEQ-GAPS %" PRIu64 " (%" PRIu64 " exits missing), DAMAGE %" PRIu64 "\n", c.gaps,
               c.missing, c.damage);
    }
    trace_reader_free(c.r);
    if (counts && cli_flush_stdout("capture"))
        rc = CLI_BAD_INPUT;
    return rc;
}
