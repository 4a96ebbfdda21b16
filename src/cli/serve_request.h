/* `anemll serve`: the body of an OpenAI-style request (JSON) -> what the scheduler runs, and the
 * JSON the server writes back. Kept apart from the HTTP code so that fuzz/fuzz_serve_request.c can
 * drive the parser alone. */
#ifndef ANEMLL_SERVE_REQUEST_H
#define ANEMLL_SERVE_REQUEST_H

#include <stddef.h>

#include "util/buf.h"

#define SERVE_MAX_STOPS 4

typedef enum { SERVE_CHAT, SERVE_COMPLETION, SERVE_TOKENIZE, SERVE_DETOKENIZE } ServeKind;

typedef struct {
    char *role; /* system | user | assistant ("developer" is read as system) */
    char *text; /* the text parts joined */
} ServeMessage;

typedef struct {
    ServeKind kind;
    ServeMessage *messages; /* chat */
    int n_messages;
    char *prompt;           /* completion: the prompt; tokenize: the text */
    size_t prompt_len;
    int add_special;        /* tokenize: <bos> first */
    int *tokens, n_tokens;  /* detokenize */
    int max_tokens;         /* 0 = not given */
    double temperature, top_p;
    int has_seed;
    unsigned long long seed;
    char *stop[SERVE_MAX_STOPS];
    int n_stop;
    int stream, include_usage;
    int ignore_eos;         /* an extension (llama.cpp's): go on past EOS, for benchmarks and tests */
} ServeRequest;

/* A request that cannot be served: the message, the field at fault ("" if none) and the code. */
typedef struct {
    char message[256];
    char param[64];
    const char *code; /* "invalid_json", "invalid_value", "unsupported_parameter", "missing_parameter" */
} ServeError;

/* body[0..len) -> r. 0, or -1 with e filled (r then holds nothing to free). */
int serve_request_parse(const char *body, size_t len, ServeKind kind, ServeRequest *r, ServeError *e);
void serve_request_free(ServeRequest *r);

/* JSON writing into a Buf: s[0..len) as a string literal; bytes that are not UTF-8 become U+FFFD. */
void json_put_string(Buf *b, const char *s, size_t len);
/* {"error": {"message": ..., "type": ..., "param": ..., "code": ...}} */
void json_put_error(Buf *b, const char *message, const char *type, const char *param, const char *code);
/* Whether s[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int utf8_valid(const char *s, size_t len);

#endif
