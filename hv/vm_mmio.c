/* MMIO exit policy (vm_mmio.h). */
#include "hv/vm_mmio.h"

enum vm_policy_io_result vm_policy_mmio(struct vm_policy *p, const struct vm_mmio_ops *mo,
                                        struct vm_mmio_exit *m)
{
    const struct vm_policy_ops *o = p->ops;
    uint8_t code[MMIO_INSN_MAX];
    size_t n = 0;
    enum vm_policy_map stop_map = VM_POLICY_MAP_OK;
    uint64_t fault_la = 0;
    uint32_t fault_err = 0;
    /* Fetch byte by byte: the bytes past the instruction may sit on a page
     * the guest did not map; only a fault inside it matters. */
    for (; n < MMIO_INSN_MAX; n++) {
        uint64_t la = m->code_la + n;
        if (m->mode != MMIO_MODE_64)
            la &= 0xffffffffull;
        uint8_t *b;
        uint32_t err = 0;
        enum vm_policy_map r = o->map_operand(p->ctx, la, false, &b, &err);
        if (r != VM_POLICY_MAP_OK) {
            stop_map = r;
            fault_la = la;
            fault_err = err;
            break;
        }
        code[n] = *b;
    }
    int rc = mmio_decode(code, n, m->mode, &m->insn, &m->why);
    if (rc != 0) {
        if (rc == -2 && stop_map == VM_POLICY_MAP_PF) {
            /* the instruction runs onto a page that is not present */
            o->inject_pf(p->ctx, fault_la, fault_err | 0x10u); /* I/D: instruction fetch */
            return VM_POLICY_IO_NO_ACCESS;
        }
        if (rc == -2 && stop_map == VM_POLICY_MAP_OUTSIDE)
            m->why = "instruction outside guest RAM";
        p->stop = VM_STOP_FATAL;
        return VM_POLICY_IO_FATAL;
    }
    const struct mmio_insn *in = &m->insn;
    uint64_t reg = in->has_imm ? 0 : o->reg(p->ctx, in->reg);
    uint64_t v = in->write ? mmio_store_value(in, reg) : 0;
    v = mo->access(p->ctx, &m->x, m->gpa, in->size, in->write, v);
    if (!in->write)
        o->set_reg(p->ctx, in->reg, mmio_load_result(in, reg, v));
    m->value = v;
    mo->advance_rip(p->ctx, in->len);
    return VM_POLICY_IO_DEVICE;
}
