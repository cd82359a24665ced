/* The hypervisor's own command line (GRUB's multiboot2 line): every
 * key=value before cmdline= must be an option the hypervisor knows, with a
 * well-formed value. A typo must not quietly run something else (say, a
 * boot without the recording that was asked for), so main.c refuses to
 * start on any problem and prints what is accepted. Pure code, unit-tested
 * on the host (tests/test_hv_options.c). */
#ifndef HVRR_OPTIONS_H
#define HVRR_OPTIONS_H

#include <stddef.h>

/* Writes one line per problem into err (NUL-terminated, lines separated by
 * '\n', cut at cap) and returns the number of problems (0: all good). */
int hv_options_check(const char *line, char *err, size_t cap);

/* "key=what ..." for every option, for the error report. */
const char *hv_options_usage(void);

#endif
