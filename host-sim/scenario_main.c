/* hvrr-scenario: writes a scripted-guest trace (host-sim/scenario.h).
 *   hvrr-scenario NAME -o FILE.hvt      one scenario
 *   hvrr-scenario --list                the scenario names */
#include <stdio.h>
#include <string.h>

#include "host-sim/scenario.h"
#include "trace/trace_host.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (const struct scenario_config *c = scenario_table; c->name; c++)
            printf("%s\n", c->name);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "-o")) {
        fprintf(stderr, "usage: hvrr-scenario NAME -o FILE.hvt | --list\n");
        return 2;
    }
    const struct scenario_config *c = scenario_find(argv[1]);
    if (!c) {
        fprintf(stderr, "hvrr-scenario: unknown scenario '%s' (--list)\n", argv[1]);
        return 2;
    }
    FILE *f = fopen(argv[3], "wb");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    struct trace_writer_config wc = {
        .level = 19, .write = trace_write_stdio, .write_ctx = f, .alloc = &trace_libc_allocator};
    struct trace_writer *w = trace_writer_init(&wc, NULL, 0);
    int rc = w ? scenario_run(c, w) : -1;
    if (w)
        trace_writer_destroy(w);
    if (fclose(f) || rc) {
        fprintf(stderr, "hvrr-scenario: %s: %s\n", argv[3], trace_writer_strerror(rc));
        return 1;
    }
    return 0;
}
