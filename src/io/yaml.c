#include "io/yaml.h"

#include <errno.h>
#include <math.h>
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

void ytree_quote(char *out, unsigned long n, const char *s) {
    size_t k = 0;
    if (n < 3) return;
    out[k++] = '"';
    for (; *s && k + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = 0;
}
