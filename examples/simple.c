/* The smallest program on anemll.h: load a model, template a prompt, stream a greedy reply.
 * usage: simple --model DIR --prompt TEXT [-n N]
 * Prints what `anemll generate --model DIR --prompt TEXT -n N` prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemll.h"

static int print_piece(void *ctx, int id, const char *text, size_t len) {
    (void)ctx;
    (void)id;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0; /* non-zero would stop the reply */
}

int main(int argc, char **argv) {
    const char *dir = NULL, *prompt = NULL;
    int n_new = 32;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--prompt")) prompt = argv[i + 1];
        else if (!strcmp(argv[i], "-n")) n_new = atoi(argv[i + 1]);
    }
    if (!dir || !prompt || n_new < 0) {
        fprintf(stderr, "usage: %s --model DIR --prompt TEXT [-n N]\n", argv[0]);
        return 2;
    }

    anemll_model *model = NULL;
    anemll_tokenizer *tok = NULL;
    anemll_session *session = NULL;
    int *ids = NULL, n = 0, rc = 1;
    if (anemll_model_load(dir, &model) || anemll_tokenizer_for_model(model, NULL, &tok) ||
        anemll_session_new(model, NULL, &session) || anemll_chat_prompt_ids(tok, NULL, prompt, &ids, &n))
        goto out;

    anemll_generate_options opts;
    anemll_generate_default_options(&opts); /* greedy, stops at EOS and <end_of_turn> */
    opts.max_tokens = n_new;
    opts.on_token = print_piece;
    if (anemll_generate(session, tok, ids, n, &opts, NULL) == 0) {
        printf("\n");
        rc = 0;
    }
out:
    if (rc) fprintf(stderr, "simple: error: %s\n", anemll_last_error());
    anemll_free(ids);
    anemll_session_free(session);
    anemll_tokenizer_free(tok);
    anemll_model_free(model);
    return rc;
}
