/* The Gemma 3 text model: weights (mapped, never copied), the run state with its KV cache,
 * and the forward pass shared by batched prefill and single-token decode. */
#ifndef ANEMLL_MODEL_H
#define ANEMLL_MODEL_H

#include <stddef.h>

#include <stdio.h>

#include "anemll.h"
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

/* A layer's matrices, for an initializer: QMatrix *mats[LAYER_NUM_MATRICES] = {LAYER_MATRICES(lw)}. */
#define LAYER_NUM_MATRICES 7
#define LAYER_MATRICES(lw) &(lw)->q, &(lw)->k, &(lw)->v, &(lw)->o, &(lw)->gate, &(lw)->up, &(lw)->down

typedef struct {
    QMatrix embed;        /* [V, H] input embeddings */
    QMatrix lm_head;      /* [V, H] output projection (the same matrix when tied) */
    float embed_scale;    /* sqrt(H) in FP32, as the reference rounds it */
    float *final_norm;    /* [H] */
    LayerWeights *layers; /* [num_layers] */
} ModelWeights;

/* What meta.yaml says of a converted model (see src/model/meta.c for the file's layout). */
#define META_MAX_CHUNKS 64
typedef struct {
    int bits;        /* 0 = not palettized (FP16) */
    int per_channel; /* rows sharing one table; 0 = one table per tensor */
} LutInfo;
typedef struct {
    int context_length, batch_size;
    LutInfo lut_embeddings, lut_ffn, lut_lmhead;
    int num_chunks;
    int chunk_first_layer[META_MAX_CHUNKS + 1]; /* chunk c holds layers [first[c], first[c+1]) */
    char embeddings_file[256], lm_head_file[256];
    char chunk_files[META_MAX_CHUNKS][256];
    double alpha;                  /* FP16 residual scale baked into the weights; 1 = none */
    double peak_before, peak_after; /* calibration peaks |residual|, 0 if not measured */
    char source_checkpoint[1024];   /* the Hugging Face folder it was converted from ("" if unknown) */
    /* The conversion's identity, repeated in every weight file's safetensors metadata so that a
     * folder mixing the files of two conversions is an error ("" in models made before it). */
    char model_id[40];
    /* anemll_c.shape, checked against config.json at load (0 = not recorded) */
    int hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, head_dim, vocab_size, sliding_window;
} ModelMeta;

typedef struct {
    ModelConfig cfg;
    ModelWeights w;
    SafeTensors st;  /* the mapped files the weights point into */
    char *dir;
    int converted;   /* an anemll conversion (meta.yaml), not a Hugging Face checkpoint */
    ModelMeta meta;  /* valid when converted */
} Model;

/* Load a model folder: a Hugging Face checkpoint (config.json + safetensors) or a converted
 * model (meta.yaml + config.json + the files it names). A path to a meta.yaml also works. A
 * folder named like a conversion's temporary folder (NAME.tmp.PID, left by a killed convert) is
 * never loaded. */
int model_load(Model *m, const char *dir);
/* The same for the temporary folder convert is writing, which it loads back to check. */
int model_load_unfinished(Model *m, const char *dir);
/* The first check model_load makes: 0 when path names an existing model folder (or a meta.yaml
 * in one) that is not a temporary folder; else -1 and err_set. */
int model_check_path(const char *path);

/* Chunk split as ANEMLL does it: base = L / n, the first L % n chunks get one more layer. */
void meta_split_layers(int num_layers, int num_chunks, int *first_layer /* [num_chunks + 1] */);
/* File names of a conversion, e.g. gemma3_FFN_PF_lut4_chunk_01of02.safetensors. */
void meta_file_names(ModelMeta *meta);
/* Read DIR/meta.yaml into meta. */
int meta_read(ModelMeta *meta, const char *path);
void model_free(Model *m);

/* Activation precision. The values are those of anemll_precision (include/anemll.h). */
typedef enum {
    PRECISION_Q8,   /* the default: LUT matmuls read their input as 8-bit codes per 32 columns, the rest FP32 */
    PRECISION_FP32, /* FP32 activations throughout: the exact reference of the stored weights */
    PRECISION_FP16, /* strict FP16: every activation rounded to FP16 after each op; a non-finite one fails */
} Precision;
#define PRECISION_NAMES ANEMLL_PRECISION_NAMES
/* "q8" | "fp32" | "fp16" -> *out, parsed once at the edge; -1 + err_set for another name. */
int precision_parse(const char *name, Precision *out);
const char *precision_name(Precision p);

/* Per-sequence state: KV cache and scratch buffers for batches of up to max_batch tokens. */
typedef struct {
    int context;   /* positions the cache holds */
    int max_batch; /* tokens per forward call */
    int pos;       /* tokens already in the cache */
    /* KV cache per layer, [cap, kvh, hd] each. Full-attention layers: cap = context, slot = position.
     * Sliding layers: a ring, slot = position % cap, cap = min(SW + RING_SLACK, context): the slack
     * lets a chat rewind a few tokens (runstate_rewind) without losing the window. */
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
    float *scores;   /* [n_threads, context] attention scores, one row per thread */
    int n_threads;
    float *rope_cos_local, *rope_sin_local;   /* [B, hd/2] */
    float *rope_cos_global, *rope_sin_global; /* [B, hd/2] */
    int n_layers;
    int sliding_window;

    /* options */
    Precision precision;   /* of the activations (default PRECISION_Q8) */
    QActs xq;              /* the 8-bit codes of the matmul input under way */
    int overflow_continue; /* FP16 non-finite values: report once and go on instead of failing */
    float *layer_peaks;    /* NULL, or [num_layers]: running max |residual| after each layer (NaN once one is) */
    float embed_peak;      /* running max |residual| after the embedding (with layer_peaks) */
    int overflowed;        /* a non-finite FP16 value was met (with overflow_continue) */
    int overflow_pending;  /* met in the block under way (checked once per block) */
    char overflow_where[96]; /* the first one: "layer L, OP" (or "OP"), at positions first..last */
    int overflow_first, overflow_last;
    int rows_first, rows_last; /* positions of the rows the op under way computes (for its overflow) */
} RunState;

int runstate_init(RunState *s, const Model *m, int context, int max_batch);
void runstate_set_precision(RunState *s, Precision p);
void runstate_free(RunState *s);
void runstate_reset(RunState *s); /* forget the sequence; the cache is reused */
/* Keep only positions < pos; -1 when the rings no longer hold their window (then reset and
 * prefill again). */
int runstate_rewind(RunState *s, int pos);
#define RING_SLACK 64

typedef enum { LOGITS_NONE, LOGITS_LAST, LOGITS_ALL } LogitsMode;

/* Run n tokens (n <= max_batch) at positions s->pos .. s->pos+n-1 and append them to the cache.
 * logits: [n, V] for LOGITS_ALL, [V] for LOGITS_LAST (the last token), unused for LOGITS_NONE. */
int model_forward(const Model *m, RunState *s, const int *tokens, int n, LogitsMode mode, float *logits);
/* Several sequences in one pass: seqs[i].n tokens appended to seqs[i].s each (distinct states),
 * at most w->max_batch rows in all, held in w's scratch (w may be seqs[0].s when n_seqs is 1).
 * With model_rows_independent, every row's bits are those model_forward gives the sequence alone. logits: LOGITS_LAST one
 * row per sequence [n_seqs, V], LOGITS_ALL every row. Precision, overflow and peaks are w's. */
typedef struct {
    RunState *s;
    const int *tokens;
    int n;
} SeqRows;
int model_forward_seqs(const Model *m, RunState *w, const SeqRows *seqs, int n_seqs, LogitsMode mode,
                       float *logits);
/* 1 when a row's output bits do not depend on the rows beside it: every matmul a LUT matrix read
 * with 8-bit activations (tests/test_lut.c checks those kernels). The FP32-activation kernels
 * block their sums by batch size, so other models give a row's last bits a say from its batch. */
int model_rows_independent(const Model *m, Precision p);

/* Feed a whole sequence in batches of s->max_batch; logits as in model_forward, with LOGITS_ALL
 * written through the callback one batch at a time ([n_batch, V] rows for positions first..). */
typedef int (*LogitsSink)(void *ctx, const float *logits, int first, int n_rows);
int model_prefill(const Model *m, RunState *s, const int *tokens, int n, LogitsMode mode, float *last_logits,
                  LogitsSink sink, void *sink_ctx);

/* What inspect shows: folder, shape, layer types, files and sizes; for a conversion its context,
 * LUTs and FP16 scale. */
void model_describe(const Model *m, FILE *f);

/* Default context: a converted model's context_length, else min(max_position_embeddings, 4096). */
int model_default_context(const Model *m);
/* Check every id is inside the vocabulary and the count fits: one-line error otherwise. */
int model_check_tokens(const Model *m, const int *tokens, int n, int context);

#endif
