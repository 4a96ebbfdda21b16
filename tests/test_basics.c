/* util conversions, the safetensors writer/reader round trip, and config.json parsing. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "util/util.h"

/* Every FP16 value converts to FP32 and back unchanged (NaNs stay NaN). */
static void test_f16_round_trip(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        uint16_t back = f32_to_f16(f);
        if (isnan(f) ? !isnan(f16_to_f32(back)) : back != h) bad++;
    }
    CHECKF(bad == 0, "%d values", bad);
}

/* f32_to_f16 picks the nearest FP16 value, ties to even, and overflows to inf past 65520. */
static void test_f16_rounding(void) {
    uint64_t s = 12345;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t u = (uint32_t)(s >> 32);
        float f;
        u = (u & 0x807fffffu) | ((uint32_t)(100 + (u >> 23) % 60) << 23); /* exponents around FP16's range */
        memcpy(&f, &u, 4);
        uint16_t h = f32_to_f16(f);
        double got = f16_to_f32(h);
        /* neighbours in magnitude */
        uint16_t lo = (h & 0x7fff) ? (uint16_t)(h - 1) : h, hi = (uint16_t)(h + 1);
        double dl = fabs((double)f16_to_f32(lo) - f), dh = fabs((double)f16_to_f32(hi) - f), d = fabs(got - f);
        if (isinf(got)) {
            if (fabs((double)f) < 65520.0) bad++;
        } else if (d > dl || (!isinf(f16_to_f32(hi)) && d > dh) || ((d == dl || d == dh) && lo != h && (h & 1))) {
            bad++;
        }
    }
    CHECKF(bad == 0, "%d values", bad);
    CHECK(f32_to_f16(65519.0f) == 0x7bff);
    CHECK(f32_to_f16(65520.0f) == 0x7c00);
    CHECK(f32_to_f16(-1e9f) == 0xfc00);
    CHECK(f16_to_f32(f32_to_f16(5.9604645e-08f)) == 5.9604645e-08f); /* smallest subnormal */
    CHECK(f32_to_bf16(1.00390625f) == 0x3f80);                      /* tie to even */
    CHECK(f32_to_bf16(1.01171875f) == 0x3f82);
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
}

static void test_safetensors_round_trip(void) {
    char dir[] = "/tmp/anemll_st_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = path_join(dir, "t.safetensors");
    StWriter *w = st_writer_new(path);
    st_writer_metadata(w, "format", "pt");
    int64_t s1[2] = {3, 5}, s2[1] = {7};
    st_writer_declare(w, "b.weight", DT_F32, 2, s1);
    st_writer_declare(w, "a.gain", DT_BF16, 1, s2);
    float f[15];
    uint16_t h[7];
    for (int i = 0; i < 15; i++) f[i] = (float)i * 0.5f;
    for (int i = 0; i < 7; i++) h[i] = f32_to_bf16((float)i);
    CHECK(st_writer_write(w, f, sizeof f) == 0);
    CHECK(st_writer_write(w, h, sizeof h) == 0);
    CHECK(st_writer_finish(w) == 0);
    SafeTensors st;
    CHECK(st_open(&st, path) == 0);
    CHECK(st.n_tensors == 2);
    const StTensor *t = st_expect(&st, -1, "b.weight", 1u << DT_F32, 2, s1);
    CHECK(t && memcmp(t->data, f, sizeof f) == 0);
    t = st_expect(&st, -1, "a.gain", 1u << DT_BF16, 1, s2);
    CHECK(t && bf16_to_f32(((const uint16_t *)t->data)[6]) == 6.0f);
    CHECK(st_metadata(&st, 0, "format") && strcmp(st_metadata(&st, 0, "format"), "pt") == 0);
    CHECK(st_expect(&st, -1, "a.gain", 1u << DT_F16, 1, s2) == NULL && strstr(err_get(), "dtype BF16"));
    CHECK(st_find(&st, "missing") == NULL);
    CHECK(st_expect(&st, -1, "missing", 0, 0, NULL) == NULL &&
          strstr(err_get(), "t.safetensors: missing tensor 'missing'"));
    st_close(&st);
    /* several files: a missing tensor is blamed on the file meant to hold it, else on all of them */
    char *pu = path_join(dir, "u.safetensors");
    w = st_writer_new(pu);
    st_writer_declare(w, "c", DT_BF16, 1, s2);
    CHECK(st_writer_write(w, h, sizeof h) == 0);
    CHECK(st_writer_finish(w) == 0);
    CHECK(st_open(&st, dir) == 0 && st.n_files == 2);
    CHECK(st_expect(&st, 1, "gone", 0, 0, NULL) == NULL && strstr(err_get(), "u.safetensors: missing tensor 'gone'"));
    CHECK(st_expect(&st, -1, "gone", 0, 0, NULL) == NULL &&
          strstr(err_get(), ": missing tensor 'gone' (in none of its 2 .safetensors files)"));
    st_close(&st);
    unlink(pu);
    free(pu);
    /* a writer that does not get all its declared bytes leaves nothing behind */
    char *p2 = path_join(dir, "short.safetensors");
    w = st_writer_new(p2);
    st_writer_declare(w, "x", DT_F32, 2, s1);
    CHECK(st_writer_write(w, f, 8) == 0);
    CHECK(st_writer_finish(w) != 0);
    CHECK(!file_exists(p2));
    unlink(path);
    rmdir(dir);
    free(path);
    free(p2);
}

/* A sparse multimodal config takes Gemma3TextConfig's defaults for what it omits. */
static void test_config_sparse_multimodal(void) {
    const char *json = "{\"model_type\": \"gemma3\", \"eos_token_id\": [1, 106], \"text_config\": {"
                       "\"hidden_size\": 2560, \"intermediate_size\": 10240, \"num_hidden_layers\": 34,"
                       "\"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"linear\"}, \"sliding_window\": 1024}}";
    ModelConfig c;
    CHECK(config_parse(&c, json, "test") == 0);
    CHECK(c.multimodal && c.hidden_size == 2560 && c.num_layers == 34);
    CHECK(c.num_heads == 8 && c.num_kv_heads == 4 && c.head_dim == 256 && c.vocab_size == 262208);
    CHECK(c.rope_scaling_factor == 8.0 && c.rope_theta == 1e6 && c.rope_local_base_freq == 1e4);
    CHECK(c.query_pre_attn_scalar == 256 && c.rms_norm_eps == 1e-6f && c.tie_word_embeddings);
    CHECK(c.n_eos == 2 && config_is_eos(&c, 106) && !config_is_eos(&c, 2));
    int globals = 0;
    for (int i = 0; i < c.num_layers; i++)
        if (c.layer_types[i] == LAYER_FULL) {
            CHECK((i + 1) % 6 == 0);
            globals++;
        }
    CHECK(globals == 5);
    config_free(&c);
}

static void test_config_errors(void) {
    ModelConfig c;
    CHECK(config_parse(&c, "[]", "x.json") != 0 && strstr(err_get(), "x.json"));
    CHECK(config_parse(&c, "{\"model_type\":\"gemma3_text\",\"num_attention_heads\":3,\"num_key_value_heads\":2}",
                       "x.json") != 0 &&
          strstr(err_get(), "multiple"));
    CHECK(config_parse(&c, "{\"model_type\":\"gemma3_text\",\"hidden_size\":-5}", "x.json") != 0);
    CHECK(config_parse(&c, "{\"model_type\":\"gemma3_text\",\"attention_bias\":true}", "x.json") != 0);
    CHECK(config_parse(&c, "{\"model_type\":\"gemma3_text\",\"final_logit_softcapping\":30.0}", "x.json") == 0 &&
          c.final_logit_softcapping == 30.0);
    config_free(&c);
    CHECK(config_parse(&c, "{\"model_type\":\"gemma3\"}", "x.json") != 0 && strstr(err_get(), "text_config"));
}

int main(void) {
    RUN(test_f16_round_trip);
    RUN(test_f16_rounding);
    RUN(test_safetensors_round_trip);
    RUN(test_config_sparse_multimodal);
    RUN(test_config_errors);
    CHECK_EXIT();
}
