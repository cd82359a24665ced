/* Panic detection in the guest console (panic.h). */
#include "hv/recording/panic.h"

#include "hv/lib.h"

void rec_panic_reset(struct rec_panic *p)
{
    p->line_len = 0;
}

bool rec_panic_byte(struct rec_panic *p, uint8_t c)
{
    bool hit = false;
    if (c == '\n' || p->line_len + 1 >= sizeof p->line) {
        p->line[p->line_len] = 0;
        if (strstr_n(p->line, p->line_len, "Kernel panic - not syncing")) {
            p->seen = true;
            hit = true;
        }
        p->line_len = 0;
    } else if (c != '\r') {
        p->line[p->line_len++] = (char)c;
    }
    return hit;
}
