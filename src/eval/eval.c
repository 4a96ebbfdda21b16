/* Quality report: the plan and the run. See eval.h. */
#include "eval/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/prompts.h"
#include "eval/protocol.h"
#include "eval/report.h"
#include "eval/sweep.h"
#include "util/util.h"

void eval_plan_init(EvalPlan *p) {
    memset(p, 0, sizeof *p);
    p->steps = 100;
    p->driver = EVAL_DRIVER_CANDIDATE;
    p->precision = PRECISION_Q8;
}

const char *eval_driver_name(EvalDriver d) { return d == EVAL_DRIVER_REFERENCE ? "reference" : "candidate"; }

/* One candidate, p->candidate, against ref. */
static int eval_single(const EvalPlan *p, const Model *ref, EvalReport **out) {
    Model cand;
    if (model_load(&cand, p->candidate)) return -1;
    EvalInputs in;
    int context = eval_context(&cand, ref);
    if (eval_models_compatible(&cand, ref) || eval_inputs_load(p, &ref->cfg, context, &in)) {
        model_free(&cand);
        return -1;
    }
    char label[256];
    if (p->label)
        snprintf(label, sizeof label, "%s", p->label);
    else
        eval_config_label(&cand, label, sizeof label);
    EvalReport *r = eval_report_new(p, ref, &in, context);
    r->entries = xcalloc(1, sizeof *r->entries);
    r->n_entries = 1;
    EvalEntry *e = &r->entries[0];
    int rc = eval_score(&cand, ref, &r->inputs, p, label, &e->scores);
    if (rc == 0) eval_model_info(&cand, precision_name(p->precision), eval_candidate_batch(&cand), &e->candidate);
    model_free(&cand);
    if (rc) {
        eval_report_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

/* What eval_run needs of a plan (the CLI checks its flags before, in its own words). */
static int plan_check(const EvalPlan *p) {
    if (!p->reference) {
        err_set("no reference checkpoint to compare with");
        return -1;
    }
    if (!p->sweep == !p->candidate) {
        err_set(p->sweep ? "a sweep converts the reference itself: no candidate goes with it"
                         : "no candidate model to evaluate");
        return -1;
    }
    if ((unsigned)p->precision > PRECISION_FP16) {
        err_set("precision %d: not a precision", (int)p->precision);
        return -1;
    }
    return 0;
}

int eval_run(const EvalPlan *p, EvalReport **out) {
    *out = NULL;
    if (plan_check(p)) return -1;
    Model ref;
    if (model_load(&ref, p->reference)) return -1;
    if (ref.converted) {
        model_free(&ref);
        err_set("%s: the reference must be the unquantized Hugging Face checkpoint, not a converted model",
                p->reference);
        return -1;
    }
    int rc = p->sweep ? eval_sweep(p, &ref, out) : eval_single(p, &ref, out);
    model_free(&ref);
    return rc;
}
