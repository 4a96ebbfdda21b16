#include "convert/convert.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/palettize.h"
#include "io/safetensors.h"
#include "io/yaml.h"
#include "quant/lut_format.h"
#include "util/rng.h"
#include "util/util.h"

#define ANEMLL_C_VERSION "0.1.0"

/* ---- calibration ---- */

int measure_residual_peaks(const Model *m, const int *ids, int n, int batch, float *layer_peaks, double *peak,
                           const Progress *progress, const char *stage) {
    int L = m->cfg.num_layers;
    int seq = calibration_seq_len(m);
    RunState s;
    if (runstate_init(&s, m, seq, batch)) return -1;
    s.layer_peaks = xcalloc((size_t)L, sizeof(float));
    int rc = progress_report(progress, stage, "tokens", 0, n);
    /* sequences from position 0: a new one at each <bos>, and after `seq` tokens; fed a batch at
     * a time (as model_prefill would) so that each batch can report */
    for (int i = 0, len; i < n && rc == 0; i += len) {
        for (len = 1; i + len < n && len < seq && ids[i + len] != m->cfg.bos_token_id; len++) {
        }
        runstate_reset(&s);
        for (int b = 0; b < len && rc == 0; b += s.max_batch) {
            int nb = len - b < s.max_batch ? len - b : s.max_batch;
            rc = model_forward(m, &s, ids + i + b, nb, LOGITS_NONE, NULL);
            if (rc == 0) rc = progress_report(progress, stage, "tokens", i + b + nb, n);
        }
    }
    double p = s.embed_peak;
    for (int l = 0; l < L; l++) p = isnan(p) || s.layer_peaks[l] <= p ? p : s.layer_peaks[l]; /* NaN wins */
    if (layer_peaks) memcpy(layer_peaks, s.layer_peaks, sizeof(float) * (size_t)L);
    *peak = p;
    free(s.layer_peaks);
    s.layer_peaks = NULL;
    runstate_free(&s);
    return rc;
}

int calibration_seq_len(const Model *m) {
    int c = model_default_context(m);
    return c < 512 ? c : 512;
}

double alpha_for_peak(double peak) {
    if (!(peak > FP16_SCALE_TARGET)) return 1.0;
    double a = floor(FP16_SCALE_TARGET / peak * 64.0) / 64.0;
    return a < 1.0 / 64 ? 1.0 / 64 : a;
}

int calibration_token_count(const ModelConfig *c) {
    double per_token = 2.0 * c->num_layers *
                       ((double)c->hidden_size * (c->num_heads + 2 * c->num_kv_heads) * c->head_dim * 2 +
                        3.0 * c->hidden_size * c->intermediate_size);
    double n = CALIB_FLOP_BUDGET / per_token;
    double cap = (double)c->vocab_size + 1 < 4096 ? (double)c->vocab_size + 1 : 4096;
    return n < 128 ? 128 : n > cap ? (int)cap : (int)n;
}

int *calibration_ids_random(const ModelConfig *c, int n, int seq_len) {
    int V = c->vocab_size, first = V > 3 ? 3 : 0;
    int *perm = xmalloc(sizeof(int) * (size_t)V);
    for (int i = 0; i < V - first; i++) perm[i] = first + i;
    uint64_t s = 0x5eed;
    for (int i = V - first - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)((lcg64(&s) >> 33) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int *ids = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0, k = 0; i < n; i++)
        ids[i] = i % seq_len == 0 && c->bos_token_id < V ? c->bos_token_id : perm[k++ % (V - first)];
    free(perm);
    return ids;
}

int lut_spec_parse(const char *s, LutInfo *out) {
    out->bits = 0;
    out->per_channel = 0;
    if (!*s || !strcmp(s, "none") || !strcmp(s, "no") || !strcmp(s, "false")) return 0;
    char *end;
    long bits = strtol(s, &end, 10);
    long g = 8; /* ANEMLL: "b" alone means per_channel 8 */
    if (*end == ',') {
        const char *p = end + 1;
        if (!strcmp(p, "t") || !strcmp(p, "tensor"))
            g = 0, end = (char *)p + strlen(p);
        else
            g = strtol(p, &end, 10);
    }
    if (end == s || *end || bits < LUT_MIN_BITS || bits > LUT_MAX_BITS || g < 0 || g > (1 << 24)) {
        err_set("LUT spec '%s': expected bits,per_channel with bits 2..8 (or none)", s);
        return -1;
    }
    out->bits = (int)bits;
    out->per_channel = (int)g;
    return 0;
}

/* ---- output tensors ---- */


typedef enum { OUT_MATRIX, OUT_NORM } OutKind;
typedef struct {
    char name[128];
    OutKind kind;
    const QMatrix *src; /* OUT_MATRIX */
    LutInfo lut;
    float scale;        /* applied to the matrix values (embeddings: alpha) */
    const float *gain;  /* OUT_NORM: the model's (1 + w) */
    int n;
    float gain_scale;   /* stored w' = gain_scale * (1 + w) - 1 */
} OutTensor;

static void declare(StWriter *w, const OutTensor *t) {
    char name[160];
    if (t->kind == OUT_NORM) {
        int64_t shape[1] = {t->n};
        st_writer_declare(w, t->name, DT_F32, 1, shape);
    } else if (t->lut.bits) {
        int group = lut_group_rows(t->src->rows, t->lut.per_channel);
        int64_t ishape[2] = {t->src->rows, (int64_t)lut_row_bytes(t->src->cols, t->lut.bits)};
        int64_t lshape[2] = {lut_num_groups(t->src->rows, group), 1 << t->lut.bits};
        snprintf(name, sizeof name, "%s.indices", t->name);
        st_writer_declare(w, name, DT_U8, 2, ishape);
        snprintf(name, sizeof name, "%s.lut", t->name);
        st_writer_declare(w, name, DT_F16, 2, lshape);
    } else {
        int64_t shape[2] = {t->src->rows, t->src->cols};
        st_writer_declare(w, t->name, DT_F16, 2, shape);
    }
}

static int write_tensor(StWriter *w, const OutTensor *t, int threads) {
    if (t->kind == OUT_NORM) {
        float *v = xmalloc(sizeof(float) * (size_t)t->n);
        for (int i = 0; i < t->n; i++) v[i] = t->gain_scale * t->gain[i] - 1.0f;
        int rc = st_writer_write(w, v, sizeof(float) * (size_t)t->n);
        free(v);
        return rc;
    }
    const QMatrix *q = t->src;
    if (t->lut.bits) {
        LutSpec spec = {t->lut.bits, t->lut.per_channel, 0};
        LutMatrix lm;
        if (lut_palettize(q, spec, threads, &lm)) return -1;
        /* k-means commutes with scaling: scale the centroids instead of the weights */
        size_t nl = (size_t)lm.ngroups << lm.bits;
        if (t->scale != 1.0f)
            for (size_t i = 0; i < nl; i++) lm.luts[i] = f32_to_f16(f16_to_f32(lm.luts[i]) * t->scale);
        int rc = st_writer_write(w, lm.indices, (size_t)lm.rows * lm.row_bytes) ||
                 st_writer_write(w, lm.luts, nl * sizeof(uint16_t));
        lut_matrix_free(&lm);
        return rc ? -1 : 0;
    }
    /* FP16, a block of rows at a time */
    int rows_per = 1 + (1 << 20) / q->cols;
    float *row = xmalloc(sizeof(float) * (size_t)q->cols);
    uint16_t *buf = xmalloc(sizeof(uint16_t) * (size_t)q->cols * (size_t)rows_per);
    int rc = 0;
    for (int r0 = 0; r0 < q->rows && rc == 0; r0 += rows_per) {
        int nr = q->rows - r0 < rows_per ? q->rows - r0 : rows_per;
        for (int r = 0; r < nr; r++) {
            qmat_row(q, r0 + r, row);
            for (int c = 0; c < q->cols; c++) buf[(size_t)r * q->cols + c] = f32_to_f16(row[c] * t->scale);
        }
        rc = st_writer_write(w, buf, sizeof(uint16_t) * (size_t)nr * (size_t)q->cols);
    }
    free(row);
    free(buf);
    return rc;
}

static long tensor_weights(const OutTensor *t) {
    return t->kind == OUT_NORM ? t->n : (long)t->src->rows * t->src->cols;
}

/* One output file and its tensors, in order. */
typedef struct {
    const char *file, *role;
    LutInfo lut;
    OutTensor *ts;
    int n;
} OutFile;

/* The writing stage's progress: weights written so far, of all files. */
typedef struct {
    const Progress *progress;
    long done, total;
} Tally;

static int write_file(const char *dir, const OutFile *f, const char *model_id, int threads, Tally *tally) {
    char *path = path_join(dir, f->file);
    StWriter *w = st_writer_new(path);
    free(path);
    char v[32];
    st_writer_metadata(w, "format", "anemll.c");
    st_writer_metadata(w, "role", f->role);
    st_writer_metadata(w, "model_id", model_id);
    snprintf(v, sizeof v, "%d", f->lut.bits);
    st_writer_metadata(w, "lut_bits", v);
    snprintf(v, sizeof v, "%d", f->lut.per_channel);
    st_writer_metadata(w, "lut_per_channel", v);
    for (int i = 0; i < f->n; i++) declare(w, &f->ts[i]);
    for (int i = 0; i < f->n; i++) {
        if (write_tensor(w, &f->ts[i], threads)) {
            st_writer_abort(w);
            return -1;
        }
        tally->done += tensor_weights(&f->ts[i]);
        if (progress_report(tally->progress, "writing", "weights", tally->done, tally->total)) {
            st_writer_abort(w);
            return -1;
        }
    }
    return st_writer_finish(w);
}

static void matrix_out(OutTensor *t, const char *name, const QMatrix *src, LutInfo lut, float scale) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = OUT_MATRIX;
    t->src = src;
    t->lut = lut;
    t->scale = scale;
}

static void norm_out(OutTensor *t, const char *name, const float *gain, int n, float gain_scale) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = OUT_NORM;
    t->gain = gain;
    t->n = n;
    t->gain_scale = gain_scale;
}

/* One chunk's tensors: layers [l0, l1), plus the final norm in the last chunk. */
static void chunk_tensors(const Model *m, int l0, int l1, int last, float alpha, OutFile *f) {
    const ModelConfig *c = &m->cfg;
    int n = 0, cap = (l1 - l0) * 13 + 1;
    OutTensor *ts = xcalloc((size_t)cap, sizeof *ts);
    char name[128];
    for (int l = l0; l < l1; l++) {
        const LayerWeights *lw = &m->w.layers[l];
        const struct {
            const char *suffix;
            const QMatrix *q;
        } mats[] = {{"self_attn.q_proj", &lw->q}, {"self_attn.k_proj", &lw->k}, {"self_attn.v_proj", &lw->v},
                    {"self_attn.o_proj", &lw->o}, {"mlp.gate_proj", &lw->gate}, {"mlp.up_proj", &lw->up},
                    {"mlp.down_proj", &lw->down}};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            snprintf(name, sizeof name, "layers.%d.%s.weight", l, mats[i].suffix);
            matrix_out(&ts[n++], name, mats[i].q, f->lut, 1.0f);
        }
        /* the two post-norms carry alpha: (1 + w') = alpha (1 + w) */
        const struct {
            const char *suffix;
            const float *g;
            int n;
            float scale;
        } norms[] = {{"input_layernorm", lw->input_norm, c->hidden_size, 1.0f},
                     {"post_attention_layernorm", lw->post_attn_norm, c->hidden_size, alpha},
                     {"pre_feedforward_layernorm", lw->pre_ff_norm, c->hidden_size, 1.0f},
                     {"post_feedforward_layernorm", lw->post_ff_norm, c->hidden_size, alpha},
                     {"self_attn.q_norm", lw->q_norm, c->head_dim, 1.0f},
                     {"self_attn.k_norm", lw->k_norm, c->head_dim, 1.0f}};
        for (size_t i = 0; i < sizeof norms / sizeof norms[0]; i++) {
            snprintf(name, sizeof name, "layers.%d.%s.weight", l, norms[i].suffix);
            norm_out(&ts[n++], name, norms[i].g, norms[i].n, norms[i].scale);
        }
    }
    if (last) norm_out(&ts[n++], "norm.weight", m->w.final_norm, c->hidden_size, 1.0f);
    f->ts = ts;
    f->n = n;
}

/* ---- meta.yaml ---- */

static void lut_yaml(FILE *f, const char *key, LutInfo l) {
    if (l.bits) {
        fprintf(f, "    %s: %d\n    %s_per_channel: %d\n", key, l.bits, key, l.per_channel);
    } else {
        fprintf(f, "    %s: none\n", key);
    }
}

static int write_meta(const char *dir, const Model *m, const ModelMeta *meta, const ConvertOptions *o,
                      const char *src_dir, const float *peaks_before, const float *peaks_after) {
    const ModelConfig *c = &m->cfg;
    char *tmp = path_join(dir, "meta.yaml.tmp");
    FILE *f = fopen(tmp, "w");
    if (!f) {
        err_set("%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *base = strrchr(src_dir, '/');
    base = base && base[1] ? base + 1 : src_dir;
    char q[2048];
    fprintf(f, "model_info:\n");
    char name[1024];
    snprintf(name, sizeof name, "anemll-%s-ctx%d", base, meta->context_length);
    ytree_quote(q, sizeof q, name);
    fprintf(f, "  name: %s\n  version: %s\n", q, ANEMLL_C_VERSION);
    fprintf(f, "  description: |\n    Gemma 3 converted by anemll.c: FP16 residual scaling, LUT palettization, "
               "%d chunks.\n", meta->num_chunks);
    fprintf(f, "  license: see the source checkpoint\n  author: anemll.c\n  framework: anemll.c (CPU)\n"
               "  language: C\n  architecture: gemma3\n");
    fprintf(f, "  parameters:\n    context_length: %d\n    batch_size: %d\n", meta->context_length, meta->batch_size);
    lut_yaml(f, "lut_embeddings", meta->lut_embeddings);
    lut_yaml(f, "lut_ffn", meta->lut_ffn);
    lut_yaml(f, "lut_lmhead", meta->lut_lmhead);
    fprintf(f, "    num_chunks: %d\n    model_prefix: gemma3\n", meta->num_chunks);
    fprintf(f, "    embeddings: %s\n    lm_head: %s\n    ffn: %s\n", meta->embeddings_file, meta->lm_head_file,
            meta->chunk_files[0]);
    fprintf(f, "    split_lm_head: 1\n    vocab_size: %d\n    sliding_window: %d\n    prefill_dynamic_slice: true\n",
            c->vocab_size, c->sliding_window);
    fprintf(f, "anemll_c:\n  tool_version: %s\n  model_id: \"%s\"\n", ANEMLL_C_VERSION, meta->model_id);
    char *abs = realpath(src_dir, NULL); /* absolute, so eval finds it from any folder */
    ytree_quote(q, sizeof q, abs ? abs : src_dir);
    free(abs);
    fprintf(f, "  source_checkpoint: %s\n", q);
    if (o->command_line) {
        ytree_quote(q, sizeof q, o->command_line);
        fprintf(f, "  command_line: %s\n", q);
    }
    fprintf(f, "  shape:\n    hidden_size: %d\n    intermediate_size: %d\n    num_layers: %d\n    num_heads: %d\n"
               "    num_kv_heads: %d\n    head_dim: %d\n    vocab_size: %d\n    sliding_window: %d\n",
            c->hidden_size, c->intermediate_size, c->num_layers, c->num_heads, c->num_kv_heads, c->head_dim,
            c->vocab_size, c->sliding_window);
    fprintf(f, "  layer_types: [");
    for (int l = 0; l < c->num_layers; l++)
        fprintf(f, "%s%s", l ? ", " : "", c->layer_types[l] == LAYER_FULL ? "full_attention" : "sliding_attention");
    fprintf(f, "]\n  chunks:\n");
    for (int i = 0; i < meta->num_chunks; i++)
        fprintf(f, "    - {file: %s, first_layer: %d, last_layer: %d}\n", meta->chunk_files[i],
                meta->chunk_first_layer[i], meta->chunk_first_layer[i + 1] - 1);
    static const char *modes[] = {"none", "fixed", "auto"};
    fprintf(f, "  fp16_scale:\n    mode: %s\n    alpha: %.9g\n    target_peak: %.0f\n", modes[o->scale_mode],
            meta->alpha, FP16_SCALE_TARGET);
    fprintf(f, "    peak_before: %.9g\n    peak_after: %.9g\n", meta->peak_before, meta->peak_after);
    if (o->calib_desc) {
        ytree_quote(q, sizeof q, o->calib_desc);
        fprintf(f, "    calibration: %s\n", q);
    }
    for (int pass = 0; pass < 2; pass++) {
        const float *p = pass ? peaks_after : peaks_before;
        if (!p) continue;
        fprintf(f, "    layer_peaks_%s: [", pass ? "after" : "before");
        for (int l = 0; l < c->num_layers; l++) fprintf(f, "%s%.6g", l ? ", " : "", p[l]);
        fprintf(f, "]\n");
    }
    int bad = ferror(f) | (fflush(f) != 0) | (fsync(fileno(f)) != 0);
    bad |= fclose(f) != 0;
    char *final = path_join(dir, "meta.yaml");
    if (bad || rename(tmp, final) != 0) {
        err_set("%s: cannot write meta.yaml: %s", dir, strerror(errno));
        unlink(tmp);
        bad = 1;
    }
    free(tmp);
    free(final);
    return bad ? -1 : 0;
}

/* ---- folder handling ---- */

static int copy_file(const char *src_dir, const char *dst_dir, const char *name) {
    char *src = path_join(src_dir, name);
    int rc = 0;
    if (file_exists(src)) {
        MappedFile mf;
        rc = map_file(&mf, src);
        if (rc == 0) {
            char *dst = path_join(dst_dir, name);
            AtomicFile f;
            rc = atomic_open(&f, dst);
            if (rc == 0) {
                rc = atomic_write(&f, mf.data, mf.size);
                if (rc == 0)
                    rc = atomic_commit(&f);
                else
                    atomic_abort(&f);
            }
            free(dst);
            unmap_file(&mf);
        }
    }
    free(src);
    return rc;
}

/* 32 random hex digits naming this conversion (/dev/urandom, with
 * the clock and pid as the fallback: the id only has to differ between two conversions). */
static void new_model_id(char *out, size_t n) {
    uint8_t b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (got != sizeof b) {
        uint64_t x = (uint64_t)(now_seconds() * 1e9) ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < sizeof b; i++) b[i] = (uint8_t)(lcg64(&x) >> 56);
    }
    for (size_t i = 0; i < sizeof b && 2 * i + 2 < n; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* What --force may replace: a folder holding a converted model, nothing else. */
static int replaceable(const char *out_dir) {
    char *meta = path_join(out_dir, "meta.yaml");
    int ok = file_exists(meta);
    free(meta);
    if (!ok) err_set("%s: exists and is not a converted model (no meta.yaml); --force replaces only a converted "
                     "model folder", out_dir);
    return ok;
}

/* Temporary folders (OUT.tmp.PID) of conversions into the same OUT whose process is gone, as a
 * SIGKILL leaves them. */
static void remove_stale_temporaries(const char *out_dir) {
    char *copy = xstrdup(out_dir);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    const char *parent = slash ? (slash == copy ? "/" : (*slash = 0, copy)) : ".";
    size_t bl = strlen(base);
    DIR *d = opendir(parent);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *tail = de->d_name + bl;
        if (strncmp(de->d_name, base, bl) != 0 || strncmp(tail, ".tmp.", 5) != 0 || !tail[5] ||
            strspn(tail + 5, "0123456789") != strlen(tail + 5))
            continue;
        long pid = strtol(tail + 5, NULL, 10);
        if (pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char *p = path_join(parent, de->d_name);
            remove_tree(p);
            free(p);
        }
    }
    if (d) closedir(d);
    free(copy);
}

/* The written folder tmp becomes out_dir, atomically at the moment of the rename: without --force
 * only if out_dir does not exist then (a folder that appeared meanwhile is never replaced); with
 * --force by exchanging the two (so no instant lacks a model there), then removing the old one. */
static int move_into_place(const char *tmp, const char *out_dir, int force) {
    fault_point("convert_before_rename");
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out_dir, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EEXIST) {
        err_set("%s: cannot rename into place: %s", out_dir, strerror(errno));
        return -1;
    }
    if (!force) {
        err_set("%s: appeared while converting; not replacing it (use --force to replace a converted model)",
                out_dir);
        return -1;
    }
    if (!dir_exists(out_dir) || !replaceable(out_dir)) {
        if (!dir_exists(out_dir)) err_set("%s: appeared while converting and is not a folder", out_dir);
        return -1;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out_dir, RENAME_EXCHANGE) != 0) {
        err_set("%s: cannot replace it: %s", out_dir, strerror(errno));
        return -1;
    }
    remove_tree(tmp); /* now the old model */
    return 0;
}

int convert_model(const char *hf_dir, const char *out_dir, const ConvertOptions *o, ConvertReport *r) {
    double t0 = now_seconds();
    memset(r, 0, sizeof *r);
    if (paths_overlap(hf_dir, out_dir)) {
        err_set("%s: the output would overlap the input %s (it is, holds or lies inside it)", out_dir, hf_dir);
        return -1;
    }
    if (dir_exists(out_dir) && !o->force) {
        err_set("%s: already exists (use --force to replace it)", out_dir);
        return -1;
    }
    if (file_exists(out_dir)) {
        err_set("%s: exists and is not a folder", out_dir);
        return -1;
    }
    if (dir_exists(out_dir) && !replaceable(out_dir)) return -1;
    if (o->scale_mode == SCALE_FIXED && !(o->alpha >= FP16_SCALE_MIN && o->alpha <= 1)) {
        err_set("--fp16-scale %g: must be between 1/1024 and 1 (a smaller alpha pushes the weights into FP16's "
                "subnormal range)", o->alpha);
        return -1;
    }
    remove_stale_temporaries(out_dir);
    Model m;
    if (model_load(&m, hf_dir)) return -1;
    if (m.converted) {
        model_free(&m);
        err_set("%s: is already a converted model (convert takes a Hugging Face checkpoint)", hf_dir);
        return -1;
    }
    const ModelConfig *c = &m.cfg;
    int L = c->num_layers;
    int context = o->context ? o->context : model_default_context(&m);
    if (context > c->max_position_embeddings) {
        err_set("context %d exceeds the model's max_position_embeddings %d", context, c->max_position_embeddings);
        model_free(&m);
        return -1;
    }
    if (o->chunks < 1 || o->chunks > L || o->chunks > META_MAX_CHUNKS) {
        err_set("--chunk %d: must be between 1 and the layer count %d", o->chunks, L);
        model_free(&m);
        return -1;
    }
    int rc = -1;
    char *tmp = xmalloc(strlen(out_dir) + 32);
    sprintf(tmp, "%s.tmp.%d", out_dir, (int)getpid());
    float *peaks_before = xcalloc((size_t)L, sizeof(float)), *peaks_after = xcalloc((size_t)L, sizeof(float));
    int nf = o->chunks + 2; /* embeddings, the chunks, the LM head */
    OutFile *files = xcalloc((size_t)nf, sizeof *files);
    ModelMeta meta;
    memset(&meta, 0, sizeof meta);

    /* 1. alpha */
    if (o->n_calib > 0 && measure_residual_peaks(&m, o->calib_ids, o->n_calib, o->batch, peaks_before,
                                                 &r->peak_before, &o->progress, "calibration"))
        goto out;
    r->alpha = o->scale_mode == SCALE_AUTO ? alpha_for_peak(r->peak_before)
             : o->scale_mode == SCALE_FIXED ? o->alpha : 1.0;
    if (!(r->alpha > 0 && r->alpha <= 1)) {
        err_set("--fp16-scale %g: must be in (0, 1]", r->alpha);
        goto out;
    }

    /* 2. files, into a temporary folder */
    if (mkdir(tmp, 0755) != 0) {
        err_set("%s: cannot create folder: %s", tmp, strerror(errno));
        goto out;
    }
    meta.context_length = context;
    meta.batch_size = o->batch;
    meta.num_chunks = o->chunks;
    meta.lut_embeddings = o->lut_embeddings;
    meta.lut_ffn = o->lut_ffn;
    meta.lut_lmhead = o->lut_lmhead;
    meta.alpha = r->alpha;
    meta.peak_before = r->peak_before;
    meta_split_layers(L, o->chunks, meta.chunk_first_layer);
    meta_file_names(&meta);
    new_model_id(meta.model_id, sizeof meta.model_id);
    float alpha = (float)r->alpha;
    files[0] = (OutFile){meta.embeddings_file, "embeddings", o->lut_embeddings, xcalloc(1, sizeof(OutTensor)), 1};
    matrix_out(files[0].ts, "embed_tokens.weight", &m.w.embed, o->lut_embeddings, alpha);
    for (int ch = 0; ch < o->chunks; ch++) {
        files[1 + ch] = (OutFile){meta.chunk_files[ch], "ffn_chunk", o->lut_ffn, NULL, 0};
        chunk_tensors(&m, meta.chunk_first_layer[ch], meta.chunk_first_layer[ch + 1], ch == o->chunks - 1, alpha,
                      &files[1 + ch]);
    }
    /* the LM head is the original (tied) matrix: the final norm already removes alpha */
    files[nf - 1] = (OutFile){meta.lm_head_file, "lm_head", o->lut_lmhead, xcalloc(1, sizeof(OutTensor)), 1};
    matrix_out(files[nf - 1].ts, "lm_head.weight", &m.w.lm_head, o->lut_lmhead, 1.0f);
    Tally tally = {&o->progress, 0, 0};
    for (int i = 0; i < nf; i++)
        for (int k = 0; k < files[i].n; k++) tally.total += tensor_weights(&files[i].ts[k]);
    if (progress_report(&o->progress, "writing", "weights", 0, tally.total)) goto out;
    for (int i = 0; i < nf; i++)
        if (write_file(tmp, &files[i], meta.model_id, o->threads, &tally)) goto out;
    static const char *copies[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                   "special_tokens_map.json", "tokenizer.model", "chat_template.jinja"};
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
        if (copy_file(hf_dir, tmp, copies[i])) goto out;
    if (write_meta(tmp, &m, &meta, o, hf_dir, o->n_calib ? peaks_before : NULL, NULL)) goto out;

    /* 3. load what was written: it must be a working model; record its peaks */
    Model conv;
    if (model_load_unfinished(&conv, tmp)) goto out;
    int mrc = o->n_calib > 0 ? measure_residual_peaks(&conv, o->calib_ids, o->n_calib, o->batch, peaks_after,
                                                      &r->peak_after, &o->progress, "checking")
                             : 0;
    model_free(&conv);
    if (mrc) goto out;
    /* the written model must carry the residual stream scaled by alpha: a peak that vanished or
     * went non-finite means the weights were destroyed, whatever the conversion said */
    if (o->n_calib > 0 && !(isfinite(r->peak_after) && r->peak_after > 0 &&
                            fabs(r->peak_after - r->alpha * r->peak_before) <= 0.5 * r->alpha * r->peak_before)) {
        err_set("the converted model's residual peak is %g where alpha %g x %g was expected: the conversion "
                "destroyed the model", r->peak_after, r->alpha, r->peak_before);
        goto out;
    }
    meta.peak_after = r->peak_after;
    if (write_meta(tmp, &m, &meta, o, hf_dir, o->n_calib ? peaks_before : NULL, o->n_calib ? peaks_after : NULL))
        goto out;
    /* 4. into place */
    if (move_into_place(tmp, out_dir, o->force)) goto out;
    rc = 0;
out:
    if (rc) remove_tree(tmp);
    free(tmp);
    free(peaks_before);
    free(peaks_after);
    for (int i = 0; i < nf; i++) free(files[i].ts);
    free(files);
    model_free(&m);
    r->seconds = now_seconds() - t0;
    return rc;
}
