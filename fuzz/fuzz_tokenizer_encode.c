/* Fuzz target: tok_encode of arbitrary bytes with the Gemma 3 tokenizer (see fz_tokenizer).
 * Checks, for every input: ids are in the vocabulary; the ids keep the bytes (token texts with
 * the normalizer undone, byte tokens as their bytes, give back the input exactly); decoding
 * writes valid UTF-8; and for valid UTF-8 input, decode(encode(text)) is the text (with the
 * normalizer's replacement undone) and the streaming decoder agrees with the whole decode. */
#include "fuzz_common.h"
#include "tokenizer/internal.h"

static Tokenizer *tok;
static int pieces_valid; /* every token text is valid UTF-8: decoding then must be too */
static int reversible;   /* normalizer " " -> X and decoder X -> " " (Gemma) or neither */
static int all_bytes;    /* byte fallback with all 256 byte tokens: no character is ever dropped */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fz_tokenizer();
    pieces_valid = fz_pieces_valid_utf8(tok);
    reversible = (!tok->norm_from && !tok->dec_from) ||
                 (tok->norm_from && tok->dec_from && !strcmp(tok->norm_from, " ") && !strcmp(tok->dec_to, " ") &&
                  !strcmp(tok->norm_to, tok->dec_from));
    all_bytes = tok->byte_fallback;
    for (int b = 0; b < 256; b++) all_bytes &= tok->byte_id[b] >= 0;
    fprintf(stderr, "fuzz: pieces_valid %d reversible %d all_bytes %d\n", pieces_valid, reversible, all_bytes);
    return 0;
}

/* text with every occurrence of from replaced by to */
static void replace_all(Buf *out, const char *s, size_t n, const char *from, const char *to) {
    size_t fl = strlen(from);
    for (const char *end = s + n;;) {
        const char *hit = memmem(s, (size_t)(end - s), from, fl);
        buf_put(out, s, (size_t)((hit ? hit : end) - s));
        if (!hit) return;
        buf_puts(out, to);
        s = hit + fl;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int add_bos = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    int *ids, nid;
    FZ_CHECK(tok_encode(tok, text, n, add_bos, &ids, &nid) == 0);
    FZ_CHECK(nid >= 0 && (size_t)nid <= n + 1);
    int first = add_bos && tok->bos_id >= 0;
    if (first) FZ_CHECK(nid >= 1 && ids[0] == tok->bos_id);
    /* the ids keep the bytes */
    Buf raw = {0};
    buf_reserve(&raw, 0);
    for (int i = 0; i < nid; i++) {
        FZ_CHECK(ids[i] >= 0 && ids[i] < tok->n_ids && tok_piece(tok, ids[i]));
        if (i < first) continue;
        if (tok->byte_value[ids[i]] >= 0 && (tok->flags[ids[i]] & TF_MODEL)) {
            char b = (char)tok->byte_value[ids[i]];
            buf_put(&raw, &b, 1);
        } else {
            buf_put(&raw, tok->pieces + tok->piece[ids[i]].off, tok->piece[ids[i]].len);
        }
    }
    if (!all_bytes) goto done; /* characters may then become <unk> or be dropped */
    Buf want = {0};
    buf_reserve(&want, 0);
    if (tok->norm_from)
        replace_all(&want, text, n, tok->norm_from, tok->norm_to);
    else
        buf_put(&want, text, n);
    if (raw.n != want.n || memcmp(raw.p, want.p, raw.n) != 0) {
        fprintf(stderr, "ids do not keep the bytes: %zu bytes back for %zu\n", raw.n, want.n);
        abort();
    }
    free(want.p);
    /* decoding */
    size_t len;
    char *dec = tok_decode(tok, ids, nid, 0, &len);
    FZ_CHECK(dec != NULL);
    if (pieces_valid) FZ_CHECK(fz_valid_utf8((const uint8_t *)dec, len));
    if (pieces_valid && reversible && fz_valid_utf8((const uint8_t *)text, n)) {
        Buf exp = {0};
        buf_reserve(&exp, 0);
        if (tok->dec_from) /* a literal replacement character in the text also decodes to " " */
            replace_all(&exp, text, n, tok->dec_from, " ");
        else
            buf_put(&exp, text, n);
        const char *b = tok->bos_id >= 0 && first ? tok_piece(tok, tok->bos_id) : "";
        size_t bl = strlen(b);
        if (len != bl + exp.n || memcmp(dec, b, bl) || memcmp(dec + bl, exp.p, exp.n)) {
            fprintf(stderr, "decode(encode(text)) differs from the text\n");
            abort();
        }
        free(exp.p);
        /* streaming gives the same text */
        Buf st = {0};
        buf_reserve(&st, 0);
        TokStream *s = tok_stream_new(tok, 0);
        for (int i = 0; i < nid; i++) {
            size_t k;
            const char *piece = tok_stream_put(s, ids[i], &k);
            FZ_CHECK(piece != NULL);
            buf_put(&st, piece, k);
        }
        size_t k;
        const char *tail = tok_stream_flush(s, &k);
        buf_put(&st, tail, k);
        tok_stream_free(s);
        FZ_CHECK(st.n == len && memcmp(st.p, dec, len) == 0);
        free(st.p);
    }
    free(dec);
done:
    free(raw.p);
    free(ids);
    return 0;
}
