/* The hypervisor command line, parsed once (options.h). */
#include "hv/options.h"


#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

enum kind { K_BOOL, K_NUM, K_SIZE, K_ENUM, K_BENCH, K_RTC, K_REST };

enum id {
    O_HV,
    O_GUEST,
    O_MEM,
    O_TIMEOUT,
    O_POWEROFF,
    O_INTERACTIVE,
    O_REALTIME,
    O_RTC,
    O_HIDETIME,
    O_TSCLEAVES,
    O_APIC,
    O_CPUS,
    O_BENCH,
    O_RECORD,
    O_RECORD_PORT,
    O_RECORD_BAUD,
    O_RECORD_LEVEL,
    O_RECORD_FRAME,
    O_CHECKPOINT,
    O_FLIGHT_MIB,
    O_FLIGHT_KIB,
    O_PASS_STATUS,
    O_CMDLINE,
};

static const struct opt {
    const char *key;
    enum id id;
    enum kind kind;
    const char *values; /* K_ENUM: '|'-separated; numbers: the range, for the report */
    uint64_t min, max;  /* numbers */
} known[] = {
    {"hv", O_HV, K_ENUM, "tests", 0, 0},
    {"guest", O_GUEST, K_ENUM, "linux|tests|multiboot", 0, 0},
    {"mem", O_MEM, K_SIZE, "4M..64G", 4 * MIB, 64 * GIB},
    {"timeout", O_TIMEOUT, K_NUM, "0..100000000", 0, 100000000},
    {"poweroff", O_POWEROFF, K_BOOL, 0, 0, 0},
    {"interactive", O_INTERACTIVE, K_BOOL, 0, 0, 0},
    {"realtime", O_REALTIME, K_BOOL, 0, 0, 0},
    {"rtc", O_RTC, K_RTC, "host or 0..2^40", 0, 1ull << 40},
    {"hidetime", O_HIDETIME, K_BOOL, 0, 0, 0},
    {"tscleaves", O_TSCLEAVES, K_BOOL, 0, 0, 0},
    {"apic", O_APIC, K_BOOL, 0, 0, 0},
    {"cpus", O_CPUS, K_NUM, "1..4", 1, 4},
    {"bench", O_BENCH, K_BENCH, "native:0..2^32", 0, 1ull << 32},
    {"record", O_RECORD, K_ENUM, "off|stream|flight", 0, 0},
    {"record_port", O_RECORD_PORT, K_NUM, "1..0xfff8", 1, 0xfff8},
    {"record_baud", O_RECORD_BAUD, K_NUM, "115200/N", 1, 115200},
    {"record_level", O_RECORD_LEVEL, K_NUM, "1..22", 1, 22},
    {"record_frame", O_RECORD_FRAME, K_SIZE, "16K..4M", 16 * KIB, 4 * MIB},
    {"checkpoint", O_CHECKPOINT, K_NUM, "0..2^32", 0, 1ull << 32},
    {"flight_mib", O_FLIGHT_MIB, K_NUM, "1..1024", 1, 1024},
    {"flight_kib", O_FLIGHT_KIB, K_NUM, "4..1048576", 4, 1048576},
    {"pass_status", O_PASS_STATUS, K_NUM, "0..0xffffffff", 0, 0xffffffffu},
    {"cmdline", O_CMDLINE, K_REST, 0, 0, 0},
};

const char *hv_options_usage(void)
{
    return "guest=linux|tests|multiboot hv=tests pass_status=N mem=SIZE[K|M|G] timeout=S "
           "poweroff=0|1 interactive=0|1 "
           "realtime=0|1 rtc=host|SECONDS hidetime=0|1 tscleaves=0|1 apic=0|1 cpus=1..4 "
           "bench=native:N "
           "record=off|stream|flight record_port=N record_baud=N record_level=N record_frame=SIZE "
           "checkpoint=N "
           "flight_mib=N flight_kib=N cmdline=REST (numbers decimal or 0x hex)";
}

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (!o->cap)
        return;
    for (size_t i = 0; i < n && s[i] && o->len + 1 < o->cap; i++)
        o->p[o->len++] = s[i];
    o->p[o->len] = 0;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, (size_t)-1);
}

static int digit(char c, unsigned base)
{
    unsigned d;
    if (c >= '0' && c <= '9')
        d = (unsigned)(c - '0');
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        d = (unsigned)((c | 0x20) - 'a' + 10);
    else
        return -1;
    return d < base ? (int)d : -1;
}

bool hv_options_number(const char *v, size_t n, bool size, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0;
    if (n > 2 && v[0] == '0' && (v[1] | 0x20) == 'x') {
        base = 16;
        i = 2;
    }
    uint64_t shift = 0;
    if (size && n > i + 1) {
        char s = (char)(v[n - 1] | 0x20);
        shift = s == 'k' ? 10 : s == 'm' ? 20 : s == 'g' ? 30 : 0; /* none is a hex digit */
        if (shift)
            n--;
    }
    if (i == n)
        return false;
    uint64_t x = 0;
    for (; i < n; i++) {
        int d = digit(v[i], base);
        if (d < 0 || x > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        x = x * base + (uint64_t)d;
    }
    if (shift && x > UINT64_MAX >> shift)
        return false;
    *out = x << shift;
    return true;
}

/* Are the n bytes at v the k bytes at s? */
static bool same(const char *v, size_t n, const char *s, size_t k)
{
    if (n != k)
        return false;
    for (size_t j = 0; j < n; j++)
        if (s[j] != v[j])
            return false;
    return true;
}

static size_t word_len(const char *s)
{
    size_t k = 0;
    while (s[k] && s[k] != '|')
        k++;
    return k;
}

/* Index of v among the '|'-separated values, or -1. */
static int one_of(const char *v, size_t n, const char *values)
{
    int i = 0;
    for (const char *s = values; *s; i++) {
        size_t k = word_len(s);
        if (same(v, n, s, k))
            return i;
        s += k;
        if (*s == '|')
            s++;
    }
    return -1;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void defaults(struct hv_options *o)
{
    *o = (struct hv_options){
        .guest = HV_GUEST_TESTS,
        .mem_bytes = 128 * MIB,
        .timeout_s = 20,
        .rtc_host = true,
        .hide_time = true,
        .record = HV_RECORD_OFF,
        .record_port = 0x2f8,
        .record_baud = 115200,
        .record_level = 0, /* 0: the record mode's (hv/recording.h) */
        .record_frame = 0,
        .checkpoint = 8192,
        .flight_bytes = 4 * MIB,
        .cpus = 1,
    };
}

/* Stores a well-formed value; returns a problem or NULL. */
static const char *apply(const struct opt *k, const char *v, size_t n, struct hv_options *o)
{
    uint64_t x = 0;
    int e = -1;
    switch (k->kind) {
    case K_BOOL:
        if (n != 1 || (v[0] != '0' && v[0] != '1'))
            return "bad value (0|1)";
        x = v[0] == '1';
        break;
    case K_ENUM:
        e = one_of(v, n, k->values);
        if (e < 0)
            return "bad value";
        break;
    case K_NUM:
    case K_SIZE:
        if (!hv_options_number(v, n, k->kind == K_SIZE, &x))
            return "bad value";
        break;
    case K_BENCH:
        if (n < 8 || !same(v, 7, "native:", 7) || !hv_options_number(v + 7, n - 7, false, &x))
            return "bad value";
        break;
    case K_RTC:
        if (one_of(v, n, "host") == 0) {
            o->rtc_host = true;
            return 0;
        }
        if (!hv_options_number(v, n, false, &x))
            return "bad value";
        break;
    case K_REST: return 0;
    }
    if ((k->kind == K_NUM || k->kind == K_SIZE || k->kind == K_BENCH || k->kind == K_RTC) &&
        (x < k->min || x > k->max))
        return "out of range";
    switch (k->id) {
    case O_HV: o->guest = HV_GUEST_TESTS; break;
    case O_GUEST:
        o->guest = e == 0 ? HV_GUEST_LINUX : e == 2 ? HV_GUEST_MULTIBOOT : HV_GUEST_TESTS;
        break;
    case O_MEM: o->mem_bytes = (x + 2 * MIB - 1) & ~(2 * MIB - 1); break;
    case O_TIMEOUT: o->timeout_s = x; break;
    case O_POWEROFF: o->poweroff = x; break;
    case O_INTERACTIVE: o->interactive = x; break;
    case O_REALTIME: o->realtime = x; break;
    case O_RTC:
        o->rtc_host = false;
        o->rtc_sec = x;
        break;
    case O_HIDETIME: o->hide_time = x; break;
    case O_TSCLEAVES: o->tsc_leaves = x; break;
    case O_APIC: o->apic = x; break;
    case O_CPUS: o->cpus = (unsigned)x; break;
    case O_BENCH:
        o->bench = true;
        o->bench_n = x;
        break;
    case O_RECORD: o->record = (enum hv_record_mode)e; break;
    case O_RECORD_PORT: o->record_port = (uint16_t)x; break;
    case O_RECORD_BAUD:
        if (115200 % x)
            return "out of range";
        o->record_baud = (uint32_t)x;
        break;
    case O_RECORD_LEVEL: o->record_level = (int)x; break;
    case O_RECORD_FRAME: o->record_frame = (uint32_t)x; break;
    case O_CHECKPOINT: o->checkpoint = x; break;
    case O_FLIGHT_MIB: o->flight_bytes = x * MIB; break;
    case O_FLIGHT_KIB: o->flight_bytes = x * KIB; break;
    case O_PASS_STATUS: o->pass_status = (uint32_t)x; break;
    case O_CMDLINE: break;
    }
    return 0;
}

int hv_options_parse(const char *line, struct hv_options *o, char *err, size_t cap)
{
    struct out out = {err, cap, 0};
    if (cap)
        err[0] = 0;
    defaults(o);
    int bad = 0;
    bool apic_off = false; /* the last apic= given was apic=0 */
    for (const char *p = line ? line : ""; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (p[n] && p[n] != ' ')
            n++;
        size_t k = 0;
        while (k < n && p[k] != '=')
            k++;
        const struct opt *which = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0] && k < n; i++)
            if (same(p, k, known[i].key, str_len(known[i].key)))
                which = &known[i];
        if (which && which->kind == K_REST) {
            o->cmdline = p + k + 1; /* the rest of the line is the guest's */
            break;
        }
        const char *why = k == n   ? "not key=value"
                          : !which ? "unknown option"
                                   : apply(which, p + k + 1, n - k - 1, o);
        if (why) {
            bad++;
            if (out.len)
                puts_(&out, "\n");
            puts_(&out, "'");
            put(&out, p, n);
            puts_(&out, "': ");
            puts_(&out, why);
            if (which && which->values && which->kind != K_BOOL) {
                puts_(&out, " (");
                puts_(&out, which->values);
                puts_(&out, ")");
            }
        } else if (which && which->id == O_APIC) {
            apic_off = !o->apic;
        }
        p += n;
    }
    /* Several vCPUs need the local APICs (IPIs, INIT/SIPI): cpus=N>1
     * implies apic=1, and contradicts apic=0. hidetime=0 is one vCPU only:
     * the recorder hides its own time on the BSP's TSC offset. */
    if (o->cpus > 1) {
        const char *why = apic_off        ? "cpus=2..4 needs apic=1 (apic=0 given)"
                          : !o->hide_time ? "cpus=2..4 needs hidetime=1"
                                          : 0;
        if (why) {
            bad++;
            if (out.len)
                puts_(&out, "\n");
            puts_(&out, why);
        } else {
            o->apic = true;
        }
    }
    return bad;
}

int hv_options_check(const char *line, char *err, size_t cap)
{
    struct hv_options o;
    return hv_options_parse(line, &o, err, cap);
}
