/* Quality-report metrics against independently computed values, the summaries and verdicts,
 * prompt files, both protocols on the golden tiny checkpoint (self-check, perplexity from the
 * Hugging Face logits, greedy tokens), and the report's JSON read back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/eval.h"
#include "eval/metrics.h"
#include "eval/prompts.h"
#include "eval/protocol.h"
#include "eval/report.h"
/* only some of golden.h's helpers are used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "golden.h"
#pragma GCC diagnostic pop
#include "util/util.h"

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol))

static void test_identical_logits(void) {
    float h[7] = {0.5f, -1.25f, 3.0f, 2.0f, 0.0f, -7.5f, 1.0f};
    EvalStep s;
    eval_step(h, h, 7, &s);
    CHECKF(s.kl == 0.0, "kl %.17g", s.kl);
    CHECKF(s.corr == 1.0, "corr %.17g", s.corr);
    CHECK(s.match == 1 && s.ref_top == 2 && s.cand_top == 2);
    /* entropy computed here independently: -sum q ln q with q = softmax(h) */
    double z = 0, ent = 0;
    for (int i = 0; i < 7; i++) z += exp(h[i]);
    for (int i = 0; i < 7; i++) ent -= exp(h[i]) / z * log(exp(h[i]) / z);
    CHECKF(NEAR(s.entropy, ent, 1e-9), "entropy %.17g vs %.17g", s.entropy, ent);
}

/* h = (1, 2, 3), c = (1, 3, 2): both share Z = 1 + e + e^2 (after shifting by 1), so
 * KL = sum p (h - c) = p3 - p2 = (e^2 - e) / (1 + e + e^2); deviations (-1, 0, 1) and (-1, 1, 0)
 * give cov 1/3, var 2/3 each: corr = 1/2. */
static void test_hand_worked(void) {
    float h[3] = {1, 2, 3}, c[3] = {1, 3, 2};
    EvalStep s;
    eval_step(h, c, 3, &s);
    double e = exp(1.0), z = 1 + e + e * e;
    double kl = (e * e - e) / z; /* 4.670774 / 11.107338 = 0.4205125 */
    CHECKF(NEAR(s.kl, kl, 1e-10), "kl %.17g vs %.17g", s.kl, kl);
    CHECKF(NEAR(kl, 0.4205125, 1e-6), "hand value %.9f", kl);
    CHECKF(NEAR(s.corr, 0.5, 1e-15), "corr %.17g", s.corr);
    CHECK(s.match == 0 && s.ref_top == 2 && s.cand_top == 1);
    /* q = (1, e^2, e) / z: H = ln z - (2 e^2 + e) / z */
    double ent = log(z) - (2 * e * e + e) / z;
    CHECKF(NEAR(s.entropy, ent, 1e-10), "entropy %.17g vs %.17g", s.entropy, ent);

    /* p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3) */
    float a[2] = {0, 0}, b[2] = {0, (float)log(3.0)};
    eval_step(a, b, 2, &s);
    CHECKF(NEAR(s.kl, 0.5 * log(4.0 / 3.0), 1e-7), "kl %.17g", s.kl); /* float ln 3 */
    CHECK(s.match == 0 && s.ref_top == 0); /* a ties: the first index */
    CHECK(NEAR(eval_log_softmax_at(b, 2, 0), log(0.25), 1e-7));
    CHECK(NEAR(eval_log_softmax_at(b, 2, 1), log(0.75), 1e-7));
}

static void test_pearson(void) {
    float a[5] = {1, 2, 4, 8, 16}, neg[5], aff[5];
    for (int i = 0; i < 5; i++) {
        neg[i] = -a[i];
        aff[i] = 2 * a[i] + 3;
    }
    CHECK(NEAR(eval_pearson(a, neg, 5), -1, 1e-15));
    CHECK(NEAR(eval_pearson(a, aff, 5), 1, 1e-15));
    /* x = (1, 2, 3, 4), y = (2, 1, 4, 3): cov 0.75, var 1.25 each -> 0.6 */
    float x[4] = {1, 2, 3, 4}, y[4] = {2, 1, 4, 3};
    CHECK(NEAR(eval_pearson(x, y, 4), 0.6, 1e-15));
}

static void test_constant_logits(void) {
    enum { V = 1000 };
    float *h = xmalloc(sizeof(float) * V), *c = xmalloc(sizeof(float) * V), *g = xmalloc(sizeof(float) * V);
    for (int i = 0; i < V; i++) {
        h[i] = 2.5f;
        c[i] = -4.0f; /* another constant: the same uniform distribution */
        g[i] = (float)(i % 17) * 0.25f;
    }
    EvalStep s;
    eval_step(h, c, V, &s);
    CHECKF(s.kl == 0.0 && s.corr == 1.0 && s.match == 1, "kl %g corr %g", s.kl, s.corr);
    CHECKF(NEAR(s.entropy, log((double)V), 1e-6), "entropy %.17g", s.entropy);
    eval_step(h, g, V, &s); /* one constant: correlation 0, everything finite */
    CHECKF(isfinite(s.kl) && s.kl > 0 && s.corr == 0.0 && isfinite(s.entropy), "kl %g corr %g", s.kl, s.corr);
    eval_step(g, h, V, &s);
    CHECKF(isfinite(s.kl) && s.kl > 0 && s.corr == 0.0 && isfinite(s.entropy), "kl %g corr %g", s.kl, s.corr);
    EvalAccum a;
    eval_accum_init(&a);
    eval_accum_add(&a, &s);
    EvalPromptResult r = {0};
    eval_accum_finish(&a, &r);
    EvalSummary sum;
    eval_summarize(&r, 1, 0, &sum);
    CHECK(!isnan(sum.kl_mean) && !isnan(sum.corr_mean) && !isnan(sum.entropy_mean) && !isnan(sum.match_rate));
    free(h);
    free(c);
    free(g);
}

static void test_topk(void) {
    float a[8] = {0.1f, 5, 3, 5, -1, 4, 2, 0};
    int t[5];
    eval_topk(a, 8, 5, t);
    int want[5] = {1, 3, 5, 2, 6}; /* ties: lower index first */
    CHECK(memcmp(t, want, sizeof want) == 0);
    float b[8] = {9, 5, 3, 5, -1, 4, 0, 2}; /* top5 {0, 1, 3, 5, 2}: shares 1, 3, 5, 2 */
    CHECK(NEAR(eval_top5_overlap(a, b, 8), 0.8, 1e-15));
    CHECK(eval_top5_overlap(a, a, 8) == 1.0);
    float bad[3] = {1, NAN, 2};
    CHECK(eval_first_nonfinite(bad, 3) == 1 && eval_first_nonfinite(a, 8) == -1);
}

static EvalStep mk(double kl, double corr, int match) {
    EvalStep s;
    memset(&s, 0, sizeof s);
    s.kl = kl;
    s.corr = corr;
    s.match = match;
    s.entropy = 1.0;
    return s;
}

static void test_summary(void) {
    EvalPromptResult r[2];
    memset(r, 0, sizeof r);
    EvalAccum a;
    eval_accum_init(&a); /* prompt 1: 4 steps, mismatch at step 2 */
    EvalStep s1[4] = {mk(0.1, 0.9, 1), mk(0.2, 0.8, 1), mk(0.3, 0.7, 0), mk(0.4, 0.6, 1)};
    for (int i = 0; i < 4; i++) eval_accum_add(&a, &s1[i]);
    eval_accum_finish(&a, &r[0]);
    r[0].steps_requested = 4;
    eval_accum_init(&a); /* prompt 2: 1 step (capped from 4) */
    EvalStep s2 = mk(1.0, 0.5, 1);
    eval_accum_add(&a, &s2);
    eval_accum_finish(&a, &r[1]);
    r[1].steps_requested = 4;
    CHECK(r[0].steps == 4 && r[0].first_divergence == 2 && r[1].first_divergence == -1);
    CHECK(NEAR(r[0].kl_mean, 0.25, 1e-15) && NEAR(r[0].kl_max, 0.4, 1e-15) && NEAR(r[0].match_rate, 0.75, 1e-15));
    CHECK(NEAR(r[0].corr_mean, 0.75, 1e-15) && NEAR(r[0].corr_min, 0.6, 1e-15));
    EvalSummary s;
    eval_summarize(r, 2, 0, &s); /* unweighted over prompts */
    CHECK(s.prompts == 2 && s.steps == 4 && s.scored_steps == 5 && s.capped == 1);
    CHECK(NEAR(s.kl_mean, 0.625, 1e-15) && NEAR(s.kl_min, 0.25, 1e-15) && NEAR(s.kl_max, 1.0, 1e-15));
    CHECK(NEAR(s.match_rate, 0.875, 1e-15) && NEAR(s.match_min, 0.75, 1e-15) && NEAR(s.match_max, 1, 1e-15));
    CHECK(NEAR(s.corr_mean, 0.625, 1e-15));
    eval_summarize(r, 2, 1, &s); /* weighted by steps: (1.0 + 1.0) / 5 */
    CHECK(NEAR(s.kl_mean, 0.4, 1e-15) && NEAR(s.match_rate, 0.8, 1e-15) && s.steps == 5);
}

static void test_verdicts(void) {
    CHECK(verdict_kl(0.29) == VERDICT_HEALTHY && verdict_kl(0.3) == VERDICT_WATCH);
    CHECK(verdict_kl(0.5) == VERDICT_WATCH && verdict_kl(0.51) == VERDICT_CONCERNING);
    CHECK(verdict_kl(NAN) == VERDICT_CONCERNING);
    CHECK(verdict_corr(0.951) == VERDICT_HEALTHY && verdict_corr(0.95) == VERDICT_WATCH);
    CHECK(verdict_corr(0.90) == VERDICT_WATCH && verdict_corr(0.8999) == VERDICT_CONCERNING);
    CHECK(verdict_match(0.86) == VERDICT_HEALTHY && verdict_match(0.85) == VERDICT_WATCH);
    CHECK(verdict_match(0.75) == VERDICT_WATCH && verdict_match(0.7499) == VERDICT_CONCERNING);
    EvalSummary s;
    memset(&s, 0, sizeof s);
    s.kl_mean = 0.1, s.corr_mean = 0.99, s.match_rate = 0.9;
    char note[128];
    eval_verdict_note(&s, note, sizeof note);
    CHECKF(!strcmp(note, "healthy"), "%s", note);
    s.kl_mean = 0.6, s.corr_mean = 0.92, s.match_rate = 0.5;
    eval_verdict_note(&s, note, sizeof note);
    CHECKF(!strcmp(note, "concerning: KL, match; watch: correlation"), "%s", note);
    LutInfo none = {0, 0}, f44 = {4, 4}, l64 = {6, 4}, f48 = {4, 8};
    char label[128];
    eval_luts_label(none, none, none, label, sizeof label);
    CHECK(!strcmp(label, "FP16 baseline (no LUT)"));
    eval_luts_label(none, f44, l64, label, sizeof label);
    CHECK(!strcmp(label, "FFN LUT4,4 + LM LUT6,4"));
    eval_luts_label(none, f48, none, label, sizeof label);
    CHECK(!strcmp(label, "FFN LUT4,8 only"));
    eval_luts_label(none, f48, l64, label, sizeof label);
    CHECK(!strcmp(label, "FFN LUT4,8 + LM LUT6,4"));
}

static char *write_tmp(const char *text) {
    char *path = xstrdup("/tmp/anemll_test_eval_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return path;
    if (write(fd, text, strlen(text)) < 0) perror("write");
    close(fd);
    return path;
}

static int prompts_error(const char *text, const char *want) {
    char *p = write_tmp(text);
    EvalPrompt *ps;
    int n, rc = eval_prompts_read(p, NULL, 100, &ps, &n);
    unlink(p);
    free(p);
    if (rc == 0) {
        eval_prompts_free(ps, n);
        fprintf(stderr, "  no error for %s\n", text);
        return 0;
    }
    if (!strstr(err_get(), want)) {
        fprintf(stderr, "  error '%s' lacks '%s'\n", err_get(), want);
        return 0;
    }
    return 1;
}

static void test_prompt_files(void) {
    char *p = write_tmp("{\"ids\": [2, 5, 7]}\n\n  \n{\"ids\": [2, 99]}\n");
    EvalPrompt *ps;
    int n;
    CHECK(eval_prompts_read(p, NULL, 100, &ps, &n) == 0);
    CHECK(n == 2 && ps[0].n == 3 && ps[0].ids[2] == 7 && ps[0].line == 1 && ps[1].line == 4 && ps[1].ids[1] == 99);
    eval_prompts_free(ps, n);
    unlink(p);
    free(p);
    CHECK(prompts_error("{\"ids\": [2]}\n{\"ids\": [2]}\n{\"ids\": [2,\n", "line 3:"));
    CHECK(prompts_error("{\"ids\": [2]}\n{\"ids\": [2, 100]}\n", "line 2: token id 100 at position 1 is outside"));
    CHECK(prompts_error("{\"ids\": [-1]}\n", "line 1: token id -1"));
    CHECK(prompts_error("{\"ids\": [1.5]}\n", "line 1: \"ids\" item 0 is not an integer"));
    CHECK(prompts_error("{\"ids\": []}\n", "line 1: empty prompt"));
    CHECK(prompts_error("\n\n", "no prompts"));
    CHECK(prompts_error("", "no prompts"));
    CHECK(prompts_error("{\"text\": \"hello\"}\n", "line 1: a text prompt needs a tokenizer"));
    CHECK(prompts_error("[1, 2]\n", "line 1: expected an object"));
    CHECK(prompts_error("{\"ids\": [2], \"text\": \"x\"}\n", "not both"));
    CHECK(prompts_error("{\"other\": 1}\n", "line 1: expected"));
    EvalPrompt *x = NULL;
    CHECK(eval_prompts_read("/nonexistent/prompts.jsonl", NULL, 100, &x, &n) != 0 && strstr(err_get(), "cannot open"));

    /* random prompts: fixed, BOS first, in the vocabulary, two longer than the window */
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 512, c.sliding_window = 8, c.bos_token_id = 2;
    char desc[256];
    EvalPrompt *r1 = eval_prompts_random(&c, 100, &n, desc, sizeof desc);
    EvalPrompt *r2 = eval_prompts_random(&c, 100, &n, desc, sizeof desc);
    int want[5] = {4, 12, 40, 15, 19}, ok = n == 5;
    for (int i = 0; ok && i < n; i++) {
        ok &= r1[i].n == want[i] && r1[i].ids[0] == 2 && !memcmp(r1[i].ids, r2[i].ids, sizeof(int) * (size_t)r1[i].n);
        for (int j = 1; j < r1[i].n; j++) ok &= r1[i].ids[j] >= 3 && r1[i].ids[j] < 512;
    }
    CHECK(ok);
    eval_prompts_free(r1, n);
    eval_prompts_free(r2, n);
    CHECK(!strcmp(desc, "5 prompts, BOS first, lengths 4, 12, 40, 15, 19"));
    /* the description gives the lengths used, not the ones asked for */
    EvalPrompt *r3 = eval_prompts_random(&c, 10, &n, desc, sizeof desc);
    CHECK(r3[2].n == 10 && r3[4].n == 10);
    CHECKF(!strcmp(desc, "5 prompts, BOS first, lengths 4, 10 (clipped from 12), 10 (clipped from 40), "
                         "10 (clipped from 15), 10 (clipped from 19)"),
           "%s", desc);
    eval_prompts_free(r3, n);
}

/* The golden tiny checkpoint against itself: every number exact; the reference-driven tokens are
 * the golden greedy continuation (past the sliding window); the text protocol's perplexity is
 * the one of the Hugging Face logits. */
static void test_golden_self(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny", data_dir());
    Model m;
    if (model_load(&m, dir)) {
        CHECKF(0, "%s", err_get());
        return;
    }
    GoldenCase g;
    CHECK(golden_load(&g, dir, "cases/case2_len100.json") == 0);
    EvalPrompt p[2] = {{g.tokens, 5, NULL, 0, 0}, {g.tokens, g.n_tokens, NULL, 0, 0}};
    EvalOptions o;
    memset(&o, 0, sizeof o);
    o.steps = g.n_greedy;
    o.driver_reference = 1;
    o.cand_batch = 7;
    o.ref_batch = 64;
    o.context = 512;
    EvalPromptResult r[2];
    CHECK(eval_generate(&m, &m, p, 2, &o, r) == 0);
    CHECK(r[1].steps == g.n_greedy && memcmp(r[1].tokens, g.greedy, sizeof(int) * (size_t)g.n_greedy) == 0);
    for (int i = 0; i < 2; i++)
        CHECKF(r[i].kl_mean == 0 && r[i].kl_max == 0 && r[i].corr_mean == 1 && r[i].match_rate == 1 &&
                   r[i].first_divergence == -1,
               "prompt %d: kl %g corr %.17g match %g", i, r[i].kl_mean, r[i].corr_mean, r[i].match_rate);
    /* steps capped by the context: 100 tokens + 20 steps in a context of 110 -> 11 steps */
    eval_result_free(&r[0]);
    eval_result_free(&r[1]);
    o.context = 110;
    CHECK(eval_generate(&m, &m, p + 1, 1, &o, r) == 0 && r[0].steps == 11 && r[0].steps_requested == 20);
    eval_result_free(&r[0]);
    o.context = 99;
    CHECK(eval_generate(&m, &m, p + 1, 1, &o, r) != 0 && strstr(err_get(), "do not fit the context of 99"));
    for (int i = 0; i < 1; i++) eval_result_free(&r[i]);

    /* text protocol: PPL of the golden logits, computed here from the file */
    double nll = 0;
    for (int t = 0; t + 1 < g.n_tokens; t++) {
        const float *row = g.logits + (size_t)t * g.vocab;
        double mx = row[0], z = 0;
        for (int v = 1; v < g.vocab; v++) mx = row[v] > mx ? row[v] : mx;
        for (int v = 0; v < g.vocab; v++) z += exp(row[v] - mx);
        nll -= row[g.tokens[t + 1]] - mx - log(z);
    }
    double ppl = exp(nll / (g.n_tokens - 1));
    o.context = 512;
    o.chunk = 512;
    EvalPromptResult *tr;
    int nch;
    CHECK(eval_text(&m, &m, g.tokens, g.n_tokens, &o, &tr, &nch) == 0 && nch == 1);
    EvalSummary s;
    eval_summarize(tr, nch, 1, &s);
    CHECKF(s.scored_steps == g.n_tokens - 1 && s.kl_mean == 0 && s.corr_mean == 1 && s.match_rate == 1 &&
               s.top5 == 1 && s.ppl_ref == s.ppl_cand,
           "kl %g corr %.17g top5 %g", s.kl_mean, s.corr_mean, s.top5);
    CHECKF(NEAR(s.ppl_ref, ppl, 1e-4 * ppl), "ppl %.9g vs golden %.9g", s.ppl_ref, ppl);
    free(tr);
    /* chunks of 40: [0, 40), then BOS + 39 new tokens: 40 + 40 + 22 tokens, 39 + 39 + 21 scored */
    o.chunk = 40;
    CHECK(eval_text(&m, &m, g.tokens, g.n_tokens, &o, &tr, &nch) == 0 && nch == 3);
    if (nch == 3) CHECK(tr[0].steps == 39 && tr[1].steps == 39 && tr[2].steps == 21 && tr[2].prompt_tokens == 22);
    free(tr);
    golden_free(&g);
    model_free(&m);
}

/* What a progress callback sees: one stage "scoring", done from 0 up to total, total fixed and equal
 * to the steps (positions) scored; stop_at > 0 asks to stop there. */
typedef struct {
    int calls, bad;
    long done, total, stop_at;
} ProgressLog;

static int log_progress(void *ctx, const char *stage, const char *unit, long done, long total) {
    ProgressLog *l = ctx;
    (void)unit;
    l->bad |= strcmp(stage, "scoring") != 0 || (l->calls ? done < l->done || total != l->total : done != 0);
    l->calls++;
    l->done = done;
    l->total = total;
    return l->stop_at > 0 && done >= l->stop_at;
}

/* Progress of both protocols on the shipped checkpoint (models/anemll-tiny): the totals known up
 * front match what is scored (capped steps; text chunks with and without BOS, a lone last token),
 * and a callback's request to stop fails the run with "interrupted". */
static void test_progress_reports(void) {
    Model m;
    if (model_load(&m, "models/anemll-tiny")) {
        CHECKF(0, "%s", err_get());
        return;
    }
    int ids[81];
    for (int i = 0; i < 81; i++) ids[i] = i ? 3 + i * 7 % 200 : m.cfg.bos_token_id;
    EvalPrompt p[2] = {{ids, 5, NULL, 0, 0}, {ids, 60, NULL, 0, 0}};
    EvalOptions o;
    memset(&o, 0, sizeof o);
    o.steps = 8;
    o.cand_batch = o.ref_batch = 16;
    o.context = 64; /* the second prompt: 5 steps */
    ProgressLog l = {0};
    o.progress = (Progress){log_progress, &l};
    EvalPromptResult r[2];
    CHECK(eval_generate(&m, &m, p, 2, &o, r) == 0);
    CHECKF(!l.bad && l.total == 13 && l.done == 13 && r[0].steps + r[1].steps == 13, "total %ld done %ld bad %d",
           l.total, l.done, l.bad);
    for (int i = 0; i < 2; i++) eval_result_free(&r[i]);
    l = (ProgressLog){.stop_at = 3};
    CHECK(eval_generate(&m, &m, p, 2, &o, r) != 0 && !strcmp(err_get(), "interrupted") && l.done == 3);
    for (int i = 0; i < 2; i++) eval_result_free(&r[i]);

    /* text, chunks of 20: with BOS 81 tokens score 80; without, 80 tokens in 4 chunks score 76, and
     * 81 tokens as well (the lone last token scores nothing) */
    const struct {
        int first, n, bos;
        long scored;
    } texts[] = {{0, 81, 1, 80}, {1, 80, 0, 76}, {0, 81, 0, 76}};
    o.chunk = 20;
    for (int t = 0; t < 3; t++) {
        ids[0] = texts[t].bos ? m.cfg.bos_token_id : 5;
        EvalPromptResult *tr;
        int nch;
        l = (ProgressLog){0};
        CHECK(eval_text(&m, &m, ids + texts[t].first, texts[t].n, &o, &tr, &nch) == 0);
        EvalSummary s;
        eval_summarize(tr, nch, 1, &s);
        CHECKF(!l.bad && l.total == texts[t].scored && l.done == l.total && s.scored_steps == l.total,
               "text %d: total %ld done %ld scored %d bad %d", t, l.total, l.done, s.scored_steps, l.bad);
        free(tr);
    }
    model_free(&m);
}

/* eval_run refuses a plan it cannot run before loading anything. */
static void test_plan_checks(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny", data_dir());
    EvalPlan p;
    eval_plan_init(&p);
    EvalReport *r;
    CHECK(eval_run(&p, &r) != 0 && !r && strstr(err_get(), "no reference"));
    p.reference = dir;
    CHECK(eval_run(&p, &r) != 0 && !r && strstr(err_get(), "no candidate"));
    p.sweep = 1;
    p.candidate = dir;
    CHECK(eval_run(&p, &r) != 0 && !r && strstr(err_get(), "no candidate goes with it"));
    p.sweep = 0;
    p.precision = (Precision)7; /* the CLI parses names once (precision_parse); a plan holds the enum */
    CHECK(eval_run(&p, &r) != 0 && !r && strstr(err_get(), "not a precision"));
    Precision q;
    CHECK(precision_parse("int4", &q) != 0 && strstr(err_get(), "'int4'"));
    CHECK(precision_parse("fp16", &q) == 0 && q == PRECISION_FP16 && !strcmp(precision_name(q), "fp16"));
}

/* Phases a run reports: starts and ends of each evaluation, what the last one scored. */
typedef struct {
    int starts, ends, results, text;
    char label[64];
} PhaseLog;

static int log_phase(void *ctx, const EvalPhase *ph) {
    PhaseLog *l = ctx;
    if (ph->kind != EVAL_PHASE_SCORE) return 0;
    if (!ph->end) {
        l->starts++;
        return 0;
    }
    l->ends += ph->ok;
    l->results = ph->results;
    l->text = ph->text;
    snprintf(l->label, sizeof l->label, "%s", ph->label);
    return 0;
}

/* The report of a run as JSON, parsed back; NULL when the run or the writing failed. */
static cJSON *run_json(const EvalPlan *p) {
    EvalReport *r;
    if (eval_run(p, &r)) {
        fprintf(stderr, "  eval_run: %s\n", err_get());
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? eval_report_write_json(f, r) : -1;
    if (f) fclose(f);
    eval_report_free(r);
    cJSON *j = rc == 0 ? cJSON_ParseWithLength(buf, len) : NULL;
    free(buf);
    return j;
}

static const cJSON *at(const cJSON *j, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

/* eval_run on the golden tiny checkpoint against itself, its JSON read back: the settings, the
 * candidate, the summary and the per-prompt (per-chunk) results, strings escaped. */
static void test_report_json(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/tiny", data_dir());
    const char *label = "self \"check\"\t\\ \xc3\xa9";
    EvalPlan p;
    eval_plan_init(&p);
    p.candidate = p.reference = dir;
    p.steps = 3;
    p.label = label;
    p.command_line = "anemll eval --label 'self \"check\"'";
    PhaseLog l = {0};
    p.phase = log_phase;
    p.progress.ctx = &l;
    cJSON *j = run_json(&p);
    CHECK(j != NULL);
    if (!j) return;
    CHECK(cJSON_IsString(at(j, "tool", NULL)) && !strcmp(at(j, "tool", NULL)->valuestring, "anemll eval"));
    const cJSON *set = at(j, "settings", NULL);
    CHECK(!strcmp(at(set, "command_line", NULL)->valuestring, p.command_line));
    CHECK(!strcmp(at(set, "protocol", NULL)->valuestring, "generate") &&
          !strcmp(at(set, "driver", NULL)->valuestring, "candidate") &&
          !strcmp(at(set, "candidate_precision", NULL)->valuestring, "q8") &&
          !strcmp(at(set, "prompts_kind", NULL)->valuestring, "random"));
    CHECK(at(set, "steps", NULL)->valueint == 3 && at(set, "prompts", NULL)->valueint == 5 &&
          at(set, "context", NULL)->valueint == 512 && !at(set, "max_prompts", NULL));
    CHECK(!strcmp(at(set, "reference", "dir")->valuestring, dir) &&
          !strcmp(at(set, "reference", "precision")->valuestring, "fp32") && at(set, "metrics", "kl") &&
          at(at(set, "guidelines", NULL), "healthy", "kl_below")->valuedouble == 0.3);
    CHECK(!strcmp(at(j, "candidate", "configuration")->valuestring, "unconverted (FP32 of the checkpoint)") &&
          cJSON_GetArraySize(at(j, "candidate", "files")) == 1 && at(j, "candidate", "alpha")->valuedouble == 1);
    CHECK(!strcmp(at(j, "label", NULL)->valuestring, label));
    CHECK(at(j, "summary", "kl_mean")->valuedouble == 0 && at(j, "summary", "match_rate")->valuedouble == 1 &&
          at(j, "summary", "scored_steps")->valueint == 15 &&
          !strcmp(at(at(j, "summary", NULL), "verdict", "kl")->valuestring, "healthy"));
    const cJSON *prompts = at(j, "prompts", NULL);
    CHECK(cJSON_GetArraySize(prompts) == 5 && !at(j, "chunks", NULL));
    const cJSON *p0 = cJSON_GetArrayItem(prompts, 0);
    CHECK(p0 && cJSON_GetArraySize(at(p0, "prompt_ids", NULL)) == 4 &&
          cJSON_GetArraySize(at(p0, "tokens", NULL)) == 3 && cJSON_IsNull(at(p0, "line", NULL)) &&
          cJSON_IsNull(at(p0, "first_divergence", NULL)) && cJSON_IsFalse(at(p0, "steps_capped", NULL)));
    CHECKF(l.starts == 1 && l.ends == 1 && l.results == 5 && !l.text && !strcmp(l.label, label),
           "phases: %d starts, %d ends, %d results", l.starts, l.ends, l.results);
    cJSON_Delete(j);

    /* the text protocol: chunks with perplexities; the chunk asked for, clipped to the context */
    char ids[] = "/tmp/anemll_test_eval_XXXXXX";
    int fd = mkstemp(ids);
    CHECK(fd >= 0 && write(fd, "2 10 20 30 40 50 60 70 80 90\n", 29) == 29);
    if (fd >= 0) close(fd);
    eval_plan_init(&p);
    p.candidate = p.reference = dir;
    p.text_ids_file = ids;
    p.chunk = 600;
    j = run_json(&p);
    unlink(ids);
    CHECK(j != NULL);
    if (!j) return;
    set = at(j, "settings", NULL);
    CHECK(!strcmp(at(set, "protocol", NULL)->valuestring, "text") && cJSON_IsNull(at(set, "command_line", NULL)) &&
          at(set, "chunk", NULL)->valueint == 512 && at(set, "chunk_requested", NULL)->valueint == 600 &&
          at(set, "steps", NULL)->valueint == 0 && !at(set, "prompts", NULL));
    CHECK(cJSON_GetArraySize(at(j, "chunks", NULL)) == 1 && !at(j, "prompts", NULL) &&
          at(j, "summary", "scored_steps")->valueint == 9 && at(j, "summary", "top5_agreement")->valuedouble == 1 &&
          cJSON_IsNumber(at(j, "summary", "ppl_reference")));
    cJSON_Delete(j);
}

int main(void) {
    RUN(test_identical_logits);
    RUN(test_hand_worked);
    RUN(test_pearson);
    RUN(test_constant_logits);
    RUN(test_topk);
    RUN(test_summary);
    RUN(test_verdicts);
    RUN(test_prompt_files);
    RUN(test_golden_self);
    RUN(test_progress_reports);
    RUN(test_plan_checks);
    RUN(test_report_json);
    CHECK_EXIT();
}
