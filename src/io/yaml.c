#include "io/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/util.h"

#define YAML_MAX_DEPTH 32

static YamlNode *new_node(YamlKind k) {
    YamlNode *n = xcalloc(1, sizeof *n);
    n->kind = k;
    return n;
}

void ytree_free(YamlNode *n) {
    while (n) {
        YamlNode *next = n->next;
        ytree_free(n->child);
        free(n->key);
        free(n->value);
        free(n);
        n = next;
    }
}

typedef struct {
    yaml_parser_t p;
    const char *origin;
} Reader;

static int next_event(Reader *r, yaml_event_t *ev) {
    if (!yaml_parser_parse(&r->p, ev)) {
        err_set("%s: invalid YAML at line %lu: %s", r->origin, (unsigned long)r->p.problem_mark.line + 1,
                r->p.problem ? r->p.problem : "parse error");
        return -1;
    }
    return 0;
}

/* Build the node that starts with event ev (already read). */
static YamlNode *read_node(Reader *r, yaml_event_t *ev, int depth) {
    if (depth > YAML_MAX_DEPTH) {
        err_set("%s: YAML nested deeper than %d levels", r->origin, YAML_MAX_DEPTH);
        return NULL;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        YamlNode *n = new_node(YAML_NODE_SCALAR);
        n->value = xstrdup((const char *)ev->data.scalar.value);
        return n;
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        err_set("%s: YAML aliases are not supported", r->origin);
        return NULL;
    }
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    if (!is_map && ev->type != YAML_SEQUENCE_START_EVENT) {
        err_set("%s: unexpected YAML structure", r->origin);
        return NULL;
    }
    YamlNode *n = new_node(is_map ? YAML_NODE_MAP : YAML_NODE_SEQ), **tail = &n->child;
    for (;;) {
        yaml_event_t e;
        if (next_event(r, &e)) goto fail;
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            return n;
        }
        char *key = NULL;
        if (is_map) {
            if (e.type != YAML_SCALAR_EVENT) {
                err_set("%s: YAML mapping keys must be scalars", r->origin);
                yaml_event_delete(&e);
                goto fail;
            }
            key = xstrdup((const char *)e.data.scalar.value);
            yaml_event_delete(&e);
            if (next_event(r, &e)) {
                free(key);
                goto fail;
            }
        }
        YamlNode *c = read_node(r, &e, depth + 1);
        yaml_event_delete(&e);
        if (!c) {
            free(key);
            goto fail;
        }
        c->key = key;
        *tail = c;
        tail = &c->next;
    }
fail:
    ytree_free(n);
    return NULL;
}

YamlNode *ytree_parse(const char *text, unsigned long len, const char *origin) {
    Reader r = {.origin = origin};
    yaml_parser_initialize(&r.p);
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
    YamlNode *root = NULL;
    yaml_event_t ev;
    /* stream start, document start, root node */
    for (;;) {
        if (next_event(&r, &ev)) goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            err_set("%s: empty YAML document", origin);
            goto out;
        }
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        break;
    }
    root = read_node(&r, &ev, 0);
    yaml_event_delete(&ev);
out:
    yaml_parser_delete(&r.p);
    return root;
}

YamlNode *ytree_load(const char *path) {
    size_t len;
    char *text = read_text_file(path, 1u << 20, &len);
    if (!text) return NULL;
    YamlNode *n = ytree_parse(text, len, path);
    free(text);
    return n;
}

const YamlNode *ytree_get(const YamlNode *root, const char *path) {
    const YamlNode *n = root;
    while (n && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (n->kind != YAML_NODE_MAP) return NULL;
        const YamlNode *c = n->child;
        while (c && !(strlen(c->key) == len && strncmp(c->key, path, len) == 0)) c = c->next;
        n = c;
        path += len + (dot ? 1 : 0);
    }
    return n;
}

const char *ytree_str(const YamlNode *root, const char *path, const char *def) {
    const YamlNode *n = ytree_get(root, path);
    return n && n->kind == YAML_NODE_SCALAR ? n->value : def;
}

int ytree_int(const YamlNode *root, const char *path, long def, long *out) {
    *out = def;
    const char *s = ytree_str(root, path, NULL);
    if (!s) return 1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        err_set("meta.yaml: '%s' is '%s', expected an integer", path, s);
        return -1;
    }
    *out = v;
    return 0;
}

int ytree_double(const YamlNode *root, const char *path, double def, double *out) {
    *out = def;
    const char *s = ytree_str(root, path, NULL);
    if (!s) return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        err_set("meta.yaml: '%s' is '%s', expected a number", path, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 character at s (RFC 3629), 0 if s starts none; its code point in *cp. */
static size_t utf8_char(const unsigned char *s, uint32_t *cp) {
    unsigned char b = s[0], lo = 0x80, hi = 0xBF;
    size_t k;
    if (b < 0x80) k = 1, *cp = b;
    else if (b >= 0xC2 && b < 0xE0) k = 2, *cp = b & 0x1Fu;
    else if (b >= 0xE0 && b < 0xF0) k = 3, *cp = b & 0x0Fu, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b < 0xF5) k = 4, *cp = b & 0x07u, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    for (size_t i = 1; i < k; i++) { /* a NUL stops this too: it is below lo */
        if (s[i] < lo || s[i] > hi) return 0;
        *cp = *cp << 6 | (s[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    return k;
}

/* Everything a YAML reader would refuse or change inside double quotes is escaped: controls and
 * DEL, C1 controls, the line breaks U+0085/U+2028/U+2029 (which fold to a space), U+FEFF and the
 * non-characters U+FFFE/U+FFFF. A byte outside valid UTF-8 becomes \xNN, i.e. the code point of
 * that value (so a Latin-1 path reads back as its characters). Whole characters only: a long
 * string is cut at a character boundary. */
void ytree_quote(char *out, unsigned long n, const char *s) {
    size_t k = 0;
    if (n < 3) return;
    out[k++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char esc[16];
        uint32_t cp = 0;
        size_t adv = utf8_char(p, &cp), len;
        if (!adv) { /* not UTF-8: one byte */
            len = (size_t)snprintf(esc, sizeof esc, "\\x%02x", *p);
            adv = 1;
        } else if (cp == '"' || cp == '\\') {
            esc[0] = '\\';
            esc[1] = (char)cp;
            len = 2;
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            len = (size_t)snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
        } else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) {
            len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        } else {
            memcpy(esc, p, adv);
            len = adv;
        }
        if (k + len + 2 > n) break; /* the closing quote and the NUL must fit */
        memcpy(out + k, esc, len);
        k += len;
        p += adv;
    }
    out[k++] = '"';
    out[k] = 0;
}
