/* Verdicts, labels, the report and its text and JSON. See report.h. */
#include "eval/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "util/util.h"

/* ---------------------------------------------------------------- verdicts */

Verdict verdict_kl(double kl) {
    if (!(kl <= EVAL_KL_CONCERNING)) return VERDICT_CONCERNING; /* NaN too */
    return kl < EVAL_KL_HEALTHY ? VERDICT_HEALTHY : VERDICT_WATCH;
}

Verdict verdict_corr(double corr) {
    if (!(corr >= EVAL_CORR_CONCERNING)) return VERDICT_CONCERNING;
    return corr > EVAL_CORR_HEALTHY ? VERDICT_HEALTHY : VERDICT_WATCH;
}

Verdict verdict_match(double m) {
    if (!(m >= EVAL_MATCH_CONCERNING)) return VERDICT_CONCERNING;
    return m > EVAL_MATCH_HEALTHY ? VERDICT_HEALTHY : VERDICT_WATCH;
}

const char *verdict_name(Verdict v) {
    return v == VERDICT_HEALTHY ? "healthy" : v == VERDICT_WATCH ? "watch" : "concerning";
}

void eval_verdict_note(const EvalSummary *s, char *buf, size_t n) {
    Verdict v[3] = {verdict_kl(s->kl_mean), verdict_corr(s->corr_mean), verdict_match(s->match_rate)};
    static const char *names[3] = {"KL", "correlation", "match"};
    char out[256] = "";
    for (int level = VERDICT_CONCERNING; level >= VERDICT_WATCH; level--) {
        int count = 0;
        for (int i = 0; i < 3; i++) {
            if ((int)v[i] != level) continue;
            size_t len = strlen(out);
            if (count == 0)
                snprintf(out + len, sizeof out - len, "%s%s: %s", len ? "; " : "", verdict_name((Verdict)level),
                         names[i]);
            else
                snprintf(out + len, sizeof out - len, ", %s", names[i]);
            count++;
        }
    }
    snprintf(buf, n, "%s", out[0] ? out : "healthy");
}

/* ---------------------------------------------------------------- labels */

void eval_lut_label(LutInfo l, char *buf, size_t n) {
    if (l.bits)
        snprintf(buf, n, "%d,%d", l.bits, l.per_channel);
    else
        snprintf(buf, n, "none");
}

void eval_luts_label(LutInfo emb, LutInfo ffn, LutInfo lm, char *buf, size_t n) {
    const char *names[3] = {"Emb", "FFN", "LM"};
    LutInfo l[3] = {emb, ffn, lm};
    int parts = 0;
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < 3; i++) {
        if (!l[i].bits) continue;
        if (len < n)
            len += (size_t)snprintf(buf + len, n - len, "%s%s LUT%d,%d", parts ? " + " : "", names[i], l[i].bits,
                                    l[i].per_channel);
        parts++;
    }
    if (parts == 0)
        snprintf(buf, n, "FP16 baseline (no LUT)");
    else if (parts == 1 && len < n)
        snprintf(buf + len, n - len, " only");
}

void eval_config_label(const Model *m, char *buf, size_t n) {
    if (!m->converted) {
        snprintf(buf, n, "unconverted (FP32 of the checkpoint)");
        return;
    }
    eval_luts_label(m->meta.lut_embeddings, m->meta.lut_ffn, m->meta.lut_lmhead, buf, n);
}

/* ---------------------------------------------------------------- the report */

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

void eval_model_info(const Model *m, const char *precision, int batch, EvalModelInfo *out) {
    memset(out, 0, sizeof *out);
    out->dir = xstrdup(m->dir);
    out->n_files = m->st.n_files;
    out->files = xcalloc((size_t)m->st.n_files + 1, sizeof *out->files);
    for (int i = 0; i < m->st.n_files; i++) out->files[i] = xstrdup(m->st.files[i].path);
    out->converted = m->converted;
    eval_config_label(m, out->configuration, sizeof out->configuration);
    out->alpha = 1.0;
    if (m->converted) {
        out->alpha = m->meta.alpha;
        out->lut_embeddings = m->meta.lut_embeddings;
        out->lut_ffn = m->meta.lut_ffn;
        out->lut_lmhead = m->meta.lut_lmhead;
        out->chunks = m->meta.num_chunks;
        out->context_length = m->meta.context_length;
        out->peak_before = m->meta.peak_before;
        out->peak_after = m->meta.peak_after;
    }
    out->vocab_size = m->cfg.vocab_size;
    out->layers = m->cfg.num_layers;
    out->hidden_size = m->cfg.hidden_size;
    out->sliding_window = m->cfg.sliding_window;
    snprintf(out->precision, sizeof out->precision, "%s", precision);
    out->batch = batch;
}

void eval_model_info_free(EvalModelInfo *info) {
    free(info->dir);
    for (int i = 0; i < info->n_files; i++) free(info->files[i]);
    free(info->files);
    memset(info, 0, sizeof *info);
}

EvalReport *eval_report_new(const EvalPlan *p, const Model *ref, EvalInputs *in, int context) {
    EvalReport *r = xcalloc(1, sizeof *r);
    r->sweep = p->sweep;
    r->command_line = dup_or_null(p->command_line);
    r->reference_dir = xstrdup(p->reference);
    r->driver = p->driver;
    snprintf(r->precision, sizeof r->precision, "%s", precision_name(p->precision));
    r->steps = p->steps;
    r->chunk = p->chunk;
    r->max_prompts = p->max_prompts;
    eval_model_info(ref, "fp32", 64, &r->reference);
    r->context = context;
    r->inputs = *in;
    memset(in, 0, sizeof *in);
    return r;
}

void eval_report_free(EvalReport *r) {
    if (!r) return;
    for (int i = 0; i < r->n_entries; i++) {
        eval_scores_free(&r->entries[i].scores);
        eval_model_info_free(&r->entries[i].candidate);
    }
    free(r->entries);
    eval_inputs_free(&r->inputs);
    eval_model_info_free(&r->reference);
    free(r->command_line);
    free(r->reference_dir);
    free(r);
}

/* ---------------------------------------------------------------- text */

static void fmt_kl(double kl, char *buf, size_t n) {
    if (kl != 0 && fabs(kl) < 1e-4)
        snprintf(buf, n, "%.1e", kl);
    else
        snprintf(buf, n, "%.4f", kl);
}

/* The Notes cell: the verdicts, then what sets the configuration apart (its alpha in a sweep,
 * FP16 activations). */
static void entry_notes(const EvalReport *r, const EvalEntry *e, char *buf, size_t n) {
    char verdicts[160], extra[64];
    eval_verdict_note(&e->scores.sum, verdicts, sizeof verdicts);
    int fp16 = !strcmp(r->precision, "fp16");
    if (r->sweep)
        snprintf(extra, sizeof extra, "alpha %.6g%s", e->alpha, fp16 ? ", FP16 activations" : "");
    else
        snprintf(extra, sizeof extra, "%s", fp16 ? "FP16 activations" : "");
    snprintf(buf, n, "%s%s%s", verdicts, *extra ? "; " : "", extra);
}

/* The seed-shaped markdown table: Configuration | KL Divergence | Correlation | Match Rate | Notes,
 * then the guidelines. */
static void print_table(FILE *f, const EvalReport *rep) {
    static const char *head[5] = {"Configuration", "KL Divergence", "Correlation", "Match Rate", "Notes"};
    int n = rep->n_entries;
    char (*cells)[5][256] = xcalloc((size_t)n + 1, sizeof *cells);
    size_t w[5];
    for (int c = 0; c < 5; c++) {
        snprintf(cells[0][c], sizeof cells[0][c], "%s", head[c]);
        w[c] = strlen(head[c]);
    }
    for (int i = 0; i < n; i++) {
        char (*r)[256] = cells[i + 1];
        const EvalSummary *s = &rep->entries[i].scores.sum;
        snprintf(r[0], 256, "%s", rep->entries[i].scores.label);
        fmt_kl(s->kl_mean, r[1], 256);
        snprintf(r[2], 256, "%.4f", s->corr_mean);
        snprintf(r[3], 256, "%.1f%%", 100.0 * s->match_rate);
        entry_notes(rep, &rep->entries[i], r[4], 256);
        for (int c = 0; c < 5; c++)
            if (strlen(r[c]) > w[c]) w[c] = strlen(r[c]);
    }
    for (int i = 0; i <= n; i++) {
        for (int c = 0; c < 5; c++) {
            /* numbers right-aligned, text left-aligned */
            int right = i > 0 && c >= 1 && c <= 3;
            fprintf(f, "| %*s%-*s ", right ? (int)w[c] : 0, right ? cells[i][c] : "", right ? 0 : (int)w[c],
                    right ? "" : cells[i][c]);
        }
        fprintf(f, "|\n");
        if (i == 0) {
            for (int c = 0; c < 5; c++) {
                fputs("|", f);
                for (size_t k = 0; k < w[c] + 2; k++) fputc(k == w[c] + 1 && c >= 1 && c <= 3 ? ':' : '-', f);
            }
            fprintf(f, "|\n");
        }
    }
    fprintf(f, "\nGuidelines: healthy KL < %.1f, correlation > %.2f, match > %.0f%%; concerning KL > %.1f, "
               "correlation < %.2f, match < %.0f%%; otherwise watch.\n",
            EVAL_KL_HEALTHY, EVAL_CORR_HEALTHY, 100 * EVAL_MATCH_HEALTHY, EVAL_KL_CONCERNING, EVAL_CORR_CONCERNING,
            100 * EVAL_MATCH_CONCERNING);
    free(cells);
}

/* The protocol in words, with the prompt lengths and chunk size actually used (those of the
 * first configuration). */
static void print_protocol(FILE *f, const EvalReport *rep) {
    const EvalInputs *in = &rep->inputs;
    const EvalScores *r = &rep->entries[0].scores;
    int V = rep->reference.vocab_size;
    if (in->text) {
        fprintf(f, "\nProtocol: text, %d chunk%s of up to %d tokens%s from %s, every position teacher-forced (%d "
                   "scored); reference FP32 %s; candidate %s; KL(reference||candidate) in nats over the full "
                   "vocabulary (%d), float64, T=1; means over all positions.\n",
                r->n_res, r->n_res == 1 ? "" : "s", eval_text_chunk(rep->chunk, r->context),
                rep->chunk > r->context ? " (--chunk clipped to the context)" : "", in->source, r->sum.scored_steps,
                rep->reference_dir, rep->precision, V);
        fprintf(f, "Perplexity: reference %.4f, candidate %.4f; top-5 agreement %.1f%%.\n", r->sum.ppl_ref,
                r->sum.ppl_cand, 100 * r->sum.top5);
        return;
    }
    fprintf(f, "\nProtocol: %d prompt%s (%s%s), %d greedy step%s each driven by the %s, both models teacher-forced, "
               "scored from the last prompt token; reference FP32 %s; candidate %s; KL(reference||candidate) in nats "
               "over the full vocabulary (%d), float64, T=1; unweighted means over prompts.\n",
            r->n_res, r->n_res == 1 ? "" : "s", in->source, in->chat_template ? ", chat template" : "", rep->steps,
            rep->steps == 1 ? "" : "s", eval_driver_name(rep->driver), rep->reference_dir, rep->precision, V);
    if (r->sum.capped)
        fprintf(f, "Steps capped by the context of %d tokens in %d prompt%s (%d steps scored in all).\n", r->context,
                r->sum.capped, r->sum.capped == 1 ? "" : "s", r->sum.scored_steps);
    if (r->skipped)
        fprintf(f, "Skipped %d built-in prompt%s longer than the context of %d tokens.\n", r->skipped,
                r->skipped == 1 ? "" : "s", r->context);
}

void eval_report_print_text(FILE *f, const EvalReport *r) {
    print_table(f, r);
    print_protocol(f, r);
    double seconds = 0;
    for (int i = 0; i < r->n_entries; i++) seconds += r->entries[i].scores.seconds;
    if (r->sweep)
        fprintf(f, "Converted with auto FP16 scale (calibration: %s); evaluated in %.1f s.\n", r->calibration,
                seconds);
    else
        fprintf(f, "Evaluated in %.1f s.\n", seconds);
}

/* ---------------------------------------------------------------- JSON */

static void json_number(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_key_num(FILE *f, const char *key, double v, int comma) {
    fprintf(f, "%s\"%s\": ", comma ? ", " : "", key);
    json_number(f, v);
}

static void json_str(FILE *f, const char *s) { json_write_string(f, s, strlen(s)); }

static void json_summary(FILE *f, const EvalSummary *s) {
    fprintf(f, "{");
    json_key_num(f, "kl_mean", s->kl_mean, 0);
    json_key_num(f, "corr_mean", s->corr_mean, 1);
    json_key_num(f, "match_rate", s->match_rate, 1);
    json_key_num(f, "entropy_mean", s->entropy_mean, 1);
    fprintf(f, ", \"prompts\": %d, \"steps\": %d, \"scored_steps\": %d, \"capped_prompts\": %d", s->prompts,
            s->steps, s->scored_steps, s->capped);
    json_key_num(f, "kl_min", s->kl_min, 1);
    json_key_num(f, "kl_max", s->kl_max, 1);
    json_key_num(f, "corr_min", s->corr_min, 1);
    json_key_num(f, "corr_max", s->corr_max, 1);
    json_key_num(f, "match_min", s->match_min, 1);
    json_key_num(f, "match_max", s->match_max, 1);
    json_key_num(f, "entropy_min", s->entropy_min, 1);
    json_key_num(f, "entropy_max", s->entropy_max, 1);
    if (s->text) {
        json_key_num(f, "ppl_reference", s->ppl_ref, 1);
        json_key_num(f, "ppl_candidate", s->ppl_cand, 1);
        json_key_num(f, "top5_agreement", s->top5, 1);
    }
    fprintf(f, ", \"verdict\": {\"kl\": \"%s\", \"correlation\": \"%s\", \"match\": \"%s\"}",
            verdict_name(verdict_kl(s->kl_mean)), verdict_name(verdict_corr(s->corr_mean)),
            verdict_name(verdict_match(s->match_rate)));
    fprintf(f, "}");
}

static void json_ids(FILE *f, const int *ids, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, i ? ",%d" : "%d", ids[i]);
    fputc(']', f);
}

/* p: the prompt (generate protocol), NULL for a text chunk. */
static void json_prompt(FILE *f, const EvalPrompt *p, const EvalPromptResult *r, int index, int text_protocol) {
    fprintf(f, "{\"index\": %d", index);
    if (p) {
        if (p->line)
            fprintf(f, ", \"line\": %d", p->line);
        else
            fprintf(f, ", \"line\": null");
        if (p->text) {
            fprintf(f, ", \"text\": ");
            json_write_string(f, p->text, p->text_len);
        }
        fprintf(f, ", \"prompt_ids\": ");
        json_ids(f, p->ids, p->n);
    }
    fprintf(f, ", \"prompt_tokens\": %d, \"steps\": %d", r->prompt_tokens, r->steps);
    if (!text_protocol)
        fprintf(f, ", \"steps_requested\": %d, \"steps_capped\": %s", r->steps_requested,
                r->steps < r->steps_requested ? "true" : "false");
    json_key_num(f, "kl_mean", r->kl_mean, 1);
    json_key_num(f, "kl_max", r->kl_max, 1);
    json_key_num(f, "corr_mean", r->corr_mean, 1);
    json_key_num(f, "corr_min", r->corr_min, 1);
    json_key_num(f, "match_rate", r->match_rate, 1);
    json_key_num(f, "entropy_mean", r->entropy_mean, 1);
    if (r->first_divergence >= 0)
        fprintf(f, ", \"first_divergence\": %d", r->first_divergence);
    else
        fprintf(f, ", \"first_divergence\": null");
    if (text_protocol) {
        json_key_num(f, "nll_reference", r->nll_ref, 1);
        json_key_num(f, "nll_candidate", r->nll_cand, 1);
        json_key_num(f, "ppl_reference", exp(r->nll_ref), 1);
        json_key_num(f, "ppl_candidate", exp(r->nll_cand), 1);
        json_key_num(f, "top5_agreement", r->top5, 1);
    } else if (r->tokens) {
        fprintf(f, ", \"tokens\": ");
        json_ids(f, r->tokens, r->steps);
    }
    json_key_num(f, "seconds", r->seconds, 1);
    fprintf(f, "}");
}

/* ", "key": "4,4"" */
static void json_lut(FILE *f, const char *key, LutInfo l) {
    char s[32];
    eval_lut_label(l, s, sizeof s);
    fprintf(f, ", \"%s\": ", key);
    json_str(f, s);
}

/* {"dir", "converted", "files", "configuration", "alpha", "lut_*", ..., "precision", "batch"} */
static void json_model(FILE *f, const EvalModelInfo *m) {
    fprintf(f, "{\"dir\": ");
    json_str(f, m->dir);
    fprintf(f, ", \"converted\": %s, \"files\": [", m->converted ? "true" : "false");
    for (int i = 0; i < m->n_files; i++) {
        if (i) fprintf(f, ", ");
        json_str(f, m->files[i]);
    }
    fprintf(f, "], \"configuration\": ");
    json_str(f, m->configuration);
    json_key_num(f, "alpha", m->alpha, 1);
    json_lut(f, "lut_embeddings", m->lut_embeddings);
    json_lut(f, "lut_ffn", m->lut_ffn);
    json_lut(f, "lut_lmhead", m->lut_lmhead);
    if (m->converted) {
        fprintf(f, ", \"chunks\": %d, \"context_length\": %d", m->chunks, m->context_length);
        json_key_num(f, "peak_before", m->peak_before, 1);
        json_key_num(f, "peak_after", m->peak_after, 1);
    }
    fprintf(f, ", \"vocab_size\": %d, \"layers\": %d, \"hidden_size\": %d, \"sliding_window\": %d",
            m->vocab_size, m->layers, m->hidden_size, m->sliding_window);
    fprintf(f, ", \"precision\": ");
    json_str(f, m->precision);
    fprintf(f, ", \"batch\": %d}", m->batch);
}

static void json_settings(FILE *f, const EvalReport *r) {
    const EvalInputs *in = &r->inputs;
    fprintf(f, "\"settings\": {\"command_line\": ");
    if (r->command_line)
        json_str(f, r->command_line);
    else
        fputs("null", f);
    fprintf(f, ", \"reference\": ");
    json_model(f, &r->reference);
    fprintf(f, ", \"protocol\": \"%s\", \"driver\": \"%s\", \"candidate_precision\": ", in->text ? "text" : "generate",
            eval_driver_name(r->driver));
    json_str(f, r->precision);
    fprintf(f, ", \"steps\": %d, \"context\": %d", in->text ? 0 : r->steps, r->context);
    if (in->text) fprintf(f, ", \"chunk\": %d", eval_text_chunk(r->chunk, r->context));
    if (in->text && r->chunk > r->context) fprintf(f, ", \"chunk_requested\": %d", r->chunk);
    fprintf(f, ", \"prompts_kind\": \"%s\", \"prompts_source\": ", in->kind);
    json_str(f, in->source);
    fprintf(f, ", \"chat_template\": %s", in->chat_template ? "true" : "false");
    if (!in->text) fprintf(f, ", \"prompts\": %d", in->n_prompts);
    if (r->max_prompts) fprintf(f, ", \"max_prompts\": %d", r->max_prompts);
    fprintf(f, ", \"metrics\": {\"kl\": \"sum_v p_v (ln(p_v + 1e-12) - ln(q_v + 1e-12)), p = softmax(reference), "
               "q = softmax(candidate), float64, full vocabulary, T=1\", \"correlation\": \"Pearson of the raw "
               "logits, population std; 1 if both are constant, 0 if one is\", \"match\": \"argmax(reference) == "
               "argmax(candidate)\", \"entropy\": \"-sum_v q_v ln(q_v + 1e-12) (candidate)\", \"summary\": \"%s\"}",
            in->text ? "means over all scored positions; min/max over chunks"
                     : "unweighted means of the per-prompt means; min/max over prompts");
    fprintf(f, ", \"guidelines\": {\"healthy\": {\"kl_below\": %g, \"corr_above\": %g, \"match_above\": %g}, "
               "\"concerning\": {\"kl_above\": %g, \"corr_below\": %g, \"match_below\": %g}}}",
            EVAL_KL_HEALTHY, EVAL_CORR_HEALTHY, EVAL_MATCH_HEALTHY, EVAL_KL_CONCERNING, EVAL_CORR_CONCERNING,
            EVAL_MATCH_CONCERNING);
}

/* "label", "context", "prompts_skipped", "seconds", "summary", "prompts" (text: "chunks") of one
 * configuration, without braces. */
static void json_scores(FILE *f, const EvalScores *s, const EvalInputs *in) {
    fprintf(f, "\"label\": ");
    json_str(f, s->label);
    fprintf(f, ", \"context\": %d, \"prompts_skipped\": %d, \"seconds\": ", s->context, s->skipped);
    json_number(f, s->seconds);
    fprintf(f, ", \"summary\": ");
    json_summary(f, &s->sum);
    fprintf(f, ", \"%s\": [", in->text ? "chunks" : "prompts");
    for (int i = 0; i < s->n_res; i++) {
        fprintf(f, i ? ",\n    " : "\n    ");
        json_prompt(f, in->text ? NULL : &s->prompts[i], &s->res[i], i, in->text);
    }
    fprintf(f, "]");
}

int eval_report_write_json(FILE *f, const EvalReport *r) {
    fprintf(f, "{\"tool\": \"anemll eval\", ");
    if (r->sweep) {
        fprintf(f, "\"sweep\": true, ");
        json_settings(f, r);
        fprintf(f, ", \"calibration\": ");
        json_str(f, r->calibration);
        fprintf(f, ", \"configurations\": [");
        for (int i = 0; i < r->n_entries; i++) {
            const EvalEntry *e = &r->entries[i];
            fprintf(f, i ? ",\n  {" : "\n  {");
            json_scores(f, &e->scores, &r->inputs);
            json_lut(f, "lut_embeddings", e->lut_embeddings);
            json_lut(f, "lut_ffn", e->lut_ffn);
            json_lut(f, "lut_lmhead", e->lut_lmhead);
            json_key_num(f, "alpha", e->alpha, 1);
            json_key_num(f, "conversion_seconds", e->conversion_seconds, 1);
            fprintf(f, ", \"candidate\": ");
            json_model(f, &e->candidate);
            fprintf(f, "}");
        }
        fprintf(f, "]}\n");
    } else {
        json_settings(f, r);
        fprintf(f, ", \"candidate\": ");
        json_model(f, &r->entries[0].candidate);
        fprintf(f, ", ");
        json_scores(f, &r->entries[0].scores, &r->inputs);
        fprintf(f, "}\n");
    }
    if (fflush(f) || ferror(f)) {
        err_set("cannot write the JSON report");
        return -1;
    }
    return 0;
}
