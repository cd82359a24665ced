/* hvrr crosscheck --timed: the trace's port traffic played at its virtual
 * times in QEMU under -icount (1 ns per instruction, a deterministic virtual
 * clock) by the player guest (tests/xcplayer), so QEMU's PIT, RTC, UART and
 * PIC answer with their own notion of elapsed time; every IN value and
 * acknowledge is compared with the trace (docs/crosscheck.md, "Timed"). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/devs/acpi_pm.h"
#include "hv/devs/cmos_rtc.h"
#include "hv/record/recorder.h"
#include "replay/cli.h"
#include "replay/crosscheck.h"
#include "tests/xcplayer/xcplayer.h"

/* Trace time t plays at QEMU virtual time XC_BASE_NS + offset + t: late
 * enough for SeaBIOS and the player to start (about 0.1 s of virtual time
 * measured), a whole number of seconds so that the RTC's second boundaries
 * can be lined up (see rtc_align). */
#define XC_BASE_NS 2000000000ull
#define NS_PER_SEC 1000000000ull

/* Bits of a read QEMU cannot answer comparably whatever the timing: port
 * 0x61 bit 4 (QEMU's speaker device flips it on every read, hvrr derives it
 * from virtual time, 15.085 us half-period). */
static uint32_t timed_mask(const struct qop *op)
{
    if (op->port == QS_ACPI_PM)
        return 0x01; /* TMR_STS: see acpi_tmr_shift() */
    return op->port == 0x61 ? 0x10 : 0;
}

/* The ACPI PM timer counts floor(t * 3.579545 MHz) of virtual time, hvrr's
 * from trace time 0, QEMU's (acpi_pm_tmr_get) from its virtual time 0, which
 * is `base` before trace time 0: QEMU's count is hvrr's plus this shift, or
 * one more when the access came a few ns late. TMR_STS (PM1_STS bit 0, set
 * at each change of counter bit 23) changes at times moved by the shift
 * modulo 2^23 counts: not comparable. */
static uint32_t acpi_tmr_shift(uint64_t base)
{
    return (uint32_t)((base / 1000000000ull) * ACPI_PM_TMR_HZ +
                      (base % 1000000000ull) * ACPI_PM_TMR_HZ / 1000000000ull);
}

/* Timing granularity: a PIT read one clock off. hvrr's 8254 counts edges of
 * an absolute 1.193182 MHz clock (floor(t * f), the count loaded on the
 * next edge), QEMU's counts floor((t - load) * f) from the write; the two
 * differ by about one clock. Accepted: a count byte one count off (three in
 * mode 3, which counts by two; byte-wise, so also the MSB of a pair whose
 * LSB wrapped), a mode 2/3 count on either side of its reload, and a mode
 * 0/3 status whose OUT differs while the count latched with it is within
 * two clocks of terminal count or the half-cycle's end (counts below 256). */
static bool tolerated(const struct qscript *s, size_t k, uint32_t tv, uint32_t qv)
{
    const struct qop *op = &s->ops[k];
    if (op->port == QS_ACPI_PM + 8 && op->size == 4) /* PM timer: one count later */
        return ((qv - tv) & 0xffffff) == 1 && !((qv ^ tv) & 0xff000000u);
    if (op->port < 0x40 || op->port > 0x42)
        return false;
    /* the count's low byte in modes 2/3 (reload value N) */
    int kc = op->pit_mode == 3 ? 3 : 1;
    unsigned n = op->pit_count ? op->pit_count : 0x10000;
    if (!op->pit_status) {
        /* one clock: one count, two in mode 3 (three across an odd count's reload) */
        int8_t d = (int8_t)(uint8_t)(tv - qv);
        if (d != 0 && d >= -kc && d <= kc)
            return true;
        /* ... or across a mode 2/3 reload: one side at its last count(s),
         * the other at N */
        if ((op->pit_mode == 2 || op->pit_mode == 3) && n <= 0xff) {
            unsigned lo = (unsigned)kc + 1, t = tv & 0xff, q = qv & 0xff;
            return (t <= lo && q + (unsigned)kc >= n) || (q <= lo && t + (unsigned)kc >= n);
        }
        return false;
    }
    /* a mode 3 status whose OUT differs while the count latched with it is
     * within one clock of a half-cycle's end (small counts) */
    if ((op->pit_mode == 0 || op->pit_mode == 3) && ((tv ^ qv) & 0xff) == 0x80 && n <= 0xff &&
        k + 1 < s->n) {
        const struct qop *c = &s->ops[k + 1];
        if (c->kind == QOP_IN && c->port == op->port && !c->pit_status) {
            unsigned t = c->value & 0xff; /* mode 0: N down to 0; mode 3: N (even) to 2 */
            return t <= 4 || t + 4 >= n;
        }
    }
    return false;
}

/* hvrr's RTC reaches wall second ref_sec at trace time ref_ns (and so has
 * its second boundaries at ref_ns + k s); QEMU's mc146818 (-rtc clock=vm)
 * has them at whole seconds of virtual time, with the -rtc base date at 0.
 * Returns the offset (< 1 s) to add to the base so both boundaries
 * coincide, and the date QEMU's RTC must start from. */
static uint64_t rtc_align(const struct qscript *s, int64_t *qemu_base_sec)
{
    if (!s->have_rtc) {
        *qemu_base_sec = 1700000000; /* any date: no checkpoint to follow */
        return 0;
    }
    uint64_t m = (s->rtc_ref_ns + NS_PER_SEC - 1) / NS_PER_SEC;
    uint64_t off = m * NS_PER_SEC - s->rtc_ref_ns;
    /* QEMU's second at XC_BASE + off + t = base + 2 + m + floor((t - ref_ns) / 1 s) */
    *qemu_base_sec = s->rtc_ref_sec - (int64_t)(XC_BASE_NS / NS_PER_SEC) - (int64_t)m;
    return off;
}

/* QEMU 7.2 deviations that only a running clock shows (8254 datasheet,
 * "Mode Definitions", "Read-Back Command"); seen on the corpus. */
static const struct deviation pit_null_dev = {
    0x40, 0, 0x40,
    "8254 read-back status bit 6 NULL COUNT: set by a control word or a count write until the "
    "count is loaded into the counting element (8254 datasheet, Read-Back Command); QEMU's "
    "status never sets it"};
static const struct deviation pit_out_dev = {
    0x40, 0, 0x80,
    "8254 OUT in modes 1, 2, 4 and 5: mode 1 OUT low during the one-shot, modes 2/4/5 OUT high "
    "with a one-clock low pulse (8254 datasheet, Mode Definitions); QEMU 7.2's pit_get_out() "
    "has them inverted (high during the one-shot, a one-clock high pulse; mode 1 fixed upstream "
    "in 2023); and a control word alone sets OUT (low in mode 0, high in the others) where "
    "QEMU keeps the old mode's OUT until the count is written"};
static const struct deviation pit_out61_dev = {
    0x61, 0, 0x20,
    "port 0x61 bit 5 is 8254 OUT2: same deviation as the 8254 OUT above (QEMU 7.2's "
    "pit_get_out() in modes 1, 2, 4, 5 and after a control word alone)"};

static const struct deviation rtc_pf_dev = {
    0x71, 0, 0xc0,
    "MC146818A periodic flag: PF is set at every transition of the divider tap RS selects, "
    "whether PIE is set or not, so the first periodic interrupt comes at the next tap "
    "transition of the free-running divider (MC146818A datasheet, Periodic Interrupt, "
    "register C); QEMU 7.2 starts a new period when PIE is set (its first interrupt one "
    "whole period after the register B write) and sets PF only while PIE is on"};

static const struct deviation rtc_uip_dev = {
    0x71, 0x80, 0x80,
    "MC146818A UIP: set tBUC = 244 us before the update cycle and held through the cycle "
    "(1984 us with the 32.768 kHz time base), 2228 us in all (MC146818A datasheet, register "
    "A, Update Cycle); QEMU's UIP covers only the 244 us before the update"};

static const struct deviation uart_irq4_dev = {
    0x20, 0, 0xff,
    "IRQ4 from the 16550 (hvrr simplification, not a QEMU deviation): a THR write resets the "
    "THRE interrupt and the byte's move to the transmit shift register sets it again "
    "(PC16550D, Interrupt Identification Register), a low pulse on INTRPT that an "
    "edge-triggered 8259A takes as a new request; QEMU models it, hvrr's 16550 transmits in "
    "zero time and keeps the line high. Also QEMU's 16550 drives IRQ4 whatever OUT2 and "
    "loopback say (PC16550D: loopback disconnects the interrupt output; on the PC OUT2 gates "
    "it)"};

static const struct deviation uart_msi_dev = {
    0x3fa, 0, 0x0f,
    "16550 IIR modem-status interrupt in loopback: the MSR delta bits that follow MCR changes "
    "in loopback (PC16550D) raise the modem status interrupt; QEMU has no deltas in loopback "
    "(see the MSR deviation)"};

static const struct deviation uart_stop15_dev = {
    0x3fa, 0, 0x0f,
    "16550 character timeout with 5-bit words and LCR bit 2: 1.5 stop bits (PC16550D, Line "
    "Control Register), four characters of 7.5 bits; QEMU counts 2 stop bits for every word "
    "length (serial_update_parameters), so its timeout comes 4 half bits later"};

static const struct deviation pit_mode3_odd_dev = {
    0x40, 0, 0xff,
    "8254 mode 3 with an odd count N: the counting element is loaded with N - 1 and counts down "
    "by two, OUT high for (N + 1) / 2 and low for (N - 1) / 2 clocks (8254 datasheet, Mode 3); "
    "QEMU computes N - (2 t mod N), a count sequence through odd values the chip never shows, "
    "and its OUT edges (status bit 7) fall elsewhere with it"};

static const struct deviation pit_rewrite_dev = {
    0x40, 0, 0xff,
    "8254 modes 2 and 3, a new count written while counting: it is loaded at the end of the "
    "current period (mode 2) or half-cycle (mode 3) (8254 datasheet, Mode 2, Mode 3); QEMU "
    "restarts counting from the new count at once"};

static const struct deviation pit_bcd_dev = {
    0x40, 0, 0xff,
    "8254 BCD counting (control word bit 0): four decades, count 0 = 10000 (8254 datasheet, "
    "Control Word Format); QEMU keeps the BCD bit in the status but counts in binary"};

static const struct deviation pit_half_dev = {
    0x40, 0, 0xff,
    "8254 mode 0, the first byte of a new two-byte count: it stops counting until the second "
    "byte (8254 datasheet, Mode 0); QEMU counts on until the count is complete"};

static const struct deviation pit_gate_dev = {
    0x42, 0, 0xff,
    "8254 gate low (channel 2, port 0x61 bit 0): counting stops in modes 0, 2, 3, 4 (8254 "
    "datasheet, Gate); QEMU's pit_set_gate() only acts on gate edges (mode 1/5 triggers, "
    "mode 2/3 restart) and counts on while the gate is low"};

static const struct deviation rtc_set_uf_dev = {
    0x71, 0, 0x10,
    "MC146818A UF while SET = 1: SET \"prevents any update transfer\" and UF is set by the "
    "update cycle only (MC146818A datasheet, register B SET, register C UF); QEMU 7.2's "
    "rtc_update_timer() sets UF at each second boundary, SET or not"};

static const struct deviation rtc_phase_dev = {
    0x71, 0, 0xff,
    "MC146818A time byte written while the clock runs: the divider chain keeps its phase, only "
    "register A's DV bits reset it (MC146818A datasheet, Divider Stages, Update Cycle); QEMU "
    "7.2's rtc_set_time() restarts the second at the write with the old sub-second offset, so "
    "its updates (time bytes, UF, AF) move by a fraction of a second from then on"};

static const struct deviation *timed_explained(const struct qop *op, uint32_t diff)
{
    if (op->port == 0x71 && op->rtc_phase_split && (op->cmos_index != 0x0c || !(diff & ~0xf0u)))
        return &rtc_phase_dev;
    if (op->port == 0x71 && op->cmos_index == 0x0c && op->rtc_set_seen && (diff & 0x10) &&
        !(op->value & 0x10) && !(diff & ~0xd0u))
        return &rtc_set_uf_dev;
    if (op->port >= 0x40 && op->port <= 0x42 && !op->pit_status && op->pit_mode == 0 &&
        op->pit_half)
        return &pit_half_dev;
    if (op->port == 0x42 && !op->pit_status && op->pit_gate_low && op->pit_mode != 1 &&
        op->pit_mode != 5)
        return &pit_gate_dev;
    if (op->port >= 0x40 && op->port <= 0x42 && !op->pit_status && op->pit_bcd)
        return &pit_bcd_dev;
    bool pit_rd = op->port >= 0x40 && op->port <= 0x42;
    if (pit_rd && op->pit_mode == 3 && op->pit_odd && (!op->pit_status || !(diff & ~0x80u)))
        return &pit_mode3_odd_dev;
    if (pit_rd && (op->pit_mode == 2 || op->pit_mode == 3) && op->pit_rewritten &&
        (!op->pit_status || !(diff & ~0x80u)))
        return &pit_rewrite_dev;
    if (op->port == 0x3fa && !op->uart_dlab && (op->uart_lcr & 7) == 4 &&
        (op->value & 0x0f) == 0x0c && diff == 0x0d)
        return &uart_stop15_dev;
    if (op->port == 0x71 && op->cmos_index == 0x0a && diff == 0x80 && (op->value & 0x80))
        return &rtc_uip_dev;
    /* IRR4 from QEMU's 16550; other bits of the same read may be edges the
     * trace withdrew (the 8259A IRR deviation) */
    if (op->port == 0x20 && !(op->pic_ocw3[0] & 4) && (op->pic_ocw3[0] & 3) != 3 && (diff & 0x10) &&
        (!(diff & ~0x10u) || xc_explained(op, diff & ~0x10u)))
        return &uart_irq4_dev;
    if (op->port == 0x20 && !(op->pic_ocw3[0] & 4) && (op->pic_ocw3[0] & 3) == 2 &&
        (op->pic_flags & QPIC_CW_EDGE) && diff == 0x01 && (op->value & 0x01))
        return &pit_out_dev; /* IRR0 from the OUT0 edge of a lone control word */
    if (op->port == 0x3fa && !op->uart_dlab && (op->value & 0x0f) == 0 && diff == 1)
        return &uart_msi_dev;
    if (op->port == 0x71 && op->cmos_index == 0x0c && !(diff & ~0xc0u))
        return &rtc_pf_dev;
    bool pit_read = op->port >= 0x40 && op->port <= 0x42;
    bool out_dev = op->pit_cw_only || op->pit_mode == 1 || op->pit_mode == 2 || op->pit_mode == 4 ||
                   op->pit_mode == 5;
    if (pit_read && op->pit_status) {
        if (!(diff & ~0x40u))
            return &pit_null_dev;
        if (!(diff & ~0xc0u) && out_dev)
            return &pit_out_dev;
    }
    if (op->port == 0x61 && !(diff & ~0x20u) && op->pit_mode == 3 && op->pit_odd)
        return &pit_mode3_odd_dev; /* OUT2 */
    if (op->port == 0x61 && !(diff & ~0x20u) && out_dev)
        return &pit_out61_dev;
    return NULL;
}

static int put_le(FILE *f, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (fputc((int)(uint8_t)(v >> (8 * i)), f) == EOF)
            return -1;
    return 0;
}

/* The module: header, then one xp_op per OUT, IN and ACK (IRQ line changes
 * are QEMU's own devices' business here). */
static int write_ops(const struct qscript *s, FILE *f, uint64_t offset)
{
    uint32_t n = 1; /* the CMOS index below */
    for (size_t i = 0; i < s->n; i++)
        n += s->ops[i].kind != QOP_IRQ;
    put_le(f, XP_MAGIC, 4);
    put_le(f, XP_VERSION, 4);
    put_le(f, n, 4);
    put_le(f, 0, 4);
    put_le(f, XC_BASE_NS + offset, 8); /* base_ns */
    put_le(f, 0, 8);
    uint64_t hz = s->tsc_hz ? s->tsc_hz : NS_PER_SEC;
    /* The player leaves QEMU's CMOS index at 0x0c (its prologue reads
     * register C at the base); the trace's first CMOS data access uses the
     * index hvrr had at the start. Played at trace time 0, not answered. */
    put_le(f, 0, 8);
    put_le(f, 0x70, 2);
    put_le(f, XP_OUT, 1);
    put_le(f, 1, 1);
    put_le(f, s->start_cmos_index, 4);
    for (size_t i = 0; i < s->n; i++) {
        const struct qop *op = &s->ops[i];
        if (op->kind == QOP_IRQ)
            continue;
        put_le(f, vm_rec_tsc_to_ns(op->tsc, hz), 8);
        if (op->kind == QOP_ACK) {
            bool slave = xc_slave_vector(op);
            put_le(f, XP_ACK_EXPECT | (slave ? 2u : op->value & 7u), 2);
            put_le(f, XP_ACK, 1);
            put_le(f, slave ? 2 : 1, 1);
            put_le(f, op->withdrawn >= 0 ? (uint32_t)op->withdrawn : 0xffffffffu, 4);
        } else {
            put_le(f, op->port, 2);
            put_le(f, op->kind == QOP_OUT ? XP_OUT : XP_IN, 1);
            put_le(f, op->size, 1);
            put_le(f, op->kind == QOP_OUT ? op->value : 0, 4);
        }
    }
    return fflush(f) || ferror(f) ? -1 : 0;
}

static int run(const char *qemu, const char *player, const char *mod, const char *con,
               int64_t rtc_sec, bool acpi, FILE *err)
{
    struct cmos_tm tm;
    cmos_secs_to_tm(rtc_sec, &tm);
    char rtc[96], dcon[300], initrd[300];
    snprintf(rtc, sizeof(rtc), "base=%04" PRId64 "-%02u-%02uT%02u:%02u:%02u,clock=vm", tm.year,
             tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
    snprintf(dcon, sizeof(dcon), "file:%s", con);
    snprintf(initrd, sizeof(initrd), "%s", mod);
    char *argv[] = {"timeout",
                    "300",
                    (char *)qemu,
                    "-M",
                    acpi ? "pc,hpet=off" : "pc,hpet=off,acpi=off",
                    "-accel",
                    "tcg",
                    "-icount",
                    "shift=0,sleep=off",
                    "-rtc",
                    rtc,
                    "-m",
                    "64",
                    "-nodefaults",
                    "-display",
                    "none",
                    "-no-reboot",
                    "-chardev",
                    "null,id=hvrrcom1",
                    "-device",
                    "isa-serial,chardev=hvrrcom1,iobase=0x3f8",
                    "-device",
                    "isa-debug-exit,iobase=0xf4",
                    "-debugcon",
                    dcon,
                    "-kernel",
                    (char *)player,
                    "-initrd",
                    initrd,
                    NULL};
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = fileno(err);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return cli_wait_child(pid, false);
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int xc_timed(struct qscript *s, const char *path, const char *qemu, const char *player,
             const char *ops_out, bool strict, uint64_t max_reports)
{
    char mp[256], cp[256], ep[256];
    FILE *mf = xc_tmpfile(mp, sizeof(mp), "ops");
    FILE *cf = mf ? xc_tmpfile(cp, sizeof(cp), "con") : NULL;
    FILE *ef = cf ? xc_tmpfile(ep, sizeof(ep), "err") : NULL;
    uint8_t *con = NULL;
    int ret = CLI_BAD_INPUT;
    if (!ef) {
        fprintf(stderr, "hvrr crosscheck: cannot create a temporary file: %s\n", strerror(errno));
        goto out;
    }
    if (access(player, R_OK)) {
        fprintf(stderr,
                "hvrr crosscheck: no player guest '%s' (make build/xcplayer/player.elf, "
                "or --player PATH)\n",
                player);
        goto out;
    }
    if (strchr(mp, ',') || strchr(cp, ',') || strchr(player, ',')) {
        /* QEMU splits -initrd and -debugcon arguments at commas */
        fprintf(stderr,
                "hvrr crosscheck: a path with a comma cannot be given to QEMU ('%s', "
                "'%s', '%s'); set TMPDIR or --player elsewhere\n",
                mp, cp, player);
        goto out;
    }
    int64_t rtc_sec;
    uint64_t offset = rtc_align(s, &rtc_sec);
    if (write_ops(s, mf, offset)) {
        fprintf(stderr, "hvrr crosscheck: writing the op list failed\n");
        goto out;
    }
    if (ops_out) {
        FILE *o = fopen(ops_out, "wb");
        if (!o || write_ops(s, o, offset) || fclose(o)) {
            fprintf(stderr, "hvrr crosscheck: cannot write '%s'\n", ops_out);
            goto out;
        }
    }
    bool acpi = false; /* ACPI PM ops: QEMU's PIIX4 PM, which the player puts at 0x600 */
    for (size_t k = 0; k < s->n && !acpi; k++)
        acpi = s->ops[k].port >= QS_ACPI_PM && s->ops[k].port < QS_ACPI_PM + 12 &&
               s->ops[k].kind != QOP_ACK && s->ops[k].kind != QOP_IRQ;
    int qrc = run(qemu, player, mp, cp, rtc_sec, acpi, ef);
    if (qrc == 127 || qrc < 0) {
        fprintf(stderr,
                "hvrr crosscheck: cannot run '%s' (is qemu-system-x86 installed? --qemu "
                "PATH)\n",
                qemu);
        goto out;
    }
    /* the debugcon file, whole */
    rewind(cf);
    FILE *rf = fopen(cp, "rb");
    size_t len = 0, cap = 0;
    if (rf) {
        for (;;) {
            if (len == cap) {
                cap = cap ? 2 * cap : 65536;
                uint8_t *n = realloc(con, cap);
                if (!n)
                    break;
                con = n;
            }
            size_t r = fread(con + len, 1, cap - len, rf);
            if (!r)
                break;
            len += r;
        }
        fclose(rf);
    }
    size_t need = 8 + 8 + 4 + 4;
    for (size_t k = 0; k < s->n; k++) {
        const struct qop *op = &s->ops[k];
        if (op->kind == QOP_IN)
            need += op->size;
        else if (op->kind == QOP_ACK)
            need += 2 + xc_slave_vector(op);
    }
    if (!con || len != need || get_le(con + len - 4, 4) != XP_DONE) {
        fprintf(stderr,
                "hvrr crosscheck: the player guest did not finish (%zu of %zu answer bytes, QEMU "
                "exit %d); QEMU's output is in %s\n",
                len, need, qrc, ep);
        ep[0] = 0;
        goto out;
    }
    uint64_t started = get_le(con, 8), base = XC_BASE_NS + offset;
    if (started >= base) {
        fprintf(stderr,
                "hvrr crosscheck: the player started at virtual time %" PRIu64
                " ns, after the first op's time (%" PRIu64 " ns)\n",
                started, base);
        goto out;
    }
    uint64_t worst = get_le(con + len - 16, 8), late = get_le(con + len - 8, 4);

    struct xc_tally t = {.max_reports = max_reports, .strict = strict};
    size_t at = 8;
    char reg[48];
    bool relatched = false;
    for (size_t k = 0; k < s->n; k++) {
        struct qop *op = &s->ops[k];
        if (op->kind == QOP_ACK) {
            bool slave_v = xc_slave_vector(op);
            uint32_t m = con[at++], sl = slave_v ? con[at++] : 0;
            bool again = con[at++];
            int got = xc_poll_irq(m, sl, slave_v);
            int want = (op->value & 7) + (slave_v ? 8 : 0);
            struct devcount *dc = xc_devcount(t.counts, "pic");
            if (got == want && !again) {
                xc_count(&t, dc, XC_EQUAL, true);
                continue;
            }
            if (op->rx_mask) { /* IRQ4 while QEMU's receiver lacks the host's input */
                xc_count(&t, dc, XC_TIMING, true);
                continue;
            }
            if (got == want) { /* its edge came within XP_ACK_WINDOW_NS after */
                if (xc_count(&t, dc, XC_TOLERATED, true))
                    printf("tolerated: exit %" PRIu64 ", device pic, acknowledge: trace vector "
                           "0x%02x, qemu's request came within %d ns after\n",
                           op->exit_seq, op->value, XP_ACK_WINDOW_NS);
                continue;
            }
            bool spurious = (want & 7) == 7 && (got < 0 || got == op->withdrawn);
            bool relatch = got < 0 && want >= 8 && (op->pic_flags & QPIC_RELATCH);
            /* IRQ8 at hvrr's periodic tap while QEMU's period started at
             * the PIE write (rtc_pf_dev) */
            bool pf = want == 8 && got < 0;
            relatch |= pf;
            /* IRQ0 from a control word alone (pit_out_dev) */
            relatch |= want == 0 && got < 0 && (op->pic_flags & QPIC_CW_EDGE);
            /* IRQ0 after a count rewritten in mode 2/3 (pit_rewrite_dev) */
            relatch |= want == 0 && got < 0 && (op->pic_flags & QPIC_PIT_REWRITE);
            /* a level request re-taken under ICW1 LTIM (ltim_dev) */
            relatch |= xc_ltim_ack(op, got, true);
            relatched |= relatch;
            bool ex = spurious || relatch;
            if (xc_count(&t, dc, ex ? XC_EXPLAINED : XC_DIFFER, true))
                printf("%s: exit %" PRIu64 ", device pic, acknowledge at %" PRIu64
                       " ns: trace vector 0x%02x (IRQ%d), qemu %s%d%s\n",
                       ex ? "explained" : "difference", op->exit_seq,
                       vm_rec_tsc_to_ns(op->tsc, s->tsc_hz ? s->tsc_hz : NS_PER_SEC), op->value,
                       want, got < 0 ? "no interrupt pending (poll 0x" : "IRQ",
                       got < 0 ? (int)m : got, got < 0 ? ")" : "");
            continue;
        }
        if (xc_master_eoi(op))
            relatched = false;
        if (op->kind != QOP_IN)
            continue;
        uint32_t qv = (uint32_t)get_le(con + at, op->size);
        at += op->size;
        if (op->port == QS_ACPI_PM + 8 && op->size == 4)
            qv = ((qv - acpi_tmr_shift(base)) & 0xffffff) | (qv & 0xff000000u);
        struct devcount *dc = xc_devcount(t.counts, qscript_device(op->port));
        uint32_t mask = xc_size_mask(op);
        uint32_t tm = (timed_mask(op) | op->rx_mask) & mask;
        uint32_t diff = (op->value ^ qv) & mask & ~tm;
        if (tm == mask || !diff) {
            xc_count(&t, dc, tm == mask ? XC_TIMING : XC_EQUAL, false);
            continue;
        }
        if (xc_pit_undefined(op)) { /* a count never loaded: undefined */
            xc_count(&t, dc, XC_TIMING, false);
            continue;
        }
        const char *kind, *absent = NULL;
        const struct deviation *d = NULL;
        enum xc_outcome o;
        if ((absent = xc_absent(op, diff)) != NULL) {
            o = XC_ABSENT;
            kind = "absent";
        } else if (tolerated(s, k, op->value, qv)) {
            o = XC_TOLERATED;
            kind = "tolerated";
        } else {
            d = timed_explained(op, diff);
            if (!d && op->port == 0x20 && (op->pic_ocw3[0] & 4) &&
                (op->value == 0x84 || qv == 0x84))
                d = &uart_irq4_dev; /* a poll that IRQ4's extra edge answered */
            if (!d)
                d = xc_explained(op, diff);
            if (!d)
                d = xc_relatch_explains(op, diff, relatched);
            o = d ? XC_EXPLAINED : XC_DIFFER;
            kind = d ? "explained" : "difference";
        }
        qscript_register(op, reg, sizeof(reg));
        if (xc_count(&t, dc, o, false)) {
            printf(
                "%s: exit %" PRIu64 " at %" PRIu64 " ns, device %s, register %s (port 0x%x), "
                "trace 0x%0*x, qemu 0x%0*x\n",
                kind, op->exit_seq, vm_rec_tsc_to_ns(op->tsc, s->tsc_hz ? s->tsc_hz : NS_PER_SEC),
                qscript_device(op->port), reg, op->port, op->size * 2, op->value, op->size * 2, qv);
            if (d || absent)
                printf("  %s: %s\n", d ? "deviation" : "platform", d ? d->what : absent);
        }
    }
    printf("crosscheck --timed %s: %zu ops, QEMU virtual time = trace time + %" PRIu64
           " ns (player ready at %" PRIu64 " ns); latest access %" PRIu64
           " ns after its time, %" PRIu64 " later than 100 ns\n",
           path, s->n, base, started, worst, late);
    xc_print_apic(s);
    if (s->skipped_wide)
        printf("  %" PRIu64 " accesses wider than the device's registers not played (hvrr "
               "ignores them, QEMU splits them into bytes)\n",
               s->skipped_wide);
    printf("  device   compared   equal  tolerated  explained  absent  differ  not-comparable\n");
    for (int i = 0; i < XC_NDEV; i++) {
        const struct devcount *c = &t.counts[i];
        if (c->dev)
            printf("  %-7s %9" PRIu64 " %7" PRIu64 " %10" PRIu64 " %10" PRIu64 " %7" PRIu64
                   " %7" PRIu64 " %15" PRIu64 "\n",
                   c->dev, c->compared, c->equal, c->tolerated, c->explained, c->absent, c->differ,
                   c->timing);
    }
    printf("  acknowledges compared %" PRIu64 ", differ %" PRIu64 "\n", t.ack_cmp, t.ack_diff);
    printf("result: %" PRIu64 " unexplained difference(s), %" PRIu64 " tolerated, %" PRIu64
           " explained, %" PRIu64 " of devices hvrr's platform does not have\n",
           t.diffs, t.tol, t.expl, t.absent);
    ret = (t.diffs || (strict && (t.expl || t.tol || t.absent))) ? CLI_BAD_INPUT : CLI_OK;
    if (cli_flush_stdout("crosscheck"))
        ret = CLI_BAD_INPUT;
out:
    free(con);
    xc_tmpfile_close(mf, mp);
    xc_tmpfile_close(cf, cp);
    xc_tmpfile_close(ef, ep);
    return ret;
}
