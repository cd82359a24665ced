/* hv/options: the hypervisor command line is parsed once, into the struct
 * everything reads, before anything runs; a typo or a value out of range is
 * reported, never silently ignored or misread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hv/options.h"

static int check(const char *line, char *err, size_t cap)
{
    return hv_options_check(line, err, cap);
}

static void test_lines_the_project_uses_are_valid(void **s)
{
    (void)s;
    static const char *const ok[] = {
        "",
        "hv=tests poweroff=1 record=stream checkpoint=256",
        "hv=tests poweroff=1 record=flight flight_kib=8 checkpoint=1024",
        "hv=tests poweroff=1 bench=native:300000",
        "guest=linux poweroff=1 interactive=1 realtime=1 mem=128M cmdline=console=ttyS0 panic=-1",
        "guest=linux poweroff=1 record=off tscleaves=1 hidetime=0 cmdline=console=ttyS0 x=y",
        "guest=linux record=stream record_port=0x2f8 record_baud=115200 record_level=3",
        "  mem=512m   timeout=30 flight_mib=16 ",
        "rtc=host",
        "guest=multiboot poweroff=1 pass_status=0x10 record=stream timeout=30",
        "rtc=1767225600",
        "cmdline=anything goes=here",
    };
    char err[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int n = check(ok[i], err, sizeof err);
        if (n)
            fail_msg("'%s': %s", ok[i], err);
        assert_string_equal(err, "");
    }
    assert_int_equal(check(NULL, err, sizeof err), 0);
}

static void test_each_problem_named(void **s)
{
    (void)s;
    char err[512];
    assert_int_equal(check("record=strem", err, sizeof err), 1);
    assert_string_equal(err, "'record=strem': bad value (off|stream|flight)");
    assert_int_equal(check("tscleave=1", err, sizeof err), 1);
    assert_string_equal(err, "'tscleave=1': unknown option");
    assert_int_equal(check("poweroff", err, sizeof err), 1);
    assert_string_equal(err, "'poweroff': not key=value");
    assert_int_equal(
        check("poweroff=yes mem=12X timeout= record_port=0x bench=native:", err, sizeof err), 5);
    assert_string_equal(err, "'poweroff=yes': bad value (0|1)\n'mem=12X': bad value (4M..64G)\n"
                             "'timeout=': bad value (0..100000000)\n"
                             "'record_port=0x': bad value (1..0xfff8)\n"
                             "'bench=native:': bad value (native:0..2^32)");
    /* a key that is a prefix of a known one, or the other way round */
    assert_int_equal(check("rec=off recordx=off", err, sizeof err), 2);
    assert_int_equal(check("rtc=now", err, sizeof err), 1);
    /* problems after cmdline= are the guest's business */
    assert_int_equal(check("poweroff=2 cmdline=poweroff=2", err, sizeof err), 1);
}

static void test_report_is_cut_safely(void **s)
{
    (void)s;
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(check("aaaaaaaa=1 bbbbbbbb=2", err, sizeof err), 2);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_int_equal(check("zz=1", err, 0), 1); /* no room at all: nothing written */
}

static void test_usage_names_every_option(void **s)
{
    (void)s;
    const char *u = hv_options_usage();
    static const char *const keys[] = {
        "guest=",        "hv=",         "mem=",         "timeout=",     "poweroff=",
        "interactive=",  "realtime=",   "rtc=",         "hidetime=",    "tscleaves=",
        "bench=",        "record=",     "record_port=", "record_baud=", "record_level=",
        "record_frame=", "checkpoint=", "flight_mib=",  "flight_kib=",  "cmdline=",
        "pass_status="};
    char err[64];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_non_null(strstr(u, keys[i]));
        /* and the checker knows it: "key=" alone is a bad value, not unknown */
        check(keys[i], err, sizeof err);
        assert_null(strstr(err, "unknown"));
    }
}

static struct hv_options parse_ok(const char *line)
{
    struct hv_options o;
    char err[256];
    int n = hv_options_parse(line, &o, err, sizeof err);
    if (n)
        fail_msg("'%s': %s", line, err);
    return o;
}

static void test_defaults(void **s)
{
    (void)s;
    struct hv_options o = parse_ok("");
    assert_int_equal(o.guest, HV_GUEST_TESTS);
    assert_true(o.mem_bytes == 128ull << 20);
    assert_int_equal(o.timeout_s, 20);
    assert_false(o.poweroff || o.interactive || o.realtime || o.tsc_leaves || o.bench || o.apic);
    assert_true(o.rtc_host && o.hide_time);
    assert_int_equal(o.record, HV_RECORD_OFF);
    assert_int_equal(o.record_port, 0x2f8);
    assert_int_equal(o.record_baud, 115200);
    assert_int_equal(o.record_level, 0); /* the record mode's: hv/recording.c */
    assert_int_equal(o.record_frame, 0);
    assert_int_equal(o.checkpoint, 8192);
    assert_true(o.flight_bytes == 4ull << 20);
    assert_null(o.cmdline);
}

/* Every value lands in its field; numbers the same way everywhere. */
static void test_values_reach_the_struct(void **s)
{
    (void)s;
    struct hv_options o =
        parse_ok("guest=linux mem=512M timeout=30 poweroff=1 interactive=1 realtime=1 "
                 "rtc=1767225600 hidetime=0 tscleaves=1 apic=1 bench=native:0x100 record=flight "
                 "record_port=0x3e8 record_baud=38400 record_level=0x13 checkpoint=0 "
                 "flight_kib=8 record_frame=256K");
    assert_int_equal(o.guest, HV_GUEST_LINUX);
    assert_true(o.mem_bytes == 512ull << 20);
    assert_int_equal(o.timeout_s, 30);
    assert_true(o.poweroff && o.interactive && o.realtime && o.tsc_leaves && o.bench && o.apic);
    assert_false(o.rtc_host || o.hide_time);
    assert_int_equal(o.rtc_sec, 1767225600);
    assert_int_equal(o.bench_n, 256);
    assert_int_equal(o.record, HV_RECORD_FLIGHT);
    assert_int_equal(o.record_port, 0x3e8);
    assert_int_equal(o.record_baud, 38400);
    assert_int_equal(o.record_level, 19);
    assert_int_equal(o.record_frame, 256 << 10);
    assert_int_equal(o.checkpoint, 0);
    assert_int_equal(o.flight_bytes, 8192);
    assert_true(parse_ok("flight_mib=16").flight_bytes == 16ull << 20);
    assert_int_equal(parse_ok("record=stream").record, HV_RECORD_STREAM);
    assert_true(parse_ok("rtc=host").rtc_host);
    assert_int_equal(parse_ok("guest=linux hv=tests").guest, HV_GUEST_TESTS); /* last one */
    struct hv_options m = parse_ok("guest=multiboot pass_status=0x10");
    assert_int_equal(m.guest, HV_GUEST_MULTIBOOT);
    assert_int_equal(m.pass_status, 16);
    assert_int_equal(parse_ok("pass_status=0xffffffff").pass_status, 0xffffffffu);
    assert_int_equal(parse_ok("").pass_status, 0);
    char err[128];
    assert_int_equal(hv_options_parse("pass_status=0x100000000 guest=multi", &m, err, sizeof err),
                     2);
}

/* mem=0x8000000 is 128 MiB (it used to validate, then boot with 0 bytes). */
static void test_mem_hex_and_suffixes(void **s)
{
    (void)s;
    assert_true(parse_ok("mem=0x8000000").mem_bytes == 128ull << 20);
    assert_true(parse_ok("mem=134217728").mem_bytes == 128ull << 20);
    assert_true(parse_ok("mem=131072K").mem_bytes == 128ull << 20);
    assert_true(parse_ok("mem=128m").mem_bytes == 128ull << 20);
    assert_true(parse_ok("mem=0x80M").mem_bytes == 128ull << 20);
    assert_true(parse_ok("mem=1G").mem_bytes == 1ull << 30);
    assert_true(parse_ok("mem=5M").mem_bytes == 6ull << 20); /* rounded up to 2 MiB */
    char err[128];
    struct hv_options o;
    assert_int_equal(hv_options_parse("mem=0", &o, err, sizeof err), 1);
    assert_string_equal(err, "'mem=0': out of range (4M..64G)");
    assert_int_equal(hv_options_parse("mem=65G mem=0x mem=1T", &o, err, sizeof err), 3);
    assert_true(o.mem_bytes == 128ull << 20); /* none of them taken */
}

/* cpus=N: 1..4; 2..4 switch the APIC platform on (INIT/SIPI and IPIs go
 * through the local APICs), contradict an explicit apic=0 whichever comes
 * first, and need hidetime=1. */
static void test_cpus(void **s)
{
    (void)s;
    assert_int_equal(parse_ok("").cpus, 1);
    struct hv_options o = parse_ok("cpus=2");
    assert_int_equal(o.cpus, 2);
    assert_true(o.apic);
    assert_false(parse_ok("cpus=1").apic);
    assert_true(parse_ok("apic=0 apic=1 cpus=4").cpus == 4);
    assert_true(parse_ok("cpus=0x3 apic=1").apic);
    char err[128];
    assert_int_equal(hv_options_parse("cpus=2 apic=0", &o, err, sizeof err), 1);
    assert_string_equal(err, "cpus=2..4 needs apic=1 (apic=0 given)");
    assert_int_equal(hv_options_parse("apic=0 cpus=3", &o, err, sizeof err), 1);
    assert_int_equal(hv_options_parse("cpus=2 hidetime=0", &o, err, sizeof err), 1);
    assert_string_equal(err, "cpus=2..4 needs hidetime=1");
    assert_int_equal(hv_options_parse("cpus=5", &o, err, sizeof err), 1);
    assert_string_equal(err, "'cpus=5': out of range (1..4)");
    assert_int_equal(hv_options_parse("cpus=0", &o, err, sizeof err), 1);
    assert_int_equal(hv_options_parse("cpus=1 apic=0 hidetime=0", &o, err, sizeof err), 0);
}

/* timeout=0x14 is 20 seconds (it used to mean "no timeout"). */
static void test_timeout_hex(void **s)
{
    (void)s;
    assert_int_equal(parse_ok("timeout=0x14").timeout_s, 20);
    assert_int_equal(parse_ok("timeout=0").timeout_s, 0);
    char err[128];
    struct hv_options o;
    assert_int_equal(hv_options_parse("timeout=20s", &o, err, sizeof err), 1);
    assert_int_equal(hv_options_parse("timeout=1M", &o, err, sizeof err), 1); /* not a size */
}

/* Whatever follows cmdline= is the guest's: never read as an hv option. */
static void test_cmdline_rest_is_never_parsed(void **s)
{
    (void)s;
    const char *line = "guest=linux mem=256M cmdline=console=ttyS0 mem=0x1000 timeout=1 record=x";
    struct hv_options o = parse_ok(line);
    assert_true(o.mem_bytes == 256ull << 20);
    assert_int_equal(o.timeout_s, 20);
    assert_int_equal(o.record, HV_RECORD_OFF);
    assert_string_equal(o.cmdline, "console=ttyS0 mem=0x1000 timeout=1 record=x");
    assert_true(o.cmdline == line + 29);
    assert_string_equal(parse_ok("cmdline=").cmdline, "");
    /* "cmdline" must be the key: a value containing cmdline= is not it */
    char err[128];
    assert_int_equal(hv_options_parse("record=cmdline=x mem=0", &o, err, sizeof err), 2);
    assert_null(o.cmdline);
}

static void test_numbers_overflow_and_ranges(void **s)
{
    (void)s;
    uint64_t x;
    assert_true(hv_options_number("18446744073709551615", 20, false, &x) && x == UINT64_MAX);
    assert_false(hv_options_number("18446744073709551616", 20, false, &x));
    assert_true(hv_options_number("0xffffffffffffffff", 18, false, &x) && x == UINT64_MAX);
    assert_false(hv_options_number("0x10000000000000000", 19, false, &x));
    assert_false(hv_options_number("17179869184G", 12, true, &x)); /* 2^64 */
    assert_false(hv_options_number("12K", 3, false, &x));          /* not a size */
    assert_false(hv_options_number("-1", 2, false, &x));
    assert_false(hv_options_number("0x", 2, false, &x));
    assert_false(hv_options_number("K", 1, true, &x));
    char err[512];
    struct hv_options o;
    assert_int_equal(hv_options_parse("record_port=0x10000 record_baud=7 record_level=0 "
                                      "flight_kib=3 flight_mib=0 checkpoint=0x100000001 "
                                      "record_frame=8K",
                                      &o, err, sizeof err),
                     7);
    assert_string_equal(err, "'record_port=0x10000': out of range (1..0xfff8)\n"
                             "'record_baud=7': out of range (115200/N)\n"
                             "'record_level=0': out of range (1..22)\n"
                             "'flight_kib=3': out of range (4..1048576)\n"
                             "'flight_mib=0': out of range (1..1024)\n"
                             "'checkpoint=0x100000001': out of range (0..2^32)\n"
                             "'record_frame=8K': out of range (16K..4M)");
    assert_int_equal(o.record_port, 0x2f8); /* defaults stand */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_the_project_uses_are_valid),
        cmocka_unit_test(test_each_problem_named),
        cmocka_unit_test(test_report_is_cut_safely),
        cmocka_unit_test(test_usage_names_every_option),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values_reach_the_struct),
        cmocka_unit_test(test_mem_hex_and_suffixes),
        cmocka_unit_test(test_timeout_hex),
        cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_cmdline_rest_is_never_parsed),
        cmocka_unit_test(test_numbers_overflow_and_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
