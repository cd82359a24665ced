/* hvrr: the host-side command-line tool. One subcommand per replay/cmd_*.c;
 * this file only dispatches (see replay/cli.h for how to add one). */
#include <stdio.h>
#include <string.h>

#include "replay/cli.h"

static const struct cli_cmd commands[] = {
    {"dump", cmd_dump, "print a trace, one line per record"},
    {"stats", cmd_stats, "summarise a trace: exits by reason/port/device, size, damage"},
    {"synth", cmd_synth, "write a synthetic Linux-like trace (for tests and benchmarks)"},
    {"export", cmd_export, "export a trace (--raw: the protobuf stream, for protoc --decode)"},
    {"replay", cmd_replay, "replay a trace through the device models, report divergences"},
    {"diff", cmd_diff, "compare two traces of the same workload, exit by exit"},
    {"bisect", cmd_bisect, "find the commit that made a trace diverge (git bisect run)"},
    {"capture", cmd_capture, "read a trace from a serial port, file or pipe into FILE.hvt"},
    {"crosscheck", cmd_crosscheck, "compare a trace's device reads with QEMU's models"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hvrr <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'hvrr <command> --help' describes a command. Exit status: 0 success,\n"
               "1 unreadable or unusable input, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char help[] = "--help";
            char *sub[] = {argv[2], help, NULL};
            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(commands[i].name, argv[2]))
                    return commands[i].run(2, sub);
        }
        usage(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hvrr: unknown command '%s'\n\n", name);
    usage(stderr);
    return CLI_USAGE;
}
