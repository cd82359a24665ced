/* vCPU scheduling decisions (vcpu_sched.h). */
#include "hv/vcpu_sched.h"

int vcpu_sched_next(const enum vcpu_run_state *run, const bool *pending, unsigned n, unsigned cur,
                    bool cur_yields)
{
    if (n == 0 || cur >= n)
        return -1;
    if (!cur_yields && vcpu_sched_can_run(run[cur], pending[cur]))
        return (int)cur;
    for (unsigned k = 1; k <= n; k++) {
        unsigned i = (cur + k) % n;
        if (vcpu_sched_can_run(run[i], pending[i]))
            return (int)i;
    }
    return -1;
}
