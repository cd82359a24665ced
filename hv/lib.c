/* Freestanding runtime: memory functions, strings, COM1 and formatted log. */
#include "hv/lib.h"
#include "hv/arch.h"

void *memcpy(void *dst, const void *src, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;
    if ((n & 7) == 0 && ((uintptr_t)dst & 7) == 0) {
        uint64_t v = 0x0101010101010101ull * (uint8_t)c;
        size_t q = n / 8;
        __asm__ volatile("rep stosq" : "+D"(dst), "+c"(q) : "a"(v) : "memory");
        return ret;
    }
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
        if (!a[i])
            return 0;
    }
    return 0;
}

const char *strstr_n(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

/* ---- physical COM1 ---- */
#define COM1 0x3f8

void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFOs on and cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void serial_putc(char c)
{
    for (unsigned spin = 0; spin < 100000 && !(inb(COM1 + 5) & 0x20); spin++)
        cpu_pause();
    outb(COM1, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
}

int serial_getc(void)
{
    if (inb(COM1 + 5) & 0x01)
        return inb(COM1);
    return -1;
}

/* ---- formatting ---- */
struct outbuf {
    char *buf;
    size_t cap, len;
};

static void ob_put(struct outbuf *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void ob_num(struct outbuf *o, uint64_t v, unsigned base, bool neg, int width, char pad)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        ob_put(o, pad);
    while (n)
        ob_put(o, tmp[--n]);
}

int hv_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    struct outbuf o = {buf, cap, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            ob_put(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        if (*fmt == 'z') {
            lng = 1;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = strlen(s);
            for (int i = (int)n; i < width; i++)
                ob_put(&o, ' ');
            while (*s)
                ob_put(&o, *s++);
            break;
        }
        case 'c': ob_put(&o, (char)va_arg(ap, int)); break;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            ob_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
            ob_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false, width, pad);
            break;
        case 'x':
            ob_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false, width, pad);
            break;
        case 'p':
            ob_put(&o, '0');
            ob_put(&o, 'x');
            ob_num(&o, (uintptr_t)va_arg(ap, void *), 16, false, 0, '0');
            break;
        case '%': ob_put(&o, '%'); break;
        default:
            ob_put(&o, '%');
            if (*fmt)
                ob_put(&o, *fmt);
            else
                fmt--;
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = 0;
    return (int)o.len;
}

int hv_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = hv_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void hv_log(const char *fmt, ...)
{
    char buf[512];
    memcpy(buf, "hvrr: ", 6);
    va_list ap;
    va_start(ap, fmt);
    int n = hv_vsnprintf(buf + 6, sizeof buf - 7, fmt, ap);
    va_end(ap);
    size_t len = 6 + ((size_t)n < sizeof buf - 8 ? (size_t)n : sizeof buf - 8);
    buf[len++] = '\n';
    serial_write(buf, len);
}

void hv_panic(const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    hv_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hv_log("PANIC: %s", buf);
    hv_log("RESULT FAIL hypervisor panic");
    hv_poweroff();
}

void hv_poweroff(void)
{
    static const char shutdown[] = "Shutdown";
    for (const char *p = shutdown; *p; p++)
        outb(0x8900, (uint8_t)*p); /* Bochs */
    outw(0xb004, 0x2000);          /* Bochs ACPI PM1a_CNT: SLP_TYP=0, SLP_EN */
    outw(0x604, 0x2000);           /* QEMU i440fx/q35 ACPI */
    outb(0xf4, 0x00);              /* QEMU isa-debug-exit, if configured */
    cpu_halt_forever();
}
