/* `chat`: talk to a model in Gemma's chat format, streaming the reply.
 * One reply per prompt (as ANEMLL's chat.py) or, with --history, the whole conversation (as
 * chat_full.py) with the KV cache reused across turns and the oldest turns dropped when the
 * context fills. Ctrl-C stops a reply, Ctrl-D (end of input) exits. */
#include <editline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "model/sampler.h"
#include "model/session.h"
#include "util/util.h"

typedef struct {
    char *role; /* "user" | "assistant" */
    char *text;
    int *ids;   /* assistant: the tokens the model generated, reused verbatim in later prompts */
    int n_ids;
} Turn;

typedef struct {
    Model m;
    Tokenizer *tok;
    Session ss;
    Sampler smp;
    int stop[16], n_stop;
    int max_tokens, quiet, history, raw;
    const char *system;
    Turn *turns; /* earlier turns, user/assistant alternating (--history) */
    int n_turns;
} Chat;

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static void ids_append(int **ids, int *n, const int *add, int k) {
    *ids = xrealloc(*ids, sizeof(int) * (size_t)(*n + k + 1));
    memcpy(*ids + *n, add, sizeof(int) * (size_t)k);
    *n += k;
}

static int encode_append(const Tokenizer *t, const char *text, size_t len, int **ids, int *n) {
    int *seg, k;
    if (tok_encode(t, text, len, 0, &seg, &k)) return -1;
    ids_append(ids, n, seg, k);
    free(seg);
    return 0;
}

/* The prompt ids for `user` after the kept turns, then the ids of a reply under way.
 * Templated text is tokenized, except each earlier reply, whose generated ids are spliced in
 * as they were: the cache then still holds them and the next turn only prefills what is new.
 * Splicing is exact because every cut lies next to an added token (<end_of_turn>, "\n"),
 * where tokenization restarts anyway. */
static int build_prompt(Chat *c, const char *user, const int *partial, int n_partial, int **ids, int *n) {
    *ids = NULL;
    *n = 0;
    if (c->raw) {
        if (tok_encode(c->tok, user, strlen(user), 1, ids, n)) return -1;
        ids_append(ids, n, partial, n_partial);
        return 0;
    }
    int nm = 0;
    ChatMessage *msgs = xcalloc((size_t)c->n_turns + 2, sizeof *msgs);
    if (c->system) msgs[nm++] = (ChatMessage){.role = "system", .text = c->system, .len = strlen(c->system)};
    int first_turn = nm;
    for (int i = 0; i < c->n_turns; i++)
        msgs[nm++] = (ChatMessage){.role = c->turns[i].role, .text = c->turns[i].text, .len = strlen(c->turns[i].text)};
    msgs[nm++] = (ChatMessage){.role = "user", .text = user, .len = strlen(user)};
    size_t full_len, done = 0;
    char *full = chat_render(msgs, nm, 1, &full_len);
    int rc = full ? 0 : -1;
    for (int i = 0; rc == 0 && i < c->n_turns; i++) {
        if (!c->turns[i].ids) continue;
        int m = first_turn + i; /* the assistant message */
        size_t before, through;
        char *p = chat_render(msgs, m, 1, &before);   /* ... "<start_of_turn>model\n" */
        char *q = p ? chat_render(msgs, m + 1, 0, &through) : NULL; /* ... reply "<end_of_turn>\n" */
        if (!q) {
            free(p);
            rc = -1;
            break;
        }
        rc = encode_append(c->tok, full + done, before - done, ids, n);
        ids_append(ids, n, c->turns[i].ids, c->turns[i].n_ids);
        done = through - strlen("<end_of_turn>\n");
        free(p);
        free(q);
    }
    if (rc == 0) rc = encode_append(c->tok, full + done, full_len - done, ids, n);
    if (rc == 0) ids_append(ids, n, partial, n_partial);
    free(full);
    free(msgs);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

/* Forget the oldest user/assistant pair; 0 when there was none. */
static int drop_oldest_turns(Chat *c) {
    if (c->n_turns < 2) return 0;
    for (int i = 0; i < 2; i++) {
        free(c->turns[i].role);
        free(c->turns[i].text);
        free(c->turns[i].ids);
    }
    memmove(c->turns, c->turns + 2, sizeof(Turn) * (size_t)(c->n_turns - 2));
    c->n_turns -= 2;
    return 1;
}

static void add_turn(Chat *c, const char *role, const char *text, const int *ids, int n_ids) {
    c->turns = xrealloc(c->turns, sizeof(Turn) * (size_t)(c->n_turns + 1));
    Turn *t = &c->turns[c->n_turns++];
    t->role = xstrdup(role);
    t->text = xstrdup(text);
    t->ids = NULL;
    t->n_ids = n_ids;
    if (ids) {
        t->ids = xmalloc(sizeof(int) * (size_t)(n_ids + 1));
        memcpy(t->ids, ids, sizeof(int) * (size_t)n_ids);
    }
}

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static int is_stop(const Chat *c, int id) {
    for (int i = 0; i < c->n_stop; i++)
        if (c->stop[i] == id) return 1;
    return 0;
}

/* Generate and stream one reply to `user`. Returns 0 (also when interrupted), -1 on error. */
static int reply(Chat *c, const char *user) {
    int context = c->ss.s.context;
    int reserve = c->max_tokens < context / 2 ? c->max_tokens : context / 2;
    Buf out = {0};
    buf_add(&out, "", 0);
    int *gen = xmalloc(sizeof(int) * (size_t)(c->max_tokens + 1)); /* this reply's ids */
    TokStream *ts = tok_stream_new(c->tok, 1);
    int generated = 0, prefill_tokens = 0, reused = 0, rc = 0, done = 0;
    double prefill_s = 0, decode_s = 0;
    interrupted = 0;
    while (!done) {
        /* fit the prompt: drop the oldest turns while it leaves too little room to answer */
        int *ids = NULL, n = 0;
        for (;;) {
            free(ids);
            if (build_prompt(c, user, gen, generated, &ids, &n)) {
                rc = -1;
                goto out;
            }
            if (n + (generated ? 1 : reserve) <= context || !(c->history && drop_oldest_turns(c))) break;
        }
        if (n >= context) {
            free(ids);
            if (generated) { /* a reply that fills the whole context ends here */
                fputs(" [context full]", stdout);
                break;
            }
            err_set("the prompt (%d tokens) does not fit the context of %d tokens", n, context);
            rc = -1;
            goto out;
        }
        rc = session_set(&c->ss, ids, n);
        free(ids);
        if (rc) goto out;
        prefill_tokens += c->ss.prefilled;
        reused += n - c->ss.prefilled;
        prefill_s += c->ss.prefill_seconds;
        double t0 = now_seconds();
        for (;;) {
            if (interrupted) {
                fputs(" [interrupted]", stdout);
                done = 1;
                break;
            }
            if (generated >= c->max_tokens) {
                done = 1;
                break;
            }
            int next = sampler_sample(&c->smp, c->ss.logits);
            if (is_stop(c, next)) {
                done = 1;
                break;
            }
            size_t len;
            const char *piece = tok_stream_put(ts, next, &len);
            if (!piece) {
                rc = -1;
                done = 1;
                break;
            }
            fwrite(piece, 1, len, stdout);
            fflush(stdout);
            buf_add(&out, piece, len);
            gen[generated++] = next;
            /* context full mid-reply: re-fit (dropping turns) and go on with the reply's ids */
            if (c->ss.s.pos >= context) break;
            if (session_push(&c->ss, next)) {
                rc = -1;
                done = 1;
                break;
            }
        }
        decode_s += now_seconds() - t0;
    }
    size_t len;
    const char *rest = tok_stream_flush(ts, &len);
    fwrite(rest, 1, len, stdout);
    buf_add(&out, rest, len);
    fputc('\n', stdout);
    fflush(stdout);
    if (!c->quiet)
        fprintf(stderr, "[prefill %d tokens (%d cached), %.1f tok/s | decode %d tokens, %.1f tok/s]\n",
                prefill_tokens, reused, prefill_s > 0 ? prefill_tokens / prefill_s : 0.0, generated,
                decode_s > 0 ? generated / decode_s : 0.0);
    if (rc == 0 && c->history && !c->raw) {
        add_turn(c, "user", user, NULL, 0);
        add_turn(c, "assistant", out.p, gen, generated);
    }
out:
    tok_stream_free(ts);
    free(out.p);
    free(gen);
    return rc;
}

/* One line of input: readline (editing, history) on a terminal, plain reads otherwise. */
static char *read_line(int tty) {
    if (tty) return readline("> ");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
    return line;
}

static const ArgSpec chat_args[] = {
    {"--prompt", NULL, "TEXT", NULL, "answer this one prompt and exit (else prompts are read from stdin)", 0},
    {"--system", NULL, "TEXT", NULL, "a system prompt", 0},
    {"--history", NULL, NULL, NULL,
     "keep the conversation: the KV cache is reused across turns and the oldest turns are dropped when the "
     "context fills", 0},
    {"--max-tokens", NULL, "N", "512", "tokens per reply at most", 0},
    {"--no-template", NULL, NULL, NULL, "send each prompt as it is (with BOS), no chat template", 0},
    {"--quiet", NULL, NULL, NULL, "no prefill/decode speed line after each reply", 0},
    {"--tokenizer", NULL, "FILE", "tokenizer.json in the model folder", "the tokenizer", 0},
    {0},
};

const CommandSpec chat_spec = {
    "chat",
    "talk to a model (Gemma chat format, streaming)",
    "[--model DIR] [--prompt TEXT] [options]",
    "Talks to a model in Gemma's chat format, streaming each reply as it is generated: one reply per prompt "
    "(as ANEMLL's chat.py), or with --history the whole conversation (as chat_full.py). Reads prompts from "
    "stdin, with line editing on a terminal; Ctrl-C stops a reply, Ctrl-D exits. Sampling is greedy unless "
    "--temp is above 0.",
    (const ArgSpec *const[]){model_args, chat_args, context_args, sampling_args, NULL},
    "anemll chat\n"
    "anemll chat --prompt \"What is a kluge?\" --quiet\n"
    "anemll chat --model /tmp/gemma3-1b-lut --history --system \"Be brief.\" --temp 0.7 --top-p 0.9",
};

int cmd_chat(int argc, char **argv) {
    Args a;
    args_init(&a, &chat_spec, argc, argv);
    const char *dir = arg_str(&a, "--model", NULL);
    const char *tok_path = arg_str(&a, "--tokenizer", NULL);
    const char *prompt = arg_str(&a, "--prompt", NULL);
    Chat c;
    memset(&c, 0, sizeof c);
    c.system = arg_str(&a, "--system", NULL);
    c.max_tokens = (int)arg_int(&a, "--max-tokens", 512, 1, 1 << 24);
    c.history = arg_flag(&a, "--history");
    c.raw = arg_flag(&a, "--no-template");
    c.quiet = arg_flag(&a, "--quiet");
    long context = arg_int(&a, "--context", 0, 1, 1 << 24);
    long batch = arg_int(&a, "--batch", 64, 1, 1 << 16);
    SamplingFlags sf;
    read_sampling_flags(&a, &sf);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (!dir && !(dir = default_model_dir())) return fail_with_error();
    if (model_check_path(dir) || check_input(tok_path)) return fail_with_error();
    if (model_load(&c.m, dir)) return fail_with_error();
    int rc = 1;
    if (!(c.tok = load_model_tokenizer(&c.m, tok_path))) {
        fail_with_error();
        goto out_model;
    }
    if (tok_vocab_size(c.tok) > c.m.cfg.vocab_size + 64 || tok_vocab_size(c.tok) < 3) {
        err_set("tokenizer has %d tokens but the model's vocabulary is %d", tok_vocab_size(c.tok), c.m.cfg.vocab_size);
        fail_with_error();
        goto out_tok;
    }
    if (session_init(&c.ss, &c.m, context ? (int)context : model_default_context(&c.m), (int)batch)) {
        fail_with_error();
        goto out_tok;
    }
    sampler_from_flags(&c.smp, c.m.cfg.vocab_size, &sf);
    c.n_stop = reply_stop_ids(&c.m, c.tok, c.stop, 16);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a reply notices at its next token */
    sigaction(SIGINT, &sa, NULL);
    if (prompt) {
        rc = reply(&c, prompt) ? 1 : 0;
        if (rc) fail_with_error();
    } else {
        int tty = isatty(0);
        if (tty)
            fprintf(stderr, "anemll chat: %s. Ctrl-C stops a reply, Ctrl-D exits.%s\n", c.m.dir,
                    c.history ? " The conversation is kept." : "");
        char *line;
        while ((line = read_line(tty))) {
            if (*line) {
                if (tty) add_history(line);
                if (reply(&c, line)) fprintf(stderr, "anemll: error: %s\n", err_get());
            }
            free(line);
        }
        if (tty) fputc('\n', stderr);
        rc = 0;
    }
    while (drop_oldest_turns(&c)) {
    }
    free(c.turns);
    sampler_free(&c.smp);
    session_free(&c.ss);
out_tok:
    tok_free(c.tok);
out_model:
    model_free(&c.m);
    return rc;
}
