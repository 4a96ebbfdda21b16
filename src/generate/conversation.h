/* Conversation: the chat logic of `anemll chat` and of any other front end. Each reply's prompt is
 * the Gemma chat template over the kept turns; earlier replies are spliced in as the ids the model
 * generated, so the KV cache still holds them and a new turn only prefills what is new. When the
 * context fills, the oldest user/assistant pairs are dropped (the system prompt stays), before a
 * reply or in the middle of one, which then goes on. */
#ifndef ANEMLL_CONVERSATION_H
#define ANEMLL_CONVERSATION_H

#include "generate/generate.h"

typedef struct {
    char *role; /* "user" | "assistant" */
    char *text;
    int *ids;   /* assistant: the tokens the model generated */
    int n_ids;
} Turn;

typedef struct {
    const Tokenizer *tok;
    Session *ss;
    char *system;   /* NULL: none */
    int history;    /* keep the turns (else each reply sees only its own prompt) */
    int raw;        /* no chat template: the prompt as it is, with BOS (no history then) */
    Turn *turns;    /* kept turns, user/assistant alternating */
    int n_turns;
} Conversation;

/* Figures of one reply. */
typedef struct {
    GenStop stop;
    int stop_id;         /* GEN_STOP_TOKEN: the id that ended it */
    int generated;       /* tokens of the reply */
    int prefilled;       /* prompt tokens run */
    int reused;          /* prompt tokens the cache already held */
    int turns_dropped;   /* earlier turns forgotten to make room */
    double prefill_seconds, decode_seconds;
} ReplyStats;

void conversation_init(Conversation *c, const Tokenizer *tok, Session *ss, const char *system, int history, int raw);
void conversation_free(Conversation *c);
/* Generate the reply to `user` with o (its stop ids, sampler, limit and callback), streaming it
 * through o->on_token; with history the exchange is kept. 0 (also when cancelled or when the
 * reply filled the context), -1 with err_set on an error (a prompt that does not fit). */
int conversation_reply(Conversation *c, const char *user, const GenOptions *o, ReplyStats *st);
/* The prompt ids the next reply to `user` would start from, after `partial` ids of a reply under
 * way (exposed for tests). */
int conversation_prompt(const Conversation *c, const char *user, const int *partial, int n_partial, int **ids,
                        int *n);
/* Forget the oldest user/assistant pair; 0 when there was none. */
int conversation_drop_oldest(Conversation *c);

#endif
