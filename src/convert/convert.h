/* ANEMLL conversion: a Hugging Face Gemma 3 checkpoint becomes FP16-safe (residual scale alpha
 * baked into the weights), LUT-palettized, split into layer chunks and described by meta.yaml. */
#ifndef ANEMLL_CONVERT_H
#define ANEMLL_CONVERT_H

#include <stddef.h>

#include "model/model.h"
#include "util/progress.h"

typedef enum { SCALE_NONE, SCALE_FIXED, SCALE_AUTO } ScaleMode;

/* The residual peak ANEMLL scales to: alpha = 50000 / peak, kept under FP16's 65504. */
#define FP16_SCALE_TARGET 50000.0
/* The smallest alpha accepted: below it FP16 embeddings fall into the subnormal range. */
#define FP16_SCALE_MIN (1.0 / 1024)

typedef struct {
    int context, batch, chunks, threads, force;
    LutInfo lut_embeddings, lut_ffn, lut_lmhead;
    ScaleMode scale_mode;
    double alpha;              /* SCALE_FIXED */
    const int *calib_ids;      /* calibration sequence (SCALE_AUTO, and the peaks recorded in meta.yaml) */
    int n_calib;
    const char *calib_desc;    /* where the calibration ids came from, for meta.yaml */
    const char *command_line;  /* recorded in meta.yaml */
    Progress progress;         /* stages "calibration" and "checking" (tokens, with calibration ids),
                                * "writing" (weights); asking to stop fails the conversion */
} ConvertOptions;

typedef struct {
    double alpha;
    double peak_before, peak_after; /* max |residual| over layers and positions, FP32 run */
    double seconds;
} ConvertReport;

int convert_model(const char *hf_dir, const char *out_dir, const ConvertOptions *o, ConvertReport *r);

/* Run ids through the model in FP32 and record max |residual| after the embedding and after each
 * layer. A new sequence (from position 0) starts at each <bos> and after calibration_seq_len tokens. layer_peaks: [num_layers] (may be NULL); returns the overall peak via *peak.
 * A NaN met anywhere is the peak (of its layer and overall), an inf too unless a NaN was met.
 * Reports the tokens run as `stage` to progress (may be NULL). */
int measure_residual_peaks(const Model *m, const int *ids, int n, int batch, float *layer_peaks, double *peak,
                           const Progress *progress, const char *stage);
/* Calibration runs sequences of this many tokens (min(context, 512)), each from position 0. */
int calibration_seq_len(const Model *m);
/* Largest multiple of 1/64 not above FP16_SCALE_TARGET / peak; 1 when the peak is below the target. */
double alpha_for_peak(double peak);
/* Without a tokenizer: how many calibration tokens fit a fixed compute budget (~64 GFLOP: seconds),
 * at least 128, at most vocab + 1 (so a small model's whole vocabulary is seen) or 4096. */
#define CALIB_FLOP_BUDGET 64e9
int calibration_token_count(const ModelConfig *c);
/* A fixed pseudo-random calibration sequence: a seeded permutation of the vocabulary (ids >= 3),
 * with <bos> starting every seq_len tokens. */
int *calibration_ids_random(const ModelConfig *c, int n, int seq_len);
/* Token ids from a file: separated by spaces, commas or newlines (a JSON array works too). */
int *read_ids_file(const char *path, int *n);
/* The calibration sequence for a model folder: ids_file when given; else, with the folder's
 * tokenizer.json, the built-in calibration prompts (chat-templated) plus text_file if given; else a
 * fixed pseudo-random sequence. Sequences start at each <bos>. desc says which. */
int *calibration_ids(const char *model_dir, const char *text_file, const char *ids_file, int *n, char *desc,
                     size_t desc_n);
/* Parse a LUT spec "bits,per_channel" | "bits" (per_channel 8, as ANEMLL) | "none". */
int lut_spec_parse(const char *s, LutInfo *out);

#endif
