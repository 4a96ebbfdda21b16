/* `eval`: the quality report of a converted model against the original (KL divergence,
 * correlation, token match rate; ANEMLL-NOTES §6), one configuration or a sweep of LUT
 * configurations converted on the fly.
 *   anemll eval --model CANDIDATE_DIR --reference HF_DIR [--prompts FILE.jsonl] [--steps N] [--json OUT]
 *   anemll eval --sweep --reference HF_DIR [--config "lut2=4,4,lut3=6,4"]... [options]
 * Options: --driver candidate|reference (who picks the greedy tokens), --precision q8|fp32|fp16 (the
 * candidate's activations; the reference always runs in FP32), --text FILE | --text-ids FILE (the
 * text protocol instead of prompts; --chunk N tokens per chunk, default the context),
 * --max-prompts N, --tokenizer FILE, --label NAME (the table's configuration name), --quiet.
 * Prompts: --prompts FILE, else the built-in set data/eval_prompts.jsonl when a tokenizer.json is
 * found (candidate folder, then reference folder), else built-in pseudo-random ids. Built-in
 * prompts longer than the context are skipped (and counted); a prompt of n tokens is scored for
 * at most context - n + 1 steps (capped, and reported). The context is the candidate's default.
 * Sweep configurations: the seed's four (FP16 baseline, FFN LUT4,4 + LM LUT6,4, FFN LUT4,8 only,
 * FFN LUT4,8 + LM LUT6,4), then each --config (keys lut1 = embeddings, lut2 = FFN, lut3 = LM head;
 * a key left out = no LUT), converted with auto FP16 scale into a temporary folder ($TMPDIR or
 * /tmp) that is removed afterwards, also on error or Ctrl-C.
 * The table goes to stdout, progress to stderr, every number (and the settings) to --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "cli/shipped.h"
#include "util/util.h"

#define MAX_CONFIGS 32

typedef struct {
    anemll_eval_options plan;
    const char *json_out;
    int quiet;
    const char *configs[MAX_CONFIGS];
    char cmdline[4096];
    char *source; /* the reference the candidate records (anemll_model_source) */
} EvalFlags;

/* ---------------------------------------------------------------- progress */

/* The display of the phase under way. */
typedef struct {
    ProgressDisplay pd;
    int quiet;
} EvalDisplay;

/* The display, with Ctrl-C (or SIGTERM) as a request to stop. */
static int eval_progress(void *ctx, const char *stage, const char *unit, long done, long total) {
    EvalDisplay *d = ctx;
    progress_display_fn(&d->pd, stage, unit, done, total);
    return stop_requested() != 0;
}

/* Each phase gets its own display: "convert LABEL" after a line naming it, "eval LABEL". */
static int eval_phase(void *ctx, const anemll_eval_phase *ph) {
    EvalDisplay *d = ctx;
    if (!ph->end) {
        char title[300];
        if (ph->kind == 0) {
            if (!d->quiet) fprintf(stderr, "eval: converting %s (%d/%d)\n", ph->label, ph->index, ph->count);
            snprintf(title, sizeof title, "convert %s", ph->label);
        } else {
            snprintf(title, sizeof title, "eval %s", ph->label);
        }
        progress_display_init(&d->pd, title, d->quiet);
        return 0;
    }
    progress_display_end(&d->pd);
    if (ph->kind == 0) return stop_requested() != 0; /* a conversion that ended despite Ctrl-C */
    /* a log gets one line per evaluation (a terminal keeps the display's last line) */
    if (ph->ok && d->pd.mode == DISPLAY_LOG)
        fprintf(stderr, "eval: %s: %s %d/%d done (%d steps, %.1f s)\n", ph->label, ph->text ? "chunk" : "prompt",
                ph->results, ph->results, ph->scored_steps, ph->seconds);
    return 0;
}

/* ---------------------------------------------------------------- command */

static const ArgSpec eval_args[] = {
    {"--model", NULL, "CANDIDATE_DIR", "$ANEMLL_MODEL, else anemll-tiny beside the binary",
     "the model to evaluate (converted, or a checkpoint)", 0},
    {"--reference", NULL, "HF_DIR", "the checkpoint the candidate's meta.yaml names",
     "the unquantized Hugging Face checkpoint, run in FP32", 0},
    {"--sweep", NULL, NULL, NULL,
     "convert the reference under the seed's four configurations (FP16 baseline, FFN LUT4,4 + LM LUT6,4, "
     "FFN LUT4,8 only, FFN LUT4,8 + LM LUT6,4) and each --config, evaluate each, print one table", 0},
    {"--config", NULL, "SPEC", NULL,
     "with --sweep, one more configuration: lut1=SPEC,lut2=SPEC,lut3=SPEC for the embeddings, FFN and LM "
     "head; a key left out = no LUT", 1},
    {"--prompts", NULL, "FILE.jsonl",
     "data/eval_prompts.jsonl from $ANEMLL_DATA, the binary's ../data or ./data; without a tokenizer, "
     "pseudo-random ids",
     "the prompts, JSON lines: {\"text\": ...} (optional \"system\"; chat-templated) or {\"ids\": [...]}", 0},
    {"--max-prompts", NULL, "N", NULL, "evaluate the first N prompts only", 0},
    {"--steps", NULL, "N", "100", "greedy steps per prompt", 0},
    {"--driver", NULL, "candidate|reference", "candidate", "which model picks the greedy tokens", 0},
    {"--text", NULL, "FILE", NULL,
     "text protocol: score every position of this text (tokenized with BOS), with perplexities and top-5 "
     "agreement", 0},
    {"--text-ids", NULL, "FILE", NULL, "text protocol on token ids as given", 0},
    {"--chunk", NULL, "N", "the context", "text protocol: tokens per chunk", 0},
    {"--tokenizer", NULL, "FILE", "tokenizer.json of the candidate, else of the reference",
     "the tokenizer for text prompts", 0},
    {"--label", NULL, "NAME", "from the candidate's LUTs", "the configuration's name in the table", 0},
    {"--json", NULL, "FILE", NULL, "also write every number and the settings to FILE", 0},
    {"--quiet", NULL, NULL, NULL, "no progress on stderr", 0},
    {0},
};

const CommandSpec eval_spec = {
    "eval",
    "quality report against the original model: KL divergence, correlation, match rate",
    "[--model CANDIDATE_DIR] [--reference HF_DIR] [options] | --sweep --reference HF_DIR [--config SPEC]...",
    "Scores a converted model against the original it came from (ANEMLL-NOTES section 6): both run "
    "teacher-forced on the same greedy tokens and each step compares the full next-token distributions: "
    "KL(reference||candidate), correlation of the logits, top-1 match rate, entropy and first divergence, per "
    "prompt and summarised with healthy/concerning verdicts. Prompts longer than the context are skipped; "
    "the table goes to stdout, progress to stderr. --sweep converts the reference into a temporary folder "
    "under several LUT configurations (auto FP16 scale) and removes it afterwards, also on error or Ctrl-C.",
    (const ArgSpec *const[]){eval_args, precision_args, NULL},
    "anemll eval\n"
    "anemll eval --model build/anemll-tiny --reference models/anemll-tiny --precision fp32 --json eval.json\n"
    "anemll eval --sweep --reference models/anemll-tiny --config lut2=4,8,lut3=6,4",
};

static int read_flags(int argc, char **argv, EvalFlags *f) {
    memset(f, 0, sizeof *f);
    anemll_eval_options *p = &f->plan;
    anemll_eval_default_options(p);
    snprintf(f->cmdline, sizeof f->cmdline, "anemll eval");
    for (int i = 0; i < argc; i++) {
        size_t k = strlen(f->cmdline);
        snprintf(f->cmdline + k, sizeof f->cmdline - k, " %s", argv[i]);
    }
    p->command_line = f->cmdline;
    Args a;
    args_init(&a, &eval_spec, argc, argv);
    p->n_configs = arg_list(&a, "--config", f->configs, MAX_CONFIGS);
    p->configs = f->configs;
    p->candidate = arg_str(&a, "--model", NULL);
    p->reference = arg_str(&a, "--reference", NULL);
    p->prompts_file = arg_str(&a, "--prompts", NULL);
    p->text_file = arg_str(&a, "--text", NULL);
    p->text_ids_file = arg_str(&a, "--text-ids", NULL);
    f->json_out = arg_str(&a, "--json", NULL);
    const char *driver = arg_str(&a, "--driver", "candidate");
    int bad_precision = precision_flag(arg_str(&a, "--precision", "q8"), &p->precision);
    p->tokenizer = arg_str(&a, "--tokenizer", NULL);
    p->label = arg_str(&a, "--label", NULL);
    p->steps = (int)arg_int(&a, "--steps", 100, 1, 1 << 24);
    p->chunk = (int)arg_int(&a, "--chunk", 0, 2, 1 << 24);
    p->max_prompts = (int)arg_int(&a, "--max-prompts", 0, 1, 1 << 24);
    p->sweep = arg_flag(&a, "--sweep");
    f->quiet = arg_flag(&a, "--quiet");
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if ((p->candidate && anemll_model_check(p->candidate)) || (p->reference && anemll_model_check(p->reference)) ||
        check_input(p->prompts_file) || check_input(p->text_file) || check_input(p->text_ids_file) ||
        check_input(p->tokenizer))
        return fail_with_error();
    /* defaults: the shipped model, against the checkpoint it was converted from */
    if (!p->sweep && !p->candidate && model_arg(NULL, &p->candidate)) return fail_with_error();
    if (!p->reference && p->candidate && anemll_model_source(p->candidate, &f->source) == 0 &&
        dir_exists(f->source))
        p->reference = f->source;
    const char *why = NULL;
    if (!p->reference)
        why = "--reference HF_DIR is required (the candidate's meta.yaml names no source checkpoint that exists)";
    else if (!p->sweep && !p->candidate)
        why = "--model CANDIDATE_DIR is required (or --sweep)";
    else if (p->sweep && p->candidate)
        why = "--sweep converts the reference itself: give --model or --sweep, not both";
    else if (!p->sweep && p->n_configs)
        why = "--config goes with --sweep";
    else if (p->sweep && p->label)
        why = "--label names a single evaluation (the sweep names its rows)";
    else if (strcmp(driver, "candidate") && strcmp(driver, "reference"))
        why = "--driver: expected candidate or reference";
    else if (bad_precision)
        why = "--precision: expected " ANEMLL_PRECISION_NAMES;
    else if (!!p->prompts_file + !!p->text_file + !!p->text_ids_file > 1)
        why = "give one of --prompts, --text and --text-ids";
    if (why) {
        err_set("%s", why);
        return fail_with_error();
    }
    p->driver = strcmp(driver, "reference") ? ANEMLL_EVAL_CANDIDATE_DRIVES : ANEMLL_EVAL_REFERENCE_DRIVES;
    const char *inputs[] = {p->candidate, p->reference, p->prompts_file, p->text_file, p->text_ids_file, p->tokenizer};
    if (check_output_apart("--json", f->json_out, inputs, 6)) return fail_with_error();
    return 0;
}

int cmd_eval(int argc, char **argv) {
    EvalFlags f;
    int bad = read_flags(argc, argv, &f);
    if (bad) {
        anemll_free(f.source);
        return bad;
    }
    stop_signals_catch(1); /* Ctrl-C or SIGTERM: the evaluation stops at its next report */
    EvalDisplay display = {.quiet = f.quiet};
    f.plan.progress = eval_progress;
    f.plan.phase = eval_phase;
    f.plan.progress_ctx = &display;
    /* data/eval_prompts.jsonl from the build tree or the installed share/anemll (cli/shipped.h) */
    char *builtin_prompts = shipped_path("eval_prompts.jsonl");
    f.plan.builtin_prompts = builtin_prompts;
    anemll_eval_report *report;
    int rc = anemll_eval(&f.plan, &report);
    stop_signals_restore();
    free(builtin_prompts);
    char *text = NULL;
    size_t len = 0;
    if (rc == 0 && (rc = anemll_eval_report_text(report, &text, &len)) == 0) fwrite(text, 1, len, stdout);
    anemll_free(text);
    /* the JSON report, written whole or not at all */
    if (rc == 0 && f.json_out && (rc = anemll_eval_report_json(report, &text, &len)) == 0) {
        rc = atomic_write_file(f.json_out, text, len);
        anemll_free(text);
    }
    anemll_eval_report_free(report);
    anemll_free(f.source);
    fflush(stdout);
    return rc ? fail_with_error() : 0;
}
