#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static char first_error[512];

static void arg_error(Args *a, const char *fmt, const char *x, const char *y) {
    if (!a->error) snprintf(first_error, sizeof first_error, fmt, x, y);
    a->error = 1;
}

void args_init(Args *a, int argc, char **argv) {
    a->argc = argc;
    a->argv = argv;
    a->used = xcalloc((size_t)argc + 1, 1);
    a->error = 0;
}

void args_free(Args *a) { free(a->used); }

const char *arg_str(Args *a, const char *name, const char *def) {
    size_t n = strlen(name);
    const char *val = def;
    for (int i = 0; i < a->argc; i++) {
        const char *w = a->argv[i];
        if (a->used[i] || strncmp(w, name, n) != 0) continue;
        if (w[n] == '=') {
            a->used[i] = 1;
            val = w + n + 1;
        } else if (w[n] == 0) {
            a->used[i] = 1;
            if (i + 1 >= a->argc) {
                arg_error(a, "option %s needs a value%s", name, "");
                return def;
            }
            a->used[i + 1] = 1;
            val = a->argv[++i];
        }
    }
    return val;
}

int arg_flag(Args *a, const char *name) {
    int found = 0;
    for (int i = 0; i < a->argc; i++)
        if (!a->used[i] && strcmp(a->argv[i], name) == 0) {
            a->used[i] = 1;
            found = 1;
        }
    return found;
}

long arg_int(Args *a, const char *name, long def, long min, long max) {
    const char *s = arg_str(a, name, NULL);
    if (!s) return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        char range[64];
        snprintf(range, sizeof range, "%ld..%ld", min, max);
        arg_error(a, "option %s: expected an integer in %s", name, range);
        return def;
    }
    return v;
}

double arg_double(Args *a, const char *name, double def, double min, double max) {
    const char *s = arg_str(a, name, NULL);
    if (!s) return def;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        char range[64];
        snprintf(range, sizeof range, "%g..%g", min, max);
        arg_error(a, "option %s: expected a number in %s", name, range);
        return def;
    }
    return v;
}

int args_positionals(Args *a, const char **out, int max) {
    int n = 0;
    for (int i = 0; i < a->argc; i++) {
        if (a->used[i] || (a->argv[i][0] == '-' && a->argv[i][1])) continue;
        a->used[i] = 1;
        if (n < max) out[n] = a->argv[i];
        n++;
    }
    return n;
}

int args_finish(Args *a, const char *cmd) {
    for (int i = 0; i < a->argc && !a->error; i++)
        if (!a->used[i]) arg_error(a, "unknown argument '%s' for '%s'", a->argv[i], cmd);
    if (a->error) fprintf(stderr, "anemll: error: %s\n", first_error);
    return a->error ? -1 : 0;
}
