/* Hiding recording time from the guest (time.h). */
#include "hv/recording/time.h"

#include "hv/arch.h"
#include "hv/vmx/vmx.h"

uint64_t rec_time_begin(struct rec_time *t)
{
    t->emitted = false;
    return rdtsc();
}

void rec_time_end(struct rec_time *t, uint64_t t0)
{
    if (!t->emitted || !t->vcpu)
        return;
    uint64_t d = rdtsc() - t0;
    t->hidden += d;
    if (t->vcpu->hide_host_time)
        return; /* the entry hides all hypervisor time, this included */
    vmx_set_tsc_offset(t->vcpu, t->vcpu->tsc_offset - d);
}
