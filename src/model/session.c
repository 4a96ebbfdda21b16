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

int session_reuse(Session *ss, const int *ids, int n) {
    if (model_check_tokens(ss->m, ids, n, ss->s.context)) return -1;
    int keep = 0;
    while (keep < ss->s.pos && keep < n && ss->ids[keep] == ids[keep]) keep++;
    /* the last token must be run again to get its logits */
    if (keep == n) keep = n - 1;
    if (runstate_rewind(&ss->s, keep)) {
        runstate_reset(&ss->s);
        keep = 0;
    }
    return keep;
}

int session_set(Session *ss, const int *ids, int n) {
    double t0 = now_seconds();
    int keep = session_reuse(ss, ids, n);
    if (keep < 0) return -1;
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

int session_feed_batch(Session *const *ss, const int *const *ids, const int *n, int count, RunState *work,
                       float *logits_buf) {
    if (count < 1) {
        err_set("a batch needs at least one session");
        return -1;
    }
    SeqRows *rows = xmalloc(sizeof *rows * (size_t)count);
    int *first = xmalloc(sizeof *first * (size_t)count);
    int rc = -1;
    for (int i = 0; i < count; i++) {
        if (ss[i]->s.precision != ss[0]->s.precision || ss[i]->m != ss[0]->m) {
            err_set("the sessions of a batch must share their model and precision");
            goto out;
        }
        rows[i] = (SeqRows){&ss[i]->s, ids[i], n[i]};
        first[i] = ss[i]->s.pos;
    }
    work->precision = ss[0]->s.precision;
    /* shared matmuls when they leave each row's bits alone, else one session after another */
    int shared = model_rows_independent(ss[0]->m, work->precision), bad = 0;
    if (shared) bad = model_forward_seqs(ss[0]->m, work, rows, count, LOGITS_LAST, logits_buf);
    size_t V = (size_t)ss[0]->m->cfg.vocab_size;
    for (int i = 0; !shared && !bad && i < count; i++)
        bad = model_forward_seqs(ss[0]->m, work, rows + i, 1, LOGITS_LAST, logits_buf + (size_t)i * V);
    if (bad) {
        for (int i = 0; i < count; i++) runstate_reset(&ss[i]->s); /* their caches are half written */
        goto out;
    }
    for (int i = 0; i < count; i++) {
        memcpy(ss[i]->ids + first[i], ids[i], sizeof(int) * (size_t)n[i]);
        memcpy(ss[i]->logits, logits_buf + (size_t)i * V, sizeof(float) * V);
    }
    rc = 0;
out:
    free(rows);
    free(first);
    return rc;
}
