#include "model/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_text.h"
#include "util/util.h"

/* Gemma3TextConfig defaults (transformers), used for every field a config omits. */
static void set_defaults(ModelConfig *c) {
    memset(c, 0, sizeof *c);
    c->vocab_size = 262208;
    c->hidden_size = 2304;
    c->intermediate_size = 9216;
    c->num_layers = 26;
    c->num_heads = 8;
    c->num_kv_heads = 4;
    c->head_dim = 256;
    c->max_position_embeddings = 131072;
    c->sliding_window = 4096;
    c->rms_norm_eps = 1e-6f;
    c->rope_theta = 1000000.0;
    c->rope_scaling_factor = 1.0;
    c->rope_local_base_freq = 10000.0;
    c->query_pre_attn_scalar = 256;
    c->activation = ACT_GELU_TANH;
    c->tie_word_embeddings = 1;
    c->bos_token_id = 2;
    c->n_eos = 1;
    c->eos_token_ids[0] = 1;
}

static int get_int(const cJSON *o, const char *key, int *out, int min, int max, const char *origin) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < min ||
        j->valuedouble > max) {
        err_set("%s: '%s' must be an integer in [%d, %d]", origin, key, min, max);
        return -1;
    }
    *out = (int)j->valuedouble;
    return 0;
}

static int get_num(const cJSON *o, const char *key, double *out, double min, double max, const char *origin) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= min && j->valuedouble <= max)) {
        err_set("%s: '%s' must be a number in [%g, %g]", origin, key, min, max);
        return -1;
    }
    *out = j->valuedouble;
    return 0;
}

static int get_bool(const cJSON *o, const char *key, int *out, const char *origin) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsBool(j)) {
        err_set("%s: '%s' must be true or false", origin, key);
        return -1;
    }
    *out = cJSON_IsTrue(j);
    return 0;
}

/* softcapping: null/absent = off; a positive number = on */
static int get_softcap(const cJSON *o, const char *key, double *out, const char *origin) {
    *out = 0;
    return get_num(o, key, out, 1e-6, 1e9, origin);
}

/* a JSON number that is a whole token id (1.5, -1 and 1e30 are not) */
static int is_token_id(const cJSON *j) {
    return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) && j->valuedouble >= 0 &&
           j->valuedouble <= (1 << 24);
}

static int get_eos(const cJSON *o, ModelConfig *c, const char *origin) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "eos_token_id");
    if (!j || cJSON_IsNull(j)) return 0;
    int ids[CONFIG_MAX_EOS], n = 0;
    if (cJSON_IsNumber(j)) {
        if (!is_token_id(j)) goto bad;
        ids[n++] = (int)j->valuedouble;
    } else if (cJSON_IsArray(j)) {
        for (const cJSON *e = j->child; e; e = e->next) {
            if (!is_token_id(e) || n == CONFIG_MAX_EOS) goto bad;
            ids[n++] = (int)e->valuedouble;
        }
    } else {
        goto bad;
    }
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int k = 0; k < c->n_eos; k++) dup |= c->eos_token_ids[k] == ids[i];
        if (!dup && c->n_eos < CONFIG_MAX_EOS) c->eos_token_ids[c->n_eos++] = ids[i];
    }
    return 0;
bad:
    err_set("%s: 'eos_token_id' must be a token id (a whole number 0..16777216) or a list of at most %d of them", origin, CONFIG_MAX_EOS);
    return -1;
}

static int parse_text(ModelConfig *c, const cJSON *t, const char *origin) {
    const char *mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "model_type"));
    if (mt && strcmp(mt, "gemma3_text") != 0 && strcmp(mt, "gemma3") != 0) {
        err_set("%s: model_type '%s' is not Gemma 3 text (gemma3_text)", origin, mt);
        return -1;
    }
    if (get_int(t, "vocab_size", &c->vocab_size, 1, 1 << 24, origin) ||
        get_int(t, "hidden_size", &c->hidden_size, 1, 1 << 16, origin) ||
        get_int(t, "intermediate_size", &c->intermediate_size, 1, 1 << 18, origin) ||
        get_int(t, "num_hidden_layers", &c->num_layers, 1, 1024, origin) ||
        get_int(t, "num_attention_heads", &c->num_heads, 1, 1024, origin) ||
        get_int(t, "num_key_value_heads", &c->num_kv_heads, 1, 1024, origin) ||
        get_int(t, "head_dim", &c->head_dim, 2, 4096, origin) ||
        get_int(t, "max_position_embeddings", &c->max_position_embeddings, 1, 1 << 24, origin) ||
        get_int(t, "sliding_window", &c->sliding_window, 1, 1 << 24, origin) ||
        get_num(t, "rope_theta", &c->rope_theta, 1e-6, 1e12, origin) ||
        get_num(t, "rope_local_base_freq", &c->rope_local_base_freq, 1e-6, 1e12, origin) ||
        get_num(t, "query_pre_attn_scalar", &c->query_pre_attn_scalar, 1e-6, 1e12, origin) ||
        get_softcap(t, "attn_logit_softcapping", &c->attn_logit_softcapping, origin) ||
        get_softcap(t, "final_logit_softcapping", &c->final_logit_softcapping, origin) ||
        get_int(t, "bos_token_id", &c->bos_token_id, 0, 1 << 24, origin))
        return -1;
    double eps = c->rms_norm_eps;
    if (get_num(t, "rms_norm_eps", &eps, 0, 1, origin)) return -1;
    c->rms_norm_eps = (float)eps;
    if (c->head_dim % 2) {
        err_set("%s: head_dim %d must be even for RoPE", origin, c->head_dim);
        return -1;
    }
    if (c->num_heads % c->num_kv_heads) {
        err_set("%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", origin, c->num_heads,
                c->num_kv_heads);
        return -1;
    }
    int bias = 0;
    if (get_bool(t, "attention_bias", &bias, origin)) return -1;
    if (bias) {
        err_set("%s: attention_bias true is not supported (Gemma 3 has none)", origin);
        return -1;
    }
    int bidir = 0;
    if (get_bool(t, "use_bidirectional_attention", &bidir, origin)) return -1;
    if (bidir) {
        err_set("%s: use_bidirectional_attention true is not supported", origin);
        return -1;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(t, "hidden_activation");
    if (!act || cJSON_IsNull(act)) act = cJSON_GetObjectItemCaseSensitive(t, "hidden_act");
    if (act && !cJSON_IsNull(act)) {
        const char *a = cJSON_GetStringValue(act);
        if (a && (strcmp(a, "gelu_pytorch_tanh") == 0 || strcmp(a, "gelu_tanh") == 0 || strcmp(a, "gelu_new") == 0))
            c->activation = ACT_GELU_TANH;
        else if (a && strcmp(a, "gelu") == 0)
            c->activation = ACT_GELU_ERF;
        else {
            err_set("%s: hidden_activation '%s' is not supported", origin, a ? a : "(not a string)");
            return -1;
        }
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(t, "rope_scaling");
    if (rs && !cJSON_IsNull(rs)) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rs, "rope_type"));
        if (!type) type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rs, "type"));
        if (!cJSON_IsObject(rs) || !type) {
            err_set("%s: rope_scaling must be null or an object with a rope_type", origin);
            return -1;
        }
        if (strcmp(type, "linear") == 0) {
            c->rope_scaling_factor = 0;
            if (get_num(rs, "factor", &c->rope_scaling_factor, 1e-6, 1e6, origin)) return -1;
            if (c->rope_scaling_factor == 0) {
                err_set("%s: linear rope_scaling needs a factor", origin);
                return -1;
            }
        } else if (strcmp(type, "default") != 0) {
            err_set("%s: rope_scaling type '%s' is not supported (only linear)", origin, type);
            return -1;
        }
    }
    c->layer_types = xcalloc((size_t)c->num_layers, sizeof(LayerType));
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(t, "layer_types");
    if (lt && !cJSON_IsNull(lt)) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->num_layers) {
            err_set("%s: layer_types must list %d layers", origin, c->num_layers);
            return -1;
        }
        int i = 0;
        for (const cJSON *e = lt->child; e; e = e->next, i++) {
            const char *s = cJSON_GetStringValue(e);
            if (s && strcmp(s, "sliding_attention") == 0)
                c->layer_types[i] = LAYER_SLIDING;
            else if (s && strcmp(s, "full_attention") == 0)
                c->layer_types[i] = LAYER_FULL;
            else {
                err_set("%s: layer_types[%d] is '%s', expected sliding_attention or full_attention", origin, i,
                        s ? s : "(not a string)");
                return -1;
            }
        }
    } else {
        int pattern = 6;
        if (get_int(t, "sliding_window_pattern", &pattern, 1, 1 << 20, origin)) return -1;
        for (int i = 0; i < c->num_layers; i++) c->layer_types[i] = (i + 1) % pattern ? LAYER_SLIDING : LAYER_FULL;
    }
    return 0;
}

int config_parse(ModelConfig *c, const char *json, const char *origin) {
    set_defaults(c);
    const char *why;
    size_t at;
    cJSON *root = json_parse_text(json, strlen(json), &why, &at);
    if (!root) {
        err_set("%s: not a valid JSON object: %s at byte %zu", origin, why, at);
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        err_set("%s: not a valid JSON object", origin);
        cJSON_Delete(root);
        return -1;
    }
    int rc = -1;
    const char *mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    if (!mt) {
        err_set("%s: no model_type", origin);
        goto out;
    }
    if (strcmp(mt, "gemma3") == 0) {
        if (!cJSON_IsObject(tc)) {
            err_set("%s: model_type gemma3 without a text_config object", origin);
            goto out;
        }
        c->multimodal = 1;
        if (parse_text(c, tc, origin)) goto out;
        /* bos may sit at the top level of a multimodal config (eos is read below) */
        if (get_int(root, "bos_token_id", &c->bos_token_id, 0, 1 << 24, origin)) goto out;
        if (get_bool(root, "tie_word_embeddings", &c->tie_word_embeddings, origin)) goto out;
    } else if (strcmp(mt, "gemma3_text") == 0) {
        if (parse_text(c, root, origin)) goto out;
        if (get_bool(root, "tie_word_embeddings", &c->tie_word_embeddings, origin)) goto out;
    } else {
        err_set("%s: model_type '%s' is not supported (expected gemma3_text or gemma3)", origin, mt);
        goto out;
    }
    /* a config's own eos list replaces the default <eos> */
    const cJSON *src = c->multimodal ? tc : root;
    if (cJSON_GetObjectItemCaseSensitive(src, "eos_token_id") ||
        cJSON_GetObjectItemCaseSensitive(root, "eos_token_id")) {
        c->n_eos = 0;
        if (get_eos(root, c, origin) || get_eos(src, c, origin)) goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc) {
        free(c->layer_types);
        c->layer_types = NULL;
    }
    return rc;
}

int config_load_dir(ModelConfig *c, const char *dir) {
    char *path = path_join(dir, "config.json");
    size_t len;
    char *text = read_text_file(path, 16u << 20, &len);
    int rc = -1;
    size_t bad = text ? json_text_bad_byte(text, len) : 0;
    if (text && bad < len) /* config_parse sees the text up to a NUL only */
        err_set("%s: not a valid JSON object: %s at byte %zu", path, text[bad] ? "not valid UTF-8" : "a NUL byte", bad);
    else if (text)
        rc = config_parse(c, text, path);
    free(text);
    free(path);
    if (rc) return rc;
    /* generation_config.json's eos list (chat models add <end_of_turn>) joins the config's */
    char *gpath = path_join(dir, "generation_config.json");
    if (file_exists(gpath)) {
        size_t glen, at = 0;
        const char *why = "unreadable";
        char *g = read_text_file(gpath, 1u << 20, &glen);
        cJSON *root = g ? json_parse_text(g, glen, &why, &at) : NULL;
        if (!root) {
            if (g) err_set("%s: not valid JSON: %s at byte %zu", gpath, why, at);
            rc = -1;
        } else {
            rc = get_eos(root, c, gpath);
        }
        cJSON_Delete(root);
        free(g);
        if (rc) config_free(c);
    }
    free(gpath);
    return rc;
}

void config_free(ModelConfig *c) {
    free(c->layer_types);
    c->layer_types = NULL;
}

int config_is_eos(const ModelConfig *c, int id) {
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_token_ids[i] == id) return 1;
    return 0;
}

void config_describe(const ModelConfig *c, char *buf, int n) {
    int full = 0;
    for (int i = 0; i < c->num_layers; i++) full += c->layer_types[i] == LAYER_FULL;
    snprintf(buf, (size_t)n,
             "vocab %d, hidden %d, intermediate %d, %d layers (%d global, %d sliding, window %d), "
             "%d heads, %d kv heads, head_dim %d",
             c->vocab_size, c->hidden_size, c->intermediate_size, c->num_layers, full, c->num_layers - full,
             c->sliding_window, c->num_heads, c->num_kv_heads, c->head_dim);
}
