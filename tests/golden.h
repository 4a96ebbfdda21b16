/* Access to tests/data/golden cases for tests: token ids, reference logits, greedy tokens. */
#ifndef ANEMLL_TEST_GOLDEN_H
#define ANEMLL_TEST_GOLDEN_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/util.h"

typedef struct {
    char name[64];
    int n_tokens, vocab;
    int *tokens;
    int n_greedy;
    int *greedy;
    float *logits;       /* [n_tokens, vocab] */
    float *alpha_logits; /* same for the alpha-transformed weights, or NULL */
} GoldenCase;

static int *golden_int_array(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int *v = xmalloc(sizeof(int) * (size_t)(*n ? *n : 1));
    int i = 0;
    for (const cJSON *e = a ? a->child : NULL; e; e = e->next) v[i++] = e->valueint;
    return v;
}

static float *golden_read_f32(const char *path, size_t count) {
    MappedFile mf;
    if (map_file(&mf, path) != 0 || mf.size != count * 4) {
        fprintf(stderr, "golden: cannot read %s\n", path);
        exit(1);
    }
    float *v = xmalloc(mf.size);
    memcpy(v, mf.data, mf.size);
    unmap_file(&mf);
    return v;
}

/* Load case file DIR/cases/NAME.json of checkpoint DIR. */
static int golden_load(GoldenCase *g, const char *ckpt_dir, const char *case_rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ckpt_dir, case_rel);
    char *text = read_text_file(path, 1 << 24, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j) return -1;
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", cJSON_GetObjectItem(j, "name")->valuestring);
    g->tokens = golden_int_array(cJSON_GetObjectItem(j, "token_ids"), &g->n_tokens);
    g->greedy = golden_int_array(cJSON_GetObjectItem(j, "greedy_new_tokens"), &g->n_greedy);
    g->vocab = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "logits_shape"), 1)->valueint;
    snprintf(path, sizeof path, "%s/cases/%s", ckpt_dir, cJSON_GetObjectItem(j, "logits_file")->valuestring);
    g->logits = golden_read_f32(path, (size_t)g->n_tokens * g->vocab);
    const cJSON *alpha = cJSON_GetObjectItem(j, "alpha");
    if (alpha && cJSON_GetObjectItem(alpha, "logits_file")) {
        snprintf(path, sizeof path, "%s/cases/%s", ckpt_dir, cJSON_GetObjectItem(alpha, "logits_file")->valuestring);
        g->alpha_logits = golden_read_f32(path, (size_t)g->n_tokens * g->vocab);
    }
    cJSON_Delete(j);
    return 0;
}

static void golden_free(GoldenCase *g) {
    free(g->tokens);
    free(g->greedy);
    free(g->logits);
    free(g->alpha_logits);
}

/* Checkpoint names and their case files from index.json; returns count. */
typedef struct {
    char name[32];
    char cases[8][64];
    int n_cases;
} GoldenCkpt;

static int golden_index(GoldenCkpt *out, int max) {
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/index.json", data_dir());
    char *text = read_text_file(path, 1 << 24, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j) {
        fprintf(stderr, "golden: cannot read %s\n", path);
        exit(1);
    }
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "checkpoints")) {
        if (n == max) break;
        snprintf(out[n].name, sizeof out[n].name, "%s", cJSON_GetObjectItem(c, "dir")->valuestring);
        out[n].n_cases = 0;
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItem(c, "cases")) {
            if (out[n].n_cases < 8) snprintf(out[n].cases[out[n].n_cases++], 64, "%s", cs->valuestring);
        }
        n++;
    }
    cJSON_Delete(j);
    return n;
}

/* max |a-b| and whether every row's argmax agrees */
static void golden_compare(const float *a, const float *b, int rows, int vocab, float *max_err, int *argmax_ok) {
    *max_err = 0;
    *argmax_ok = 1;
    for (int r = 0; r < rows; r++) {
        const float *x = a + (size_t)r * vocab, *y = b + (size_t)r * vocab;
        int ax = 0, ay = 0;
        for (int v = 0; v < vocab; v++) {
            float d = fabsf(x[v] - y[v]);
            if (!(d <= *max_err)) *max_err = d; /* NaN counts as an error */
            if (x[v] > x[ax]) ax = v;
            if (y[v] > y[ay]) ay = v;
        }
        if (ax != ay) *argmax_ok = 0;
    }
}

#endif
