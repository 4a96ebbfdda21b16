/* Private to src/tokenizer: the Tokenizer layout and small helpers shared by its files. */
#ifndef ANEMLL_TOKENIZER_INTERNAL_H
#define ANEMLL_TOKENIZER_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "util/buf.h"
#include "util/util.h"

enum {
    TF_SPECIAL = 1,   /* added token marked special: skipped by skip_special decoding */
    TF_MODEL = 2,     /* in model.vocab, so BPE may produce it */
    TF_CUT_AFTER = 4, /* no vocab token joins this token's last character to a following
                         space symbol, so a BPE word may be cut before such a space (bpe.c) */
};

typedef struct {
    uint64_t key;  /* left id << 32 | right id; MERGE_EMPTY for a free slot */
    int32_t rank;
    int32_t merged;
} MergeSlot;
#define MERGE_EMPTY UINT64_MAX

/* A slot of the text -> id hash. It holds short texts whole, so most lookups (one per
 * merge part at load time, one per rare character when encoding) touch only the slot. */
#define SLOT_HEAD 10
typedef struct {
    int32_t id;       /* -1: free */
    uint8_t len;      /* text length, 255 meaning 255 or more */
    uint8_t model;    /* the id is in model.vocab */
    char head[SLOT_HEAD];  /* the text's first bytes */
} PieceSlot;

typedef struct {  /* byte trie of the added tokens' texts */
    int32_t first_child, next_sibling;
    int32_t id;  /* token ending here, or -1 */
    uint8_t byte;
} TrieNode;

struct Tokenizer {
    int n_ids;
    char *pieces;          /* every token's text, NUL-terminated, back to back */
    struct {
        uint32_t off, len;  /* off UINT32_MAX: no token has that id */
    } *piece;              /* per id, into pieces */
    int16_t *byte_value;   /* 0..255 for <0xNN> tokens, else -1 */
    uint8_t *flags;        /* TF_* */
    PieceSlot *piece_slots;  /* open-addressing hash: token text -> id */
    uint32_t piece_mask;
    MergeSlot *merges;     /* (left, right) -> (rank, merged id) */
    uint32_t merge_mask;
    int32_t *bmp_id;       /* [0x10000]: id of each single-codepoint BMP token in the model, or -1 */
    int32_t byte_id[256];  /* id of <0xNN>, or -1 */
    int unk_id, bos_id;
    int space_id;          /* model token of the normalized space ("▁"), or -1 */
    int byte_fallback, fuse_unk, ignore_merges;
    char *norm_from, *norm_to;  /* Replace normalizer, or NULL */
    size_t norm_from_len, norm_to_len;
    char *split;           /* Split pre-tokenizer pattern, or NULL */
    size_t split_len;
    char *dec_from, *dec_to;  /* decoder Replace, or NULL */
    size_t dec_from_len, dec_to_len;
    TrieNode *trie;
    int32_t trie_root[256];  /* node of each first byte, or -1 */
};

/* id of a model token with this text, -1 if none */
int tok_model_id(const Tokenizer *t, const char *s, size_t n);

static inline uint32_t merge_hash(uint64_t key, uint32_t mask) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* Rank of merging left+right (and the merged id in *merged), or -1. */
static inline int32_t merge_lookup(const Tokenizer *t, int32_t left, int32_t right, int32_t *merged) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint32_t i = merge_hash(key, t->merge_mask);; i = (i + 1) & t->merge_mask) {
        const MergeSlot *s = &t->merges[i];
        if (s->key == key) {
            *merged = s->merged;
            return s->rank;
        }
        if (s->key == MERGE_EMPTY) return -1;
    }
}

/* UTF-8 per RFC 3629 (no overlongs, surrogates or code points past U+10FFFF).
 * Total length of the character a lead byte starts (0: not a lead byte) and the range its
 * second byte must fall in. */
static inline int utf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80) return 1;
    if (b < 0xC2) return 0;
    if (b < 0xE0) return 2;
    if (b < 0xF0) {
        if (b == 0xE0) *lo = 0xA0;
        if (b == 0xED) *hi = 0x9F;
        return 3;
    }
    if (b < 0xF5) {
        if (b == 0xF0) *lo = 0x90;
        if (b == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* 1: s[0..n) is one complete character; 0: a valid start that needs more bytes; -1: invalid. */
static inline int utf8_prefix_state(const uint8_t *s, size_t n) {
    uint8_t lo, hi;
    size_t need = (size_t)utf8_lead(s[0], &lo, &hi);
    if (!need || n > need) return -1;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < lo || s[i] > hi) return -1;
        lo = 0x80;
        hi = 0xBF;
    }
    return n == need ? 1 : 0;
}

/* Length of the valid character at s (n bytes available), 0 if there is none. */
static inline size_t utf8_char_len(const uint8_t *s, size_t n) {
    uint8_t lo, hi;
    size_t need = (size_t)utf8_lead(s[0], &lo, &hi);
    if (!need || need > n) return 0;
    return utf8_prefix_state(s, need) == 1 ? need : 0;
}


#endif
