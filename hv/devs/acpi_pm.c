/* ACPI fixed power-management hardware (ACPI 6.x spec, 4.8.3 "PM1 Event
 * Grouping", "PM1 Control Grouping", 4.8.3.3 "Power Management Timer").
 *
 * The PM timer is a pure function of time: floor(ns * 3579545 / 1e9)
 * modulo 2^24. TMR_STS is set each time bit 23 of the counter changes,
 * i.e. every 2^23 counts; transitions are folded in lazily (tmr_seen). The
 * SCI is level: SCI_EN and any enabled status bit. There is no SMI command
 * port, so the hardware is always in ACPI mode (SCI_EN reads 1).
 */
#include "hv/devs/acpi_pm.h"

#define APM_TAG SV_TAG('A', 'P', 'M', '1')
#define STS_BITS                                                                                   \
    (ACPI_PM1_TMR | ACPI_PM1_BM | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN |               \
     ACPI_PM1_RTC | ACPI_PM1_WAK)
#define EN_BITS  (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
#define CNT_KEEP (ACPI_PM1_SCI_EN | ACPI_PM1_BM_RLD | 0x1c00u) /* + SLP_TYP */

static uint64_t ticks(uint64_t ns)
{
    return (ns / NS_PER_SEC) * ACPI_PM_TMR_HZ + (ns % NS_PER_SEC) * ACPI_PM_TMR_HZ / NS_PER_SEC;
}

/* First ns at which tick k has happened. */
static uint64_t tick_ns(uint64_t k)
{
    uint64_t q = k / ACPI_PM_TMR_HZ, r = k % ACPI_PM_TMR_HZ;
    if (q > (TIME_NEVER - NS_PER_SEC) / NS_PER_SEC)
        return TIME_NEVER;
    return q * NS_PER_SEC + (r * NS_PER_SEC + ACPI_PM_TMR_HZ - 1) / ACPI_PM_TMR_HZ;
}

uint32_t acpi_pm_timer(uint64_t now_ns)
{
    return (uint32_t)(ticks(now_ns) & 0xffffffu);
}

static void update(struct acpi_pm *p, uint64_t now_ns)
{
    if (now_ns < p->last_ns)
        now_ns = p->last_ns;
    p->last_ns = now_ns;
    uint64_t t = ticks(now_ns) >> 23;
    if (t > p->tmr_seen) {
        p->tmr_seen = t;
        p->sts |= ACPI_PM1_TMR;
    }
    bool sci = (p->cnt & ACPI_PM1_SCI_EN) && (p->sts & p->en & EN_BITS);
    if (sci != p->sci) {
        p->sci = sci;
        irq_sink_set(&p->sci_out, p->sci_irq, sci);
    }
}

void acpi_pm_init(struct acpi_pm *p, uint16_t base, const struct irq_sink *sci, uint8_t sci_irq,
                  uint8_t s5_typ, const struct dev_request_sink *req, uint64_t now_ns)
{
    *p = (struct acpi_pm){.base = base, .sci_irq = sci_irq, .s5_typ = s5_typ};
    if (sci)
        p->sci_out = *sci;
    if (req)
        p->req = *req;
    p->cnt = ACPI_PM1_SCI_EN;
    p->last_ns = now_ns;
    p->tmr_seen = ticks(now_ns) >> 23;
}

void acpi_pm_tick(struct acpi_pm *p, uint64_t now_ns)
{
    update(p, now_ns);
}

uint64_t acpi_pm_next_event_ns(const struct acpi_pm *p, uint64_t now_ns)
{
    if (!(p->en & ACPI_PM1_TMR) || (p->sts & ACPI_PM1_TMR) || !(p->cnt & ACPI_PM1_SCI_EN))
        return TIME_NEVER;
    uint64_t t = tick_ns((p->tmr_seen + 1) << 23);
    return t < now_ns ? now_ns : t;
}

/* Register bytes: 0-1 PM1_STS, 2-3 PM1_EN, 4-5 PM1_CNT, 6-7 none, 8-11 PM_TMR. */
static uint8_t read_byte(const struct acpi_pm *p, unsigned off, uint64_t now_ns)
{
    switch (off) {
    case 0: return (uint8_t)p->sts;
    case 1: return (uint8_t)(p->sts >> 8);
    case 2: return (uint8_t)p->en;
    case 3: return (uint8_t)(p->en >> 8);
    case 4: return (uint8_t)p->cnt;
    case 5: return (uint8_t)(p->cnt >> 8);
    case 8:
    case 9:
    case 10:
    case 11: return (uint8_t)(acpi_pm_timer(now_ns) >> (8 * (off - 8)));
    default: return 0xff;
    }
}

int acpi_pm_io(void *pm, uint16_t port, unsigned size, bool write, uint32_t *val, uint64_t now_ns)
{
    struct acpi_pm *p = pm;
    unsigned off = (unsigned)(uint16_t)(port - p->base);
    if (off >= ACPI_PM_PORTS)
        return DEV_IO_UNMAPPED;
    if (off + size > ACPI_PM_PORTS)
        return DEV_IO_BADSIZE;
    update(p, now_ns);
    if (!write) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= (uint32_t)read_byte(p, off + i, now_ns) << (8 * i);
        *val = v;
        return DEV_IO_OK;
    }
    /* Assemble the 16-bit registers the write touches; untouched bytes
     * write 0 (harmless for write-1-to-clear status and keep for others). */
    uint16_t sts_clr = 0, en = p->en, cnt = p->cnt;
    bool cnt_written = false;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        uint8_t b = (uint8_t)(*val >> (8 * i));
        unsigned sh = 8 * (o & 1u);
        if (o < 2)
            sts_clr |= (uint16_t)(b << sh);
        else if (o < 4)
            en = (uint16_t)((en & ~(0xffu << sh)) | ((unsigned)b << sh));
        else if (o < 6) {
            cnt = (uint16_t)((cnt & ~(0xffu << sh)) | ((unsigned)b << sh));
            cnt_written = true;
        }
    }
    p->sts &= (uint16_t) ~(sts_clr & STS_BITS); /* write 1 to clear */
    p->en = en & EN_BITS;
    if (cnt_written) {
        /* SCI_EN is fixed at 1 (no legacy mode); GBL_RLS and SLP_EN are
         * write-only; SLP_EN with the \_S5 type powers off. */
        p->cnt = (uint16_t)((cnt & CNT_KEEP) | ACPI_PM1_SCI_EN);
        if ((cnt & ACPI_PM1_SLP_EN) && ((cnt >> 10) & 7u) == p->s5_typ)
            dev_request(&p->req, DEV_REQ_POWEROFF);
    }
    update(p, now_ns);
    return DEV_IO_OK;
}

static bool apm_valid(const void *obj)
{
    const struct acpi_pm *p = obj;
    if ((p->sts & ~STS_BITS) || (p->en & ~EN_BITS) || (p->cnt & ~CNT_KEEP) ||
        !(p->cnt & ACPI_PM1_SCI_EN))
        return false;
    if (p->tmr_seen > ticks(p->last_ns) >> 23)
        return false;
    return p->sci == ((p->sts & p->en & EN_BITS) != 0);
}

static const struct sv_field apm_fields[] = {
    SV_U16(struct acpi_pm, sts),      SV_U16(struct acpi_pm, en),      SV_U16(struct acpi_pm, cnt),
    SV_U64(struct acpi_pm, tmr_seen), SV_U64(struct acpi_pm, last_ns), SV_BOOL(struct acpi_pm, sci),
};

const struct sv_desc acpi_pm_sv_desc = {
    .name = "acpi_pm",
    .tag = APM_TAG,
    .version = ACPI_PM_STATE_VERSION,
    .min_version = 1,
    .fields = apm_fields,
    .nfields = SV_NFIELDS(apm_fields),
    .valid = apm_valid,
};
