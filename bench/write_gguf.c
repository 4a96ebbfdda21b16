/* Write a llama.cpp GGUF (architecture gemma3) of a Hugging Face Gemma 3 checkpoint, so that
 * llama.cpp can be timed on exactly the weights our engine converts (bench/compare_llamacpp.sh).
 *   build/bench/write_gguf HF_DIR OUT.gguf [--type q4_0|f16] [--embd-type q4_0|f16]
 * HF_DIR: config.json + one model.safetensors (what `anemll synth` writes), F32/F16/BF16.
 * Matrices are written as --type (default q4_0: blocks of 32 weights, one FP16 scale d = max/-8
 * and 4-bit codes q with w = d * (q - 8), low nibbles holding the block's first 16 weights);
 * the token embedding (tied, so also the LM head) as --embd-type (default: --type).
 * Norm weights are F32 and, as llama.cpp's own converter does for Gemma, stored as 1 + w.
 * The vocabulary is a placeholder SentencePiece table of the right size (<pad> <eos> <bos>
 * <unk>, 256 byte tokens, then "tokN"): enough to load and run token ids, not to tokenize text.
 * Benchmark tool only: not part of the engine or the tests. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/config.h"
#include "util/util.h"

enum { GG_F32 = 0, GG_F16 = 1, GG_Q4_0 = 2 };              /* ggml_type */
enum { KV_U32 = 4, KV_I32 = 5, KV_F32 = 6, KV_BOOL = 7, KV_STR = 8, KV_ARR = 9 }; /* gguf value types */
#define ALIGN 32

static FILE *out;
static uint64_t written;

static void put(const void *p, size_t n) {
    if (n && fwrite(p, 1, n, out) != n) {
        fprintf(stderr, "write_gguf: write failed\n");
        exit(1);
    }
    written += n;
}
static void put_u32(uint32_t v) { put(&v, 4); }
static void put_u64(uint64_t v) { put(&v, 8); }
static void put_str(const char *s) {
    put_u64(strlen(s));
    put(s, strlen(s));
}
static void pad(void) {
    static const char zeros[ALIGN];
    put(zeros, (ALIGN - written % ALIGN) % ALIGN);
}

static int n_kv;
static void kv_u32(const char *k, uint32_t v) { put_str(k), put_u32(KV_U32), put_u32(v), n_kv++; }
static void kv_f32(const char *k, float v) { put_str(k), put_u32(KV_F32), put(&v, 4), n_kv++; }
static void kv_str(const char *k, const char *v) { put_str(k), put_u32(KV_STR), put_str(v), n_kv++; }
static void kv_bool(const char *k, int v) {
    uint8_t b = (uint8_t)(v != 0);
    put_str(k), put_u32(KV_BOOL), put(&b, 1), n_kv++;
}

typedef struct {
    char gguf[96];
    const StTensor *src;
    int type;
    int norm; /* 1-D: stored as 1 + w in F32 */
    uint64_t ne0, ne1, offset, nbytes;
} Tensor;

static uint64_t tensor_bytes(int type, uint64_t ne0, uint64_t ne1) {
    switch (type) {
    case GG_F32: return ne0 * ne1 * 4;
    case GG_F16: return ne0 * ne1 * 2;
    default: return ne0 / 32 * 18 * ne1;
    }
}

static float src_value(const StTensor *t, size_t i) {
    const uint16_t *h = t->data;
    switch (t->dtype) {
    case DT_F32: return ((const float *)t->data)[i];
    case DT_F16: return f16_to_f32(h[i]);
    default: return bf16_to_f32(h[i]);
    }
}

/* One row of n (multiple of 32) weights to Q4_0 blocks. */
static void quantize_q4_0(const float *x, size_t n, uint8_t *dst) {
    for (size_t b = 0; b < n / 32; b++, x += 32, dst += 18) {
        float amax = 0, maxv = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), maxv = x[j];
        float d = maxv / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t dh = f32_to_f16(d);
        memcpy(dst, &dh, 2);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
            q0 = q0 < 0 ? 0 : q0 > 15 ? 15 : q0;
            q1 = q1 < 0 ? 0 : q1 > 15 ? 15 : q1;
            dst[2 + j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void write_tensor(const Tensor *t) {
    size_t n = (size_t)t->ne0;
    float *row = xmalloc(sizeof(float) * n);
    uint8_t *buf = xmalloc(n * 4);
    for (uint64_t r = 0; r < t->ne1; r++) {
        for (size_t c = 0; c < n; c++) row[c] = src_value(t->src, (size_t)r * n + c) + (t->norm ? 1.0f : 0.0f);
        switch (t->type) {
        case GG_F32: put(row, n * 4); break;
        case GG_F16:
            for (size_t c = 0; c < n; c++) ((uint16_t *)buf)[c] = f32_to_f16(row[c]);
            put(buf, n * 2);
            break;
        default:
            quantize_q4_0(row, n, buf);
            put(buf, n / 32 * 18);
        }
    }
    free(row);
    free(buf);
    pad();
}

static int parse_type(const char *s) {
    if (strcmp(s, "q4_0") == 0) return GG_Q4_0;
    if (strcmp(s, "f16") == 0) return GG_F16;
    fprintf(stderr, "write_gguf: unknown type %s (q4_0|f16)\n", s);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: write_gguf HF_DIR OUT.gguf [--type q4_0|f16] [--embd-type q4_0|f16]\n");
        return 2;
    }
    int type = GG_Q4_0, embd_type = -1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--type") == 0) type = parse_type(argv[i + 1]);
        else if (strcmp(argv[i], "--embd-type") == 0) embd_type = parse_type(argv[i + 1]);
        else {
            fprintf(stderr, "write_gguf: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (embd_type < 0) embd_type = type;
    ModelConfig c;
    SafeTensors st;
    char *stpath = path_join(argv[1], "model.safetensors");
    if (config_load_dir(&c, argv[1]) || st_open(&st, stpath)) {
        fprintf(stderr, "write_gguf: %s\n", err_get());
        return 1;
    }
    free(stpath);
    static const char *const layer_map[][2] = {
        {"input_layernorm", "attn_norm"},        {"post_attention_layernorm", "post_attention_norm"},
        {"pre_feedforward_layernorm", "ffn_norm"}, {"post_feedforward_layernorm", "post_ffw_norm"},
        {"self_attn.q_norm", "attn_q_norm"},      {"self_attn.k_norm", "attn_k_norm"},
        {"self_attn.q_proj", "attn_q"},           {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"},           {"self_attn.o_proj", "attn_output"},
        {"mlp.gate_proj", "ffn_gate"},            {"mlp.up_proj", "ffn_up"},
        {"mlp.down_proj", "ffn_down"}};
    const int per_layer = (int)(sizeof layer_map / sizeof layer_map[0]);
    int n_t = 2 + c.num_layers * per_layer;
    Tensor *ts = xcalloc((size_t)n_t, sizeof(Tensor));
    const char *pre = c.multimodal ? "language_model.model." : "model.";
    char name[256];
    int k = 0;
    snprintf(name, sizeof name, "%sembed_tokens.weight", pre);
    ts[k].src = st_find(&st, name), snprintf(ts[k].gguf, sizeof ts[k].gguf, "token_embd.weight"), k++;
    snprintf(name, sizeof name, "%snorm.weight", pre);
    ts[k].src = st_find(&st, name), snprintf(ts[k].gguf, sizeof ts[k].gguf, "output_norm.weight"), k++;
    for (int l = 0; l < c.num_layers; l++)
        for (int i = 0; i < per_layer; i++, k++) {
            snprintf(name, sizeof name, "%slayers.%d.%s.weight", pre, l, layer_map[i][0]);
            ts[k].src = st_find(&st, name);
            snprintf(ts[k].gguf, sizeof ts[k].gguf, "blk.%d.%s.weight", l, layer_map[i][1]);
        }
    uint64_t off = 0;
    for (int i = 0; i < n_t; i++) {
        Tensor *t = &ts[i];
        if (!t->src || t->src->ndim < 1 || t->src->ndim > 2 ||
            (t->src->dtype != DT_F32 && t->src->dtype != DT_F16 && t->src->dtype != DT_BF16)) {
            fprintf(stderr, "write_gguf: tensor for %s missing or not a 1-D/2-D float tensor\n", t->gguf);
            return 1;
        }
        t->norm = t->src->ndim == 1;
        t->ne0 = (uint64_t)t->src->shape[t->src->ndim - 1];
        t->ne1 = t->src->ndim == 2 ? (uint64_t)t->src->shape[0] : 1;
        t->type = t->norm ? GG_F32 : i == 0 ? embd_type : type;
        if (t->type == GG_Q4_0 && t->ne0 % 32) t->type = GG_F16;
        t->offset = off;
        t->nbytes = tensor_bytes(t->type, t->ne0, t->ne1);
        off += (t->nbytes + ALIGN - 1) / ALIGN * ALIGN;
    }

    out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    /* header; the key-value count is patched once all keys are written */
    put("GGUF", 4), put_u32(3), put_u64((uint64_t)n_t);
    long kv_count_at = (long)written;
    put_u64(0);
    kv_str("general.architecture", "gemma3");
    kv_str("general.name", "anemll synthetic gemma3");
    kv_u32("general.alignment", ALIGN);
    kv_u32("general.file_type", type == GG_Q4_0 ? 2 : 1); /* MOSTLY_Q4_0 / MOSTLY_F16 */
    kv_u32("gemma3.context_length", (uint32_t)c.max_position_embeddings);
    kv_u32("gemma3.embedding_length", (uint32_t)c.hidden_size);
    kv_u32("gemma3.block_count", (uint32_t)c.num_layers);
    kv_u32("gemma3.feed_forward_length", (uint32_t)c.intermediate_size);
    kv_u32("gemma3.attention.head_count", (uint32_t)c.num_heads);
    kv_u32("gemma3.attention.head_count_kv", (uint32_t)c.num_kv_heads);
    kv_u32("gemma3.attention.key_length", (uint32_t)c.head_dim);
    kv_u32("gemma3.attention.value_length", (uint32_t)c.head_dim);
    kv_f32("gemma3.attention.layer_norm_rms_epsilon", c.rms_norm_eps);
    kv_f32("gemma3.rope.freq_base", (float)c.rope_theta);
    kv_u32("gemma3.attention.sliding_window", (uint32_t)c.sliding_window);
    if (c.rope_scaling_factor != 1.0) {
        kv_str("gemma3.rope.scaling.type", "linear");
        kv_f32("gemma3.rope.scaling.factor", (float)c.rope_scaling_factor);
    }
    int V = c.vocab_size;
    kv_str("tokenizer.ggml.model", "llama");
    kv_str("tokenizer.ggml.pre", "default");
    put_str("tokenizer.ggml.tokens"), put_u32(KV_ARR), put_u32(KV_STR), put_u64((uint64_t)V), n_kv++;
    static const char *const special[4] = {"<pad>", "<eos>", "<bos>", "<unk>"};
    for (int i = 0; i < V; i++) {
        char tok[32];
        if (i < 4) snprintf(tok, sizeof tok, "%s", special[i]);
        else if (i < 260) snprintf(tok, sizeof tok, "<0x%02X>", i - 4);
        else snprintf(tok, sizeof tok, "tok%d", i);
        put_str(tok);
    }
    put_str("tokenizer.ggml.scores"), put_u32(KV_ARR), put_u32(KV_F32), put_u64((uint64_t)V), n_kv++;
    for (int i = 0; i < V; i++) {
        float s = i < 260 ? 0.0f : -(float)i;
        put(&s, 4);
    }
    put_str("tokenizer.ggml.token_type"), put_u32(KV_ARR), put_u32(KV_I32), put_u64((uint64_t)V), n_kv++;
    for (int i = 0; i < V; i++) {
        int32_t tt = i == 3 ? 2 : i < 4 ? 3 : i < 260 ? 6 : 1; /* unknown, control, byte, normal */
        put(&tt, 4);
    }
    kv_u32("tokenizer.ggml.bos_token_id", 2);
    kv_u32("tokenizer.ggml.eos_token_id", 1);
    kv_u32("tokenizer.ggml.unknown_token_id", 3);
    kv_u32("tokenizer.ggml.padding_token_id", 0);
    kv_bool("tokenizer.ggml.add_bos_token", 1);
    kv_bool("tokenizer.ggml.add_eos_token", 0);
    for (int i = 0; i < n_t; i++) {
        const Tensor *t = &ts[i];
        put_str(t->gguf);
        put_u32(t->norm ? 1 : 2);
        put_u64(t->ne0);
        if (!t->norm) put_u64(t->ne1);
        put_u32((uint32_t)t->type);
        put_u64(t->offset);
    }
    pad();
    for (int i = 0; i < n_t; i++) write_tensor(&ts[i]);
    uint64_t nkv = (uint64_t)n_kv;
    if (fflush(out) || fseek(out, kv_count_at, SEEK_SET) || fwrite(&nkv, 8, 1, out) != 1 || fclose(out)) {
        fprintf(stderr, "write_gguf: cannot finish %s\n", argv[2]);
        return 1;
    }
    fprintf(stderr, "write_gguf: %s: %d tensors, %.1f MiB\n", argv[2], n_t, (double)written / 1048576.0);
    st_close(&st);
    config_free(&c);
    free(ts);
    return 0;
}
