/* Fuzz target: a whole model folder through model_load, in particular converted folders with
 * LUT-packed tensors (NAME.indices U8 + NAME.lut F16) named by meta.yaml. The input is a
 * folder in one buffer: parts separated by the line "\n--8<--\n":
 *   part 0: config.json
 *   part 1: meta.yaml; when empty the folder is a Hugging Face checkpoint
 *   converted: parts 2.. are the files meta.yaml names, in order: embeddings, chunk 1..N, lm_head
 *   checkpoint: part 2 is model.safetensors, or, when it starts with '{', a
 *     model.safetensors.index.json whose shards are parts 3.. (model-0000K-of-0000N.safetensors)
 * A model that loads must run: one short prefill and one decode step, FP32 then strict FP16
 * (which may stop at an overflow, with an error), logits finite or not but no fault. */
#include "fuzz_common.h"
#include "model/model.h"
#include "util/pool.h"

#define SEP "\n--8<--\n"
#define MAX_PARTS 72

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    pool_set_threads(1);
    return 0;
}

static void run_model(const Model *m, int fp16) {
    RunState s;
    int ctx = model_default_context(m);
    if (ctx > 8) ctx = 8;
    if (runstate_init(&s, m, ctx, 4) != 0) return;
    runstate_set_precision(&s, fp16 ? PRECISION_FP16 : PRECISION_Q8);
    int V = m->cfg.vocab_size;
    float *logits = xmalloc(sizeof(float) * (size_t)V);
    int toks[4] = {0, 1 % V, V - 1, 2 % V};
    int n = ctx < 3 ? ctx : 3;
    if (model_forward(m, &s, toks, n, LOGITS_LAST, logits) == 0 && s.pos < ctx)
        (void)model_forward(m, &s, toks + 3, 1, LOGITS_LAST, logits);
    free(logits);
    runstate_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[MAX_PARTS];
    size_t len[MAX_PARTS];
    int np = 0;
    const uint8_t *p = data, *end = data + size;
    while (np < MAX_PARTS) {
        const uint8_t *sep = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
        part[np] = p;
        len[np++] = (size_t)((sep ? sep : end) - p);
        if (!sep) break;
        p = sep + strlen(SEP);
    }
    if (np < 2) return 0;
    char dir[1024], path[1024];
    snprintf(dir, sizeof dir, "%s/model", fz_scratch());
    fz_rmtree(dir);
    if (mkdir(dir, 0700) != 0) abort();
    fz_write("model/config.json", part[0], len[0], path, sizeof path);
    if (len[1]) {
        fz_write("model/meta.yaml", part[1], len[1], path, sizeof path);
        ModelMeta meta;
        if (meta_read(&meta, path) == 0) {
            const char *names[META_MAX_CHUNKS + 2];
            int n = 0;
            names[n++] = meta.embeddings_file;
            for (int c = 0; c < meta.num_chunks; c++) names[n++] = meta.chunk_files[c];
            names[n++] = meta.lm_head_file;
            for (int i = 0; i < n && 2 + i < np; i++) {
                char name[300];
                snprintf(name, sizeof name, "model/%s", names[i]);
                fz_write(name, part[2 + i], len[2 + i], path, sizeof path);
            }
        }
    } else if (np > 2 && len[2] && part[2][0] == '{') {
        fz_write("model/model.safetensors.index.json", part[2], len[2], path, sizeof path);
        for (int i = 3; i < np; i++) {
            char name[300];
            snprintf(name, sizeof name, "model/model-%05d-of-%05d.safetensors", i - 2, np - 3);
            fz_write(name, part[i], len[i], path, sizeof path);
        }
    } else if (np > 2) {
        fz_write("model/model.safetensors", part[2], len[2], path, sizeof path);
    }
    Model m;
    if (model_load(&m, dir) == 0) {
        FZ_CHECK(m.w.layers && m.w.final_norm);
        run_model(&m, 0);
        run_model(&m, 1);
        model_free(&m);
    }
    return 0;
}
