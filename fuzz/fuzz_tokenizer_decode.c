/* Fuzz target: tok_decode and the streaming decoder on arbitrary id sequences (ids mostly in
 * range, a few just outside). Out-of-range ids must be errors, decoded text valid UTF-8, and
 * the stream must equal the whole decode whenever every byte-token run is valid UTF-8. */
#include "fuzz_common.h"
#include "tokenizer/internal.h"

static Tokenizer *tok;
static int pieces_valid;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fz_tokenizer();
    pieces_valid = fz_pieces_valid_utf8(tok);
    return 0;
}

static int is_byte(int id) { return tok->byte_value[id] >= 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int skip = data[0] & 1;
    /* 3 bytes per id: mostly valid ids; ids of byte tokens are common enough to build runs */
    int n = (int)((size - 1) / 3), *ids = xmalloc(sizeof(int) * (size_t)(n + 1)), valid = 1;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = data + 1 + 3 * i;
        uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
        if (v >= 0xFFFF00u) /* a byte token <0xNN> */
            ids[i] = tok->byte_id[v & 0xFF] >= 0 ? tok->byte_id[v & 0xFF] : (int)(v & 0xFF);
        else
            ids[i] = (int)(v % (uint32_t)(tok->n_ids + 3)) - 1; /* -1 .. n_ids + 1 */
        if (ids[i] < 0 || ids[i] >= tok->n_ids || !tok_piece(tok, ids[i])) valid = 0;
    }
    size_t len;
    char *dec = tok_decode(tok, ids, n, skip, &len);
    FZ_CHECK((dec != NULL) == valid);
    if (!dec) {
        free(ids);
        return 0;
    }
    if (pieces_valid) FZ_CHECK(fz_valid_utf8((const uint8_t *)dec, len));
    /* are all byte-token runs (skipped tokens do not end a run) valid UTF-8? */
    int runs_ok = 1;
    Buf run = {0};
    buf_reserve(&run, 0);
    for (int i = 0; i <= n; i++) {
        if (i < n && skip && tok_is_special(tok, ids[i])) continue;
        if (i < n && is_byte(ids[i])) {
            char b = (char)tok->byte_value[ids[i]];
            buf_put(&run, &b, 1);
            continue;
        }
        if (!fz_valid_utf8((const uint8_t *)run.p, run.n)) runs_ok = 0;
        run.n = 0;
    }
    free(run.p);
    Buf st = {0};
    buf_reserve(&st, 0);
    TokStream *s = tok_stream_new(tok, skip);
    for (int i = 0; i < n; i++) {
        size_t k;
        const char *piece = tok_stream_put(s, ids[i], &k);
        FZ_CHECK(piece != NULL);
        if (pieces_valid) FZ_CHECK(fz_valid_utf8((const uint8_t *)piece, k));
        buf_put(&st, piece, k);
    }
    size_t k;
    const char *tail = tok_stream_flush(s, &k);
    buf_put(&st, tail, k);
    if (runs_ok) FZ_CHECK(st.n == len && memcmp(st.p, dec, len) == 0);
    /* the stream can be reused after a flush */
    FZ_CHECK(tok_stream_put(s, tok->n_ids, &k) == NULL);
    tok_stream_free(s);
    free(st.p);
    free(dec);
    free(ids);
    return 0;
}
