/* OpenAI request bodies -> ServeRequest. Fields that would change the result and are not
 * supported (n > 1, logprobs, tools, ...) are refused by name rather than silently ignored. */
#include "cli/serve_request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/util.h"

static int fail(ServeError *e, const char *code, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    snprintf(e->param, sizeof e->param, "%s", param);
    e->code = code;
    return -1;
}

int utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!n || i + n > len) return 0;
        unsigned cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += n;
    }
    return 1;
}

/* A JSON number that is an integer in [lo, hi]. */
static int get_int(const JsonValue *v, const char *name, double lo, double hi, double *out, ServeError *e) {
    if (v->type != JSON_NUMBER || v->number != floor(v->number) || v->number < lo || v->number > hi)
        return fail(e, "invalid_value", name, "'%s' must be an integer in %.0f..%.0f", name, lo, hi);
    *out = v->number;
    return 0;
}

static int get_number(const JsonValue *v, const char *name, double lo, double hi, double *out, ServeError *e) {
    if (v->type != JSON_NUMBER || !(v->number >= lo && v->number <= hi))
        return fail(e, "invalid_value", name, "'%s' must be a number in %g..%g", name, lo, hi);
    *out = v->number;
    return 0;
}

static int get_bool(const JsonValue *v, const char *name, int *out, ServeError *e) {
    if (v->type != JSON_BOOL) return fail(e, "invalid_value", name, "'%s' must be true or false", name);
    *out = v->boolean;
    return 0;
}

/* A string without NUL bytes (the engine takes C strings). */
static int get_text(const JsonValue *v, const char *name, char **out, ServeError *e) {
    if (v->type != JSON_STRING) return fail(e, "invalid_value", name, "'%s' must be a string", name);
    if (memchr(v->str, 0, v->len)) return fail(e, "invalid_value", name, "'%s' must not contain NUL characters", name);
    *out = xstrdup(v->str);
    return 0;
}

/* Fields that change what is generated and that this server does not do: refused by name. */
static int refuse_unsupported(const JsonValue *root, ServeError *e) {
    const JsonValue *v;
    if ((v = json_get(root, "n")) && !(v->type == JSON_NUMBER && v->number == 1) && v->type != JSON_NULL)
        return fail(e, "unsupported_parameter", "n", "'n' other than 1 is not supported (one choice per request)");
    if ((v = json_get(root, "best_of")) && !(v->type == JSON_NUMBER && v->number == 1) && v->type != JSON_NULL)
        return fail(e, "unsupported_parameter", "best_of", "'best_of' other than 1 is not supported");
    static const char *const truthy[] = {"logprobs", "top_logprobs", "echo", "suffix", "tools", "functions",
                                         "tool_choice", "function_call", "logit_bias", "response_format",
                                         "presence_penalty", "frequency_penalty"};
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) {
        v = json_get(root, truthy[i]);
        if (!v || v->type == JSON_NULL || (v->type == JSON_BOOL && !v->boolean)) continue;
        if (v->type == JSON_NUMBER && v->number == 0) continue;                         /* penalties 0 */
        if ((v->type == JSON_ARRAY || v->type == JSON_OBJECT) && v->n == 0) continue; /* tools [] */
        if (!strcmp(truthy[i], "tool_choice") && v->type == JSON_STRING && !strcmp(v->str, "none")) continue;
        if (!strcmp(truthy[i], "response_format") && v->type == JSON_OBJECT) {
            const JsonValue *t = json_get(v, "type");
            if (t && t->type == JSON_STRING && !strcmp(t->str, "text")) continue;
        }
        return fail(e, "unsupported_parameter", truthy[i], "'%s' is not supported by this server", truthy[i]);
    }
    return 0;
}

static int parse_messages(const JsonValue *msgs, ServeRequest *r, ServeError *e) {
    if (!msgs) return fail(e, "missing_parameter", "messages", "'messages' is required");
    if (msgs->type != JSON_ARRAY || msgs->n == 0)
        return fail(e, "invalid_value", "messages", "'messages' must be a non-empty array");
    r->messages = xcalloc((size_t)msgs->n, sizeof *r->messages);
    for (int i = 0; i < msgs->n; i++) {
        const JsonValue *m = &msgs->items[i];
        ServeMessage *out = &r->messages[r->n_messages++];
        const JsonValue *role = json_get(m, "role"), *content = json_get(m, "content");
        if (m->type != JSON_OBJECT || !role || role->type != JSON_STRING)
            return fail(e, "invalid_value", "messages", "messages[%d] must be an object with a string 'role'", i);
        const char *rn = !strcmp(role->str, "developer") ? "system" : role->str;
        if (strcmp(rn, "system") && strcmp(rn, "user") && strcmp(rn, "assistant"))
            return fail(e, "invalid_value", "messages", "messages[%d].role '%.40s': expected system, user or assistant",
                        i, role->str);
        out->role = xstrdup(rn);
        Buf text = {0};
        buf_puts(&text, "");
        if (!content || content->type == JSON_NULL) {
            /* an assistant turn may have no content */
        } else if (content->type == JSON_STRING) {
            buf_put(&text, content->str, content->len);
        } else if (content->type == JSON_ARRAY) {
            for (int k = 0; k < content->n; k++) {
                const JsonValue *part = &content->items[k], *type = json_get(part, "type"), *t = json_get(part, "text");
                if (!type || type->type != JSON_STRING || strcmp(type->str, "text") || !t || t->type != JSON_STRING) {
                    free(text.p);
                    return fail(e, "unsupported_parameter", "messages",
                                "messages[%d].content[%d]: only {\"type\": \"text\", \"text\": ...} parts are supported",
                                i, k);
                }
                buf_put(&text, t->str, t->len);
            }
        } else {
            free(text.p);
            return fail(e, "invalid_value", "messages", "messages[%d].content must be a string or an array of parts", i);
        }
        out->text = text.p;
        if (memchr(text.p, 0, text.n))
            return fail(e, "invalid_value", "messages", "messages[%d].content must not contain NUL characters", i);
    }
    return 0;
}

static int parse_stop(const JsonValue *v, ServeRequest *r, ServeError *e) {
    if (!v || v->type == JSON_NULL) return 0;
    int n = v->type == JSON_ARRAY ? v->n : 1;
    if (v->type != JSON_ARRAY && v->type != JSON_STRING)
        return fail(e, "invalid_value", "stop", "'stop' must be a string or an array of strings");
    if (n > SERVE_MAX_STOPS) return fail(e, "invalid_value", "stop", "'stop' takes at most %d strings", SERVE_MAX_STOPS);
    for (int i = 0; i < n; i++) {
        const JsonValue *s = v->type == JSON_ARRAY ? &v->items[i] : v;
        if (s->type != JSON_STRING || s->len == 0 || memchr(s->str, 0, s->len))
            return fail(e, "invalid_value", "stop", "each stop sequence must be a non-empty string");
        r->stop[r->n_stop++] = xstrdup(s->str);
    }
    return 0;
}

static int parse_sampling(const JsonValue *root, ServeRequest *r, ServeError *e) {
    const JsonValue *v;
    double d = 0;
    const char *mt = json_get(root, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if ((v = json_get(root, mt)) && v->type != JSON_NULL) {
        if (get_int(v, mt, 1, 1 << 24, &d, e)) return -1;
        r->max_tokens = (int)d;
    }
    if ((v = json_get(root, "temperature")) && v->type != JSON_NULL &&
        get_number(v, "temperature", 0, 2, &r->temperature, e))
        return -1;
    if ((v = json_get(root, "top_p")) && v->type != JSON_NULL && get_number(v, "top_p", 0, 1, &r->top_p, e))
        return -1;
    if ((v = json_get(root, "seed")) && v->type != JSON_NULL) {
        if (get_int(v, "seed", -9007199254740991.0, 9007199254740991.0, &d, e)) return -1;
        r->has_seed = 1;
        r->seed = (unsigned long long)(long long)d;
    }
    if ((v = json_get(root, "stream")) && v->type != JSON_NULL && get_bool(v, "stream", &r->stream, e)) return -1;
    if ((v = json_get(root, "stream_options")) && v->type != JSON_NULL) {
        const JsonValue *u = json_get(v, "include_usage");
        if (v->type != JSON_OBJECT) return fail(e, "invalid_value", "stream_options", "'stream_options' must be an object");
        if (u && get_bool(u, "stream_options.include_usage", &r->include_usage, e)) return -1;
    }
    if ((v = json_get(root, "ignore_eos")) && v->type != JSON_NULL && get_bool(v, "ignore_eos", &r->ignore_eos, e))
        return -1;
    if (parse_stop(json_get(root, "stop"), r, e)) return -1;
    return refuse_unsupported(root, e);
}

static int parse_tokens(const JsonValue *v, ServeRequest *r, ServeError *e) {
    if (!v) return fail(e, "missing_parameter", "tokens", "'tokens' is required");
    if (v->type != JSON_ARRAY) return fail(e, "invalid_value", "tokens", "'tokens' must be an array of token ids");
    r->tokens = xmalloc(sizeof(int) * (size_t)(v->n ? v->n : 1));
    for (int i = 0; i < v->n; i++) {
        double d = 0;
        if (get_int(&v->items[i], "tokens", 0, 2147483647.0, &d, e)) return -1;
        r->tokens[r->n_tokens++] = (int)d;
    }
    return 0;
}

static int parse_root(const JsonValue *root, ServeKind kind, ServeRequest *r, ServeError *e) {
    const JsonValue *v;
    if (root->type != JSON_OBJECT) return fail(e, "invalid_value", "", "the request body must be a JSON object");
    if ((v = json_get(root, "model")) && v->type != JSON_STRING && v->type != JSON_NULL)
        return fail(e, "invalid_value", "model", "'model' must be a string");
    switch (kind) {
    case SERVE_CHAT:
        if (parse_messages(json_get(root, "messages"), r, e)) return -1;
        return parse_sampling(root, r, e);
    case SERVE_COMPLETION:
        v = json_get(root, "prompt");
        if (v && v->type == JSON_ARRAY && v->n == 1) v = &v->items[0];
        if (!v) return fail(e, "missing_parameter", "prompt", "'prompt' is required");
        if (v->type != JSON_STRING)
            return fail(e, "invalid_value", "prompt", "'prompt' must be a string (or an array of one string)");
        if (get_text(v, "prompt", &r->prompt, e)) return -1;
        r->prompt_len = v->len;
        return parse_sampling(root, r, e);
    case SERVE_TOKENIZE:
        v = json_get(root, "content");
        if (!v) return fail(e, "missing_parameter", "content", "'content' is required");
        if (get_text(v, "content", &r->prompt, e)) return -1;
        r->prompt_len = v->len;
        if ((v = json_get(root, "add_special")) && get_bool(v, "add_special", &r->add_special, e)) return -1;
        return 0;
    case SERVE_DETOKENIZE:
        return parse_tokens(json_get(root, "tokens"), r, e);
    }
    return 0;
}

int serve_request_parse(const char *body, size_t len, ServeKind kind, ServeRequest *r, ServeError *e) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->temperature = 1.0;
    r->top_p = 1.0;
    e->message[0] = e->param[0] = 0;
    e->code = NULL;
    if (!utf8_valid(body, len)) return fail(e, "invalid_json", "", "the request body is not valid UTF-8");
    JsonValue *root = json_parse(body, len);
    if (!root) return fail(e, "invalid_json", "", "the request body is not valid JSON: %s", err_get());
    int rc = parse_root(root, kind, r, e);
    json_free(root);
    if (rc) serve_request_free(r);
    return rc;
}

void serve_request_free(ServeRequest *r) {
    for (int i = 0; i < r->n_messages; i++) {
        free(r->messages[i].role);
        free(r->messages[i].text);
    }
    free(r->messages);
    free(r->prompt);
    free(r->tokens);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

void json_put_string(Buf *b, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    buf_put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n > 1 && i + n <= len && utf8_valid(str + i, n)) {
            buf_put(b, str + i, n);
            i += n;
            continue;
        }
        i++;
        if (n != 1) {
            buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_put(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_puts(b, esc);
        } else {
            buf_put(b, str + i - 1, 1);
        }
    }
    buf_put(b, "\"", 1);
}

void json_put_error(Buf *b, const char *message, const char *type, const char *param, const char *code) {
    buf_puts(b, "{\"error\": {\"message\": ");
    json_put_string(b, message, strlen(message));
    buf_puts(b, ", \"type\": ");
    json_put_string(b, type, strlen(type));
    buf_puts(b, ", \"param\": ");
    if (param && *param) json_put_string(b, param, strlen(param));
    else buf_puts(b, "null");
    buf_puts(b, ", \"code\": ");
    json_put_string(b, code, strlen(code));
    buf_puts(b, "}}");
}
