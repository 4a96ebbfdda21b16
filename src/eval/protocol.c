/* The generate and text protocols: both models teacher-forced through their real prefill and
 * decode paths, scored step by step. See protocol.h. */
#include "eval/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/session.h"
#include "util/util.h"

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
    runstate_set_precision(&sc.s, o->cand_precision);
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
    runstate_set_precision(&sc, o->cand_precision);
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

int eval_models_compatible(const Model *cand, const Model *ref) {
    const ModelConfig *a = &cand->cfg, *b = &ref->cfg;
    if (a->vocab_size != b->vocab_size || a->hidden_size != b->hidden_size || a->num_layers != b->num_layers) {
        err_set("the candidate (vocab %d, hidden %d, %d layers) and the reference (vocab %d, hidden %d, %d layers) "
                "are not the same model",
                a->vocab_size, a->hidden_size, a->num_layers, b->vocab_size, b->hidden_size, b->num_layers);
        return -1;
    }
    return 0;
}

int eval_context(const Model *cand, const Model *ref) {
    int c = model_default_context(cand);
    return c < ref->cfg.max_position_embeddings ? c : ref->cfg.max_position_embeddings;
}

int eval_candidate_batch(const Model *m) { return m->converted && m->meta.batch_size > 0 ? m->meta.batch_size : 64; }

int eval_phase_report(const EvalPlan *p, const EvalPhase *phase) {
    if (!p->phase || p->phase(p->progress.ctx, phase) == 0) return 0;
    err_set("interrupted");
    return -1;
}

int eval_score(const Model *cand, const Model *ref, const EvalInputs *in, const EvalPlan *p, const char *label,
               EvalScores *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->label, sizeof out->label, "%s", label);
    if (eval_models_compatible(cand, ref)) return -1;
    EvalOptions o;
    memset(&o, 0, sizeof o);
    o.steps = p->steps;
    o.driver_reference = p->driver == EVAL_DRIVER_REFERENCE;
    o.cand_precision = p->precision;
    o.cand_batch = eval_candidate_batch(cand);
    o.ref_batch = 64;
    o.context = eval_context(cand, ref);
    o.chunk = eval_text_chunk(p->chunk, o.context);
    o.progress = p->progress;
    out->context = o.context;
    EvalPhase phase = {.kind = EVAL_PHASE_SCORE, .label = label, .text = in->text};
    if (eval_phase_report(p, &phase)) return -1;
    double t0 = now_seconds();
    int rc;
    if (in->text) {
        rc = eval_text(cand, ref, in->ids, in->n_ids, &o, &out->res, &out->n_res);
        if (rc == 0) eval_summarize(out->res, out->n_res, 1, &out->sum);
    } else {
        out->prompts = eval_inputs_fitting(in, o.context, &out->n_res, &out->skipped);
        rc = out->prompts ? 0 : -1;
        if (rc == 0) {
            out->res = xcalloc((size_t)out->n_res, sizeof *out->res);
            rc = eval_generate(cand, ref, out->prompts, out->n_res, &o, out->res);
        }
        if (rc == 0) eval_summarize(out->res, out->n_res, 0, &out->sum);
    }
    out->seconds = now_seconds() - t0;
    phase.end = 1;
    phase.ok = rc == 0;
    phase.results = out->n_res;
    phase.scored_steps = out->sum.scored_steps;
    phase.seconds = out->seconds;
    if (eval_phase_report(p, &phase) && rc == 0) rc = -1;
    return rc;
}

void eval_scores_free(EvalScores *s) {
    for (int i = 0; i < s->n_res; i++) eval_result_free(&s->res[i]);
    free(s->res);
    free(s->prompts);
    memset(s, 0, sizeof *s);
}
