/* Decoding, whole and streaming: token texts with the decoder's Replace ("▁" -> " "), byte
 * tokens gathered into UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD";  /* U+FFFD */

static int check_id(const Tokenizer *t, int id) {
    if (id >= 0 && id < t->n_ids && t->piece[id].off != UINT32_MAX) return 0;
    if (id >= 0 && id < t->n_ids) /* a gap in the file's ids */
        err_set("token id %d is not assigned to any token", id);
    else
        err_set("token id %d is out of range (vocab size %d)", id, t->n_ids);
    return -1;
}

/* Appends the text of a non-byte token. */
static void put_piece(const Tokenizer *t, Buf *out, int id) {
    const char *s = t->pieces + t->piece[id].off;
    size_t n = t->piece[id].len;
    if (!t->dec_from) {
        buf_put(out, s, n);
        return;
    }
    for (const char *end = s + n;;) {
        const char *hit = memmem(s, (size_t)(end - s), t->dec_from, t->dec_from_len);
        buf_put(out, s, (size_t)((hit ? hit : end) - s));
        if (!hit) return;
        buf_put(out, t->dec_to, t->dec_to_len);
        s = hit + t->dec_from_len;
    }
}

/* A finished run of byte tokens: its bytes if they are valid UTF-8, else U+FFFD per byte. */
static void put_byte_run(Buf *out, const uint8_t *b, size_t n) {
    size_t i = 0, k;
    while (i < n && (k = utf8_char_len(b + i, n - i))) i += k;
    if (i == n) {
        buf_put(out, b, n);
        return;
    }
    for (i = 0; i < n; i++) buf_put(out, REPLACEMENT, 3);
}

char *tok_decode(const Tokenizer *t, const int *ids, int n, int skip_special, size_t *len) {
    Buf out = {0}, run = {0};
    buf_reserve(&out, 0);
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (check_id(t, id) != 0) {
            free(out.p);
            free(run.p);
            return NULL;
        }
        if (skip_special && (t->flags[id] & TF_SPECIAL)) continue;
        if (t->byte_value[id] >= 0) {
            char b = (char)t->byte_value[id];
            buf_put(&run, &b, 1);
            continue;
        }
        put_byte_run(&out, (const uint8_t *)run.p, run.n);
        run.n = 0;
        put_piece(t, &out, id);
    }
    put_byte_run(&out, (const uint8_t *)run.p, run.n);
    free(run.p);
    if (len) *len = out.n;
    return out.p;
}

struct TokStream {
    const Tokenizer *t;
    int skip_special;
    uint8_t held[4];  /* start of a character not yet complete */
    int n_held;
    int bad_run;      /* the current byte-token run went invalid: its later bytes are U+FFFD */
    Buf out;
};

TokStream *tok_stream_new(const Tokenizer *t, int skip_special) {
    TokStream *s = xcalloc(1, sizeof *s);
    s->t = t;
    s->skip_special = skip_special;
    buf_reserve(&s->out, 16);
    return s;
}

void tok_stream_free(TokStream *s) {
    if (!s) return;
    free(s->out.p);
    free(s);
}

/* Ends the current byte-token run: held bytes can no longer complete. */
static void end_run(TokStream *s) {
    for (int i = 0; i < s->n_held; i++) buf_put(&s->out, REPLACEMENT, 3);
    s->n_held = 0;
    s->bad_run = 0;
}

const char *tok_stream_put(TokStream *s, int id, size_t *len) {
    const Tokenizer *t = s->t;
    s->out.n = 0;
    s->out.p[0] = 0;
    if (check_id(t, id) != 0) return NULL;
    if (s->skip_special && (t->flags[id] & TF_SPECIAL)) {
        /* skipped tokens do not break a byte run, as in tok_decode */
    } else if (t->byte_value[id] < 0) {
        end_run(s);
        put_piece(t, &s->out, id);
    } else if (s->bad_run) {
        buf_put(&s->out, REPLACEMENT, 3);
    } else {
        s->held[s->n_held++] = (uint8_t)t->byte_value[id];
        int state = utf8_prefix_state(s->held, (size_t)s->n_held);
        if (state == 1) {
            buf_put(&s->out, s->held, (size_t)s->n_held);
            s->n_held = 0;
        } else if (state < 0) {
            end_run(s);
            s->bad_run = 1;
        }
    }
    if (len) *len = s->out.n;
    return s->out.p;
}

const char *tok_stream_flush(TokStream *s, size_t *len) {
    s->out.n = 0;
    s->out.p[0] = 0;
    end_run(s);
    if (len) *len = s->out.n;
    return s->out.p;
}
