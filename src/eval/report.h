/* The quality report: verdicts against the seed model card's guidelines, configuration names,
 * what a run found (EvalReport) and its two forms: the text (the seed-shaped markdown table, the
 * protocol in words) and the JSON (every number and the settings; numbers as %.17g, non-finite
 * as null). All of eval's JSON is written here. */
#ifndef ANEMLL_EVAL_REPORT_H
#define ANEMLL_EVAL_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "eval/eval.h"
#include "eval/metrics.h"
#include "eval/prompts.h"
#include "eval/protocol.h"
#include "model/model.h"

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

/* Configuration name in the seed's words, from a converted model's LUT specs: "FP16 baseline
 * (no LUT)", "FFN LUT4,4 + LM LUT6,4", "FFN LUT4,8 only", ...; an unconverted model gives
 * "unconverted (FP32 of the checkpoint)". */
void eval_config_label(const Model *m, char *buf, size_t n);
void eval_luts_label(LutInfo emb, LutInfo ffn, LutInfo lm, char *buf, size_t n);
void eval_lut_label(LutInfo l, char *buf, size_t n); /* "4,4" or "none" */

/* What the report says of a model, copied: it outlives the model (the sweep removes its
 * conversions as it goes). */
typedef struct {
    char *dir;
    char **files; /* its weight files */
    int n_files;
    int converted;
    char configuration[256]; /* eval_config_label */
    double alpha;            /* 1 unless converted */
    LutInfo lut_embeddings, lut_ffn, lut_lmhead; /* none unless converted */
    int chunks, context_length;     /* converted only */
    double peak_before, peak_after; /* converted only */
    int vocab_size, layers, hidden_size, sliding_window;
    char precision[8]; /* the activations it ran with */
    int batch;
} EvalModelInfo;
void eval_model_info(const Model *m, const char *precision, int batch, EvalModelInfo *out);
void eval_model_info_free(EvalModelInfo *info);

/* One evaluated configuration. */
typedef struct {
    EvalScores scores;
    EvalModelInfo candidate;
    /* sweep: how the reference was converted */
    LutInfo lut_embeddings, lut_ffn, lut_lmhead;
    double alpha, conversion_seconds;
} EvalEntry;

struct EvalReport {
    int sweep;
    /* the settings, as the plan gave them */
    char *command_line; /* NULL: none */
    char *reference_dir;
    EvalDriver driver;
    char precision[8];
    int steps, chunk, max_prompts;
    EvalModelInfo reference;
    int context;        /* the settings' context: the candidate's (single), the reference's (sweep) */
    EvalInputs inputs;  /* what was scored */
    char calibration[512]; /* sweep: the conversions' calibration, in words */
    EvalEntry *entries; /* the configurations, in order */
    int n_entries;
};

/* A report of plan p against ref, without entries; it takes over in (left empty). */
EvalReport *eval_report_new(const EvalPlan *p, const Model *ref, EvalInputs *in, int context);

#endif
