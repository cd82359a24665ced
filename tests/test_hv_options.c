/* hv/options: the hypervisor command line is checked before anything runs;
 * a typo is reported, never silently ignored. */
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
    assert_string_equal(err, "'poweroff=yes': bad value\n'mem=12X': bad value\n"
                             "'timeout=': bad value\n'record_port=0x': bad value\n"
                             "'bench=native:': bad value");
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
        "guest=",       "hv=",         "mem=",         "timeout=",     "poweroff=",
        "interactive=", "realtime=",   "rtc=",         "hidetime=",    "tscleaves=",
        "bench=",       "record=",     "record_port=", "record_baud=", "record_level=",
        "checkpoint=",  "flight_mib=", "flight_kib=",  "cmdline=",     "pass_status="};
    char err[64];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_non_null(strstr(u, keys[i]));
        /* and the checker knows it: "key=" alone is a bad value, not unknown */
        check(keys[i], err, sizeof err);
        assert_null(strstr(err, "unknown"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_the_project_uses_are_valid),
        cmocka_unit_test(test_each_problem_named),
        cmocka_unit_test(test_report_is_cut_safely),
        cmocka_unit_test(test_usage_names_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
