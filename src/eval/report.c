/* Verdicts, labels, the table and the JSON pieces. See report.h. */
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

/* ---------------------------------------------------------------- output */

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

static void fmt_kl(double kl, char *buf, size_t n) {
    if (kl != 0 && fabs(kl) < 1e-4)
        snprintf(buf, n, "%.1e", kl);
    else
        snprintf(buf, n, "%.4f", kl);
}

void eval_print_table(FILE *f, const EvalRow *rows, int n) {
    static const char *head[5] = {"Configuration", "KL Divergence", "Correlation", "Match Rate", "Notes"};
    char (*cells)[5][256] = xcalloc((size_t)n + 1, sizeof *cells);
    size_t w[5];
    for (int c = 0; c < 5; c++) {
        snprintf(cells[0][c], sizeof cells[0][c], "%s", head[c]);
        w[c] = strlen(head[c]);
    }
    for (int i = 0; i < n; i++) {
        char (*r)[256] = cells[i + 1];
        const EvalSummary *s = rows[i].s;
        snprintf(r[0], 256, "%s", rows[i].label);
        fmt_kl(s->kl_mean, r[1], 256);
        snprintf(r[2], 256, "%.4f", s->corr_mean);
        snprintf(r[3], 256, "%.1f%%", 100.0 * s->match_rate);
        char note[160];
        eval_verdict_note(s, note, sizeof note);
        snprintf(r[4], 256, "%s%s%s", note, rows[i].extra && *rows[i].extra ? "; " : "",
                 rows[i].extra ? rows[i].extra : "");
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

void eval_json_number(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void json_key_num(FILE *f, const char *key, double v, int comma) {
    fprintf(f, "%s\"%s\": ", comma ? ", " : "", key);
    eval_json_number(f, v);
}

void eval_json_summary(FILE *f, const EvalSummary *s) {
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

void eval_json_prompt(FILE *f, const EvalPrompt *p, const EvalPromptResult *r, int index, int text_protocol) {
    fprintf(f, "{\"index\": %d", index);
    if (p) {
        if (p->line)
            fprintf(f, ", \"line\": %d", p->line);
        else
            fprintf(f, ", \"line\": null");
        if (p->text) {
            fprintf(f, ", \"text\": ");
            tokjson_write_string(f, p->text, p->text_len);
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

static void json_str(FILE *f, const char *s) { tokjson_write_string(f, s, strlen(s)); }

void eval_json_model(FILE *f, const Model *m, const char *precision, int batch) {
    fprintf(f, "{\"dir\": ");
    json_str(f, m->dir);
    fprintf(f, ", \"converted\": %s, \"files\": [", m->converted ? "true" : "false");
    for (int i = 0; i < m->st.n_files; i++) {
        if (i) fprintf(f, ", ");
        json_str(f, m->st.files[i].path);
    }
    char label[256];
    eval_config_label(m, label, sizeof label);
    fprintf(f, "], \"configuration\": ");
    json_str(f, label);
    json_key_num(f, "alpha", m->converted ? m->meta.alpha : 1.0, 1);
    LutInfo none = {0, 0};
    const char *keys[3] = {"lut_embeddings", "lut_ffn", "lut_lmhead"};
    LutInfo l[3] = {m->converted ? m->meta.lut_embeddings : none, m->converted ? m->meta.lut_ffn : none,
                    m->converted ? m->meta.lut_lmhead : none};
    for (int i = 0; i < 3; i++) {
        char s[32];
        eval_lut_label(l[i], s, sizeof s);
        fprintf(f, ", \"%s\": \"%s\"", keys[i], s);
    }
    if (m->converted) {
        fprintf(f, ", \"chunks\": %d, \"context_length\": %d", m->meta.num_chunks, m->meta.context_length);
        json_key_num(f, "peak_before", m->meta.peak_before, 1);
        json_key_num(f, "peak_after", m->meta.peak_after, 1);
    }
    fprintf(f, ", \"vocab_size\": %d, \"layers\": %d, \"hidden_size\": %d, \"sliding_window\": %d",
            m->cfg.vocab_size, m->cfg.num_layers, m->cfg.hidden_size, m->cfg.sliding_window);
    fprintf(f, ", \"precision\": \"%s\", \"batch\": %d}", precision, batch);
}
