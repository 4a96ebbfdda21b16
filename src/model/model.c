#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "quant/lut_format.h"
#include "util/pool.h"
#include "util/util.h"

#define FLOAT_DTYPES ((1u << DT_F32) | (1u << DT_F16) | (1u << DT_BF16))

static float tensor_value(const StTensor *t, size_t i) {
    switch (t->dtype) {
    case DT_F32: return ((const float *)t->data)[i];
    case DT_F16: return f16_to_f32(((const uint16_t *)t->data)[i]);
    case DT_BF16: return bf16_to_f32(((const uint16_t *)t->data)[i]);
    default: return NAN;
    }
}

/* "layers.N." with N a plain decimal layer number (no sign, no leading zero, < num_layers);
 * returns the length of that prefix, or 0. */
static size_t layer_prefix(const char *s, int num_layers) {
    if (strncmp(s, "layers.", 7) != 0) return 0;
    const char *p = s + 7;
    long l = 0;
    size_t digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9' && digits < 10) l = l * 10 + (p[digits++] - '0');
    if (digits == 0 || p[digits] != '.' || (digits > 1 && p[0] == '0') || l >= num_layers) return 0;
    return 7 + digits + 1;
}

/* The file a converted model keeps a tensor in, as convert writes them (embeddings; each layer in
 * the chunk of its layer, the final norm in the last chunk; LM head), so that a missing tensor is
 * blamed on that file; -1 for a checkpoint, whose tensors may sit in any of its files. */
static int home_file(const Model *m, const char *name) {
    if (!m->converted) return -1;
    int chunks = m->meta.num_chunks;
    if (!strncmp(name, "embed_tokens.", 13)) return 0;
    if (!strncmp(name, "lm_head.", 8)) return chunks + 1;
    if (!strncmp(name, "norm.", 5)) return chunks;
    if (!layer_prefix(name, m->cfg.num_layers)) return -1;
    int first[META_MAX_CHUNKS + 1], l = atoi(name + 7), c = 0;
    meta_split_layers(m->cfg.num_layers, chunks, first);
    while (l >= first[c + 1]) c++;
    return 1 + c;
}

static const StTensor *expect(const Model *m, const char *name, unsigned dtype_mask, int ndim, const int64_t *shape) {
    return st_expect(&m->st, home_file(m, name), name, dtype_mask, ndim, shape);
}

/* A LUT-palettized matrix is two tensors: NAME.indices (U8 [rows, row_bytes], packed as
 * src/quant/lut_format.h describes) and NAME.lut (F16 [ngroups, 2^bits]). */
static int load_lut_matrix(const Model *m, const char *name, int rows, int cols, LutInfo lut, QMatrix *out) {
    char iname[300], lname[300];
    snprintf(iname, sizeof iname, "%s.indices", name);
    snprintf(lname, sizeof lname, "%s.lut", name);
    int group = lut_group_rows(rows, lut.per_channel);
    int64_t ishape[2] = {rows, (int64_t)lut_row_bytes(cols, lut.bits)};
    int64_t lshape[2] = {lut_num_groups(rows, group), 1 << lut.bits};
    const StTensor *ti = expect(m, iname, 1u << DT_U8, 2, ishape);
    const StTensor *tl = ti ? expect(m, lname, 1u << DT_F16, 2, lshape) : NULL;
    if (!tl) return -1;
    /* one NaN entry would poison every row of its group (greedy decoding then emits token 0
     * forever): refuse it here, as a non-finite weight */
    const uint16_t *tab = tl->data;
    for (size_t i = 0; i < tl->nbytes / 2; i++)
        if ((tab[i] & 0x7c00) == 0x7c00) {
            err_set("%s: tensor '%s' has a non-finite table entry (%s at index %zu)", m->st.files[tl->file].path,
                    lname, tab[i] & 0x3ff ? "NaN" : "inf", i);
            return -1;
        }
    memset(out, 0, sizeof *out);
    out->kind = QM_LUT;
    out->rows = rows;
    out->cols = cols;
    out->data = ti->data;
    out->bits = lut.bits;
    out->group = group;
    out->row_bytes = (size_t)ishape[1];
    out->luts = tl->data;
    qmat_prepare_q8(out);
    return 0;
}

static int load_matrix(const Model *m, const char *name, int rows, int cols, LutInfo lut, QMatrix *out) {
    if (lut.bits) return load_lut_matrix(m, name, rows, cols, lut, out);
    int64_t shape[2] = {rows, cols};
    const StTensor *t = expect(m, name, FLOAT_DTYPES, 2, shape);
    if (!t) return -1;
    memset(out, 0, sizeof *out);
    out->kind = t->dtype == DT_F32 ? QM_F32 : t->dtype == DT_F16 ? QM_F16 : QM_BF16;
    out->rows = rows;
    out->cols = cols;
    out->data = t->data;
    return 0;
}

/* RMSNorm gain vector (1 + w) in FP32, as the reference computes it. */
static float *load_gain(const Model *m, const char *name, int n) {
    int64_t shape[1] = {n};
    const StTensor *t = expect(m, name, FLOAT_DTYPES, 1, shape);
    if (!t) return NULL;
    float *g = xmalloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < n; i++) g[i] = 1.0f + tensor_value(t, (size_t)i);
    return g;
}

/* The text model's tensors sit under one of these prefixes, depending on the layout. */
static const char *find_prefix(const SafeTensors *st) {
    static const char *prefixes[] = {"model.", "language_model.model.", "model.language_model."};
    char name[256];
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", prefixes[i]);
        if (st_find(st, name)) return prefixes[i];
    }
    return NULL;
}

static int load_layer(const Model *m, const char *prefix, int l, LayerWeights *lw) {
    const ModelConfig *c = &m->cfg;
    LutInfo lut = m->meta.lut_ffn;
    char name[256];
    int H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    int qd = c->num_heads * hd, kvd = c->num_kv_heads * hd;
#define NAME(suffix) (snprintf(name, sizeof name, "%slayers.%d.%s", prefix, l, suffix), name)
    if (load_matrix(m, NAME("self_attn.q_proj.weight"), qd, H, lut, &lw->q) ||
        load_matrix(m, NAME("self_attn.k_proj.weight"), kvd, H, lut, &lw->k) ||
        load_matrix(m, NAME("self_attn.v_proj.weight"), kvd, H, lut, &lw->v) ||
        load_matrix(m, NAME("self_attn.o_proj.weight"), H, qd, lut, &lw->o) ||
        load_matrix(m, NAME("mlp.gate_proj.weight"), I, H, lut, &lw->gate) ||
        load_matrix(m, NAME("mlp.up_proj.weight"), I, H, lut, &lw->up) ||
        load_matrix(m, NAME("mlp.down_proj.weight"), H, I, lut, &lw->down))
        return -1;
    if (!(lw->input_norm = load_gain(m, NAME("input_layernorm.weight"), H)) ||
        !(lw->post_attn_norm = load_gain(m, NAME("post_attention_layernorm.weight"), H)) ||
        !(lw->pre_ff_norm = load_gain(m, NAME("pre_feedforward_layernorm.weight"), H)) ||
        !(lw->post_ff_norm = load_gain(m, NAME("post_feedforward_layernorm.weight"), H)) ||
        !(lw->q_norm = load_gain(m, NAME("self_attn.q_norm.weight"), hd)) ||
        !(lw->k_norm = load_gain(m, NAME("self_attn.k_norm.weight"), hd)))
        return -1;
#undef NAME
    return 0;
}

/* Every tensor under the text prefix must be one this engine reads: anything else means a model
 * variant whose math we would silently get wrong. */
static const char *const layer_tensors[] = {
    "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
    "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight",
    "post_attention_layernorm.weight", "pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight",
    "self_attn.q_norm.weight", "self_attn.k_norm.weight"};

/* A converted model stores a matrix either plain or as NAME.indices + NAME.lut, as its meta.yaml
 * says for that part (embeddings, FFN chunks, LM head); norms are always plain. */
static int known_tensor(const char *name, int num_layers, const Model *m) {
    char base[256];
    snprintf(base, sizeof base, "%s", name);
    size_t len = strlen(base);
    int lut_part = 0; /* 1: NAME.indices or NAME.lut */
    if (m->converted) {
        if (len > 8 && !strcmp(base + len - 8, ".indices")) base[len - 8] = 0, lut_part = 1;
        else if (len > 4 && !strcmp(base + len - 4, ".lut")) base[len - 4] = 0, lut_part = 1;
    }
    const ModelMeta *mm = &m->meta;
    if (m->converted && !strcmp(base, "lm_head.weight")) return lut_part == (mm->lut_lmhead.bits != 0);
    if (!strcmp(base, "embed_tokens.weight")) return lut_part == (mm->lut_embeddings.bits != 0);
    if (!strcmp(base, "norm.weight")) return !lut_part;
    size_t off = layer_prefix(base, num_layers);
    if (!off) return 0;
    for (size_t i = 0; i < sizeof layer_tensors / sizeof layer_tensors[0]; i++)
        if (!strcmp(base + off, layer_tensors[i])) /* the first seven are the matrices */
            return lut_part == (i < 7 && mm->lut_ffn.bits != 0);
    return 0;
}

static int check_tensor_names(const Model *m, const char *prefix) {
    size_t pl = strlen(prefix);
    for (int i = 0; i < m->st.n_tensors; i++) {
        const char *name = m->st.tensors[i].name;
        if (strncmp(name, prefix, pl) != 0) continue; /* vision tower, projector, lm_head */
        if (!known_tensor(name + pl, m->cfg.num_layers, m)) {
            err_set("%s: unexpected tensor '%s' (not part of a Gemma 3 text model of %d layers)",
                    m->st.files[m->st.tensors[i].file].path, name, m->cfg.num_layers);
            return -1;
        }
    }
    return 0;
}

/* A converted folder is one conversion: config.json has the shape meta.yaml recorded, and every
 * weight file carries the conversion's id (a reader racing `convert --force`, or a hand-copied
 * file, would otherwise mix two models and run). */
static int check_converted_folder(const Model *m) {
    const ModelMeta *mm = &m->meta;
    const ModelConfig *c = &m->cfg;
    const struct {
        const char *key;
        int meta, cfg;
    } shape[] = {{"hidden_size", mm->hidden_size, c->hidden_size},
                 {"intermediate_size", mm->intermediate_size, c->intermediate_size},
                 {"num_layers", mm->num_layers, c->num_layers},
                 {"num_heads", mm->num_heads, c->num_heads},
                 {"num_kv_heads", mm->num_kv_heads, c->num_kv_heads},
                 {"head_dim", mm->head_dim, c->head_dim},
                 {"vocab_size", mm->vocab_size, c->vocab_size},
                 {"sliding_window", mm->sliding_window, c->sliding_window}};
    for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++)
        if (shape[i].meta && shape[i].meta != shape[i].cfg) {
            err_set("%s: config.json says %s %d but meta.yaml recorded %d: the folder mixes two models", m->dir,
                    shape[i].key, shape[i].cfg, shape[i].meta);
            return -1;
        }
    if (!mm->model_id[0]) return 0;
    for (int f = 0; f < m->st.n_files; f++) {
        const char *id = st_metadata(&m->st, f, "model_id");
        if (!id || strcmp(id, mm->model_id) != 0) {
            err_set("%s: belongs to another conversion (model_id %s, meta.yaml says %s): the folder mixes two models",
                    m->st.files[f].path, id ? id : "missing", mm->model_id);
            return -1;
        }
    }
    return 0;
}

/* The mapped files: a converted model's are the ones its meta.yaml names. */
static int open_weights(Model *m) {
    char *meta_path = path_join(m->dir, "meta.yaml");
    int rc;
    if (file_exists(meta_path)) {
        m->converted = 1;
        rc = meta_read(&m->meta, meta_path);
        if (rc == 0) {
            const char *names[META_MAX_CHUNKS + 2];
            int n = 0;
            names[n++] = m->meta.embeddings_file;
            for (int c = 0; c < m->meta.num_chunks; c++) names[n++] = m->meta.chunk_files[c];
            names[n++] = m->meta.lm_head_file;
            rc = st_open_files(&m->st, m->dir, names, n);
        }
    } else {
        m->meta.alpha = 1.0;
        rc = st_open(&m->st, m->dir);
    }
    free(meta_path);
    return rc;
}

/* NAME.tmp.DIGITS, the temporary name convert writes under */
static int temporary_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t d = n;
    while (d > 0 && dir[d - 1] >= '0' && dir[d - 1] <= '9') d--;
    return d < n && d >= 5 && strncmp(dir + d - 5, ".tmp.", 5) == 0;
}

/* The folder path names: itself, or the folder of a meta.yaml (--meta DIR/meta.yaml). */
static char *model_folder(const char *path) {
    char *dir = xstrdup(path);
    size_t len = strlen(path);
    if (len >= 9 && strcmp(path + len - 9, "meta.yaml") == 0) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0; else strcpy(dir, ".");
    }
    return dir;
}

/* dir exists and (unless allowed) is not a conversion's temporary folder */
static int usable_folder(const char *dir, int allow_unfinished) {
    if (!dir_exists(dir)) {
        err_set("%s: model folder not found", dir);
        return 0;
    }
    if (!allow_unfinished && temporary_name(dir)) {
        err_set("%s: the temporary folder of an unfinished conversion, never loaded as a model (delete it)", dir);
        return 0;
    }
    return 1;
}

int model_check_path(const char *path) {
    char *dir = model_folder(path);
    int ok = usable_folder(dir, 0);
    free(dir);
    return ok ? 0 : -1;
}

static int load(Model *m, const char *path, int allow_unfinished) {
    memset(m, 0, sizeof *m);
    m->dir = model_folder(path);
    if (!usable_folder(m->dir, allow_unfinished)) goto fail;
    if (config_load_dir(&m->cfg, m->dir)) goto fail;
    if (open_weights(m)) goto fail;
    if (m->converted && check_converted_folder(m)) goto fail;
    const ModelConfig *c = &m->cfg;
    LutInfo plain = {0, 0};
    if (m->converted && m->meta.context_length > c->max_position_embeddings) {
        err_set("%s: meta.yaml context_length %d exceeds max_position_embeddings %d", m->dir, m->meta.context_length,
                c->max_position_embeddings);
        goto fail;
    }
    if (m->converted && m->meta.num_chunks > c->num_layers) {
        err_set("%s: meta.yaml names %d chunks for %d layers", m->dir, m->meta.num_chunks, c->num_layers);
        goto fail;
    }
    const char *prefix = m->converted ? "" : find_prefix(&m->st);
    if (!prefix) {
        err_set("%s: no Gemma 3 text weights (no model.embed_tokens.weight under any known prefix)",
                m->st.files[0].path);
        goto fail;
    }
    char name[256];
    snprintf(name, sizeof name, "%sembed_tokens.weight", prefix);
    if (load_matrix(m, name, c->vocab_size, c->hidden_size, m->meta.lut_embeddings, &m->w.embed)) goto fail;
    if (m->converted) {
        /* a conversion always stores its (possibly palettized, never scaled) LM head on its own */
        if (load_matrix(m, "lm_head.weight", c->vocab_size, c->hidden_size, m->meta.lut_lmhead, &m->w.lm_head))
            goto fail;
        /* Where the kernels look this width up slowly, the head (a third of the bytes a 1B model
         * reads per token) is read as a code per weight instead: 33% more bytes, no unpacking.  Its
         * index pages, read once to build it, are let go. */
        if (qmat_kernel_wants_codes8(&m->w.lm_head)) {
            qmat_prepare_codes8(&m->w.lm_head, pool_threads());
            map_release(m->w.lm_head.data, (size_t)m->w.lm_head.rows * m->w.lm_head.row_bytes);
        }
    } else if (c->tie_word_embeddings) {
        m->w.lm_head = m->w.embed;
    } else {
        const char *lm = m->cfg.multimodal && strcmp(prefix, "model.") != 0 ? "language_model.lm_head.weight"
                                                                           : "lm_head.weight";
        if (load_matrix(m, lm, c->vocab_size, c->hidden_size, plain, &m->w.lm_head)) goto fail;
    }
    snprintf(name, sizeof name, "%snorm.weight", prefix);
    if (!(m->w.final_norm = load_gain(m, name, c->hidden_size))) goto fail;
    if (check_tensor_names(m, prefix)) goto fail;
    /* torch.tensor(sqrt(H)) is an FP32 scalar */
    m->w.embed_scale = (float)sqrt((double)c->hidden_size);
    m->w.layers = xcalloc((size_t)c->num_layers, sizeof(LayerWeights));
    for (int l = 0; l < c->num_layers; l++)
        if (load_layer(m, prefix, l, &m->w.layers[l])) goto fail;
    return 0;
fail:
    model_free(m);
    return -1;
}

int model_load(Model *m, const char *path) { return load(m, path, 0); }
int model_load_unfinished(Model *m, const char *path) { return load(m, path, 1); }

void model_free(Model *m) {
    if (m->w.layers) {
        for (int l = 0; l < m->cfg.num_layers; l++) {
            LayerWeights *lw = &m->w.layers[l];
            free(lw->input_norm);
            free(lw->post_attn_norm);
            free(lw->pre_ff_norm);
            free(lw->post_ff_norm);
            free(lw->q_norm);
            free(lw->k_norm);
            QMatrix *mats[LAYER_NUM_MATRICES] = {LAYER_MATRICES(lw)};
            for (int i = 0; i < LAYER_NUM_MATRICES; i++) qmat_free_q8(mats[i]);
        }
        free(m->w.layers);
    }
    free(m->w.final_norm);
    if (m->w.lm_head.lut_q8 != m->w.embed.lut_q8) qmat_free_q8(&m->w.lm_head); /* else tied: shared */
    qmat_free_q8(&m->w.embed);
    st_close(&m->st);
    config_free(&m->cfg);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

int model_default_context(const Model *m) {
    if (m->converted) return m->meta.context_length;
    return m->cfg.max_position_embeddings < 4096 ? m->cfg.max_position_embeddings : 4096;
}

int model_check_tokens(const Model *m, const int *tokens, int n, int context) {
    if (n <= 0) {
        err_set("empty token list");
        return -1;
    }
    if (n > context) {
        err_set("%d tokens do not fit the context of %d", n, context);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size) {
            err_set("token id %d at position %d is outside the vocabulary (0..%d)", tokens[i], i,
                    m->cfg.vocab_size - 1);
            return -1;
        }
    return 0;
}

static void lut_str(char *buf, size_t n, LutInfo l) {
    if (!l.bits)
        snprintf(buf, n, "none (FP16)");
    else if (l.per_channel)
        snprintf(buf, n, "LUT%d, per_channel %d", l.bits, l.per_channel);
    else
        snprintf(buf, n, "LUT%d, one table per tensor", l.bits);
}

void model_describe(const Model *m, FILE *f) {
    const ModelConfig *c = &m->cfg;
    char line[512];
    config_describe(c, line, sizeof line);
    fprintf(f, "model: %s (%s)\n", m->dir, m->converted ? "anemll conversion" : "Hugging Face checkpoint");
    fprintf(f, "shape: %s\n", line);
    fprintf(f, "layer types:");
    for (int l = 0; l < c->num_layers; l++) fprintf(f, " %c", c->layer_types[l] == LAYER_FULL ? 'G' : 's');
    fprintf(f, "   (G global, s sliding)\n");
    size_t total = 0;
    fprintf(f, "files:\n");
    for (int i = 0; i < m->st.n_files; i++) {
        const char *slash = strrchr(m->st.files[i].path, '/');
        fprintf(f, "  %-48s %10.1f MB (%.1f MiB)\n", slash ? slash + 1 : m->st.files[i].path,
                m->st.files[i].size / 1e6, m->st.files[i].size / 1048576.0);
        total += m->st.files[i].size;
    }
    fprintf(f, "  %-48s %10.1f MB (%.1f MiB)\n", "total", total / 1e6, total / 1048576.0);
    if (m->converted) {
        char e[64], ff[64], h[64];
        lut_str(e, sizeof e, m->meta.lut_embeddings);
        lut_str(ff, sizeof ff, m->meta.lut_ffn);
        lut_str(h, sizeof h, m->meta.lut_lmhead);
        fprintf(f, "context %d, batch %d, %d chunks\n", m->meta.context_length, m->meta.batch_size,
                m->meta.num_chunks);
        fprintf(f, "embeddings: %s; attention+MLP: %s; LM head: %s\n", e, ff, h);
        fprintf(f, "fp16 scale alpha: %.6g (calibration peak |residual| before %.6g, after %.6g)\n", m->meta.alpha,
                m->meta.peak_before, m->meta.peak_after);
    }
}
