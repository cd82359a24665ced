/* Validation of the hypervisor command line (options.h). */
#include "hv/options.h"

#include <stdbool.h>
#include <stdint.h>

enum kind { K_BOOL, K_NUM, K_SIZE, K_ENUM, K_BENCH, K_RTC, K_REST };

static const struct {
    const char *key;
    enum kind kind;
    const char *values; /* K_ENUM: '|'-separated */
} known[] = {
    {"hv", K_ENUM, "tests"},    {"guest", K_ENUM, "linux|tests|multiboot"},
    {"mem", K_SIZE, 0},         {"timeout", K_NUM, 0},
    {"poweroff", K_BOOL, 0},    {"interactive", K_BOOL, 0},
    {"realtime", K_BOOL, 0},    {"rtc", K_RTC, 0},
    {"hidetime", K_BOOL, 0},    {"tscleaves", K_BOOL, 0},
    {"bench", K_BENCH, 0},      {"record", K_ENUM, "off|stream|flight"},
    {"record_port", K_NUM, 0},  {"record_baud", K_NUM, 0},
    {"record_level", K_NUM, 0}, {"checkpoint", K_NUM, 0},
    {"flight_mib", K_NUM, 0},   {"flight_kib", K_NUM, 0},
    {"pass_status", K_NUM, 0},  {"cmdline", K_REST, 0},
};

const char *hv_options_usage(void)
{
    return "guest=linux|tests|multiboot hv=tests pass_status=N mem=SIZE[K|M|G] timeout=S "
           "poweroff=0|1 interactive=0|1 "
           "realtime=0|1 rtc=host|SECONDS hidetime=0|1 tscleaves=0|1 bench=native:N "
           "record=off|stream|flight "
           "record_port=N "
           "record_baud=N record_level=N checkpoint=N flight_mib=N flight_kib=N cmdline=REST";
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

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Decimal, or 0x-prefixed hex; then `suffixes` may allow one letter. */
static bool number(const char *v, size_t n, const char *suffixes)
{
    size_t i = 0;
    if (n > 2 && v[0] == '0' && (v[1] | 0x20) == 'x') {
        for (i = 2; i < n && is_hex(v[i]); i++)
            ;
        return i > 2 && i == n;
    }
    for (; i < n && is_digit(v[i]); i++)
        ;
    if (i == 0)
        return false;
    if (i == n)
        return true;
    if (i + 1 != n || !suffixes)
        return false;
    for (const char *s = suffixes; *s; s++)
        if (v[i] == *s)
            return true;
    return false;
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

static bool one_of(const char *v, size_t n, const char *values)
{
    for (const char *s = values; *s;) {
        size_t k = word_len(s);
        if (same(v, n, s, k))
            return true;
        s += k;
        if (*s == '|')
            s++;
    }
    return false;
}

static bool valid(enum kind kind, const char *values, const char *v, size_t n)
{
    switch (kind) {
    case K_BOOL: return n == 1 && (v[0] == '0' || v[0] == '1');
    case K_NUM: return number(v, n, 0);
    case K_SIZE: return number(v, n, "kKmMgG");
    case K_ENUM: return one_of(v, n, values);
    case K_BENCH: return n > 7 && same(v, 7, "native:", 7) && number(v + 7, n - 7, 0);
    case K_RTC: return one_of(v, n, "host") || number(v, n, 0);
    case K_REST: return true;
    }
    return false;
}

int hv_options_check(const char *line, char *err, size_t cap)
{
    struct out o = {err, cap, 0};
    if (cap)
        err[0] = 0;
    int bad = 0;
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
        int which = -1;
        for (size_t i = 0; i < sizeof known / sizeof known[0] && k < n; i++)
            if (same(p, k, known[i].key, word_len(known[i].key)))
                which = (int)i;
        if (which >= 0 && known[which].kind == K_REST)
            break; /* cmdline=: the rest of the line is the guest's */
        const char *why = k == n      ? "not key=value"
                          : which < 0 ? "unknown option"
                          : !valid(known[which].kind, known[which].values, p + k + 1, n - k - 1)
                              ? "bad value"
                              : 0;
        if (why) {
            bad++;
            if (o.len)
                puts_(&o, "\n");
            puts_(&o, "'");
            put(&o, p, n);
            puts_(&o, "': ");
            puts_(&o, why);
            if (which >= 0 && known[which].kind == K_ENUM) {
                puts_(&o, " (");
                puts_(&o, known[which].values);
                puts_(&o, ")");
            }
        }
        p += n;
    }
    return bad;
}
