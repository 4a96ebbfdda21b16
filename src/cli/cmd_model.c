/* `logits` and `generate`: the engine's numerical contract on token ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "util/util.h"

/* "2 105 17" or "2,105,17" -> ids. An empty list is an error. */
static int parse_tokens(const char *s, int **out, int *n) {
    int k;
    int *ids = parse_ids(s, " ,\t\n", "--tokens", &k);
    if (!ids) return -1;
    if (k == 0) {
        err_set("--tokens: empty token list");
        free(ids);
        return -1;
    }
    *out = ids;
    *n = k;
    return 0;
}

typedef struct {
    AtomicFile *f;
    int vocab;
} LogitsWriter;

static int write_rows(void *ctx, const float *logits, int first, int n_rows) {
    (void)first;
    LogitsWriter *w = ctx;
    fault_point("logits_write");
    return atomic_write(w->f, logits, sizeof(float) * (size_t)n_rows * (size_t)w->vocab);
}

/* Flags shared by logits and generate: the model, its context and batch. */
typedef struct {
    const char *model_dir;
    const char *tokens;
    long context;
    long batch;
    const char *prompt;      /* text instead of --tokens (generate) */
    const char *system;
    const char *tokenizer;
    int raw;                 /* --no-template */
    const char *precision;   /* q8 (default) | fp32 | fp16, parsed by precision_flag */
    const char *on_overflow; /* stop (default) | continue */
} RunFlags;

static const ArgSpec run_args[] = {
    {"--tokens", NULL, "IDS", NULL, "the token ids, separated by spaces or commas (\"2 105 17\")", 0},
    {"--prompt", NULL, "TEXT", NULL, "text instead of --tokens, chat-templated unless --no-template", 0},
    {"--system", NULL, "TEXT", NULL, "a system prompt before --prompt", 0},
    {"--no-template", NULL, NULL, NULL, "tokenize --prompt as it is (with BOS), no chat template", 0},
    {"--tokenizer", NULL, "FILE", "tokenizer.json in the model folder", "the tokenizer for --prompt", 0},
    {"--on-overflow", NULL, "stop|continue", "stop",
     "with --precision fp16: stop at the first FP16 overflow, or report it and go on", 0},
    {0},
};

static void read_run_flags(Args *a, RunFlags *f) {
    f->model_dir = arg_str(a, "--model", NULL);
    f->tokens = arg_str(a, "--tokens", NULL);
    f->context = arg_int(a, "--context", 0, 1, 1 << 24);
    f->batch = arg_int(a, "--batch", 64, 1, 1 << 16);
    f->prompt = arg_str(a, "--prompt", NULL);
    f->system = arg_str(a, "--system", NULL);
    f->tokenizer = arg_str(a, "--tokenizer", NULL);
    f->raw = arg_flag(a, "--no-template");
    f->precision = arg_str(a, "--precision", "q8");
    f->on_overflow = arg_str(a, "--on-overflow", "stop");
}

/* The model folder (the default one when not given) and the tokenizer file exist. */
static int check_run_inputs(RunFlags *f) {
    return model_arg(f->model_dir, &f->model_dir) || check_input(f->tokenizer) ? -1 : 0;
}

/* What logits and generate run on. */
typedef struct {
    anemll_model *m;
    anemll_model_info info;
    anemll_tokenizer *tok; /* with --prompt, else NULL */
    anemll_session *s;
    int *tokens;
    int n;
} Run;

static void close_run(Run *r) {
    const char *where = r->s ? anemll_session_overflow(r->s) : NULL;
    if (where) fprintf(stderr, "anemll: warning: FP16 overflow (non-finite value) at %s\n", where);
    anemll_session_free(r->s);
    anemll_tokenizer_free(r->tok);
    anemll_model_free(r->m);
    anemll_free(r->tokens);
    memset(r, 0, sizeof *r);
}

/* After check_run_inputs: load the model, get the tokens (--tokens, or --prompt through the
 * tokenizer), make the session with room for n_new generated tokens. */
static int open_run(RunFlags *f, Run *r, long n_new) {
    memset(r, 0, sizeof *r);
    anemll_session_options so;
    anemll_session_default_options(&so);
    if (precision_flag(f->precision, &so.precision)) return -1;
    if (strcmp(f->on_overflow, "stop") && strcmp(f->on_overflow, "continue")) {
        err_set("--on-overflow '%s': expected stop or continue", f->on_overflow);
        return -1;
    }
    if (!f->tokens == !f->prompt) {
        err_set(f->tokens ? "give --tokens or --prompt, not both" : "--tokens (or --prompt) is required");
        return -1;
    }
    if (anemll_model_load(f->model_dir, &r->m)) return -1;
    anemll_model_get_info(r->m, &r->info);
    if (f->tokens) {
        if (parse_tokens(f->tokens, &r->tokens, &r->n)) goto fail;
    } else {
        if (anemll_tokenizer_for_model(r->m, f->tokenizer, &r->tok)) goto fail;
        int rc = f->raw ? anemll_tokenize(r->tok, f->prompt, strlen(f->prompt), 1, &r->tokens, &r->n)
                        : anemll_chat_prompt_ids(r->tok, f->system, f->prompt, &r->tokens, &r->n);
        if (rc) goto fail;
        if (r->n == 0) {
            err_set("--prompt: empty prompt");
            goto fail;
        }
    }
    so.context = f->context ? (int)f->context : r->info.default_context;
    so.batch = (int)f->batch;
    so.overflow_continue = !strcmp(f->on_overflow, "continue");
    if (anemll_session_new(r->m, &so, &r->s) || anemll_model_check_tokens(r->m, r->tokens, r->n, so.context))
        goto fail;
    /* the last new token is never fed back, so n + n_new - 1 positions are needed */
    long positions = r->n + (n_new > 0 ? n_new - 1 : 0);
    if (positions > so.context) {
        err_set("%d prompt tokens + %ld new tokens do not fit the context of %d (they need %ld positions: the last "
                "new token takes none)", r->n, n_new, so.context, positions);
        goto fail;
    }
    return 0;
fail:
    close_run(r);
    return -1;
}

static const ArgSpec logits_args[] = {
    {"--out", NULL, "FILE", NULL, "where to write the logits (required)", 0},
    {0},
};

const CommandSpec logits_spec = {
    "logits",
    "write the logits of every position of a token sequence",
    "--tokens IDS --out FILE [options]",
    "Runs a token sequence (or a prompt) through the model and writes the logits of every position to FILE "
    "as little-endian float32, [n_tokens, vocab] row-major: the engine's numerical contract, compared "
    "against Hugging Face transformers by the tests. The file appears only when complete.",
    (const ArgSpec *const[]){model_args, run_args, context_args, precision_args, logits_args, NULL},
    "anemll logits --tokens \"2 105 2364\" --out /tmp/logits.f32\n"
    "anemll logits --model models/anemll-tiny --prompt \"What is a kluge?\" --out /tmp/l.f32 --precision fp32",
};

int cmd_logits(int argc, char **argv) {
    Args a;
    args_init(&a, &logits_spec, argc, argv);
    RunFlags f;
    read_run_flags(&a, &f);
    const char *out = arg_str(&a, "--out", NULL);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (check_run_inputs(&f)) return fail_with_error();
    if (!out) {
        err_set("--out FILE is required");
        return fail_with_error();
    }
    const char *inputs[] = {f.model_dir, f.tokenizer};
    if (check_output_apart("--out", out, inputs, 2)) return fail_with_error();
    Run r;
    if (open_run(&f, &r, 0)) return fail_with_error();
    AtomicFile file;
    int rc = atomic_open(&file, out);
    if (rc == 0) {
        remove_on_signal(file.tmp); /* Ctrl-C leaves no OUT.tmp.PID behind */
        LogitsWriter w = {&file, r.info.vocab_size};
        rc = anemll_session_logits_all(r.s, r.tokens, r.n, write_rows, &w);
        if (rc == 0)
            rc = atomic_commit(&file);
        else
            atomic_abort(&file);
        remove_on_signal(NULL);
    }
    close_run(&r);
    return rc ? fail_with_error() : 0;
}

typedef struct {
    int count;
} IdPrinter;

static int print_id(void *ctx, int id, const char *text, size_t len) {
    (void)text;
    (void)len;
    IdPrinter *p = ctx;
    if (id < 0) return 0; /* the end of the text, none here */
    printf("%s%d", p->count++ ? " " : "", id);
    fflush(stdout);
    return 0;
}

static const ArgSpec generate_args[] = {
    {"-n", NULL, "N", "32", "tokens to generate at most", 0},
    {"--ignore-eos", NULL, NULL, NULL, "go on past EOS and <end_of_turn>", 0},
    {"--ids", NULL, NULL, NULL, "print token ids, also for --prompt (which prints text otherwise)", 0},
    {0},
};

const CommandSpec generate_spec = {
    "generate",
    "continue a token sequence or prompt",
    "(--tokens IDS | --prompt TEXT) [-n N] [options]",
    "Continues a token sequence (--tokens; prints the new ids) or a prompt (--prompt, chat-templated unless "
    "--no-template; prints text) by up to N tokens, greedy unless --temp is above 0, stopping at EOS or "
    "<end_of_turn> unless --ignore-eos.",
    (const ArgSpec *const[]){model_args, run_args, context_args, precision_args, generate_args, sampling_args, NULL},
    "anemll generate --prompt \"What is a kluge?\" -n 64\n"
    "anemll generate --tokens \"2 105 2364\" -n 20 --ids --temp 0.8 --top-p 0.95 --seed 7",
};

int cmd_generate(int argc, char **argv) {
    Args a;
    args_init(&a, &generate_spec, argc, argv);
    RunFlags f;
    read_run_flags(&a, &f);
    long n_new = arg_int(&a, "-n", 32, 0, 1 << 24);
    SamplingFlags sf;
    read_sampling_flags(&a, &sf);
    int ignore_eos = arg_flag(&a, "--ignore-eos");
    int print_ids = arg_flag(&a, "--ids");
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    Run r;
    if (check_run_inputs(&f) || open_run(&f, &r, n_new)) return fail_with_error();
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    o.max_tokens = (int)n_new;
    o.ignore_eos = ignore_eos;
    /* text out when a prompt was given (unless --ids); ids for --tokens */
    IdPrinter ip = {0};
    o.on_token = r.tok && !print_ids ? stream_text : print_id;
    o.ctx = &ip;
    anemll_generate_result res;
    int rc = sampler_from_flags(r.info.vocab_size, &sf, &o.sampler);
    if (rc == 0) rc = anemll_generate(r.s, r.tok, r.tokens, r.n, &o, &res);
    /* as ids, the stop token that ended the reply is shown too */
    if (rc == 0 && o.on_token == print_id && res.stop == ANEMLL_STOP_TOKEN) print_id(&ip, res.stop_id, NULL, 0);
    printf("\n");
    anemll_sampler_free(o.sampler);
    close_run(&r);
    return rc ? fail_with_error() : 0;
}
