/* A small YAML document tree over libyaml, enough for meta.yaml: mappings, sequences and
 * scalars, looked up by dotted path ("model_info.parameters.context_length"). */
#ifndef ANEMLL_YAML_H
#define ANEMLL_YAML_H

typedef enum { YAML_NODE_SCALAR, YAML_NODE_MAP, YAML_NODE_SEQ } YamlKind;

typedef struct YamlNode {
    YamlKind kind;
    char *key;    /* in a mapping: this entry's key */
    char *value;  /* scalars */
    struct YamlNode *child, *next;
} YamlNode;

/* Parse a whole file (at most 1 MiB, nesting at most 32 levels). NULL + err_set on error. */
YamlNode *ytree_load(const char *path);
YamlNode *ytree_parse(const char *text, unsigned long len, const char *origin);
void ytree_free(YamlNode *n);
/* Node at a dotted path of mapping keys, or NULL. */
const YamlNode *ytree_get(const YamlNode *root, const char *path);
/* Scalar at path, or def when absent. */
const char *ytree_str(const YamlNode *root, const char *path, const char *def);
/* Integer scalar at path: 0 and *out set; 1 when absent (out = def); -1 + err_set when not an integer. */
int ytree_int(const YamlNode *root, const char *path, long def, long *out);
int ytree_double(const YamlNode *root, const char *path, double def, double *out);

/* Writing: a double-quoted YAML scalar for any string, at most n bytes with the NUL: it reads back
 * as the same string when that is valid UTF-8 and fits (see yaml.c for what is escaped). */
void ytree_quote(char *out, unsigned long n, const char *s);

#endif
