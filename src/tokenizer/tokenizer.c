/* Loading tokenizer.json into flat tables: token texts by id, a text -> id hash, a
 * (left, right) -> (rank, merged) hash for the BPE merges, and a trie of the added tokens. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_text.h"
#include "tokenizer/internal.h"

#define MAX_IDS (1 << 24)
#define TOKENIZER_MAX_BYTES (1024u << 20) /* also keeps every token text offset within 32 bits */

static uint64_t text_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

static uint32_t table_size(size_t n) {  /* power of two at least 1.5 n */
    uint32_t size = 16;
    while (size < n + n / 2) size *= 2;
    return size;
}

static int slot_matches(const Tokenizer *t, const PieceSlot *slot, const char *s, size_t n) {
    if (slot->len != (n < 255 ? n : 255) || memcmp(slot->head, s, n < SLOT_HEAD ? n : SLOT_HEAD) != 0) return 0;
    if (n <= SLOT_HEAD) return 1;
    return t->piece[slot->id].len == n && memcmp(t->pieces + t->piece[slot->id].off, s, n) == 0;
}

/* The slot holding this text (of hash h), or the free slot where it would go. */
static PieceSlot *piece_slot_hashed(const Tokenizer *t, const char *s, size_t n, uint64_t h) {
    for (uint32_t i = (uint32_t)h & t->piece_mask;; i = (i + 1) & t->piece_mask) {
        PieceSlot *slot = &t->piece_slots[i];
        if (slot->id < 0 || slot_matches(t, slot, s, n)) return slot;
    }
}

static PieceSlot *piece_slot(const Tokenizer *t, const char *s, size_t n) {
    return piece_slot_hashed(t, s, n, text_hash(s, n));
}

/* id with this text, -1 if none */
static int piece_lookup(const Tokenizer *t, const char *s, size_t n) { return piece_slot(t, s, n)->id; }

int tok_model_id(const Tokenizer *t, const char *s, size_t n) {
    const PieceSlot *slot = piece_slot(t, s, n);
    return slot->model ? slot->id : -1;
}

/* Adds id under its text unless that text already has an id (model tokens go in first). */
static void piece_insert(Tokenizer *t, int id) {
    const char *s = t->pieces + t->piece[id].off;
    size_t n = t->piece[id].len;
    PieceSlot *slot = piece_slot(t, s, n);
    if (slot->id >= 0) return;
    slot->id = id;
    slot->len = (uint8_t)(n < 255 ? n : 255);
    slot->model = (t->flags[id] & TF_MODEL) != 0;
    memcpy(slot->head, s, n < SLOT_HEAD ? n : SLOT_HEAD);
}

/* Later duplicates win, as in HF (its merges map is collected from the list in order). */
static void merge_insert(Tokenizer *t, int32_t left, int32_t right, int32_t rank, int32_t merged) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint32_t i = merge_hash(key, t->merge_mask);
    while (t->merges[i].key != MERGE_EMPTY && t->merges[i].key != key) i = (i + 1) & t->merge_mask;
    t->merges[i] = (MergeSlot){key, rank, merged};
}

/* The two texts of a merge, "a b" or ["a", "b"]; -1 when it is neither. */
static int merge_parts(const cJSON *m, const char *part[2], size_t len[2]) {
    if (cJSON_IsString(m)) {
        const char *space = strchr(m->valuestring, ' ');
        if (!space || strchr(space + 1, ' ')) return -1;
        part[0] = m->valuestring;
        len[0] = (size_t)(space - m->valuestring);
        part[1] = space + 1;
    } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
               cJSON_IsString(m->child->next)) {
        part[0] = m->child->valuestring;
        len[0] = strlen(part[0]);
        part[1] = m->child->next->valuestring;
    } else {
        return -1;
    }
    len[1] = strlen(part[1]);
    return 0;
}

/* The merges, a batch at a time: hashing a whole batch's texts and prefetching their slots
 * before looking any up overlaps the cache misses of these random accesses, which otherwise
 * take most of the load time after cJSON's parse. */
static int load_merges(Tokenizer *t, const char *path, const cJSON *merges) {
    enum { BATCH = 64 };
    struct {
        const char *part[2];
        size_t len[2];
        size_t joined;     /* offset of the text a+b in `joined` */
        uint64_t hash[3];  /* of a, b, a+b */
        int32_t id[3];
    } batch[BATCH];
    uint32_t size = table_size((size_t)cJSON_GetArraySize(merges));
    t->merge_mask = size - 1;
    t->merges = xmalloc(size * sizeof *t->merges);
    memset(t->merges, 0xff, size * sizeof *t->merges);
    Buf joined = {0};
    int rank = 0;
    for (const cJSON *m = merges->child; m;) {
        int n = 0;
        joined.n = 0;
        for (; m && n < BATCH; m = m->next, n++) {
            if (merge_parts(m, batch[n].part, batch[n].len) != 0) {
                err_set("%s: merges[%d] is neither \"a b\" nor [\"a\", \"b\"]", path, rank + n);
                free(joined.p);
                return -1;
            }
            batch[n].joined = joined.n;
            buf_put(&joined, batch[n].part[0], batch[n].len[0]);
            buf_put(&joined, batch[n].part[1], batch[n].len[1]);
        }
        for (int i = 0; i < n; i++) {
            batch[i].hash[0] = text_hash(batch[i].part[0], batch[i].len[0]);
            batch[i].hash[1] = text_hash(batch[i].part[1], batch[i].len[1]);
            batch[i].hash[2] = text_hash(joined.p + batch[i].joined, batch[i].len[0] + batch[i].len[1]);
            for (int k = 0; k < 3; k++) __builtin_prefetch(&t->piece_slots[batch[i].hash[k] & t->piece_mask]);
        }
        for (int i = 0; i < n; i++) {
            const char *text[3] = {batch[i].part[0], batch[i].part[1], joined.p + batch[i].joined};
            size_t len[3] = {batch[i].len[0], batch[i].len[1], batch[i].len[0] + batch[i].len[1]};
            for (int k = 0; k < 3; k++) {
                const PieceSlot *slot = piece_slot_hashed(t, text[k], len[k], batch[i].hash[k]);
                batch[i].id[k] = slot->model ? slot->id : -1;
                if (batch[i].id[k] < 0) {
                    err_set("%s: merges[%d] uses a token missing from the vocab", path, rank + i);
                    free(joined.p);
                    return -1;
                }
            }
            uint64_t key = (uint64_t)(uint32_t)batch[i].id[0] << 32 | (uint32_t)batch[i].id[1];
            __builtin_prefetch(&t->merges[merge_hash(key, t->merge_mask)]);
        }
        for (int i = 0; i < n; i++) merge_insert(t, batch[i].id[0], batch[i].id[1], rank + i, batch[i].id[2]);
        rank += n;
    }
    free(joined.p);
    return 0;
}

static void trie_insert(Tokenizer *t, int *n_nodes, const char *s, size_t n, int id) {
    int32_t *link = &t->trie_root[(uint8_t)s[0]];
    int32_t node = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        while (*link >= 0 && t->trie[*link].byte != b) link = &t->trie[*link].next_sibling;
        if (*link < 0) {
            t->trie[*n_nodes] = (TrieNode){-1, -1, -1, b};
            *link = (*n_nodes)++;
        }
        node = *link;
        link = &t->trie[node].first_child;
    }
    if (t->trie[node].id < 0) t->trie[node].id = id;
}

/* A JSON integer in [0, MAX_IDS), or -1. */
static int json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    return d >= 0 && d < MAX_IDS && d == (double)(int)d ? (int)d : -1;
}

static const char *json_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* {"String": s} pattern of Replace/Split, or NULL */
static const char *string_pattern(const cJSON *obj) {
    return json_str(cJSON_GetObjectItemCaseSensitive(obj, "pattern"), "String");
}

#define TOK_MAX_NORM_EXPANSION 8

static int parse_normalizer(Tokenizer *t, const char *path, const cJSON *n) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = json_str(n, "type"), *from = string_pattern(n), *to = json_str(n, "content");
    if (!type || strcmp(type, "Replace") != 0 || !from || !*from || !to) {
        err_set("%s: unsupported normalizer (only null or Replace with a String pattern)", path);
        return -1;
    }
    /* the encoder's normalized copy grows by to/from per match: bound it, so a crafted file cannot
     * turn a 1 MB prompt into gigabytes (Gemma's " " -> "\u2581" is 3x) */
    if (strlen(to) > TOK_MAX_NORM_EXPANSION * strlen(from)) {
        err_set("%s: normalizer Replace expands %zu bytes to %zu (at most %dx is accepted)", path, strlen(from),
                strlen(to), TOK_MAX_NORM_EXPANSION);
        return -1;
    }
    t->norm_from = xstrdup(from);
    t->norm_to = xstrdup(to);
    t->norm_from_len = strlen(from);
    t->norm_to_len = strlen(to);
    return 0;
}

static int parse_pre_tokenizer(Tokenizer *t, const char *path, const cJSON *p) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = json_str(p, "type"), *pat = string_pattern(p), *behavior = json_str(p, "behavior");
    if (!type || strcmp(type, "Split") != 0 || !pat || !*pat || !behavior ||
        strcmp(behavior, "MergedWithPrevious") != 0 || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "invert"))) {
        err_set("%s: unsupported pre_tokenizer (only null or Split on a String, MergedWithPrevious)", path);
        return -1;
    }
    t->split = xstrdup(pat);
    t->split_len = strlen(pat);
    return 0;
}

/* Accepts Replace, ByteFallback and Fuse steps, alone or in a Sequence; keeps the Replace. */
static int parse_decoder(Tokenizer *t, const char *path, const cJSON *d) {
    if (!d || cJSON_IsNull(d)) return 0;
    const char *type = json_str(d, "type");
    const cJSON *steps = d, *one = d;
    if (type && strcmp(type, "Sequence") == 0) {
        steps = cJSON_GetObjectItemCaseSensitive(d, "decoders");
        one = NULL;
        if (!cJSON_IsArray(steps)) {
            err_set("%s: decoder Sequence without a decoders list", path);
            return -1;
        }
    }
    for (const cJSON *s = one ? one : steps->child; s; s = one ? NULL : s->next) {
        const char *st = json_str(s, "type");
        if (st && (strcmp(st, "ByteFallback") == 0 || strcmp(st, "Fuse") == 0)) continue;
        const char *from = string_pattern(s), *to = json_str(s, "content");
        if (!st || strcmp(st, "Replace") != 0 || !from || !*from || !to || t->dec_from) {
            err_set("%s: unsupported decoder '%s' (only Replace, ByteFallback, Fuse)", path, st ? st : "?");
            return -1;
        }
        t->dec_from = xstrdup(from);
        t->dec_to = xstrdup(to);
        t->dec_from_len = strlen(from);
        t->dec_to_len = strlen(to);
    }
    return 0;
}

/* BOS: the special token TemplateProcessing puts before the text, else the token "<bos>". */
static void find_bos(Tokenizer *t, const cJSON *post) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(post, "single");
    const cJSON *first = cJSON_IsArray(single) ? single->child : NULL;
    const char *name = json_str(cJSON_GetObjectItemCaseSensitive(first, "SpecialToken"), "id");
    if (name) {
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(post, "special_tokens");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(special, name), "ids");
        int id = cJSON_IsArray(ids) ? json_id(ids->child) : -1;
        if (id >= 0 && id < t->n_ids && t->piece[id].off != UINT32_MAX) {
            t->bos_id = id;
            return;
        }
    }
    t->bos_id = piece_lookup(t, "<bos>", 5);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Next character boundary after i: a valid UTF-8 character, or a lone byte. */
static size_t next_char(const uint8_t *s, size_t n, size_t i) {
    size_t k = utf8_char_len(s + i, n - i);
    return i + (k ? k : 1);
}

/* A set of characters, each as its UTF-8 bytes packed into a uint32 (open addressing). */
enum { CHARSET_SLOTS = 4096 };
typedef struct {
    uint32_t slot[CHARSET_SLOTS];  /* UINT32_MAX: free */
    int n;
} CharSet;

static uint32_t char_key(const uint8_t *c, size_t k) {  /* k <= 4 */
    uint32_t key = 0;
    for (size_t j = 0; j < k; j++) key = key << 8 | c[j];
    return key;
}

/* The slot holding key, or the free slot where it would go. */
static uint32_t *charset_slot(CharSet *cs, uint32_t key) {
    uint32_t h = (key * 2654435761u) % CHARSET_SLOTS;
    while (cs->slot[h] != UINT32_MAX && cs->slot[h] != key) h = (h + 1) % CHARSET_SLOTS;
    return &cs->slot[h];
}

/* Marks which tokens a BPE word may be cut after (see TF_CUT_AFTER): those whose last
 * character, call it c, is not the space symbol and never appears as "c▁" in a model token. */
static void mark_cut_points(Tokenizer *t) {
    if (t->space_id < 0) return;
    const uint8_t *sp = (const uint8_t *)t->pieces + t->piece[t->space_id].off;
    size_t sp_len = t->piece[t->space_id].len;
    CharSet *before_space = xmalloc(sizeof *before_space);  /* the characters c */
    memset(before_space->slot, 0xff, sizeof before_space->slot);
    before_space->n = 0;
    for (int id = 0; id < t->n_ids; id++) {
        if (!(t->flags[id] & TF_MODEL)) continue;
        const uint8_t *s = (const uint8_t *)t->pieces + t->piece[id].off;
        size_t n = t->piece[id].len;
        for (size_t prev = 0, i = next_char(s, n, 0); i < n; prev = i, i = next_char(s, n, i)) {
            int space_after = n - i >= sp_len && memcmp(s + i, sp, sp_len) == 0;
            int space_before = i - prev == sp_len && memcmp(s + prev, sp, sp_len) == 0;
            if (!space_after || space_before) continue;
            uint32_t key = char_key(s + prev, i - prev), *slot = charset_slot(before_space, key);
            if (*slot == key) continue;
            if (++before_space->n > CHARSET_SLOTS / 2) {  /* too many to track: cut nowhere (still exact) */
                free(before_space);
                return;
            }
            *slot = key;
        }
    }
    for (int id = 0; id < t->n_ids; id++) {
        if (t->piece[id].off == UINT32_MAX || t->piece[id].len == 0) continue;
        const uint8_t *s = (const uint8_t *)t->pieces + t->piece[id].off;
        size_t n = t->piece[id].len, last = 0;
        for (size_t i = next_char(s, n, 0); i < n; i = next_char(s, n, i)) last = i;
        int is_space = n - last == sp_len && memcmp(s + last, sp, sp_len) == 0;
        uint32_t key = char_key(s + last, n - last);
        if (!is_space && *charset_slot(before_space, key) != key) t->flags[id] |= TF_CUT_AFTER;
    }
    free(before_space);
}

static int parse_model(Tokenizer *t, const char *path, const cJSON *root) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        err_set("%s: no \"model\" object", path);
        return -1;
    }
    const char *type = json_str(model, "type");
    if (!type || strcmp(type, "BPE") != 0) {
        err_set("%s: unsupported model type '%s' (only BPE)", path, type ? type : "(none)");
        return -1;
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !vocab->child) {
        err_set("%s: model.vocab is missing or empty", path);
        return -1;
    }
    if (!cJSON_IsArray(merges)) {
        err_set("%s: model.merges is missing", path);
        return -1;
    }
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added)) {
        err_set("%s: added_tokens is not a list", path);
        return -1;
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    const char *prefix = json_str(model, "continuing_subword_prefix"), *suffix = json_str(model, "end_of_word_suffix");
    if ((dropout && !cJSON_IsNull(dropout)) || (prefix && *prefix) || (suffix && *suffix)) {
        err_set("%s: unsupported BPE options (dropout, continuing_subword_prefix or end_of_word_suffix)", path);
        return -1;
    }

    /* sizes first, so the tables are allocated once */
    size_t text_bytes = 0, n_vocab = 0, n_added = 0;
    int max_id = -1;
    for (const cJSON *v = vocab->child; v; v = v->next, n_vocab++) {
        int id = json_id(v);
        if (id < 0) {
            err_set("%s: vocab entry '%s' has no valid id", path, v->string);
            return -1;
        }
        if (id > max_id) max_id = id;
        text_bytes += strlen(v->string) + 1;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, n_added++) {
        int id = json_id(cJSON_GetObjectItemCaseSensitive(a, "id"));
        const char *content = json_str(a, "content");
        if (id < 0 || !content || !*content) {
            err_set("%s: added_tokens[%zu] needs an id and a non-empty content", path, n_added);
            return -1;
        }
        if (id > max_id) max_id = id;
        text_bytes += strlen(content) + 1;
    }
    t->n_ids = max_id + 1;
    t->pieces = xmalloc(text_bytes);
    t->piece = xmalloc((size_t)t->n_ids * sizeof *t->piece);
    t->flags = xcalloc((size_t)t->n_ids, 1);
    memset(t->piece, 0xff, (size_t)t->n_ids * sizeof *t->piece);

    size_t off = 0;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        int id = json_id(v);
        if (t->piece[id].off != UINT32_MAX) {
            err_set("%s: vocab id %d is given twice", path, id);
            return -1;
        }
        size_t n = strlen(v->string);
        memcpy(t->pieces + off, v->string, n + 1);
        t->piece[id].off = (uint32_t)off;
        t->piece[id].len = (uint32_t)n;
        t->flags[id] = TF_MODEL;
        off += n + 1;
    }
    /* an added token's text is what decoding shows for its id */
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        int id = json_id(cJSON_GetObjectItemCaseSensitive(a, "id"));
        const char *content = json_str(a, "content");
        size_t n = strlen(content);
        /* the same token listed again is fine; another text under its id would hide that token */
        if (t->piece[id].off != UINT32_MAX && strcmp(t->pieces + t->piece[id].off, content) != 0) {
            err_set("%s: added token '%s' id %d is already the id of %s token '%s'", path, content, id,
                    t->flags[id] & TF_MODEL ? "vocab" : "added", t->pieces + t->piece[id].off);
            return -1;
        }
        memcpy(t->pieces + off, content, n + 1);
        t->piece[id].off = (uint32_t)off;
        t->piece[id].len = (uint32_t)n;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special"))) t->flags[id] |= TF_SPECIAL;
        off += n + 1;
    }

    uint32_t size = table_size(n_vocab + n_added);
    t->piece_mask = size - 1;
    t->piece_slots = xcalloc(size, sizeof *t->piece_slots);
    for (uint32_t i = 0; i < size; i++) t->piece_slots[i].id = -1;
    for (int model = 1; model >= 0; model--)  /* model tokens first: BPE must find those */
        for (int id = 0; id < t->n_ids; id++)
            if (t->piece[id].off != UINT32_MAX && ((t->flags[id] & TF_MODEL) != 0) == model) piece_insert(t, id);

    /* the trie, sized for the worst case of one node per byte */
    size_t trie_bytes = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) trie_bytes += strlen(json_str(a, "content"));
    t->trie = xmalloc((trie_bytes + 1) * sizeof *t->trie);
    int n_nodes = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        const char *content = json_str(a, "content");
        trie_insert(t, &n_nodes, content, strlen(content), json_id(cJSON_GetObjectItemCaseSensitive(a, "id")));
    }

    if (load_merges(t, path, merges) != 0) return -1;

    const char *unk = json_str(model, "unk_token");
    t->unk_id = unk ? tok_model_id(t, unk, strlen(unk)) : -1;
    t->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "fuse_unk"));
    t->byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    return 0;
}

static void build_lookups(Tokenizer *t) {
    t->byte_value = xmalloc((size_t)t->n_ids * sizeof *t->byte_value);
    for (int id = 0; id < t->n_ids; id++) {
        const char *s = t->pieces + t->piece[id].off;
        int hi, lo;
        t->byte_value[id] = -1;
        if (t->piece[id].off != UINT32_MAX && t->piece[id].len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' &&
            (hi = hexval(s[3])) >= 0 && (lo = hexval(s[4])) >= 0)
            t->byte_value[id] = (int16_t)(hi * 16 + lo);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = tok_model_id(t, name, 6);
    }
    t->bmp_id = xmalloc(0x10000 * sizeof *t->bmp_id);
    for (int cp = 0; cp < 0x10000; cp++) t->bmp_id[cp] = -1;
    for (int id = 0; id < t->n_ids; id++) {
        if (!(t->flags[id] & TF_MODEL)) continue;
        const uint8_t *s = (const uint8_t *)t->pieces + t->piece[id].off;
        size_t n = t->piece[id].len;
        if (n == 0 || n > 3 || utf8_char_len(s, n) != n) continue;
        uint32_t cp = n == 1 ? s[0] : n == 2 ? (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)
                                             : (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
        if (t->bmp_id[cp] < 0) t->bmp_id[cp] = id;
    }
    const char *space = t->norm_from && strcmp(t->norm_from, " ") == 0 ? t->norm_to : " ";
    t->space_id = tok_model_id(t, space, strlen(space));
    mark_cut_points(t);
}

int tok_load_beside(const char *model_dir, Tokenizer **out) {
    char *path = path_join(model_dir, "tokenizer.json");
    int present = file_exists(path);
    *out = present ? tok_load(path) : NULL;
    free(path);
    return present && !*out ? -1 : 0;
}

Tokenizer *tok_load(const char *path) {
    MappedFile mf;
    if (map_file(&mf, path) != 0) return NULL;
    if (mf.size > TOKENIZER_MAX_BYTES) {
        err_set("%s: %zu bytes is more than a tokenizer.json may have (%u MiB)", path, mf.size, TOKENIZER_MAX_BYTES >> 20);
        unmap_file(&mf);
        return NULL;
    }
    const char *why;
    size_t at;
    cJSON *root = mf.size ? json_parse_text((const char *)mf.data, mf.size, &why, &at) : NULL;
    if (!root) {
        if (!mf.size)
            err_set("%s: invalid JSON: an empty file", path);
        else
            err_set("%s: invalid JSON: %s at byte %zu", path, why, at);
        unmap_file(&mf);
        return NULL;
    }
    unmap_file(&mf);
    Tokenizer *t = xcalloc(1, sizeof *t);
    memset(t->trie_root, 0xff, sizeof t->trie_root);
    int rc = -1;
    if (!cJSON_IsObject(root))
        err_set("%s: not a JSON object", path);
    else if (parse_normalizer(t, path, cJSON_GetObjectItemCaseSensitive(root, "normalizer")) == 0 &&
             parse_pre_tokenizer(t, path, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")) == 0 &&
             parse_decoder(t, path, cJSON_GetObjectItemCaseSensitive(root, "decoder")) == 0 &&
             parse_model(t, path, root) == 0) {
        build_lookups(t);
        find_bos(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
        rc = 0;
    }
    cJSON_Delete(root);
    if (rc != 0) {
        tok_free(t);
        return NULL;
    }
    return t;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->pieces);
    free(t->piece);
    free(t->byte_value);
    free(t->flags);
    free(t->piece_slots);
    free(t->merges);
    free(t->bmp_id);
    free(t->norm_from);
    free(t->norm_to);
    free(t->split);
    free(t->dec_from);
    free(t->dec_to);
    free(t->trie);
    free(t);
}

int tok_vocab_size(const Tokenizer *t) { return t->n_ids; }

int tok_token_id(const Tokenizer *t, const char *piece) { return piece_lookup(t, piece, strlen(piece)); }

const char *tok_piece(const Tokenizer *t, int id) {
    return id >= 0 && id < t->n_ids && t->piece[id].off != UINT32_MAX ? t->pieces + t->piece[id].off : NULL;
}

int tok_bos_id(const Tokenizer *t) { return t->bos_id; }

int tok_eos_ids(const Tokenizer *t, int *out, int max) {
    static const char *const names[] = {"<eos>", "<end_of_turn>"};
    int n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int id = tok_token_id(t, names[i]);
        if (id < 0) continue;
        if (n < max) out[n] = id;
        n++;
    }
    return n;
}

int tok_is_special(const Tokenizer *t, int id) { return id >= 0 && id < t->n_ids && (t->flags[id] & TF_SPECIAL); }
