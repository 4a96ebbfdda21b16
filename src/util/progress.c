#include "util/progress.h"

#include "util/util.h"

int progress_report(const Progress *p, const char *stage, const char *unit, long done, long total) {
    if (!p || !p->fn || p->fn(p->ctx, stage, unit, done, total) == 0) return 0;
    err_set("interrupted");
    return -1;
}
