/* `chat`: talk to a model in Gemma's chat format, streaming the reply.
 * One reply per prompt (as ANEMLL's chat.py) or, with --history, the whole conversation (as
 * chat_full.py) with the KV cache reused across turns and the oldest turns dropped when the
 * context fills. Ctrl-C stops a reply, Ctrl-D (end of input) exits. */
#include <editline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"

/* One reply to `user`, streamed, with its markers and figures. */
static int reply(anemll_chat *chat, const char *user, const anemll_generate_options *o, int quiet) {
    stop_request_clear();
    anemll_generate_result r;
    if (anemll_chat_reply(chat, user, o, &r)) return -1;
    if (r.stop == ANEMLL_STOP_CANCELLED) fputs(" [interrupted]", stdout);
    if (r.stop == ANEMLL_STOP_CONTEXT_FULL) fputs(" [context full]", stdout);
    fputc('\n', stdout);
    fflush(stdout);
    if (!quiet)
        fprintf(stderr, "[prefill %d tokens (%d cached), %.1f tok/s | decode %d tokens, %.1f tok/s]\n", r.prefilled,
                r.reused, r.prefill_seconds > 0 ? r.prefilled / r.prefill_seconds : 0.0, r.generated,
                r.decode_seconds > 0 ? r.generated / r.decode_seconds : 0.0);
    return 0;
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
    anemll_chat_options co = {0};
    co.system = arg_str(&a, "--system", NULL);
    anemll_generate_options go;
    anemll_generate_default_options(&go);
    go.max_tokens = (int)arg_int(&a, "--max-tokens", 512, 1, 1 << 24);
    co.keep_history = arg_flag(&a, "--history");
    co.raw = arg_flag(&a, "--no-template");
    int quiet = arg_flag(&a, "--quiet");
    anemll_session_options so;
    anemll_session_default_options(&so);
    so.context = (int)arg_int(&a, "--context", 0, 1, 1 << 24);
    so.batch = (int)arg_int(&a, "--batch", 64, 1, 1 << 16);
    SamplingFlags sf;
    read_sampling_flags(&a, &sf);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (model_arg(dir, &dir) || check_input(tok_path)) return fail_with_error();
    anemll_model *m = NULL;
    anemll_tokenizer *tok = NULL;
    anemll_session *s = NULL;
    anemll_sampler *smp = NULL;
    anemll_chat *chat = NULL;
    anemll_model_info info;
    int rc = 1;
    if (anemll_model_load(dir, &m)) goto fail;
    anemll_model_get_info(m, &info);
    if (anemll_tokenizer_for_model(m, tok_path, &tok) || anemll_session_new(m, &so, &s) ||
        sampler_from_flags(info.vocab_size, &sf, &smp) || anemll_chat_new(s, tok, &co, &chat))
        goto fail;
    go.sampler = smp;
    go.on_token = stream_text;
    stop_signals_catch(0); /* Ctrl-C stops a reply, at its next token */
    if (prompt) {
        if (reply(chat, prompt, &go, quiet)) goto fail;
    } else {
        int tty = isatty(0);
        if (tty)
            fprintf(stderr, "anemll chat: %s. Ctrl-C stops a reply, Ctrl-D exits.%s\n", info.dir,
                    co.keep_history ? " The conversation is kept." : "");
        char *line;
        while ((line = read_line(tty))) {
            if (*line) {
                if (tty) add_history(line);
                if (reply(chat, line, &go, quiet)) fprintf(stderr, "anemll: error: %s\n", anemll_last_error());
            }
            free(line);
        }
        if (tty) fputc('\n', stderr);
    }
    rc = 0;
fail:
    if (rc) fail_with_error();
    anemll_chat_free(chat);
    anemll_sampler_free(smp);
    anemll_session_free(s);
    anemll_tokenizer_free(tok);
    anemll_model_free(m);
    return rc;
}
