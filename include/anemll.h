/* anemll.h: the public C API of anemll.c, a Gemma 3 inference engine that carries out ANEMLL's
 * recipe (FP16 residual scaling, LUT-palettized weights, chunked models) on CPUs.
 *
 * Handles are opaque. Every call that can fail returns 0 on success and -1 on failure, with a
 * one-line message from anemll_last_error() (per thread); nothing here prints, exits or installs
 * signal handlers. Long work reports progress through a callback whose non-zero return cancels it.
 * Memory the library returns (ids, text) is released with anemll_free().
 *
 * The shortest use (examples/simple.c):
 *     anemll_model *m;  anemll_model_load("DIR", &m);
 *     anemll_tokenizer *t;  anemll_tokenizer_for_model(m, NULL, &t);
 *     anemll_session *s;  anemll_session_new(m, NULL, &s);
 *     int *ids, n;  anemll_chat_prompt_ids(t, NULL, "Hello", &ids, &n);
 *     anemll_generate_options o;  anemll_generate_default_options(&o);  o.on_token = print_piece;
 *     anemll_generate(s, t, ids, n, &o, NULL);
 */
#ifndef ANEMLL_H
#define ANEMLL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ANEMLL_API __attribute__((visibility("default")))
#else
#define ANEMLL_API
#endif

/* ---- errors, memory, build ---- */

/* The message of the last failed call on this thread ("unknown error" if none). */
ANEMLL_API const char *anemll_last_error(void);
/* Releases ids and text the library allocated for the caller. */
ANEMLL_API void anemll_free(void *p);
/* "0.1.0" (the VERSION file at build time). */
ANEMLL_API const char *anemll_version(void);

/* ---- the machine: kernels, CPU features, threads, memory bandwidth ---- */

typedef struct {
    const char *name;  /* "scalar", "avx2", "avxvnni", "neon", ... */
    int compiled;      /* this build has it */
    int usable;        /* and this CPU runs it */
} anemll_kernel_info;
/* The kernel families (at most max into out); returns their count. */
ANEMLL_API int anemll_kernel_families(anemll_kernel_info *out, int max);
/* The family this process runs: the best usable, or $ANEMLL_KERNEL's. */
ANEMLL_API const char *anemll_kernel_active(void);
/* Why $ANEMLL_KERNEL is not followed (unknown, or not for this CPU), or NULL. */
ANEMLL_API const char *anemll_kernel_note(void);
typedef struct {
    const char *name;  /* "avx2", "avx512_vnni", "neon", ... */
    int present;
} anemll_cpu_feature;
/* The SIMD features the kernels could use on this architecture, present or not; returns the count. */
ANEMLL_API int anemll_cpu_features(anemll_cpu_feature *out, int max);
/* Threads of the pool that runs matmuls and attention (set before the first model runs). */
ANEMLL_API int anemll_threads(void);
ANEMLL_API void anemll_set_threads(int n);
/* $ANEMLL_THREADS read strictly: 0 when unset; -1 when it is not an integer >= 1; else the count,
 * at most 256 (*capped set when it asked for more). */
ANEMLL_API int anemll_threads_env(int *capped);

/* ---- models ---- */

typedef struct anemll_model anemll_model;

/* A Hugging Face Gemma 3 checkpoint folder (config.json + safetensors) or a converted folder
 * (meta.yaml; a path to the meta.yaml works too). Weights are memory-mapped, never copied. */
ANEMLL_API int anemll_model_load(const char *path, anemll_model **out);
/* The first check of anemll_model_load, without loading: path names an existing folder (or a
 * meta.yaml in one) that is not a conversion's unfinished temporary folder. */
ANEMLL_API int anemll_model_check(const char *path);
ANEMLL_API void anemll_model_free(anemll_model *m);

typedef struct {
    const char *dir;       /* the folder it was loaded from */
    int converted;         /* 1: an anemll conversion (meta.yaml), 0: a Hugging Face checkpoint */
    int vocab_size, hidden_size, num_layers, sliding_window;
    int default_context;   /* a conversion's context_length, else min(max_position_embeddings, 4096) */
    double alpha;          /* the FP16 residual scale baked into the weights (1 = none) */
    double file_bytes;     /* of the weight files */
    double bytes_per_token; /* weights one decoded token reads: every layer matrix, the LM head, one embedding row */
    char shape[512];       /* the shape in words */
} anemll_model_info;
ANEMLL_API void anemll_model_get_info(const anemll_model *m, anemll_model_info *out);
/* Median read bandwidth in GB/s of all threads summing the model's own weights (the matrices a
 * decoded token streams, from the pages decoding reads them from), over `repeats` passes after
 * one untimed pass: what bounds decoding. */
ANEMLL_API double anemll_read_bandwidth_gbs(const anemll_model *m, int repeats);
/* A few lines for people: folder, shape, layer types, files and sizes; for a conversion its
 * context, LUT specs and FP16 scale (*text: anemll_free). */
ANEMLL_API int anemll_model_describe(const anemll_model *m, char **text, size_t *len);

/* The residual stream's peak |value| after the embedding and each layer, over a calibration
 * sequence run in FP32: what the FP16 scale alpha is chosen from. */
typedef struct {
    int num_layers;
    float *layer_peaks;      /* [num_layers] (anemll_free); a NaN or inf met stays there */
    double peak;             /* over everything */
    double alpha;            /* the scale `auto` would choose: largest multiple of 1/64 <= target_peak / peak */
    double target_peak;      /* 50000 */
    char calibration[512];   /* where the sequence came from */
} anemll_activations;
/* calib_text / calib_ids: as anemll_convert_options' (NULL: the built-in prompts with the model's
 * tokenizer, else pseudo-random ids). */
ANEMLL_API int anemll_measure_activations(const anemll_model *m, const char *calib_text, const char *calib_ids,
                                          anemll_activations *out);

/* The Hugging Face checkpoint a converted folder records as its source (*source: anemll_free),
 * without loading the model; -1 when the folder records none or is not a conversion. */
ANEMLL_API int anemll_model_source(const char *dir, char **source);
/* 0 when every id lies in the vocabulary and n tokens fit context positions. */
ANEMLL_API int anemll_model_check_tokens(const anemll_model *m, const int *ids, int n, int context);

/* ---- tokenizer and chat template ---- */

typedef struct anemll_tokenizer anemll_tokenizer;

ANEMLL_API int anemll_tokenizer_load(const char *tokenizer_json, anemll_tokenizer **out);
/* override_path when not NULL, else the tokenizer.json in the model's folder. */
ANEMLL_API int anemll_tokenizer_for_model(const anemll_model *m, const char *override_path, anemll_tokenizer **out);
ANEMLL_API void anemll_tokenizer_free(anemll_tokenizer *t);
/* text -> *ids (anemll_free), with <bos> first when add_bos. Invalid UTF-8 becomes byte tokens. */
ANEMLL_API int anemll_tokenize(const anemll_tokenizer *t, const char *text, size_t len, int add_bos, int **ids,
                               int *n);
/* ids -> *text (NUL-terminated, anemll_free), special tokens skipped when skip_special. */
ANEMLL_API int anemll_detokenize(const anemll_tokenizer *t, const int *ids, int n, int skip_special, char **text,
                                 size_t *len);

typedef struct {
    const char *role; /* "system", "user" or "assistant" */
    const char *text;
} anemll_message;
/* Gemma 3's chat template over msgs -> *text (anemll_free); a model turn is opened at the end when
 * add_generation_prompt. */
ANEMLL_API int anemll_chat_template(const anemll_message *msgs, int n, int add_generation_prompt, char **text,
                                    size_t *len);
/* The same for a request as Hugging Face's apply_chat_template takes it, as JSON:
 * {"messages": [{"role": ..., "content": "..." | [{"type": "text", "text": ...}, {"type": "image"}]}],
 *  "add_generation_prompt": true|false}. */
ANEMLL_API int anemll_chat_template_json(const char *json, size_t len, char **text, size_t *text_len);
/* The ids of a one-turn chat prompt: the template over (system, user) with the model turn opened. */
ANEMLL_API int anemll_chat_prompt_ids(const anemll_tokenizer *t, const char *system, const char *user, int **ids,
                                      int *n);

/* ---- sessions: a KV cache and the logits of the last token fed ---- */

typedef enum {
    ANEMLL_PRECISION_Q8,   /* default: LUT matmuls read 8-bit activation codes, the rest FP32 */
    ANEMLL_PRECISION_FP32, /* FP32 activations throughout: the exact reference of the stored weights */
    ANEMLL_PRECISION_FP16, /* strict FP16: every activation rounded to FP16; a non-finite one is an error */
} anemll_precision;
#define ANEMLL_PRECISION_NAMES "q8, fp32 or fp16"
/* "q8" | "fp32" | "fp16" -> *out; -1 for any other name. */
ANEMLL_API int anemll_precision_parse(const char *name, anemll_precision *out);
ANEMLL_API const char *anemll_precision_name(anemll_precision p);

typedef struct {
    int context;                /* positions; 0 = the model's default context */
    int batch;                  /* tokens per prefill step (default 64) */
    anemll_precision precision;
    int overflow_continue;      /* strict FP16: report a non-finite value once and go on */
} anemll_session_options;
ANEMLL_API void anemll_session_default_options(anemll_session_options *o);

typedef struct anemll_session anemll_session;

/* o NULL: the defaults. The model must outlive the session. */
ANEMLL_API int anemll_session_new(const anemll_model *m, const anemll_session_options *o, anemll_session **out);
ANEMLL_API void anemll_session_free(anemll_session *s);
/* Make the cache hold exactly ids[0..n) (n >= 1), reusing the longest prefix it already holds,
 * and leave the logits of ids[n-1]. */
ANEMLL_API int anemll_session_set(anemll_session *s, const int *ids, int n);
/* Feed one more token (decode). */
ANEMLL_API int anemll_session_push(anemll_session *s, int id);
/* Keep only the first n positions (a rewind); the logits are then stale until the next set/push. */
ANEMLL_API int anemll_session_truncate(anemll_session *s, int n);
/* [vocab_size] logits after the last token fed; valid until the next call on s. */
ANEMLL_API const float *anemll_session_logits(const anemll_session *s);
ANEMLL_API int anemll_session_length(const anemll_session *s); /* positions the cache holds */
/* With overflow_continue: where the first non-finite FP16 value was met ("layer L, OP"), or NULL. */
ANEMLL_API const char *anemll_session_overflow(const anemll_session *s);
ANEMLL_API int anemll_session_context(const anemll_session *s);
/* Tokens the last anemll_session_set actually ran (the rest came from the cache), and its time. */
ANEMLL_API int anemll_session_last_prefilled(const anemll_session *s);
ANEMLL_API double anemll_session_last_prefill_seconds(const anemll_session *s);
/* From an empty cache, run ids[0..n) and hand the logits of every position to fn, a block of
 * rows at a time ([n_rows, vocab_size] for positions first..first+n_rows-1). */
typedef int (*anemll_logits_fn)(void *ctx, const float *logits, int first, int n_rows);
ANEMLL_API int anemll_session_logits_all(anemll_session *s, const int *ids, int n, anemll_logits_fn fn, void *ctx);

/* ---- sampling ---- */

typedef struct anemll_sampler anemll_sampler;
/* temperature 0 = greedy; then top_k (0 = off) and top_p (1 = off; 0 keeps the top token only), as
 * Hugging Face applies them. */
ANEMLL_API int anemll_sampler_new(int vocab_size, float temperature, int top_k, float top_p, uint64_t seed,
                                  anemll_sampler **out);
ANEMLL_API int anemll_sampler_sample(anemll_sampler *s, const float *logits);
ANEMLL_API void anemll_sampler_free(anemll_sampler *s);

/* ---- generation and conversation ---- */

typedef enum {
    ANEMLL_STOP_TOKEN = 1,    /* EOS or <end_of_turn> (not part of the reply) */
    ANEMLL_STOP_STRING,       /* a stop string (the reply ends before it) */
    ANEMLL_STOP_MAX_TOKENS,
    ANEMLL_STOP_CANCELLED,    /* on_token returned non-zero */
    ANEMLL_STOP_CONTEXT_FULL,
} anemll_stop;

/* Each new token with the text it completes (possibly empty; NULL when generating without a
 * tokenizer); id -1 for the text held back until the end. Non-zero cancels. */
typedef int (*anemll_token_fn)(void *ctx, int id, const char *text, size_t len);

typedef struct {
    int max_tokens;                  /* default 512 */
    anemll_sampler *sampler;         /* NULL: greedy */
    int ignore_eos;                  /* go on past EOS / <end_of_turn> */
    const char *const *stop_strings; /* end the reply where its text reaches one of these */
    int n_stop_strings;
    anemll_token_fn on_token;
    void *ctx;
} anemll_generate_options;
ANEMLL_API void anemll_generate_default_options(anemll_generate_options *o);

typedef struct {
    anemll_stop stop;
    int stop_id;                 /* ANEMLL_STOP_TOKEN: the stop token sampled (not part of the reply) */
    int generated;               /* tokens of the reply */
    int prefilled, reused;       /* prompt tokens run, and those the cache already held */
    int turns_dropped;           /* conversation: earlier turns forgotten to make room */
    double prefill_seconds, decode_seconds;
} anemll_generate_result;

/* Prefill prompt[0..n) (reusing what the cache holds) and generate; the reply streams through
 * o->on_token. t may be NULL (ids only, no stop strings). r may be NULL. */
ANEMLL_API int anemll_generate(anemll_session *s, const anemll_tokenizer *t, const int *prompt, int n,
                               const anemll_generate_options *o, anemll_generate_result *r);

typedef struct anemll_chat anemll_chat;
typedef struct {
    const char *system; /* NULL: none */
    int keep_history;   /* keep the conversation: later prompts include the earlier turns */
    int raw;            /* no template: each prompt as it is, with BOS (no history) */
} anemll_chat_options;
/* A conversation over a session (the KV cache is reused across turns; the oldest turns are
 * dropped when the context fills, before or during a reply). s and t must outlive it. */
ANEMLL_API int anemll_chat_new(anemll_session *s, const anemll_tokenizer *t, const anemll_chat_options *o,
                               anemll_chat **out);
ANEMLL_API int anemll_chat_reply(anemll_chat *c, const char *user, const anemll_generate_options *o,
                                 anemll_generate_result *r);
ANEMLL_API int anemll_chat_turns(const anemll_chat *c); /* kept turns (user and assistant each count) */
ANEMLL_API void anemll_chat_free(anemll_chat *c);

/* ---- serving many sequences: one forward pass for several sessions, replies a token at a time ---- */

/* The shared rows of a batched forward pass: up to max_tokens rows of up to max_sessions sessions. */
typedef struct anemll_batch anemll_batch;
ANEMLL_API int anemll_batch_new(const anemll_model *m, int max_tokens, int max_sessions, anemll_batch **out);
ANEMLL_API void anemll_batch_free(anemll_batch *b);
/* Feed session s[i] the ids[i][0..n[i]) (its next positions) for i < count, in one pass: the
 * matmuls run once over all rows, attention per session over its own cache. Afterwards each
 * session's logits are those of its last id, bit for bit what feeding it the same ids alone gives.
 * The sessions must be distinct and share the model and precision. On an error every session is
 * reset. The matmuls are shared only when anemll_batch_shared says so; else the sessions run one
 * after another (the FP32-activation kernels' last bits depend on the batch size). */
ANEMLL_API int anemll_batch_run(anemll_batch *b, anemll_session *const *s, const int *const *ids, const int *n,
                                int count);
/* 1 when anemll_batch_run shares the matmuls: every matrix is LUT-palettized and precision is q8.
 * Otherwise a prompt's logits also depend on how it is cut into pieces: feed it in pieces of the
 * session's batch size, as anemll_session_set does, for the same bits. */
ANEMLL_API int anemll_batch_shared(const anemll_model *m, anemll_precision p);
/* Rewind s to the longest prefix of ids[0..n) it holds (at most n-1 tokens: the last must run
 * again for its logits) and return that length; the caller feeds the rest. -1 when the ids do not
 * fit the context or lie outside the vocabulary. */
ANEMLL_API int anemll_session_reuse(anemll_session *s, const int *ids, int n);

/* A reply generated a token at a time by a caller that feeds the model itself (anemll_batch_run):
 * the sampling, stop tokens, stop strings and streaming of anemll_generate, one step per call. */
typedef struct anemll_reply anemll_reply;
/* m: for its stop ids; t may be NULL (ids only). o is copied (its stop strings must outlive r). */
ANEMLL_API int anemll_reply_new(const anemll_model *m, const anemll_tokenizer *t, const anemll_generate_options *o,
                                anemll_reply **out);
/* Sample the next token from logits ([vocab_size]) and stream it: 0 with *next, the token to feed
 * back; 1 when the reply ended (*stop says why; the token that ended it is not to be fed); -1 on
 * an error. room: positions left in the cache (0 ends the reply with ANEMLL_STOP_CONTEXT_FULL). */
ANEMLL_API int anemll_reply_next(anemll_reply *r, const float *logits, int room, int *next, anemll_stop *stop);
/* Stream the text still held back (call once, at the end). */
ANEMLL_API void anemll_reply_flush(anemll_reply *r);
ANEMLL_API int anemll_reply_generated(const anemll_reply *r); /* tokens of the reply so far */
ANEMLL_API void anemll_reply_free(anemll_reply *r);

/* ---- long work: conversion and synthetic checkpoints ---- */

/* Stages report done = 0 first and done == total last; a non-zero return cancels the work. */
typedef int (*anemll_progress_fn)(void *ctx, const char *stage, const char *unit, long done, long total);

typedef struct {
    const char *lut_embeddings, *lut_ffn, *lut_lmhead; /* "bits,per_channel" | "bits" | "none" */
    const char *fp16_scale;     /* "auto" | a number in [1/1024, 1] | "none" */
    int chunks, context, batch, threads, force;
    const char *calib_text;     /* a text file for the calibration (with the model's tokenizer) */
    const char *calib_ids;      /* a file of token ids instead */
    const char *command_line;   /* recorded in meta.yaml */
    anemll_progress_fn progress;
    void *progress_ctx;
} anemll_convert_options;
ANEMLL_API void anemll_convert_default_options(anemll_convert_options *o);

typedef struct {
    double alpha, peak_before, peak_after, seconds;
    char calibration[512];      /* where the calibration tokens came from */
} anemll_convert_report;
/* ANEMLL conversion of a Hugging Face checkpoint into out_dir (written under a temporary name and
 * renamed when complete; see docs/VALIDATION.md for what may be replaced). */
ANEMLL_API int anemll_convert(const char *hf_dir, const char *out_dir, const anemll_convert_options *o,
                              anemll_convert_report *r);

/* A random-weight checkpoint of a real Gemma 3 shape (one of ANEMLL_SYNTH_SHAPES); vocab 0 = the
 * shape's own. */
#define ANEMLL_SYNTH_SHAPES "tiny, gemma3-270m, gemma3-1b, gemma3-4b"
ANEMLL_API int anemll_synth(const char *shape, const char *out_dir, int vocab, uint64_t seed,
                            anemll_progress_fn progress, void *progress_ctx);

/* ---- quality report: a converted model against its original ---- */

typedef enum { ANEMLL_EVAL_CANDIDATE_DRIVES, ANEMLL_EVAL_REFERENCE_DRIVES } anemll_eval_driver;

/* A phase of a run, reported when it starts (end 0) and ends (end 1): each conversion of a sweep
 * (kind 0) and each evaluation (kind 1). */
typedef struct {
    int kind;               /* 0: a conversion, 1: an evaluation */
    int end, ok;            /* ended; and then whether it succeeded */
    const char *label;      /* the configuration */
    int index, count;       /* conversion: its number (from 1) of count */
    int text;               /* evaluation ended: chunks of a text were scored, not prompts */
    int results, scored_steps;
    double seconds;
} anemll_eval_phase;
/* Non-zero asks the run to stop. */
typedef int (*anemll_eval_phase_fn)(void *ctx, const anemll_eval_phase *phase);

typedef struct {
    const char *candidate;        /* the model to evaluate (NULL with sweep) */
    const char *reference;        /* the unquantized Hugging Face checkpoint, run in FP32 */
    int sweep;                    /* convert the reference under the seed's configurations and configs */
    const char *const *configs;   /* sweep: more, "lut1=SPEC,lut2=SPEC,lut3=SPEC" */
    int n_configs;
    const char *prompts_file;     /* JSON lines of prompts (generate protocol) */
    const char *text_file;        /* text protocol: this text */
    const char *text_ids_file;    /* text protocol: these ids */
    const char *builtin_prompts;  /* the built-in prompt set, used when none of the three is given */
    const char *tokenizer;        /* NULL: the candidate's, else the reference's */
    int max_prompts, steps, chunk;
    anemll_eval_driver driver;
    anemll_precision precision;   /* the candidate's activations */
    const char *label;            /* the configuration's name; NULL: from its LUTs */
    const char *command_line;     /* recorded in the JSON */
    anemll_progress_fn progress;  /* the stages of each phase (a conversion's, then "scoring") */
    anemll_eval_phase_fn phase;   /* called with progress_ctx too */
    void *progress_ctx;
} anemll_eval_options;
/* 100 steps, the candidate drives, q8 activations, nothing else set. */
ANEMLL_API void anemll_eval_default_options(anemll_eval_options *o);

typedef struct anemll_eval_report anemll_eval_report;
/* KL divergence, correlation, match rate (and entropy, first divergence, perplexity with a text)
 * per prompt and summarised, with the seed's healthy/concerning verdicts. */
ANEMLL_API int anemll_eval(const anemll_eval_options *o, anemll_eval_report **out);
/* The table with the guidelines and the protocol in words / every number as JSON (anemll_free). */
ANEMLL_API int anemll_eval_report_text(const anemll_eval_report *r, char **text, size_t *len);
ANEMLL_API int anemll_eval_report_json(const anemll_eval_report *r, char **json, size_t *len);
ANEMLL_API void anemll_eval_report_free(anemll_eval_report *r);

#ifdef __cplusplus
}
#endif

#endif
