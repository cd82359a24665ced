/* Freestanding helpers for the hypervisor: memory functions, strings, log. */
#ifndef HVRR_HV_LIB_H
#define HVRR_HV_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
const char *strstr_n(const char *hay, size_t hay_len, const char *needle);

/* Physical COM1 (0x3f8): the hypervisor log and the guest console. */
void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
int serial_getc(void); /* -1 if nothing received */

/* printf subset: %s %c %d %u %x %p with l/ll, zero-pad and width. */
int hv_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int hv_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Raw output (no prefix). */
/* One log line prefixed with "hvrr: " (the newline is added). */
void hv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void hv_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends the emulator (Bochs shutdown port, ACPI off on Bochs/QEMU, QEMU's
 * isa-debug-exit), or halts on real hardware. */
__attribute__((noreturn)) void hv_poweroff(void);

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

#endif
