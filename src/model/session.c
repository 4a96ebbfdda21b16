#include "model/session.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int session_init(Session *ss, const Model *m, int context, int batch) {
    memset(ss, 0, sizeof *ss);
    ss->m = m;
    if (runstate_init(&ss->s, m, context, batch)) return -1;
    ss->ids = xmalloc(sizeof(int) * (size_t)context);
    ss->logits = xmalloc(sizeof(float) * (size_t)m->cfg.vocab_size);
    return 0;
}

void session_free(Session *ss) {
    runstate_free(&ss->s);
    free(ss->ids);
    free(ss->logits);
    memset(ss, 0, sizeof *ss);
}

int session_set(Session *ss, const int *ids, int n) {
    double t0 = now_seconds();
    if (model_check_tokens(ss->m, ids, n, ss->s.context)) return -1;
    int keep = 0;
    while (keep < ss->s.pos && keep < n && ss->ids[keep] == ids[keep]) keep++;
    /* the last token must be run again to get its logits */
    if (keep == n) keep = n - 1;
    if (runstate_rewind(&ss->s, keep)) {
        runstate_reset(&ss->s);
        keep = 0;
    }
    ss->prefilled = n - keep;
    int rc = model_prefill(ss->m, &ss->s, ids + keep, n - keep, LOGITS_LAST, ss->logits, NULL, NULL);
    if (rc) {
        runstate_reset(&ss->s);
        return -1;
    }
    memcpy(ss->ids, ids, sizeof(int) * (size_t)n);
    ss->prefill_seconds = now_seconds() - t0;
    return 0;
}

int session_push(Session *ss, int id) {
    if (ss->s.pos >= ss->s.context) {
        err_set("the context of %d tokens is full", ss->s.context);
        return -1;
    }
    int pos = ss->s.pos;
    if (model_forward(ss->m, &ss->s, &id, 1, LOGITS_LAST, ss->logits)) {
        runstate_reset(&ss->s);
        return -1;
    }
    ss->ids[pos] = id;
    return 0;
}
