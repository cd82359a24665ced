/* Minimal i8042 keyboard controller: see kbc8042.h.
 *
 * Command set (IBM PS/2 keyboard controller; the subset Linux 6.1's i8042
 * driver sends):
 *   0x20+n  read controller RAM n (0x20: CTR)    0x60+n  write controller RAM n
 *   0xa7/0xa8  disable/enable AUX (CTR bit 5)    0xa9  AUX interface test -> 00
 *   0xaa  self-test -> 55                        0xab  KBD interface test -> 00
 *   0xad/0xae  disable/enable KBD (CTR bit 4)
 *   0xd0  read output port                       0xd1  write output port
 *   0xd2  write KBD output buffer (loopback)     0xd3  write AUX output buffer
 *   0xd4  write to AUX device                    0xf0-0xff  pulse output bits
 * Other commands are ignored.
 */
#include "hv/devs/kbc8042.h"

#define KBC_TAG     SV_TAG('K', 'B', 'C', '0')
#define KBC_VERSION 1

#define KBC_NAK 0xfe /* what an absent device's port answers */

static bool level_kbd(const struct kbc8042 *k)
{
    return (k->status & KBC_STS_OBF) && !(k->status & KBC_STS_AUXDATA) && (k->ctr & KBC_CTR_KBDINT);
}

static bool level_aux(const struct kbc8042 *k)
{
    return (k->status & KBC_STS_OBF) && (k->status & KBC_STS_AUXDATA) && (k->ctr & KBC_CTR_AUXINT);
}

static void update_irqs(struct kbc8042 *k)
{
    bool kbd = level_kbd(k), aux = level_aux(k);
    if (kbd != k->irq_kbd) {
        k->irq_kbd = kbd;
        irq_sink_set(&k->irq, KBC_IRQ_KBD, kbd);
    }
    if (aux != k->irq_aux) {
        k->irq_aux = aux;
        irq_sink_set(&k->irq, KBC_IRQ_AUX, aux);
    }
}

/* Place a byte in the output buffer, as from the keyboard side or the AUX
 * side, with or without the timeout error. */
static void put_out(struct kbc8042 *k, uint8_t byte, bool aux, bool timeout)
{
    k->out = byte;
    k->status &= (uint8_t) ~(KBC_STS_AUXDATA | KBC_STS_TIMEOUT | KBC_STS_PARITY);
    k->status |= KBC_STS_OBF;
    if (aux)
        k->status |= KBC_STS_AUXDATA;
    if (timeout)
        k->status |= KBC_STS_TIMEOUT;
    update_irqs(k);
}

static void pulse_reset(struct kbc8042 *k)
{
    k->resets++;
    dev_request(&k->req, DEV_REQ_RESET);
}

static void set_ctr(struct kbc8042 *k, uint8_t v)
{
    k->ctr = v;
    /* The status system flag follows CTR bit 2. */
    k->status = (uint8_t)((k->status & ~KBC_STS_SYS) | (v & KBC_CTR_SYS ? KBC_STS_SYS : 0));
    update_irqs(k);
}

void kbc_init(struct kbc8042 *k, const struct irq_sink *irq, const struct dev_request_sink *req)
{
    k->irq = irq ? *irq : (struct irq_sink){0};
    k->req = req ? *req : (struct dev_request_sink){0};
    k->irq_kbd = k->irq_aux = false;
    k->resets = 0;
    kbc_reset(k);
}

void kbc_reset(struct kbc8042 *k)
{
    k->status = KBC_RESET_STATUS;
    k->ctr = KBC_RESET_CTR;
    k->out = 0;
    k->outport = KBC_RESET_OUTPORT;
    k->pending = 0;
    for (unsigned i = 0; i < sizeof k->ram; i++)
        k->ram[i] = 0;
    update_irqs(k);
}

static void command(struct kbc8042 *k, uint8_t cmd)
{
    k->status |= KBC_STS_CMD;
    k->pending = 0;
    if (cmd >= 0x20 && cmd <= 0x3f) {
        put_out(k, cmd == 0x20 ? k->ctr : k->ram[cmd - 0x20], false, false);
        return;
    }
    if (cmd >= 0x60 && cmd <= 0x7f) {
        k->pending = cmd;
        return;
    }
    if (cmd >= 0xf0) {
        /* Pulse output port bits 0-3 where the command's bit is 0; bit 0 is
         * the CPU reset line. */
        if (!(cmd & 1))
            pulse_reset(k);
        return;
    }
    switch (cmd) {
    case 0xa7: set_ctr(k, k->ctr | KBC_CTR_AUXDIS); break;
    case 0xa8: set_ctr(k, k->ctr & (uint8_t)~KBC_CTR_AUXDIS); break;
    case 0xa9: put_out(k, 0x00, false, false); break;
    case 0xaa:
        k->status |= KBC_STS_SYS;
        put_out(k, 0x55, false, false);
        break;
    case 0xab: put_out(k, 0x00, false, false); break;
    case 0xad: set_ctr(k, k->ctr | KBC_CTR_KBDDIS); break;
    case 0xae: set_ctr(k, k->ctr & (uint8_t)~KBC_CTR_KBDDIS); break;
    case 0xd0: put_out(k, k->outport, false, false); break;
    case 0xd1:
    case 0xd2:
    case 0xd3:
    case 0xd4: k->pending = cmd; break;
    default: break; /* unknown: ignored */
    }
}

static void data_write(struct kbc8042 *k, uint8_t v)
{
    uint8_t cmd = k->pending;
    k->status &= (uint8_t)~KBC_STS_CMD;
    k->pending = 0;
    if (cmd == 0x60) {
        set_ctr(k, v);
    } else if (cmd > 0x60 && cmd <= 0x7f) {
        k->ram[cmd - 0x60] = v;
    } else if (cmd == 0xd1) {
        k->outport = v;
        if (!(v & 1))
            pulse_reset(k);
    } else if (cmd == 0xd2) {
        put_out(k, v, false, false);
    } else if (cmd == 0xd3) {
        put_out(k, v, true, false);
    } else if (cmd == 0xd4) {
        put_out(k, KBC_NAK, true, true); /* no mouse */
    } else {
        put_out(k, KBC_NAK, false, true); /* no keyboard */
    }
}

int kbc_io(void *kbc, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct kbc8042 *k = kbc;
    (void)now_ns;
    if (port != KBC_DATA_PORT && port != KBC_CMD_PORT)
        return DEV_IO_UNMAPPED;
    if (size != 1)
        return DEV_IO_BADSIZE;
    if (write) {
        if (port == KBC_CMD_PORT)
            command(k, (uint8_t)*val);
        else
            data_write(k, (uint8_t)*val);
        return DEV_IO_OK;
    }
    if (port == KBC_CMD_PORT) {
        *val = k->status;
        return DEV_IO_OK;
    }
    /* Reading the data port empties the buffer; an empty buffer reads as
     * the last byte again. */
    *val = k->out;
    k->status &= (uint8_t) ~(KBC_STS_OBF | KBC_STS_AUXDATA);
    update_irqs(k);
    return DEV_IO_OK;
}

static bool pending_valid(uint8_t p)
{
    return p == 0 || (p >= 0x60 && p <= 0x7f) || (p >= 0xd1 && p <= 0xd4);
}

static bool kbc_valid(const void *obj)
{
    const struct kbc8042 *k = obj;
    bool sys_ok = !(k->ctr & KBC_CTR_SYS) || (k->status & KBC_STS_SYS);
    return !(k->status & KBC_STS_IBF) && pending_valid(k->pending) && sys_ok &&
           k->irq_kbd == level_kbd(k) && k->irq_aux == level_aux(k);
}

static const struct sv_field kbc_fields[] = {
    SV_U8(struct kbc8042, status),    SV_U8(struct kbc8042, ctr),
    SV_U8(struct kbc8042, out),       SV_U8(struct kbc8042, outport),
    SV_U8(struct kbc8042, pending),   SV_U8_ARRAY(struct kbc8042, ram),
    SV_BOOL(struct kbc8042, irq_kbd), SV_BOOL(struct kbc8042, irq_aux),
    SV_U64(struct kbc8042, resets),
};

const struct sv_desc kbc_sv_desc = {
    .name = "kbc",
    .tag = KBC_TAG,
    .version = KBC_VERSION,
    .min_version = 1,
    .fields = kbc_fields,
    .nfields = SV_NFIELDS(kbc_fields),
    .valid = kbc_valid,
};

void kbc_save(const struct kbc8042 *k, struct sv *s)
{
    sv_save(s, &kbc_sv_desc, k);
}

int kbc_restore(struct kbc8042 *k, struct sv *s)
{
    struct kbc8042 t = *k;
    if (!sv_load(s, &kbc_sv_desc, &t))
        return -1;
    *k = t;
    return 0;
}
