/* Hypervisor entry after boot.S: host tables, log, memory, TSC calibration,
 * VMX, then the guests:
 *   hv=tests (default): every multiboot2 module is a test guest (flat binary
 *     loaded at 0x8000) run in a fresh VM; module args name=N expect=E with E
 *     poweroff (default) or triple-fault. One result line per guest, then
 *     "hvrr: RESULT PASS|FAIL passed/total".
 *   guest=linux: modules vlbl, bzImage[, initrd] placed per guest/vlbl/bootinfo.h.
 *   guest=multiboot: the first module is a Multiboot v1 kernel (its module
 *     string is its command line), the others its modules (hv/multiboot.h);
 *     isa-debug-exit on port 0xf4 ends it: RESULT PASS if the value written
 *     is pass_status=N (default 0), else FAIL.
 * Other options: mem=128M (guest RAM), timeout=S (virtual seconds per guest,
 * 0 = none), poweroff=1 (end the emulator when done), realtime=1 (an idle
 * guest's clock keeps pace with the host's: HLT waits before it skips), rtc=host|SECONDS
 * (the guest RTC's start: the machine's clock, default, or a fixed Unix time),
 * interactive=1 (an idle
 * guest waits for COM1 input instead of stopping), bench=native:N (time N
 * host `out 0x80` without VMX first), hidetime=0 (let the guest TSC run while
 * the hv handles exits; default: hidden), tscleaves=1 (Linux: CPUID
 * 0x15/0x16 announce the TSC frequency; default: they read 0 and Linux
 * calibrates its TSC on the virtual PIT), cmdline=... (Linux; the rest of
 * the line). */
#include "guest/vlbl/bootinfo.h"
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

/* Value of key=... in a space-separated line (the rest of the line for
 * "cmdline"); returns its length or -1. */
static int get_arg(const char *line, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = 0;
            bool rest = !strncmp(key, "cmdline", 8);
            while (v[n] && (rest || v[n] != ' '))
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

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (*s == 'K' || *s == 'k')
        v <<= 10;
    else if (*s == 'M' || *s == 'm')
        v <<= 20;
    else if (*s == 'G' || *s == 'g')
        v <<= 30;
    return v;
}

static uint64_t parse_hex(const char *s)
{
    uint64_t v = 0;
    for (;; s++) {
        unsigned c = (unsigned char)*s, d = c - '0';
        if (d > 9) {
            d = (c | 0x20) - 'a' + 10;
            if (d < 10 || d > 15)
                return v;
        }
        v = v * 16 + d;
    }
}

static struct vm the_vm;
static struct vm_config base_cfg;

static void bench_native(uint64_t n)
{
    uint64_t t0 = rdtsc();
    for (uint64_t i = 0; i < n; i++)
        outb(0x80, (uint8_t)i);
    uint64_t t1 = rdtsc();
    hv_log("bench: native out 0x80 x %lu: %lu TSC ticks, %lu ticks each", n, t1 - t0,
           n ? (t1 - t0) / n : 0);
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
    if (get_arg(m->cmdline, "timeout_ms", tmo, sizeof tmo) > 0) /* per-guest virtual-time budget */
        cfg.time_limit_ns = parse_u64(tmo) * 1000000ull;
    struct vm *vm = &the_vm;
    bool ok = false;
    hv_log("GUEST %s: start (%lu bytes, expect %s)", name, size, expect);
    if (vm_create(vm, &cfg) == 0) {
        memcpy(vm_gpa(vm, HVRR_VLBL_GPA), phys_to_virt(m->start), size);
        uint64_t h0 = rdtsc();
        enum vm_stop s = vm_run_vcpu(vm);
        uint64_t h1 = rdtsc();
        uint64_t gtsc = vmx_guest_tsc_now(&vm->vcpu.vmx);
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
    if (get_arg(bi->cmdline, "cmdline", cmdline, sizeof cmdline) < 0)
        memcpy(cmdline, "console=ttyS0", 14);
    struct vm *vm = &the_vm;
    struct vm_config cfg = base_cfg;
    cfg.vpid = 1;
    cfg.time_limit_ns = 0;
    cfg.cmdline = cmdline;
    /* CPUID 0x15/0x16 read as zeros, so Linux measures its TSC against the
     * virtual PIT as on a PC (docs/hypervisor.md, "Virtual time");
     * tscleaves=1 announces the frequency there instead. */
    char opt[4];
    cfg.hide_tsc_leaves =
        !(get_arg(bi->cmdline, "tscleaves", opt, sizeof opt) > 0 && opt[0] == '1');
    if (vm_create(vm, &cfg) != 0)
        return -1;
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
    enum vm_stop s = vm_run_vcpu(vm);
    uint64_t h1 = rdtsc();
    vm_print_stats(vm);
    hv_log("  host TSC %lu for %lu exits, guest virtual time %lu us", h1 - h0, vm->total_exits,
           vm_now_ns(vm, vmx_guest_tsc_now(&vm->vcpu.vmx)) / 1000);
    hv_log("linux guest ended by %s", vm_stop_name(s));
    /* Power-off and reset are the guest's own requests (poweroff -f, reboot);
     * anything else (triple fault, idle for ever, timeout, fatal) is not. */
    bool asked = (s == VM_STOP_POWEROFF || s == VM_STOP_RESET) && !hvrec_guest_panicked();
    hv_log("RESULT %s linux %s%s", asked ? "PASS" : "FAIL", vm_stop_name(s),
           hvrec_guest_panicked() ? " after a kernel panic" : "");
    return 0;
}

/* A Multiboot v1 kernel (module 0, its string the command line) with the
 * other modules as its modules, started the way GRUB or QEMU -kernel
 * start it; the guest's isa-debug-exit write is its verdict. */
static void run_multiboot(const struct boot_info *bi)
{
    if (bi->nmods == 0 || bi->nmods > MB1_MAX_MODS + 1) {
        hv_log("RESULT FAIL multiboot: needs a kernel module (and at most %u modules for it)",
               MB1_MAX_MODS);
        return;
    }
    char arg[24];
    uint32_t pass = 0;
    if (get_arg(bi->cmdline, "pass_status", arg, sizeof arg) > 0)
        pass = (uint32_t)(arg[0] == '0' && (arg[1] | 0x20) == 'x' ? parse_hex(arg + 2)
                                                                  : parse_u64(arg));
    const struct mb_module *k = &bi->mods[0];
    struct mb1_module mods[MB1_MAX_MODS];
    for (unsigned i = 1; i < bi->nmods; i++)
        mods[i - 1] = (struct mb1_module){.data = phys_to_virt(bi->mods[i].start),
                                          .size = bi->mods[i].end - bi->mods[i].start,
                                          .string = bi->mods[i].cmdline};
    const struct mb1_input in = {.image = phys_to_virt(k->start),
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
    struct mb1_boot b;
    const char *why = mb1_load(vm_gpa(vm, 0), cfg.ram_bytes, &in, &b);
    if (why) {
        hv_log("multiboot: kernel refused (%lu bytes): %s", k->end - k->start, why);
        hv_log("RESULT FAIL multiboot kernel refused");
        vm_destroy(vm);
        return;
    }
    hv_log("multiboot: %s kernel 0x%x-0x%x, entry 0x%x, info at 0x%x, %u module(s) 0x%x-0x%x, "
           "cmdline '%s'",
           b.elf ? (b.elf_class == 64 ? "ELF64" : "ELF32") : "a.out-kludge", b.kernel_lo,
           b.kernel_hi, b.entry, b.mbi, bi->nmods - 1, b.mods_lo, b.mods_hi, k->cmdline);
    /* ESP is undefined at a Multiboot entry: below the conventional 0x7c00. */
    vmx_vcpu_set_pm32(&vm->vcpu.vmx, b.entry, 0x7c00, MB1_BOOT_MAGIC, b.mbi);
    uint64_t h0 = rdtsc();
    enum vm_stop s = vm_run_vcpu(vm);
    uint64_t h1 = rdtsc();
    vm_print_stats(vm);
    hv_log("  host TSC %lu for %lu exits, guest virtual time %lu us", h1 - h0, vm->total_exits,
           vm_now_ns(vm, vmx_guest_tsc_now(&vm->vcpu.vmx)) / 1000);
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

    char arg[64];
    bool poweroff = get_arg(bi.cmdline, "poweroff", arg, sizeof arg) > 0 && arg[0] == '1';
    static char bad[1024];
    if (hv_options_check(bi.cmdline, bad, sizeof bad)) {
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
    base_cfg.ram_bytes = 128ull << 20;
    if (get_arg(bi.cmdline, "mem", arg, sizeof arg) > 0)
        base_cfg.ram_bytes = align_up(parse_u64(arg), 2ull << 20);
    base_cfg.time_limit_ns = 20ull * 1000000000ull;
    if (get_arg(bi.cmdline, "timeout", arg, sizeof arg) > 0)
        base_cfg.time_limit_ns = parse_u64(arg) * 1000000000ull;
    base_cfg.interactive = get_arg(bi.cmdline, "interactive", arg, sizeof arg) > 0 && arg[0] == '1';
    base_cfg.realtime = get_arg(bi.cmdline, "realtime", arg, sizeof arg) > 0 && arg[0] == '1';
    /* rtc=host (default): the guest RTC starts at the machine's date;
     * rtc=SECONDS: at that Unix time (reproducible runs). */
    base_cfg.rtc_epoch_sec = 1767225600ull; /* 2026-01-01 00:00 UTC if the host clock is bad */
    if (get_arg(bi.cmdline, "rtc", arg, sizeof arg) > 0 && strncmp(arg, "host", 5)) {
        base_cfg.rtc_epoch_sec = parse_u64(arg);
    } else {
        uint64_t now = host_rtc_read();
        if (now)
            base_cfg.rtc_epoch_sec = now;
        else
            hv_log("host RTC unreadable: guest RTC starts at 2026-01-01 00:00 UTC");
    }
    hv_log("guest RTC starts at %lu (Unix seconds)", base_cfg.rtc_epoch_sec);
    base_cfg.show_host_time = get_arg(bi.cmdline, "hidetime", arg, sizeof arg) > 0 && arg[0] == '0';

    base_cfg.tsc_hz = tsc_calibrate();
    hv_log("TSC %lu Hz (calibrated against the PIT)", base_cfg.tsc_hz);
    if (get_arg(bi.cmdline, "bench", arg, sizeof arg) > 0 && !strncmp(arg, "native:", 7))
        bench_native(parse_u64(arg + 7));

    if (vmx_init() != 0) {
        hv_log("RESULT FAIL VMX unavailable");
        if (poweroff)
            hv_poweroff();
        cpu_halt_forever();
    }
    hvrec_setup(bi.cmdline); /* record=off|stream|flight and its options */

    if (get_arg(bi.cmdline, "guest", arg, sizeof arg) > 0 && !strncmp(arg, "linux", 6)) {
        if (run_linux(&bi) != 0)
            hv_log("RESULT FAIL linux guest could not start");
    } else if (get_arg(bi.cmdline, "guest", arg, sizeof arg) > 0 &&
               !strncmp(arg, "multiboot", 10)) {
        run_multiboot(&bi);
    } else {
        unsigned passed = 0;
        for (unsigned i = 0; i < bi.nmods; i++)
            passed += run_test_guest(&bi.mods[i], i);
        hv_log("RESULT %s %u/%u", passed == bi.nmods && bi.nmods ? "PASS" : "FAIL", passed,
               bi.nmods);
    }
    if (poweroff)
        hv_poweroff();
    cpu_halt_forever();
}
