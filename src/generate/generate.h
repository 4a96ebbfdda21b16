/* Generation: sample tokens from a session one at a time, stream them as text, and stop at a stop
 * token (EOS, <end_of_turn>), a stop string, the token limit, a cancel from the caller, or a full
 * context. Nothing here prints: text goes to the caller's callback. */
#ifndef ANEMLL_GENERATE_H
#define ANEMLL_GENERATE_H

#include <stddef.h>

#include "model/sampler.h"
#include "model/session.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    GEN_RUNNING,      /* not stopped yet (only inside) */
    GEN_STOP_TOKEN,   /* a stop id came: it is not part of the reply */
    GEN_STOP_STRING,  /* the text reached a stop string: the reply ends before it */
    GEN_MAX_TOKENS,   /* the token limit */
    GEN_CANCELLED,    /* the callback asked to stop */
    GEN_CONTEXT_FULL, /* no position left for the next token */
} GenStop;

/* Called with each new token and the text it completes (may be empty: a partial UTF-8 character,
 * or text held back while it could still become a stop string; NULL without a tokenizer). A
 * non-zero return cancels the generation. */
typedef int (*GenTokenFn)(void *ctx, int id, const char *text, size_t len);

typedef struct {
    int max_tokens;
    Sampler *sampler;
    const int *stop_ids; /* end the reply (not emitted) */
    int n_stop_ids;
    const char *const *stop_strings; /* end the reply when its text reaches one (needs a tokenizer) */
    int n_stop_strings;
    GenTokenFn on_token;
    void *ctx;
} GenOptions;

/* One reply under way: its ids, its text, and where streaming stands. */
typedef struct {
    GenOptions o;
    TokStream *stream; /* NULL without a tokenizer */
    int *ids;          /* [max_tokens] the reply's tokens */
    int n_ids;
    char *text;        /* the reply's text so far (NUL-terminated), stop string cut off */
    size_t len, cap, emitted; /* bytes of text passed to on_token */
    GenStop stop;
    int stop_id; /* GEN_STOP_TOKEN: the id that ended the reply */
    double decode_seconds;
} Generation;

/* tok may be NULL (ids only; no stop strings then). */
int generation_init(Generation *g, const Tokenizer *tok, const GenOptions *o);
void generation_free(Generation *g);
/* Sample from ss->logits and feed each token back, until a stop; returns the stop (never
 * GEN_RUNNING), or -1 with err_set on an error. The last token is not fed back when the reply
 * ends there. On GEN_CONTEXT_FULL the caller may make room (session_set with fewer tokens
 * before) and call again: the reply goes on where it was. */
int generation_run(Generation *g, Session *ss);
/* One step of generation_run for a caller that feeds the model itself (a server batching many
 * replies): sample from logits, stream the token, and return GEN_RUNNING with *next to feed back,
 * or the stop (-1 on an error). room: positions left in the cache. */
int generation_next(Generation *g, const float *logits, int room, int *next);
/* Streams the text still held back (a partial character, the start of a stop string that never
 * completed) through on_token with id -1. Call once at the end. */
void generation_flush(Generation *g);

/* The ids that end a reply: the model's eos ids and the tokenizer's <eos>/<end_of_turn>, once each. */
int reply_stop_ids(const Model *m, const Tokenizer *t, int *out, int max);

#endif
