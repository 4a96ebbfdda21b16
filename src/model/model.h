/* The Gemma 3 text model: weights (mapped, never copied), the run state with its KV cache,
 * and the forward pass shared by batched prefill and single-token decode. */
#ifndef ANEMLL_MODEL_H
#define ANEMLL_MODEL_H

#include <stddef.h>

#include "io/safetensors.h"
#include "model/config.h"
#include "quant/matrix.h"

typedef struct {
    QMatrix q, k, v, o;     /* q [nh*hd, H], k/v [kvh*hd, H], o [H, nh*hd] */
    QMatrix gate, up, down; /* gate/up [I, H], down [H, I] */
    /* RMSNorm gains as used: (1 + w), FP32 (tiny vectors, computed once at load) */
    float *input_norm;      /* [H] */
    float *post_attn_norm;  /* [H] */
    float *pre_ff_norm;     /* [H] */
    float *post_ff_norm;    /* [H] */
    float *q_norm, *k_norm; /* [hd] */
} LayerWeights;

typedef struct {
    QMatrix embed;        /* [V, H] input embeddings */
    QMatrix lm_head;      /* [V, H] output projection (the same matrix when tied) */
    float embed_scale;    /* sqrt(H) in FP32, as the reference rounds it */
    float *final_norm;    /* [H] */
    LayerWeights *layers; /* [num_layers] */
} ModelWeights;

typedef struct {
    ModelConfig cfg;
    ModelWeights w;
    SafeTensors st; /* the mapped files the weights point into */
    char *dir;
} Model;

/* Load a Hugging Face checkpoint folder (config.json + safetensors). */
int model_load(Model *m, const char *dir);
void model_free(Model *m);

/* Per-sequence state: KV cache and scratch buffers for batches of up to max_batch tokens. */
typedef struct {
    int context;   /* positions the cache holds */
    int max_batch; /* tokens per forward call */
    int pos;       /* tokens already in the cache */
    /* KV cache per layer, [cap, kvh, hd] each. Full-attention layers: cap = context, slot = position.
     * Sliding layers: cap = min(SW, context), a ring: slot = position % cap. */
    float **k_cache, **v_cache;
    int *cache_cap;
    /* scratch, B = max_batch */
    float *x;        /* [B, H] residual stream */
    float *xn;       /* [B, H] normed input of a sublayer */
    float *q;        /* [B, nh*hd] */
    float *k, *v;    /* [B, kvh*hd] this batch's keys and values */
    float *att;      /* [B, nh*hd] attention output */
    float *proj;     /* [B, H] o_proj / down_proj output */
    float *gate;     /* [B, I] */
    float *up;       /* [B, I] */
    float *scores;   /* [context] */
    float *rope_cos_local, *rope_sin_local;   /* [B, hd/2] */
    float *rope_cos_global, *rope_sin_global; /* [B, hd/2] */
    int n_layers;
} RunState;

int runstate_init(RunState *s, const Model *m, int context, int max_batch);
void runstate_free(RunState *s);
void runstate_reset(RunState *s); /* forget the sequence; the cache is reused */

typedef enum { LOGITS_NONE, LOGITS_LAST, LOGITS_ALL } LogitsMode;

/* Run n tokens (n <= max_batch) at positions s->pos .. s->pos+n-1 and append them to the cache.
 * logits: [n, V] for LOGITS_ALL, [V] for LOGITS_LAST (the last token), unused for LOGITS_NONE. */
int model_forward(const Model *m, RunState *s, const int *tokens, int n, LogitsMode mode, float *logits);

/* Feed a whole sequence in batches of s->max_batch; logits as in model_forward, with LOGITS_ALL
 * written through the callback one batch at a time ([n_batch, V] rows for positions first..). */
typedef int (*LogitsSink)(void *ctx, const float *logits, int first, int n_rows);
int model_prefill(const Model *m, RunState *s, const int *tokens, int n, LogitsMode mode, float *last_logits,
                  LogitsSink sink, void *sink_ctx);

/* Default context: min(max_position_embeddings, 4096). */
int model_default_context(const Model *m);
/* Check every id is inside the vocabulary and the count fits: one-line error otherwise. */
int model_check_tokens(const Model *m, const int *tokens, int n, int context);

#endif
