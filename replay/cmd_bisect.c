/* hvrr bisect: finds the commit that made a trace diverge. Runs
 * `git bisect run` in a private clone of the repository (the caller's
 * working tree is never touched): at each commit it builds only the host CLI
 * ($(BUILD)/hvrr, in a build directory of its own) and replays the trace;
 * replay exit 0 marks the commit good, a divergence bad, and a commit that
 * does not build or cannot replay is skipped. Needs no VMX. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/cli.h"

static void help(void)
{
    printf("usage: hvrr bisect --good REV --bad REV [--repo DIR] [--keep] FILE.hvt\n\n"
           "Finds the first commit between REV good (FILE replays with 0 divergences)\n"
           "and REV bad (FILE diverges) at which FILE diverges, with git bisect run in a\n"
           "private clone of DIR (default: the repository around the current directory).\n"
           "Each step builds the host CLI only (make BUILD=<scratch> <scratch>/hvrr) and\n"
           "runs 'hvrr replay --stop-at-first FILE'; commits that do not build are\n"
           "skipped. Prints the first bad commit and its divergence report.\n\n"
           "  --keep   keep the scratch directory (clone, builds, logs) and print its path\n\n"
           "Exit status: 0 first bad commit found, 1 not a git repository, bad revisions,\n"
           "unreadable trace, or the endpoints are not good/bad, 2 usage error.\n");
}

/* Runs argv with stdout+stderr to out_path (NULL: inherit), in dir (NULL:
 * here). Returns the exit status, or -1 if it could not run. */
static int run(const char *dir, const char *out_path, char *const argv[])
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (dir && chdir(dir) != 0)
            _exit(127);
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                _exit(127);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return cli_wait_child(pid, true);
}

/* First line of a command's output into buf (trailing newline cut). */
static int capture(const char *dir, const char *tmp, char *buf, size_t len, char *const argv[])
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/capture.txt", tmp);
    int rc = run(dir, path, argv);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, (int)len, f))
            buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    return rc;
}

static void cat(const char *path, FILE *to)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        fputs(line, to);
    fclose(f);
}

/* Writes s single-quoted for sh. */
static void sh_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

static int write_step_script(const char *path, const char *repo, const char *build,
                             const char *trace, const char *tmp)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("#!/bin/sh\n# One bisect step (written by hvrr bisect): build the CLI, replay.\n", f);
    fputs("REPO=", f), sh_quote(f, repo), fputs("\nB=", f), sh_quote(f, build);
    fputs("\nT=", f), sh_quote(f, trace), fputs("\nTMP=", f), sh_quote(f, tmp);
    fputs("\ncd \"$REPO\" || exit 125\n"
          "rev=$(git rev-parse --short HEAD)\n"
          "if ! make -s BUILD=\"$B\" \"$B/hvrr\" >\"$TMP/build-$rev.log\" 2>&1; then\n"
          "    echo \"bisect step $rev: does not build, skipped\"; exit 125\n"
          "fi\n"
          "\"$B/hvrr\" replay --stop-at-first \"$T\" >\"$TMP/replay-$rev.txt\" 2>&1\n"
          "rc=$?\n"
          "if [ $rc -eq 0 ]; then echo \"bisect step $rev: good\"; exit 0; fi\n"
          "if [ $rc -eq 1 ] && grep -q '^DIVERGENCE' \"$TMP/replay-$rev.txt\"; then\n"
          "    echo \"bisect step $rev: diverges\"; exit 1\n"
          "fi\n"
          "echo \"bisect step $rev: cannot replay (rc $rc), skipped\"; exit 125\n",
          f);
    int bad = ferror(f);
    if (fclose(f) || bad)
        return -1;
    return chmod(path, 0755);
}

struct bisect {
    const char *good, *bad, *repo_arg, *trace;
    bool keep;
    char top[PATH_MAX], tmp[1024]; /* tmp short: paths below are built from it */
    char clone[PATH_MAX], build[PATH_MAX], trace_copy[PATH_MAX];
    char step[PATH_MAX];
    char good_sha[64], bad_sha[64];
};

/* Checks out rev in the clone, then runs the step script: 0 good, 1 bad,
 * 125 skip, other: failure. */
static int test_rev(struct bisect *b, const char *sha)
{
    char *co[] = {"git", "checkout", "-q", "--detach", (char *)sha, NULL};
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/checkout.log", b->tmp);
    if (run(b->clone, log, co) != 0)
        return -1;
    char *st[] = {b->step, NULL};
    return run(b->clone, NULL, st);
}

static int resolve(struct bisect *b, const char *rev, char *sha, size_t len)
{
    char spec[256];
    snprintf(spec, sizeof spec, "%s^{commit}", rev);
    char *argv[] = {"git", "rev-parse", "--verify", "--quiet", spec, NULL};
    return capture(b->top, b->tmp, sha, len, argv) == 0 && sha[0] ? 0 : -1;
}

static void cleanup(struct bisect *b)
{
    if (!b->tmp[0])
        return;
    if (b->keep) {
        printf("scratch directory kept: %s\n", b->tmp);
        return;
    }
    char *rm[] = {"rm", "-rf", b->tmp, NULL};
    run(NULL, NULL, rm);
}

static int do_bisect(struct bisect *b)
{
    /* The repository and the revisions. */
    char *top[] = {"git", "rev-parse", "--show-toplevel", NULL};
    if (capture(b->repo_arg, b->tmp, b->top, sizeof b->top, top) != 0 || !b->top[0]) {
        fprintf(stderr, "hvrr bisect: '%s' is not inside a git repository\n",
                b->repo_arg ? b->repo_arg : ".");
        return CLI_BAD_INPUT;
    }
    if (resolve(b, b->good, b->good_sha, sizeof b->good_sha)) {
        fprintf(stderr, "hvrr bisect: --good '%s' is not a commit of %s\n", b->good, b->top);
        return CLI_BAD_INPUT;
    }
    if (resolve(b, b->bad, b->bad_sha, sizeof b->bad_sha)) {
        fprintf(stderr, "hvrr bisect: --bad '%s' is not a commit of %s\n", b->bad, b->top);
        return CLI_BAD_INPUT;
    }
    char *anc[] = {"git", "merge-base", "--is-ancestor", b->good_sha, b->bad_sha, NULL};
    if (strcmp(b->good_sha, b->bad_sha) == 0 || run(b->top, "/dev/null", anc) != 0) {
        fprintf(stderr, "hvrr bisect: --good %s is not an ancestor of --bad %s\n", b->good, b->bad);
        return CLI_BAD_INPUT;
    }
    /* A private copy of the trace and a private clone. */
    char *cp[] = {"cp", (char *)b->trace, b->trace_copy, NULL};
    if (run(NULL, NULL, cp) != 0) {
        fprintf(stderr, "hvrr bisect: cannot read the trace '%s'\n", b->trace);
        return CLI_BAD_INPUT;
    }
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/clone.log", b->tmp);
    char *clone[] = {"git", "clone", "-q", "--shared", "--no-checkout", b->top, b->clone, NULL};
    if (run(NULL, log, clone) != 0) {
        fprintf(stderr, "hvrr bisect: git clone of %s failed:\n", b->top);
        cat(log, stderr);
        return CLI_BAD_INPUT;
    }
    if (write_step_script(b->step, b->clone, b->build, b->trace_copy, b->tmp)) {
        fprintf(stderr, "hvrr bisect: cannot write the step script in %s\n", b->tmp);
        return CLI_BAD_INPUT;
    }
    printf("bisecting %s..%s of %s with %s\n", b->good, b->bad, b->top, b->trace);
    /* The endpoints must be what the user says they are. */
    int rc = test_rev(b, b->good_sha);
    if (rc != 0) {
        fprintf(stderr, "hvrr bisect: --good %s %s\n", b->good,
                rc == 1 ? "already diverges: choose an older good revision"
                        : "cannot be built or replayed");
        return CLI_BAD_INPUT;
    }
    rc = test_rev(b, b->bad_sha);
    if (rc != 1) {
        fprintf(stderr, "hvrr bisect: --bad %s %s\n", b->bad,
                rc == 0 ? "replays without divergence: nothing to find"
                        : "cannot be built or replayed");
        return CLI_BAD_INPUT;
    }
    char *start[] = {"git", "bisect", "start", b->bad_sha, b->good_sha, NULL};
    snprintf(log, sizeof log, "%s/bisect.log", b->tmp);
    if (run(b->clone, log, start) != 0) {
        fprintf(stderr, "hvrr bisect: git bisect start failed:\n");
        cat(log, stderr);
        return CLI_BAD_INPUT;
    }
    char *brun[] = {"git", "bisect", "run", b->step, NULL};
    run(b->clone, log, brun);
    /* "<sha> is the first bad commit" */
    char first[64] = "";
    FILE *f = fopen(log, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char sha[64];
        if (sscanf(line, "%63[0-9a-f] is the first bad commit", sha) == 1 && strlen(sha) >= 40)
            snprintf(first, sizeof first, "%s", sha);
        if (!strncmp(line, "bisect step ", 12))
            fputs(line, stdout);
    }
    if (f)
        fclose(f);
    if (!first[0]) {
        fprintf(stderr, "hvrr bisect: git bisect did not name a first bad commit:\n");
        cat(log, stderr);
        return CLI_BAD_INPUT;
    }
    char subject[512];
    char *show[] = {"git", "log", "-1", "--format=%h %an %ad%n    %s", first, NULL};
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/subject.txt", b->tmp);
    run(b->clone, out, show);
    printf("\nfirst bad commit: %s\n", first);
    cat(out, stdout);
    (void)subject;
    /* Its divergence report, in full. */
    if (test_rev(b, first) == 1) {
        char short_sha[16];
        snprintf(short_sha, sizeof short_sha, "%.7s", first);
        char *rs[] = {"git", "rev-parse", "--short", first, NULL};
        capture(b->clone, b->tmp, short_sha, sizeof short_sha, rs);
        char rep[PATH_MAX];
        snprintf(rep, sizeof rep, "%s/replay-%s.txt", b->tmp, short_sha);
        printf("\ndivergence report at %s:\n", short_sha);
        cat(rep, stdout);
    }
    return CLI_OK;
}

int cmd_bisect(int argc, char **argv)
{
    struct bisect b = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return CLI_OK;
        } else if (!strcmp(a, "--keep")) {
            b.keep = true;
        } else if (!strcmp(a, "--good") || !strcmp(a, "--bad") || !strcmp(a, "--repo")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_error("bisect", "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--good"))
                b.good = v;
            else if (!strcmp(a, "--bad"))
                b.bad = v;
            else
                b.repo_arg = v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("bisect", "unknown option '%s'", a);
        } else if (b.trace) {
            return cli_usage_error("bisect", "one trace file only");
        } else {
            b.trace = a;
        }
    }
    if (!b.good || !b.bad)
        return cli_usage_error("bisect", "--good REV and --bad REV are required");
    if (!b.trace)
        return cli_usage_error("bisect", "no trace file given");
    if (access(b.trace, R_OK) != 0) {
        fprintf(stderr, "hvrr bisect: cannot read '%s': %s\n", b.trace, strerror(errno));
        return CLI_BAD_INPUT;
    }
    const char *td = getenv("TMPDIR");
    snprintf(b.tmp, sizeof b.tmp, "%s/hvrr-bisect.XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(b.tmp)) {
        fprintf(stderr, "hvrr bisect: cannot create a scratch directory: %s\n", strerror(errno));
        return CLI_BAD_INPUT;
    }
    char abs[PATH_MAX];
    if (realpath(b.tmp, abs) && strlen(abs) < sizeof b.tmp)
        memcpy(b.tmp, abs, strlen(abs) + 1);
    snprintf(b.clone, sizeof b.clone, "%s/repo", b.tmp);
    snprintf(b.build, sizeof b.build, "%s/build", b.tmp);
    snprintf(b.trace_copy, sizeof b.trace_copy, "%s/trace.hvt", b.tmp);
    snprintf(b.step, sizeof b.step, "%s/step.sh", b.tmp);
    int rc = do_bisect(&b);
    cleanup(&b);
    return rc;
}
