/* JSON values: the project's reader and string writer (JSON-lines commands, tokenizer files'
 * added tokens, eval prompts and reports, tests). */
#ifndef ANEMLL_JSON_H
#define ANEMLL_JSON_H

#include <stddef.h>
#include <stdio.h>

/* cJSON cuts strings at "\u0000"; these keep
 * their length. A lone UTF-16 surrogate escape becomes U+FFFD; raw bytes that are not valid
 * UTF-8 are kept as they are (the encoder defines what they become). */
typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;
typedef struct JsonValue {
    JsonType type;
    int boolean;
    double number;
    char *str;  /* JSON_STRING: NUL-terminated, len bytes (may hold NUL bytes) */
    size_t len;
    struct JsonValue *items;  /* JSON_ARRAY items / JSON_OBJECT values */
    char **keys;            /* JSON_OBJECT keys */
    int n;
} JsonValue;
/* NULL and err_set ("... at byte N") when text is not exactly one JSON value. */
JsonValue *json_parse(const char *text, size_t len);
void json_free(JsonValue *v);
/* The value of key in an object; NULL when absent or v is not an object. */
const JsonValue *json_get(const JsonValue *v, const char *key);
/* Writes s as a JSON string literal (quotes included). */
void json_write_string(FILE *f, const char *s, size_t len);

#endif
