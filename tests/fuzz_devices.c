/* The record/replay promise under hostile guests: an input byte string is
 * read as a guest's device traffic (port accesses of every size to every
 * device and to random ports, time steps from nanoseconds to seconds,
 * interrupt acknowledges while INTR is high, UART receive bytes, other
 * exits), played through hv/record exactly as the hypervisor does, and the
 * resulting trace must
 *   - decode with no damage, end with its End record and hold every exit;
 *   - replay through a fresh device set with 0 divergences (IN values,
 *     IRQ/INTR/request outputs with their times, injected vectors, device
 *     state at every checkpoint);
 * after every call, ticking a copy of the devices to the same instant must
 * leave its state unchanged (what checkpoints rely on);
 * and at random points the device state must save, restore into another
 * device set and save again to the same bytes. Any violation aborts with a
 * report (so libFuzzer keeps the input); ASan/UBSan catch the rest.
 *
 * Two drivers share the harness:
 *   build/fuzz/fuzz_devices   libFuzzer (clang), `make fuzz-devices`
 *   build/host/tests/fuzz_devices [N [SEED]]
 *                             a self-check (the trace recorded with the real
 *                             models, replayed through subtle mutants of
 *                             hv/devs from tests/mutants/, must diverge),
 *                             then N pseudo-random inputs from SEED
 *                             (gcc, ASan + UBSan); `make devs-soak` runs it
 *                             in make test. `fuzz_devices FILE` plays one
 *                             saved input (FUZZ_DEVICES_TRACE=PATH keeps
 *                             its trace for hvrr dump/replay).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-sim/replay.h"
#include "host-sim/replay_testutil.h"
#include "hv/record/recorder.h"
#include "hv/vm_policy.h"
#include "trace/xorshift.h"

#ifndef HVRR_LIBFUZZER
/* The self-check's mutants (tests/tests.mk SOAK_MUTANTS). */
DECLARE_MUTANT(pit_mode3_odd_count);
DECLARE_MUTANT(uart_iir_read_clears_thre_always);
DECLARE_MUTANT(pic_specific_eoi_rotates);
#endif

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned u16(struct in *in)
{
    return u8(in) | u8(in) << 8;
}

static uint32_t u32(struct in *in)
{
    return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

/* Every port a device of the per-VM set decodes, some twice (the common
 * ones), and the neighbours of each range. */
static const uint16_t ports[] = {
    0x20, 0x21, 0x20, 0x21,  0xa0,  0xa1,  0x4d0, 0x4d1, 0x40,  0x41,  0x42,  0x43,  0x40,  0x42,
    0x43, 0x61, 0x61, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x3f8, 0x3fd, 0x70,
    0x71, 0x70, 0x71, 0xcf8, 0xcf9, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff, 0xcf8, 0xcfc, 0x80,
    0x60, 0x64, 0x64, 0x1f,  0x22,  0x44,  0x3f7, 0x400, 0x72,  0xcf7, 0xd00, 0x81,  0x92,  0x2f8,
};

struct fail {
    char why[512];
};

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(f->why, sizeof f->why, __VA_ARGS__);                                          \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static struct vm_devices dev, scratch;
static struct vm_recorder rec;

/* The guest CPU the input drives, as the exit policy (hv/vm_policy.h) sees
 * it: the policy decides, exactly as in the hypervisor, when devices
 * advance, when an interrupt is injected or the window asked for, how HLT
 * moves time, how an IN merges into RAX and how string I/O steps. */
struct fcpu {
    uint64_t tsc, regs[16], rflags;
    bool shadow;     /* STI / MOV SS blocking */
    bool window;     /* interrupt window asked for */
    uint8_t mem[64]; /* the string operand's memory (linear 0x1000..) */
    uint64_t injected;
};
static struct fcpu cpu;
static struct vm_policy pol;

static uint64_t op_reg(void *c, unsigned r)
{
    return ((struct fcpu *)c)->regs[r & 15];
}
static void op_set_reg(void *c, unsigned r, uint64_t v)
{
    ((struct fcpu *)c)->regs[r & 15] = v;
}
static uint64_t op_rflags(void *c)
{
    return ((struct fcpu *)c)->rflags;
}
static bool op_interruptible(void *c)
{
    struct fcpu *f = c;
    return (f->rflags & VM_POLICY_RFLAGS_IF) && !f->shadow;
}
static void op_inject(void *c, uint8_t v)
{
    (void)v;
    ((struct fcpu *)c)->injected++;
}
static void op_inject_pf(void *c, uint64_t cr2, uint32_t err)
{
    (void)c, (void)cr2, (void)err;
}
static void op_window(void *c, bool on)
{
    ((struct fcpu *)c)->window = on;
}
static void op_skip(void *c)
{
    ((struct fcpu *)c)->shadow = false;
}
static enum vm_policy_map op_map(void *c, uint64_t la, bool write, uint8_t **p, uint32_t *err)
{
    struct fcpu *f = c;
    if (la >= 0x1000 && la < 0x1000 + sizeof f->mem) {
        *p = &f->mem[la - 0x1000];
        return VM_POLICY_MAP_OK;
    }
    *err = write ? 6 : 4; /* user, not present */
    return VM_POLICY_MAP_PF;
}
static uint64_t op_tsc_now(void *c)
{
    return ((struct fcpu *)c)->tsc;
}
static void op_skip_tsc(void *c, uint64_t d)
{
    ((struct fcpu *)c)->tsc += d;
}
static uint32_t op_io(void *c, const struct vm_rec_exit_info *x, uint16_t port, unsigned size,
                      bool write, uint32_t value)
{
    (void)c;
    return vm_rec_io(&rec, x, port, size, write, value);
}
static void op_advance(void *c, uint64_t tsc)
{
    (void)c;
    vm_rec_advance(&rec, tsc);
}
static uint8_t op_ack(void *c, uint64_t tsc)
{
    (void)c;
    return vm_rec_ack(&rec, tsc);
}
static void op_blocked(void *c, uint64_t tsc)
{
    (void)c;
    vm_rec_blocked(&rec, tsc);
}
static const struct vm_policy_ops fuzz_ops = {
    .reg = op_reg,
    .set_reg = op_set_reg,
    .rflags = op_rflags,
    .interruptible = op_interruptible,
    .inject_extint = op_inject,
    .inject_pf = op_inject_pf,
    .set_intr_window = op_window,
    .skip_insn = op_skip,
    .end_interrupt_shadow = op_skip,
    .map_operand = op_map,
    .tsc_now = op_tsc_now,
    .skip_tsc = op_skip_tsc,
    .io = op_io,
    .advance = op_advance,
    .ack = op_ack,
    .blocked = op_blocked,
};

static void plain_exit(uint32_t reason, uint64_t rip)
{
    struct trace_exit e = {.tsc = cpu.tsc, .reason = reason, .rip = rip};
    vm_rec_exit(&rec, &e);
}
static uint8_t blob1[VM_DEVICES_SAVE_MAX], blob2[VM_DEVICES_SAVE_MAX];

/* dev -> save -> restore into a fresh set -> (tick it to dev's instant) ->
 * save. False with f->why if saving or restoring fails; else *n is the
 * blob length and *diff the first byte where the two blobs differ
 * (SIZE_MAX: identical). */
static bool resave(bool tick, struct fail *f, size_t *n, size_t *diff)
{
    size_t n1 = vm_devices_save(&dev, blob1, sizeof blob1);
    if (!n1) {
        snprintf(f->why, sizeof f->why, "vm_devices_save failed");
        return false;
    }
    struct vm_devices_config dc = {.rtc_epoch_sec = 1};
    vm_devices_init(&scratch, &dc, NULL, 0);
    if (vm_devices_restore(&scratch, blob1, n1) != 0) {
        snprintf(f->why, sizeof f->why, "vm_devices_restore refused its own %zu-byte blob", n1);
        return false;
    }
    if (tick)
        vm_devices_advance(&scratch, dev.now_ns);
    size_t n2 = vm_devices_save(&scratch, blob2, sizeof blob2);
    size_t i = 0;
    while (i < n1 && i < n2 && blob1[i] == blob2[i])
        i++;
    *n = n1;
    *diff = (i == n1 && n2 == n1) ? SIZE_MAX : i;
    return true;
}

/* State -> save -> restore elsewhere -> save: the same bytes. */
static bool save_restore_exact(struct fail *f)
{
    size_t n, at;
    if (!resave(false, f, &n, &at))
        return false;
    if (at != SIZE_MAX) {
        snprintf(f->why, sizeof f->why,
                 "save/restore/save differs in a %zu-byte blob, first at %zu", n, at);
        return false;
    }
    return true;
}

/* Ticking to the instant of the last call right after it changes nothing:
 * a checkpoint is the state after the last call, and the replay advances to
 * the checkpoint's time before comparing (recorder.h). */
static bool idempotent_at_now(struct fail *f, unsigned op, uint64_t exits)
{
    size_t n, at;
    if (!resave(true, f, &n, &at))
        return false;
    if (at != SIZE_MAX) {
        snprintf(f->why, sizeof f->why,
                 "advancing to the same instant after op %u (exit %llu) changed the state at "
                 "byte %zu of %zu",
                 op & 15, (unsigned long long)exits, at, n);
        return false;
    }
    return true;
}

/* Plays one input; 0 if every property held, else 1 with f->why set.
 * bug != NULL replays through that mutated hv/devs instead (the
 * self-check): then 0 means the replay diverged, as it must. */
static int run_one(const uint8_t *data, size_t len, const struct vm_devices_ops *bug,
                   struct fail *f)
{
    static const uint64_t hz_choice[] = {50000000ull, 1000000000ull, 3000000000ull, 1193182ull};
    struct in in = {data, len};
    f->why[0] = 0;
    int bad = 1;
    struct trace_membuf m;
    struct trace_writer *w = rt_writer(&m);
    if (!w) {
        snprintf(f->why, sizeof f->why, "no writer");
        return 1;
    }
    unsigned cfgb = u8(&in);
    uint64_t hz = hz_choice[cfgb & 3];
    uint64_t tsc = 1000 + (cfgb >> 2);
    struct vm_recorder_config rc = {.w = w,
                                    .tsc_hz = hz,
                                    .ram_bytes = 64ull << 20,
                                    .hv_build_id = "fuzz",
                                    .cmdline = "fuzz",
                                    .checkpoint_every = 1 + u8(&in) % 16,
                                    .start_tsc = tsc,
                                    .entry_decisions = true};
    struct vm_devices_config dc = {.rtc_epoch_sec = 1700000000ull + u16(&in)};
    CHECK(vm_recorder_init(&rec, &dev, &dc, NULL, &rc) == 0, "vm_recorder_init failed");

    memset(&cpu, 0, sizeof cpu);
    cpu.tsc = tsc;
    const struct vm_policy_config pc = {.tsc_hz = hz};
    vm_policy_init(&pol, &fuzz_ops, &cpu, &dev, &pc);
    uint64_t exits = 0;
    vm_policy_prepare_entry(&pol);
    while (in.n) {
        unsigned op = u8(&in);
        cpu.tsc += 1 + (op >> 4) * 37; /* every exit costs the guest some time */
        switch (op & 15) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 6: { /* port access: IN/OUT, or INS/OUTS (REP) on a small buffer */
            unsigned a = u8(&in);
            uint16_t port = (a & 0x80) == 0x80 && (a & 0x40) ? (uint16_t)u16(&in)
                                                             : ports[a % (sizeof ports / 2)];
            unsigned b = u8(&in);
            unsigned size = (b & 3) == 3 ? 4 : (b & 3) == 2 ? 2 : 1;
            bool write = b & 4;
            uint32_t v = (b & 8) ? u32(&in) : u8(&in);
            struct vm_policy_io io = {.x = {.tsc = cpu.tsc, .rip = 0x1000 + exits, .insn_len = 1},
                                      .port = port,
                                      .size = (uint8_t)size,
                                      .in = !write,
                                      .value = v};
            if ((b & 0x30) == 0x30) { /* string, 16-bit addresses */
                io.string = true;
                io.rep = b & 0x40;
                io.addr_bits = 16;
                io.gla = 0x1000 + (v & 0x3f);
                cpu.regs[VM_POLICY_RCX] = v >> 6 & 3;
                cpu.regs[write ? VM_POLICY_RSI : VM_POLICY_RDI] = io.gla;
                cpu.rflags = (cpu.rflags & ~(uint64_t)VM_POLICY_RFLAGS_DF) |
                             ((b & 0x80) ? VM_POLICY_RFLAGS_DF : 0);
            }
            if (vm_policy_io(&pol, &io) != VM_POLICY_IO_DEVICE)
                plain_exit(TRACE_EXIT_IO_INSTRUCTION, 0x1000 + exits);
            exits++;
            break;
        }
        case 7:
        case 8: { /* time passes: the guest runs until a preemption-timer exit */
            unsigned k = u8(&in);
            uint64_t step = (uint64_t)u16(&in) << ((k & 3) * 8);
            cpu.tsc += step;
            plain_exit(TRACE_EXIT_PREEMPTION_TIMER, 0x2000);
            exits++;
            break;
        }
        case 9:
        case 10: { /* STI (with its shadow) or CLI; an open window exits */
            bool sti = op & 1;
            cpu.rflags = sti ? cpu.rflags | VM_POLICY_RFLAGS_IF
                             : cpu.rflags & ~(uint64_t)VM_POLICY_RFLAGS_IF;
            cpu.shadow = sti && (op & 0x10);
            if (sti && cpu.window && !cpu.shadow) {
                plain_exit(TRACE_EXIT_INTERRUPT_WINDOW, 0x3000);
                exits++;
            }
            break;
        }
        case 11: { /* bytes typed on the console */
            uint8_t b[16];
            size_t n = 1 + u8(&in) % sizeof b;
            for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)u8(&in);
            vm_rec_com1_rx(&rec, b, n, cpu.tsc);
            break;
        }
        case 12: { /* STI; HLT: time jumps to the next device deadline */
            cpu.rflags |= VM_POLICY_RFLAGS_IF;
            cpu.shadow = false;
            plain_exit(TRACE_EXIT_HLT, 0x4000);
            exits++;
            vm_policy_halt(&pol, cpu.tsc);
            if (pol.stop == VM_STOP_IDLE) { /* nothing due: let 50 ms pass */
                pol.stop = VM_RUNNING;
                cpu.tsc += hz / 20;
            }
            break;
        }
        case 13: /* CPUID and friends: no device work */
            plain_exit(TRACE_EXIT_CPUID, 0x5000);
            exits++;
            break;
        default: /* 14, 15 */
            if (!save_restore_exact(f))
                goto out;
            break;
        }
        vm_policy_prepare_entry(&pol); /* the VM entry after the exit */
        CHECK(pol.stop == VM_RUNNING, "the policy stopped the VM (%s)", vm_stop_name(pol.stop));
        if (!idempotent_at_now(f, op, exits))
            goto out;
        CHECK(rec.err == 0, "recorder/writer error %d after %llu exits", rec.err,
              (unsigned long long)exits);
        CHECK(cpu.tsc < (1ull << 62), "time overflow");
    }
    if (!save_restore_exact(f))
        goto out;
    CHECK(vm_rec_finish(&rec, TRACE_END_STOPPED) == 0, "vm_rec_finish failed");
    CHECK(rec.seq == exits, "recorder counted %llu exits, driver %llu", (unsigned long long)rec.seq,
          (unsigned long long)exits);

    const char *keep = getenv("FUZZ_DEVICES_TRACE"); /* write the trace there (debugging) */
    if (keep && !bug) {
        FILE *t = fopen(keep, "wb");
        if (t) {
            fwrite(m.data, 1, m.len, t);
            fclose(t);
        }
    }
    char *text = NULL;
    struct replay_opts o = {.max_reports = 1};
    if (bug) {
        o.devs = bug;
        o.stop_at_first = true;
    }
    struct replay_stats st;
    int rr = rt_replay(&m, &o, &st, &text);
    CHECK(rr == 0, "replay could not read the trace:\n%s", text ? text : "");
    bool ok = st.divergences == 0 && st.damage == 0 && st.end_seen && st.exits == exits;
    if (bug) {
        free(text);
        bad = st.divergences == 0;
        if (bad)
            snprintf(f->why, sizeof f->why, "seeded bug not caught");
        goto out;
    }
    if (!ok)
        snprintf(f->why, sizeof f->why,
                 "replay: %llu divergences, %llu damage, end %s, %llu/%llu exits\n%.380s",
                 (unsigned long long)st.divergences, (unsigned long long)st.damage,
                 st.end_seen ? "seen" : "missing", (unsigned long long)st.exits,
                 (unsigned long long)exits, text ? text : "");
    free(text);
    if (!ok)
        goto out;
    bad = 0;
out:
    trace_writer_destroy(w);
    trace_membuf_free(&m);
    return bad;
}

#ifdef HVRR_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fail f;
    if (run_one(data, len, NULL, &f)) {
        fprintf(stderr, "fuzz_devices: %s\n", f.why);
        abort();
    }
    return 0;
}
#else
/* xorshift64*: the same inputs on every machine. */
static uint64_t rng(uint64_t *s)
{
    return xorshift64s(s);
}

/* Input i of the stream from seed: biased toward the device ports and short
 * time steps for odd i, plain noise for even i. */
static size_t make_input(uint64_t *s, unsigned long i, uint8_t *buf, size_t cap)
{
    size_t len = 16 + rng(s) % (cap - 16);
    for (size_t k = 0; k < len; k++) {
        uint64_t r = rng(s);
        buf[k] = (uint8_t)(r >> 56);
        if ((i & 1) && (r & 0xf) < 6)
            buf[k] = (uint8_t)((r >> 8) & 0x0f);
    }
    return len;
}

/* fuzz_devices FILE: play one saved input (a failure, or a libFuzzer crash). */
static int play_file(const char *path)
{
    static uint8_t data[1 << 20];
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return 2;
    }
    size_t len = fread(data, 1, sizeof data, fp);
    fclose(fp);
    static struct fail f;
    if (run_one(data, len, NULL, &f)) {
        fprintf(stderr, "fuzz_devices: %s: %s\n", path, f.why);
        return 1;
    }
    printf("fuzz_devices: %s: %zu bytes, every property holds\n", path, len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))
        return play_file(argv[1]);
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 300;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    if (!n || !seed) {
        fprintf(stderr, "usage: fuzz_devices [INPUTS>0 [SEED!=0]]\n");
        return 2;
    }
    static uint8_t buf[8192];
    static struct fail f;

    /* Self-check first: the harness must see a one-line model bug. Each
     * mutant (tests/mutants/NAME.mut, linked as a renamed copy of hv/devs)
     * replays the traces the real models recorded until one diverges. */
    static const struct {
        const char *name;
        const struct vm_devices_ops *ops;
    } bugs[] = {
        {"pit-mode3-odd-count", &MUTANT_OPS(pit_mode3_odd_count)},
        {"uart-iir-read-clears-thre-always", &MUTANT_OPS(uart_iir_read_clears_thre_always)},
        {"pic-specific-eoi-rotates", &MUTANT_OPS(pic_specific_eoi_rotates)},
    };
    for (size_t b = 0; b < sizeof bugs / sizeof bugs[0]; b++) {
        uint64_t s = seed;
        unsigned long i;
        for (i = 0; i < 200; i++) {
            size_t len = make_input(&s, i, buf, sizeof buf);
            if (run_one(buf, len, bugs[b].ops, &f) == 0)
                break;
        }
        if (i == 200) {
            fprintf(stderr, "fuzz_devices: self-check: mutant %s never caught in 200 inputs\n",
                    bugs[b].name);
            return 1;
        }
        printf("fuzz_devices: self-check: mutant %s caught by input %lu\n", bugs[b].name, i);
    }

    uint64_t s = seed, bytes = 0;
    for (unsigned long i = 0; i < n; i++) {
        size_t len = make_input(&s, i, buf, sizeof buf);
        bytes += len;
        if (run_one(buf, len, NULL, &f)) {
            fprintf(stderr, "fuzz_devices: input %lu (seed %llu, %zu bytes): %s\n", i,
                    (unsigned long long)seed, len, f.why);
            char path[64];
            snprintf(path, sizeof path, "fuzz-devices-fail-%lu.bin", i);
            FILE *o = fopen(path, "wb");
            if (o) {
                fwrite(buf, 1, len, o);
                fclose(o);
                fprintf(stderr, "fuzz_devices: input saved to %s (replay it: fuzz_devices FILE)\n",
                        path);
            }
            return 1;
        }
    }
    printf("fuzz_devices: %lu inputs (%llu bytes, seed %llu): every trace decoded whole and "
           "replayed with 0 divergences; save/restore byte-exact\n",
           n, (unsigned long long)bytes, (unsigned long long)seed);
    return 0;
}
#endif
