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
           "                      'SEQ-GAPS N' (exits missing from the sequence)\n"
           "  -q, --quiet         no progress line\n"
           "  -h, --help          this text\n\n"
           "Exit status: 0 the end-of-trace record arrived (or Ctrl-C stopped a capture\n"
           "that had frames), 1 the source cannot be read or ended without an end\n"
           "record (the file is still written), 2 usage error.\n");
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

struct cap {
    uint8_t *buf;
    size_t len, cap;
    size_t start; /* where the selected trace begins (first marker), SIZE_MAX: not found yet */
    size_t fed;   /* bytes handed to the reader (absolute) */
    size_t end;   /* end of the final frame, 0 until seen */
    unsigned long long skip;
    struct trace_reader *r;
    uint64_t frames, events, damage, exits;
    uint64_t next_seq, gaps, missing;
    bool have_seq;
    uint64_t by_reason[CAP_REASONS + 1]; /* the hv's EXIT-COUNTS slots; the last: the rest */
};

static size_t find_marker(const struct cap *c, size_t from)
{
    for (size_t i = from; i + 4 <= c->len; i++)
        if (c->buf[i] == TRACE_MARKER0 && c->buf[i + 1] == TRACE_MARKER1 &&
            c->buf[i + 2] == TRACE_MARKER2 && c->buf[i + 3] == TRACE_MARKER3)
            return i;
    return SIZE_MAX;
}

static void reset_counts(struct cap *c)
{
    c->frames = c->events = c->damage = c->exits = 0;
    c->next_seq = c->gaps = c->missing = 0;
    c->have_seq = false;
    memset(c->by_reason, 0, sizeof c->by_reason);
}

static int restart(struct cap *c, size_t from)
{
    if (c->r)
        trace_reader_free(c->r);
    c->r = trace_reader_new();
    if (!c->r)
        return -1;
    c->start = SIZE_MAX;
    c->fed = from;
    reset_counts(c);
    return 0;
}

/* Feeds what arrived and drains the reader. Returns 1 once the selected
 * trace's end record was seen, 0 to go on, -1 on a reader failure. */
static int pump(struct cap *c)
{
    for (;;) {
        if (c->start == SIZE_MAX) {
            size_t m = find_marker(c, c->fed);
            if (m == SIZE_MAX) {
                if (c->len > c->fed + 3)
                    c->fed = c->len - 3; /* a marker may straddle the next read */
                return 0;
            }
            c->start = c->fed = m;
        }
        if (c->fed < c->len) {
            if (trace_reader_feed(c->r, c->buf + c->fed, c->len - c->fed))
                return -1;
            c->fed = c->len;
        }
        struct trace_item it;
        int rc;
        bool restarted = false;
        while ((rc = trace_reader_next(c->r, &it)) == TRACE_R_ITEM) {
            switch (it.type) {
            case TRACE_ITEM_EXIT: {
                c->events++;
                c->exits++;
                uint32_t rs = it.u.exit.reason;
                c->by_reason[rs < CAP_REASONS ? rs : CAP_REASONS]++;
                if (c->have_seq && it.u.exit.seq != c->next_seq) {
                    c->gaps++;
                    if (it.u.exit.seq > c->next_seq)
                        c->missing += it.u.exit.seq - c->next_seq;
                }
                c->have_seq = true;
                c->next_seq = it.u.exit.seq + 1;
                break;
            }
            case TRACE_ITEM_DEV: c->events++; break;
            case TRACE_ITEM_DAMAGE:
                if (it.u.damage.kind != TRACE_DMG_NO_END)
                    c->damage++;
                break;
            case TRACE_ITEM_END: {
                struct trace_frame_hdr h;
                size_t at = c->start + (size_t)it.offset;
                if (at + TRACE_FRAME_HDR_LEN > c->len || trace_frame_hdr_decode(c->buf + at, &h))
                    return -1;
                size_t end = at + TRACE_FRAME_HDR_LEN + h.payload_len;
                if (!c->skip) {
                    struct trace_reader_stats st;
                    trace_reader_get_stats(c->r, &st);
                    c->frames = st.frames_ok;
                    c->end = end;
                    return 1;
                }
                c->skip--;
                if (restart(c, end))
                    return -1;
                restarted = true;
                break;
            }
            default: break;
            }
            if (restarted)
                break;
        }
        if (rc == TRACE_R_FATAL)
            return -1;
        if (!restarted) {
            struct trace_reader_stats st;
            trace_reader_get_stats(c->r, &st);
            c->frames = st.frames_ok;
            return 0;
        }
    }
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
            c->start == SIZE_MAX ? 0 : c->len - c->start, c->frames, c->events, c->exits, c->damage,
            last ? "\n" : "   ");
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

    struct cap c = {.skip = skip};
    if (restart(&c, 0)) {
        fprintf(stderr, "hvrr capture: out of memory\n");
        return CLI_BAD_INPUT;
    }
    int state = 0, rc = CLI_OK;
    double last = 0;
    bool read_err = false;
    while (!interrupted && state == 0) {
        if (c.cap - c.len < 65536) {
            size_t ncap = c.cap ? c.cap * 2 : 1u << 20;
            uint8_t *nb = realloc(c.buf, ncap);
            if (!nb) {
                fprintf(stderr, "\nhvrr capture: out of memory\n");
                read_err = true;
                break;
            }
            c.buf = nb;
            c.cap = ncap;
        }
        ssize_t n = read(fd, c.buf + c.len, c.cap - c.len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "\nhvrr capture: reading '%s': %s\n", src, strerror(errno));
            read_err = true;
            break;
        }
        if (n == 0)
            break; /* end of file / pipe closed */
        c.len += (size_t)n;
        state = pump(&c);
        if (!quiet && now_s() - last > 0.5) {
            progress(&c, false);
            last = now_s();
        }
    }
    if (state == 0 && !read_err) {
        trace_reader_eof(c.r);
        state = pump(&c);
    }
    if (!quiet)
        progress(&c, true);
    if (fd != 0)
        close(fd);

    size_t from = c.start, to = state == 1 ? c.end : c.len;
    if (from == SIZE_MAX) {
        fprintf(stderr, "hvrr capture: no trace frame found in '%s'%s\n", src,
                skip ? " (after the skipped traces)" : "");
        rc = CLI_BAD_INPUT;
        from = to = 0;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(c.buf + from, 1, to - from, f) != to - from || fclose(f) != 0) {
        fprintf(stderr, "hvrr capture: cannot write '%s': %s\n", out, strerror(errno));
        rc = CLI_BAD_INPUT;
    } else if (from != to) {
        fprintf(stderr, "hvrr capture: wrote %zu bytes to %s%s\n", to - from, out,
                state == 1    ? ", end of trace seen"
                : interrupted ? ", stopped by Ctrl-C (no end-of-trace record)"
                              : ", input ended without the end-of-trace record");
    }
    if (state != 1 && !(interrupted && from != to))
        rc = CLI_BAD_INPUT;
    if (state < 0) {
        fprintf(stderr, "hvrr capture: reader failure: %s\n", trace_reader_error(c.r));
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
    free(c.buf);
    return rc;
}
