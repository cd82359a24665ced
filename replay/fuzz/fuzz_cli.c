/* libFuzzer targets for the hvrr CLI commands (`make fuzz-all`): one binary
 * per command, chosen at build time with -DFUZZ_CMD_<NAME>. The input is the
 * trace file (for diff: two traces, split where the first 4 bytes say), held
 * in a memfd and passed by /proc/self/fd path, so the command runs its real
 * path: option parsing, reading, validation, reports and exit status.
 * The first byte picks the command's options; with its top bit set the rest
 * is taken as the uncompressed record stream (what `hvrr export --raw`
 * writes) and framed here (zstd, CRCs), so that mutations reach the record
 * checks and the commands instead of failing the frame CRC. Output goes to
 * /dev/null (set FUZZ_CLI_VERBOSE=1 to see it when reproducing a crash). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "replay/cli.h"
#include "trace/trace_frame.h"

static int fd_a = -1, fd_b = -1, devnull = -1, saved_out = -1, saved_err = -1;
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd_a = memfd_create("fuzz-a", 0);
    fd_b = memfd_create("fuzz-b", 0);
    devnull = open("/dev/null", O_WRONLY);
    verbose = getenv("FUZZ_CLI_VERBOSE") != NULL;
    if (fd_a < 0 || fd_b < 0 || devnull < 0)
        abort();
    return 0;
}

static bool raw_mode;

static void write_all(int fd, const uint8_t *p, size_t n, off_t at)
{
    if (pwrite(fd, p, n, at) != (ssize_t)n)
        abort();
}

static void put(int fd, const uint8_t *p, size_t n, char *path, size_t plen)
{
    if (ftruncate(fd, 0) != 0)
        abort();
    if (!raw_mode) {
        write_all(fd, p, n, 0);
    } else { /* one final frame holding p as its payload */
        size_t cap = ZSTD_compressBound(n);
        uint8_t *z = malloc(cap ? cap : 1);
        size_t zn = z ? ZSTD_compress(z, cap, p, n, 1) : 0;
        if (!z || ZSTD_isError(zn))
            abort();
        struct trace_frame_hdr h = {.version = TRACE_FRAME_VERSION,
                                    .flags = TRACE_FRAME_FINAL,
                                    .payload_len = (uint32_t)zn,
                                    .raw_len = (uint32_t)n,
                                    .payload_crc = trace_crc32c(0, z, zn)};
        uint8_t hdr[TRACE_FRAME_HDR_LEN];
        trace_frame_hdr_encode(&h, hdr);
        write_all(fd, hdr, sizeof hdr, 0);
        write_all(fd, z, zn, sizeof hdr);
        free(z);
    }
    snprintf(path, plen, "/proc/self/fd/%d", fd);
}

static int run(int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    if (!verbose) {
        saved_out = dup(1);
        saved_err = dup(2);
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    int rc;
#if defined(FUZZ_CMD_DUMP)
    rc = cmd_dump(argc, argv);
#elif defined(FUZZ_CMD_STATS)
    rc = cmd_stats(argc, argv);
#elif defined(FUZZ_CMD_REPLAY)
    rc = cmd_replay(argc, argv);
#elif defined(FUZZ_CMD_DIFF)
    rc = cmd_diff(argc, argv);
#elif defined(FUZZ_CMD_EXPORT)
    rc = cmd_export(argc, argv);
#else
#error "build with -DFUZZ_CMD_{DUMP,STATS,REPLAY,DIFF,EXPORT}"
#endif
    fflush(stdout);
    fflush(stderr);
    clearerr(stdout);
    if (!verbose) {
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
    }
    if (rc < 0 || rc > 2) /* the documented exit statuses only */
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    data++;
    size--;
    raw_mode = opt & 0x80;
    char a[64], b[64];
    char *argv[12];
    int argc = 0;
#if defined(FUZZ_CMD_DIFF)
    if (size < 4)
        return 0;
    uint32_t split;
    memcpy(&split, data, 4);
    data += 4;
    size -= 4;
    split = size ? split % (uint32_t)(size + 1) : 0;
    put(fd_a, data, split, a, sizeof a);
    put(fd_b, data + split, size - split, b, sizeof b);
    argv[argc++] = "diff";
    if (opt & 1)
        argv[argc++] = "--ignore-time";
    if (opt & 2)
        argv[argc++] = "--ignore-rip";
    if (opt & 4) {
        argv[argc++] = "--max";
        argv[argc++] = "3";
    }
    argv[argc++] = a;
    argv[argc++] = b;
#else
    put(fd_a, data, size, a, sizeof a);
    (void)b;
#if defined(FUZZ_CMD_DUMP)
    argv[argc++] = "dump";
    if (opt & 1)
        argv[argc++] = "--frames";
    if (opt & 2) {
        argv[argc++] = "--limit";
        argv[argc++] = "100";
    }
#elif defined(FUZZ_CMD_STATS)
    argv[argc++] = "stats";
    if (opt & 1) {
        argv[argc++] = "--ports";
        argv[argc++] = "0";
    }
#elif defined(FUZZ_CMD_REPLAY)
    static char from[24];
    argv[argc++] = "replay";
    if (opt & 1)
        argv[argc++] = "--stop-at-first";
    if (opt & 2) {
        snprintf(from, sizeof from, "%u", (unsigned)((opt >> 4) & 7) * 50);
        argv[argc++] = "--from";
        argv[argc++] = from;
    }
    if (opt & 4) {
        argv[argc++] = "--max-reports";
        argv[argc++] = "1000";
    }
#elif defined(FUZZ_CMD_EXPORT)
    argv[argc++] = "export";
    argv[argc++] = (opt & 1) ? "--perfetto" : "--raw";
    argv[argc++] = "-o";
    argv[argc++] = "/dev/null";
#endif
    argv[argc++] = a;
#endif
    argv[argc] = NULL;
    run(argc, argv);
    return 0;
}
