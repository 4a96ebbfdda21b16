/* The flag tables of src/cli/args.c: parsing (values, aliases, repeated flags, positionals,
 * errors), help, and the internal error for a flag read without a help entry. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cli/args.h"

static const ArgSpec demo_args[] = {
    {"--model", "--meta", "DIR", NULL, "the model", 0},
    {"--batch", NULL, "N", "64", "prefill batch", 0},
    {"--temp", NULL, "T", "0.5", "temperature", 0},
    {"--lut", "--lut-ffn", "SPEC", "4,4", "LUT of the FFN", 0},
    {"--force", NULL, NULL, NULL, "replace the output", 0},
    {"--config", NULL, "SPEC", NULL, "one more configuration", 1},
    {"--undocumented", NULL, "X", NULL, "", 0},
    {0},
};
static const ArgSpec shared_args[] = {
    {"-n", NULL, "N", "32", "tokens", 0},
    {0},
};
static const CommandSpec demo = {
    "demo", "a demo", "[options] WORD", "Shows the tables.", (const ArgSpec *const[]){demo_args, shared_args, NULL},
    "anemll demo --force\nanemll demo -n 3 x",
};

/* args_init over the given words */
#define INIT(a, ...)                                                          \
    do {                                                                      \
        static char *words_[] = {__VA_ARGS__};                                \
        args_init(a, &demo, (int)(sizeof words_ / sizeof words_[0]), words_); \
    } while (0)

static void test_values(void) {
    Args a;
    INIT(&a, "--model", "m", "--batch=7", "word", "--force", "--lut-ffn", "8,4", "--temp", "1.5", "-n", "3");
    CHECK(!strcmp(arg_str(&a, "--model", NULL), "m"));
    CHECK(arg_int(&a, "--batch", 64, 1, 100) == 7);
    CHECK(arg_flag(&a, "--force") == 1);
    CHECK(!strcmp(arg_str(&a, "--lut", "4,4"), "8,4"));
    CHECK(arg_double(&a, "--temp", 0.5, 0, 10) == 1.5);
    CHECK(arg_int(&a, "-n", 32, 0, 100) == 3);
    const char *pos[2];
    CHECK(args_positionals(&a, pos, 2) == 1 && !strcmp(pos[0], "word"));
    CHECK(args_finish(&a) == 0);
    args_free(&a);
}

/* absent flags give the defaults; of several spellings the last one given wins */
static void test_defaults_and_aliases(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    CHECK(arg_int(&a, "--batch", 64, 1, 100) == 64);
    CHECK(!strcmp(arg_str(&a, "--lut", "4,4"), "4,4"));
    CHECK(arg_str(&a, "--model", NULL) == NULL);
    CHECK(arg_flag(&a, "--force") == 0);
    CHECK(args_finish(&a) == 0);
    args_free(&a);
    INIT(&a, "--lut", "a", "--meta", "dir/meta.yaml", "--lut-ffn=b");
    CHECK(!strcmp(arg_str(&a, "--lut", "4,4"), "b"));
    CHECK(!strcmp(arg_str(&a, "--meta", NULL), "dir/meta.yaml"));
    CHECK(args_finish(&a) == 0);
    args_free(&a);
}

static void test_repeated(void) {
    Args a;
    const char *v[4];
    INIT(&a, "--config", "x", "--config=y", "--batch", "2", "--config", "z");
    CHECK(arg_list(&a, "--config", v, 4) == 3 && !strcmp(v[0], "x") && !strcmp(v[1], "y") && !strcmp(v[2], "z"));
    CHECK(arg_int(&a, "--batch", 64, 1, 100) == 2);
    CHECK(args_finish(&a) == 0);
    args_free(&a);
}

/* Runs fn in a child process: its exit status (-1 if it did not exit), its stderr in err. */
static int in_child(void (*fn)(void), char *err, size_t n) {
    int fd[2];
    if (pipe(fd)) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t k;
    while (len + 1 < n && (k = read(fd[0], err + len, n - 1 - len)) > 0) len += (size_t)k;
    err[len] = 0;
    close(fd[0]);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* The parse of `words` as a command would do it: exit 2 on a usage error. */
static void finish_or_2(Args *a) {
    int bad = args_finish(a);
    args_free(a);
    _exit(bad ? 2 : 0);
}
static void unknown_word(void) {
    Args a;
    INIT(&a, "--force", "--bogus");
    arg_flag(&a, "--force");
    finish_or_2(&a);
}
static void missing_value(void) {
    Args a;
    INIT(&a, "--lut-ffn");
    arg_str(&a, "--lut", "4,4");
    finish_or_2(&a);
}
static void bad_number(void) {
    Args a;
    INIT(&a, "--batch", "200");
    arg_int(&a, "--batch", 64, 1, 100);
    finish_or_2(&a);
}
static void too_many(void) {
    Args a;
    const char *v[1];
    INIT(&a, "--config", "x", "--config", "y");
    arg_list(&a, "--config", v, 1);
    finish_or_2(&a);
}

static void test_usage_errors(void) {
    char err[512];
    CHECK(in_child(unknown_word, err, sizeof err) == 2);
    CHECKF(!strcmp(err, "anemll: error: unknown argument '--bogus' for 'demo'\n"), "%s", err);
    CHECK(in_child(missing_value, err, sizeof err) == 2);
    CHECKF(!strcmp(err, "anemll: error: option --lut-ffn needs a value\n"), "%s", err);
    CHECK(in_child(bad_number, err, sizeof err) == 2);
    CHECKF(!strcmp(err, "anemll: error: option --batch: expected an integer in 1..100\n"), "%s", err);
    CHECK(in_child(too_many, err, sizeof err) == 2);
    CHECKF(!strcmp(err, "anemll: error: at most 1 --config\n"), "%s", err);
}

/* Each reads a flag the way the tables forbid; the process must end with the internal error. */
static void read_unlisted(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    arg_int(&a, "--new-flag", 0, 0, 1);
}
static void read_without_help(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    arg_str(&a, "--undocumented", NULL);
}
static void read_other_default(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    arg_int(&a, "--batch", 32, 1, 100);
}
static void read_other_string_default(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    arg_str(&a, "--lut", "6,4");
}
static void read_value_as_switch(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    arg_flag(&a, "--model");
}
static void read_list_as_value(void) {
    Args a;
    args_init(&a, &demo, 0, NULL);
    arg_str(&a, "--config", NULL);
}

static void test_internal_errors(void) {
    char err[512];
    CHECK(in_child(read_unlisted, err, sizeof err) == ARGS_INTERNAL_ERROR);
    CHECKF(!strcmp(err, "anemll: internal error: flag --new-flag of 'demo' has no help entry\n"), "%s", err);
    CHECK(in_child(read_without_help, err, sizeof err) == ARGS_INTERNAL_ERROR);
    CHECKF(!strcmp(err, "anemll: internal error: flag --undocumented of 'demo' has no help entry\n"), "%s", err);
    void (*wrong[])(void) = {read_other_default, read_other_string_default, read_value_as_switch, read_list_as_value};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        CHECKF(in_child(wrong[i], err, sizeof err) == ARGS_INTERNAL_ERROR, "case %zu", i);
        CHECKF(!strncmp(err, "anemll: internal error: flag --", 31), "%s", err);
    }
    CHECK(ARGS_INTERNAL_ERROR == 70);
}

static void test_wants_help(void) {
    CHECK(args_wants_help(2, (char *[]){"--bogus", "--help"}));
    CHECK(args_wants_help(3, (char *[]){"x", "-h", "--batch"}));
    CHECK(args_wants_help(2, (char *[]){"--model", "--help"})); /* help wins over a flag's value */
    CHECK(!args_wants_help(1, (char *[]){"--prompt=-h"}));
    CHECK(!args_wants_help(1, (char *[]){"--helpful"}));
    CHECK(!args_wants_help(0, NULL));
}

static void test_help_text(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    args_print_help(f, &demo);
    fclose(f);
    const char *want[] = {
        "usage: anemll demo [options] WORD\n\nShows the tables.\n\noptions:\n",
        "\n  --model, --meta DIR         the model\n",
        "\n  --batch N                   prefill batch (default: 64)\n",
        "\n  --config SPEC               one more configuration (repeatable)\n",
        "\n  --force                     replace the output\n",
        "\n  -n N                        tokens (default: 32)\n",
        "\n  -h, --help                  print this help and exit\n",
        "\nexamples:\n  anemll demo --force\n  anemll demo -n 3 x\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECKF(strstr(text, want[i]), "no '%s' in:\n%s", want[i], text);
    free(text);
}

int main(void) {
    RUN(test_values);
    RUN(test_defaults_and_aliases);
    RUN(test_repeated);
    RUN(test_usage_errors);
    RUN(test_internal_errors);
    RUN(test_wants_help);
    RUN(test_help_text);
    CHECK_EXIT();
}
