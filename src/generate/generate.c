#include "generate/generate.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int generation_init(Generation *g, const Tokenizer *tok, const GenOptions *o) {
    memset(g, 0, sizeof *g);
    if (o->n_stop_strings && !tok) {
        err_set("stop strings need a tokenizer");
        return -1;
    }
    for (int i = 0; i < o->n_stop_strings; i++)
        if (!o->stop_strings[i][0]) {
            err_set("a stop string must not be empty");
            return -1;
        }
    g->o = *o;
    g->stream = tok ? tok_stream_new(tok, 1) : NULL;
    g->ids = xmalloc(sizeof(int) * (size_t)(o->max_tokens > 0 ? o->max_tokens : 1));
    g->cap = 64;
    g->text = xmalloc(g->cap);
    g->text[0] = 0;
    g->stop = GEN_RUNNING;
    return 0;
}

void generation_free(Generation *g) {
    tok_stream_free(g->stream);
    free(g->ids);
    free(g->text);
    memset(g, 0, sizeof *g);
}

static void text_add(Generation *g, const char *s, size_t n) {
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->text = xrealloc(g->text, g->cap);
    }
    memcpy(g->text + g->len, s, n);
    g->len += n;
    g->text[g->len] = 0;
}

/* A stop string the text now contains (only the part that the last piece could complete is
 * searched): cut the text before it and return 1. */
static int cut_at_stop_string(Generation *g, size_t piece_len) {
    for (int i = 0; i < g->o.n_stop_strings; i++) {
        size_t sl = strlen(g->o.stop_strings[i]);
        size_t from = g->len > piece_len + sl ? g->len - piece_len - sl : 0;
        if (from < g->emitted) from = g->emitted;
        char *hit = strstr(g->text + from, g->o.stop_strings[i]);
        if (hit) {
            g->len = (size_t)(hit - g->text);
            g->text[g->len] = 0;
            return 1;
        }
    }
    return 0;
}

/* Bytes at the end of the text that could still grow into a stop string: held back from the
 * stream until they do or cannot. */
static size_t held_back(const Generation *g) {
    size_t held = 0;
    for (int i = 0; i < g->o.n_stop_strings; i++) {
        const char *s = g->o.stop_strings[i];
        size_t sl = strlen(s);
        for (size_t k = sl - 1; k > held; k--)
            if (k <= g->len - g->emitted && memcmp(g->text + g->len - k, s, k) == 0) {
                held = k;
                break;
            }
    }
    return held;
}

static int is_stop_id(const Generation *g, int id) {
    for (int i = 0; i < g->o.n_stop_ids; i++)
        if (g->o.stop_ids[i] == id) return 1;
    return 0;
}

/* Hand the text that is safe to show to the caller; 1 when it cancels. */
static int emit(Generation *g, int id, int final) {
    size_t upto = final ? g->len : g->len - held_back(g);
    const char *text = g->stream ? g->text + g->emitted : NULL;
    size_t n = upto - g->emitted;
    g->emitted = upto;
    return g->o.on_token ? g->o.on_token(g->o.ctx, id, text, n) != 0 : 0;
}

int generation_next(Generation *g, const float *logits, int room, int *next) {
    if (g->stop != GEN_RUNNING && g->stop != GEN_CONTEXT_FULL) return (int)g->stop;
    g->stop = GEN_RUNNING;
    if (g->n_ids >= g->o.max_tokens) return (int)(g->stop = GEN_MAX_TOKENS);
    int id = sampler_sample(g->o.sampler, logits);
    if (is_stop_id(g, id)) {
        g->stop_id = id;
        return (int)(g->stop = GEN_STOP_TOKEN);
    }
    g->ids[g->n_ids++] = id;
    int stopped = 0;
    if (g->stream) {
        size_t len;
        const char *piece = tok_stream_put(g->stream, id, &len);
        if (!piece) return -1;
        text_add(g, piece, len);
        stopped = cut_at_stop_string(g, len);
    }
    if (emit(g, id, stopped)) g->stop = GEN_CANCELLED;
    else if (stopped) g->stop = GEN_STOP_STRING;
    else if (g->n_ids >= g->o.max_tokens) g->stop = GEN_MAX_TOKENS; /* the last token is never fed back */
    else if (room < 1) g->stop = GEN_CONTEXT_FULL;
    *next = id;
    return (int)g->stop;
}

int generation_run(Generation *g, Session *ss) {
    double t0 = now_seconds();
    int rc = 0, next;
    g->stop = GEN_RUNNING;
    while (rc == 0) {
        int stop = generation_next(g, ss->logits, ss->s.context - ss->s.pos, &next);
        if (stop != GEN_RUNNING) {
            rc = stop < 0 ? -1 : 0;
            break;
        }
        rc = session_push(ss, next);
    }
    g->decode_seconds += now_seconds() - t0;
    return rc ? -1 : (int)g->stop;
}

void generation_flush(Generation *g) {
    if (!g->stream) return;
    size_t len;
    const char *rest = tok_stream_flush(g->stream, &len);
    if (g->stop != GEN_STOP_STRING) text_add(g, rest, len); /* after a stop string nothing more is shown */
    if (g->len > g->emitted) emit(g, -1, 1);
}

int reply_stop_ids(const Model *m, const Tokenizer *t, int *out, int max) {
    int n = 0, ids[CONFIG_MAX_EOS + 8];
    for (int i = 0; i < m->cfg.n_eos; i++) ids[n++] = m->cfg.eos_token_ids[i];
    if (t) n += tok_eos_ids(t, ids + n, 8);
    int k = 0;
    for (int i = 0; i < n && k < max; i++) {
        int dup = 0;
        for (int j = 0; j < k; j++) dup |= out[j] == ids[i];
        if (!dup) out[k++] = ids[i];
    }
    return k;
}
