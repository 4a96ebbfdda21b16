/* A small JSON reader and string writer for the JSON-lines commands and tests: unlike cJSON
 * it keeps strings' lengths, so text holding "\u0000" round-trips. */
#include "util/json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

enum { MAX_DEPTH = 256 };

typedef struct {
    const char *s;
    size_t n, i;
    const char *error;
} Parser;

static void skip_ws(Parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int fail(Parser *p, const char *what) {
    if (!p->error) p->error = what;
    return -1;
}

static int literal(Parser *p, const char *word) {
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0) return fail(p, "unexpected character");
    p->i += k;
    return 0;
}

static int hex4(Parser *p, uint32_t *out) {
    if (p->n - p->i < 4) return fail(p, "bad \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return fail(p, "bad \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static void put_utf8(Buf *b, uint32_t cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_put(b, u, n);
}

/* p->i is just past the opening quote. */
static int parse_string(Parser *p, Buf *b) {
    buf_reserve(b, 0);
    b->p[b->n] = 0; /* "" too is NUL-terminated */
    for (;;) {
        if (p->i >= p->n) return fail(p, "unterminated string");
        uint8_t c = (uint8_t)p->s[p->i++];
        if (c == '"') return 0;
        if (c < 0x20) return fail(p, "control character in string");
        if (c != '\\') {
            size_t start = p->i - 1;  /* copy the plain stretch at once */
            while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' && (uint8_t)p->s[p->i] >= 0x20) p->i++;
            buf_put(b, p->s + start, p->i - start);
            continue;
        }
        if (p->i >= p->n) return fail(p, "unterminated string");
        char e = p->s[p->i++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            char out = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            buf_put(b, &out, 1);
            continue;
        }
        if (e != 'u') return fail(p, "bad escape");
        uint32_t cp;
        if (hex4(p, &cp) != 0) return -1;
        if (cp >= 0xD800 && cp < 0xDC00 && p->n - p->i >= 6 && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
            size_t save = p->i;
            uint32_t lo;
            p->i += 2;
            if (hex4(p, &lo) != 0) return -1;
            if (lo >= 0xDC00 && lo < 0xE000)
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else
                p->i = save;  /* not a pair: the second escape stands alone */
        }
        put_utf8(b, cp >= 0xD800 && cp < 0xE000 ? 0xFFFD : cp);  /* lone surrogate */
    }
}

static int parse_number(Parser *p, double *out) {
    size_t start = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    size_t digits = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    if (p->i == digits || (p->s[digits] == '0' && p->i - digits > 1)) return fail(p, "bad number");
    if (p->i < p->n && p->s[p->i] == '.') {
        size_t frac = ++p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i == frac) return fail(p, "bad number");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        size_t exp = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i == exp) return fail(p, "bad number");
    }
    char small[64];
    size_t k = p->i - start;
    char *copy = k < sizeof small ? small : xmalloc(k + 1);  /* strtod needs a terminator */
    memcpy(copy, p->s + start, k);
    copy[k] = 0;
    *out = strtod(copy, NULL);
    if (copy != small) free(copy);
    return 0;
}

static int parse_value(Parser *p, JsonValue *v, int depth);

/* Items of an array or members of an object, up to the closing bracket. */
static int parse_container(Parser *p, JsonValue *v, int depth) {
    int object = v->type == JSON_OBJECT;
    char close = object ? '}' : ']';
    int cap = 0;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 4;
            v->items = xrealloc(v->items, (size_t)cap * sizeof *v->items);
            if (object) v->keys = xrealloc(v->keys, (size_t)cap * sizeof *v->keys);
        }
        skip_ws(p);
        if (object) {
            Buf key = {0};
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a string key");
            p->i++;
            int rc = parse_string(p, &key);
            v->keys[v->n] = key.p;
            if (rc != 0) {
                free(key.p);
                return -1;
            }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key.p);
                return fail(p, "expected ':'");
            }
            p->i++;
        }
        memset(&v->items[v->n], 0, sizeof v->items[v->n]);
        v->n++;  /* counted before parsing so that a partial item is freed too */
        if (parse_value(p, &v->items[v->n - 1], depth + 1) != 0) return -1;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(Parser *p, JsonValue *v, int depth) {
    if (depth > MAX_DEPTH) return fail(p, "nested too deeply");
    skip_ws(p);
    if (p->i >= p->n) return fail(p, "unexpected end");
    char c = p->s[p->i];
    switch (c) {
    case '{':
    case '[':
        p->i++;
        v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        return parse_container(p, v, depth);
    case '"': {
        Buf b = {0};
        p->i++;
        v->type = JSON_STRING;
        int rc = parse_string(p, &b);
        v->str = b.p;
        v->len = b.n;
        return rc;
    }
    case 't':
        v->type = JSON_BOOL;
        v->boolean = 1;
        return literal(p, "true");
    case 'f':
        v->type = JSON_BOOL;
        return literal(p, "false");
    case 'n':
        v->type = JSON_NULL;
        return literal(p, "null");
    default:
        if (c != '-' && (c < '0' || c > '9')) return fail(p, "unexpected character");
        v->type = JSON_NUMBER;
        return parse_number(p, &v->number);
    }
}

static void free_value(JsonValue *v) {
    for (int i = 0; i < v->n; i++) {
        free_value(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

JsonValue *json_parse(const char *text, size_t len) {
    Parser p = {text, len, 0, NULL};
    JsonValue *v = xcalloc(1, sizeof *v);
    if (parse_value(&p, v, 0) == 0) {
        skip_ws(&p);
        if (p.i == p.n) return v;
        fail(&p, "text after the value");
    }
    err_set("invalid JSON: %s at byte %zu", p.error, p.i);
    json_free(v);
    return NULL;
}

void json_free(JsonValue *v) {
    if (!v) return;
    free_value(v);
    free(v);
}

const JsonValue *json_get(const JsonValue *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

void json_write_string(FILE *f, const char *s, size_t len) {
    putc('"', f);
    size_t plain = 0;  /* start of the stretch that needs no escaping */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        fwrite(s + plain, 1, i - plain, f);
        plain = i + 1;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default: fprintf(f, "\\u%04x", c);
        }
    }
    fwrite(s + plain, 1, len - plain, f);
    putc('"', f);
}
