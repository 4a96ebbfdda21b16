/* Command-line flags for the subcommands: `--name VALUE`, `--name=VALUE`, `--flag`.
 * Each command declares its flags in tables (ArgSpec), the one source of both parsing and
 * `--help`; it asks for its flags, then args_finish() rejects anything left unread. Asking for a
 * flag that none of the command's tables lists is a programming error: the process prints
 * "anemll: internal error: ..." and exits ARGS_INTERNAL_ERROR, so a flag cannot ship without help. */
#ifndef ANEMLL_ARGS_H
#define ANEMLL_ARGS_H

#include <stdio.h>

#define ARGS_INTERNAL_ERROR 70 /* EX_SOFTWARE */

/* One flag. A table is an array of these ended by {0}. */
typedef struct {
    const char *name;    /* "--model" */
    const char *alias;   /* another spelling ("--meta"), or NULL */
    const char *metavar; /* the value's name ("DIR"); NULL for a switch that takes no value */
    const char *def;     /* the default as help shows it, or NULL. Checked against the code's: a string
                          * default must equal it, a number must equal it when it is a plain number */
    const char *help;    /* what it does */
    int repeat;          /* may be given several times (read with arg_list) */
} ArgSpec;

/* A command: its help text and its flag tables (its own and shared groups, NULL-terminated). */
typedef struct {
    const char *name;     /* "convert" */
    const char *summary;  /* one line, for the command list */
    const char *usage;    /* the words after "anemll NAME" */
    const char *about;    /* one paragraph */
    const ArgSpec *const *tables;
    const char *examples; /* command lines, one per line */
} CommandSpec;

typedef struct {
    const CommandSpec *spec;
    int argc;
    char **argv;
    unsigned char *used;
    int error;
    char first_error[512]; /* the message of the first bad flag, printed by args_finish */
} Args;

void args_init(Args *a, const CommandSpec *spec, int argc, char **argv);
void args_free(Args *a);
/* value of --name (or its alias; the last one given wins), or def */
const char *arg_str(Args *a, const char *name, const char *def);
int arg_flag(Args *a, const char *name);
long arg_int(Args *a, const char *name, long def, long min, long max);
double arg_double(Args *a, const char *name, double def, double min, double max);
/* Every value of a repeatable flag, in order; returns the count (more than max is an error). */
int arg_list(Args *a, const char *name, const char **out, int max);
/* After all flags are read: the remaining non-flag words, in order. Returns their count. */
int args_positionals(Args *a, const char **out, int max);
/* 0 when every word was used and no flag had a bad value; else prints one error line. */
int args_finish(Args *a);

/* Whether any word is -h or --help: help wins over everything else on the line, even as what
 * would be a flag's value (`--prompt=-h` passes that text). */
int args_wants_help(int argc, char **argv);
/* Usage, description, every flag with its value, default and meaning, and examples. */
void args_print_help(FILE *f, const CommandSpec *spec);

#endif
