/* Fuzz target: chat-template rendering of arbitrary messages, the way `template --jsonl` and a
 * server take them: the input is a JSON line ({"messages": [...], "add_generation_prompt": b} or
 * a bare message list) read with the project's JSON reader (util/json.h), turned into
 * messages, rendered and encoded. Every string read is written back with json_write_string
 * and must parse to the same bytes. An input starting with byte 0x01 instead takes the
 * `chat --prompt` path: system text and prompt (split at the first NUL) through
 * chat_encode_prompt, templated and raw. */
#include "fuzz_common.h"
#include "tokenizer/internal.h"

static Tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fz_tokenizer();
    return 0;
}

static void check_ids(const int *ids, int n) {
    for (int i = 0; i < n; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < tok_vocab_size(tok));
}

/* json_write_string then json_parse gives back the same bytes */
static void check_roundtrip(const char *s, size_t len) {
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    FZ_CHECK(f != NULL);
    json_write_string(f, s, len);
    fclose(f);
    JsonValue *v = json_parse(out, outlen);
    FZ_CHECK(v && v->type == JSON_STRING && v->len == len && memcmp(v->str, s, len) == 0);
    json_free(v);
    free(out);
}

static void walk_strings(const JsonValue *v, int depth) {
    if (v->type == JSON_STRING) check_roundtrip(v->str, v->len);
    for (int i = 0; i < v->n; i++) {
        if (v->keys) check_roundtrip(v->keys[i], strlen(v->keys[i]));
        walk_strings(&v->items[i], depth + 1);
    }
}

static void prompt_path(const uint8_t *data, size_t size) {
    char *s = fz_cstr(data, size);
    size_t first = strlen(s);
    const char *system = first < size ? s : NULL, *prompt = first < size ? s + first + 1 : s;
    for (int raw = 0; raw < 2; raw++) {
        int *ids, n;
        if (chat_encode_prompt(tok, system, prompt, raw, &ids, &n) == 0) {
            check_ids(ids, n);
            free(ids);
        }
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 1 && data[0] == 1) {
        prompt_path(data + 1, size - 1);
        return 0;
    }
    JsonValue *v = json_parse((const char *)data, size);
    if (!v) return 0;
    walk_strings(v, 0);
    const JsonValue *arr = v->type == JSON_ARRAY ? v : json_get(v, "messages");
    const JsonValue *agp = json_get(v, "add_generation_prompt");
    int add = agp && agp->type == JSON_BOOL && agp->boolean;
    ChatMessage *msgs;
    int n;
    if (chat_messages_from_json(arr, &msgs, &n) == 0) {
        size_t len;
        char *text = chat_render(msgs, n, add, &len);
        if (text) {
            FZ_CHECK(len >= 5 && memcmp(text, "<bos>", 5) == 0 && strlen(text) <= len);
            int *ids, nid;
            FZ_CHECK(tok_encode(tok, text, len < 65536 ? len : 65536, 0, &ids, &nid) == 0);
            check_ids(ids, nid);
            free(ids);
            free(text);
        }
        chat_messages_free(msgs, n);
    }
    json_free(v);
    return 0;
}
