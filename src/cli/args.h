/* Command-line flags for the subcommands: `--name VALUE`, `--name=VALUE`, `--flag`.
 * Each command asks for its flags, then args_finish() rejects anything left unread. */
#ifndef ANEMLL_ARGS_H
#define ANEMLL_ARGS_H

typedef struct {
    int argc;
    char **argv;
    unsigned char *used;
    int error;
} Args;

void args_init(Args *a, int argc, char **argv);
void args_free(Args *a);
/* value of --name (first alias found), or def */
const char *arg_str(Args *a, const char *name, const char *def);
int arg_flag(Args *a, const char *name);
long arg_int(Args *a, const char *name, long def, long min, long max);
double arg_double(Args *a, const char *name, double def, double min, double max);
/* After all flags are read: the remaining non-flag words, in order. Returns their count. */
int args_positionals(Args *a, const char **out, int max);
/* 0 when every word was used and no flag had a bad value; else prints one error line. */
int args_finish(Args *a, const char *cmd);

#endif
