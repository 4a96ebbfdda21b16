/* The rules every JSON file read from outside passes before its values are looked at
 * (config.json, generation_config.json, tokenizer.json, a safetensors header and index):
 * RFC 8259 text, i.e. valid UTF-8 (RFC 3629) with no NUL byte, one value and nothing after it
 * but whitespace, nested at most CJSON_NESTING_LIMIT (1000) levels (cJSON's parser stops there
 * without recursing further). */
#ifndef ANEMLL_JSON_TEXT_H
#define ANEMLL_JSON_TEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Offset of the first byte of s[0..n) that is a NUL or not part of a valid UTF-8 character, or n. */
static inline size_t json_text_bad_byte(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) { /* eight ASCII bytes, none NUL, at once */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull) && !((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char b = s[i], lo = 0x80, hi = 0xBF;
        size_t k;
        if (b == 0) return i;
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b < 0xE0) k = 2;
        else if (b >= 0xE0 && b < 0xF0) k = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        else if (b >= 0xF0 && b < 0xF5) k = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        else return i;
        if (n - i < k) return i;
        for (size_t j = 1; j < k; j++) {
            if (s[i + j] < lo || s[i + j] > hi) return i;
            lo = 0x80;
            hi = 0xBF;
        }
        i += k;
    }
    return n;
}

/* Parses text[0..n) under the rules above. NULL on failure, with *why ("not valid UTF-8",
 * "a NUL byte", "a syntax error or nesting deeper than 1000 levels", "text after the value")
 * and the byte offset in *at. */
static inline cJSON *json_parse_text(const char *text, size_t n, const char **why, size_t *at) {
    size_t bad = json_text_bad_byte(text, n);
    if (bad < n) {
        *why = text[bad] ? "not valid UTF-8" : "a NUL byte";
        *at = bad;
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        *why = "a syntax error or nesting deeper than 1000 levels";
        *at = e && e >= text && e <= text + n ? (size_t)(e - text) : 0;
        return NULL;
    }
    for (size_t i = end && end >= text && end <= text + n ? (size_t)(end - text) : n; i < n; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
            cJSON_Delete(root);
            *why = "text after the value";
            *at = i;
            return NULL;
        }
    return root;
}

#endif
