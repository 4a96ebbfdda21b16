#include "cli/progress_display.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define REDRAW_SECONDS 0.1 /* terminal: at most 10 redraws a second */
#define LOG_SECONDS 10.0   /* log: at most one line per 10 s per stage */

void progress_display_init(ProgressDisplay *d, const char *title, int quiet) {
    memset(d, 0, sizeof *d);
    d->mode = quiet ? DISPLAY_QUIET : isatty(2) ? DISPLAY_TERMINAL : DISPLAY_LOG;
    snprintf(d->title, sizeof d->title, "%s", title);
}

Progress progress_display(ProgressDisplay *d) { return (Progress){progress_display_fn, d}; }

/* 1234, 12.3k, 4.5M, 3.9G: counts of weights run into the billions */
static void fmt_count(char *buf, size_t n, long v) {
    if (v < 10000) {
        snprintf(buf, n, "%ld", v);
        return;
    }
    double x = (double)v;
    int i = 0;
    for (; x >= 1000 && i < 4; i++) x /= 1000;
    snprintf(buf, n, "%.1f%c", x, " kMGT"[i]);
}

/* m:ss, or h:mm:ss */
static void fmt_time(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* "writing 1.2G/3.9G weights  31%, 0:42 elapsed, ~1:33 left" (the estimate once there is one) */
static void fmt_state(const ProgressDisplay *d, double now, char *buf, size_t n) {
    char done[16], total[16], el[16], left[16];
    fmt_count(done, sizeof done, d->done);
    fmt_count(total, sizeof total, d->total);
    double elapsed = now - d->t0;
    fmt_time(el, sizeof el, elapsed);
    int pct = d->total > 0 ? (int)(100.0 * (double)d->done / (double)d->total) : 100;
    int len = snprintf(buf, n, "%s %s/%s %s %3d%%, %s elapsed", d->stage, done, total, d->unit, pct, el);
    if (d->done > 0 && d->done < d->total && len > 0 && (size_t)len < n) {
        fmt_time(left, sizeof left, elapsed * (double)(d->total - d->done) / (double)d->done);
        snprintf(buf + len, n - (size_t)len, ", ~%s left", left);
    }
}

int progress_display_fn(void *ctx, const char *stage, const char *unit, long done, long total) {
    ProgressDisplay *d = ctx;
    if (d->mode == DISPLAY_QUIET) return 0;
    double now = now_seconds();
    int fresh = strcmp(stage, d->stage) || total != d->total || done < d->done;
    if (!fresh && d->done == d->total) return 0; /* a completed stage said so again */
    if (fresh) {
        progress_display_end(d);
        snprintf(d->stage, sizeof d->stage, "%s", stage);
        snprintf(d->unit, sizeof d->unit, "%s", unit);
        d->total = total;
        d->t0 = d->last = now;
        d->lines = d->estimated = 0;
    }
    d->done = done;
    int last = done >= total;
    char state[256];
    fmt_state(d, now, state, sizeof state);
    if (d->mode == DISPLAY_TERMINAL) {
        int estimate = done > 0 && !last;
        if (!(fresh || last || (estimate && !d->estimated) || now - d->last >= REDRAW_SECONDS)) return 0;
        /* one write per redraw; \033[K clears what a longer line before left */
        fprintf(stderr, "\r%s: %s\033[K%s", d->title, state, last ? "\n" : "");
        d->open = !last;
        d->estimated |= estimate;
    } else {
        if (last ? !d->lines : now - d->last < LOG_SECONDS) return 0;
        fprintf(stderr, "%s: %s\n", d->title, state);
    }
    d->last = now;
    d->lines++;
    return 0;
}

void progress_display_end(ProgressDisplay *d) {
    if (d->open) fputc('\n', stderr);
    d->open = 0;
}
