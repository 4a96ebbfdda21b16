/* Quality report: the plan. See eval.h. */
#include "eval/eval.h"

#include <string.h>

void eval_plan_init(EvalPlan *p) {
    memset(p, 0, sizeof *p);
    p->steps = 100;
    p->driver = EVAL_DRIVER_CANDIDATE;
    p->precision = "q8";
}

const char *eval_driver_name(EvalDriver d) { return d == EVAL_DRIVER_REFERENCE ? "reference" : "candidate"; }
