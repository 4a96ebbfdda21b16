/* `tokenize`, `detokenize` and `template`: JSON lines on stdin, one JSON line out per line in,
 * each flushed at once. A bad line stops the command with "stdin line N: ..." and exit code 1 (a bad command line: 2, as every command).
 *   tokenize --jsonl   {"text": "...", "add_bos": bool}  ->  [2,9259,1902]
 *   tokenize           the whole of stdin as one text      ->  one array (BOS unless --no-bos)
 *   detokenize         [2,9259,1902]  ->  "<bos>Hello world"  (--skip-special drops <bos> etc.)
 *   template [--jsonl] {"messages": [...], "add_generation_prompt": bool}
 *                      ->  {"prompt": "...", "ids": [...]}  (ids encode the prompt, whose
 *                          "<bos>" text is the only BOS)
 * The tokenizer: --tokenizer FILE, or --model DIR meaning DIR/tokenizer.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "util/json.h"
#include "util/util.h"

typedef struct {
    const char *file, *model_dir;
} TokenizerFlags;

static const ArgSpec tokenizer_args[] = {
    {"--tokenizer", NULL, "FILE", NULL, "the tokenizer (a Hugging Face tokenizer.json)", 0},
    {"--model", NULL, "DIR", NULL, "use DIR/tokenizer.json instead of --tokenizer", 0},
    {0},
};

static const ArgSpec jsonl_args[] = {
    {"--jsonl", NULL, NULL, NULL, "input is JSON lines (detokenize and template read JSON lines either way)", 0},
    {0},
};

static const ArgSpec tokenize_args[] = {
    {"--no-bos", NULL, NULL, NULL, "no BOS first (with --jsonl: for lines without \"add_bos\")", 0},
    {0},
};

static const ArgSpec detokenize_args[] = {
    {"--skip-special", NULL, NULL, NULL, "leave out special tokens such as <bos>", 0},
    {0},
};

const CommandSpec tokenize_spec = {
    "tokenize",
    "text (JSON lines) to token ids",
    "(--tokenizer FILE | --model DIR) [--jsonl] [--no-bos]",
    "Encodes text with a Gemma tokenizer. Without --jsonl the whole of stdin is one text and one JSON array "
    "of ids is printed (BOS first unless --no-bos). With --jsonl each line {\"text\": \"...\", \"add_bos\": "
    "true|false} gives one array line, flushed at once. A bad line stops with \"stdin line N: ...\".",
    (const ArgSpec *const[]){tokenizer_args, jsonl_args, tokenize_args, NULL},
    "echo \"Hello world\" | anemll tokenize --model models/anemll-tiny\n"
    "echo '{\"text\": \"Hello\", \"add_bos\": false}' | anemll tokenize --tokenizer models/anemll-tiny/tokenizer.json --jsonl",
};

const CommandSpec detokenize_spec = {
    "detokenize",
    "token ids (JSON arrays) to text",
    "(--tokenizer FILE | --model DIR) [--skip-special]",
    "Decodes token ids: each line of stdin is a JSON array of ids and gives one JSON string line, flushed at "
    "once. A bad line stops with \"stdin line N: ...\".",
    (const ArgSpec *const[]){tokenizer_args, jsonl_args, detokenize_args, NULL},
    "echo '[2,319,1516]' | anemll detokenize --model models/anemll-tiny --skip-special",
};

const CommandSpec template_spec = {
    "template",
    "render Gemma's chat template (JSON lines)",
    "(--tokenizer FILE | --model DIR) [--jsonl]",
    "Renders Gemma 3's chat template: each line of stdin, {\"messages\": [...], \"add_generation_prompt\": "
    "true|false}, gives one line {\"prompt\": \"...\", \"ids\": [...]}, the ids being the prompt encoded "
    "(its \"<bos>\" text is the only BOS). A bad line stops with \"stdin line N: ...\".",
    (const ArgSpec *const[]){tokenizer_args, jsonl_args, NULL},
    "echo '{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": true}' | "
    "anemll template --model models/anemll-tiny",
};

static void read_tokenizer_flags(Args *a, TokenizerFlags *f) {
    f->file = arg_str(a, "--tokenizer", NULL);
    f->model_dir = arg_str(a, "--model", NULL);
}

static anemll_tokenizer *open_tokenizer(const TokenizerFlags *f) {
    if ((f->model_dir && anemll_model_check(f->model_dir)) || check_input(f->file)) return NULL;
    if (f->file && f->model_dir) {
        err_set("give --tokenizer FILE or --model DIR, not both");
        return NULL;
    }
    if (!f->file && !f->model_dir) {
        err_set("--tokenizer FILE (or --model DIR) is required");
        return NULL;
    }
    char *path = f->file ? xstrdup(f->file) : path_join(f->model_dir, "tokenizer.json");
    anemll_tokenizer *t;
    int rc = anemll_tokenizer_load(path, &t);
    free(path);
    return rc ? NULL : t;
}

static void write_ids(const int *ids, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    putchar(']');
}

/* A boolean member, def when absent. */
static int get_bool(const JsonValue *obj, const char *key, int def, int *out) {
    const JsonValue *v = json_get(obj, key);
    if (v && v->type != JSON_BOOL) {
        err_set("\"%s\" must be true or false", key);
        return -1;
    }
    *out = v ? v->boolean : def;
    return 0;
}

/* A line as text and parsed (NULL when fn parses it itself). */
typedef int (*LineFn)(const anemll_tokenizer *t, const char *text, size_t len, const JsonValue *line, void *ctx);

/* Runs fn on each non-blank line of stdin (parsed as JSON unless parse is 0); flushes the output
 * after each. */
static int for_each_line(const anemll_tokenizer *t, int parse, LineFn fn, void *ctx) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long number = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        number++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        JsonValue *v = parse ? json_parse(line, (size_t)len) : NULL;
        if ((parse && !v) || fn(t, line, (size_t)len, v, ctx) != 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", err_get());
            err_set("stdin line %ld: %s", number, why);
            rc = -1;
        }
        json_free(v);
        fflush(stdout);
    }
    free(line);
    if (rc == 0 && ferror(stdout)) {
        err_set("cannot write the output");
        rc = -1;
    }
    return rc;
}

static int tokenize_line(const anemll_tokenizer *t, const char *raw, size_t raw_len, const JsonValue *line, void *ctx) {
    (void)raw;
    (void)raw_len;
    const JsonValue *text = json_get(line, "text");
    int add_bos;
    if (!text || text->type != JSON_STRING) {
        err_set("expected {\"text\": \"...\", \"add_bos\": true|false}");
        return -1;
    }
    if (get_bool(line, "add_bos", *(const int *)ctx, &add_bos) != 0) return -1;
    int *ids, n;
    if (anemll_tokenize(t, text->str, text->len, add_bos, &ids, &n)) return -1;
    write_ids(ids, n);
    putchar('\n');
    anemll_free(ids);
    return 0;
}

/* All of stdin as one text. */
static int tokenize_stdin(const anemll_tokenizer *t, int add_bos) {
    size_t len = 0, cap = 1 << 16;
    char *text = xmalloc(cap);
    for (size_t got; (got = fread(text + len, 1, cap - len, stdin)) > 0;)
        if ((len += got) == cap) text = xrealloc(text, cap *= 2);
    int *ids, n;
    int rc = anemll_tokenize(t, text, len, add_bos, &ids, &n);
    free(text);
    if (rc) return -1;
    write_ids(ids, n);
    putchar('\n');
    anemll_free(ids);
    fflush(stdout);
    if (ferror(stdin) || ferror(stdout)) {
        err_set("cannot read the input or write the output");
        return -1;
    }
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    Args a;
    TokenizerFlags f;
    args_init(&a, &tokenize_spec, argc, argv);
    read_tokenizer_flags(&a, &f);
    int jsonl = arg_flag(&a, "--jsonl");
    int add_bos = !arg_flag(&a, "--no-bos");  /* in --jsonl mode: for lines without "add_bos" */
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    anemll_tokenizer *t = open_tokenizer(&f);
    if (!t) return fail_with_error();
    int rc = jsonl ? for_each_line(t, 1, tokenize_line, &add_bos) : tokenize_stdin(t, add_bos);
    anemll_tokenizer_free(t);
    return rc ? fail_with_error() : 0;
}

static int detokenize_line(const anemll_tokenizer *t, const char *raw, size_t raw_len, const JsonValue *line,
                           void *ctx) {
    (void)raw;
    (void)raw_len;
    if (line->type != JSON_ARRAY) {
        err_set("expected a JSON array of token ids");
        return -1;
    }
    int *ids = xmalloc(((size_t)line->n + 1) * sizeof *ids);
    for (int i = 0; i < line->n; i++) {
        const JsonValue *v = &line->items[i];
        if (v->type != JSON_NUMBER || !(v->number >= -2147483648.0 && v->number <= 2147483647.0) ||
            v->number != (double)(int)v->number) {
            err_set("item %d is not an integer token id", i);
            free(ids);
            return -1;
        }
        ids[i] = (int)v->number;
    }
    size_t len;
    char *text;
    int rc = anemll_detokenize(t, ids, line->n, *(const int *)ctx, &text, &len);
    free(ids);
    if (rc) return -1;
    json_write_string(stdout, text, len);
    putchar('\n');
    anemll_free(text);
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    Args a;
    TokenizerFlags f;
    args_init(&a, &detokenize_spec, argc, argv);
    read_tokenizer_flags(&a, &f);
    int skip_special = arg_flag(&a, "--skip-special");
    arg_flag(&a, "--jsonl");  /* JSON lines is the only format; accepted for symmetry */
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    anemll_tokenizer *t = open_tokenizer(&f);
    if (!t) return fail_with_error();
    int rc = for_each_line(t, 1, detokenize_line, &skip_special);
    anemll_tokenizer_free(t);
    return rc ? fail_with_error() : 0;
}

/* The request goes to the library as it is: anemll_chat_template_json parses it. */
static int template_line(const anemll_tokenizer *t, const char *raw, size_t raw_len, const JsonValue *line, void *ctx) {
    (void)line;
    (void)ctx;
    char *prompt;
    size_t len;
    int *ids, n_ids;
    if (anemll_chat_template_json(raw, raw_len, &prompt, &len)) return -1;
    if (anemll_tokenize(t, prompt, len, 0, &ids, &n_ids)) {
        anemll_free(prompt);
        return -1;
    }
    fputs("{\"prompt\":", stdout);
    json_write_string(stdout, prompt, len);
    fputs(",\"ids\":", stdout);
    write_ids(ids, n_ids);
    fputs("}\n", stdout);
    anemll_free(ids);
    anemll_free(prompt);
    return 0;
}

int cmd_template(int argc, char **argv) {
    Args a;
    TokenizerFlags f;
    args_init(&a, &template_spec, argc, argv);
    read_tokenizer_flags(&a, &f);
    arg_flag(&a, "--jsonl");  /* JSON lines is the only format; accepted as the contract writes it */
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    anemll_tokenizer *t = open_tokenizer(&f);
    if (!t) return fail_with_error();
    int rc = for_each_line(t, 0, template_line, NULL);
    anemll_tokenizer_free(t);
    return rc ? fail_with_error() : 0;
}
