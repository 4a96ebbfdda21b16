/* The calibration sequence for FP16 scaling: what the residual peak is measured on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "tokenizer/tokenizer.h"
#include "util/util.h"

/* Built-in calibration prompts, chat-templated, each its own sequence: ANEMLL's own prompt first,
 * then varied tasks (explanation, code, arithmetic, narrative, lists, other scripts), since peaks
 * depend on content. */
static const char *const builtin_prompts[] = {
    "Explain quantum computing in simple terms.",
    "Write a Python function that returns the n-th Fibonacci number using memoization, and explain how "
    "it works line by line.",
    "What is 17 multiplied by 23? Show your working step by step, then check the result by division.",
    "Tell me a short story about a lighthouse keeper who finds a message in a bottle during a winter storm.",
    "List ten countries in Europe with their capitals and one famous landmark each, as a table.",
    "Translate into French, German and Japanese: 'The library opens at nine in the morning and closes at "
    "six in the evening.'",
    "Summarize the causes and consequences of the industrial revolution in three paragraphs.",
    "¿Cuál es la diferencia entre un virus y una bacteria? Responde brevemente.",
};

/* Append ids to a growing array. */
static void append(int **ids, int *n, const int *add, int k) {
    *ids = xrealloc(*ids, sizeof(int) * (size_t)(*n + k + 1));
    memcpy(*ids + *n, add, sizeof(int) * (size_t)k);
    *n += k;
}

int *read_ids_file(const char *path, int *n) {
    char *text = read_user_text(path, 64u << 20, NULL);
    if (!text) return NULL;
    int *ids = parse_ids(text, " \t\r\n,[]", path, n);
    free(text);
    if (ids && !*n) {
        err_set("%s: no token ids", path);
        free(ids);
        return NULL;
    }
    return ids;
}

int *calibration_ids(const char *model_dir, const char *text_file, const char *ids_file, int *n, char *desc,
                     size_t desc_n) {
    if (ids_file) {
        int *ids = read_ids_file(ids_file, n);
        if (ids) snprintf(desc, desc_n, "token ids from %s (%d tokens)", ids_file, *n);
        return ids;
    }
    int *ids = NULL;
    *n = 0;
    Tokenizer *t;
    if (tok_load_beside(model_dir, &t)) return NULL;
    if (t) {
        for (size_t i = 0; i < sizeof builtin_prompts / sizeof builtin_prompts[0]; i++) {
            int *seg, k;
            if (chat_encode_prompt(t, NULL, builtin_prompts[i], 0, &seg, &k)) break;
            append(&ids, n, seg, k);
            free(seg);
        }
        int n_builtin = *n;
        if (text_file) {
            size_t len;
            char *text = read_user_text(text_file, 64u << 20, &len);
            int *seg, k;
            if (!text || tok_encode(t, text, len, 1, &seg, &k)) {
                free(text);
                free(ids);
                tok_free(t);
                return NULL;
            }
            append(&ids, n, seg, k);
            free(seg);
            free(text);
        }
        tok_free(t);
        snprintf(desc, desc_n, "built-in calibration text (%d tokens)%s%s%s", n_builtin, text_file ? " + " : "",
                 text_file ? text_file : "", text_file ? "" : "");
        return ids;
    }
    if (text_file) {
        err_set("--calib %s: the model folder has no tokenizer.json to encode it with (use --calib-ids)", text_file);
        return NULL;
    }
    ModelConfig c;
    if (config_load_dir(&c, model_dir)) return NULL;
    *n = calibration_token_count(&c);
    int seq = c.max_position_embeddings < 512 ? c.max_position_embeddings : 512;
    ids = calibration_ids_random(&c, *n, seq);
    config_free(&c);
    snprintf(desc, desc_n, "fixed pseudo-random token ids (%d tokens)", *n);
    return ids;
}
