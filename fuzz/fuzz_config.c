/* Fuzz target: config.json text (Hugging Face Gemma 3, text-only or multimodal layout).
 * On success every field the engine sizes buffers from must be inside its documented range. */
#include "fuzz_common.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_cstr(data, size);
    ModelConfig c;
    if (config_parse(&c, text, "config.json") == 0) {
        FZ_CHECK(c.vocab_size >= 1 && c.vocab_size <= 1 << 24);
        FZ_CHECK(c.hidden_size >= 1 && c.hidden_size <= 1 << 16);
        FZ_CHECK(c.intermediate_size >= 1 && c.intermediate_size <= 1 << 18);
        FZ_CHECK(c.num_layers >= 1 && c.num_layers <= 1024 && c.layer_types);
        FZ_CHECK(c.num_heads >= 1 && c.num_kv_heads >= 1 && c.num_heads % c.num_kv_heads == 0);
        FZ_CHECK(c.head_dim >= 2 && c.head_dim % 2 == 0);
        FZ_CHECK(c.max_position_embeddings >= 1 && c.sliding_window >= 1);
        FZ_CHECK(c.n_eos >= 0 && c.n_eos <= CONFIG_MAX_EOS);
        FZ_CHECK(c.rms_norm_eps >= 0 && c.rope_scaling_factor > 0);
        for (int i = 0; i < c.num_layers; i++)
            FZ_CHECK(c.layer_types[i] == LAYER_SLIDING || c.layer_types[i] == LAYER_FULL);
        char buf[512];
        config_describe(&c, buf, sizeof buf);
        (void)config_is_eos(&c, 1);
        config_free(&c);
    } else {
        FZ_CHECK(c.layer_types == NULL);
    }
    free(text);
    return 0;
}
