/* The sweep of the quality report: the reference converted under several LUT configurations,
 * each evaluated. */
#ifndef ANEMLL_EVAL_SWEEP_H
#define ANEMLL_EVAL_SWEEP_H

#include "eval/eval.h"
#include "eval/report.h"
#include "model/model.h"

/* ref (loaded from p->reference) converted under the seed's four configurations (FP16 baseline,
 * FFN LUT4,4 + LM LUT6,4, FFN LUT4,8 only, FFN LUT4,8 + LM LUT6,4), then each of p->configs, with
 * auto FP16 scale, each into a temporary folder under $TMPDIR (else /tmp) that is removed after
 * it is evaluated (also on failure); *out gets the report of all. */
int eval_sweep(const EvalPlan *p, const Model *ref, EvalReport **out);

#endif
