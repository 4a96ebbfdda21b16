/* Quality report: how far a candidate model (a conversion, run as a user runs it) is from the
 * unquantized reference (the Hugging Face checkpoint run in FP32), with ANEMLL's metrics
 * (ANEMLL-NOTES §6) computed exactly, in float64 over the full vocabulary at temperature 1.
 *
 * Metrics of one step, h = reference logits, c = candidate logits, p = softmax(h), q = softmax(c):
 *   KL       = sum_v p_v (ln(p_v + 1e-12) - ln(q_v + 1e-12))      KL(reference || candidate), nats
 *   corr     = mean((h - mean h)(c - mean c)) / (std h * std c)    Pearson, population std. Defined
 *              everywhere: when a vector is constant (std < 1e-12) it is 1 if both are, else 0.
 *   match    = 1 when argmax h == argmax c (first index on ties)
 *   entropy  = -sum_v q_v ln(q_v + 1e-12)                          the candidate's, nats
 *
 * Protocols:
 *  - generate (ANEMLL's): per prompt, the driver (the candidate by default) picks each next token
 *    greedily and both models are teacher-forced on those tokens; the reference runs with its KV
 *    cache (prefill, then one decode per token), the candidate through its real paths (batched
 *    prefill, decode, past the sliding window). Steps 0..S-1 are scored, step 0 being the
 *    prediction after the last prompt token. No EOS stop. A prompt of n tokens in a context of C
 *    positions is scored for at most C - n + 1 steps (the last scored token is never fed).
 *    Per prompt: means over its steps; summary: unweighted means over prompts, min/max over prompts.
 *  - text (llama.cpp's KL tooling): a fixed token sequence, cut into chunks of at most `chunk`
 *    tokens (each later chunk opens with BOS again when the sequence starts with BOS), both models
 *    teacher-forced batch by batch; every position with a next token inside its chunk is scored,
 *    adding each model's negative log-likelihood of that token (perplexity = exp(mean NLL)) and
 *    top-5 agreement = |top5(h) ∩ top5(c)| / 5. Summary: means over all scored positions. */
#ifndef ANEMLL_EVAL_H
#define ANEMLL_EVAL_H

#include <stdio.h>

#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/progress.h"

#define EVAL_EPS 1e-12

/* ---- metrics of one step ---- */
typedef struct {
    double kl, corr, entropy;
    int match;
    int ref_top, cand_top; /* argmax of each */
    /* text protocol (0 otherwise) */
    double nll_ref, nll_cand; /* -ln softmax(.)[next token] */
    double top5;              /* top-5 overlap */
} EvalStep;

/* Logits must be finite. */
void eval_step(const float *ref, const float *cand, int V, EvalStep *out);
/* Pearson correlation as above (population std, defined for constant vectors). */
double eval_pearson(const float *a, const float *b, int n);
/* ln softmax(logits)[id], in float64. */
double eval_log_softmax_at(const float *logits, int V, int id);
/* Indices of the k largest values, largest first (lower index first on ties); k <= n. */
void eval_topk(const float *v, int n, int k, int *out);
/* |top5(a) ∩ top5(b)| / 5 (n >= 5; otherwise over the n entries). */
double eval_top5_overlap(const float *a, const float *b, int n);
/* -1 when every value is finite, else the index of the first that is not. */
int eval_first_nonfinite(const float *v, int n);

/* ---- per prompt (or text chunk) and summary ---- */
typedef struct {
    int prompt_tokens;   /* tokens of the prompt (text protocol: of the chunk) */
    int steps_requested; /* generate protocol */
    int steps;           /* steps scored */
    double kl_mean, kl_max, corr_mean, corr_min, entropy_mean, match_rate;
    int first_divergence; /* first step whose argmaxes differ; -1 = none */
    int *tokens;          /* generate: [steps] the driver's greedy token at each step (all but the
                           * last were fed to both models) */
    /* text protocol */
    double nll_ref, nll_cand; /* mean negative log-likelihood of the next token */
    double top5;              /* mean top-5 overlap */
    double seconds;
} EvalPromptResult;

/* Running sums of one prompt's steps. */
typedef struct {
    int n, n_match, first_div;
    double kl, kl_max, corr, corr_min, entropy, nll_ref, nll_cand, top5;
} EvalAccum;
void eval_accum_init(EvalAccum *a);
void eval_accum_add(EvalAccum *a, const EvalStep *s);
void eval_accum_finish(const EvalAccum *a, EvalPromptResult *r); /* means into r (n = 0: zeros) */

typedef struct {
    int prompts;      /* prompts (text: chunks) */
    int steps;        /* generate: steps requested per prompt; text: positions scored */
    int scored_steps; /* steps scored over all prompts */
    int capped;       /* prompts whose steps were capped by the context */
    double kl_mean, kl_min, kl_max;
    double corr_mean, corr_min, corr_max;
    double match_rate, match_min, match_max; /* fractions in [0, 1] */
    double entropy_mean, entropy_min, entropy_max;
    int text; /* text protocol: the figures below are set */
    double ppl_ref, ppl_cand, top5;
} EvalSummary;
/* weighted = 0: unweighted means over prompts (generate); 1: means over all steps (text).
 * min/max are over prompts (chunks). */
void eval_summarize(const EvalPromptResult *r, int n, int weighted, EvalSummary *s);

/* ---- verdicts: the seed model card's guidelines ---- */
typedef enum { VERDICT_HEALTHY, VERDICT_WATCH, VERDICT_CONCERNING } Verdict;
#define EVAL_KL_HEALTHY 0.3
#define EVAL_KL_CONCERNING 0.5
#define EVAL_CORR_HEALTHY 0.95
#define EVAL_CORR_CONCERNING 0.90
#define EVAL_MATCH_HEALTHY 0.85
#define EVAL_MATCH_CONCERNING 0.75
Verdict verdict_kl(double kl);          /* healthy < 0.3, concerning > 0.5 */
Verdict verdict_corr(double corr);      /* healthy > 0.95, concerning < 0.90 */
Verdict verdict_match(double fraction); /* healthy > 0.85, concerning < 0.75 */
const char *verdict_name(Verdict v);    /* "healthy" | "watch" | "concerning" */
/* "healthy" when all three are, else e.g. "concerning: KL, match; watch: correlation". */
void eval_verdict_note(const EvalSummary *s, char *buf, size_t n);

/* ---- prompts ---- */
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

/* ---- protocols ---- */
typedef struct {
    int steps;            /* generate: steps per prompt */
    int driver_reference; /* the reference picks the tokens instead of the candidate */
    const char *cand_precision; /* the candidate's --precision (runstate_set_precision); NULL = q8 */
    int cand_batch, ref_batch;
    int context;          /* positions: steps capped so that prompt + steps - 1 <= context */
    int chunk;            /* text: tokens per chunk (<= context) */
    Progress progress;    /* stage "scoring": steps (generate) or positions (text, "tokens") over
                           * the whole run, reported after each step or batch */
} EvalOptions;

/* res: [n] results (free each with eval_result_free). */
int eval_generate(const Model *cand, const Model *ref, const EvalPrompt *prompts, int n, const EvalOptions *o,
                  EvalPromptResult *res);
/* *res: new array of *n_chunks results. */
int eval_text(const Model *cand, const Model *ref, const int *ids, int n, const EvalOptions *o,
              EvalPromptResult **res, int *n_chunks);
void eval_result_free(EvalPromptResult *r);

/* ---- output ---- */
/* Configuration name in the seed's words, from a converted model's LUT specs: "FP16 baseline
 * (no LUT)", "FFN LUT4,4 + LM LUT6,4", "FFN LUT4,8 only", ...; an unconverted model gives
 * "unconverted (FP32 of the checkpoint)". */
void eval_config_label(const Model *m, char *buf, size_t n);
void eval_luts_label(LutInfo emb, LutInfo ffn, LutInfo lm, char *buf, size_t n);
void eval_lut_label(LutInfo l, char *buf, size_t n); /* "4,4" or "none" */

typedef struct {
    const char *label;
    const EvalSummary *s;
    const char *extra; /* appended to the notes (may be NULL) */
} EvalRow;
/* The seed-shaped markdown table: Configuration | KL Divergence | Correlation | Match Rate | Notes,
 * then the guidelines. */
void eval_print_table(FILE *f, const EvalRow *rows, int n);

/* JSON pieces (numbers as %.17g; non-finite as null). */
void eval_json_summary(FILE *f, const EvalSummary *s);
void eval_json_prompt(FILE *f, const EvalPrompt *p, const EvalPromptResult *r, int index, int text_protocol);
/* {"dir", "converted", "files", "alpha", "lut_*", "context", "batch", "precision", ...} */
void eval_json_model(FILE *f, const Model *m, const char *precision, int batch);
void eval_json_number(FILE *f, double v);

/* Remove a folder and everything under it (the sweep's temporary conversions). */
void eval_remove_tree(const char *dir);

#endif
