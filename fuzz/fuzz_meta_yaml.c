/* Fuzz target: meta.yaml of a converted model. The YAML tree (ytree_parse and its lookups) and
 * meta_read, which checks every parameter the loader sizes anything from; and the writer's quoting
 * (ytree_quote) of the input as a string. */
#include "fuzz_common.h"
#include "io/yaml.h"
#include "model/model.h"

static void walk(const YamlNode *n, int depth) {
    FZ_CHECK(depth <= 34);
    for (; n; n = n->next) {
        FZ_CHECK((n->kind == YAML_NODE_SCALAR) == (n->value != NULL));
        walk(n->child, depth + 1);
    }
}

/* The writer's quoting: any string without NUL (the source path, the command line) must read
 * back; a valid UTF-8 one as itself, or, when cut to fit a small buffer, as a prefix of itself. */
static void quote_roundtrip(const uint8_t *data, size_t size) {
    size_t n = 0;
    while (n < size && n < 300 && data[n]) n++;
    char *s = fz_cstr(data, n);
    int valid = fz_valid_utf8(data, n);
    for (int small = 0; small < 2; small++) {
        char q[2048], doc[2100];
        unsigned long cap = small ? 3 + (n ? data[0] % 64 : 0) : sizeof q;
        ytree_quote(q, cap, s);
        FZ_CHECK(strlen(q) < cap);
        int k = snprintf(doc, sizeof doc, "k: %s\n", q);
        YamlNode *y = ytree_parse(doc, (unsigned long)k, "quoted");
        const char *back = y ? ytree_str(y, "k", NULL) : NULL;
        int ok = back && (!valid || (small ? strncmp(back, s, strlen(back)) == 0 : strcmp(back, s) == 0));
        if (!ok) {
            fprintf(stderr, "ytree_quote does not read back: [%s] -> %s -> %s\n", s, q, back ? back : err_get());
            abort();
        }
        ytree_free(y);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    YamlNode *y = ytree_parse((const char *)data, (unsigned long)size, "fuzz.yaml");
    if (y) {
        walk(y, 0);
        long v;
        double d;
        (void)ytree_int(y, "model_info.parameters.context_length", 0, &v);
        (void)ytree_double(y, "anemll_c.fp16_scale.alpha", 1, &d);
        (void)ytree_str(y, "a.b.c.d", NULL);
        (void)ytree_get(y, "");
        ytree_free(y);
    }
    char path[1024];
    fz_write("meta.yaml", data, size, path, sizeof path);
    ModelMeta m;
    if (meta_read(&m, path) == 0) {
        FZ_CHECK(m.context_length >= 1 && m.batch_size >= 1);
        FZ_CHECK(m.num_chunks >= 1 && m.num_chunks <= META_MAX_CHUNKS);
        FZ_CHECK(m.alpha > 0 && m.alpha <= 1);
        LutInfo l[3] = {m.lut_embeddings, m.lut_ffn, m.lut_lmhead};
        for (int i = 0; i < 3; i++) FZ_CHECK(l[i].bits == 0 || (l[i].bits >= 2 && l[i].bits <= 8 && l[i].per_channel >= 0));
    }
    quote_roundtrip(data, size);
    return 0;
}
