/* Quality report: how far a candidate model (a conversion, run as a user runs it) is from the
 * unquantized reference (the Hugging Face checkpoint run in FP32), with ANEMLL's metrics
 * (ANEMLL-NOTES §6) computed exactly, in float64 over the full vocabulary at temperature 1.
 *
 * The library's entry point: a plan says what to compare and how; eval_run turns it into a
 * report, printed as text or JSON. The parts: metrics.h (the math), prompts.h (what is scored),
 * protocol.h (how both models run), report.h (verdicts, the report, its text and all its JSON)
 * and sweep.h (conversions under several configurations). */
#ifndef ANEMLL_EVAL_H
#define ANEMLL_EVAL_H

#include <stdio.h>

#include "model/model.h"
#include "util/progress.h"

/* Which model picks the greedy tokens that both are teacher-forced on (generate protocol). */
typedef enum { EVAL_DRIVER_CANDIDATE, EVAL_DRIVER_REFERENCE } EvalDriver;

/* A phase of a run, for a display: each conversion of the sweep and each evaluation, reported
 * when it starts and when it ends (also on failure). */
typedef enum { EVAL_PHASE_CONVERT, EVAL_PHASE_SCORE } EvalPhaseKind;
typedef struct {
    EvalPhaseKind kind;
    int end;           /* 0: starting; 1: ended */
    int ok;            /* ended: it succeeded */
    const char *label; /* the configuration */
    int index, count;  /* CONVERT: the configuration's number (from 1) of count */
    /* SCORE, ended ok: what was scored */
    int text;          /* the results are chunks of a text (text protocol), not prompts */
    int results, scored_steps;
    double seconds;
} EvalPhase;
/* Returns 0 to go on; anything else asks to stop: the run fails with "interrupted". */
typedef int (*EvalPhaseFn)(void *ctx, const EvalPhase *phase);

typedef struct {
    const char *candidate; /* the model folder to evaluate (converted, or a checkpoint); NULL with sweep */
    const char *reference; /* the unquantized Hugging Face checkpoint, run in FP32 */
    int sweep;             /* convert the reference under the seed's four configurations and each of configs */
    const char *const *configs; /* sweep: more configurations, "lut1=SPEC,lut2=SPEC,lut3=SPEC" */
    int n_configs;
    /* What is scored: at most one of the three files; none = the built-in prompt set when a
     * tokenizer is found, else pseudo-random ids (prompts.h). */
    const char *prompts_file;    /* JSON lines (generate protocol) */
    const char *text_file;       /* text protocol: this text, tokenized with BOS */
    const char *text_ids_file;   /* text protocol: these token ids */
    const char *builtin_prompts; /* the built-in prompt set's path; NULL: not found */
    const char *tokenizer;       /* NULL: tokenizer.json of the candidate, else of the reference */
    int max_prompts;             /* 0: all */
    int steps;                   /* generate protocol: greedy steps per prompt */
    int chunk;                   /* text protocol: tokens per chunk; 0: the context */
    EvalDriver driver;
    Precision precision;      /* the candidate's activations */
    const char *label;        /* the configuration's name; NULL: from the candidate's LUTs */
    const char *command_line; /* recorded in the JSON */
    Progress progress;        /* the stages of each phase: a conversion's, then "scoring" */
    EvalPhaseFn phase;        /* called with progress.ctx; NULL: phases are not reported */
} EvalPlan;

/* No models or files; 100 steps, the candidate drives, q8 activations. */
void eval_plan_init(EvalPlan *p);
const char *eval_driver_name(EvalDriver d); /* "candidate" | "reference" */

/* What a run found: its settings, what was scored and each configuration's scores (report.h). */
typedef struct EvalReport EvalReport;
/* Run plan p: load the reference (an unconverted checkpoint), then evaluate the candidate, or
 * convert and evaluate each configuration of the sweep. 0 and *out a new report; else -1 and
 * err_set ("interrupted" when the progress or the phase callback asked to stop). Never prints. */
int eval_run(const EvalPlan *p, EvalReport **out);
/* The seed-shaped table (Configuration | KL Divergence | Correlation | Match Rate | Notes) with
 * the guidelines, then the protocol in words and the time taken. */
void eval_report_print_text(FILE *f, const EvalReport *r);
/* Every number and the settings, as one JSON document. 0, or -1 and err_set when f fails. */
int eval_report_write_json(FILE *f, const EvalReport *r);
void eval_report_free(EvalReport *r);

#endif
