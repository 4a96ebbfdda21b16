/* A growable byte buffer, always NUL-terminated (the JSON reader, the tokenizer). */
#ifndef ANEMLL_BUF_H
#define ANEMLL_BUF_H

#include <string.h>

#include "util/util.h"

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static inline void buf_reserve(Buf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static inline void buf_put(Buf *b, const void *s, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static inline void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

#endif
