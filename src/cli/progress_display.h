/* How the CLI shows library progress (util/progress.h): on stderr only, since results go to stdout.
 *  - stderr is a terminal: one line per stage, redrawn in place with '\r' at most 10 times a
 *    second (its first state, its first estimate and its last state always drawn), ended with a
 *    newline when the stage completes, e.g. "convert: writing 1.2G/3.9G weights  31%, 0:42 elapsed, ~1:33 left";
 *  - stderr is a file or a pipe (a log): a plain line when a stage has run 10 s since it began or
 *    since its last line, and its final line if it printed any; quick stages print nothing;
 *  - quiet: nothing at all. */
#ifndef ANEMLL_PROGRESS_DISPLAY_H
#define ANEMLL_PROGRESS_DISPLAY_H

#include "util/progress.h"

typedef enum { DISPLAY_QUIET, DISPLAY_TERMINAL, DISPLAY_LOG } DisplayMode;

typedef struct {
    DisplayMode mode;
    char title[256];
    char stage[64], unit[32];
    long done, total;
    double t0, last; /* the stage's start; the last draw (terminal) or line (log) */
    int lines;       /* draws (terminal) or lines (log) of this stage */
    int estimated;   /* terminal: a state with an estimate was drawn */
    int open;        /* terminal: the line on screen awaits its newline */
} ProgressDisplay;

/* title starts each line ("convert", "eval FFN LUT4,4 + LM LUT6,4"). */
void progress_display_init(ProgressDisplay *d, const char *title, int quiet);
/* A ProgressFn for ctx = a ProgressDisplay; returns 0 (it never asks to stop). */
int progress_display_fn(void *ctx, const char *stage, const char *unit, long done, long total);
/* The Progress that reports to d. */
Progress progress_display(ProgressDisplay *d);
/* Ends a line left open by a stage that did not complete (before an error is printed). */
void progress_display_end(ProgressDisplay *d);

#endif
