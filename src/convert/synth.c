#include "convert/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anemll.h"
#include "io/safetensors.h"
#include "util/rng.h"
#include "util/util.h"

typedef struct {
    const char *name;
    int vocab, hidden, inter, layers, heads, kv_heads, head_dim, window, max_pos;
    double rope_linear_factor; /* 0 = rope_scaling null */
} Shape;

/* Real Gemma 3 text shapes (config.json of the released checkpoints) plus a tiny one. */
static const Shape shapes[] = {
    {"tiny", 1024, 64, 192, 8, 4, 2, 32, 16, 4096, 8.0},
    {"gemma3-270m", 262144, 640, 2048, 18, 4, 1, 256, 512, 32768, 0},
    {"gemma3-1b", 262144, 1152, 6912, 26, 4, 1, 256, 512, 32768, 0},
    {"gemma3-4b", 262208, 2560, 10240, 34, 8, 4, 256, 1024, 131072, 8.0},
};

/* The file being written, and its progress: weights written so far, of all. */
typedef struct {
    StWriter *w;
    uint64_t rng;
    const Progress *progress;
    long done, total;
    uint16_t *buf; /* [SYNTH_CHUNK] BF16 values on their way to the file */
} Out;

enum { SYNTH_CHUNK = 1 << 16 };

/* One tensor of uniform weights of the given standard deviation (uniform on [-a, a] has std
 * a/sqrt(3)), plus a constant offset (norm gains), streamed as BF16 in chunks. */
static int write_random(Out *o, size_t count, double std, double offset) {
    uint16_t *buf = o->buf;
    double a = std * sqrt(3.0);
    o->done += (long)count;
    while (count) {
        size_t n = count < SYNTH_CHUNK ? count : SYNTH_CHUNK;
        for (size_t i = 0; i < n; i++) {
            double u = (double)(splitmix64(&o->rng) >> 11) * (1.0 / 9007199254740992.0); /* [0,1) */
            buf[i] = f32_to_bf16((float)(offset + a * (2 * u - 1)));
        }
        if (st_writer_write(o->w, buf, n * 2)) return -1;
        count -= n;
    }
    return progress_report(o->progress, "writing", "weights", o->done, o->total);
}

static int write_config(const Shape *s, const char *dir, int vocab) {
    char *path = path_join(dir, "config.json");
    char layer_types[8192] = "";
    size_t k = 0;
    for (int i = 0; i < s->layers; i++)
        k += (size_t)snprintf(layer_types + k, sizeof layer_types - k, "%s\n    \"%s\"", i ? "," : "",
                              (i + 1) % 6 ? "sliding_attention" : "full_attention");
    char rope[128];
    if (s->rope_linear_factor > 0)
        snprintf(rope, sizeof rope, "{\"factor\": %.1f, \"rope_type\": \"linear\"}", s->rope_linear_factor);
    else
        snprintf(rope, sizeof rope, "null");
    char *text = xmalloc(16384);
    int len = snprintf(text, 16384,
                       "{\n  \"architectures\": [\"Gemma3ForCausalLM\"],\n  \"model_type\": \"gemma3_text\",\n"
                       "  \"attention_bias\": false,\n  \"attn_logit_softcapping\": null,\n"
                       "  \"final_logit_softcapping\": null,\n  \"bos_token_id\": 2,\n"
                       "  \"eos_token_id\": [1, 106],\n  \"pad_token_id\": 0,\n"
                       "  \"head_dim\": %d,\n  \"hidden_activation\": \"gelu_pytorch_tanh\",\n"
                       "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"layer_types\": [%s\n  ],\n"
                       "  \"max_position_embeddings\": %d,\n  \"num_attention_heads\": %d,\n"
                       "  \"num_hidden_layers\": %d,\n  \"num_key_value_heads\": %d,\n"
                       "  \"query_pre_attn_scalar\": %d,\n  \"rms_norm_eps\": 1e-06,\n"
                       "  \"rope_local_base_freq\": 10000.0,\n  \"rope_scaling\": %s,\n"
                       "  \"rope_theta\": 1000000.0,\n  \"sliding_window\": %d,\n"
                       "  \"tie_word_embeddings\": true,\n  \"torch_dtype\": \"bfloat16\",\n"
                       "  \"vocab_size\": %d,\n  \"anemll_synthetic\": \"%s\"\n}\n",
                       s->head_dim, s->hidden, s->inter, layer_types, s->max_pos, s->heads, s->layers, s->kv_heads,
                       s->head_dim, rope, s->window, vocab, s->name);
    AtomicFile f;
    int rc = atomic_open(&f, path);
    if (rc == 0) {
        rc = atomic_write(&f, text, (size_t)len);
        if (rc == 0)
            rc = atomic_commit(&f);
        else
            atomic_abort(&f);
    }
    free(text);
    free(path);
    return rc;
}

int synth_write(const char *shape_name, const char *out_dir, int vocab, uint64_t seed, const Progress *progress) {
    const Shape *s = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, shape_name) == 0) s = &shapes[i];
    if (!s) {
        err_set("unknown shape '%s' (known: %s)", shape_name, ANEMLL_SYNTH_SHAPES);
        return -1;
    }
    if (vocab <= 0) vocab = s->vocab;
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        err_set("%s: cannot create folder: %s", out_dir, strerror(errno));
        return -1;
    }
    int H = s->hidden, I = s->inter, hd = s->head_dim, qd = s->heads * hd, kvd = s->kv_heads * hd;
    char *path = path_join(out_dir, "model.safetensors");
    StWriter *w = st_writer_new(path);
    free(path);
    /* total: the embeddings and the final norm, then each layer's tensors as they are declared */
    Out o = {w, seed * 0x2545F4914F6CDD1Dull + 1, progress, 0, (long)vocab * H + H,
             xmalloc(sizeof(uint16_t) * SYNTH_CHUNK)};
    st_writer_metadata(w, "format", "pt");
    char name[256];
    /* declaration order = write order */
    int64_t emb[2] = {vocab, H}, hv[1] = {H};
    st_writer_declare(w, "model.embed_tokens.weight", DT_BF16, 2, emb);
    st_writer_declare(w, "model.norm.weight", DT_BF16, 1, hv);
    for (int l = 0; l < s->layers; l++) {
        struct {
            const char *suffix;
            int64_t r, c;
        } t[] = {{"self_attn.q_proj.weight", qd, H},   {"self_attn.k_proj.weight", kvd, H},
                 {"self_attn.v_proj.weight", kvd, H},  {"self_attn.o_proj.weight", H, qd},
                 {"mlp.gate_proj.weight", I, H},       {"mlp.up_proj.weight", I, H},
                 {"mlp.down_proj.weight", H, I},       {"input_layernorm.weight", H, 0},
                 {"post_attention_layernorm.weight", H, 0}, {"pre_feedforward_layernorm.weight", H, 0},
                 {"post_feedforward_layernorm.weight", H, 0}, {"self_attn.q_norm.weight", hd, 0},
                 {"self_attn.k_norm.weight", hd, 0}};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            snprintf(name, sizeof name, "model.layers.%d.%s", l, t[i].suffix);
            int64_t shape[2] = {t[i].r, t[i].c};
            st_writer_declare(w, name, DT_BF16, t[i].c ? 2 : 1, shape);
            o.total += (long)t[i].r * (t[i].c ? t[i].c : 1);
        }
    }
    /* Embeddings of std 3/sqrt(H) give logits of std ~3 after the final norm: not flat. */
    int rc = progress_report(progress, "writing", "weights", 0, o.total) ||
             write_random(&o, (size_t)vocab * H, 3.0 / sqrt(H), 0) || write_random(&o, (size_t)H, 0.05, 0);
    for (int l = 0; rc == 0 && l < s->layers; l++) {
        size_t mats[7][2] = {{qd, H}, {kvd, H}, {kvd, H}, {H, qd}, {I, H}, {I, H}, {H, I}};
        for (int i = 0; rc == 0 && i < 7; i++)
            rc = write_random(&o, mats[i][0] * mats[i][1], 1.0 / sqrt((double)mats[i][1]), 0);
        /* input, post-attn, pre-ff, post-ff, q, k norms. Post-norm gains of ~4 let every layer
         * outweigh the token's own embedding in the residual, so the model does not just echo its input. */
        int norms[6] = {H, H, H, H, hd, hd};
        double offset[6] = {0, 3.0, 0, 3.0, 0, 0};
        for (int i = 0; rc == 0 && i < 6; i++) rc = write_random(&o, (size_t)norms[i], 0.1, offset[i]);
    }
    free(o.buf);
    if (rc) {
        st_writer_abort(w);
        return -1;
    }
    if (st_writer_finish(w)) return -1;
    return write_config(s, out_dir, vocab);
}
