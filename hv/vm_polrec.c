/* Exit-policy records (vm_polrec.h). */
#include "hv/vm_polrec.h"
#include "hv/recording.h"
#include "hv/vm.h"
#include "hv/vm_policy.h"

void vm_polrec_io_begin(struct vm *vm, const struct vm_policy_io *io)
{
    struct vm_polrec *p = &vm->polrec;
    p->io_on = vm->recording && (io->in || io->string);
    if (!p->io_on)
        return;
    struct vmx_vcpu *v = &vm->cur->vmx;
    p->retired = false;
    p->in = io->in;
    p->fault = 0;
    p->ev = (struct trace_dev_event){.tsc = io->x.tsc, .kind = TRACE_DEV_POLICY_IO};
    if (io->string) {
        p->ev.u.pio.addr_bits = io->addr_bits;
        p->ev.u.pio.rcx = vmx_guest_reg(v, R_RCX);
        p->ev.u.pio.index = vmx_guest_reg(v, io->in ? R_RDI : R_RSI);
        p->ev.u.pio.rflags = vmx_guest_rflags();
        p->ev.u.pio.gla = io->gla;
    } else {
        /* without the bytes the IN writes: the policy never reads them, and
         * they are the part that changes from one IN to the next */
        p->ev.u.pio.rax = vmx_guest_reg(v, R_RAX) & ~(uint64_t)dev_size_mask(io->size);
    }
}

void vm_polrec_io_end(struct vm *vm)
{
    struct vm_polrec *p = &vm->polrec;
    if (!p->io_on || !vm->recording)
        return;
    p->io_on = false;
    struct vmx_vcpu *v = &vm->cur->vmx;
    struct trace_dev_event *ev = &p->ev;
    if (ev->u.pio.addr_bits) {
        ev->u.pio.rcx_after = vmx_guest_reg(v, R_RCX);
        ev->u.pio.index_after = vmx_guest_reg(v, p->in ? R_RDI : R_RSI);
    } else {
        ev->u.pio.rax_after = vmx_guest_reg(v, R_RAX);
    }
    ev->u.pio.fault = p->fault;
    ev->u.pio.retired = p->retired;
    hvrec_policy(vm->rec, ev);
}

void vm_polrec_halt(struct vm *vm, uint64_t rflags)
{
    if (!vm->recording)
        return;
    struct trace_dev_event ev = {.tsc = vmx_guest_tsc_now(&vm->cur->vmx), .kind = TRACE_DEV_HALT};
    ev.u.halt.rflags = rflags;
    ev.u.halt.input = vm->polrec.input;
    ev.u.halt.stop = vm->pol.stop == VM_STOP_POWEROFF || vm->pol.stop == VM_STOP_IDLE
                         ? (uint32_t)vm->pol.stop
                         : 0;
    vm->polrec.input = false;
    hvrec_policy(vm->rec, &ev);
}

void vm_polrec_deadline(struct vm *vm, uint64_t tsc, uint64_t deadline)
{
    struct vm_polrec *p = &vm->polrec;
    if (!vm->recording || (p->armed_valid && p->armed == deadline))
        return;
    p->armed = deadline;
    p->armed_valid = true;
    hvrec_deadline(vm->rec, tsc, deadline);
}

/* Recording off, the decision still goes to the recorder, into its null
 * sink (the VM layer's one path, docs/replay.md): two VMREADs more per
 * blocked entry. */
void vm_polrec_blocked(struct vm *vm, uint64_t tsc)
{
    struct trace_dev_event ev = {.tsc = tsc, .kind = TRACE_DEV_INTR_BLOCKED};
    ev.u.blocked.rflags = vmx_guest_rflags();
    ev.u.blocked.blocking = vmx_blocking();
    if (vm->recording)
        hvrec_policy(vm->rec, &ev);
    else
        vm_rec_policy(vm->rec, &ev);
}
