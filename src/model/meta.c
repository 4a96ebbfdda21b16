/* meta.yaml of a converted model: ANEMLL's structure and keys (model_info.parameters.*) where they
 * apply, plus an `anemll_c` block with what this engine needs and records (shape, layer types,
 * chunk files and their layers, FP16 scale and calibration peaks, source, tool version). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/yaml.h"
#include "model/model.h"
#include "util/util.h"

void meta_split_layers(int num_layers, int num_chunks, int *first) {
    int base = num_layers / num_chunks, rem = num_layers % num_chunks;
    first[0] = 0;
    for (int c = 0; c < num_chunks; c++) first[c + 1] = first[c] + base + (c < rem);
}

static void lut_suffix(char *buf, size_t n, LutInfo l) {
    if (l.bits)
        snprintf(buf, n, "_lut%d", l.bits);
    else
        buf[0] = 0;
}

void meta_file_names(ModelMeta *m) {
    char s[16];
    lut_suffix(s, sizeof s, m->lut_embeddings);
    snprintf(m->embeddings_file, sizeof m->embeddings_file, "gemma3_embeddings%s.safetensors", s);
    lut_suffix(s, sizeof s, m->lut_lmhead);
    snprintf(m->lm_head_file, sizeof m->lm_head_file, "gemma3_lm_head%s.safetensors", s);
    lut_suffix(s, sizeof s, m->lut_ffn);
    for (int c = 0; c < m->num_chunks; c++)
        snprintf(m->chunk_files[c], sizeof m->chunk_files[c], "gemma3_FFN_PF%s_chunk_%02dof%02d.safetensors", s,
                 c + 1, m->num_chunks);
}

static int read_lut(const YamlNode *y, const char *key, LutInfo *out) {
    char path[128];
    snprintf(path, sizeof path, "model_info.parameters.%s", key);
    const char *v = ytree_str(y, path, "none");
    out->bits = 0;
    out->per_channel = 0;
    if (strcmp(v, "none") != 0) {
        long bits;
        if (ytree_int(y, path, 0, &bits) < 0 || bits < 2 || bits > 8) {
            err_set("meta.yaml: %s must be none or 2..8", key);
            return -1;
        }
        out->bits = (int)bits;
        long g;
        snprintf(path, sizeof path, "model_info.parameters.%s_per_channel", key);
        if (ytree_int(y, path, 0, &g) < 0 || g < 0 || g > (1 << 24)) {
            err_set("meta.yaml: %s_per_channel must be a non-negative integer", key);
            return -1;
        }
        out->per_channel = (int)g;
    }
    return 0;
}

static int param_int(const YamlNode *y, const char *key, long def, long min, long max, int *out, const char *path) {
    char full[128];
    long v;
    snprintf(full, sizeof full, "model_info.parameters.%s", key);
    if (ytree_int(y, full, def, &v) < 0 || v < min || v > max) {
        err_set("%s: %s must be an integer in [%ld, %ld]", path, key, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int meta_read(ModelMeta *m, const char *path) {
    memset(m, 0, sizeof *m);
    YamlNode *y = ytree_load(path);
    if (!y) return -1;
    int rc = -1;
    if (!ytree_get(y, "model_info.parameters")) {
        err_set("%s: no model_info.parameters", path);
        goto out;
    }
    if (param_int(y, "context_length", 4096, 1, 1 << 24, &m->context_length, path) ||
        param_int(y, "batch_size", 64, 1, 65536, &m->batch_size, path) ||
        param_int(y, "num_chunks", 1, 1, META_MAX_CHUNKS, &m->num_chunks, path))
        goto out;
    if (read_lut(y, "lut_embeddings", &m->lut_embeddings) || read_lut(y, "lut_ffn", &m->lut_ffn) ||
        read_lut(y, "lut_lmhead", &m->lut_lmhead))
        goto bad;
    if (ytree_double(y, "anemll_c.fp16_scale.alpha", 1.0, &m->alpha) < 0 ||
        ytree_double(y, "anemll_c.fp16_scale.peak_before", 0, &m->peak_before) < 0 ||
        ytree_double(y, "anemll_c.fp16_scale.peak_after", 0, &m->peak_after) < 0)
        goto bad;
    if (!(m->alpha > 0 && m->alpha <= 1)) {
        err_set("%s: fp16_scale.alpha must be in (0, 1]", path);
        goto out;
    }
    snprintf(m->source_checkpoint, sizeof m->source_checkpoint, "%s", ytree_str(y, "anemll_c.source_checkpoint", ""));
    const char *id = ytree_str(y, "anemll_c.model_id", "");
    if (strlen(id) >= sizeof m->model_id || strspn(id, "0123456789abcdef") != strlen(id)) {
        err_set("%s: anemll_c.model_id must be at most %zu hex digits", path, sizeof m->model_id - 1);
        goto out;
    }
    snprintf(m->model_id, sizeof m->model_id, "%s", id);
    const struct {
        const char *key;
        int *v;
    } shape[] = {{"hidden_size", &m->hidden_size},   {"intermediate_size", &m->intermediate_size},
                 {"num_layers", &m->num_layers},     {"num_heads", &m->num_heads},
                 {"num_kv_heads", &m->num_kv_heads}, {"head_dim", &m->head_dim},
                 {"vocab_size", &m->vocab_size},     {"sliding_window", &m->sliding_window}};
    for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++) {
        char key[64];
        long v;
        snprintf(key, sizeof key, "anemll_c.shape.%s", shape[i].key);
        if (ytree_int(y, key, 0, &v) < 0 || v < 0 || v > (1 << 24)) {
            err_set("%s: %s must be an integer in [0, %d]", path, key, 1 << 24);
            goto out;
        }
        *shape[i].v = (int)v;
    }
    meta_file_names(m);
    /* the recorded files must be the ones the parameters name */
    const char *emb = ytree_str(y, "model_info.parameters.embeddings", NULL);
    const char *lm = ytree_str(y, "model_info.parameters.lm_head", NULL);
    const char *ffn = ytree_str(y, "model_info.parameters.ffn", NULL);
    if (!emb || !lm || !ffn || strcmp(emb, m->embeddings_file) || strcmp(lm, m->lm_head_file) ||
        strcmp(ffn, m->chunk_files[0])) {
        err_set("%s: embeddings/lm_head/ffn file names do not match the LUT and chunk parameters", path);
        goto out;
    }
    rc = 0;
    goto out;
bad:
    {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", err_get());
        err_set("%s: %s", path, strncmp(saved, "meta.yaml: ", 11) == 0 ? saved + 11 : saved);
    }
out:
    ytree_free(y);
    return rc;
}
