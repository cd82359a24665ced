/* The trace's device traffic as a qtest script (see qtest_script.h). */
#include "replay/qtest_script.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/devs/vm_devices.h"
#include "hv/record/recorder.h"
#include "trace/trace_reader.h"

const char *qscript_device(uint16_t port)
{
    switch (port) {
    case 0x20:
    case 0x21:
    case 0xa0:
    case 0xa1:
    case 0x4d0:
    case 0x4d1: return "pic";
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43: return "pit";
    case 0x61: return "port61";
    case 0x70:
    case 0x71: return "cmos";
    case 0x60:
    case 0x64: return "i8042";
    case 0xcf8:
    case 0xcfc:
    case 0xcfd:
    case 0xcfe:
    case 0xcff: return "pci";
    default: break;
    }
    if (port >= 0x3f8 && port <= 0x3ff)
        return "uart";
    if (port >= QS_ACPI_PM && port < QS_ACPI_PM + 12)
        return "acpi";
    return NULL;
}

void qscript_register(const struct qop *op, char *buf, size_t len)
{
    static const char *const uart_rd[8] = {"RBR", "IER", "IIR", "LCR", "MCR", "LSR", "MSR", "SCR"};
    static const char *const uart_wr[8] = {"THR", "IER", "FCR", "LCR", "MCR", "LSR", "MSR", "SCR"};
    uint16_t p = op->port;
    bool rd = op->kind == QOP_IN;
    if (op->kind == QOP_IRQ) {
        snprintf(buf, len, "IRQ%" PRIu32 " line", op->value);
    } else if (op->kind == QOP_ACK) {
        snprintf(buf, len, "acknowledge (vector)");
    } else if (p == 0x21 || p == 0xa1) {
        snprintf(buf, len, "%s", rd ? "IMR" : "ICW/OCW1");
    } else if (p == 0x20 || p == 0xa0) {
        int i = p == 0xa0;
        snprintf(buf, len, "%s",
                 !rd                          ? "ICW1/OCW2/OCW3"
                 : op->pic_ocw3[i] & 4        ? "poll"
                 : (op->pic_ocw3[i] & 3) == 3 ? "ISR"
                                              : "IRR");
    } else if (p == 0x4d0 || p == 0x4d1) {
        snprintf(buf, len, "ELCR%d", p - 0x4d0 + 1);
    } else if (p >= 0x40 && p <= 0x42) {
        snprintf(buf, len, "counter %d", p - 0x40);
    } else if (p == 0x43) {
        snprintf(buf, len, "control word");
    } else if (p == 0x61) {
        snprintf(buf, len, "port 0x61");
    } else if (p == 0x70) {
        snprintf(buf, len, "index");
    } else if (p == 0x71) {
        snprintf(buf, len, "CMOS[0x%02x]", op->cmos_index);
    } else if (p == 0x60) {
        snprintf(buf, len, "data");
    } else if (p == 0x64) {
        snprintf(buf, len, "%s", rd ? "status" : "command");
    } else if (p == 0xcf8) {
        snprintf(buf, len, "CONFIG_ADDRESS");
    } else if (p >= 0xcfc && p <= 0xcff) {
        snprintf(buf, len, "CONFIG_DATA+%d", p - 0xcfc);
    } else if (p >= QS_ACPI_PM && p < QS_ACPI_PM + 12) {
        static const char *const pm[3] = {"PM1_STS", "PM1_EN", "PM1_CNT"};
        unsigned o = p - QS_ACPI_PM;
        snprintf(buf, len, "%s+%u",
                 o >= 8  ? "PM_TMR"
                 : o < 6 ? pm[o / 2]
                         : "PM",
                 o & (o >= 8 ? 3 : 1));
    } else if (p >= 0x3f8 && p <= 0x3ff) {
        int r = p - 0x3f8;
        if (op->uart_dlab && r < 2)
            snprintf(buf, len, "%s", r ? "DLM" : "DLL");
        else
            snprintf(buf, len, "%s", rd ? uart_rd[r] : uart_wr[r]);
    } else {
        snprintf(buf, len, "port 0x%x", p);
    }
}

static struct qop *push(struct qscript *s, enum qop_kind k)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        struct qop *n = realloc(s->ops, nc * sizeof(*n));
        if (!n) {
            s->oom = true;
            return NULL;
        }
        s->ops = n;
        s->cap = nc;
    }
    struct qop *op = &s->ops[s->n++];
    memset(op, 0, sizeof(*op));
    op->kind = k;
    op->exit_seq = s->last_seq;
    op->tsc = s->last_tsc;
    op->cmos_index = s->cmos_index;
    op->uart_dlab = s->dlab;
    op->uart_lcr = s->lcr;
    memcpy(op->pic_ocw3, s->ocw3, 2);
    memcpy(op->pic_base, s->base, 2);
    return op;
}

/* hvrr's devices take these ports at this width only (else DEV_IO_BADSIZE:
 * the write is dropped, the read gives all ones); QEMU, like a PC's ISA
 * bridge, splits a wider access into byte cycles. Such accesses are left
 * out of the script (counted in skipped_wide) so both models stay in step. */
static bool width_ok(uint16_t port, unsigned size)
{
    if (port >= 0xcfc && port <= 0xcff)
        return (size == 1 || size == 2 || size == 4) && (port & 3u) + size <= 4;
    if (port == 0xcf8)
        return size == 4;
    if (port >= QS_ACPI_PM && port < QS_ACPI_PM + 12)
        return (size == 1 || size == 2 || size == 4) && port - QS_ACPI_PM + size <= 12;
    return size == 1;
}

/* Writes that would reset or stop QEMU's machine: i8042 output-port pulses
 * and writes (0xd1 then a data byte). */
static bool unsafe_write(struct qscript *s, uint16_t port, uint32_t v)
{
    /* PM1_CNT with SLP_EN (bit 13): a sleep or power-off request */
    if (port >= QS_ACPI_PM + 4 && port <= QS_ACPI_PM + 5 &&
        ((v << (8 * (port - QS_ACPI_PM - 4))) & 0x2000))
        return true;
    if (port == 0x64) {
        s->after_d1 = v == 0xd1;
        return v == 0xd1 || (v & 0xf0) == 0xf0;
    }
    if (port == 0x60 && s->after_d1) {
        s->after_d1 = false;
        return true;
    }
    return false;
}

/* An OUT to a PIC: the value to send (OCW1 with the detached bits) and
 * whether the ICW sequence ended with it. */
static uint32_t pic_out(struct icw_track *t, uint16_t port, uint32_t v, uint8_t force, bool *ended)
{
    *ended = false;
    if (!(port & 1)) {
        if (v & 0x10) { /* ICW1 */
            t->icw1 = (uint8_t)v;
            t->step = 2;
        }
        return v;
    }
    switch (t->step) {
    case 0: return v | force;
    case 2: t->step = !(t->icw1 & 2) ? 3 : (t->icw1 & 1) ? 4 : 0; break;
    case 3: t->step = (t->icw1 & 1) ? 4 : 0; break;
    default: t->step = 0; break;
    }
    *ended = t->step == 0;
    return v;
}

static void track_out(struct qscript *s, uint16_t port, uint32_t v)
{
    int i = port == 0xa0 || port == 0xa1;
    if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1) {
        bool ended;
        bool ocw1 = (port & 1) && s->icw[i].step == 0;
        pic_out(&s->icw[i], port, v, 0, &ended);
        if (ocw1)
            s->imr[i] = (uint8_t)v;
        if (!(port & 1) && (v & 0x10)) { /* ICW1: IMR, special mask mode cleared */
            s->imr[i] = 0;
            s->smm[i] = false;
            s->pic_flags[i] = (v & 0x08) ? QPIC_LTIM : 0;
        } else if (!(port & 1) && (v & 0x18) == 0x08 && (v & 0x40)) {
            s->smm[i] = v & 0x20;
        } else if (!(port & 1) && !(v & 0x18) && (v & 0x60) == 0x20 && s->smm[i] && s->imr[i]) {
            s->pic_flags[i] |= QPIC_SMM_EOI; /* non-specific EOI (or rotate on it) */
        }
    }
    if (port == 0x3f9 && !s->dlab)
        s->uart_ier = v & 0x0f;
    else if (port == 0x3fc)
        s->uart_mcr = v & 0x1f;
    if (port == 0x70)
        s->cmos_index = v & 0x7f;
    else if (port == 0x3fb) {
        s->dlab = v & 0x80;
        s->lcr = (uint8_t)v;
    } else if ((port == 0x20 || port == 0xa0) && (v & 0x10))
        s->icw_step[i] = 1;
    else if ((port == 0x20 || port == 0xa0) && (v & 0x18) == 0x08)
        s->ocw3[i] = (uint8_t)((v & 2 ? v & 3 : s->ocw3[i] & 3) | (v & 4)); /* RR/RIS, poll */
    else if ((port == 0x21 || port == 0xa1) && s->icw_step[i] == 1) {
        s->base[i] = v & 0xf8;
        s->icw_step[i] = 0;
    }
}

static bool rtc_time_byte(unsigned idx)
{
    return idx == 0x00 || idx == 0x02 || idx == 0x04 || (idx >= 0x06 && idx <= 0x09) || idx == 0x32;
}

/* Second boundaries of phase p (ns mod 1 s) up to time t: floor((t - p) / 1 s). */
static int64_t rtc_bounds(uint64_t t, uint64_t p)
{
    int64_t d = (int64_t)t - (int64_t)p, n = d / (int64_t)NS_PER_SEC;
    return d < 0 && d % (int64_t)NS_PER_SEC ? n - 1 : n;
}

static uint64_t rtc_phase(uint64_t t, int64_t plus)
{
    int64_t x = ((int64_t)(t % NS_PER_SEC) + plus) % (int64_t)NS_PER_SEC;
    return (uint64_t)(x < 0 ? x + (int64_t)NS_PER_SEC : x);
}

/* The second boundaries of hvrr's MC146818A and of QEMU 7.2's
 * hw/rtc/mc146818rtc.c at an RTC write at time t. Both start the divider
 * half a second before its first update when it leaves reset, both keep the
 * phase when SET is cleared (QEMU: `offset` = the running time's fraction of
 * a second); a time byte written while the clock runs keeps hvrr's divider
 * phase (the chip's divider chain does not see it), but QEMU's rtc_set_time()
 * restarts its second at the write with the old `offset`, moving its
 * boundaries. */
static void rtc_track_write(struct qscript *s, unsigned idx, uint8_t v, uint64_t t)
{
    bool q_running = !(s->rtc_b & 0x80) && (s->rtc_a & 0x70) <= 0x20;
    if (idx == 0x0a) {
        bool was = (s->rtc_a & 0x70) == 0x20, now = (v & 0x70) == 0x20;
        bool q_release = (s->rtc_a & 0x60) == 0x60 && (v & 0x60) != 0x60 && (v & 0x70) <= 0x20;
        if (!was && now)
            s->rtc_h = rtc_phase(t, (int64_t)NS_PER_SEC / 2);
        if (q_release && !(s->rtc_b & 0x80)) {
            s->rtc_qoff = NS_PER_SEC / 2;
            s->rtc_q = s->rtc_h;
        }
        if ((!was && now) != (q_release && !(s->rtc_b & 0x80)))
            s->rtc_phase_known = false;
        s->rtc_a = v;
    } else if (idx == 0x0b) {
        if (!(v & 0x80) && (s->rtc_b & 0x80) && (s->rtc_a & 0x70) <= 0x20)
            s->rtc_qoff = rtc_phase(t, -(int64_t)s->rtc_q);
        if (v & 0x80)
            s->rtc_set_seen = true;
        s->rtc_b = v;
    } else if (rtc_time_byte(idx) && q_running) {
        s->rtc_q = rtc_phase(t, -(int64_t)s->rtc_qoff);
    }
}

/* An RTC read at time t: whether hvrr's and QEMU's boundaries disagree on
 * the time (time bytes) or on the update count since the last C read. */
static void rtc_track_read(struct qscript *s, struct qop *op, unsigned idx, uint64_t t)
{
    bool known = s->rtc_phase_known && s->rtc_h != s->rtc_q;
    if (rtc_time_byte(idx) && known)
        op->rtc_phase_split = rtc_bounds(t, s->rtc_h) != rtc_bounds(t, s->rtc_q);
    if (idx != 0x0c)
        return;
    if (known)
        op->rtc_phase_split = rtc_bounds(t, s->rtc_h) - rtc_bounds(s->rtc_last_c, s->rtc_h) !=
                              rtc_bounds(t, s->rtc_q) - rtc_bounds(s->rtc_last_c, s->rtc_q);
    op->rtc_set_seen = s->rtc_set_seen || (s->rtc_b & 0x80);
    s->rtc_set_seen = s->rtc_b & 0x80;
    s->rtc_last_c = t;
}

int qscript_add(struct qscript *s, const struct trace_item *it)
{
    if (it->type == TRACE_ITEM_HEADER) {
        const struct trace_header *h = &it->u.header;
        s->tsc_hz = h->tsc_hz;
        s->have_rtc = false;
        s->rtc_phase_known = false;
        s->rtc_set_seen = false;
        s->rtc_last_c = 0;
        s->apic = h->apic;
        s->imr[0] = s->imr[1] = 0xff; /* hvrr's 8259As start masked */
        s->start_mcr = 0;             /* hvrr's power-on state without a start checkpoint */
        s->start_ctr = KBC_RESET_CTR;
        s->start_cmos_index = s->cmos_index = 0;
        s->uart_ier = s->uart_mcr = 0;
        s->pit_loaded[0] = s->pit_loaded[1] = s->pit_loaded[2] = false;
        if (h->has_start) {
            static struct vm_devices d;
            /* the platform the blob was saved from: an APIC platform's blob
             * (local APICs, I/O APIC) restores only into one of as many vCPUs */
            struct vm_devices_config dc = {.apic = h->apic, .cpus = h->vcpus};
            vm_devices_init(&d, &dc, NULL, 0);
            if (vm_devices_restore(&d, h->start.devices, h->start.devices_len) == 0) {
                s->have_rtc = true;
                s->rtc_ref_sec = d.cmos.ref_sec;
                s->rtc_ref_ns = d.cmos.ref_ns;
                s->rtc_phase_known = true;
                s->rtc_h = s->rtc_q = d.cmos.ref_ns % NS_PER_SEC;
                s->rtc_qoff = 0; /* QEMU's at power-on; the player does not move it */
                s->rtc_a = d.cmos.ram[CMOS_REG_A];
                s->rtc_b = d.cmos.ram[CMOS_REG_B];
                s->start_mcr = d.com1.mcr;
                s->start_ctr = d.kbc.ctr;
                s->start_cmos_index = s->cmos_index = d.cmos.index & 0x7f;
                s->uart_ier = d.com1.ier;
                s->uart_mcr = d.com1.mcr;
                for (int c = 0; c < 3; c++) /* hvrr's power-on channel: idle, never started */
                    s->pit_loaded[c] = d.pit.ch[c].start != 0 || (d.pit.ch[c].run != PIT_IDLE &&
                                                                  d.pit.ch[c].run != PIT_ARMED);
            }
        }
        return 0;
    }
    if (it->type == TRACE_ITEM_EXIT) {
        const struct trace_exit *e = &it->u.exit;
        s->last_seq = e->seq;
        s->last_tsc = e->tsc;
        if (e->detail == TRACE_DETAIL_EPT && e->u.ept.size)
            s->apic_mmio++; /* local APIC / I/O APIC register access */
        if (e->detail != TRACE_DETAIL_IO)
            return 0;
        uint16_t port = e->u.io.port;
        if (port >= QS_ACPI_PM && port < QS_ACPI_PM + 12 && !(s->with_acpi && s->apic)) {
            s->skipped_ports++; /* hvrr's ACPI PM: only --timed plays it (QEMU's PIIX4 PM) */
            return 0;
        }
        if (qscript_device(port) && !width_ok(port, e->u.io.size)) {
            s->skipped_wide++;
            return 0;
        }
        if (!qscript_device(port) || (e->u.io.write && unsafe_write(s, port, e->u.io.value))) {
            s->skipped_ports++;
            return 0;
        }
        struct qop *op = push(s, e->u.io.write ? QOP_OUT : QOP_IN);
        if (!op)
            return -1;
        op->port = port;
        op->size = e->u.io.size;
        op->value = e->u.io.value;
        if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1)
            op->pic_flags = s->pic_flags[port >= 0xa0];
        if (port == 0x20 && !e->u.io.write && s->cw_edge0)
            op->pic_flags |= QPIC_CW_EDGE; /* IRQ0's request made by a lone control word */
        if (port >= 0x40 && port <= 0x42) {
            op->pit_mode = s->pit_mode[port - 0x40];
            op->pit_cw_only = s->pit_wbytes[port - 0x40] != 0;
            op->pit_odd = s->pit_count[port - 0x40] & 1;
            op->pit_rewritten = s->pit_ncounts[port - 0x40] > 1;
            op->pit_bcd = s->pit_bcd[port - 0x40];
            op->pit_count = s->pit_count[port - 0x40];
            op->pit_half = s->pit_rw[port - 0x40] == 3 && s->pit_hi_next[port - 0x40];
            op->pit_gate_low = port == 0x42 && !s->gate2;
            op->pit_unloaded = !s->pit_loaded[port - 0x40];
        } else if (port == 0x61) {
            op->pit_mode = s->pit_mode[2];
            op->pit_cw_only = s->pit_wbytes[2] != 0;
            op->pit_odd = s->pit_count[2] & 1;
            op->pit_count = s->pit_count[2];
        }
        if (e->u.io.write && port == 0x61) {
            /* modes 1/5: a gate rising edge loads a count written before it */
            if ((e->u.io.value & 1) && !s->gate2 && (s->pit_mode[2] == 1 || s->pit_mode[2] == 5) &&
                s->pit_ncounts[2])
                s->pit_loaded[2] = true;
            s->gate2 = e->u.io.value & 1;
        }
        if (e->u.io.write && port == 0x43 && (e->u.io.value & 0xc0) == 0 &&
            s->irq0_rise_tsc == e->tsc + 1)
            s->cw_edge0 = true; /* the IRQ0 rise recorded for this exit */
        if (e->u.io.write && port == 0x43 && (e->u.io.value & 0xc0) != 0xc0 &&
            (e->u.io.value & 0x30)) {
            unsigned c = (e->u.io.value >> 6) & 3, m = (e->u.io.value >> 1) & 7;
            s->pit_mode[c] = (uint8_t)(m > 5 ? m - 4 : m);
            s->pit_rw[c] = (e->u.io.value >> 4) & 3;
            s->pit_wbytes[c] = s->pit_rw[c] == 3 ? 2 : 1;
            s->pit_hi_next[c] = s->pit_rw[c] == 2;
            s->pit_ncounts[c] = 0;
            s->pit_bcd[c] = e->u.io.value & 1;
        } else if (e->u.io.write && port >= 0x40 && port <= 0x42) {
            unsigned c = port - 0x40;
            uint8_t b = (uint8_t)e->u.io.value;
            if (s->pit_hi_next[c])
                s->pit_count[c] =
                    (uint16_t)((s->pit_rw[c] == 2 ? 0 : s->pit_count[c] & 0xff) | b << 8);
            else
                s->pit_count[c] = b;
            if (s->pit_rw[c] == 3)
                s->pit_hi_next[c] = !s->pit_hi_next[c];
            if ((s->pit_rw[c] != 3 || !s->pit_hi_next[c]) && s->pit_ncounts[c] < 2) {
                s->pit_ncounts[c]++; /* a complete count */
                /* modes 0, 2, 3, 4 load it on the next clock; 1 and 5 at
                 * a gate trigger (8254 datasheet, Mode Definitions) */
                if (s->pit_mode[c] != 1 && s->pit_mode[c] != 5)
                    s->pit_loaded[c] = true;
            }
            s->pit_wbytes[c] = s->pit_wbytes[c] > 1 ? 1 : 0;
        }
        if (e->u.io.write && port == 0x43 && (e->u.io.value & 0xd0) == 0xc0) {
            for (int c = 0; c < 3; c++) /* read-back with status latched */
                if (e->u.io.value & (2u << c))
                    s->pit_status[c] = true;
        } else if (!e->u.io.write && port >= 0x40 && port <= 0x42) {
            op->pit_status = s->pit_status[port - 0x40];
            s->pit_status[port - 0x40] = false;
        }
        if (port >= 0xcf8 && port <= 0xcff) {
            op->pci_addr = s->pci_addr;
            if (e->u.io.write && port == 0xcf8)
                s->pci_addr = e->u.io.value;
        } else if (port == 0x60 || port == 0x64) {
            op->kbd_dev = s->kbd_dev;
            op->kbd_reply = s->kbd_reply;
            op->kbc_outport = port == 0x60 && s->kbc_d0;
            if (e->u.io.write && port == 0x64) {
                /* 0x60-0x7f write controller RAM, 0xd1-0xd4 output port /
                 * output buffer / mouse: their data byte comes at 0x60 */
                uint8_t c = (uint8_t)e->u.io.value;
                s->kbc_wcmd = (c >= 0x60 && c <= 0x7f) || (c >= 0xd1 && c <= 0xd4) ? c : 0;
                s->kbd_reply = false;
                s->kbc_d0 = c == 0xd0;
            } else if (e->u.io.write) {
                if (!s->kbc_wcmd || s->kbc_wcmd == 0xd4) /* to the keyboard or the mouse */
                    s->kbd_dev = s->kbd_reply = true;    /* hvrr answers 0xfe, timeout */
                s->kbc_wcmd = 0;
            } else if (port == 0x60) {
                s->kbc_d0 = false;
            }
        }
        if (port == 0x71) {
            uint64_t t = vm_rec_tsc_to_ns(e->tsc, s->tsc_hz ? s->tsc_hz : NS_PER_SEC);
            if (e->u.io.write)
                rtc_track_write(s, s->cmos_index, (uint8_t)e->u.io.value, t);
            else
                rtc_track_read(s, op, s->cmos_index, t);
        }
        if (!e->u.io.write && s->rx_pending && !s->dlab) {
            /* the host's input bytes reached hvrr's receiver, not QEMU's:
             * data ready, the data and the RX interrupt id not comparable */
            if (port == 0x3fd)
                op->rx_mask = 0x01;
            else if (port == 0x3fa)
                op->rx_mask = 0x0f;
            else if (port == 0x3f8)
                op->rx_mask = 0xff;
        }
        if (!e->u.io.write && port == 0x3fd && !(e->u.io.value & 1))
            s->rx_pending = 0; /* hvrr's receiver is empty */
        else if (!e->u.io.write && port == 0x3f8 && !s->dlab && s->rx_pending)
            s->rx_pending--;
        if (e->u.io.write)
            track_out(s, port, e->u.io.value);
        else if (port == 0x3fd && (e->u.io.value & 0x10))
            s->uart_break = true;
        else if (port == 0x3f8 && !s->dlab) {
            op->after_break = s->uart_break;
            s->uart_break = false;
        } else if (port == 0x20 || port == 0xa0) {
            int i = port == 0xa0;
            op->withdrawn_irr = (uint8_t)((s->latched & ~s->level) >> (8 * i));
            if ((s->ocw3[i] & 4) && (e->u.io.value & 0x80)) /* the guest's poll acknowledged */
                s->latched &= (uint16_t) ~(1u << ((e->u.io.value & 7) + 8 * i));
            s->ocw3[i] &= 3; /* a poll lasts one read */
        }
        return 0;
    }
    if (it->type != TRACE_ITEM_DEV)
        return 0;
    const struct trace_dev_event *d = &it->u.dev;
    if (d->tsc > s->last_tsc)
        s->last_tsc = d->tsc;
    if (d->kind == TRACE_DEV_IRQ_LINE) {
        if (d->u.irq.irq >= 16) {
            s->skipped_irqs++;
            return 0;
        }
        struct qop *op = push(s, QOP_IRQ);
        if (!op)
            return -1;
        op->value = d->u.irq.irq;
        op->level = d->u.irq.level;
        uint16_t bit = (uint16_t)(1u << op->value);
        s->used |= bit;
        if (op->value == 0 && op->level)
            s->irq0_rise_tsc = d->tsc + 1;
        if (op->level && !(s->level & bit))
            s->latched |= bit;
        s->level = op->level ? s->level | bit : s->level & ~bit;
    } else if (d->kind == TRACE_DEV_INJECT) {
        uint8_t v = d->u.inject.vector;
        if ((v & 0xf8) != s->base[0] && (v & 0xf8) != s->base[1]) {
            s->skipped_acks++;
            return 0;
        }
        int slave = (v & 0xf8) == s->base[1] && s->base[1] != s->base[0];
        int line = (v & 7) + 8 * slave;
        /* APIC platform: the local APIC also injects vectors of the PIC's
         * range (Linux gives ISA IRQ n vector 0x30 + n in the I/O APIC and
         * the 8259A alike). An IR the 8259A's IMR masks (for a slave IR,
         * or the master's IR2) cannot have been requested by the 8259A
         * (8259A datasheet, OCW1): the vector came from the I/O APIC or a
         * local APIC source, not from an 8259A acknowledge. */
        if (s->apic && (((s->imr[slave] >> (v & 7)) & 1) || (slave && (s->imr[0] & 4)))) {
            s->apic_acks++;
            return 0;
        }
        struct qop *op = push(s, QOP_ACK);
        if (!op)
            return -1;
        op->value = v;
        op->withdrawn = -1;
        uint16_t pic = slave ? 0xff00 : 0x00ff;
        op->irq4_gated = (s->uart_ier & 0x0f) && (!(s->uart_mcr & 0x08) || (s->uart_mcr & 0x10));
        if (line == 4 && s->rx_pending)
            op->rx_mask = 0xff; /* maybe the RX interrupt of input QEMU is not fed */
        if ((v & 7) == 7 && !(s->level & (1u << line))) {
            /* spurious: a request withdrawn before the acknowledge */
            uint16_t w = s->latched & ~s->level & pic;
            if (w) {
                op->withdrawn = __builtin_ctz(w);
                s->latched &= (uint16_t) ~(1u << op->withdrawn);
            }
        } else {
            s->latched &= (uint16_t) ~(1u << line);
            if ((s->pic_flags[slave] & QPIC_LTIM) && (s->level & (1u << line))) {
                op->pic_flags |= QPIC_LTIM; /* a level request hvrr's LTIM took */
                uint16_t unmasked = (uint16_t)((uint8_t)~s->imr[slave] << (8 * slave));
                op->ltim_other = s->level & unmasked & pic & ~(1u << line);
            }
            if (line == 0 && s->cw_edge0)
                op->pic_flags |= QPIC_CW_EDGE;
            if (line == 0 && s->pit_ncounts[0] > 1 && (s->pit_mode[0] == 2 || s->pit_mode[0] == 3))
                op->pic_flags |= QPIC_PIT_REWRITE;
            if (line == 0)
                s->cw_edge0 = false;
            if (slave) {
                s->latched &= (uint16_t) ~(1u << 2);
                if (s->relatch)
                    op->pic_flags |= QPIC_RELATCH;
                /* another slave request still latched: hvrr's slave INT falls
                 * during this acknowledge and rises again */
                s->relatch = (s->latched & s->level & 0xff00) != 0;
            }
        }
    } else if (d->kind == TRACE_DEV_UART_RX) {
        s->uart_rx += d->u.uart_rx.len;
        s->rx_pending += d->u.uart_rx.len;
    }
    return 0;
}

void qscript_free(struct qscript *s)
{
    free(s->ops);
    s->ops = NULL;
    s->n = s->cap = 0;
}

int qscript_detach(struct qscript *s)
{
    /* not 2 (cascade), 7/15 (spurious), 0/1/4/8/12 (the devices' own lines) */
    static const int pref[] = {9, 10, 11, 13, 14, 3, 5, 6};
    unsigned k = 0;
    s->detach_mask = 0;
    for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]) && k < 3; i++)
        if (!(s->used & (1u << pref[i]))) {
            s->detach_line[k++] = pref[i];
            s->detach_mask |= (uint16_t)(1u << pref[i]);
        }
    if (k < 3) {
        s->detach_mask = 0;
        return -1;
    }
    return 0;
}

int qscript_write(struct qscript *s, FILE *f, bool clock, const char *master, const char *slave)
{
    static const char sfx[5] = {0, 'b', 'w', 0, 'l'};
    uint64_t t0 = 0;
    bool have_t0 = false;
    struct icw_track icw[2] = {{0, 0}, {0, 0}};
    uint8_t force[2] = {(uint8_t)s->detach_mask, (uint8_t)(s->detach_mask >> 8)};
    /* hvrr's 8259As start with every line masked (the datasheet leaves the
     * state before ICW1 undefined), QEMU's with none */
    fprintf(f, "outb 0x21 0xff\noutb 0xa1 0xff\n");
    /* and the registers whose reset values differ, as they were at the
     * trace's start: the 16550 MCR (QEMU's reset sets OUT2, the PC16550D's
     * clears it) and the i8042 command byte (hvrr's is the one after POST,
     * QEMU's its reset value 0x03) */
    fprintf(f, "outb 0x3fc 0x%x\noutb 0x64 0x60\noutb 0x60 0x%x\n", s->start_mcr, s->start_ctr);
    /* the 8254's state at power-on is undefined (datasheet); hvrr's channels
     * start as after a control word of mode 0, LSB then MSB, with no count;
     * QEMU's count in mode 3 (a lone LSB write then loads a count in QEMU
     * and raises IRQ0, hostile exit 17) */
    fprintf(f, "outb 0x43 0x30\noutb 0x43 0x70\noutb 0x43 0xb0\n");
    /* and the CMOS index the trace's first data access uses (hvrr's at
     * the start checkpoint) */
    fprintf(f, "outb 0x70 0x%x\n", s->start_cmos_index);
    s->prefix_cmds = 9;
    for (size_t i = 0; i < s->n; i++) {
        struct qop *op = &s->ops[i];
        unsigned n = 0;
        int pic = op->port == 0x20 || op->port == 0x21   ? 0
                  : op->port == 0xa0 || op->port == 0xa1 ? 1
                                                         : -1;
        if (clock && s->tsc_hz) {
            if (!have_t0) {
                t0 = op->tsc;
                have_t0 = true;
            } else if (op->tsc > t0) {
                /* whole nanoseconds since the previous op, no drift */
                uint64_t a = (uint64_t)((unsigned __int128)t0 * 1000000000u / s->tsc_hz);
                uint64_t b = (uint64_t)((unsigned __int128)op->tsc * 1000000000u / s->tsc_hz);
                if (b > a)
                    fprintf(f, "clock_step %" PRIu64 "\n", b - a);
                t0 = op->tsc;
            }
        }
        char c = op->size <= 4 ? sfx[op->size] : 0;
        switch (op->kind) {
        case QOP_OUT: {
            bool ended = false;
            uint32_t v = op->value;
            if (pic >= 0 && op->size == 1)
                v = pic_out(&icw[pic], op->port, v, force[pic], &ended);
            fprintf(f, "out%c 0x%x 0x%x\n", c ? c : 'b', op->port, v);
            n = 1;
            if (ended && force[pic]) {
                fprintf(f, "outb 0x%x 0x%x\n", op->port, force[pic]);
                n++;
            }
            break;
        }
        case QOP_IN:
            fprintf(f, "in%c 0x%x\n", c ? c : 'b', op->port);
            n = 1;
            /* IMR, and IRR unless the read is a poll or of the ISR */
            if (pic >= 0 &&
                ((op->port & 1) || (!(op->pic_ocw3[pic] & 4) && (op->pic_ocw3[pic] & 3) != 3)))
                op->detached = force[pic];
            break;
        case QOP_IRQ:
            fprintf(f, "set_irq_in %s unnamed-gpio-in %u %d\n", op->value < 8 ? master : slave,
                    op->value & 7, op->level);
            n = 1;
            break;
        case QOP_ACK:
            fprintf(f, "outb 0x20 0x0c\ninb 0x20\n");
            n = 2;
            if ((op->value & 0xf8) == op->pic_base[1] && op->pic_base[1] != op->pic_base[0]) {
                fprintf(f, "outb 0xa0 0x0c\ninb 0xa0\n");
                n = 4;
            }
            if (op->withdrawn >= 0) {
                /* undo QEMU's acknowledge of the latched, withdrawn request */
                fprintf(f, "outb 0x%x 0x%x\n", op->withdrawn >= 8 ? 0xa0 : 0x20,
                        0x60 | (op->withdrawn & 7));
                n++;
            }
            break;
        }
        op->ncmds = n;
    }
    return fflush(f) || ferror(f) ? -1 : 0;
}
