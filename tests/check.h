/* Minimal test harness: each test binary runs named cases; every case prints
 * "PASS name" or "FAIL name" on stdout, which tests/run.sh counts. */
#ifndef ANEMLL_CHECK_H
#define ANEMLL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_fail_count;
static int check_case_failed_total;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            check_fail_count++;                                                      \
        }                                                                            \
    } while (0)

#define CHECKF(cond, ...)                                                            \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            check_fail_count++;                                                      \
        }                                                                            \
    } while (0)

static inline void check_run(const char *name, void (*fn)(void)) {
    int before = check_fail_count;
    fn();
    int failed = check_fail_count != before;
    printf("%s %s\n", failed ? "FAIL" : "PASS", name);
    fflush(stdout);
    check_case_failed_total += failed;
}

#define RUN(fn) check_run(#fn, fn)
#define CHECK_EXIT() return check_case_failed_total ? 1 : 0

/* The reference data the project carries (tests/data, see its README), relative to the repo
 * root: tests run from the root. */
static inline const char *data_dir(void) { return "tests/data"; }

#endif
