#include "kernels/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "util/util.h"

#define KERNEL_TABLE_ADDR(ID, name) [QMAT_KERNEL_##ID] = &kernels_##name,
static const KernelTable *const families[QMAT_KERNEL_END] = {KERNEL_FAMILIES(KERNEL_TABLE_ADDR)};
#undef KERNEL_TABLE_ADDR

static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;
static atomic_int active_kernel = QMAT_KERNEL_SCALAR;

static int is_family(QMatKernel k) { return k > QMAT_KERNEL_AUTO && k < QMAT_KERNEL_END; }

static QMatKernel best_kernel(void) {
    QMatKernel best = QMAT_KERNEL_SCALAR;
    for (int k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++)
        if (qmat_kernel_available((QMatKernel)k) && !families[k]->emulated) best = (QMatKernel)k;
    return best;
}

/* Why $ANEMLL_KERNEL was not followed ("" when it was, or is unset): the caller shows it. */
static char env_note[256];

static void kernel_from_env(void) {
    QMatKernel k = QMAT_KERNEL_AUTO;
    const char *s = getenv("ANEMLL_KERNEL");
    if (s && *s) {
        if (qmat_kernel_parse(s, &k) != 0) {
            size_t n = (size_t)snprintf(env_note, sizeof env_note, "ANEMLL_KERNEL=%.40s unknown (", s);
            for (int f = QMAT_KERNEL_SCALAR; f < QMAT_KERNEL_END && n < sizeof env_note; f++)
                n += (size_t)snprintf(env_note + n, sizeof env_note - n, "%s|", families[f]->name);
            if (n < sizeof env_note) snprintf(env_note + n, sizeof env_note - n, "auto), using auto");
            k = QMAT_KERNEL_AUTO;
        } else if (!qmat_kernel_available(k)) {
            snprintf(env_note, sizeof env_note, "ANEMLL_KERNEL=%.40s not supported on this CPU, using auto", s);
            k = QMAT_KERNEL_AUTO;
        }
    }
    atomic_store(&active_kernel, k == QMAT_KERNEL_AUTO ? best_kernel() : k);
}

const char *qmat_kernel_env_note(void) {
    pthread_once(&kernel_once, kernel_from_env);
    return env_note[0] ? env_note : NULL;
}

int qmat_kernel_compiled(QMatKernel k) {
    return k == QMAT_KERNEL_AUTO || (is_family(k) && families[k]->cpu_runs != NULL);
}

int qmat_kernel_available(QMatKernel k) {
    return qmat_kernel_compiled(k) && (k == QMAT_KERNEL_AUTO || families[k]->cpu_runs());
}

int qmat_set_kernel(QMatKernel k) {
    pthread_once(&kernel_once, kernel_from_env); /* so a later first use cannot undo this */
    if (!qmat_kernel_available(k)) {
        err_set("matmul kernel %s is not available on this CPU", qmat_kernel_name(k));
        return -1;
    }
    atomic_store(&active_kernel, k == QMAT_KERNEL_AUTO ? best_kernel() : k);
    return 0;
}

QMatKernel qmat_active_kernel(void) {
    pthread_once(&kernel_once, kernel_from_env);
    return (QMatKernel)atomic_load(&active_kernel);
}

const KernelTable *kernels_table(QMatKernel k) { return is_family(k) ? families[k] : NULL; }

const KernelTable *kernels_active(void) { return kernels_table(qmat_active_kernel()); }

const char *qmat_kernel_name(QMatKernel k) {
    return k == QMAT_KERNEL_AUTO ? "auto" : is_family(k) ? families[k]->name : "?";
}

int qmat_kernel_parse(const char *s, QMatKernel *out) {
    for (int k = QMAT_KERNEL_AUTO; k < QMAT_KERNEL_END; k++)
        if (strcasecmp(s, qmat_kernel_name((QMatKernel)k)) == 0) {
            *out = (QMatKernel)k;
            return 0;
        }
    return -1;
}
