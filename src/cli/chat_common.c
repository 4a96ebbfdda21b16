#include "cli/chat_common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/shipped.h"
#include "util/util.h"

void read_sampling_flags(Args *a, SamplingFlags *f) {
    f->temp = arg_double(a, "--temp", 0.0, 0.0, 100.0);
    f->top_k = arg_int(a, "--top-k", 0, 0, 1 << 24);
    f->top_p = arg_double(a, "--top-p", 1.0, 0.0, 1.0);
    f->seed = arg_int(a, "--seed", 0, 0, 0x7fffffffL);
}

void sampler_from_flags(Sampler *s, int vocab, const SamplingFlags *f) {
    sampler_init(s, vocab, (float)f->temp, (int)f->top_k, (float)f->top_p, (uint64_t)f->seed);
}

const char *default_model_dir(void) {
    static char path[PATH_MAX];
    const char *env = getenv("ANEMLL_MODEL");
    if (env && *env) return env;
    char *meta = shipped_path("anemll-tiny/meta.yaml");
    if (meta) {
        *strrchr(meta, '/') = 0;
        snprintf(path, sizeof path, "%s", meta);
        free(meta);
        return path;
    }
    err_set("no --model given and no default model (run `make` to build build/anemll-tiny, `make install`, "
            "or set ANEMLL_MODEL)");
    return NULL;
}

Tokenizer *load_model_tokenizer(const Model *m, const char *override_path) {
    if (override_path) return tok_load(override_path);
    char *p = path_join(m->dir, "tokenizer.json");
    Tokenizer *t = NULL;
    if (file_exists(p))
        t = tok_load(p);
    else
        err_set("%s: no tokenizer.json in the model folder (give one with --tokenizer FILE)", m->dir);
    free(p);
    return t;
}

int reply_stop_ids(const Model *m, const Tokenizer *t, int *out, int max) {
    int n = 0, ids[CONFIG_MAX_EOS + 8];
    for (int i = 0; i < m->cfg.n_eos; i++) ids[n++] = m->cfg.eos_token_ids[i];
    n += tok_eos_ids(t, ids + n, 8);
    int k = 0;
    for (int i = 0; i < n && k < max; i++) {
        int dup = 0;
        for (int j = 0; j < k; j++) dup |= out[j] == ids[i];
        if (!dup) out[k++] = ids[i];
    }
    return k;
}
