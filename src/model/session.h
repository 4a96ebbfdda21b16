/* Session: one conversation's model state. It remembers which tokens its KV cache holds, so a
 * new prompt that extends the last one (a chat turn) only prefills what is new. */
#ifndef ANEMLL_SESSION_H
#define ANEMLL_SESSION_H

#include "model/model.h"

typedef struct {
    const Model *m;
    RunState s;
    int *ids;      /* [context] the tokens at positions 0 .. s.pos-1 */
    float *logits; /* [V] after the last token fed */
    /* figures of the last session_set */
    int prefilled;  /* tokens actually run (the rest were reused) */
    double prefill_seconds;
} Session;

int session_init(Session *ss, const Model *m, int context, int batch);
void session_free(Session *ss);
/* Make the cache hold exactly ids[0..n) (n >= 1), reusing the longest prefix it already holds
 * when the window rings allow, and leave the logits of ids[n-1] in ss->logits. */
int session_set(Session *ss, const int *ids, int n);
/* Feed one more token (decode). */
int session_push(Session *ss, int id);
/* Rewind the cache to the longest prefix of ids[0..n) it holds, at most n-1 tokens (the last one
 * must run again for its logits); returns that length, which the caller then feeds the rest from. */
int session_reuse(Session *ss, const int *ids, int n);
/* Feed ids[i][0..n[i]) to sessions ss[i] (distinct, same model and precision) in one forward pass
 * whose rows live in work (at most work->max_batch in all); each session's logits are then those of
 * its last id, bit for bit what feeding it alone gives. logits_buf: [count, V] scratch. */
int session_feed_batch(Session *const *ss, const int *const *ids, const int *n, int count, RunState *work,
                       float *logits_buf);

#endif
