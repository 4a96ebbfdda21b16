#include "util/pool.h"

#include <errno.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* How long an idle thread busy-waits before sleeping on a condvar. A decode step runs ~200
 * jobs of 50-500 us with short serial gaps between them, and a condvar wake-up costs tens of
 * us (over 100 us on some VMs), so threads that spin through a gap take the next job at once. */
#define SPIN_NS 200000

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t *threads;
    int n_threads; /* including the caller */
    /* The job under way. fn and ctx change only while no task can be claimed, and a thread
     * reads them only after claiming a task, so that claim orders the reads. */
    PoolTask fn;
    void *ctx;
    /* n_tasks << 32 | next unclaimed task: one word, so a thread still holding an older job's
     * value can never claim (nor count) a task against the wrong job. */
    _Atomic uint64_t claim;
    atomic_int finished;   /* tasks of the job done */
    atomic_int generation; /* bumped for each job and for stop; what idle threads watch */
    atomic_int sleepers;   /* workers inside (or about to enter) the condvar wait */
    atomic_int caller_sleeps;
    atomic_int stop;
} Pool;

static Pool pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
                    .done = PTHREAD_COND_INITIALIZER};
static int wanted_threads;
static _Thread_local int inside_task;

int pool_threads_env(int *capped) {
    *capped = 0;
    const char *e = getenv("ANEMLL_THREADS");
    if (!e) return 0;
    char *end;
    errno = 0;
    long n = strtol(e, &end, 10);
    if (end == e || *end || errno || n < 1) {
        err_set("ANEMLL_THREADS '%.40s': expected a thread count of at least 1", e);
        return -1;
    }
    if (n > POOL_MAX_THREADS) *capped = 1;
    return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n;
}

int pool_threads(void) {
    if (wanted_threads > 0) return wanted_threads;
    int capped, env = pool_threads_env(&capped); /* the CLI reports a bad value before any work */
    long n = env > 0 ? env : sysconf(_SC_NPROCESSORS_ONLN);
    wanted_threads = n < 1 ? 1 : n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n;
    return wanted_threads;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Busy-waits up to SPIN_NS until (*p == v) == until_eq; returns whether that happened. The
 * clock is read every 64 pauses only, so it stays cheap even where it is a real syscall. */
static int spin(atomic_int *p, int v, int until_eq) {
    struct timespec t;
    int64_t deadline = 0;
    for (unsigned k = 0;; k++) {
        if ((atomic_load_explicit(p, memory_order_acquire) == v) == until_eq) return 1;
        if (k % 64 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            int64_t now = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
            if (!deadline) deadline = now + SPIN_NS;
            else if (now > deadline) return 0;
        }
        cpu_relax();
    }
}

/* Claim and run tasks until none are left. */
static void run_tasks(void) {
    inside_task = 1;
    uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        int n = (int)(c >> 32), i = (int)(uint32_t)c;
        if (i >= n) break;
        /* acquire: pairs with pool_run's release of the word, so fn and ctx are this job's */
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &c, c + 1, memory_order_acquire,
                                                   memory_order_acquire))
            continue;
        pool.fn(pool.ctx, i, n);
        /* seq_cst (so acq_rel): the task's writes are visible to whoever sees the count
         * complete, and it orders against pool_run's store to caller_sleeps (Dekker-style:
         * either the caller sees the count or we see it asleep and signal). */
        if (atomic_fetch_add(&pool.finished, 1) + 1 == n && atomic_load(&pool.caller_sleeps)) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
        c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    }
    inside_task = 0;
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        /* Read the generation before looking for tasks: any job published later changes it. */
        int seen = atomic_load(&pool.generation);
        if (atomic_load(&pool.stop)) return NULL;
        run_tasks();
        if (spin(&pool.generation, seen, 0)) continue;
        pthread_mutex_lock(&pool.mu);
        /* seq_cst pairs with pool_run's bump-then-read of sleepers: either it sees us
         * counted here and broadcasts (we hold mu until the wait), or we see its bump. */
        atomic_fetch_add(&pool.sleepers, 1);
        while (atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.work, &pool.mu);
        atomic_fetch_sub(&pool.sleepers, 1);
        pthread_mutex_unlock(&pool.mu);
    }
}

static void stop_workers(void) {
    atomic_store(&pool.stop, 1);
    atomic_fetch_add(&pool.generation, 1);
    pthread_mutex_lock(&pool.mu); /* a worker between its check and its wait holds mu */
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.n_threads - 1; i++) pthread_join(pool.threads[i], NULL);
    free(pool.threads);
    pool.threads = NULL;
    pool.n_threads = 0;
    atomic_store(&pool.stop, 0);
}

static void start_workers(int n) {
    static int registered;
    pool.n_threads = n;
    pool.threads = xcalloc((size_t)n, sizeof(pthread_t));
    for (int i = 0; i < n - 1; i++)
        if (pthread_create(&pool.threads[i], NULL, worker, NULL) != 0) {
            pool.n_threads = i + 1; /* run with the threads we got */
            break;
        }
    if (!registered) atexit(stop_workers); /* once: restarts must not pile up handlers */
    registered = 1;
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
    if (!pool.n_threads) start_workers(pool_threads());
    /* The previous job is fully claimed and done, so nobody reads these now. */
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    /* release: a thread that claims from this word sees fn, ctx and finished above */
    atomic_store_explicit(&pool.claim, (uint64_t)n_tasks << 32, memory_order_release);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleepers)) { /* only then pay for the syscall */
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.work);
        pthread_mutex_unlock(&pool.mu);
    }
    run_tasks();
    if (spin(&pool.finished, n_tasks, 1)) return;
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.caller_sleeps, 1); /* seq_cst: see run_tasks */
    while (atomic_load(&pool.finished) != n_tasks) pthread_cond_wait(&pool.done, &pool.mu);
    atomic_store(&pool.caller_sleeps, 0);
    pthread_mutex_unlock(&pool.mu);
}
