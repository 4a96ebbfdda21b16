/* Quality metrics, computed exactly in float64 over the full vocabulary at temperature 1
 * (ANEMLL-NOTES §6): per step, per prompt (or text chunk) and summarised over prompts.
 *
 * Metrics of one step, h = reference logits, c = candidate logits, p = softmax(h), q = softmax(c):
 *   KL       = sum_v p_v (ln(p_v + 1e-12) - ln(q_v + 1e-12))      KL(reference || candidate), nats
 *   corr     = mean((h - mean h)(c - mean c)) / (std h * std c)    Pearson, population std. Defined
 *              everywhere: when a vector is constant (std < 1e-12) it is 1 if both are, else 0.
 *   match    = 1 when argmax h == argmax c (first index on ties)
 *   entropy  = -sum_v q_v ln(q_v + 1e-12)                          the candidate's, nats
 * Text protocol only: each model's negative log-likelihood of the next token (perplexity =
 * exp(mean NLL)) and top-5 agreement = |top5(h) ∩ top5(c)| / 5. */
#ifndef ANEMLL_EVAL_METRICS_H
#define ANEMLL_EVAL_METRICS_H

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

/* Frees r->tokens. */
void eval_result_free(EvalPromptResult *r);

#endif
