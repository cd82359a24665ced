/* Chrome trace-event JSON export (perfetto.h). */
#include "host-sim/perfetto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/record/recorder.h"

#define PID       1
#define DEV_TID0  100 /* device tracks: 100 + index in the header's list */
#define MAX_DEVS  32
#define MAX_VCPUS 64
#define TIMER_TID 99

struct pending {
    bool valid;
    struct trace_exit e;
};

struct perfetto {
    FILE *out;
    uint64_t tsc_hz;
    bool first; /* no event written yet (comma handling) */
    struct {
        char name[24];
        uint16_t base, count;
    } dev[MAX_DEVS];
    unsigned ndev;
    bool named_dev[MAX_DEVS];
    bool named_vcpu[MAX_VCPUS];
    bool smp; /* the header has several vCPUs: INTR counters per vCPU */
    struct pending pend[MAX_VCPUS];
};

static uint64_t ns(const struct perfetto *p, uint64_t tsc)
{
    return vm_rec_tsc_to_ns(tsc, p->tsc_hz);
}

/* Microseconds with nanosecond precision, as JSON number text. */
static void put_us(FILE *f, uint64_t t_ns)
{
    fprintf(f, "%" PRIu64 ".%03u", t_ns / 1000, (unsigned)(t_ns % 1000));
}

static void ev_begin(struct perfetto *p)
{
    fputs(p->first ? "\n" : ",\n", p->out);
    p->first = false;
}

/* A JSON string body (RFC 8259 section 7): quote, backslash and control
 * characters escaped; bytes above 0x7f too (as U+0080..U+00FF), so odd names
 * from a damaged or crafted header can never make the document invalid. */
static void put_json_str(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20 || *c > 0x7e)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
}

static void meta(struct perfetto *p, const char *what, int tid, const char *name)
{
    ev_begin(p);
    fprintf(p->out, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"",
            what, PID, tid);
    put_json_str(p->out, name);
    fputs("\"}}", p->out);
}

static unsigned vcpu_of(uint32_t v)
{
    return v < MAX_VCPUS ? v : MAX_VCPUS - 1;
}

static void name_vcpu(struct perfetto *p, unsigned v)
{
    if (p->named_vcpu[v])
        return;
    p->named_vcpu[v] = true;
    char n[32];
    snprintf(n, sizeof n, "vCPU %u exits", v);
    meta(p, "thread_name", (int)v, n);
}

static int dev_of(const struct perfetto *p, uint16_t port)
{
    for (unsigned i = 0; i < p->ndev; i++)
        if (port >= p->dev[i].base && port - p->dev[i].base < p->dev[i].count)
            return (int)i;
    return -1;
}

static void exit_name(const struct trace_exit *e, char *b, size_t n)
{
    if (e->detail == TRACE_DETAIL_IO)
        snprintf(b, n, "%s 0x%x", e->u.io.write ? "out" : "in", e->u.io.port);
    else if (e->detail == TRACE_DETAIL_CPUID)
        snprintf(b, n, "CPUID 0x%x", e->u.cpuid.leaf);
    else if (e->detail == TRACE_DETAIL_MSR)
        snprintf(b, n, "%s 0x%x", e->u.msr.write ? "WRMSR" : "RDMSR", e->u.msr.index);
    else
        snprintf(b, n, "%s", trace_exit_reason_name(e->reason));
}

/* The exit slice ends where the vCPU's next record starts. */
static void close_exit(struct perfetto *p, unsigned v, uint64_t end_tsc)
{
    struct pending *pd = &p->pend[v];
    if (!pd->valid)
        return;
    pd->valid = false;
    const struct trace_exit *e = &pd->e;
    uint64_t t0 = ns(p, e->tsc), t1 = ns(p, end_tsc);
    uint64_t dur = t1 > t0 ? t1 - t0 : 0;
    char name[48];
    exit_name(e, name, sizeof name);
    ev_begin(p);
    fprintf(p->out,
            "{\"name\":\"%s\",\"cat\":\"exit\",\"ph\":\"X\",\"pid\":%d,\"tid\":%u,\"ts\":", name,
            PID, v);
    put_us(p->out, t0);
    fputs(",\"dur\":", p->out);
    put_us(p->out, dur);
    fprintf(p->out, ",\"args\":{\"seq\":%" PRIu64 ",\"reason\":\"%s\",\"rip\":\"0x%" PRIx64 "\"",
            e->seq, trace_exit_reason_name(e->reason), e->rip);
    if (e->detail == TRACE_DETAIL_IO)
        fprintf(p->out, ",\"port\":\"0x%x\",\"size\":%u,\"value\":\"0x%x\"", e->u.io.port,
                e->u.io.size, e->u.io.value);
    fputs("}}", p->out);

    if (e->detail == TRACE_DETAIL_IO) { /* device activity */
        int d = dev_of(p, e->u.io.port);
        int tid = d >= 0 ? DEV_TID0 + d : DEV_TID0 + MAX_DEVS;
        if (d >= 0 && !p->named_dev[d]) {
            p->named_dev[d] = true;
            meta(p, "thread_name", tid, p->dev[d].name);
        }
        ev_begin(p);
        fprintf(p->out,
                "{\"name\":\"%s 0x%x %s 0x%x\",\"cat\":\"device\",\"ph\":\"i\",\"s\":\"t\","
                "\"pid\":%d,\"tid\":%d,\"ts\":",
                e->u.io.write ? "out" : "in", e->u.io.port, e->u.io.write ? "<-" : "->",
                e->u.io.value, PID, tid);
        put_us(p->out, t0);
        fputs("}", p->out);
    }
}

static void counter(struct perfetto *p, const char *name, bool level, uint64_t tsc)
{
    ev_begin(p);
    fprintf(p->out, "{\"name\":\"%s\",\"ph\":\"C\",\"pid\":%d,\"ts\":", name, PID);
    put_us(p->out, ns(p, tsc));
    fprintf(p->out, ",\"args\":{\"level\":%d}}", level ? 1 : 0);
}

static void instant(struct perfetto *p, const char *name, int tid, const char *scope, uint64_t tsc)
{
    ev_begin(p);
    fprintf(p->out,
            "{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"%s\",\"pid\":%d,\"tid\":%d,\"ts\":", name, scope,
            PID, tid);
    put_us(p->out, ns(p, tsc));
    fputs("}", p->out);
}

int perfetto_item(void *vp, const struct trace_item *it)
{
    struct perfetto *p = vp;
    char name[64];
    switch (it->type) {
    case TRACE_ITEM_HEADER: {
        const struct trace_header *h = &it->u.header;
        if (h->tsc_hz)
            p->tsc_hz = h->tsc_hz;
        p->smp = h->vcpus > 1;
        p->ndev = 0;
        for (size_t i = 0; i < h->ndevices && p->ndev < MAX_DEVS; i++) {
            snprintf(p->dev[p->ndev].name, sizeof p->dev[p->ndev].name, "%s",
                     h->devices[i].name ? h->devices[i].name : "?");
            p->dev[p->ndev].base = h->devices[i].port_base;
            p->dev[p->ndev].count = h->devices[i].port_count;
            p->ndev++;
        }
        break;
    }
    case TRACE_ITEM_EXIT: {
        unsigned v = vcpu_of(it->u.exit.vcpu);
        name_vcpu(p, v);
        close_exit(p, v, it->u.exit.tsc);
        p->pend[v].valid = true;
        p->pend[v].e = it->u.exit;
        break;
    }
    case TRACE_ITEM_DEV: {
        const struct trace_dev_event *d = &it->u.dev;
        unsigned v = vcpu_of(d->vcpu);
        switch (d->kind) {
        case TRACE_DEV_IRQ_LINE:
            snprintf(name, sizeof name, "IRQ%u", d->u.irq.irq);
            counter(p, name, d->u.irq.level, d->tsc);
            break;
        case TRACE_DEV_INTR:
            if (p->smp) {
                snprintf(name, sizeof name, "vCPU %u INTR", v);
                counter(p, name, d->u.intr.level, d->tsc);
            } else {
                counter(p, "PIC INTR", d->u.intr.level, d->tsc);
            }
            break;
        case TRACE_DEV_CPU_START: {
            unsigned t = vcpu_of(d->u.cpu_start.vcpu);
            name_vcpu(p, t);
            snprintf(name, sizeof name, "start at SIPI vector 0x%02x",
                     d->u.cpu_start.vector & 0xffu);
            instant(p, name, (int)t, "t", d->tsc);
            break;
        }
        case TRACE_DEV_INJECT:
            close_exit(p, v, d->tsc);
            name_vcpu(p, v);
            if (d->u.inject.nmi)
                snprintf(name, sizeof name, "inject NMI");
            else
                snprintf(name, sizeof name, "inject vector 0x%02x", d->u.inject.vector);
            instant(p, name, (int)v, "t", d->tsc);
            break;
        case TRACE_DEV_UART_RX:
            snprintf(name, sizeof name, "UART RX %zu byte(s)", d->u.uart_rx.len);
            instant(p, name, (int)v, "t", d->tsc);
            break;
        case TRACE_DEV_TIMER_EDGE:
            snprintf(name, sizeof name, "timer %s", trace_timer_source_name(d->u.timer.source));
            counter(p, name, d->u.timer.level, d->tsc);
            break;
        case TRACE_DEV_REQUEST:
            instant(p,
                    d->u.request.what == DEV_REQ_RESET  ? "reset request"
                    : d->u.request.what == DEV_REQ_EXIT ? "debug-exit request"
                                                        : "power-off request",
                    TIMER_TID, "g", d->tsc);
            break;
        default: break;
        }
        break;
    }
    case TRACE_ITEM_CHECKPOINT:
        snprintf(name, sizeof name, "checkpoint before exit %" PRIu64, it->u.checkpoint.seq);
        instant(p, name, TIMER_TID, "g", it->u.checkpoint.tsc);
        break;
    case TRACE_ITEM_END:
        for (unsigned v = 0; v < MAX_VCPUS; v++)
            if (p->pend[v].valid)
                close_exit(p, v, p->pend[v].e.tsc);
        break;
    default: break;
    }
    return 0;
}

struct perfetto *perfetto_new(FILE *out)
{
    struct perfetto *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    p->tsc_hz = 1000000000ull;
    p->first = true;
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", out);
    meta(p, "process_name", 0, "hvrr guest (virtual time)");
    return p;
}

int perfetto_finish(struct perfetto *p)
{
    for (unsigned v = 0; v < MAX_VCPUS; v++)
        if (p->pend[v].valid)
            close_exit(p, v, p->pend[v].e.tsc);
    fputs("\n]}\n", p->out);
    int rc = ferror(p->out) ? -1 : 0;
    free(p);
    return rc;
}
