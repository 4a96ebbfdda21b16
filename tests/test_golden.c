/* The FP32 forward pass against Hugging Face transformers' logits and greedy tokens on every
 * golden checkpoint and case, through batched prefill (64, 7) and token-by-token decode, on every
 * kernel family this CPU runs (scalar and each SIMD family, emulated ones included in the emu
 * build: matmuls and the vector ops alike), as cases golden_<checkpoint>_<family>. */
#include "golden.h"
#include "kernels/kernels.h"
#include "model/model.h"

typedef struct {
    float *dst;
    int vocab;
} Collect;

static int collect(void *ctx, const float *logits, int first, int n_rows) {
    Collect *c = ctx;
    memcpy(c->dst + (size_t)first * c->vocab, logits, sizeof(float) * (size_t)n_rows * c->vocab);
    return 0;
}

static void check_checkpoint(const GoldenCkpt *ck) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/%s", data_dir(), ck->name);
    Model m;
    if (model_load(&m, dir) != 0) {
        CHECKF(0, "load %s: %s", dir, err_get());
        return;
    }
    int V = m.cfg.vocab_size;
    float worst = 0;
    for (int ci = 0; ci < ck->n_cases; ci++) {
        GoldenCase g;
        CHECK(golden_load(&g, dir, ck->cases[ci]) == 0);
        CHECK(g.vocab == V);
        float *out = xmalloc(sizeof(float) * (size_t)g.n_tokens * V);
        static const int batches[] = {64, 7, 1};
        for (int bi = 0; bi < 3; bi++) {
            RunState s;
            CHECK(runstate_init(&s, &m, model_default_context(&m), batches[bi]) == 0);
            Collect col = {out, V};
            memset(out, 0xff, sizeof(float) * (size_t)g.n_tokens * V); /* NaN until written */
            CHECK(model_prefill(&m, &s, g.tokens, g.n_tokens, LOGITS_ALL, NULL, collect, &col) == 0);
            float err;
            int argmax_ok;
            golden_compare(out, g.logits, g.n_tokens, V, &err, &argmax_ok);
            if (err > worst) worst = err;
            CHECKF(err <= 1e-3f && argmax_ok, "%s %s batch %d: max err %g, argmax %s", ck->name, g.name,
                   batches[bi], err, argmax_ok ? "ok" : "differs");
            runstate_free(&s);
        }
        /* greedy continuation: prefill the prompt, then decode one token at a time */
        RunState s;
        CHECK(runstate_init(&s, &m, model_default_context(&m), 64) == 0);
        float *logits = xmalloc(sizeof(float) * V);
        CHECK(model_prefill(&m, &s, g.tokens, g.n_tokens, LOGITS_LAST, logits, NULL, NULL) == 0);
        int same = 1;
        for (int i = 0; i < g.n_greedy; i++) {
            int best = 0;
            for (int v = 1; v < V; v++)
                if (logits[v] > logits[best]) best = v;
            if (best != g.greedy[i]) same = 0;
            if (i + 1 < g.n_greedy) CHECK(model_forward(&m, &s, &best, 1, LOGITS_LAST, logits) == 0);
        }
        CHECKF(same, "%s %s: greedy continuation differs", ck->name, g.name);
        free(logits);
        runstate_free(&s);
        free(out);
        golden_free(&g);
    }
    printf("  %s: worst max |logit error| over cases and batch sizes: %.3g\n", ck->name, worst);
    model_free(&m);
}

static GoldenCkpt ckpts[8];
static int n_ckpts;
static int current;
static void test_checkpoint(void) { check_checkpoint(&ckpts[current]); }

/* The multimodal layout holds the same text weights: identical logits to its text-only twin. */
static void test_multimodal_twin(void) {
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/golden/tiny", data_dir());
    snprintf(b, sizeof b, "%s/golden/tiny-mm", data_dir());
    Model ma, mb;
    CHECK(model_load(&ma, a) == 0);
    CHECK(model_load(&mb, b) == 0);
    CHECK(mb.cfg.multimodal && !ma.cfg.multimodal);
    int toks[] = {2, 17, 300, 5, 999, 42};
    int V = ma.cfg.vocab_size;
    float *la = xmalloc(sizeof(float) * V * 6), *lb = xmalloc(sizeof(float) * V * 6);
    RunState sa, sb;
    CHECK(runstate_init(&sa, &ma, 64, 64) == 0 && runstate_init(&sb, &mb, 64, 64) == 0);
    CHECK(model_forward(&ma, &sa, toks, 6, LOGITS_ALL, la) == 0);
    CHECK(model_forward(&mb, &sb, toks, 6, LOGITS_ALL, lb) == 0);
    CHECK(memcmp(la, lb, sizeof(float) * V * 6) == 0);
    runstate_free(&sa);
    runstate_free(&sb);
    free(la);
    free(lb);
    model_free(&ma);
    model_free(&mb);
}

int main(void) {
    n_ckpts = golden_index(ckpts, 8);
    for (QMatKernel k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++) {
        if (!qmat_kernel_available(k)) continue;
        CHECK(qmat_set_kernel(k) == 0);
        for (current = 0; current < n_ckpts; current++) {
            char name[64];
            snprintf(name, sizeof name, "golden_%s_%s", ckpts[current].name, qmat_kernel_name(k));
            check_run(name, test_checkpoint);
        }
    }
    qmat_set_kernel(QMAT_KERNEL_AUTO);
    RUN(test_multimodal_twin);
    CHECK_EXIT();
}
