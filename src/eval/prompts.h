/* What the quality report scores: prompts (generate protocol) from a JSON lines file, the
 * built-in set or fixed pseudo-random ids for models without a tokenizer; or one token sequence
 * (text protocol) from a text or a file of ids. */
#ifndef ANEMLL_EVAL_PROMPTS_H
#define ANEMLL_EVAL_PROMPTS_H

#include <stddef.h>

#include "eval/eval.h"
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

typedef struct {
    int text;           /* text protocol */
    EvalPrompt *prompts;
    int n_prompts;
    int *ids;           /* text protocol */
    int n_ids;
    const char *kind;   /* "file" | "builtin" | "random" | "text" | "text-ids" */
    char source[1024];  /* where the prompts came from, in words */
    int chat_template;  /* text prompts were chat-templated */
} EvalInputs;

/* What plan p scores, for a model of config cfg: its prompts file, text or ids file; else the
 * built-in prompt set when a tokenizer is found (plan's, then the candidate's, then the
 * reference's tokenizer.json); else pseudo-random prompts of at most context - 1 tokens. Keeps
 * the first max_prompts prompts. Ids outside the vocabulary are an error. */
int eval_inputs_load(const EvalPlan *p, const ModelConfig *cfg, int context, EvalInputs *in);
void eval_inputs_free(EvalInputs *in);
/* The prompts of in to score in a context: all, except that the built-in set drops those longer
 * than the context (counted in *skipped). A new array (free() it) of *n copies of in's prompts,
 * sharing their ids; NULL and err_set when none fits. */
EvalPrompt *eval_inputs_fitting(const EvalInputs *in, int context, int *n, int *skipped);
/* Tokens per chunk of the text protocol: the chunk asked for (0: the context), never more than
 * the context. */
int eval_text_chunk(int requested, int context);

#endif
