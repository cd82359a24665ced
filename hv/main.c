/* Hypervisor entry after boot.S: host tables, log, memory, TSC calibration,
 * VMX, then the guests:
 *   hv=tests (default): every multiboot2 module is a test guest (flat binary
 *     loaded at 0x8000) run in a fresh VM; module args name=N expect=E with E
 *     poweroff (default) or triple-fault. One result line per guest, then
 *     "hvrr: RESULT PASS|FAIL passed/total".
 *   guest=linux: modules vlbl, bzImage[, initrd] placed per guest/vlbl/bootinfo.h.
 *   guest=multiboot: the first module is a Multiboot (v1 or v2) kernel (its module
 *     string is its command line), the others its modules (hv/multiboot.h);
 *     isa-debug-exit on port 0xf4 ends it: RESULT PASS if the value written
 *     is pass_status=N (default 0), else FAIL.
 * The options (hv/options.h, docs/hypervisor.md) are parsed once into
 * struct hv_options; a bad one stops everything before any guest runs. */
#include "guest/vlbl/bootinfo.h"
#include "hv/acpi.h"
#include "hv/arch.h"
#include "hv/cpu.h"
#include "hv/host_rtc.h"
#include "hv/lib.h"
#include "hv/mm.h"
#include "hv/multiboot.h"
#include "hv/options.h"
#include "hv/recording.h"
#include "hv/tsc.h"
#include "hv/vm.h"

#define MB2_BOOT_MAGIC 0x36d76289u

/* Value of key=... in a test guest module's arguments (name=, expect=, apic=, cpus=,
 * timeout_ms=); returns its length or -1. */
static int get_arg(const char *line, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = 0;
            while (v[n] && v[n] != ' ')
                n++;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return (int)n;
        }
        while (*p && *p != ' ')
            p++;
    }
    return -1;
}

static struct vm the_vm;
static struct vm_config base_cfg;
static struct hv_options opts;

static void bench_native(uint64_t n)
{
    uint64_t t0 = rdtsc();
    for (uint64_t i = 0; i < n; i++)
        outb(0x80, (uint8_t)i);
    uint64_t t1 = rdtsc();
    hv_log("bench: native out 0x80 x %lu: %lu TSC ticks, %lu ticks each", n, t1 - t0,
           n ? (t1 - t0) / n : 0);
}

/* Where the host TSC of a run went: the hypervisor's time between exits
 * and entries (hidden from the guest, so known with hidetime=1 only; pre:
 * what the first entry hid from before the run, the set-up since the BSP's
 * VMCS was made), and the trace's end after the guest stopped (last frame,
 * draining the line). Under Bochs TSC ticks are emulated instructions;
 * scripts/bench-linux-rec.sh compares runs with these. */
static void log_hv_time(const struct vm *vm, uint64_t pre)
{
    const struct vmx_vcpu *v = &vm->cur->vmx;
    if (!v->hide_host_time)
        return;
    uint64_t hv = v->hidden_tsc > pre ? v->hidden_tsc - pre : 0;
    hv_log("  host TSC outside the guest: %lu handling exits (%lu per exit), %lu ending the trace",
           hv, vm->total_exits ? hv / vm->total_exits : 0, vm->trace_end_tsc);
}

/* Runs one test guest; returns true if it passed. */
static bool run_test_guest(const struct mb_module *m, unsigned idx)
{
    char name[32] = "guest", expect[32] = "poweroff";
    get_arg(m->cmdline, "name", name, sizeof name);
    get_arg(m->cmdline, "expect", expect, sizeof expect);
    uint64_t size = m->end - m->start;
    if (size > HVRR_VLBL_MAX) {
        hv_log("GUEST %s FAIL image too large (%lu bytes)", name, size);
        return false;
    }
    struct mm_state mark;
    mm_mark(&mark);
    struct vm_config cfg = base_cfg;
    cfg.vpid = (uint16_t)(idx + 1);
    cfg.cmdline = m->cmdline;
    char tmo[24];
    uint64_t ms;
    int tl = get_arg(m->cmdline, "timeout_ms", tmo, sizeof tmo); /* per-guest virtual-time budget */
    if (tl > 0 && hv_options_number(tmo, (size_t)tl, false, &ms) && ms <= UINT64_MAX / 1000000ull)
        cfg.time_limit_ns = ms * 1000000ull;
    else if (tl >= 0)
        hv_log("GUEST %s: bad timeout_ms=%s ignored", name, tmo);
    char ap[4];
    /* apic=1: this guest gets the local APIC + I/O APIC platform (and CPUID.01H:EDX.APIC) */
    cfg.apic = get_arg(m->cmdline, "apic", ap, sizeof ap) == 1 && ap[0] == '1';
    /* cpus=N (2..4): as many vCPUs, the APs waiting for a SIPI (implies apic=1) */
    char nc[4];
    int cl = get_arg(m->cmdline, "cpus", nc, sizeof nc);
    if (cl == 1 && nc[0] >= '1' && nc[0] <= '4') {
        cfg.cpus = (unsigned)(nc[0] - '0');
        if (cfg.cpus > 1)
            cfg.apic = true;
    } else if (cl >= 0) {
        hv_log("GUEST %s: bad cpus=%s ignored (1..4)", name, nc);
    }
    struct vm *vm = &the_vm;
    bool ok = false;
    hv_log("GUEST %s: start (%lu bytes, expect %s)", name, size, expect);
    if (vm_create(vm, &cfg) == 0) {
        memcpy(vm_gpa(vm, HVRR_VLBL_GPA), phys_to_virt(m->start), size);
        uint64_t h0 = rdtsc();
        enum vm_stop s = vm_run(vm);
        uint64_t h1 = rdtsc();
        uint64_t gtsc = vm_guest_tsc_now(vm);
        bool end_ok = !strncmp(vm_stop_name(s), expect, 32);
        ok = end_ok && vm->fail_lines == 0 && vm->pass_lines > 0;
        vm_print_stats(vm);
        hv_log("  host TSC %lu for %lu exits (%lu per exit), guest virtual time %lu us", h1 - h0,
               vm->total_exits, vm->total_exits ? (h1 - h0) / vm->total_exits : 0,
               vm_now_ns(vm, gtsc) / 1000);
        hv_log("GUEST %s %s: ended by %s (expected %s), %u PASS / %u FAIL lines", name,
               ok ? "PASS" : "FAIL", vm_stop_name(s), expect, vm->pass_lines, vm->fail_lines);
        vm_destroy(vm);
    } else {
        hv_log("GUEST %s FAIL: VM creation failed", name);
    }
    mm_release(&mark);
    return ok;
}

static const struct mb_module *find_module(const struct boot_info *bi, const char *what,
                                           unsigned fallback)
{
    for (unsigned i = 0; i < bi->nmods; i++)
        if (strstr_n(bi->mods[i].cmdline, strlen(bi->mods[i].cmdline), what))
            return &bi->mods[i];
    return fallback < bi->nmods ? &bi->mods[fallback] : NULL;
}

/* Linux: place vlbl, bzImage, initrd, command line and bootinfo. */
static int run_linux(const struct boot_info *bi)
{
    const struct mb_module *vlbl = find_module(bi, "vlbl", 0);
    const struct mb_module *kern = find_module(bi, "bzImage", 1);
    const struct mb_module *initrd = find_module(bi, "initrd", 2);
    if (!vlbl || !kern) {
        hv_log("guest=linux needs modules vlbl and bzImage (and optionally initrd)");
        return -1;
    }
    static char cmdline[HVRR_CMDLINE_MAX];
    const char *want = opts.cmdline ? opts.cmdline : "console=ttyS0";
    size_t wl = strlen(want);
    if (wl >= sizeof cmdline) {
        hv_log("linux: cmdline= is %lu bytes, at most %lu fit", (uint64_t)wl,
               (uint64_t)sizeof cmdline - 1);
        return -1;
    }
    memcpy(cmdline, want, wl + 1);
    struct vm *vm = &the_vm;
    struct vm_config cfg = base_cfg;
    cfg.vpid = 1;
    cfg.time_limit_ns = 0;
    cfg.cmdline = cmdline;
    /* CPUID 0x15/0x16 read as zeros, so Linux measures its TSC against the
     * virtual PIT as on a PC (docs/hypervisor.md, "Virtual time");
     * tscleaves=1 announces the frequency there instead. */
    cfg.hide_tsc_leaves = !opts.tsc_leaves;
    /* apic=1: the local APIC + I/O APIC platform, described by ACPI tables
     * in the BIOS area where Linux looks for the RSDP (vlbl's E820 map
     * reserves 0xf0000-0xfffff). */
    cfg.apic = opts.apic;
    cfg.cpus = opts.cpus; /* cpus=N: the MADT lists N processors, the APs wait for a SIPI */
    if (vm_create(vm, &cfg) != 0)
        return -1;
    if (cfg.apic) {
        const struct acpi_config ac = {.base = ACPI_TABLES_GPA,
                                       .pm1a_evt = VM_DEVICES_ACPI_PM_BASE,
                                       .pm1a_cnt = VM_DEVICES_ACPI_PM_BASE + 4,
                                       .pm_tmr = VM_DEVICES_ACPI_PM_BASE + 8,
                                       .sci_irq = VM_DEVICES_SCI_IRQ,
                                       .ncpus = (uint8_t)vm->nvcpus,
                                       .s5_slp_typ = VM_DEVICES_S5_TYP};
        if (!acpi_build(&ac, vm_gpa(vm, ACPI_TABLES_GPA), ACPI_TABLES_MAX)) {
            hv_log("linux: ACPI tables do not fit");
            return -1;
        }
    }
    uint64_t vsz = vlbl->end - vlbl->start, ksz = kern->end - kern->start;
    uint64_t isz = initrd ? initrd->end - initrd->start : 0;
    uint64_t igpa = isz ? (cfg.ram_bytes - isz) & ~(PAGE_SIZE - 1) : 0;
    if (vsz > HVRR_VLBL_MAX || HVRR_KERNEL_GPA + ksz > (isz ? igpa : cfg.ram_bytes)) {
        hv_log("linux: images do not fit in %lu MiB of guest RAM", cfg.ram_bytes >> 20);
        return -1;
    }
    memcpy(vm_gpa(vm, HVRR_VLBL_GPA), phys_to_virt(vlbl->start), vsz);
    memcpy(vm_gpa(vm, HVRR_KERNEL_GPA), phys_to_virt(kern->start), ksz);
    if (isz)
        memcpy(vm_gpa(vm, igpa), phys_to_virt(initrd->start), isz);
    size_t clen = strlen(cmdline);
    memcpy(vm_gpa(vm, HVRR_CMDLINE_GPA), cmdline, clen + 1);
    struct hvrr_bootinfo *b = vm_gpa(vm, HVRR_BOOTINFO_GPA);
    *b = (struct hvrr_bootinfo){
        .magic = HVRR_BOOTINFO_MAGIC,
        .version = HVRR_BOOTINFO_VERSION,
        .ram_bytes = cfg.ram_bytes,
        .kernel_gpa = HVRR_KERNEL_GPA,
        .kernel_size = ksz,
        .initrd_gpa = igpa,
        .initrd_size = isz,
        .cmdline_gpa = HVRR_CMDLINE_GPA,
        .cmdline_len = (uint32_t)clen,
    };
    hv_log("linux: vlbl %lu B, bzImage %lu B at 0x%x, initrd %lu B at 0x%lx, cmdline '%s'", vsz,
           ksz, HVRR_KERNEL_GPA, isz, igpa, cmdline);
    uint64_t h0 = rdtsc();
    uint64_t pre = h0 - vm->vcpus[0].vmx.host_exit_tsc; /* no entry yet: its creation */
    enum vm_stop s = vm_run(vm);
    uint64_t h1 = rdtsc();
    vm_print_stats(vm);
    hv_log("  host TSC %lu for %lu exits, guest virtual time %lu us", h1 - h0, vm->total_exits,
           vm_now_ns(vm, vm_guest_tsc_now(vm)) / 1000);
    log_hv_time(vm, pre);
    hv_log("linux guest ended by %s", vm_stop_name(s));
    /* Power-off and reset are the guest's own requests (poweroff -f, reboot);
     * anything else (triple fault, idle for ever, timeout, fatal) is not. */
    bool asked = (s == VM_STOP_POWEROFF || s == VM_STOP_RESET) && !hvrec_guest_panicked();
    hv_log("RESULT %s linux %s%s", asked ? "PASS" : "FAIL", vm_stop_name(s),
           hvrec_guest_panicked() ? " after a kernel panic" : "");
    return 0;
}

/* A Multiboot (v1 or v2) kernel (module 0, its string the command line) with the
 * other modules as its modules, started the way GRUB or QEMU -kernel
 * start it; the guest's isa-debug-exit write is its verdict. */
static void run_multiboot(const struct boot_info *bi)
{
    if (bi->nmods == 0 || bi->nmods + bi->nmods_ignored > MBK_MAX_MODS + 1) {
        hv_log("RESULT FAIL multiboot: needs a kernel module (and at most %u modules for it)",
               MBK_MAX_MODS);
        return;
    }
    uint32_t pass = opts.pass_status;
    const struct mb_module *k = &bi->mods[0];
    struct mbk_module mods[MBK_MAX_MODS];
    for (unsigned i = 1; i < bi->nmods; i++)
        mods[i - 1] = (struct mbk_module){.data = phys_to_virt(bi->mods[i].start),
                                          .size = bi->mods[i].end - bi->mods[i].start,
                                          .string = bi->mods[i].cmdline};
    const struct mbk_input in = {.image = phys_to_virt(k->start),
                                 .image_size = k->end - k->start,
                                 .cmdline = k->cmdline,
                                 .mods = mods,
                                 .nmods = bi->nmods - 1,
                                 .loader_name = "hvrr"};
    struct vm *vm = &the_vm;
    struct vm_config cfg = base_cfg;
    cfg.vpid = 1;
    cfg.cmdline = k->cmdline;
    cfg.debug_exit = true;
    if (vm_create(vm, &cfg) != 0) {
        hv_log("RESULT FAIL multiboot: VM creation failed");
        return;
    }
    struct mbk_boot b;
    const char *why = mbk_load(vm_gpa(vm, 0), cfg.ram_bytes, &in, &b);
    if (why) {
        hv_log("multiboot: kernel refused (%lu bytes): %s", k->end - k->start, why);
        hv_log("RESULT FAIL multiboot kernel refused");
        vm_destroy(vm);
        return;
    }
    hv_log("multiboot: v%u %s kernel 0x%x-0x%x, entry 0x%x, info at 0x%x, %u module(s) "
           "0x%x-0x%x, cmdline '%s'",
           b.version,
           b.elf            ? (b.elf_class == 64 ? "ELF64" : "ELF32")
           : b.version == 1 ? "a.out-kludge"
                            : "address-tag",
           b.kernel_lo, b.kernel_hi, b.entry, b.mbi, bi->nmods - 1, b.mods_lo, b.mods_hi,
           k->cmdline);
    /* ESP is undefined at a Multiboot entry: below the conventional 0x7c00. */
    vmx_vcpu_set_pm32(&vm->vcpus[0].vmx, b.entry, 0x7c00, b.magic, b.mbi);
    uint64_t h0 = rdtsc();
    enum vm_stop s = vm_run(vm);
    uint64_t h1 = rdtsc();
    vm_print_stats(vm);
    hv_log("  host TSC %lu for %lu exits, guest virtual time %lu us", h1 - h0, vm->total_exits,
           vm_now_ns(vm, vm_guest_tsc_now(vm)) / 1000);
    if (s == VM_STOP_DEBUG_EXIT) {
        uint32_t v = vm->devs.dbgexit.value;
        hv_log("multiboot guest ended by debug-exit: value 0x%x (QEMU exit status %u), "
               "%u PASS / %u FAIL lines",
               v, debugexit_qemu_status(&vm->devs.dbgexit) & 0xff, vm->pass_lines, vm->fail_lines);
        hv_log("RESULT %s multiboot debug-exit 0x%x (pass_status 0x%x)",
               v == pass ? "PASS" : "FAIL", v, pass);
    } else {
        hv_log("multiboot guest ended by %s without debug-exit", vm_stop_name(s));
        hv_log("RESULT FAIL multiboot %s", vm_stop_name(s));
    }
    vm_destroy(vm);
}

void hv_main(uint32_t magic, uint64_t mbi);
void hv_main(uint32_t magic, uint64_t mbi)
{
    serial_init();
    cpu_tables_init();
    /* Physical interrupts are never used: mask both 8259s so that none is
     * pending while a guest runs (external-interrupt exiting catches the rest). */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    hv_log("hvrr hypervisor starting");
    if (magic != MB2_BOOT_MAGIC)
        hv_panic("not booted by a multiboot2 loader (magic 0x%x)", magic);
    static struct boot_info bi;
    mm_init(mbi, &bi);
    hv_log("cmdline: '%s', %u module(s), %lu MiB RAM, %lu MiB free", bi.cmdline, bi.nmods,
           bi.ram_total >> 20, mm_free_bytes() >> 20);
    if (bi.nmods_ignored)
        hv_log("%u module(s) beyond the first %u ignored", bi.nmods_ignored, MB_MAX_MODULES);

    static char bad[1024];
    int nbad = hv_options_parse(bi.cmdline, &opts, bad, sizeof bad);
    bool poweroff = opts.poweroff; /* honoured even when other options are bad */
    if (nbad) {
        /* One line per problem, then what is accepted; nothing runs. */
        for (char *l = bad; *l;) {
            char *e = l;
            while (*e && *e != '\n')
                e++;
            bool more = *e != 0;
            *e = 0;
            hv_log("command line: %s", l);
            l = more ? e + 1 : e;
        }
        hv_log("command line: accepted: %s", hv_options_usage());
        hv_log("RESULT FAIL hypervisor command line");
        if (poweroff)
            hv_poweroff();
        cpu_halt_forever();
    }
    static const char *const rec_names[] = {"off", "stream", "flight"};
    hv_log("options: guest %s, mem %lu MiB, %u vCPU(s), timeout %lu s%s, record %s",
           opts.guest == HV_GUEST_LINUX       ? "linux"
           : opts.guest == HV_GUEST_MULTIBOOT ? "multiboot"
                                              : "tests",
           opts.mem_bytes >> 20, opts.cpus, opts.timeout_s, opts.timeout_s ? "" : " (none)",
           rec_names[opts.record]);
    base_cfg.ram_bytes = opts.mem_bytes;
    base_cfg.time_limit_ns = opts.timeout_s * 1000000000ull; /* 0: none */
    base_cfg.interactive = opts.interactive;
    base_cfg.realtime = opts.realtime;
    /* rtc=host (default): the guest RTC starts at the machine's date;
     * rtc=SECONDS: at that Unix time (reproducible runs). */
    base_cfg.rtc_epoch_sec = 1767225600ull; /* 2026-01-01 00:00 UTC if the host clock is bad */
    if (!opts.rtc_host) {
        base_cfg.rtc_epoch_sec = opts.rtc_sec;
    } else {
        uint64_t now = host_rtc_read();
        if (now)
            base_cfg.rtc_epoch_sec = now;
        else
            hv_log("host RTC unreadable: guest RTC starts at 2026-01-01 00:00 UTC");
    }
    hv_log("guest RTC starts at %lu (Unix seconds)", base_cfg.rtc_epoch_sec);
    base_cfg.show_host_time = !opts.hide_time;

    base_cfg.tsc_hz = tsc_calibrate();
    hv_log("TSC %lu Hz (calibrated against the PIT)", base_cfg.tsc_hz);
    if (opts.bench)
        bench_native(opts.bench_n);

    if (vmx_init() != 0) {
        hv_log("RESULT FAIL VMX unavailable");
        if (poweroff)
            hv_poweroff();
        cpu_halt_forever();
    }
    hvrec_setup(&opts); /* record=off|stream|flight and its options */

    if (opts.guest == HV_GUEST_LINUX) {
        if (run_linux(&bi) != 0)
            hv_log("RESULT FAIL linux guest could not start");
    } else if (opts.guest == HV_GUEST_MULTIBOOT) {
        run_multiboot(&bi);
    } else {
        unsigned passed = 0;
        for (unsigned i = 0; i < bi.nmods; i++)
            passed += run_test_guest(&bi.mods[i], i);
        unsigned all = bi.nmods + bi.nmods_ignored; /* an ignored guest did not pass */
        hv_log("RESULT %s %u/%u", passed == all && all ? "PASS" : "FAIL", passed, all);
    }
    if (poweroff)
        hv_poweroff();
    cpu_halt_forever();
}
