/* Shared helpers of the hvrr CLI (see cli.h). */
#include "replay/cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "hv/devs/dev.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hvrr %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'hvrr %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_parse_u64(const char *s, unsigned long long *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s)
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000ull, end++;
    else if (*end == 'M')
        mul = 1000000ull, end++;
    else if (*end == 'G')
        mul = 1000000000ull, end++;
    if (*end || (v && mul > ULLONG_MAX / v))
        return -1;
    *out = v * mul;
    return 0;
}

int cli_read_trace(const char *cmd, const char *path, cli_item_fn fn, void *ctx,
                   struct trace_reader_stats *st)
{
    return cli_read_trace_raw(cmd, path, fn, ctx, NULL, NULL, st);
}

int cli_read_trace_raw(const char *cmd, const char *path, cli_item_fn fn, void *ctx,
                       trace_raw_fn raw_fn, void *raw_ctx, struct trace_reader_stats *st)
{
    memset(st, 0, sizeof *st);
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hvrr %s: cannot open '%s': %s\n", cmd, path, strerror(errno));
        return CLI_BAD_INPUT;
    }
    struct trace_reader *r = trace_reader_new();
    if (!r) {
        fprintf(stderr, "hvrr %s: out of memory\n", cmd);
        if (f != stdin)
            fclose(f);
        return CLI_BAD_INPUT;
    }
    trace_reader_set_raw_sink(r, raw_fn, raw_ctx);
    int ret = 0;
    uint64_t ndamage = 0;
    struct trace_item it;
    for (;;) {
        int rc = trace_reader_next(r, &it);
        if (rc == TRACE_R_ITEM) {
            if (it.type == TRACE_ITEM_DAMAGE && ++ndamage <= CLI_MAX_DAMAGE_LINES)
                fprintf(stderr, "hvrr %s: '%s': damage at byte %" PRIu64 " (frame %u): %s: %s\n",
                        cmd, path, it.u.damage.offset, it.frame,
                        trace_damage_kind_name(it.u.damage.kind), it.u.damage.msg);
            if (fn(ctx, &it) || ferror(stdout))
                break;
        } else if (rc == TRACE_R_MORE) {
            if (fflush(stdout) != 0)
                break; /* cli_finish reports it */
            if (trace_reader_read_file(r, f) < 0) {
                fprintf(stderr, "hvrr %s: reading '%s': %s\n", cmd, path, trace_reader_error(r));
                ret = CLI_BAD_INPUT;
                break;
            }
        } else if (rc == TRACE_R_END) {
            break;
        } else {
            fprintf(stderr, "hvrr %s: '%s': %s\n", cmd, path, trace_reader_error(r));
            ret = CLI_BAD_INPUT;
            break;
        }
    }
    if (ndamage > CLI_MAX_DAMAGE_LINES)
        fprintf(stderr, "hvrr %s: '%s': ... %" PRIu64 " more damage reports\n", cmd, path,
                ndamage - CLI_MAX_DAMAGE_LINES);
    trace_reader_get_stats(r, st);
    trace_reader_free(r);
    if (f != stdin)
        fclose(f);
    return ret;
}

int cli_flush_stdout(const char *cmd)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return CLI_OK;
    fprintf(stderr, "hvrr %s: writing the output failed: %s\n", cmd,
            errno ? strerror(errno) : "I/O error");
    return CLI_BAD_INPUT;
}

int cli_finish(const char *cmd, const char *path, int rc, const struct trace_reader_stats *st)
{
    int orc = cli_flush_stdout(cmd);
    if (rc)
        return rc;
    if (orc)
        return orc;
    if (st->frames_ok == 0) {
        fprintf(stderr, "hvrr %s: '%s': nothing recoverable\n", cmd, path);
        return CLI_BAD_INPUT;
    }
    if (st->damage_reports) {
        fprintf(stderr,
                "hvrr %s: '%s': damaged: %" PRIu64 " damage report(s), %" PRIu64
                " frame(s) lost, %" PRIu64 " bytes skipped, %" PRIu64 " bad record(s)\n",
                cmd, path, st->damage_reports, st->frames_lost, st->bytes_damaged, st->bad_records);
        return CLI_BAD_INPUT;
    }
    return CLI_OK;
}

static const char *gpr_name(unsigned n)
{
    static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    return names[n & 15];
}

static void fmt_exit(char *b, size_t n, const struct trace_exit *e)
{
    int k = snprintf(b, n, "%8" PRIu64 " cpu%u tsc=%" PRIu64 " rip=%016" PRIx64 " %-8s", e->seq,
                     e->vcpu, e->tsc, e->rip, trace_exit_reason_name(e->reason));
    if (k < 0 || (size_t)k >= n)
        return;
    b += k;
    n -= (size_t)k;
    switch (e->detail) {
    case TRACE_DETAIL_IO: {
        /* exit qualification: bit 4 string (INS/OUTS), bit 5 REP */
        const char *op =
            (e->qual & 0x10) ? (e->u.io.write ? "outs" : "ins ") : (e->u.io.write ? "out" : "in ");
        const char *rep = (e->qual & 0x30) == 0x30 ? "rep " : "";
        if (e->u.io.write)
            k = snprintf(b, n, " %s%s 0x%x/%u <- 0x%x", rep, op, e->u.io.port, e->u.io.size,
                         e->u.io.value);
        else
            k = snprintf(b, n, " %s%s 0x%x/%u -> 0x%x", rep, op, e->u.io.port, e->u.io.size,
                         e->u.io.value);
        if (k > 0 && (size_t)k < n && e->u.io.size == 1 && e->u.io.value <= 0xff &&
            isprint((int)e->u.io.value))
            snprintf(b + k, n - (size_t)k, " '%c'", (char)e->u.io.value);
        break;
    }
    case TRACE_DETAIL_NONE:
        if (e->reason == TRACE_EXIT_IO_INSTRUCTION && (e->qual & 0x10))
            snprintf(b, n, " %s 0x%x: no port access (REP count 0, or a fault on the operand)",
                     (e->qual & 8) ? "ins" : "outs", (unsigned)(e->qual >> 16) & 0xffff);
        break;
    case TRACE_DETAIL_CPUID:
        snprintf(b, n, " leaf=0x%x.%x -> %08x %08x %08x %08x", e->u.cpuid.leaf, e->u.cpuid.subleaf,
                 e->u.cpuid.eax, e->u.cpuid.ebx, e->u.cpuid.ecx, e->u.cpuid.edx);
        break;
    case TRACE_DETAIL_MSR:
        snprintf(b, n, " msr=0x%x %s 0x%" PRIx64, e->u.msr.index, e->u.msr.write ? "<-" : "->",
                 e->u.msr.value);
        break;
    case TRACE_DETAIL_XSETBV:
        snprintf(b, n, " xcr%u <- 0x%" PRIx64, e->u.xsetbv.xcr, e->u.xsetbv.value);
        break;
    case TRACE_DETAIL_CR: {
        static const char *const acc[4] = {"mov-to", "mov-from", "clts", "lmsw"};
        snprintf(b, n, " cr%u %s %s 0x%" PRIx64, e->u.cr.cr, acc[e->u.cr.access & 3],
                 gpr_name(e->u.cr.gpr), e->u.cr.value);
        break;
    }
    case TRACE_DETAIL_EPT:
        snprintf(b, n, " gpa=0x%" PRIx64 " %s%s%s gla=0x%" PRIx64 " size=%u value=0x%" PRIx64,
                 e->u.ept.gpa, e->u.ept.access & TRACE_EPT_READ ? "r" : "-",
                 e->u.ept.access & TRACE_EPT_WRITE ? "w" : "-",
                 e->u.ept.access & TRACE_EPT_FETCH ? "x" : "-", e->u.ept.gla, e->u.ept.size,
                 e->u.ept.value);
        break;
    case TRACE_DETAIL_EXTINT: snprintf(b, n, " vector=0x%x", e->u.extint.vector); break;
    default:
        if (e->qual)
            snprintf(b, n, " qual=0x%" PRIx64, e->qual);
        break;
    }
}

static void fmt_dev(char *b, size_t n, const struct trace_dev_event *d)
{
    int k = snprintf(b, n, "       - cpu%u tsc=%" PRIu64 " %-8s", d->vcpu, d->tsc,
                     trace_dev_kind_name(d->kind));
    if (k < 0 || (size_t)k >= n)
        return;
    b += k;
    n -= (size_t)k;
    switch (d->kind) {
    case TRACE_DEV_IRQ_LINE:
        snprintf(b, n, " irq%u %s", d->u.irq.irq, d->u.irq.level ? "high" : "low");
        break;
    case TRACE_DEV_INJECT:
        snprintf(b, n, " vector=0x%x%s", d->u.inject.vector, d->u.inject.nmi ? " nmi" : "");
        break;
    case TRACE_DEV_UART_RX: {
        k = snprintf(b, n, " port=0x%x %zu bytes \"", d->u.uart_rx.port, d->u.uart_rx.len);
        for (size_t i = 0; k > 0 && (size_t)k + 5 < n && i < d->u.uart_rx.len && i < 64; i++) {
            uint8_t c = d->u.uart_rx.data[i];
            k += isprint(c) && c != '"' && c != '\\' ? snprintf(b + k, n - (size_t)k, "%c", c)
                                                     : snprintf(b + k, n - (size_t)k, "\\x%02x", c);
        }
        if (k > 0 && (size_t)k + 1 < n)
            snprintf(b + k, n - (size_t)k, "\"");
        break;
    }
    case TRACE_DEV_TIMER_EDGE:
        snprintf(b, n, " %s %s", trace_timer_source_name(d->u.timer.source),
                 d->u.timer.level ? "high" : "low");
        break;
    case TRACE_DEV_INTR: snprintf(b, n, " %s", d->u.intr.level ? "high" : "low"); break;
    case TRACE_DEV_REQUEST: snprintf(b, n, " %s", dev_request_name(d->u.request.what)); break;
    case TRACE_DEV_INTR_BLOCKED:
        if (d->u.blocked.rflags)
            k = snprintf(b, n, " rflags=0x%" PRIx64 " blocking=0x%x", d->u.blocked.rflags,
                         d->u.blocked.blocking);
        else
            k = 0;
        if (d->u.blocked.nmi && k >= 0 && (size_t)k < n)
            snprintf(b + k, n - (size_t)k, " nmi");
        break;
    case TRACE_DEV_POLICY_IO:
        if (d->u.pio.addr_bits)
            snprintf(b, n,
                     " a%u rcx=0x%" PRIx64 "->0x%" PRIx64 " idx=0x%" PRIx64 "->0x%" PRIx64
                     " rflags=0x%" PRIx64 " gla=0x%" PRIx64 "%s%s",
                     d->u.pio.addr_bits, d->u.pio.rcx, d->u.pio.rcx_after, d->u.pio.index,
                     d->u.pio.index_after, d->u.pio.rflags, d->u.pio.gla,
                     d->u.pio.fault ? " #PF" : "", d->u.pio.retired ? " retired" : "");
        else
            snprintf(b, n, " rax=0x%" PRIx64 "->0x%" PRIx64, d->u.pio.rax, d->u.pio.rax_after);
        break;
    case TRACE_DEV_HALT:
        snprintf(b, n, " rflags=0x%" PRIx64 "%s%s", d->u.halt.rflags,
                 d->u.halt.input ? " input" : "",
                 d->u.halt.stop == 1   ? " power-off"
                 : d->u.halt.stop == 4 ? " idle"
                                       : "");
        break;
    case TRACE_DEV_DEADLINE:
        if (d->u.deadline.tsc == UINT64_MAX)
            snprintf(b, n, " none");
        else
            snprintf(b, n, " tsc=%" PRIu64, d->u.deadline.tsc);
        break;
    case TRACE_DEV_CPU_START:
        snprintf(b, n, " vcpu %u at SIPI vector 0x%02x (CS:IP %04x:0000)", d->u.cpu_start.vcpu,
                 d->u.cpu_start.vector, (d->u.cpu_start.vector & 0xffu) << 8);
        break;
    default: break;
    }
}

void cli_format_item(char *buf, size_t len, const struct trace_item *it)
{
    if (!len)
        return;
    buf[0] = 0;
    switch (it->type) {
    case TRACE_ITEM_EXIT: fmt_exit(buf, len, &it->u.exit); break;
    case TRACE_ITEM_DEV: fmt_dev(buf, len, &it->u.dev); break;
    case TRACE_ITEM_HEADER: {
        const struct trace_header *h = &it->u.header;
        const struct trace_host_cpu *c = &h->host_cpu;
        char host[160];
        if (c->nleaves)
            snprintf(host, sizeof host, "%zu CPUID leaves, XCR0 %#" PRIx64 "%s%s%s%s", c->nleaves,
                     c->xcr0, (c->features & TRACE_HOST_XSAVES) ? ", XSAVES" : "",
                     (c->features & TRACE_HOST_RDTSCP) ? ", RDTSCP" : "",
                     (c->features & TRACE_HOST_NO_XSAVEC) ? ", XSAVEC hidden" : "",
                     (c->features & TRACE_HOST_NO_TSC_LEAVES) ? ", TSC leaves hidden" : "");
        else
            snprintf(host, sizeof host, "not recorded");
        snprintf(buf, len,
                 "# header: format %u, hv %s, devices %s, %" PRIu64
                 " MiB RAM, %u vCPU, TSC %" PRIu64
                 " Hz, %zu devices, start checkpoint %s%s%s%s%s, host CPU: %s, cmdline \"%s\"",
                 h->format_version, h->hv_build_id, h->devmodel_version, h->ram_bytes >> 20,
                 h->vcpus, h->tsc_hz, h->ndevices, h->has_start ? "yes" : "no",
                 h->entry_decisions ? ", entry decisions" : "", h->apic ? ", APIC" : "",
                 h->policy_records ? ", policy records" : "",
                 h->intr_per_vcpu ? ", IntrLine per vCPU" : "", host, h->cmdline);
        break;
    }
    case TRACE_ITEM_CHECKPOINT: {
        const struct trace_checkpoint *c = &it->u.checkpoint;
        snprintf(buf, len,
                 "# checkpoint before exit %" PRIu64 ": tsc=%" PRIu64 " time=%" PRIu64
                 " ns, device state v%u, %zu bytes",
                 c->seq, c->tsc, c->time_ns, c->devices_version, c->devices_len);
        break;
    }
    case TRACE_ITEM_END:
        snprintf(buf, len, "# end of trace: %" PRIu64 " exits, %" PRIu64 " records, %s",
                 it->u.end.exits, it->u.end.records, trace_end_reason_name(it->u.end.reason));
        break;
    case TRACE_ITEM_DAMAGE: {
        const struct trace_damage *d = &it->u.damage;
        snprintf(buf, len,
                 "!! damage at byte %" PRIu64 " (%" PRIu64 " bytes skipped, %" PRIu64
                 " frame(s) lost): %s: %s",
                 d->offset, d->length, d->lost_frames, trace_damage_kind_name(d->kind), d->msg);
        break;
    }
    default: snprintf(buf, len, "# unknown item"); break;
    }
}

int cli_wait_child(pid_t pid, bool sig_fails)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return sig_fails ? -1 : 128 + WTERMSIG(st);
}
