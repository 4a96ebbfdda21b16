#include "util/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t *threads;
    int n_threads; /* including the caller */
    /* the job under way */
    PoolTask fn;
    void *ctx;
    int n_tasks;
    atomic_int next, finished;
    unsigned long generation;
    int stop;
} Pool;

static Pool pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
                    .done = PTHREAD_COND_INITIALIZER};
static int wanted_threads;
static _Thread_local int inside_task;

int pool_threads(void) {
    if (wanted_threads > 0) return wanted_threads;
    const char *e = getenv("ANEMLL_THREADS");
    long n = e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    wanted_threads = n < 1 ? 1 : n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n;
    return wanted_threads;
}

/* Take tasks until none are left; returns how many this thread ran. */
static int run_tasks(void) {
    int ran = 0, i;
    inside_task = 1;
    while ((i = atomic_fetch_add(&pool.next, 1)) < pool.n_tasks) {
        pool.fn(pool.ctx, i, pool.n_tasks);
        ran++;
    }
    inside_task = 0;
    return ran;
}

static void *worker(void *arg) {
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (!pool.stop && pool.generation == seen) pthread_cond_wait(&pool.work, &pool.mu);
        if (pool.stop) break;
        seen = pool.generation;
        pthread_mutex_unlock(&pool.mu);
        int ran = run_tasks();
        pthread_mutex_lock(&pool.mu);
        if (atomic_fetch_add(&pool.finished, ran) + ran == pool.n_tasks) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.n_threads - 1; i++) pthread_join(pool.threads[i], NULL);
    free(pool.threads);
    pool.threads = NULL;
    pool.n_threads = 0;
    pool.stop = 0;
}

static void start_workers(int n) {
    pool.n_threads = n;
    pool.threads = xcalloc((size_t)n, sizeof(pthread_t));
    for (int i = 0; i < n - 1; i++)
        if (pthread_create(&pool.threads[i], NULL, worker, NULL) != 0) {
            pool.n_threads = i + 1; /* run with the threads we got */
            break;
        }
    atexit(stop_workers);
}

void pool_set_threads(int n) {
    wanted_threads = n < 1 ? 1 : n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n;
    if (pool.n_threads && pool.n_threads != wanted_threads) {
        stop_workers();
        start_workers(wanted_threads);
    }
}

void pool_run(PoolTask fn, void *ctx, int n_tasks) {
    if (n_tasks <= 1 || inside_task || pool_threads() == 1) {
        for (int i = 0; i < n_tasks; i++) fn(ctx, i, n_tasks);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    if (!pool.n_threads) start_workers(pool_threads());
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.finished, 0);
    pool.generation++;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    int ran = run_tasks();
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add(&pool.finished, ran);
    while (atomic_load(&pool.finished) < n_tasks) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}
