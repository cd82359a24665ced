/* The hypervisor's own command line (GRUB's multiboot2 line), parsed once
 * into struct hv_options that everything reads. Every key=value before
 * cmdline= must be an option the hypervisor knows, with a well-formed value
 * in range; cmdline= takes the rest of the line for the Linux guest and
 * nothing in it is read as a hypervisor option. A typo must not quietly run
 * something else (say, a boot without the recording that was asked for), so
 * main.c refuses to start on any problem and prints what is accepted.
 *
 * Numbers: decimal or 0x-prefixed hex, everywhere; sizes (mem=) may end in
 * one K, M or G (either case, binary units) after either form. A value that
 * does not fit, or falls outside the option's range, is a problem, never
 * wrapped or clamped. A key given twice: the last one counts.
 *
 * Pure code, unit-tested on the host (tests/test_hv_options.c). */
#ifndef HVRR_OPTIONS_H
#define HVRR_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hv_guest { HV_GUEST_TESTS = 0, HV_GUEST_LINUX, HV_GUEST_MULTIBOOT };
enum hv_record_mode { HV_RECORD_OFF = 0, HV_RECORD_STREAM, HV_RECORD_FLIGHT };

struct hv_options {
    enum hv_guest guest;        /* guest=linux|tests|multiboot, hv=tests; default tests */
    uint32_t pass_status;       /* pass_status=N: the isa-debug-exit value that is a PASS; 0 */
    uint64_t mem_bytes;         /* mem=SIZE, 4M..64G, rounded up to 2 MiB; default 128M */
    uint64_t timeout_s;         /* timeout=S virtual seconds per test guest; 0 none; default 20 */
    bool poweroff;              /* poweroff=1: end the emulator when done */
    bool interactive;           /* interactive=1: an idle guest waits for COM1 input */
    bool realtime;              /* realtime=1: an idle guest's clock keeps pace with the host's */
    bool rtc_host;              /* rtc=host (default): the guest RTC starts at the host's date */
    uint64_t rtc_sec;           /* rtc=SECONDS: ... at this Unix time */
    bool hide_time;             /* hidetime=0|1, default 1: exits take no guest TSC time */
    bool tsc_leaves;            /* tscleaves=1: CPUID 0x15/0x16 announce the TSC frequency */
    bool apic;                  /* apic=1: local APIC + I/O APIC + ACPI tables (Linux); default 0 */
    unsigned cpus;              /* cpus=1..4 vCPUs (Linux); default 1; 2..4 imply apic=1 */
    bool bench;                 /* bench=native:N given */
    uint64_t bench_n;           /* ... N */
    enum hv_record_mode record; /* record=off|stream|flight, default off */
    uint16_t record_port;       /* record_port=, UART base, default 0x2f8 */
    uint32_t record_baud;       /* record_baud=, a divisor of 115200, default 115200 */
    int record_level;           /* record_level=1..22 (zstd); 0: stream 1, flight 3 */
    uint32_t
        record_frame;    /* record_frame=16K..4M: raw bytes per frame; 0: stream 256K, flight 64K */
    uint64_t checkpoint; /* checkpoint=N exits between checkpoints (0 none), default 8192 */
    uint64_t flight_bytes; /* flight_mib=N (1..1024) or flight_kib=N (4..1048576); default 4 MiB */
    const char *cmdline;   /* the rest of the line after cmdline= (points into it), or NULL */
};

/* Fills *o with the defaults, then with every well-formed option of line
 * (line may be NULL). Writes one line per problem into err (NUL-terminated,
 * lines separated by '\n', cut at cap) and returns the number of problems
 * (0: all good; otherwise *o holds the options that were well-formed). */
int hv_options_parse(const char *line, struct hv_options *o, char *err, size_t cap);

/* hv_options_parse with the options thrown away. */
int hv_options_check(const char *line, char *err, size_t cap);

/* The n bytes at v as a number in the syntax above (size: a K/M/G suffix
 * allowed); false if malformed or above 2^64 - 1. */
bool hv_options_number(const char *v, size_t n, bool size, uint64_t *out);

/* "key=what ..." for every option, for the error report. */
const char *hv_options_usage(void);

#endif
