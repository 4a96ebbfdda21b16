/* Fuzz target: tokenizer.json (tok_load). A tokenizer that loads must then encode any bytes
 * (here: the input itself) into ids it can decode, whole and streaming, without error. */
#include "fuzz_common.h"
#include "tokenizer/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024];
    fz_write("tokenizer.json", data, size, path, sizeof path);
    Tokenizer *t = tok_load(path);
    if (!t) return 0;
    int V = tok_vocab_size(t);
    FZ_CHECK(V >= 1);
    FZ_CHECK(tok_bos_id(t) >= -1 && tok_bos_id(t) < V);
    int eos[4];
    int ne = tok_eos_ids(t, eos, 4);
    for (int i = 0; i < ne && i < 4; i++) FZ_CHECK(eos[i] >= 0 && eos[i] < V);
    size_t n = size < 4096 ? size : 4096;
    for (int bos = 0; bos < 2; bos++) {
        int *ids, nid;
        FZ_CHECK(tok_encode(t, (const char *)data, n, bos, &ids, &nid) == 0);
        for (int i = 0; i < nid; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < V && tok_piece(t, ids[i]));
        for (int skip = 0; skip < 2; skip++) {
            size_t len;
            char *text = tok_decode(t, ids, nid, skip, &len);
            FZ_CHECK(text != NULL);
            free(text);
            TokStream *s = tok_stream_new(t, skip);
            for (int i = 0; i < nid; i++) FZ_CHECK(tok_stream_put(s, ids[i], &len) != NULL);
            FZ_CHECK(tok_stream_flush(s, &len) != NULL);
            tok_stream_free(s);
        }
        free(ids);
    }
    /* every id decodes alone (or is reported as absent), and out-of-range ids are errors */
    for (int id = -1; id <= V && id < 2048; id++) {
        size_t len;
        char *text = tok_decode(t, &id, 1, 0, &len);
        FZ_CHECK((text != NULL) == (tok_piece(t, id) != NULL));
        free(text);
        if (tok_piece(t, id)) FZ_CHECK(tok_token_id(t, tok_piece(t, id)) >= 0);
    }
    tok_free(t);
    return 0;
}
