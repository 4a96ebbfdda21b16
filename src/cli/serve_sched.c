/* The scheduler of `anemll serve` (see serve_sched.h). */
#include "cli/serve_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

void job_init(Job *j) {
    memset(j, 0, sizeof *j);
    pthread_cond_init(&j->cv, NULL);
    buf_puts(&j->text, "");
}

void job_free(Job *j) {
    pthread_cond_destroy(&j->cv);
    free(j->text.p);
    free(j->ids);
    anemll_sampler_free(j->sampler);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The reply's text, as it streams (called by anemll_reply_next with mu held). */
static int on_token(void *ctx, int id, const char *text, size_t len) {
    Job *j = ctx;
    (void)id;
    if (text && len) {
        buf_put(&j->text, text, len);
        pthread_cond_broadcast(&j->cv);
    }
    return j->cancel;
}

int sched_start(Sched *S, const anemll_model *m, const anemll_tokenizer *t, int parallel, int context,
                int queue_max) {
    memset(S, 0, sizeof *S);
    S->m = m;
    S->t = t;
    S->n_slots = parallel;
    S->context = context;
    S->queue_max = queue_max;
    /* Where the batch shares its matmuls, short prompt chunks keep the other streams flowing.
     * Otherwise prompts go in the pieces anemll_session_set uses, for the same bits as `chat`. */
    S->chunk = anemll_batch_shared(m, ANEMLL_PRECISION_Q8) ? 32 : 64;
    if (anemll_batch_new(m, S->chunk * parallel, parallel, &S->batch)) return -1;
    S->slots = xcalloc((size_t)parallel, sizeof *S->slots);
    anemll_session_options so;
    anemll_session_default_options(&so);
    so.context = context;
    so.batch = 64;
    for (int i = 0; i < parallel; i++) {
        if (anemll_session_new(m, &so, &S->slots[i].s)) return -1;
        S->slots[i].cached = xmalloc(sizeof(int) * (size_t)context);
    }
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->cv, NULL);
    return 0;
}

static void *sched_main(void *arg);

int sched_submit(Sched *S, Job *j) {
    if (S->stopping || S->queue_len >= S->queue_max) return -1;
    j->held = 1;
    j->next = NULL;
    if (S->queue_tail) S->queue_tail->next = j;
    else S->queue = j;
    S->queue_tail = j;
    S->queue_len++;
    pthread_cond_signal(&S->cv);
    return 0;
}

void sched_cancel(Sched *S, Job *j) {
    j->cancel = 1;
    for (Job **p = &S->queue, *prev = NULL; *p; prev = *p, p = &(*p)->next) /* still queued: unlink */
        if (*p == j) {
            *p = j->next;
            if (S->queue_tail == j) S->queue_tail = prev;
            S->queue_len--;
            j->held = 0;
            return;
        }
    pthread_cond_signal(&S->cv);
    while (j->held) pthread_cond_wait(&j->cv, &S->mu);
}

int sched_busy_slots(const Sched *S) {
    int n = 0;
    for (int i = 0; i < S->n_slots; i++) n += S->slots[i].job != NULL;
    return n;
}

/* The slot lets go of its job: done (finish), failed (error), or cancelled. */
static void release(Sched *S, Slot *sl, const char *finish, int status, const char *error) {
    Job *j = sl->job;
    if (sl->reply) {
        if (finish && !j->cancel) anemll_reply_flush(sl->reply);
        j->generated = anemll_reply_generated(sl->reply);
        anemll_reply_free(sl->reply);
        sl->reply = NULL;
    }
    if (finish) {
        j->finish = finish;
        S->finished++;
        S->completion_tokens += (unsigned long long)j->generated;
    } else {
        j->failed = 1;
        j->status = status;
        snprintf(j->error, sizeof j->error, "%s", error);
    }
    j->held = 0;
    pthread_cond_broadcast(&j->cv);
    sl->job = NULL;
    sl->last_used = now();
}

static int common_prefix(const int *a, int na, const int *b, int nb) {
    int k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

/* Queued jobs into free slots: each to the free slot whose cache shares most of its prompt (then
 * the one idle longest), so a conversation comes back to its cache. */
static void admit(Sched *S) {
    while (S->queue) {
        Slot *best = NULL;
        int best_k = -1;
        Job *j = S->queue;
        for (int i = 0; i < S->n_slots; i++) {
            Slot *sl = &S->slots[i];
            if (sl->job) continue;
            int k = common_prefix(sl->cached, sl->n_cached, j->ids, j->n_ids);
            if (k > best_k || (k == best_k && sl->last_used < best->last_used)) best = sl, best_k = k;
        }
        if (!best) return;
        S->queue = j->next;
        if (!S->queue) S->queue_tail = NULL;
        S->queue_len--;
        best->job = j;
        anemll_generate_options o;
        anemll_generate_default_options(&o);
        o.max_tokens = j->max_tokens;
        o.ignore_eos = j->ignore_eos;
        o.sampler = j->sampler;
        o.stop_strings = j->stops;
        o.n_stop_strings = j->n_stops;
        o.on_token = on_token;
        o.ctx = j;
        int keep = anemll_session_reuse(best->s, j->ids, j->n_ids);
        if (keep < 0 || anemll_reply_new(S->m, S->t, &o, &best->reply)) {
            best->n_cached = 0;
            release(S, best, NULL, 400, anemll_last_error());
            continue;
        }
        best->n_cached = keep;
        best->fed = keep;
        j->cached = keep;
        S->prompt_tokens += (unsigned long long)j->n_ids;
        S->cached_tokens += (unsigned long long)keep;
    }
}

static void *sched_main(void *arg) {
    Sched *S = arg;
    int n = S->n_slots;
    anemll_session **run = xmalloc(sizeof *run * (size_t)n);
    const int **ids = xmalloc(sizeof *ids * (size_t)n);
    int *counts = xmalloc(sizeof *counts * (size_t)n);
    Slot **who = xmalloc(sizeof *who * (size_t)n);
    pthread_mutex_lock(&S->mu);
    for (;;) {
        if (S->stopping) {
            for (Job *j = S->queue; j; j = S->queue) {
                S->queue = j->next;
                snprintf(j->error, sizeof j->error, "the server is shutting down");
                j->failed = 1;
                j->status = 503;
                j->held = 0;
                pthread_cond_broadcast(&j->cv);
            }
            S->queue_tail = NULL;
            S->queue_len = 0;
            for (int i = 0; i < n; i++)
                if (S->slots[i].job) release(S, &S->slots[i], "length", 0, NULL);
            break;
        }
        for (int i = 0; i < n; i++) /* clients that left */
            if (S->slots[i].job && S->slots[i].job->cancel) release(S, &S->slots[i], NULL, 499, "cancelled");
        admit(S);
        int k = 0, rows = 0;
        for (int i = 0; i < n; i++) {
            Slot *sl = &S->slots[i];
            if (!sl->job) continue;
            Job *j = sl->job;
            int take = 1;
            if (sl->fed < j->n_ids) { /* prefilling: a chunk, as far as the batch has room */
                take = j->n_ids - sl->fed < S->chunk ? j->n_ids - sl->fed : S->chunk;
                ids[k] = j->ids + sl->fed;
            } else {
                ids[k] = &sl->next;
            }
            run[k] = sl->s;
            counts[k] = take;
            who[k++] = sl;
            rows += take;
        }
        if (k == 0) {
            pthread_cond_wait(&S->cv, &S->mu);
            continue;
        }
        pthread_mutex_unlock(&S->mu);
        double t0 = now();
        int rc = anemll_batch_run(S->batch, run, ids, counts, k);
        double dt = now() - t0;
        pthread_mutex_lock(&S->mu);
        S->busy_seconds += dt;
        S->steps++;
        S->step_rows += (unsigned long long)rows;
        if (rc) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", anemll_last_error());
            for (int i = 0; i < k; i++) {
                who[i]->n_cached = 0;
                release(S, who[i], NULL, 500, msg);
            }
            continue;
        }
        for (int i = 0; i < k; i++) {
            Slot *sl = who[i];
            Job *j = sl->job;
            memcpy(sl->cached + sl->n_cached, ids[i], sizeof(int) * (size_t)counts[i]);
            sl->n_cached += counts[i];
            if (sl->fed < j->n_ids) {
                sl->fed += counts[i];
                if (sl->fed < j->n_ids) continue;
            }
            anemll_stop stop;
            int room = anemll_session_context(sl->s) - anemll_session_length(sl->s);
            int r = anemll_reply_next(sl->reply, anemll_session_logits(sl->s), room, &sl->next, &stop);
            if (r < 0) release(S, sl, NULL, 500, anemll_last_error());
            else if (r == 1 && stop == ANEMLL_STOP_CANCELLED) release(S, sl, NULL, 499, "cancelled");
            else if (r == 1)
                release(S, sl, stop == ANEMLL_STOP_TOKEN || stop == ANEMLL_STOP_STRING ? "stop" : "length", 0, NULL);
        }
    }
    pthread_mutex_unlock(&S->mu);
    free(run);
    free(ids);
    free(counts);
    free(who);
    return NULL;
}

int sched_run(Sched *S) { return pthread_create(&S->thread, NULL, sched_main, S) ? -1 : 0; }

void sched_stop(Sched *S) {
    pthread_mutex_lock(&S->mu);
    S->stopping = 1;
    pthread_cond_signal(&S->cv);
    pthread_mutex_unlock(&S->mu);
    pthread_join(S->thread, NULL);
}

void sched_free(Sched *S) {
    for (int i = 0; S->slots && i < S->n_slots; i++) {
        anemll_session_free(S->slots[i].s);
        free(S->slots[i].cached);
    }
    free(S->slots);
    anemll_batch_free(S->batch);
    pthread_mutex_destroy(&S->mu);
    pthread_cond_destroy(&S->cv);
}
