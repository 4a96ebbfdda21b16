/* Quality report: metrics, prompt sets, the generate and text protocols, table and JSON output.
 * See eval.h for the exact definitions. */
#include "eval/eval.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "model/session.h"
#include "util/util.h"

/* ---------------------------------------------------------------- metrics */

double eval_pearson(const float *a, const float *b, int n) {
    if (n <= 0) return 1.0;
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    double saa = 0, sbb = 0, sab = 0;
    for (int i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    /* population std: sqrt(s / n) */
    int ca = sqrt(saa / n) < 1e-12, cb = sqrt(sbb / n) < 1e-12;
    if (ca || cb) return ca && cb ? 1.0 : 0.0;
    /* mean(da db) / (std a std b) = sab / sqrt(saa sbb): exactly 1 for identical vectors */
    double r = sab / sqrt(saa * sbb);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static int argmax_f(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static double logsumexp(const float *v, int n, double max) {
    double z = 0;
    for (int i = 0; i < n; i++) z += exp((double)v[i] - max);
    return max + log(z);
}

double eval_log_softmax_at(const float *logits, int V, int id) {
    double m = logits[argmax_f(logits, V)];
    return (double)logits[id] - logsumexp(logits, V, m);
}

void eval_step(const float *h, const float *c, int V, EvalStep *o) {
    memset(o, 0, sizeof *o);
    o->ref_top = argmax_f(h, V);
    o->cand_top = argmax_f(c, V);
    o->match = o->ref_top == o->cand_top;
    double mh = h[o->ref_top], mc = c[o->cand_top];
    double zh = 0, zc = 0;
    for (int v = 0; v < V; v++) {
        zh += exp((double)h[v] - mh);
        zc += exp((double)c[v] - mc);
    }
    double kl = 0, ent = 0;
    for (int v = 0; v < V; v++) {
        double p = exp((double)h[v] - mh) / zh, q = exp((double)c[v] - mc) / zc;
        double lq = log(q + EVAL_EPS);
        kl += p * (log(p + EVAL_EPS) - lq);
        ent -= q * lq;
    }
    o->kl = kl;
    o->entropy = ent;
    o->corr = eval_pearson(h, c, V);
}

void eval_topk(const float *v, int n, int k, int *out) {
    int m = 0; /* out[0..m) sorted: larger first, lower index first on ties */
    for (int i = 0; i < n; i++) {
        if (m == k && !(v[i] > v[out[k - 1]])) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && v[i] > v[out[j - 1]]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
}

double eval_top5_overlap(const float *a, const float *b, int n) {
    int k = n < 5 ? n : 5, ta[5], tb[5], common = 0;
    if (k <= 0) return 1.0;
    eval_topk(a, n, k, ta);
    eval_topk(b, n, k, tb);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) common += ta[i] == tb[j];
    return (double)common / k;
}

int eval_first_nonfinite(const float *v, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return -1;
}

/* ---------------------------------------------------------------- accumulation */

void eval_accum_init(EvalAccum *a) {
    memset(a, 0, sizeof *a);
    a->first_div = -1;
    a->kl_max = -INFINITY;
    a->corr_min = INFINITY;
}

void eval_accum_add(EvalAccum *a, const EvalStep *s) {
    if (!s->match && a->first_div < 0) a->first_div = a->n;
    a->n++;
    a->n_match += s->match;
    a->kl += s->kl;
    a->corr += s->corr;
    a->entropy += s->entropy;
    a->nll_ref += s->nll_ref;
    a->nll_cand += s->nll_cand;
    a->top5 += s->top5;
    if (s->kl > a->kl_max) a->kl_max = s->kl;
    if (s->corr < a->corr_min) a->corr_min = s->corr;
}

void eval_accum_finish(const EvalAccum *a, EvalPromptResult *r) {
    r->steps = a->n;
    r->first_divergence = a->first_div;
    if (a->n == 0) {
        r->kl_mean = r->kl_max = r->corr_mean = r->corr_min = r->entropy_mean = r->match_rate = 0;
        r->nll_ref = r->nll_cand = r->top5 = 0;
        return;
    }
    double n = a->n;
    r->kl_mean = a->kl / n;
    r->kl_max = a->kl_max;
    r->corr_mean = a->corr / n;
    r->corr_min = a->corr_min;
    r->entropy_mean = a->entropy / n;
    r->match_rate = a->n_match / n;
    r->nll_ref = a->nll_ref / n;
    r->nll_cand = a->nll_cand / n;
    r->top5 = a->top5 / n;
}

static void minmax(double v, double *lo, double *hi) {
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

void eval_summarize(const EvalPromptResult *r, int n, int weighted, EvalSummary *s) {
    memset(s, 0, sizeof *s);
    s->text = weighted;
    s->kl_min = s->corr_min = s->match_min = s->entropy_min = INFINITY;
    s->kl_max = s->corr_max = s->match_max = s->entropy_max = -INFINITY;
    double w_total = 0, nll_r = 0, nll_c = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].steps <= 0) continue;
        s->prompts++;
        s->scored_steps += r[i].steps;
        s->capped += r[i].steps < r[i].steps_requested;
        double w = weighted ? r[i].steps : 1.0;
        w_total += w;
        s->kl_mean += w * r[i].kl_mean;
        s->corr_mean += w * r[i].corr_mean;
        s->match_rate += w * r[i].match_rate;
        s->entropy_mean += w * r[i].entropy_mean;
        s->top5 += w * r[i].top5;
        nll_r += r[i].steps * r[i].nll_ref;
        nll_c += r[i].steps * r[i].nll_cand;
        minmax(r[i].kl_mean, &s->kl_min, &s->kl_max);
        minmax(r[i].corr_mean, &s->corr_min, &s->corr_max);
        minmax(r[i].match_rate, &s->match_min, &s->match_max);
        minmax(r[i].entropy_mean, &s->entropy_min, &s->entropy_max);
    }
    if (s->prompts == 0) {
        s->kl_min = s->kl_max = s->corr_min = s->corr_max = 0;
        s->match_min = s->match_max = s->entropy_min = s->entropy_max = 0;
        return;
    }
    s->kl_mean /= w_total;
    s->corr_mean /= w_total;
    s->match_rate /= w_total;
    s->entropy_mean /= w_total;
    s->top5 /= w_total;
    s->steps = weighted ? s->scored_steps : (n > 0 ? r[0].steps_requested : 0);
    if (weighted) {
        s->ppl_ref = exp(nll_r / s->scored_steps);
        s->ppl_cand = exp(nll_c / s->scored_steps);
    }
}

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

/* ---------------------------------------------------------------- prompts */

void eval_prompts_free(EvalPrompt *p, int n) {
    if (!p) return;
    for (int i = 0; i < n; i++) {
        free(p[i].ids);
        free(p[i].text);
    }
    free(p);
}

static int prompt_from_json(const TokJson *v, const Tokenizer *tok, int vocab, EvalPrompt *p) {
    memset(p, 0, sizeof *p);
    if (v->type != TJ_OBJECT) {
        err_set("expected an object {\"text\": \"...\"} or {\"ids\": [...]}");
        return -1;
    }
    const TokJson *ids = tokjson_get(v, "ids");
    const TokJson *text = tokjson_get(v, "text");
    if (!text) text = tokjson_get(v, "prompt");
    if (!text) text = tokjson_get(v, "input");
    const TokJson *system = tokjson_get(v, "system");
    if (!ids == !text) {
        err_set(ids ? "give \"text\" or \"ids\", not both" : "expected {\"text\": \"...\"} or {\"ids\": [...]}");
        return -1;
    }
    if (ids) {
        if (ids->type != TJ_ARRAY) {
            err_set("\"ids\" must be an array of token ids");
            return -1;
        }
        if (ids->n == 0) {
            err_set("empty prompt");
            return -1;
        }
        p->ids = xmalloc(sizeof(int) * (size_t)ids->n);
        for (int i = 0; i < ids->n; i++) {
            const TokJson *x = &ids->items[i];
            if (x->type != TJ_NUMBER || x->number != floor(x->number)) {
                err_set("\"ids\" item %d is not an integer", i);
                return -1;
            }
            if (x->number < 0 || x->number >= vocab) {
                err_set("token id %.0f at position %d is outside the vocabulary (0..%d)", x->number, i, vocab - 1);
                return -1;
            }
            p->ids[i] = (int)x->number;
        }
        p->n = ids->n;
        return 0;
    }
    if (text->type != TJ_STRING || (system && system->type != TJ_STRING)) {
        err_set("\"text\" and \"system\" must be strings");
        return -1;
    }
    if (!tok) {
        err_set("a text prompt needs a tokenizer (none found: give --tokenizer FILE, or {\"ids\": [...]} prompts)");
        return -1;
    }
    ChatMessage msgs[2];
    int k = 0;
    if (system) msgs[k++] = (ChatMessage){.role = "system", .text = system->str, .len = system->len};
    msgs[k++] = (ChatMessage){.role = "user", .text = text->str, .len = text->len};
    size_t len;
    char *rendered = chat_render(msgs, k, 1, &len);
    if (!rendered) return -1;
    tok_encode(tok, rendered, len, 0, &p->ids, &p->n);
    free(rendered);
    if (p->n == 0) {
        err_set("empty prompt");
        return -1;
    }
    for (int i = 0; i < p->n; i++)
        if (p->ids[i] < 0 || p->ids[i] >= vocab) {
            err_set("the tokenizer gives id %d, outside the model's vocabulary (0..%d)", p->ids[i], vocab - 1);
            return -1;
        }
    p->text = xmalloc(text->len + 1);
    memcpy(p->text, text->str, text->len + 1);
    p->text_len = text->len;
    return 0;
}

int eval_prompts_read(const char *path, const Tokenizer *tok, int vocab, EvalPrompt **out, int *n) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int number = 0, count = 0, alloc = 0, rc = 0;
    EvalPrompt *ps = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        number++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        TokJson *v = tokjson_parse(line, (size_t)len);
        EvalPrompt p;
        memset(&p, 0, sizeof p);
        if (!v || prompt_from_json(v, tok, vocab, &p)) {
            char why[512];
            snprintf(why, sizeof why, "%s", err_get());
            err_set("%s line %d: %s", path, number, why);
            tokjson_free(v);
            free(p.ids);
            free(p.text);
            rc = -1;
            break;
        }
        tokjson_free(v);
        p.line = number;
        if (count == alloc) ps = xrealloc(ps, sizeof *ps * (size_t)(alloc = alloc ? alloc * 2 : 16));
        ps[count++] = p;
    }
    if (rc == 0 && ferror(f)) {
        err_set("%s: read error", path);
        rc = -1;
    }
    fclose(f);
    free(line);
    if (rc == 0 && count == 0) {
        err_set("%s: no prompts (expected JSON lines {\"text\": \"...\"} or {\"ids\": [...]})", path);
        rc = -1;
    }
    if (rc) {
        eval_prompts_free(ps, count);
        return -1;
    }
    *out = ps;
    *n = count;
    return 0;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

EvalPrompt *eval_prompts_random(const ModelConfig *c, int max_len, int *n, char *desc, size_t desc_n) {
    int sw = c->sliding_window > 0 ? c->sliding_window : 512;
    int lens[5] = {4, 12, 40, sw + 7, 2 * sw + 3};
    *n = 5;
    EvalPrompt *ps = xcalloc(5, sizeof *ps);
    int V = c->vocab_size, lo = V > 3 ? 3 : 0;
    int bos = c->bos_token_id >= 0 && c->bos_token_id < V ? c->bos_token_id : 0;
    size_t k = (size_t)snprintf(desc, desc_n, "5 prompts, BOS first, lengths");
    for (int i = 0; i < 5; i++) {
        int len = lens[i] < max_len ? lens[i] : max_len;
        if (len < 1) len = 1;
        if (k < desc_n) k += (size_t)snprintf(desc + k, desc_n - k, "%s %d", i ? "," : "", len);
        if (k < desc_n && len != lens[i]) k += (size_t)snprintf(desc + k, desc_n - k, " (clipped from %d)", lens[i]);
        uint64_t state = 0xE5A1ull * 1000003ull + (uint64_t)i;
        ps[i].ids = xmalloc(sizeof(int) * (size_t)len);
        ps[i].n = len;
        ps[i].ids[0] = bos;
        for (int j = 1; j < len; j++) ps[i].ids[j] = lo + (int)(splitmix64(&state) % (uint64_t)(V - lo));
    }
    return ps;
}

/* ---------------------------------------------------------------- protocols */

void eval_result_free(EvalPromptResult *r) {
    free(r->tokens);
    r->tokens = NULL;
}

static int check_logits(const float *l, int V, const char *who, int prompt, int step) {
    int bad = eval_first_nonfinite(l, V);
    if (bad < 0) return 0;
    err_set("%s logits are not finite (id %d = %g) at step %d of prompt %d", who, bad, (double)l[bad], step,
            prompt + 1);
    return -1;
}

static int same_vocab(const Model *cand, const Model *ref) {
    if (cand->cfg.vocab_size != ref->cfg.vocab_size) {
        err_set("the candidate's vocabulary (%d) differs from the reference's (%d)", cand->cfg.vocab_size,
                ref->cfg.vocab_size);
        return 0;
    }
    return 1;
}

int eval_generate(const Model *cand, const Model *ref, const EvalPrompt *prompts, int n, const EvalOptions *o,
                  EvalPromptResult *res) {
    memset(res, 0, sizeof *res * (size_t)n);
    if (!same_vocab(cand, ref)) return -1;
    if (o->steps < 1) {
        err_set("steps must be at least 1");
        return -1;
    }
    int V = cand->cfg.vocab_size, need = 1;
    long total = 0, done = 0;
    for (int i = 0; i < n; i++) {
        if (prompts[i].n > o->context) {
            if (prompts[i].line)
                err_set("prompt on line %d: %d tokens do not fit the context of %d", prompts[i].line, prompts[i].n,
                        o->context);
            else
                err_set("prompt %d: %d tokens do not fit the context of %d", i + 1, prompts[i].n, o->context);
            return -1;
        }
        int steps = o->steps < o->context - prompts[i].n + 1 ? o->steps : o->context - prompts[i].n + 1;
        if (prompts[i].n + steps - 1 > need) need = prompts[i].n + steps - 1;
        res[i].prompt_tokens = prompts[i].n;
        res[i].steps_requested = o->steps;
        res[i].first_divergence = -1;
        res[i].tokens = xmalloc(sizeof(int) * (size_t)steps);
        res[i].steps = steps; /* planned; set again from the scores */
        total += steps;
    }
    /* the caches hold only what the longest run needs: the same numbers as the full context */
    Session sc, sr;
    if (session_init(&sc, cand, need, o->cand_batch)) return -1;
    if (session_init(&sr, ref, need, o->ref_batch)) {
        session_free(&sc);
        return -1;
    }
    if (o->cand_precision) runstate_set_precision(&sc.s, o->cand_precision);
    int rc = progress_report(&o->progress, "scoring", "steps", 0, total);
    for (int i = 0; rc == 0 && i < n; i++) {
        double t0 = now_seconds();
        int steps = res[i].steps;
        EvalAccum acc;
        eval_accum_init(&acc);
        /* each prompt from an empty cache: its numbers never depend on the prompt before */
        runstate_reset(&sc.s);
        runstate_reset(&sr.s);
        rc = session_set(&sc, prompts[i].ids, prompts[i].n);
        if (rc == 0) rc = session_set(&sr, prompts[i].ids, prompts[i].n);
        for (int s = 0; rc == 0 && s < steps; s++) {
            if (check_logits(sr.logits, V, "reference", i, s) || check_logits(sc.logits, V, "candidate", i, s)) {
                rc = -1;
                break;
            }
            EvalStep st;
            eval_step(sr.logits, sc.logits, V, &st);
            eval_accum_add(&acc, &st);
            int next = o->driver_reference ? st.ref_top : st.cand_top;
            res[i].tokens[s] = next;
            if (progress_report(&o->progress, "scoring", "steps", ++done, total)) {
                rc = -1;
                break;
            }
            if (s + 1 < steps) {
                rc = session_push(&sc, next);
                if (rc == 0) rc = session_push(&sr, next);
            }
        }
        eval_accum_finish(&acc, &res[i]);
        res[i].seconds = now_seconds() - t0;
    }
    session_free(&sc);
    session_free(&sr);
    return rc;
}

int eval_text(const Model *cand, const Model *ref, const int *ids, int n, const EvalOptions *o,
              EvalPromptResult **res_out, int *n_chunks) {
    *res_out = NULL;
    *n_chunks = 0;
    if (!same_vocab(cand, ref)) return -1;
    if (n < 2) {
        err_set("the text has %d token%s: at least 2 are needed to score a prediction", n, n == 1 ? "" : "s");
        return -1;
    }
    int chunk = o->chunk < o->context ? o->chunk : o->context;
    if (chunk < 2) {
        err_set("chunks of %d tokens score nothing (at least 2)", chunk);
        return -1;
    }
    int V = cand->cfg.vocab_size;
    int bos = ids[0] == cand->cfg.bos_token_id;
    /* chunk starts: chunk 0 = ids[0 .. chunk); later ones = [BOS] + the next chunk - 1 ids (or
     * the next chunk ids without BOS) */
    int per = bos ? chunk - 1 : chunk, nch = 1;
    for (int start = chunk; start < n; start += per) nch++;
    /* positions scored: every token but the first predicted once, except that without BOS a later
     * chunk's first token is not predicted (a lone last token is such a chunk) */
    long total = n - 1 - (bos ? 0 : nch - 1), scored = 0;
    EvalPromptResult *res = xcalloc((size_t)nch, sizeof *res);
    int B = o->cand_batch < chunk ? o->cand_batch : chunk;
    RunState sc, sr;
    if (runstate_init(&sc, cand, chunk, B)) {
        free(res);
        return -1;
    }
    if (runstate_init(&sr, ref, chunk, B)) {
        runstate_free(&sc);
        free(res);
        return -1;
    }
    if (o->cand_precision) runstate_set_precision(&sc, o->cand_precision);
    B = sc.max_batch < sr.max_batch ? sc.max_batch : sr.max_batch;
    float *lc = xmalloc(sizeof(float) * (size_t)B * (size_t)V);
    float *lr = xmalloc(sizeof(float) * (size_t)B * (size_t)V);
    int *toks = xmalloc(sizeof(int) * (size_t)chunk);
    int rc = progress_report(&o->progress, "scoring", "tokens", 0, total), done = 0;
    for (int k = 0; rc == 0 && k < nch; k++) {
        double t0 = now_seconds();
        int len;
        if (k == 0) {
            len = n < chunk ? n : chunk;
            memcpy(toks, ids, sizeof(int) * (size_t)len);
            done = len;
        } else {
            int lead = bos ? 1 : 0, take = n - done < per ? n - done : per;
            if (bos) toks[0] = ids[0];
            memcpy(toks + lead, ids + done, sizeof(int) * (size_t)take);
            len = lead + take;
            done += take;
        }
        if (len < 2) { /* a lone last token without BOS: nothing to predict */
            nch = k;
            break;
        }
        res[k].prompt_tokens = len;
        res[k].steps_requested = len - 1;
        res[k].first_divergence = -1;
        EvalAccum acc;
        eval_accum_init(&acc);
        runstate_reset(&sc);
        runstate_reset(&sr);
        for (int b = 0; rc == 0 && b < len - 1; b += B) {
            int nb = len - 1 - b < B ? len - 1 - b : B; /* the last token predicts nothing here */
            rc = model_forward(cand, &sc, toks + b, nb, LOGITS_ALL, lc);
            if (rc == 0) rc = model_forward(ref, &sr, toks + b, nb, LOGITS_ALL, lr);
            for (int j = 0; rc == 0 && j < nb; j++) {
                const float *h = lr + (size_t)j * V, *c = lc + (size_t)j * V;
                if (check_logits(h, V, "reference", k, b + j) || check_logits(c, V, "candidate", k, b + j)) {
                    rc = -1;
                    break;
                }
                EvalStep st;
                eval_step(h, c, V, &st);
                int target = toks[b + j + 1];
                st.nll_ref = -eval_log_softmax_at(h, V, target);
                st.nll_cand = -eval_log_softmax_at(c, V, target);
                st.top5 = eval_top5_overlap(h, c, V);
                eval_accum_add(&acc, &st);
            }
            scored += nb;
            if (rc == 0) rc = progress_report(&o->progress, "scoring", "tokens", scored, total);
        }
        eval_accum_finish(&acc, &res[k]);
        res[k].seconds = now_seconds() - t0;
    }
    free(lc);
    free(lr);
    free(toks);
    runstate_free(&sc);
    runstate_free(&sr);
    if (rc) {
        free(res);
        return -1;
    }
    *res_out = res;
    *n_chunks = nch;
    return 0;
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

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void eval_remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }
