/* Durable traces: captures recorded before a saved-state layout change
 * still replay after it. Every corpus capture whose checkpoints hold an
 * older layout than the models write now (the PIT's layout 2, before layout
 * 3 saved each channel's effective mode) must restore, compare equal field
 * by field although the bytes differ, and replay with 0 divergences; and a
 * real difference in such an old checkpoint is still found and named. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host-sim/devinfo.h"
#include "host-sim/replay_testutil.h"

#define PIT_SECTION SV_TAG('P', 'I', 'T', '4')

/* Layout version of the PIT section in a device blob, 0 if none. */
static unsigned pit_layout(const uint8_t *blob, size_t len, size_t *end)
{
    struct devinfo_section sec[DEVINFO_MAX_SECTIONS];
    int n = devinfo_sections(blob, len, sec, DEVINFO_MAX_SECTIONS);
    for (int i = 0; i < n; i++)
        if (sec[i].tag == PIT_SECTION) {
            if (end)
                *end = sec[i].off + sec[i].len;
            return blob[sec[i].off + 4] | blob[sec[i].off + 5] << 8;
        }
    return 0;
}

struct scan {
    unsigned checkpoints, old_layout;
    struct vm_devices dev, scratch[2];
    uint8_t blob[VM_DEVICES_SAVE_MAX];
};

/* Bytes the local APIC, I/O APIC and ACPI PM sections take in a blob. */
static size_t apic_sections_len(const struct vm_devices *d)
{
    static uint8_t buf[1024];
    struct sv w;
    sv_init_write(&w, buf, sizeof buf);
    lapic_save(&d->lapic[0], &w);
    ioapic_save(&d->ioapic, &w);
    sv_save(&w, &acpi_pm_sv_desc, &d->pm);
    assert_false(w.err);
    return sv_len(&w);
}

static void check_blob(struct scan *s, const uint8_t *rec, size_t len)
{
    s->checkpoints++;
    unsigned v = pit_layout(rec, len, NULL);
    assert_true(v >= 2 && v <= PIT_STATE_VERSION);
    if (v == PIT_STATE_VERSION)
        return;
    s->old_layout++;
    vm_devices_init(&s->dev, NULL, NULL, 0);
    assert_int_equal(vm_devices_restore(&s->dev, rec, len), 0);
    size_t n = vm_devices_save(&s->dev, s->blob, sizeof s->blob);
    /* One byte more per PIT channel; a VMDV layout 1 blob gains the
     * debug-exit section (10-byte section header, value u32, size u8,
     * writes u32); layouts 1 and 2 gain the APIC and ACPI PM sections;
     * layouts 1-3 the CPUS section (header, cpus u32 = 1, no AP). */
    unsigned vmdv = rec[4] | rec[5] << 8;
    assert_int_equal(n, len + 3 + (vmdv < 2 ? 19 : 0) +
                            (vmdv < 3 ? apic_sections_len(&s->dev) : 0) + (vmdv < 4 ? 14 : 0));
    assert_int_equal(vm_devices_compare(rec, len, s->blob, n, s->scratch, NULL, NULL), 0);
}

static int scan_item(void *ctx, uint64_t rec, const struct trace_item *it)
{
    (void)rec;
    if (it->type == TRACE_ITEM_HEADER)
        check_blob(ctx, it->u.header.start.devices, it->u.header.start.devices_len);
    else if (it->type == TRACE_ITEM_CHECKPOINT)
        check_blob(ctx, it->u.checkpoint.devices, it->u.checkpoint.devices_len);
    return 0;
}

static void test_corpus_recorded_before_the_layout_change_replays(void **state)
{
    (void)state;
    DIR *d = opendir("corpus");
    assert_non_null(d);
    unsigned traces = 0, old_traces = 0;
    static struct scan s;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".hvt"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "corpus/%s", e->d_name);
        struct trace_membuf m;
        assert_int_equal(rt_load(path, &m), 0);
        memset(&s, 0, sizeof s);
        rt_scan(&m, scan_item, &s);
        struct replay_opts o = {0};
        struct replay_stats st;
        assert_int_equal(rt_replay(&m, &o, &st, NULL), 0);
        if (st.divergences)
            fail_msg("%s: %llu divergences", path, (unsigned long long)st.divergences);
        assert_true(st.header_seen);
        traces++;
        if (s.old_layout) {
            old_traces++;
            assert_int_equal(s.old_layout, s.checkpoints); /* the whole capture is old */
        }
        trace_membuf_free(&m);
    }
    closedir(d);
    print_message("%u corpus captures, %u recorded with PIT layout 2\n", traces, old_traces);
    assert_true(traces > 0);
    /* The corpus keeps captures made before the change: this test is only
     * meaningful while it does. */
    assert_true(old_traces > 0);
}

/* A changed byte in an old-layout checkpoint is a divergence, named as a
 * field of the upgraded state. */
struct mut {
    bool done;
    uint64_t rec;
};

static int mutate(void *ctx, uint64_t rec, struct trace_item *it)
{
    struct mut *mu = ctx;
    if (it->type != TRACE_ITEM_CHECKPOINT || mu->done)
        return 0;
    size_t end = 0;
    assert_int_equal(pit_layout(it->u.checkpoint.devices, it->u.checkpoint.devices_len, &end), 2);
    /* the last PIT byte: channel 2's load_clk, top byte */
    ((uint8_t *)it->u.checkpoint.devices)[end - 1] ^= 0x40;
    mu->done = true;
    mu->rec = rec;
    return 0;
}

static void test_difference_in_old_layout_checkpoint_is_named(void **state)
{
    (void)state;
    struct trace_membuf m, bad;
    assert_int_equal(rt_load("corpus/linux-boot-quiet.hvt", &m), 0);
    struct mut mu = {0};
    assert_int_equal(rt_rewrite(&m, &bad, mutate, &mu), 0);
    assert_true(mu.done);
    struct replay_opts o = {.stop_at_first = true};
    struct replay_stats st;
    char *text;
    assert_int_equal(rt_replay(&bad, &o, &st, &text), 0);
    assert_int_equal(st.divergences, 1);
    assert_int_equal(st.first_record, mu.rec);
    assert_non_null(strstr(text, "\n  field    pit.ch[2].load_clk expected "));
    free(text);
    trace_membuf_free(&bad);
    trace_membuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_recorded_before_the_layout_change_replays),
        cmocka_unit_test(test_difference_in_old_layout_checkpoint_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
