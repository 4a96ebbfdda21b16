/* ModelConfig: every config.json field that changes Gemma 3 text math, read from either
 * Hugging Face layout (text-only gemma3_text, or multimodal gemma3 with a nested, sparse
 * text_config whose missing fields take Gemma3TextConfig's defaults). */
#ifndef ANEMLL_CONFIG_H
#define ANEMLL_CONFIG_H

typedef enum { LAYER_SLIDING = 0, LAYER_FULL = 1 } LayerType;
typedef enum { ACT_GELU_TANH = 0, ACT_GELU_ERF = 1 } Activation;

#define CONFIG_MAX_EOS 8

typedef struct {
    int vocab_size;
    int hidden_size;        /* H */
    int intermediate_size;  /* I */
    int num_layers;
    int num_heads;
    int num_kv_heads;
    int head_dim;
    int max_position_embeddings;
    int sliding_window;     /* SW: a sliding layer's query at q sees keys q-SW < k <= q */
    float rms_norm_eps;
    double rope_theta;            /* global (full-attention) layers */
    double rope_scaling_factor;   /* linear scaling on global layers; 1 = none */
    double rope_local_base_freq;  /* sliding layers, never scaled */
    double query_pre_attn_scalar; /* scores scaled by 1/sqrt(this) */
    double attn_logit_softcapping;  /* 0 = none */
    double final_logit_softcapping; /* 0 = none */
    Activation activation;
    int tie_word_embeddings;
    int bos_token_id;
    int n_eos;
    int eos_token_ids[CONFIG_MAX_EOS];
    LayerType *layer_types; /* [num_layers] */
    int multimodal;         /* Gemma3ForConditionalGeneration layout: weights under a language_model prefix */
} ModelConfig;

/* Parse config.json text; `origin` names the file in error messages. */
int config_parse(ModelConfig *c, const char *json, const char *origin);
/* Read DIR/config.json, plus eos ids from DIR/generation_config.json when present. */
int config_load_dir(ModelConfig *c, const char *dir);
void config_free(ModelConfig *c);
int config_is_eos(const ModelConfig *c, int id);
/* Layout of the values in a short human-readable summary line. */
void config_describe(const ModelConfig *c, char *buf, int n);

#endif
