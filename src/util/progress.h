/* Progress of long work (conversion, calibration, evaluation, synth) reported to the caller
 * through a callback: the library never prints, the caller decides how (or whether) to show it.
 *
 * A piece of work runs as stages ("calibration", "writing", ...). Each stage reports done = 0
 * first and done == total last, with the same total throughout; done and total count `unit`
 * ("tokens", "weights", "steps"). Between those, reports come as work completes (per batch, per
 * tensor, per step): often enough for an estimate, so a display should throttle its redraws.
 * The callback returns 0 to go on; anything else asks the work to stop, which then fails with
 * the error "interrupted" (output it was writing is removed as on any other error). */
#ifndef ANEMLL_PROGRESS_H
#define ANEMLL_PROGRESS_H

typedef int (*ProgressFn)(void *ctx, const char *stage, const char *unit, long done, long total);

typedef struct {
    ProgressFn fn; /* NULL: nothing is reported */
    void *ctx;
} Progress;

/* Report to p (NULL, or a NULL fn: nothing). Returns -1 with the error "interrupted" when the
 * callback asks to stop, else 0. */
int progress_report(const Progress *p, const char *stage, const char *unit, long done, long total);

#endif
