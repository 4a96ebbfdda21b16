#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define HELP_WIDTH 80
#define HELP_COLUMN 30 /* where a flag's meaning starts */


static void arg_error(Args *a, const char *fmt, const char *x, const char *y) {
    if (!a->error) snprintf(a->first_error, sizeof a->first_error, fmt, x, y);
    a->error = 1;
}

static int spelled_exactly(const ArgSpec *e, const char *word) {
    return !strcmp(word, e->name) || (e->alias && !strcmp(word, e->alias));
}

/* The entry spelled exactly `word` (its name or alias) in spec's tables, or NULL. */
static const ArgSpec *find(const CommandSpec *spec, const char *word) {
    for (const ArgSpec *const *t = spec->tables; *t; t++)
        for (const ArgSpec *e = *t; e->name; e++)
            if (spelled_exactly(e, word)) return e;
    return NULL;
}

static _Noreturn void internal_error(const Args *a, const char *name, const char *what) {
    fprintf(stderr, "anemll: internal error: flag %s of '%s' %s\n", name, a->spec->name, what);
    exit(ARGS_INTERNAL_ERROR);
}

enum { READ_SWITCH, READ_VALUE, READ_LIST };

/* name's entry in the command's tables; a flag read without one, or read as another kind than
 * its entry says (switch, value, repeated value), is a bug in the command. */
static const ArgSpec *entry(const Args *a, const char *name, int kind) {
    const ArgSpec *e = find(a->spec, name);
    if (!e || !e->help || !*e->help) internal_error(a, name, "has no help entry");
    if (kind != (!e->metavar ? READ_SWITCH : e->repeat ? READ_LIST : READ_VALUE))
        internal_error(a, name, "is read as another kind of flag than its help entry says");
    return e;
}

/* Length of e's spelling that word starts with, followed by the end or '='; 0 if none. */
static size_t spelling_len(const ArgSpec *e, const char *word) {
    const char *s[2] = {e->name, e->alias};
    for (int k = 0; k < 2; k++) {
        size_t n = s[k] ? strlen(s[k]) : 0;
        if (n && !strncmp(word, s[k], n) && (word[n] == 0 || word[n] == '=')) return n;
    }
    return 0;
}

void args_init(Args *a, const CommandSpec *spec, int argc, char **argv) {
    a->spec = spec;
    a->argc = argc;
    a->argv = argv;
    a->used = xcalloc((size_t)argc + 1, 1);
    a->error = 0;
}

void args_free(Args *a) { free(a->used); }

/* Calls fn(value) for each occurrence of e's flag, marking the words used; returns the count. */
static int each_value(Args *a, const ArgSpec *e, void (*fn)(void *, const char *), void *ctx) {
    int count = 0;
    for (int i = 0; i < a->argc; i++) {
        const char *w = a->argv[i];
        size_t n = a->used[i] ? 0 : spelling_len(e, w);
        if (!n) continue;
        a->used[i] = 1;
        if (w[n] == '=') {
            fn(ctx, w + n + 1);
        } else if (i + 1 >= a->argc) {
            arg_error(a, "option %s needs a value%s", w, "");
            return count;
        } else {
            a->used[i + 1] = 1;
            fn(ctx, a->argv[++i]);
        }
        count++;
    }
    return count;
}

static void keep_last(void *ctx, const char *v) { *(const char **)ctx = v; }

static const char *value_of(Args *a, const ArgSpec *e, const char *def) {
    const char *val = def;
    each_value(a, e, keep_last, &val);
    return val;
}

const char *arg_str(Args *a, const char *name, const char *def) {
    const ArgSpec *e = entry(a, name, READ_VALUE);
    if (def && (!e->def || strcmp(def, e->def)))
        internal_error(a, name, "has a default that its help entry does not show");
    return value_of(a, e, def);
}

int arg_flag(Args *a, const char *name) {
    const ArgSpec *e = entry(a, name, READ_SWITCH);
    int found = 0;
    for (int i = 0; i < a->argc; i++)
        if (!a->used[i] && spelled_exactly(e, a->argv[i])) {
            a->used[i] = 1;
            found = 1;
        }
    return found;
}

/* name's entry, whose default, when a plain number, must be the number the code uses. */
static const ArgSpec *number_entry(const Args *a, const char *name, double def) {
    const ArgSpec *e = entry(a, name, READ_VALUE);
    if (e->def) {
        char *end;
        double shown = strtod(e->def, &end);
        if (end != e->def && !*end && shown != def) internal_error(a, name, "has a default that its help entry does not show");
    }
    return e;
}

long arg_int(Args *a, const char *name, long def, long min, long max) {
    const char *s = value_of(a, number_entry(a, name, (double)def), NULL);
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
    const char *s = value_of(a, number_entry(a, name, def), NULL);
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

typedef struct {
    const char **out;
    int n, max;
} List;

static void keep_all(void *ctx, const char *v) {
    List *l = ctx;
    if (l->n < l->max) l->out[l->n] = v;
    l->n++;
}

int arg_list(Args *a, const char *name, const char **out, int max) {
    List l = {out, 0, max};
    each_value(a, entry(a, name, READ_LIST), keep_all, &l);
    if (l.n > max) {
        char most[32];
        snprintf(most, sizeof most, "%d", max);
        arg_error(a, "at most %s %s", most, name);
        return max;
    }
    return l.n;
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

int args_finish(Args *a) {
    for (int i = 0; i < a->argc && !a->error; i++)
        if (!a->used[i]) arg_error(a, "unknown argument '%s' for '%s'", a->argv[i], a->spec->name);
    if (a->error) fprintf(stderr, "anemll: error: %s\n", a->first_error);
    return a->error ? -1 : 0;
}

/* ---- help ---- */

int args_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

/* text word-wrapped, continuing at column col, later lines indented to indent. */
static void wrap(FILE *f, const char *text, int col, int indent) {
    int line_start = 1;
    for (const char *p = text; *p;) {
        p += strspn(p, " ");
        int n = (int)strcspn(p, " ");
        if (!n) break;
        if (!line_start && col + 1 + n > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            line_start = 1;
        }
        col += fprintf(f, "%s%.*s", line_start ? "" : " ", n, p);
        line_start = 0;
        p += n;
    }
    fputc('\n', f);
}

static void print_flag(FILE *f, const char *names, const char *help) {
    int col = fprintf(f, "  %s", names);
    if (col + 2 > HELP_COLUMN) {
        fputc('\n', f);
        col = 0;
    }
    fprintf(f, "%*s", HELP_COLUMN - col, "");
    wrap(f, help, HELP_COLUMN, HELP_COLUMN);
}

void args_print_help(FILE *f, const CommandSpec *spec) {
    fprintf(f, "usage: anemll %s%s%s\n\n", spec->name, *spec->usage ? " " : "", spec->usage);
    wrap(f, spec->about, 0, 0);
    fprintf(f, "\noptions:\n");
    for (const ArgSpec *const *t = spec->tables; *t; t++)
        for (const ArgSpec *e = *t; e->name; e++) {
            char names[128], help[2048];
            snprintf(names, sizeof names, "%s%s%s%s%s", e->name, e->alias ? ", " : "", e->alias ? e->alias : "",
                     e->metavar ? " " : "", e->metavar ? e->metavar : "");
            snprintf(help, sizeof help, "%s%s%s%s%s", e->help, e->def ? " (default: " : "", e->def ? e->def : "",
                     e->def ? ")" : "", e->repeat ? " (repeatable)" : "");
            print_flag(f, names, help);
        }
    print_flag(f, "-h, --help", "print this help and exit");
    fprintf(f, "\nexamples:\n");
    for (const char *p = spec->examples; *p;) {
        int n = (int)strcspn(p, "\n");
        fprintf(f, "  %.*s\n", n, p);
        p += n + (p[n] == '\n');
    }
}
