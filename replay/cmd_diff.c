/* hvrr diff: compares two traces of the same workload record by record,
 * grouped by exit (an exit and the device events recorded before it), so an
 * extra or missing event stays within its exit. Prints the first difference
 * and then every differing event. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/cli.h"

struct line {
    char *text;
    uint64_t group; /* exit this record belongs to (the next exit's seq) */
    uint64_t rec;   /* record number in its trace */
};

struct side {
    struct line *v;
    size_t n, cap;
    uint64_t group, rec;
    bool ignore_time, ignore_rip;
    bool oom;
};

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int collect(void *ctx, const struct trace_item *item)
{
    struct side *s = ctx;
    if (item->type == TRACE_ITEM_DAMAGE)
        return 0; /* damage shows as missing records */
    struct trace_item it = *item;
    if (s->ignore_time) {
        if (it.type == TRACE_ITEM_EXIT)
            it.u.exit.tsc = 0;
        if (it.type == TRACE_ITEM_DEV)
            it.u.dev.tsc = 0;
        if (it.type == TRACE_ITEM_CHECKPOINT)
            it.u.checkpoint.tsc = it.u.checkpoint.time_ns = 0;
    }
    if (s->ignore_rip && it.type == TRACE_ITEM_EXIT)
        it.u.exit.rip = 0;
    char buf[512];
    cli_format_item(buf, sizeof buf, &it);
    if (it.type == TRACE_ITEM_CHECKPOINT) {
        size_t k = strlen(buf);
        snprintf(buf + k, sizeof buf - k, ", state hash %016" PRIx64,
                 fnv(it.u.checkpoint.devices, it.u.checkpoint.devices_len));
    }
    if (it.type == TRACE_ITEM_HEADER) {
        size_t k = strlen(buf);
        snprintf(buf + k, sizeof buf - k, ", start state hash %016" PRIx64,
                 it.u.header.has_start
                     ? fnv(it.u.header.start.devices, it.u.header.start.devices_len)
                     : 0);
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        struct line *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return 1;
        }
        s->v = v;
        s->cap = cap;
    }
    char *t = strdup(buf);
    if (!t) {
        s->oom = true;
        return 1;
    }
    if (it.type == TRACE_ITEM_EXIT)
        s->group = it.u.exit.seq;
    s->v[s->n++] = (struct line){t, s->group, s->rec++};
    if (it.type == TRACE_ITEM_EXIT)
        s->group = it.u.exit.seq + 1;
    return 0;
}

static void side_free(struct side *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    free(s->v);
}

static void help(void)
{
    printf("usage: hvrr diff [--ignore-time] [--ignore-rip] [--max N] A.hvt B.hvt\n\n"
           "Compares two traces of the same workload, exit by exit (each exit with the\n"
           "device events recorded before it). Prints the first difference, then every\n"
           "differing record (at most N lines per side, default 50) and a count.\n\n"
           "  --ignore-time  do not compare TSC / time stamps\n"
           "  --ignore-rip   do not compare guest RIPs (KASLR)\n\n"
           "Exit status: 0 identical, 1 different, damaged (either trace; damage goes\n"
           "to stderr with its byte offset) or unreadable, 2 usage.\n");
}

int cmd_diff(int argc, char **argv)
{
    struct side a = {0}, b = {0};
    const char *pa = NULL, *pb = NULL;
    unsigned long long max = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help();
            return CLI_OK;
        } else if (!strcmp(argv[i], "--ignore-time")) {
            a.ignore_time = b.ignore_time = true;
        } else if (!strcmp(argv[i], "--ignore-rip")) {
            a.ignore_rip = b.ignore_rip = true;
        } else if (!strcmp(argv[i], "--max")) {
            if (i + 1 >= argc || cli_parse_u64(argv[++i], &max))
                return cli_usage_error("diff", "--max needs a number");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("diff", "unknown option '%s'", argv[i]);
        } else if (!pa) {
            pa = argv[i];
        } else if (!pb) {
            pb = argv[i];
        } else {
            return cli_usage_error("diff", "two trace files only");
        }
    }
    if (!pb)
        return cli_usage_error("diff", "needs two trace files");
    struct trace_reader_stats sa, sb;
    int rc = cli_read_trace("diff", pa, collect, &a, &sa);
    if (!rc)
        rc = cli_read_trace("diff", pb, collect, &b, &sb);
    if (!rc && (a.oom || b.oom)) {
        fprintf(stderr, "hvrr diff: out of memory\n");
        rc = CLI_BAD_INPUT;
    }
    if (rc) {
        side_free(&a);
        side_free(&b);
        return rc;
    }
    unsigned long long ndiff = 0, groups = 0, shown = 0;
    size_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        uint64_t g =
            i < a.n && (j >= b.n || a.v[i].group <= b.v[j].group) ? a.v[i].group : b.v[j].group;
        size_t ie = i, je = j;
        while (ie < a.n && a.v[ie].group == g)
            ie++;
        while (je < b.n && b.v[je].group == g)
            je++;
        bool same = ie - i == je - j;
        for (size_t k = 0; same && k < ie - i; k++)
            same = !strcmp(a.v[i + k].text, b.v[j + k].text);
        if (!same) {
            groups++;
            if (groups == 1)
                printf("first difference at exit %" PRIu64 " (record %" PRIu64 " of A, %" PRIu64
                       " of B)\n",
                       g, i < a.n ? a.v[i].rec : a.n, j < b.n ? b.v[j].rec : b.n);
            size_t na = ie - i, nb = je - j, m = na > nb ? na : nb;
            for (size_t k = 0; k < m; k++) {
                const char *x = k < na ? a.v[i + k].text : NULL;
                const char *y = k < nb ? b.v[j + k].text : NULL;
                if (x && y && !strcmp(x, y))
                    continue;
                ndiff++;
                if (shown++ < max) {
                    printf("exit %" PRIu64 ":\n", g);
                    printf("  A %s\n", x ? x : "(no record)");
                    printf("  B %s\n", y ? y : "(no record)");
                }
            }
        }
        i = ie;
        j = je;
    }
    if (shown > max)
        printf("(%llu more differing records not shown)\n", shown - max);
    bool damaged = sa.damage_reports || sb.damage_reports;
    if (ndiff)
        printf("%llu differing record(s) in %llu exit(s); A has %zu records, B %zu\n", ndiff,
               groups, a.n, b.n);
    else if (damaged)
        printf("no differing records (%zu), but damaged: what was lost is not compared\n", a.n);
    else
        printf("identical: %zu records\n", a.n);
    /* Damage is not identity: garbage around a trace or lost frames count. */
    if (sa.damage_reports)
        printf("A is damaged: %" PRIu64 " damage report(s) (details on stderr)\n",
               sa.damage_reports);
    if (sb.damage_reports)
        printf("B is damaged: %" PRIu64 " damage report(s) (details on stderr)\n",
               sb.damage_reports);
    side_free(&a);
    side_free(&b);
    if (cli_flush_stdout("diff"))
        return CLI_BAD_INPUT;
    if (sa.frames_ok == 0 || sb.frames_ok == 0) {
        fprintf(stderr, "hvrr diff: '%s': nothing recoverable\n", sa.frames_ok ? pb : pa);
        return CLI_BAD_INPUT;
    }
    return ndiff || damaged ? 1 : CLI_OK;
}
