/* build/anemll: one binary, one subcommand per job. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "util/util.h"

static const struct {
    int (*fn)(int, char **);
    const CommandSpec *spec;
} commands[] = {
    {cmd_chat, &chat_spec},       {cmd_logits, &logits_spec},         {cmd_generate, &generate_spec},
    {cmd_synth, &synth_spec},     {cmd_tokenize, &tokenize_spec},     {cmd_detokenize, &detokenize_spec},
    {cmd_template, &template_spec}, {cmd_convert, &convert_spec},     {cmd_eval, &eval_spec},
    {cmd_inspect, &inspect_spec}, {cmd_bench, &bench_spec},           {cmd_serve, &serve_spec},
    {cmd_version, &version_spec},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

int fail_with_error(void) {
    fprintf(stderr, "anemll: error: %s\n", err_get());
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: anemll COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].spec->name, commands[i].spec->summary);
    fprintf(f, "\n`anemll help COMMAND` (or `anemll COMMAND --help`) describes a command, its flags and examples.\n");
}

static int find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].spec->name)) return (int)i;
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) return cmd_version(argc - 2, argv + 2);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || (!strcmp(cmd, "help") && (argc == 2 || !strcmp(argv[2], "help")))) {
        usage(stdout);
        return 0;
    }
    int help = !strcmp(cmd, "help");
    if (help) {
        if (argc > 3) {
            fprintf(stderr, "anemll: error: help takes one command name (try `anemll help`)\n");
            return 2;
        }
        cmd = argv[2];
    }
    int i = find_command(cmd);
    if (i < 0) {
        fprintf(stderr, "anemll: error: unknown command '%s' (try `anemll help`)\n", cmd);
        return 2;
    }
    if (help || args_wants_help(argc - 2, argv + 2)) {
        args_print_help(stdout, commands[i].spec);
        return 0;
    }
    int capped, threads = anemll_threads_env(&capped);
    if (threads < 0) {
        fail_with_error();
        return 2;
    }
    if (capped) fprintf(stderr, "anemll: note: ANEMLL_THREADS=%s is capped to %d threads\n", getenv("ANEMLL_THREADS"), threads);
    const char *kernel_note = anemll_kernel_note();
    if (kernel_note) fprintf(stderr, "anemll: warning: %s\n", kernel_note);
    int rc = commands[i].fn(argc - 2, argv + 2);
    /* results go to stdout: a failed write (a full disk, a closed pipe) must not exit 0 */
    if (ferror(stdout) | (fclose(stdout) != 0)) {
        fprintf(stderr, "anemll: error: write failed on standard output%s%s\n", errno ? ": " : "",
                errno ? strerror(errno) : "");
        return rc ? rc : 1;
    }
    return rc;
}
