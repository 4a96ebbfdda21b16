/* Fuzz target: the body of an `anemll serve` request (src/cli/serve_request.c). First byte: the
 * route (chat, completion, tokenize, detokenize); the rest: the JSON body. An accepted request
 * keeps its fields in range and its strings valid UTF-8 without NUL; a refused one names a code
 * and a message; everything the server would write back about it (strings, errors) is JSON that
 * reads back to the same bytes. */
#include "cli/serve_request.h"
#include "fuzz_common.h"
#include "util/json.h"

/* s written by json_put_string must parse back to s (s valid UTF-8 here). */
static void check_round_trip(const char *s, size_t len) {
    Buf b = {0};
    json_put_string(&b, s, len);
    JsonValue *v = json_parse(b.p, b.n);
    FZ_CHECK(v && v->type == JSON_STRING && v->len == len && memcmp(v->str, s, len) == 0);
    json_free(v);
    free(b.p);
}

static void check_text(const char *s) {
    FZ_CHECK(s && utf8_valid(s, strlen(s)));
    check_round_trip(s, strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ServeKind kind = (ServeKind)(data[0] % 4);
    ServeRequest r;
    ServeError e;
    if (serve_request_parse((const char *)data + 1, size - 1, kind, &r, &e) == 0) {
        FZ_CHECK(r.kind == kind);
        FZ_CHECK(r.max_tokens >= 0 && r.max_tokens <= 1 << 24);
        FZ_CHECK(r.temperature >= 0 && r.temperature <= 2 && r.top_p >= 0 && r.top_p <= 1);
        FZ_CHECK(r.n_stop >= 0 && r.n_stop <= SERVE_MAX_STOPS);
        for (int i = 0; i < r.n_stop; i++) {
            FZ_CHECK(r.stop[i][0]);
            check_text(r.stop[i]);
        }
        if (kind == SERVE_CHAT) FZ_CHECK(r.n_messages >= 1);
        for (int i = 0; i < r.n_messages; i++) {
            const char *role = r.messages[i].role;
            FZ_CHECK(!strcmp(role, "system") || !strcmp(role, "user") || !strcmp(role, "assistant"));
            check_text(r.messages[i].text);
        }
        if (kind == SERVE_COMPLETION || kind == SERVE_TOKENIZE) {
            FZ_CHECK(r.prompt && strlen(r.prompt) == r.prompt_len);
            check_text(r.prompt);
        }
        for (int i = 0; i < r.n_tokens; i++) FZ_CHECK(r.tokens[i] >= 0);
        serve_request_free(&r);
    } else {
        FZ_CHECK(e.code && e.message[0]);
        Buf b = {0};
        json_put_error(&b, e.message, "invalid_request_error", e.param, e.code);
        JsonValue *v = json_parse(b.p, b.n);
        const JsonValue *err = json_get(v, "error");
        FZ_CHECK(v && err && json_get(err, "message") && json_get(err, "code"));
        json_free(v);
        free(b.p);
    }
    /* any bytes, valid UTF-8 or not, are written as JSON that parses */
    Buf b = {0};
    json_put_string(&b, (const char *)data, size);
    JsonValue *v = json_parse(b.p, b.n);
    FZ_CHECK(v && v->type == JSON_STRING && utf8_valid(v->str, v->len));
    json_free(v);
    free(b.p);
    return 0;
}
