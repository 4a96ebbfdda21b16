/* A batched forward pass over several sessions (anemll_batch_run, what `anemll serve` runs each
 * step) gives every session the logits it gets alone, bit for bit: decode steps of 1..8 sequences
 * at once, prompts fed in chunks beside sequences that decode (LUT conversion, q8: shared
 * matmuls), and the fallback of running them one by one (Hugging Face form, fp32 activations). */
#include <stdlib.h>
#include <string.h>

#include "anemll.h"
#include "check.h"

#define NSEQ 8
#define STEPS 12
static const char *prompts[NSEQ] = {
    "What is a kluge?", "Define cruft.", "What is a hack?", "Tell me about the Jargon File",
    "héllo wörld ✓", "What does grok mean?", "Explain foo and bar, then baz.", "x",
};

static anemll_model *model;
static anemll_tokenizer *tok;
static anemll_precision precision;
static int vocab;
static int lut_model;

static anemll_session *new_session(void) {
    anemll_session_options o;
    anemll_session_default_options(&o);
    o.context = 256;
    o.precision = precision;
    anemll_session *s = NULL;
    CHECK(anemll_session_new(model, &o, &s) == 0);
    return s;
}

static int argmax(const float *v) {
    int b = 0;
    for (int i = 1; i < vocab; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* Each prompt alone: prefill, then STEPS greedy tokens; the logits of every step. */
static float *alone(int i, int **ids_out, int *n_out) {
    int *ids, n;
    CHECK(anemll_chat_prompt_ids(tok, NULL, prompts[i], &ids, &n) == 0);
    float *out = malloc(sizeof(float) * (size_t)vocab * STEPS);
    anemll_session *s = new_session();
    CHECK(anemll_session_set(s, ids, n) == 0);
    for (int t = 0; t < STEPS; t++) {
        memcpy(out + (size_t)t * vocab, anemll_session_logits(s), sizeof(float) * (size_t)vocab);
        if (t + 1 < STEPS) CHECK(anemll_session_push(s, argmax(anemll_session_logits(s))) == 0);
    }
    anemll_session_free(s);
    *ids_out = ids;
    *n_out = n;
    return out;
}

/* n_seq sequences together. Sequence i is prefilled in chunks of `chunk` tokens, each chunk in
 * the same pass as the decode steps of the sequences already past their prompt (sequence i starts
 * i passes late, so the passes mix prefill and decode); every step's logits must equal alone's. */
static void together(int n_seq, int chunk) {
    float *want[NSEQ];
    int *ids[NSEQ], n[NSEQ];
    for (int i = 0; i < n_seq; i++) want[i] = alone(i, &ids[i], &n[i]);
    anemll_batch *b = NULL;
    CHECK(anemll_batch_new(model, 64, NSEQ, &b) == 0);
    anemll_session *s[NSEQ];
    int fed[NSEQ] = {0}, step[NSEQ] = {0}, next[NSEQ];
    for (int i = 0; i < n_seq; i++) s[i] = new_session();
    int mismatches = 0;
    for (int pass = 0, busy = 1; busy && pass < 1000; pass++) {
        anemll_session *run[NSEQ];
        const int *rids[NSEQ];
        int rn[NSEQ], who[NSEQ], k = 0;
        busy = 0;
        for (int i = 0; i < n_seq; i++) {
            if (pass < i || step[i] >= STEPS) {
                busy |= step[i] < STEPS;
                continue;
            }
            busy = 1;
            run[k] = s[i];
            who[k] = i;
            if (fed[i] < n[i]) {
                rids[k] = ids[i] + fed[i];
                rn[k] = n[i] - fed[i] < chunk ? n[i] - fed[i] : chunk;
            } else {
                rids[k] = &next[i];
                rn[k] = 1;
            }
            k++;
        }
        if (!k) continue;
        CHECK(anemll_batch_run(b, run, rids, rn, k) == 0);
        for (int j = 0; j < k; j++) {
            int i = who[j];
            if (fed[i] < n[i]) {
                fed[i] += rn[j];
                if (fed[i] < n[i]) continue;
            }
            const float *l = anemll_session_logits(s[i]);
            mismatches += memcmp(l, want[i] + (size_t)step[i] * vocab, sizeof(float) * (size_t)vocab) != 0;
            next[i] = argmax(l);
            step[i]++;
        }
    }
    for (int i = 0; i < n_seq; i++) CHECKF(step[i] == STEPS, "sequence %d made %d steps", i, step[i]);
    CHECKF(mismatches == 0, "%d of %d steps differ from the sequence alone (%d sequences, chunk %d)", mismatches,
           n_seq * STEPS, n_seq, chunk);
    for (int i = 0; i < n_seq; i++) {
        anemll_session_free(s[i]);
        free(want[i]);
        anemll_free(ids[i]);
    }
    anemll_batch_free(b);
}

static void test_batched_decode_equals_alone(void) {
    for (int n = 1; n <= NSEQ; n *= 2) together(n, 64);
}
/* The shared passes are the ones that matter; the FP32 kernels run the sessions one by one. */
static void test_shared_only_when_invariant(void) {
    CHECK(anemll_batch_shared(model, precision) == (precision == ANEMLL_PRECISION_Q8 && lut_model));
}
static void test_chunked_prefill_beside_decode(void) {
    together(NSEQ, 5);
    together(3, 1);
}

static void test_bad_batches(void) {
    anemll_batch *b = NULL;
    CHECK(anemll_batch_new(model, 2, 2, &b) == 0);
    anemll_session *s[2] = {new_session(), new_session()};
    int ids[3] = {2, 3, 4};
    const int *rids[2] = {ids, ids};
    int n[2] = {3, 1};
    CHECK(anemll_batch_run(b, s, rids, n, 2) != 0); /* 4 rows > 2 */
    n[0] = 1;
    int bad = vocab;
    rids[1] = &bad;
    CHECK(anemll_batch_run(b, s, rids, n, 2) != 0 && strstr(anemll_last_error(), "vocabulary"));
    CHECK(anemll_batch_run(b, s, rids, n, 0) != 0);
    anemll_batch *b2 = NULL;
    CHECK(anemll_batch_new(model, 2, 3, &b2) != 0 && !b2);
    CHECK(anemll_session_reuse(s[0], &bad, 1) == -1);
    anemll_session_free(s[0]);
    anemll_session_free(s[1]);
    anemll_batch_free(b);
}

static int load(const char *dir, anemll_precision p) {
    anemll_model_free(model);
    anemll_tokenizer_free(tok);
    model = NULL;
    tok = NULL;
    if (anemll_model_load(dir, &model) || anemll_tokenizer_for_model(model, NULL, &tok)) {
        printf("FAIL load_%s: %s\n", dir, anemll_last_error());
        return -1;
    }
    anemll_model_info info;
    anemll_model_get_info(model, &info);
    vocab = info.vocab_size;
    precision = p;
    lut_model = info.converted;
    return 0;
}

int main(void) {
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char lut[512];
    snprintf(lut, sizeof lut, "%s/anemll-tiny", build);
    anemll_set_threads(2);
    if (load("models/anemll-tiny", ANEMLL_PRECISION_FP32)) return 1;
    check_run("batched_decode_equals_alone_hf_fp32", test_batched_decode_equals_alone);
    check_run("bad_batches", test_bad_batches);
    check_run("not_shared_hf_fp32", test_shared_only_when_invariant);
    if (load(lut, ANEMLL_PRECISION_Q8)) return 1;
    check_run("batched_decode_equals_alone_lut_q8", test_batched_decode_equals_alone);
    check_run("chunked_prefill_beside_decode_lut_q8", test_chunked_prefill_beside_decode);
    check_run("shared_lut_q8", test_shared_only_when_invariant);
    if (load(lut, ANEMLL_PRECISION_FP32)) return 1;
    check_run("batched_decode_equals_alone_lut_fp32", test_batched_decode_equals_alone);
    check_run("not_shared_lut_fp32", test_shared_only_when_invariant);
    anemll_tokenizer_free(tok);
    anemll_model_free(model);
    CHECK_EXIT();
}
