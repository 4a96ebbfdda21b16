/* Prompt sets of the quality report: JSON lines files, and fixed pseudo-random ids for models
 * without a tokenizer. */
#ifndef ANEMLL_EVAL_PROMPTS_H
#define ANEMLL_EVAL_PROMPTS_H

#include <stddef.h>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    int *ids;
    int n;
    char *text; /* the prompt's text (NULL for ids prompts), text_len bytes (may hold NUL) */
    size_t text_len;
    int line;   /* line in the prompts file; 0 for generated prompts */
} EvalPrompt;

/* JSON lines, each {"text": "..."} (also "prompt" or "input"; optional "system"), rendered with
 * Gemma's chat template and tokenized (needs tok), or {"ids": [...]} used as given. Blank lines
 * are skipped. Errors name the file and the line: malformed JSON, a text prompt without a
 * tokenizer, ids outside 0..vocab-1, an empty prompt, a file with no prompts. */
int eval_prompts_read(const char *path, const Tokenizer *tok, int vocab, EvalPrompt **out, int *n);
/* Built-in prompts for models without a tokenizer: fixed pseudo-random ids (BOS first) of
 * lengths 4, 12, 40, SW + 7 and 2 SW + 3 (SW = the sliding window; the last two are longer than
 * it), each clipped to max_len. desc gets the set in words, with the lengths used and where
 * they were clipped ("5 prompts, BOS first, lengths 4, 12, 31 (clipped from 40), ..."). */
EvalPrompt *eval_prompts_random(const ModelConfig *c, int max_len, int *n, char *desc, size_t desc_n);
void eval_prompts_free(EvalPrompt *p, int n);

#endif
