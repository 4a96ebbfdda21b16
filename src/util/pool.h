/* A small fixed thread pool for data-parallel loops: pool_run(fn, ctx, n) calls fn(ctx, i, n)
 * for every i < n across the threads (the caller's included) and returns when all are done.
 * Calls from inside a task run inline, so nesting is safe. */
#ifndef ANEMLL_POOL_H
#define ANEMLL_POOL_H

#define POOL_MAX_THREADS 256

typedef void (*PoolTask)(void *ctx, int task, int n_tasks);

/* Threads used: ANEMLL_THREADS, else pool_set_threads, else the number of online CPUs. */
int pool_threads(void);
/* ANEMLL_THREADS read strictly: 0 when unset; -1 + err_set when it is not an integer >= 1;
 * else the count, at most POOL_MAX_THREADS (*capped set when it asked for more). */
int pool_threads_env(int *capped);
/* Set before the first pool_run (later calls restart the workers). n >= 1. */
void pool_set_threads(int n);
void pool_run(PoolTask fn, void *ctx, int n_tasks);

#endif
