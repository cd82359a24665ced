/* hvrr stats: what a trace holds and what it lost. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hv/devs/vm_devices.h"
#include "replay/cli.h"

#define MAX_DEVICES 64
#define MAX_DAMAGE  64
#define NAME_LEN    32

static void help(void)
{
    printf("usage: hvrr stats [options] FILE\n"
           "Summarises the trace FILE ('-' for stdin): frames and records recovered,\n"
           "compression, bytes per exit, exits by reason, by port and by device,\n"
           "device events by kind, per vCPU (traces of several) its exits by reason,\n"
           "the switches between vCPUs and the vCPU starts, and every damaged stretch\n"
           "with its byte offset, length and the number of frames it cost.\n\n"
           "options:\n"
           "  -p, --ports N     list the N busiest ports (default 16, 0: all)\n"
           "  -h, --help        this text\n\n"
           "Exit status: 0 the trace is whole; 1 it is damaged (the report covers what\n"
           "was recovered; damage also goes to stderr), cannot be read, holds no usable\n"
           "frame, or the report cannot be written; 2 usage error.\n");
}

struct dev_range {
    char name[NAME_LEN];
    uint16_t base, count;
};

/* Used until (or unless) the trace's header names the devices. */
static const struct dev_range default_devices[] = {
    {"pic-master", 0x20, 2}, {"pit", 0x40, 4},      {"kbc8042", 0x60, 1}, {"port61", 0x61, 1},
    {"kbc8042", 0x64, 1},    {"cmos-rtc", 0x70, 2}, {"post", 0x80, 1},    {"pic-slave", 0xa0, 2},
    {"pci", 0xcf8, 8},       {"com1", 0x3f8, 8}};

#define STATS_VCPUS VM_DEVICES_MAX_CPUS /* vCPUs counted one by one; more share the last */
#define DEV_KINDS   16

struct stats_ctx {
    uint64_t by_reason[TRACE_EXIT_REASON_MAX + 1]; /* last slot: out of range */
    uint64_t vcpu_reason[STATS_VCPUS][TRACE_EXIT_REASON_MAX + 1];
    uint64_t vcpu_exits[STATS_VCPUS], vcpu_events[STATS_VCPUS];
    uint64_t switches, starts;
    uint32_t last_vcpu, max_vcpu;
    bool seen_exit;
    struct {
        uint64_t tsc;
        uint32_t vcpu, vector;
    } start[STATS_VCPUS];
    uint64_t port_in[65536], port_out[65536];
    uint64_t by_dev_kind[DEV_KINDS];
    uint64_t exits, dev_events, checkpoints, headers, ends;
    struct dev_range devs[MAX_DEVICES];
    size_t ndevs;
    struct trace_damage damage[MAX_DAMAGE];
    size_t ndamage;
    bool have_header;
    bool have_rtc;
    int64_t rtc_start; /* guest RTC at virtual time 0, from the start checkpoint */
    struct trace_end end;
    char cmdline[128], build[64];
    uint64_t ram, tsc_hz;
    uint32_t vcpus;
};

static int on_item(void *vctx, const struct trace_item *it)
{
    struct stats_ctx *c = vctx;
    switch (it->type) {
    case TRACE_ITEM_EXIT: {
        const struct trace_exit *e = &it->u.exit;
        unsigned r = e->reason < TRACE_EXIT_REASON_MAX ? e->reason : TRACE_EXIT_REASON_MAX;
        unsigned v = e->vcpu < STATS_VCPUS ? e->vcpu : STATS_VCPUS - 1;
        c->exits++;
        c->by_reason[r]++;
        c->vcpu_reason[v][r]++;
        c->vcpu_exits[v]++;
        if (c->seen_exit && e->vcpu != c->last_vcpu)
            c->switches++;
        c->seen_exit = true;
        c->last_vcpu = e->vcpu;
        if (e->vcpu > c->max_vcpu)
            c->max_vcpu = e->vcpu;
        if (e->detail == TRACE_DETAIL_IO) {
            if (e->u.io.write)
                c->port_out[e->u.io.port]++;
            else
                c->port_in[e->u.io.port]++;
        }
        break;
    }
    case TRACE_ITEM_DEV: {
        const struct trace_dev_event *d = &it->u.dev;
        c->dev_events++;
        c->by_dev_kind[(unsigned)d->kind < DEV_KINDS ? d->kind : 0]++;
        c->vcpu_events[d->vcpu < STATS_VCPUS ? d->vcpu : STATS_VCPUS - 1]++;
        if (d->vcpu > c->max_vcpu)
            c->max_vcpu = d->vcpu;
        if (d->kind == TRACE_DEV_CPU_START) {
            if (c->starts < STATS_VCPUS) {
                c->start[c->starts].tsc = d->tsc;
                c->start[c->starts].vcpu = d->u.cpu_start.vcpu;
                c->start[c->starts].vector = d->u.cpu_start.vector;
            }
            c->starts++;
        }
        break;
    }
    case TRACE_ITEM_CHECKPOINT: c->checkpoints++; break;
    case TRACE_ITEM_END:
        c->ends++;
        c->end = it->u.end;
        break;
    case TRACE_ITEM_HEADER: {
        const struct trace_header *h = &it->u.header;
        c->headers++;
        c->have_header = true;
        snprintf(c->cmdline, sizeof(c->cmdline), "%s", h->cmdline);
        snprintf(c->build, sizeof(c->build), "%s", h->hv_build_id);
        c->ram = h->ram_bytes;
        c->tsc_hz = h->tsc_hz;
        c->vcpus = h->vcpus;
        c->have_rtc = false;
        if (h->has_start) { /* the guest clock the run started with */
            static struct vm_devices d;
            struct vm_devices_config dc = {.apic = h->apic, .cpus = h->vcpus};
            vm_devices_init(&d, &dc, NULL, 0);
            if (vm_devices_restore(&d, h->start.devices, h->start.devices_len) == 0) {
                c->have_rtc = true;
                /* seconds(0) = ref_sec + floor((0 - ref_ns) / 1e9) */
                c->rtc_start =
                    d.cmos.ref_sec - (int64_t)((d.cmos.ref_ns + 999999999ull) / 1000000000ull);
            }
        }
        c->ndevs = 0;
        for (size_t i = 0; i < h->ndevices && c->ndevs < MAX_DEVICES; i++) {
            struct dev_range *d = &c->devs[c->ndevs++];
            snprintf(d->name, sizeof(d->name), "%s", h->devices[i].name);
            d->base = h->devices[i].port_base;
            d->count = h->devices[i].port_count;
        }
        break;
    }
    case TRACE_ITEM_DAMAGE:
        if (c->ndamage < MAX_DAMAGE)
            c->damage[c->ndamage] = it->u.damage;
        c->ndamage++;
        break;
    default: break;
    }
    return 0;
}

static const char *device_of(const struct stats_ctx *c, unsigned port)
{
    for (size_t i = 0; i < c->ndevs; i++)
        if (port >= c->devs[i].base && port < (unsigned)c->devs[i].base + c->devs[i].count)
            return c->devs[i].name;
    return "(unmapped)";
}

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static int cmp_desc(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* {count, key} pairs */
    if (x[0] != y[0])
        return x[0] < y[0] ? 1 : -1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static void print_report(const char *path, struct stats_ctx *c, const struct trace_reader_stats *st,
                         unsigned long long nports)
{
    printf("file           %s, %" PRIu64 " bytes\n", path, st->bytes_in);
    if (c->have_header)
        printf("capture        hv %s, %" PRIu64 " MiB RAM, %u vCPU, TSC %" PRIu64
               " Hz, cmdline \"%s\"\n",
               c->build, c->ram >> 20, c->vcpus, c->tsc_hz, c->cmdline);
    else
        printf("capture        header not recovered; default device map used\n");
    if (c->have_rtc) {
        struct cmos_tm tm;
        cmos_secs_to_tm(c->rtc_start, &tm);
        printf("guest RTC      %04" PRId64 "-%02u-%02u %02u:%02u:%02u UTC at virtual time 0 (start "
               "checkpoint)\n",
               tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
    }
    printf("frames         %" PRIu64 " decoded, %" PRIu64 " lost, %" PRIu64 " decoded in part\n",
           st->frames_ok, st->frames_lost, st->frames_damaged);
    printf("records        %" PRIu64 " (%" PRIu64 " exits, %" PRIu64 " device events, %" PRIu64
           " checkpoints, %" PRIu64 " unknown skipped)\n",
           st->records, c->exits, c->dev_events, c->checkpoints, st->unknown);
    if (c->ends)
        printf("end of trace   present: %" PRIu64 " exits recorded, reason %s\n", c->end.exits,
               trace_end_reason_name(c->end.reason));
    else
        printf("end of trace   MISSING (capture cut short or tail damaged)\n");
    printf("compression    %" PRIu64 " -> %" PRIu64 " payload bytes, ratio %.1f\n", st->raw_bytes,
           st->payload_bytes,
           st->payload_bytes ? (double)st->raw_bytes / (double)st->payload_bytes : 0.0);
    if (c->exits)
        printf("bytes/exit     %.3f in the file, %.3f compressed payload, %.2f uncompressed\n",
               (double)st->bytes_in / (double)c->exits,
               (double)st->payload_bytes / (double)c->exits,
               (double)st->raw_bytes / (double)c->exits);

    printf("\nexits by reason\n");
    uint64_t pairs[(TRACE_EXIT_REASON_MAX + 1) * 2];
    size_t np = 0;
    for (unsigned r = 0; r <= TRACE_EXIT_REASON_MAX; r++)
        if (c->by_reason[r]) {
            pairs[2 * np] = c->by_reason[r];
            pairs[2 * np + 1] = r;
            np++;
        }
    qsort(pairs, np, 2 * sizeof(uint64_t), cmp_desc);
    for (size_t i = 0; i < np; i++)
        printf("  %-22s %10" PRIu64 "  %5.1f%%\n",
               pairs[2 * i + 1] == TRACE_EXIT_REASON_MAX
                   ? "(out of range)"
                   : trace_exit_reason_name((uint32_t)pairs[2 * i + 1]),
               pairs[2 * i], pct(pairs[2 * i], c->exits));

    uint64_t *pp = malloc(65536 * 2 * sizeof(uint64_t));
    uint64_t io_total = 0;
    if (pp) {
        np = 0;
        for (unsigned p = 0; p < 65536; p++)
            if (c->port_in[p] + c->port_out[p]) {
                pp[2 * np] = c->port_in[p] + c->port_out[p];
                pp[2 * np + 1] = p;
                io_total += pp[2 * np];
                np++;
            }
        qsort(pp, np, 2 * sizeof(uint64_t), cmp_desc);
        printf("\nexits by port (%zu ports, %" PRIu64 " port exits)\n", np, io_total);
        printf("  port    device         in          out       %% of exits\n");
        for (size_t i = 0; i < np && (!nports || i < nports); i++) {
            unsigned p = (unsigned)pp[2 * i + 1];
            printf("  0x%04x  %-10s %10" PRIu64 " %10" PRIu64 "  %5.1f%%\n", p, device_of(c, p),
                   c->port_in[p], c->port_out[p], pct(pp[2 * i], c->exits));
        }
        if (nports && np > nports)
            printf("  ... %zu more ports\n", np - (size_t)nports);

        /* by device: fold ports into named devices */
        struct {
            const char *name;
            uint64_t n;
        } agg[MAX_DEVICES + 1];
        size_t na = 0;
        for (size_t i = 0; i < np; i++) {
            const char *name = device_of(c, (unsigned)pp[2 * i + 1]);
            size_t k;
            for (k = 0; k < na; k++)
                if (!strcmp(agg[k].name, name))
                    break;
            if (k == na) {
                if (na == MAX_DEVICES + 1)
                    continue;
                agg[na].name = name;
                agg[na].n = 0;
                na++;
            }
            agg[k].n += pp[2 * i];
        }
        printf("\nexits by device\n");
        for (size_t i = 0; i < na; i++) {
            size_t best = i;
            for (size_t k = i + 1; k < na; k++)
                if (agg[k].n > agg[best].n)
                    best = k;
            if (best != i) {
                __typeof__(agg[0]) t = agg[i];
                agg[i] = agg[best];
                agg[best] = t;
            }
            printf("  %-12s %10" PRIu64 "  %5.1f%%\n", agg[i].name, agg[i].n,
                   pct(agg[i].n, c->exits));
        }
        free(pp);
    }

    if (c->vcpus > 1 || c->max_vcpu > 0) {
        unsigned nv = c->max_vcpu + 1 > c->vcpus ? c->max_vcpu + 1 : c->vcpus;
        if (nv > STATS_VCPUS)
            nv = STATS_VCPUS;
        printf("\nexits by vCPU (%" PRIu64 " switches between consecutive exits)\n", c->switches);
        for (unsigned v = 0; v < nv; v++) {
            printf("  vcpu %u%s %10" PRIu64 "  %5.1f%%  %" PRIu64 " device events;", v,
                   v == STATS_VCPUS - 1 && c->max_vcpu >= STATS_VCPUS ? "+" : " ", c->vcpu_exits[v],
                   pct(c->vcpu_exits[v], c->exits), c->vcpu_events[v]);
            uint64_t vp[(TRACE_EXIT_REASON_MAX + 1) * 2];
            size_t nr = 0;
            for (unsigned r = 0; r <= TRACE_EXIT_REASON_MAX; r++)
                if (c->vcpu_reason[v][r]) {
                    vp[2 * nr] = c->vcpu_reason[v][r];
                    vp[2 * nr + 1] = r;
                    nr++;
                }
            qsort(vp, nr, 2 * sizeof(uint64_t), cmp_desc);
            for (size_t i = 0; i < nr && i < 4; i++)
                printf(" %s %" PRIu64,
                       vp[2 * i + 1] == TRACE_EXIT_REASON_MAX
                           ? "(out of range)"
                           : trace_exit_reason_name((uint32_t)vp[2 * i + 1]),
                       vp[2 * i]);
            if (nr > 4)
                printf(" ...");
            printf("\n");
        }
        printf("vCPU starts    %" PRIu64 "", c->starts);
        for (uint64_t i = 0; i < c->starts && i < STATS_VCPUS; i++)
            printf("%s vcpu %u at SIPI vector 0x%02x (tsc %" PRIu64 ")", i ? "," : ":",
                   c->start[i].vcpu, c->start[i].vector, c->start[i].tsc);
        printf("\n");
    }

    printf("\ndevice events\n");
    for (unsigned k = 1; k < DEV_KINDS; k++)
        if (c->by_dev_kind[k])
            printf("  %-12s %10" PRIu64 "\n", trace_dev_kind_name((enum trace_dev_kind)k),
                   c->by_dev_kind[k]);

    printf("\ndamage         %zu report(s), %" PRIu64 " bytes skipped, %" PRIu64 " frame(s) lost\n",
           c->ndamage, st->bytes_damaged, st->frames_lost);
    for (size_t i = 0; i < c->ndamage && i < MAX_DAMAGE; i++) {
        const struct trace_damage *d = &c->damage[i];
        printf("  at byte %" PRIu64 ", %" PRIu64 " bytes, %" PRIu64 " frame(s) lost: %s: %s\n",
               d->offset, d->length, d->lost_frames, trace_damage_kind_name(d->kind), d->msg);
    }
    if (c->ndamage > MAX_DAMAGE)
        printf("  ... %zu more\n", c->ndamage - MAX_DAMAGE);
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {{"ports", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    unsigned long long nports = 16;
    int o;
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            if (cli_parse_u64(optarg, &nports))
                return cli_usage_error("stats", "bad --ports '%s'", optarg);
            break;
        case 'h': help(); return CLI_OK;
        default: return cli_usage_error("stats", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("stats", "expected one trace file");
    const char *path = argv[optind];
    struct stats_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "hvrr stats: out of memory\n");
        return CLI_BAD_INPUT;
    }
    for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++)
        c->devs[c->ndevs++] = default_devices[i];
    struct trace_reader_stats st;
    int rc = cli_read_trace("stats", path, on_item, c, &st);
    if (rc == 0)
        print_report(path, c, &st, nports);
    free(c);
    return cli_finish("stats", path, rc, &st);
}
