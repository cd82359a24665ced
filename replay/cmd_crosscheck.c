/* hvrr crosscheck: QEMU's device models as an independent oracle. The
 * trace's device traffic goes to qemu-system-x86_64 as a qtest script
 * (replay/qtest_script.h) and every IN value and PIC acknowledge QEMU
 * answers is compared with the trace (docs/crosscheck.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/cli.h"
#include "replay/crosscheck.h"

static void help(void)
{
    printf("usage: hvrr crosscheck [--timed] [--strict] [--qemu PATH] [--player PATH]\n"
           "                       [--script OUT] [--max-reports N] FILE.hvt\n\n"
           "Compares every IN value and acknowledged PIC vector of the trace with what\n"
           "QEMU's device models (pc machine, no HPET/ACPI) answer to the same port\n"
           "traffic (docs/crosscheck.md).\n"
           "Default (stopped clock): the traffic, the IRQ line levels and the\n"
           "acknowledges go to QEMU as a qtest script with its CPU stopped; QEMU's own\n"
           "COM1/i8042 interrupts are moved to lines the trace never drives. QEMU's clock\n"
           "does not run (Debian's QEMU has no qtest accelerator), so time-dependent\n"
           "reads (PIT counts, port 0x61 bits 4-5, RTC time and flags, UART LSR/IIR\n"
           "transmitter bits) are compared only in their time-independent bits.\n"
           "--timed: a player guest (build/xcplayer/player.elf) boots in QEMU under\n"
           "-icount shift=0,sleep=off and does each access at its trace time on QEMU's\n"
           "virtual clock; QEMU's own PIT/RTC/UART drive its PIC; every IN is compared\n"
           "whole, a PIT count byte one clock off and an interrupt that comes within\n"
           "1 us after the trace's acknowledge counted as 'tolerated'; an 8254 count\n"
           "never loaded since power-on (undefined) is not compared.\n"
           "Known deviations (hvrr follows the datasheet, QEMU does not) are counted as\n"
           "'explained'; reads of devices QEMU's pc has and hvrr's platform has not (PCI\n"
           "functions beside the host bridge, a PS/2 keyboard and mouse) as 'absent';\n"
           "--strict lists them and the tolerated ones, and fails on them. On an APIC\n"
           "platform, PIC-range vectors of IRs the 8259A masks are the I/O APIC's (not\n"
           "compared) and APIC MMIO is not compared; --timed also compares the ACPI PM.\n\n"
           "  --timed          play the traffic at its virtual times (see above)\n"
           "  --strict         also report explained/tolerated differences, fail on them\n"
           "  --qemu PATH      QEMU binary (default $HVRR_QEMU or qemu-system-x86_64)\n"
           "  --player PATH    player guest (default $HVRR_XCPLAYER or xcplayer/player.elf\n"
           "                   beside the hvrr binary)\n"
           "  --script OUT     also write the qtest script (--timed: the player's op list)\n"
           "  --max-reports N  print at most N differences (default 10)\n\n"
           "Exit status: 0 nothing unexplained differs; 1 differences, damaged or\n"
           "unreadable trace, QEMU or the player missing or failing; 2 usage error.\n");
}

/* Bits of a read that depend on elapsed time, which the stopped QEMU clock
 * cannot reproduce: returns the mask of bits NOT compared (0xffffffff: the
 * whole value). */
static uint32_t timing_mask(const struct qop *op)
{
    switch (op->port) {
    case 0x40:
    case 0x41:
    case 0x42: return 0xffffffff; /* live/latched counts, status OUT/null */
    case 0x61: return 0x30;       /* refresh toggle, OUT2 */
    case 0x71:
        if (op->cmos_index <= 0x09 || op->cmos_index == 0x32)
            return 0xffffffff; /* the clock itself */
        if (op->cmos_index == 0x0a)
            return 0x80; /* UIP */
        if (op->cmos_index == 0x0c)
            return 0xffffffff; /* PF/AF/UF flags and IRQF */
        return 0;
    case 0x3fd: return 0x60; /* THRE/TEMT: transmit takes character times in hvrr */
    case 0x3fa: return op->uart_dlab ? 0 : 0x0f; /* interrupt id: THRE/timeout timing */
    default: return 0;
    }
}

/* Deliberate deviations: hvrr follows the datasheet, QEMU does not. An IN
 * difference confined to `bits` of a read of `port` (whose trace value has
 * all of `need` set) is explained. Each was seen on the corpus. */
static const struct deviation deviations[] = {
    {0x64, 0, 0x0c,
     "i8042 status bits 2 (SYS) and 3 (A2, last write was a command): hvrr follows the 8042 "
     "datasheet; QEMU's SYS/CMD bits differ"},
    {0x3fe, 0, 0x0f,
     "16550 MSR delta bits in loopback: PC16550D (MCR bit 4) says the modem status inputs "
     "and their interrupts work in loopback, so DCTS/DDSR/TERI/DDCD follow MCR changes; "
     "QEMU computes the loopback MSR from MCR without deltas"},
    {0x3fd, 0x10, 0x9f,
     "16550 break in loopback (16450 mode): PC16550D loops the serial output (break: LCR bit "
     "6) back to the receiver, which takes a 0 byte with BI|FE; QEMU does not loop a break "
     "back"},
    {0x3fd, 0x80, 0x9f,
     "16550 break in loopback: PC16550D loops the serial output (break: LCR bit 6) back to "
     "the receiver, which takes a 0 byte with BI|FE and the FIFO error bit; QEMU does not "
     "loop a break back"},
};

static const struct deviation withdrawn_irr = {
    0x20, 0, 0xff,
    "8259A IRR after a withdrawn edge request: the 8259A datasheet has the request stay high "
    "until the acknowledge, and IRR follows it when it falls (hvrr); QEMU keeps the edge "
    "latched in IRR"};

static const struct deviation break_byte = {
    0x3f8, 0, 0xff,
    "16550 break in loopback: the 0 byte a looped-back break puts in the receiver (PC16550D); "
    "QEMU's RBR still holds the previous byte"};

static const struct deviation ltim_dev = {
    0x20, 0, 0xff,
    "8259A ICW1 LTIM (bit 3): level-triggered mode on every input, the IRR bit follows the line "
    "(8259A datasheet, ICW1 and \"Edge and Level Triggered Modes\"); QEMU's i8259 ignores LTIM "
    "(only the ELCR makes a line level-triggered) and stays edge-triggered"};

static const struct deviation smm_eoi_dev = {
    0x20, 0, 0xff,
    "8259A non-specific EOI in special mask mode: IS bits masked by the IMR are not cleared "
    "(8259A datasheet, \"End of Interrupt\": \"IS bits masked by an IMR bit will not be "
    "cleared by a non-specific EOI if the 8259A is in the Special Mask Mode\"); QEMU clears "
    "the highest IS bit, masked or not"};

const struct deviation xc_relatch_dev = {
    0x20, 0, 0x04,
    "8259A cascade: hvrr's slave INT falls while it answers an acknowledge and rises again if "
    "another slave request is pending, which latches master IR2 anew (hvrr's reading of the "
    "8259A datasheet \"Interrupt Sequence\": the slave resolves priority again after the "
    "INTA; in AEOI no IS bit holds the level); QEMU keeps the slave output high across the "
    "acknowledge, so master IR2 is not requested again and the slave's next request waits"};

/* PC platform differences: QEMU's pc machine is not hvrr's (docs/crosscheck.md). */
static const struct deviation pci_addr_rsvd_dev = {
    0xcf8, 0, 0x7f000003,
    "PCI CONFIG_ADDRESS bits 30-24 and 1-0 are reserved, read-only, read as 0 (PCI Local Bus "
    "Specification 3.0, 3.2.2.3.2; 82441FX CONFADD); QEMU stores and reads back every bit"};
static const struct deviation pci_addr_low_dev = {
    0xcfc, 0, 0xffffffff,
    "PCI CONFIG_DATA with CONFIG_ADDRESS bits 1-0 set: they are read-only 0 (PCI Local Bus "
    "Specification 3.0, 3.2.2.3.2), the register is chosen by bits 7-2 alone; QEMU adds them "
    "to the register offset (pci_host_data_read: config_reg | (addr & 3))"};
static const struct deviation pci_hb_cmd_dev = {
    0xcfc, 0, 0x06800547,
    "82441FX (440FX) PCICMD/PCISTS: command 0006h with only PERR# (bit 6) and SERR# (bit 8) "
    "writable, status 0280h (fast back-to-back, medium DEVSEL) (82441FX datasheet, PCICMD "
    "04-05h, PCISTS 06-07h); QEMU's i440FX has the generic PCI command mask (I/O, memory, bus "
    "master, SERR#, INTx disable writable), reset 0, status 0"};

static const struct deviation kbc_outport_dev = {
    0x60, 0, 0xcc,
    "i8042 output port (0xd0) bits 2-3 and 6-7: undefined on the AT (IBM AT Technical "
    "Reference: bits 2-3 reserved; 6-7 drive the keyboard clock and data lines), the PS/2 "
    "port's clock and data lines on later controllers; hvrr (no keyboard, no mouse; as "
    "Bochs) reads them 0, QEMU as released lines (1)"};

static const struct deviation pit_cw_read_dev = {
    0x43, 0xff, 0xff,
    "8254 read of the control word register (A1 A0 = 11): no operation, the data bus floats "
    "(8254 datasheet, Read/Write Operations table), all ones on the PC; QEMU answers 0"};
static const struct deviation port61_nmi_dev = {
    0x61, 0, 0x0c,
    "port 0x61 bits 2-3 (parity / I/O channel check enables) read back as written (PIIX3 NMI "
    "status and control register 61h: bits 3-0 read/write); QEMU's pcspk keeps bits 0-1 only"};

static const struct deviation pci_hb_subsys_dev = {
    0xcfc, 0, 0xffffffff,
    "440FX host bridge (00:00.0) subsystem IDs (2Ch-2Fh): reserved in the 82441FX, read 0 "
    "(82441FX datasheet, configuration space map; PCI 2.1 made them optional); QEMU gives "
    "every PCI function subsystem vendor 1AF4h, subsystem 1100h"};

static const struct deviation *pc_platform_explained(const struct qop *op, uint32_t diff)
{
    uint32_t a = op->pci_addr;
    if (op->port == 0xcf8 && !(op->value & 0x7f000003) && !(diff & ~0x7f000003u))
        return &pci_addr_rsvd_dev;
    if (op->port >= 0xcfc && op->port <= 0xcff && (a & 0x80000000u)) {
        if (a & 3)
            return &pci_addr_low_dev;
        unsigned shift = 8 * (op->port - 0xcfcu);
        /* only while hvrr's bytes are the 82441FX's: 0280h/0006h but for the
         * PERR#/SERR# enables */
        uint32_t bytes = xc_size_mask(op) << shift, reg = op->value << shift;
        if ((a & 0x00fffffcu) == 0x04 && !(diff & ~(pci_hb_cmd_dev.bits >> shift)) &&
            !((reg ^ 0x02800006u) & ~0x0140u & bytes))
            return &pci_hb_cmd_dev;
        /* subsystem IDs, while hvrr's read 0 as the 82441FX's do */
        if ((a & 0x00fffffcu) == 0x2c && op->value == 0)
            return &pci_hb_subsys_dev;
    }
    if (op->port == 0x43 && op->value == 0xff)
        return &pit_cw_read_dev;
    /* QEMU's value is op->value ^ diff: bits 2-3 0, resp. the line bits all 1 */
    if (op->port == 0x61 && !(diff & ~0x0cu) && !((op->value ^ diff) & 0x0c))
        return &port61_nmi_dev;
    if (op->kbc_outport && !(op->value & 0xcc) && diff == 0xcc)
        return &kbc_outport_dev;
    return NULL;
}

const struct deviation *xc_explained(const struct qop *op, uint32_t diff)
{
    const struct deviation *pd = pc_platform_explained(op, diff);
    if (pd)
        return pd;
    if ((op->port == 0x20 || op->port == 0xa0) && (op->pic_flags & QPIC_LTIM))
        return &ltim_dev;
    if ((op->port == 0x20 || op->port == 0xa0) && (op->pic_flags & QPIC_SMM_EOI) &&
        (op->pic_ocw3[op->port == 0xa0] & 7) == 3)
        return &smm_eoi_dev;
    if (op->port == 0x3f8 && op->after_break && op->value == 0)
        return &break_byte;
    if ((op->port == 0x20 || op->port == 0xa0) && !(op->pic_ocw3[op->port == 0xa0] & 4) &&
        (op->pic_ocw3[op->port == 0xa0] & 3) != 3 && diff && !(diff & ~op->withdrawn_irr) &&
        !(op->value & diff))
        return &withdrawn_irr;
    for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++) {
        const struct deviation *d = &deviations[i];
        if (d->port == op->port && (op->value & d->need) == d->need && !(diff & ~d->bits))
            return d;
    }
    return NULL;
}

struct devcount *xc_devcount(struct devcount *t, const char *dev)
{
    static const char *const names[] = {"pic",  "pit",   "port61", "cmos",
                                        "uart", "i8042", "pci",    "acpi"};
    for (size_t i = 0; i < XC_NDEV; i++)
        if (!strcmp(names[i], dev)) {
            t[i].dev = names[i];
            return &t[i];
        }
    return &t[0];
}

static int on_item(void *ctx, const struct trace_item *it)
{
    return qscript_add(ctx, it) ? 1 : 0;
}

/* QEMU's own COM1 and i8042 are moved to ISA lines the trace never drives
 * (qscript_detach(); the script keeps them masked), so QEMU's 8259A pair sees
 * only the trace's line levels. */
struct qemu_devs {
    char kbd[64], com1[64];
};

static void qemu_devs_init(struct qemu_devs *d, const struct qscript *s)
{
    snprintf(d->com1, sizeof(d->com1), "isa-serial,chardev=hvrrcom1,iobase=0x3f8,irq=%d",
             s->detach_line[0]);
    snprintf(d->kbd, sizeof(d->kbd), "i8042,kbd-irq=%d,mouse-irq=%d", s->detach_line[1],
             s->detach_line[2]);
}

/* Runs QEMU with stdin from `in`, stdout to `out`, stderr to `err`. */
static int run_qemu(const char *qemu, const struct qemu_devs *d, char *const extra[], int in,
                    int out, int err)
{
    char *argv[40];
    int n = 0;
    argv[n++] = "timeout";
    argv[n++] = "120";
    argv[n++] = (char *)qemu;
    /* -rtc clock=vm: QEMU's RTC on the (stopped) virtual clock; on the
     * default host clock its periodic and update interrupts come in real
     * time, at random points of the script */
    static char *const base[] = {"-M",
                                 "pc,hpet=off,acpi=off,i8042=off",
                                 "-accel",
                                 "tcg",
                                 "-m",
                                 "128",
                                 "-nodefaults",
                                 "-display",
                                 "none",
                                 "-chardev",
                                 "null,id=hvrrcom1",
                                 "-S",
                                 "-rtc",
                                 "clock=vm",
                                 "-no-reboot",
                                 "-device",
                                 "isa-debug-exit,iobase=0xf4",
                                 NULL};
    for (int i = 0; base[i]; i++)
        argv[n++] = base[i];
    argv[n++] = "-device";
    argv[n++] = (char *)d->com1;
    argv[n++] = "-device";
    argv[n++] = (char *)d->kbd;
    for (int i = 0; extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    /* QEMU's stdio chardev does not see the end of a regular file: feed
     * the input through a pipe, whose closing ends the qtest session. */
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[1]);
        dup2(pfd[0], 0);
        dup2(out, 1);
        dup2(err, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    char buf[65536];
    ssize_t r;
    lseek(in, 0, SEEK_SET);
    while ((r = read(in, buf, sizeof(buf))) > 0)
        if (write(pfd[1], buf, (size_t)r) != r)
            break; /* QEMU went away: its answers tell how far it got */
    close(pfd[1]);
    signal(SIGPIPE, old);
    return cli_wait_child(pid, false);
}

FILE *xc_tmpfile(char *path, size_t len, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/hvrr-crosscheck-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        close(fd);
        unlink(path);
    }
    return f;
}

void xc_tmpfile_close(FILE *f, const char *path)
{
    if (!f)
        return;
    fclose(f);
    if (path[0])
        unlink(path);
}

/* The QOM paths of the two i8259s, from the monitor's qom tree. */
static int find_pics(const char *qemu, const struct qemu_devs *d, char *master, char *slave,
                     size_t len)
{
    char ip[256], op[256];
    FILE *in = xc_tmpfile(ip, sizeof(ip), "mon-in"), *out = NULL;
    if (!in)
        return -1;
    out = xc_tmpfile(op, sizeof(op), "mon-out");
    int rc = -1;
    if (!out)
        goto done;
    fputs("info qom-tree\nquit\n", in);
    fflush(in);
    rewind(in);
    char *extra[] = {"-monitor", "stdio", NULL};
    if (run_qemu(qemu, d, extra, fileno(in), fileno(out), fileno(out)) != 0)
        goto done;
    rewind(out);
    char line[512];
    int found = 0;
    while (found < 2 && fgets(line, sizeof(line), out)) {
        char *p = strstr(line, "/device[");
        if (!p || !strstr(line, "(isa-i8259)"))
            continue;
        char *e = strchr(p, ' ');
        if (e)
            *e = 0;
        snprintf(found ? slave : master, len, "/machine/unattached%s", p);
        found++;
    }
    rc = found == 2 ? 0 : -1;
done:
    xc_tmpfile_close(in, ip);
    xc_tmpfile_close(out, op);
    return rc;
}

int cmd_crosscheck(int argc, char **argv)
{
    bool strict = false, timed = false;
    const char *player = getenv("HVRR_XCPLAYER");
    char player_buf[4096];
    if (!player || !*player) {
        /* beside the hvrr binary: build/hvrr -> build/xcplayer/player.elf */
        ssize_t n = readlink("/proc/self/exe", player_buf, sizeof(player_buf) - 32);
        if (n < 0)
            n = 0;
        player_buf[n] = 0;
        char *sl = strrchr(player_buf, '/');
        strcpy(sl ? sl + 1 : player_buf, "xcplayer/player.elf");
        player = player_buf;
    }
    const char *qemu = getenv("HVRR_QEMU"), *script_out = NULL, *path = NULL;
    unsigned long long max_reports = 10;
    if (!qemu || !*qemu)
        qemu = "qemu-system-x86_64";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return CLI_OK;
        } else if (!strcmp(a, "--strict")) {
            strict = true;
        } else if (!strcmp(a, "--timed")) {
            timed = true;
        } else if (!strcmp(a, "--player")) {
            if (i + 1 >= argc)
                return cli_usage_error("crosscheck", "%s needs an argument", a);
            player = argv[++i];
        } else if (!strcmp(a, "--qemu") || !strcmp(a, "--script")) {
            if (i + 1 >= argc)
                return cli_usage_error("crosscheck", "%s needs an argument", a);
            *(!strcmp(a, "--qemu") ? &qemu : &script_out) = argv[++i];
        } else if (!strcmp(a, "--max-reports")) {
            if (i + 1 >= argc || cli_parse_u64(argv[i + 1], &max_reports))
                return cli_usage_error("crosscheck", "--max-reports needs a number");
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("crosscheck", "unknown option '%s'", a);
        } else if (path) {
            return cli_usage_error("crosscheck", "one trace file only");
        } else {
            path = a;
        }
    }
    if (!path)
        return cli_usage_error("crosscheck", "no trace file given");

    struct qscript s = {.with_acpi = timed};
    struct trace_reader_stats st;
    int rc = cli_read_trace("crosscheck", path, on_item, &s, &st);
    if (s.oom) {
        fprintf(stderr, "hvrr crosscheck: out of memory\n");
        qscript_free(&s);
        return CLI_BAD_INPUT;
    }
    if (rc || st.frames_ok == 0) {
        qscript_free(&s);
        return cli_finish("crosscheck", path, rc, &st);
    }
    if (st.damage_reports) {
        fprintf(stderr, "hvrr crosscheck: '%s': damaged trace, not cross-checked\n", path);
        qscript_free(&s);
        return CLI_BAD_INPUT;
    }

    if (timed) {
        int r = xc_timed(&s, path, qemu, player, script_out, strict, max_reports);
        qscript_free(&s);
        return r;
    }
    if (qscript_detach(&s)) {
        fprintf(stderr,
                "hvrr crosscheck: '%s': the trace drives nearly every ISA line, none is left "
                "for QEMU's own COM1 and i8042 interrupts\n",
                path);
        qscript_free(&s);
        return CLI_BAD_INPUT;
    }
    struct qemu_devs qd;
    qemu_devs_init(&qd, &s);
    char master[128], slave[128];
    if (find_pics(qemu, &qd, master, slave, sizeof(master))) {
        fprintf(stderr,
                "hvrr crosscheck: cannot run '%s' or find its i8259s (is qemu-system-x86 "
                "installed? --qemu PATH)\n",
                qemu);
        qscript_free(&s);
        return CLI_BAD_INPUT;
    }
    char sp[256], rp[256], ep[256];
    FILE *sf = xc_tmpfile(sp, sizeof(sp), "script");
    FILE *rf = sf ? xc_tmpfile(rp, sizeof(rp), "resp") : NULL;
    FILE *ef = rf ? xc_tmpfile(ep, sizeof(ep), "err") : NULL;
    int ret = CLI_BAD_INPUT;
    if (!ef) {
        fprintf(stderr, "hvrr crosscheck: cannot create a temporary file: %s\n", strerror(errno));
        goto out;
    }
    if (qscript_write(&s, sf, false, master, slave)) {
        fprintf(stderr, "hvrr crosscheck: writing the script failed\n");
        goto out;
    }
    if (script_out) {
        FILE *o = fopen(script_out, "w");
        if (!o || qscript_write(&s, o, false, master, slave) || fclose(o)) {
            fprintf(stderr, "hvrr crosscheck: cannot write '%s'\n", script_out);
            goto out;
        }
    }
    /* QEMU's qtest does not end at the end of its input: the last command
     * leaves through isa-debug-exit (port 0xf4, never in the script). */
    if (fputs("outb 0xf4 0x0\n", sf) < 0 || fflush(sf)) {
        fprintf(stderr, "hvrr crosscheck: writing the script failed\n");
        goto out;
    }
    rewind(sf);
    char *extra[] = {"-qtest", "stdio", NULL};
    int qrc = run_qemu(qemu, &qd, extra, fileno(sf), fileno(rf), fileno(ef));
    (void)qrc; /* QEMU's exit at end of input is not a result; the answers are */
    rewind(rf);

    struct xc_tally t = {.max_reports = max_reports, .strict = strict};
    bool relatched = false; /* an ACK explained by relatch_dev, until the master's EOI */
    char line[256], reg[48];
    size_t k = 0;
    bool short_read = false;
    for (unsigned c = 0; c < s.prefix_cmds && !short_read; c++)
        short_read = !fgets(line, sizeof(line), rf);
    for (k = 0; k < s.n && !short_read; k++) {
        struct qop *op = &s.ops[k];
        uint32_t ans[5] = {0};
        for (unsigned c = 0; c < op->ncmds; c++) {
            for (;;) {
                if (!fgets(line, sizeof(line), rf)) {
                    short_read = true;
                    break;
                }
                if (strncmp(line, "IRQ ", 4))
                    break; /* asynchronous INTR notes are skipped */
            }
            if (short_read)
                break;
            if (strncmp(line, "OK", 2)) {
                line[strcspn(line, "\n")] = 0;
                fprintf(stderr,
                        "hvrr crosscheck: QEMU refused command %zu (exit %" PRIu64 "): %s\n", k,
                        op->exit_seq, line);
                goto out;
            }
            ans[c] = (uint32_t)strtoul(line + 2, NULL, 0);
        }
        if (short_read)
            break;
        if (op->kind == QOP_ACK) {
            bool slave_v = xc_slave_vector(op);
            uint32_t m = ans[1];
            int got = xc_poll_irq(m, ans[3], slave_v);
            int want = (op->value & 7) + (slave_v ? 8 : 0);
            struct devcount *dc = xc_devcount(t.counts, "pic");
            if (got == want) {
                xc_count(&t, dc, XC_EQUAL, true);
                continue;
            }
            /* A spurious IRQ7/15 (request withdrawn before INTA) is what a real
             * 8259A answers (8259A datasheet, "Interrupt Sequence"); QEMU's poll
             * finds nothing pending. */
            bool spurious = (want & 7) == 7 && (got < 0 || got == op->withdrawn);
            bool relatch = got < 0 && want >= 8 && (op->pic_flags & QPIC_RELATCH);
            relatched |= relatch;
            if (xc_ltim_ack(op, got, false)) {
                if (xc_count(&t, dc, XC_EXPLAINED, true)) {
                    printf("explained: exit %" PRIu64 ", device pic, acknowledge: trace vector "
                           "0x%02x (IRQ%d), qemu ",
                           op->exit_seq, op->value, want);
                    if (got < 0)
                        printf("no interrupt pending\n");
                    else
                        printf("IRQ%d (requested in the trace too)\n", got);
                    printf("  deviation: %s\n", ltim_dev.what);
                }
                continue;
            }
            if (relatch) {
                if (xc_count(&t, dc, XC_EXPLAINED, true))
                    printf("explained: exit %" PRIu64 ", device pic, acknowledge: trace vector "
                           "0x%02x (IRQ%d), qemu no interrupt pending\n  deviation: %s\n",
                           op->exit_seq, op->value, want, xc_relatch_dev.what);
                continue;
            }
            if (xc_count(&t, dc, spurious ? XC_EXPLAINED : XC_DIFFER, true))
                printf("%s: exit %" PRIu64 ", device pic, acknowledge: trace vector 0x%02x "
                       "(IRQ%d), qemu %s%d%s\n",
                       spurious ? "explained" : "difference", op->exit_seq, op->value, want,
                       got < 0 ? "no interrupt pending (poll 0x" : "IRQ", got < 0 ? (int)m : got,
                       got < 0 ? ")" : "");
            continue;
        }
        if (xc_master_eoi(op))
            relatched = false; /* the master's EOI ends the IS2 the relatch added */
        if (op->kind != QOP_IN)
            continue;
        struct devcount *dc = xc_devcount(t.counts, qscript_device(op->port));
        uint32_t mask = xc_size_mask(op);
        uint32_t tm = (timing_mask(op) | op->rx_mask) & mask;
        uint32_t diff = (op->value ^ ans[0]) & mask & ~tm & ~(uint32_t)op->detached;
        if (tm == mask || !diff) {
            xc_count(&t, dc, tm == mask ? XC_TIMING : XC_EQUAL, false);
            continue;
        }
        const char *absent = xc_absent(op, diff);
        const struct deviation *d = absent ? NULL : xc_explained(op, diff);
        if (!d && !absent)
            d = xc_relatch_explains(op, diff, relatched);
        qscript_register(op, reg, sizeof(reg));
        enum xc_outcome o = absent ? XC_ABSENT : d ? XC_EXPLAINED : XC_DIFFER;
        if (xc_count(&t, dc, o, false)) {
            printf("%s: exit %" PRIu64 ", device %s, register %s (port 0x%x), trace 0x%0*x, "
                   "qemu 0x%0*x",
                   absent ? "absent"
                   : d    ? "explained"
                          : "difference",
                   op->exit_seq, qscript_device(op->port), reg, op->port, op->size * 2, op->value,
                   op->size * 2, ans[0]);
            if (tm)
                printf(" (timing bits 0x%x not compared)", tm);
            if (d || absent)
                printf("\n  %s: %s", d ? "deviation" : "platform", d ? d->what : absent);
            printf("\n");
        }
    }
    if (short_read) {
        fprintf(stderr,
                "hvrr crosscheck: QEMU stopped answering at command %zu of %zu (exit %" PRIu64
                "); its stderr is in %s\n",
                k, s.n, k < s.n ? s.ops[k].exit_seq : 0, ep);
        ep[0] = 0; /* keep it */
        goto out;
    }
    printf("crosscheck %s: %zu script ops, %" PRIu64 " port exits not scripted, %" PRIu64
           " IRQ changes on lines >= 16, %" PRIu64 " non-PIC vectors, %" PRIu64
           " UART input bytes not fed\n",
           path, s.n, s.skipped_ports, s.skipped_irqs, s.skipped_acks, s.uart_rx);
    xc_print_apic(&s);
    if (s.skipped_wide)
        printf("  %" PRIu64 " accesses wider than the device's registers not scripted (hvrr "
               "ignores them, QEMU splits them into bytes)\n",
               s.skipped_wide);
    printf("  device   compared   equal  explained  absent  differ  timing-only\n");
    for (int i = 0; i < XC_NDEV; i++) {
        const struct devcount *c = &t.counts[i];
        if (c->dev)
            printf("  %-7s %9" PRIu64 " %7" PRIu64 " %10" PRIu64 " %7" PRIu64 " %7" PRIu64
                   " %12" PRIu64 "\n",
                   c->dev, c->compared, c->equal, c->explained, c->absent, c->differ, c->timing);
    }
    printf("  acknowledges compared %" PRIu64 ", differ %" PRIu64 "\n", t.ack_cmp, t.ack_diff);
    printf("result: %" PRIu64 " unexplained difference(s), %" PRIu64 " explained, %" PRIu64
           " of devices hvrr's platform does not have\n",
           t.diffs, t.expl, t.absent);
    ret = (t.diffs || (strict && (t.expl || t.absent))) ? CLI_BAD_INPUT : CLI_OK;
    if (cli_flush_stdout("crosscheck"))
        ret = CLI_BAD_INPUT;
out:
    xc_tmpfile_close(sf, sp);
    xc_tmpfile_close(rf, rp);
    xc_tmpfile_close(ef, ep);
    qscript_free(&s);
    return ret;
}
