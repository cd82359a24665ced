/* Device-model throughput through the public per-VM API (vm_devices.h), on
 * one core: accesses per second per device class and for a boot-like mix.
 *
 * Each figure runs for about BENCH_SLICE_S of wall time (clock_gettime
 * CLOCK_MONOTONIC) with virtual time advancing 1 us per port access, as for
 * a guest that exits that often. Output: one line per figure,
 *     bench_devices <name> <accesses per wall second> accesses/s (...)
 * followed by the rate per CPU second of this thread, which is the figure to
 * compare when the machine is shared (cpu < wall). An "access" is one
 * vm_devices_io() call; in timer_event_ack, vm_devices_advance() and
 * vm_devices_ack() count as one each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hv/devs/vm_devices.h"

#define BENCH_SLICE_S 0.35
#define VT_STEP_NS    1000ull

static struct vm_devices dev;
static uint64_t vt;            /* virtual time */
static uint64_t tx_bytes;      /* bytes the guest console emitted */
static volatile uint32_t sink; /* keeps reads alive */
static uint64_t acks;          /* interrupts acknowledged */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void out(uint16_t port, unsigned size, uint32_t v)
{
    vt += VT_STEP_NS;
    vm_devices_io(&dev, port, size, true, &v, vt);
}

static uint32_t in(uint16_t port, unsigned size)
{
    uint32_t v = 0;
    vt += VT_STEP_NS;
    vm_devices_io(&dev, port, size, false, &v, vt);
    sink += v;
    return v;
}

static void on_tx(void *ctx, uint8_t byte)
{
    (void)ctx;
    (void)byte;
    tx_bytes++;
}

/* What Linux does at boot: PIC ICWs, PIT ch0 at HZ=250, PIT ch2 gate for
 * calibration, 16550A at 115200 8N1 with FIFOs, RTC default rate. */
static void platform_setup(void)
{
    const struct vm_devices_config cfg = {.rtc_epoch_sec = 1795690740};
    const struct vm_devices_hooks hooks = {.com1_tx = on_tx};
    vm_devices_init(&dev, &cfg, &hooks, 0);
    vt = 0;
    out(0x21, 1, 0xff);
    out(0xa1, 1, 0xff);
    const uint8_t m[4] = {0x11, 0x30, 0x04, 0x01}, s[4] = {0x11, 0x38, 0x02, 0x01};
    out(0x20, 1, m[0]);
    for (int i = 1; i < 4; i++)
        out(0x21, 1, m[i]);
    out(0xa0, 1, s[0]);
    for (int i = 1; i < 4; i++)
        out(0xa1, 1, s[i]);
    out(0x21, 1, 0xfe); /* IRQ0 only */
    out(0xa1, 1, 0xff);
    out(0x43, 1, 0x34);
    out(0x40, 1, 0xa5);
    out(0x40, 1, 0x12);
    out(0x61, 1, (in(0x61, 1) & ~0x02u) | 0x01u);
    out(0x43, 1, 0xb0);
    out(0x42, 1, 0xff);
    out(0x42, 1, 0xff);
    out(0x3fb, 1, 0x80);
    out(0x3f8, 1, 0x01);
    out(0x3f9, 1, 0x00);
    out(0x3fb, 1, 0x03);
    out(0x3fa, 1, 0xc7);
    out(0x3fc, 1, 0x0b);
    out(0x3f9, 1, 0x00);
}

/* One timer interrupt as Linux handles it: run to the next device event,
 * acknowledge, specific EOI. */
static unsigned timer_event(void)
{
    uint64_t t = vm_devices_next_event_ns(&dev, vt);
    if (t == TIME_NEVER)
        t = vt + 4000000;
    if (t > vt)
        vt = t;
    vm_devices_advance(&dev, vt);
    unsigned n = 1;
    if (vm_devices_intr(&dev)) {
        sink += vm_devices_ack(&dev, vt);
        acks++;
        out(0x20, 1, 0x60); /* specific EOI for IRQ0 */
        n += 2;
    }
    return n;
}

static unsigned op_pic(void)
{
    out(0x20, 1, 0x60);
    in(0x21, 1);
    out(0x21, 1, 0xfe);
    out(0x20, 1, 0x0b); /* OCW3: read ISR */
    in(0x20, 1);
    return 5;
}

static unsigned op_uart(void)
{
    unsigned n = 0;
    while (!(in(0x3fd, 1) & 0x20)) /* LSR.THRE */
        if (++n > 100000) {
            fprintf(stderr, "bench_devices: THRE never set\n");
            exit(1);
        }
    out(0x3f8, 1, 'x');
    return n + 2;
}

static unsigned op_pit(void)
{
    out(0x43, 1, 0x80); /* latch ch2 */
    in(0x42, 1);
    in(0x42, 1);
    return 3;
}

static unsigned op_cmos(void)
{
    static const uint8_t idx[4] = {0x00, 0x0a, 0x02, 0x0c};
    static unsigned i;
    out(0x70, 1, idx[i++ & 3]);
    in(0x71, 1);
    return 2;
}

static unsigned op_pci(void)
{
    static unsigned devfn;
    out(0xcf8, 4, 0x80000000u | ((devfn++ & 0xffu) << 8));
    in(0xcfc, 4);
    return 2;
}

/* A boot-like mix: console output dominates (~90 % of exits), a timer
 * interrupt every ~40 exits, some PIT, CMOS and PCI traffic. */
static unsigned op_mix(void)
{
    unsigned n = 0;
    for (int i = 0; i < 16; i++)
        n += op_uart();
    n += timer_event();
    n += op_pit();
    n += op_cmos();
    n += op_pci();
    return n;
}

static void run(const char *name, unsigned (*op)(void))
{
    platform_setup();
    uint64_t acc = 0;
    acks = tx_bytes = 0;
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double t0 = clock_s(CLOCK_MONOTONIC), t1;
    do {
        for (int i = 0; i < 4096; i++)
            acc += op();
        t1 = clock_s(CLOCK_MONOTONIC);
    } while (t1 - t0 < BENCH_SLICE_S);
    double cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    /* The figure is per wall second; cpu/wall shows how much of the core we
     * had on a shared machine. */
    printf("bench_devices %-16s %11.0f accesses/s  (%.0f/cpu-s; cpu %.2f of %.2f s wall, "
           "%llu irqs, %llu tx bytes)\n",
           name, (double)acc / (t1 - t0), cpu > 0 ? (double)acc / cpu : 0.0, cpu, t1 - t0,
           (unsigned long long)acks, (unsigned long long)tx_bytes);
}

int main(void)
{
    run("pic_eoi_imr", op_pic);
    run("uart_console", op_uart);
    run("pit_ch2_latch", op_pit);
    run("cmos_read", op_cmos);
    run("pci_config_read", op_pci);
    run("timer_event_ack", timer_event);
    run("mix", op_mix);
    if (sink == 0x12345678u)
        puts("");
    return 0;
}
