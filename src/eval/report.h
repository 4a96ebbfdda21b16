/* The quality report's output: verdicts against the seed model card's guidelines, configuration
 * names, the markdown table and the JSON pieces. */
#ifndef ANEMLL_EVAL_REPORT_H
#define ANEMLL_EVAL_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "eval/metrics.h"
#include "eval/prompts.h"
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

#endif
