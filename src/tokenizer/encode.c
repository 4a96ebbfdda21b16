/* Encoding: added tokens first (leftmost-longest on the raw text), then each run between them
 * normalized, pre-tokenized and BPE-merged.
 *
 * A run is usually one BPE word, up to the whole input, so BPE works on a linked list of
 * symbols with a min-heap of candidate merges keyed by (rank, position): O(n log n), the same
 * order as HF's BPE (lowest rank first, leftmost among equals). To go faster on ordinary text,
 * a word is also cut before a space symbol wherever no merge can cross that point: every token
 * made by merging across it would contain "c▁", c being the last character of the text of the
 * symbol before the cut (">" for a byte token <0xNN>), and mark_cut_points() found no vocab
 * token holding such a pair. Each piece
 * then merges alone, to the same result, and repeated pieces (words) come from a cache. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

enum { CACHE_MAX_SYMBOLS = 64, CACHE_MAX_ENTRIES = 1 << 18 };

typedef struct {
    int32_t *p;
    size_t n, cap;
} IntVec;

static void iv_append(IntVec *v, const int32_t *x, size_t n) {
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 256;
        while (cap < v->n + n) cap *= 2;
        v->p = xrealloc(v->p, cap * sizeof *v->p);
        v->cap = cap;
    }
    memcpy(v->p + v->n, x, n * sizeof *x);
    v->n += n;
}

static void iv_push(IntVec *v, int32_t x) { iv_append(v, &x, 1); }

typedef struct {  /* a piece's symbols -> its BPE result, both stored in Cache.ids */
    uint64_t hash;
    uint32_t key, key_len, val, val_len;
} CacheSlot;

typedef struct {
    CacheSlot *slots;  /* key_len == 0: free */
    uint32_t mask, used;
    IntVec ids;
} Cache;

typedef struct {
    const Tokenizer *t;
    IntVec out;
    IntVec syms;  /* the current piece's initial symbols */
    /* BPE state per symbol position; rank[i] is the rank of merging i with next[i], or -1
     * (also for merged-away symbols), merged[i] the id that merge makes */
    int32_t *next, *prev, *rank, *merged;
    size_t cap;
    uint64_t *heap;  /* rank << 32 | position */
    size_t heap_n, heap_cap;
    Buf norm;
    Cache cache;
} Enc;

static void heap_push(Enc *e, uint64_t key) {
    if (e->heap_n == e->heap_cap) {
        e->heap_cap = e->heap_cap ? 2 * e->heap_cap : 256;
        e->heap = xrealloc(e->heap, e->heap_cap * sizeof *e->heap);
    }
    uint64_t *h = e->heap;
    size_t i = e->heap_n++;
    while (i > 0 && h[(i - 1) / 2] > key) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = key;
}

static void heap_sift_down(uint64_t *h, size_t n, size_t i) {
    uint64_t key = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (h[c] >= key) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = key;
}

static uint64_t heap_pop(Enc *e) {
    uint64_t top = e->heap[0];
    e->heap[0] = e->heap[--e->heap_n];
    if (e->heap_n) heap_sift_down(e->heap, e->heap_n, 0);
    return top;
}

/* Recomputes the merge of symbol i with its right neighbour and queues it. */
static void queue_pair(Enc *e, const int32_t *id, int32_t i) {
    int32_t j = e->next[i];
    e->rank[i] = j < 0 ? -1 : merge_lookup(e->t, id[i], id[j], &e->merged[i]);
    if (e->rank[i] >= 0) heap_push(e, (uint64_t)e->rank[i] << 32 | (uint32_t)i);
}

/* BPE on k symbols (changed in place); appends the result to e->out. */
static void bpe_merge(Enc *e, int32_t *id, size_t k) {
    if (k > e->cap) {
        e->cap = k;
        e->next = xrealloc(e->next, k * sizeof *e->next);
        e->prev = xrealloc(e->prev, k * sizeof *e->prev);
        e->rank = xrealloc(e->rank, k * sizeof *e->rank);
        e->merged = xrealloc(e->merged, k * sizeof *e->merged);
    }
    e->heap_n = 0;
    for (size_t i = 0; i < k; i++) {
        e->prev[i] = (int32_t)i - 1;
        e->next[i] = i + 1 < k ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < k; i++) queue_pair(e, id, (int32_t)i);
    while (e->heap_n) {
        uint64_t top = heap_pop(e);
        int32_t p = (int32_t)(uint32_t)top;
        if (e->rank[p] != (int32_t)(top >> 32)) continue;  /* stale: that pair changed */
        int32_t q = e->next[p];
        id[p] = e->merged[p];
        e->next[p] = e->next[q];
        if (e->next[q] >= 0) e->prev[e->next[q]] = p;
        e->rank[q] = -1;
        queue_pair(e, id, p);
        if (e->prev[p] >= 0) queue_pair(e, id, e->prev[p]);
    }
    for (int32_t i = 0; i >= 0; i = e->next[i]) iv_push(&e->out, id[i]);
}

static uint64_t ids_hash(const int32_t *id, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)id[i]) * 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 31);
}

static CacheSlot *cache_slot(Cache *c, uint64_t hash, const int32_t *id, size_t n) {
    for (uint32_t i = (uint32_t)hash & c->mask;; i = (i + 1) & c->mask) {
        CacheSlot *s = &c->slots[i];
        if (!s->key_len || (s->hash == hash && s->key_len == n && !memcmp(c->ids.p + s->key, id, n * sizeof *id)))
            return s;
    }
}

static void cache_grow(Cache *c) {
    CacheSlot *old = c->slots;
    uint32_t old_size = old ? c->mask + 1 : 0, size = old ? 2 * old_size : 1024;
    c->slots = xcalloc(size, sizeof *c->slots);
    c->mask = size - 1;
    for (uint32_t i = 0; i < old_size; i++)
        if (old[i].key_len) *cache_slot(c, old[i].hash, c->ids.p + old[i].key, old[i].key_len) = old[i];
    free(old);
}

/* Merges the symbols gathered in e->syms, through the cache when the piece is short. */
static void flush_piece(Enc *e) {
    size_t n = e->syms.n;
    if (!n) return;
    e->syms.n = 0;
    int32_t *id = e->syms.p;
    Cache *c = &e->cache;
    if (n == 1 || n > CACHE_MAX_SYMBOLS || c->used >= CACHE_MAX_ENTRIES) {
        bpe_merge(e, id, n);
        return;
    }
    if (2 * (c->used + 1) > (c->slots ? c->mask + 1 : 0)) cache_grow(c);
    uint64_t hash = ids_hash(id, n);
    CacheSlot *s = cache_slot(c, hash, id, n);
    if (s->key_len) {
        iv_append(&e->out, c->ids.p + s->val, s->val_len);
        return;
    }
    CacheSlot entry = {hash, (uint32_t)c->ids.n, (uint32_t)n, 0, 0};
    iv_append(&c->ids, id, n);
    size_t start = e->out.n;
    bpe_merge(e, id, n);
    entry.val = (uint32_t)c->ids.n;
    entry.val_len = (uint32_t)(e->out.n - start);
    iv_append(&c->ids, e->out.p + start, entry.val_len);
    *s = entry;
    c->used++;
}

/* Model token of the single character at s (k bytes, valid UTF-8), or -1. */
static int char_id(const Tokenizer *t, const uint8_t *s, size_t k) {
    switch (k) {
    case 1: return t->bmp_id[s[0]];
    case 2: return t->bmp_id[(s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)];
    case 3: return t->bmp_id[(s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu)];
    default: return tok_model_id(t, (const char *)s, k);
    }
}

/* One pre-tokenized word: its characters become symbols (vocab token, byte tokens or <unk>),
 * cut into pieces at safe spaces, and each piece is merged. */
static void bpe_word(Enc *e, const char *text, size_t n) {
    const Tokenizer *t = e->t;
    if (t->ignore_merges) {
        int id = tok_model_id(t, text, n);
        if (id >= 0) {
            iv_push(&e->out, id);
            return;
        }
    }
    const uint8_t *s = (const uint8_t *)text;
    int unk_open = 0;  /* the last symbol is an <unk> that the next unknown character joins */
    for (size_t i = 0; i < n;) {
        size_t k = utf8_char_len(s + i, n - i);
        int id = k ? char_id(t, s + i, k) : -1;
        if (!k) k = 1;  /* a byte outside valid UTF-8 stands alone and is never in the vocab */
        int bytes_ok = t->byte_fallback;
        for (size_t j = 0; id < 0 && bytes_ok && j < k; j++) bytes_ok = t->byte_id[s[i + j]] >= 0;
        if (id >= 0) {
            if (id == t->space_id && e->syms.n && (t->flags[e->syms.p[e->syms.n - 1]] & TF_CUT_AFTER)) flush_piece(e);
            iv_push(&e->syms, id);
            unk_open = 0;
        } else if (bytes_ok) {
            for (size_t j = 0; j < k; j++) iv_push(&e->syms, t->byte_id[s[i + j]]);
            unk_open = 0;
        } else if (t->unk_id >= 0 && !unk_open) {
            iv_push(&e->syms, t->unk_id);
            unk_open = t->fuse_unk;
        }  /* else HF drops the character */
        i += k;
    }
    flush_piece(e);
}

/* A run of text between added tokens: normalize, split, merge. */
static void encode_run(Enc *e, const char *s, size_t n) {
    const Tokenizer *t = e->t;
    if (!n) return;
    if (t->norm_from) {
        e->norm.n = 0;
        buf_reserve(&e->norm, n);
        for (const char *end = s + n;;) {
            const char *hit = memmem(s, (size_t)(end - s), t->norm_from, t->norm_from_len);
            buf_put(&e->norm, s, (size_t)((hit ? hit : end) - s));
            if (!hit) break;
            buf_put(&e->norm, t->norm_to, t->norm_to_len);
            s = hit + t->norm_from_len;
        }
        s = e->norm.p;
        n = e->norm.n;
    }
    if (!t->split) {
        bpe_word(e, s, n);
        return;
    }
    for (size_t start = 0; start < n;) {  /* MergedWithPrevious: the pattern ends its word */
        const char *hit = memmem(s + start, n - start, t->split, t->split_len);
        size_t end = hit ? (size_t)(hit - s) + t->split_len : n;
        bpe_word(e, s + start, end - start);
        start = end;
    }
}

/* Length of the longest added token at s (its id in *id), 0 if none. */
static size_t match_added(const Tokenizer *t, const uint8_t *s, size_t n, int *id) {
    size_t best = 0;
    int32_t node = t->trie_root[s[0]];
    for (size_t i = 1; node >= 0; i++) {
        if (t->trie[node].id >= 0) {
            best = i;
            *id = t->trie[node].id;
        }
        if (i == n) break;
        node = t->trie[node].first_child;
        while (node >= 0 && t->trie[node].byte != s[i]) node = t->trie[node].next_sibling;
    }
    return best;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int add_bos, int **ids, int *n) {
    Enc e = {.t = t};
    if (add_bos && t->bos_id >= 0) iv_push(&e.out, t->bos_id);
    const uint8_t *s = (const uint8_t *)text;
    size_t run = 0;  /* start of the text not yet encoded */
    for (size_t i = 0; i < len;) {
        int id;
        size_t k = t->trie_root[s[i]] >= 0 ? match_added(t, s + i, len - i, &id) : 0;
        if (!k) {
            i++;
            continue;
        }
        encode_run(&e, text + run, i - run);
        iv_push(&e.out, id);
        i += k;
        run = i;
    }
    encode_run(&e, text + run, len - run);
    free(e.syms.p);
    free(e.next);
    free(e.prev);
    free(e.rank);
    free(e.merged);
    free(e.heap);
    free(e.norm.p);
    free(e.cache.slots);
    free(e.cache.ids.p);
    *ids = e.out.p ? e.out.p : xmalloc(sizeof **ids);
    *n = (int)e.out.n;
    return 0;
}
