/* How the candidate and the reference run for the quality report.
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
#ifndef ANEMLL_EVAL_PROTOCOL_H
#define ANEMLL_EVAL_PROTOCOL_H

#include "eval/eval.h"
#include "eval/metrics.h"
#include "eval/prompts.h"
#include "model/model.h"
#include "util/progress.h"

typedef struct {
    int steps;            /* generate: steps per prompt */
    int driver_reference; /* the reference picks the tokens instead of the candidate */
    Precision cand_precision;   /* the candidate's activations */
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

/* One candidate scored against the reference. */
typedef struct {
    char label[256];
    EvalSummary sum;
    EvalPromptResult *res;  /* [n_res] per prompt (text protocol: per chunk) */
    int n_res;
    EvalPrompt *prompts;    /* generate: the prompts scored, [n_res] (copies sharing the inputs' ids) */
    int skipped;            /* built-in prompts longer than the context */
    int context;
    double seconds;
} EvalScores;

/* Score cand against ref on in as plan p says (protocol, steps, chunk, driver, precision),
 * reporting the phase and its progress to p; label names the candidate. */
int eval_score(const Model *cand, const Model *ref, const EvalInputs *in, const EvalPlan *p, const char *label,
               EvalScores *out);
void eval_scores_free(EvalScores *s);
/* 0 when the candidate and the reference are the same model (vocabulary, width, depth); else -1
 * and err_set. */
int eval_models_compatible(const Model *cand, const Model *ref);
/* The positions both run in: the candidate's default context, within the reference's. */
int eval_context(const Model *cand, const Model *ref);
/* The candidate's batch: its conversion's, else 64. */
int eval_candidate_batch(const Model *m);
/* Tell p's phase callback; -1 with "interrupted" when it asks to stop. */
int eval_phase_report(const EvalPlan *p, const EvalPhase *phase);

#endif
