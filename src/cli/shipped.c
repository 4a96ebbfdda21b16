#include "cli/shipped.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* p (taken) made absolute and free of ".." when it exists, else NULL. */
static char *existing(char *p) {
    char *real = file_exists(p) || dir_exists(p) ? realpath(p, NULL) : NULL;
    free(p);
    return real;
}

char *shipped_path(const char *name) {
    char *p;
    const char *env = getenv("ANEMLL_DATA");
    if (env && *env && (p = existing(path_join(env, name)))) return p;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = 0;
        static const char *const under_exe[] = {"", "../data/", "../share/anemll/"};
        for (size_t i = 0; i < sizeof under_exe / sizeof under_exe[0]; i++) {
            char rel[PATH_MAX];
            snprintf(rel, sizeof rel, "%s%s", under_exe[i], name);
            if ((p = existing(path_join(exe, rel)))) return p;
        }
    }
    return existing(path_join("data", name));
}
