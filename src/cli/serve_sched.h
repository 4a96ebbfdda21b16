/* `anemll serve`'s scheduler: one thread that runs every busy slot's next step as one batch
 * (anemll_batch_run: a decode token for each generating slot, a prompt chunk for each slot still
 * prefilling), so that N streams cost one pass over the weights per token instead of N. Requests
 * wait in a bounded queue and are admitted between steps; a slot keeps its cache after a request,
 * so a follow-up that repeats a conversation prefills only what is new. */
#ifndef ANEMLL_SERVE_SCHED_H
#define ANEMLL_SERVE_SCHED_H

#include <pthread.h>

#include "anemll.h"
#include "cli/serve_request.h"

/* One request's generation. The HTTP thread fills the inputs and submits it; the scheduler
 * appends the reply to text and sets finish (or error) when done. Outputs are read under
 * Sched.mu; cv is signalled whenever they change. */
typedef struct Job {
    /* in */
    int *ids, n_ids;                  /* the prompt */
    int max_tokens, ignore_eos;
    anemll_sampler *sampler;          /* NULL: greedy */
    const char *stops[SERVE_MAX_STOPS];
    int n_stops;
    /* out */
    Buf text;                         /* the reply so far */
    int cached;                       /* prompt tokens the slot's cache already held */
    int generated;
    const char *finish;               /* "stop" | "length" when done */
    char error[256];                  /* when failed (then finish is NULL and failed is set) */
    int failed, status;               /* the HTTP status of the failure */
    int cancel;                       /* the client left: stop at the next step */
    int held;                         /* the scheduler still points at it */
    pthread_cond_t cv;
    struct Job *next;                 /* queue */
} Job;

typedef struct {
    anemll_session *s;
    int *cached, n_cached; /* the ids its cache holds */
    Job *job;              /* NULL: free */
    anemll_reply *reply;
    int fed;               /* prompt ids fed so far */
    int next;              /* generating: the token to feed */
    double last_used;
} Slot;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* work arrived, or stop */
    pthread_t thread;
    const anemll_model *m;
    const anemll_tokenizer *t;
    anemll_batch *batch;
    Slot *slots;
    int n_slots, context, chunk, queue_max, queue_len;
    Job *queue, *queue_tail;
    int stopping;
    /* figures for /metrics */
    unsigned long long finished, prompt_tokens, cached_tokens, completion_tokens, steps, step_rows;
    double busy_seconds;
} Sched;

int sched_start(Sched *S, const anemll_model *m, const anemll_tokenizer *t, int parallel, int context, int queue_max);
/* Start the scheduler thread. */
int sched_run(Sched *S);
/* Queue j (held from now on); -1 when the queue is full or the server is stopping. */
int sched_submit(Sched *S, Job *j);
/* The client is gone: stop j and wait until the scheduler lets go of it. Call with mu held. */
void sched_cancel(Sched *S, Job *j);
/* End every request (queued ones fail with 503, running ones finish with what they have) and
 * join the thread. */
void sched_stop(Sched *S);
void sched_free(Sched *S);
int sched_busy_slots(const Sched *S); /* with mu held */

void job_init(Job *j);
void job_free(Job *j);

#endif
