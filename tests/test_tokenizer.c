/* Tokenizer and chat template: the Gemma 3 goldens in tests/data/tokenizers/gemma3 (made with
 * HF's tokenizers and jinja), edge cases, the streaming decoder and malformed tokenizer files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tokenizer/tokenizer.h"
#include "util/util.h"

static Tokenizer *tok;
static char gemma_dir[512];

static char *gemma_path(const char *name) { return path_join(gemma_dir, name); }

/* Each line of a JSON-lines file, parsed; returns the count. */
static int read_jsonl(const char *name, JsonValue ***out) {
    char *path = gemma_path(name);
    size_t len;
    char *text = read_text_file(path, 1 << 24, &len);
    free(path);
    int n = 0;
    *out = NULL;
    if (!text) return 0;
    for (char *line = text; line < text + len;) {
        char *end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) end = text + len;
        if (end > line) {
            *out = xrealloc(*out, (size_t)(n + 1) * sizeof **out);
            (*out)[n] = json_parse(line, (size_t)(end - line));
            if ((*out)[n]) n++;
        }
        line = end + 1;
    }
    free(text);
    return n;
}

static void free_jsonl(JsonValue **v, int n) {
    for (int i = 0; i < n; i++) json_free(v[i]);
    free(v);
}

static int same_ids(const int *a, int na, const JsonValue *b) {
    if (!b || b->type != JSON_ARRAY || b->n != na) return 0;
    for (int i = 0; i < na; i++)
        if (b->items[i].type != JSON_NUMBER || b->items[i].number != a[i]) return 0;
    return 1;
}

static int *json_ids(const JsonValue *arr) {
    int *ids = xmalloc(((size_t)arr->n + 1) * sizeof *ids);
    for (int i = 0; i < arr->n; i++) ids[i] = (int)arr->items[i].number;
    return ids;
}

static int is_valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
        if (!k || i + k > n) return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        for (size_t j = 1; j < k; j++) {
            unsigned char d = (unsigned char)s[i + j];
            if (d < lo || d > hi) return 0;
            lo = 0x80;
            hi = 0xBF;
        }
        i += k;
    }
    return 1;
}

static void test_golden_encode(void) {
    JsonValue **cases;
    int n = read_jsonl("golden.jsonl", &cases), bad = 0;
    CHECKF(n == 292, "golden.jsonl: %d cases", n);
    for (int i = 0; i < n; i++) {
        const JsonValue *text = json_get(cases[i], "text");
        int *ids, k;
        tok_encode(tok, text->str, text->len, json_get(cases[i], "add_bos")->boolean, &ids, &k);
        if (!same_ids(ids, k, json_get(cases[i], "ids")) && bad++ < 5)
            fprintf(stderr, "  encode differs: %s\n", json_get(cases[i], "name")->str);
        free(ids);
    }
    CHECKF(bad == 0, "%d of %d golden encodings differ", bad, n);
    free_jsonl(cases, n);
}

static void test_golden_decode(void) {
    JsonValue **cases;
    int n = read_jsonl("golden.jsonl", &cases), bad = 0;
    CHECK(n == 292);
    for (int i = 0; i < n; i++) {
        const JsonValue *arr = json_get(cases[i], "ids");
        int *ids = json_ids(arr);
        for (int skip = 0; skip < 2; skip++) {
            const JsonValue *want = json_get(cases[i], skip ? "decoded_skip_special" : "decoded");
            size_t len;
            char *got = tok_decode(tok, ids, arr->n, skip, &len);
            if ((!got || len != want->len || memcmp(got, want->str, len) != 0) && bad++ < 5)
                fprintf(stderr, "  decode (skip_special=%d) differs: %s\n", skip, json_get(cases[i], "name")->str);
            free(got);
        }
        free(ids);
    }
    CHECKF(bad == 0, "%d golden decodings differ", bad);
    free_jsonl(cases, n);
}

static void test_chat_golden(void) {
    JsonValue **cases;
    int n = read_jsonl("chat_golden.jsonl", &cases), bad = 0;
    CHECKF(n == 12, "chat_golden.jsonl: %d cases", n);
    for (int i = 0; i < n; i++) {
        const char *name = json_get(cases[i], "name")->str;
        ChatMessage *msgs;
        int n_msgs;
        CHECK(chat_messages_from_json(json_get(cases[i], "messages"), &msgs, &n_msgs) == 0);
        size_t len;
        char *prompt = chat_render(msgs, n_msgs, json_get(cases[i], "add_generation_prompt")->boolean, &len);
        const JsonValue *want = json_get(cases[i], "prompt");
        int *ids = NULL, k = 0;
        if (prompt) tok_encode(tok, prompt, len, 0, &ids, &k);
        if ((!prompt || len != want->len || memcmp(prompt, want->str, len) != 0 ||
             !same_ids(ids, k, json_get(cases[i], "ids"))) && bad++ < 5)
            fprintf(stderr, "  chat differs: %s: %s\n", name, prompt ? prompt : err_get());
        free(ids);
        free(prompt);
        chat_messages_free(msgs, n_msgs);
    }
    CHECKF(bad == 0, "%d chat cases differ", bad);
    free_jsonl(cases, n);
}

/* Renders the messages of a JSON text; NULL on error. */
static char *render_json(const char *messages, int add_prompt) {
    JsonValue *v = json_parse(messages, strlen(messages));
    ChatMessage *msgs;
    int n;
    char *out = NULL;
    if (v && chat_messages_from_json(v, &msgs, &n) == 0) {
        out = chat_render(msgs, n, add_prompt, NULL);
        chat_messages_free(msgs, n);
    }
    json_free(v);
    return out;
}

static void test_chat_rules(void) {
    char *s = render_json("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]", 1);
    CHECK(s == NULL && strstr(err_get(), "alternate"));
    s = render_json("[{\"role\":\"assistant\",\"content\":\"a\"}]", 0);
    CHECK(s == NULL && strstr(err_get(), "alternate"));
    CHECK(render_json("[]", 1) == NULL);
    CHECK(render_json("[{\"role\":\"user\"}]", 1) == NULL);
    CHECK(render_json("[{\"content\":\"x\"}]", 1) == NULL);
    CHECK(render_json("{\"role\":\"user\"}", 1) == NULL);
    CHECK(render_json("[{\"role\":\"system\",\"content\":[{\"type\":\"image\"}]},{\"role\":\"user\",\"content\":\"x\"}]", 0) == NULL);
    /* system text is not trimmed; other content is, with Python's notion of whitespace */
    s = render_json("[{\"role\":\"system\",\"content\":\" S \"},{\"role\":\"user\",\"content\":\"\\u001c\\u0085 q \\u2029\"},"
                    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\" r \"},{\"type\":\"video\"},{\"type\":\"image\"}]}]",
                    1);
    CHECK(s && strcmp(s, "<bos><start_of_turn>user\n S \n\nq<end_of_turn>\n<start_of_turn>model\nr<start_of_image>"
                         "<end_of_turn>\n<start_of_turn>model\n") == 0);
    free(s);
    /* a lone system message renders no turn */
    s = render_json("[{\"role\":\"system\",\"content\":\"x\"}]", 0);
    CHECK(s && strcmp(s, "<bos>") == 0);
    free(s);
}

static void test_api(void) {
    CHECK(tok_vocab_size(tok) == 262145);
    CHECK(tok_bos_id(tok) == 2);
    CHECK(tok_token_id(tok, "<end_of_turn>") == 106);
    CHECK(tok_token_id(tok, "<image_soft_token>") == 262144);
    CHECK(tok_token_id(tok, "no such token") == -1);
    int eos[4];
    CHECK(tok_eos_ids(tok, eos, 4) == 2 && eos[0] == 1 && eos[1] == 106);
    CHECK(tok_is_special(tok, 106) && tok_is_special(tok, 262144) && !tok_is_special(tok, 107) && !tok_is_special(tok, -1));
    CHECK(tok_piece(tok, 107) && strcmp(tok_piece(tok, 107), "\n") == 0);
    CHECK(tok_piece(tok, 262145) == NULL);
}

static void test_empty(void) {
    int *ids, n;
    tok_encode(tok, "", 0, 0, &ids, &n);
    CHECK(n == 0);
    free(ids);
    tok_encode(tok, "", 0, 1, &ids, &n);
    CHECK(n == 1 && ids[0] == 2);
    free(ids);
    size_t len = 1;
    char *s = tok_decode(tok, NULL, 0, 0, &len);
    CHECK(s && len == 0 && s[0] == 0);
    free(s);
}

/* Every byte outside valid UTF-8 becomes its own <0xNN> token (id 238 + byte). */
static void test_invalid_utf8(void) {
    static const struct {
        const char *text;
        int n_bad;
        unsigned char bad[4];
    } cases[] = {
        {"a\xff" "b", 1, {0xFF}},
        {"\xe4\xb8", 2, {0xE4, 0xB8}},          /* a cut-off character */
        {"x\xc0\x80y", 2, {0xC0, 0x80}},        /* overlong NUL */
        {"\xed\xa0\x80", 3, {0xED, 0xA0, 0x80}}, /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4, {0xF4, 0x90, 0x80, 0x80}}, /* past U+10FFFF */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int *ids, n, found = 0;
        tok_encode(tok, cases[c].text, strlen(cases[c].text), 0, &ids, &n);
        for (int i = 0; i < n; i++)
            if (found < cases[c].n_bad && ids[i] == 238 + cases[c].bad[found]) found++;
        CHECKF(found == cases[c].n_bad, "case %zu", c);
        size_t len;
        char *s = tok_decode(tok, ids, n, 0, &len);
        CHECK(s && is_valid_utf8(s, len) && strstr(s, "\xEF\xBF\xBD"));  /* U+FFFD per bad byte */
        free(s);
        free(ids);
    }
    /* the Rust reference: a byte run that is not valid UTF-8 is U+FFFD per byte, even its valid start */
    int run[] = {238 + 0xC3, 238 + 0xA9, 238 + 0xE4};
    char *s = tok_decode(tok, run, 3, 0, NULL);
    CHECK(s && strcmp(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0);
    free(s);
}

static void test_decode_bad_ids(void) {
    int bad[][2] = {{2, -1}, {2, 262145}, {2, 1 << 30}};
    for (int i = 0; i < 3; i++) {
        char *s = tok_decode(tok, bad[i], 2, 0, NULL);
        CHECK(s == NULL && strstr(err_get(), "out of range"));
    }
    TokStream *st = tok_stream_new(tok, 0);
    CHECK(tok_stream_put(st, -5, NULL) == NULL);
    tok_stream_free(st);
}

/* Encodes, checks the decode gives the text back, returns the seconds it took. */
static double round_trip(const char *text, size_t len, int *n_out) {
    int *ids, n;
    double t0 = now_seconds();
    tok_encode(tok, text, len, 0, &ids, &n);
    double dt = now_seconds() - t0;
    size_t dlen;
    char *back = tok_decode(tok, ids, n, 0, &dlen);
    CHECK(back && dlen == len && memcmp(back, text, len) == 0);
    free(back);
    free(ids);
    *n_out = n;
    return dt;
}

static void test_long_line(void) {
    static const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Licensor", "shall",
                                  "é", "naïve", "中文", "42,", "(see", "below)", "—", "emoji😀", "\t", "tab"};
    size_t len = 10u << 20, i = 0;
    char *text = xmalloc(len + 64);
    uint32_t r = 1;
    while (i < len) {
        r = r * 1103515245u + 12345u;
        const char *w = words[(r >> 16) % 20];
        size_t k = strlen(w);
        memcpy(text + i, w, k);
        i += k;
        text[i++] = (r >> 8) % 7 ? ' ' : '.';
    }
    int n;
    double dt = round_trip(text, i, &n);
    fprintf(stderr, "  10 MB line with spaces: %d tokens in %.2f s\n", n, dt);
    CHECK(n > 1000000);
    /* one 1 MB word without spaces: BPE over the whole line at once */
    for (i = 0; i < (1u << 20); i++) {
        r = r * 1103515245u + 12345u;
        text[i] = (char)('a' + (r >> 16) % 26);
    }
    dt = round_trip(text, 1u << 20, &n);
    fprintf(stderr, "  1 MB word: %d tokens in %.2f s\n", n, dt);
    CHECK(dt < 5);
    /* 1 MB of newlines: all added tokens */
    memset(text, '\n', 1u << 20);
    round_trip(text, 1u << 20, &n);
    CHECK(n == (int)((1u << 20) + 30) / 31);
    free(text);
}

static void test_special_flood(void) {
    static const char *parts[] = {"<start_of_turn>", "user\n", "<end_of_turn>", "<bos>", "<unused17>", "<start_of_tur",
                                  "<<eos>>", "<table>", "</div>", " ", "<", "\n\n\n", "<start_of_image>", "[multimodal]"};
    size_t cap = 2u << 20, len = 0;
    char *text = xmalloc(cap + 64);
    uint32_t r = 7;
    while (len < cap) {
        r = r * 1103515245u + 12345u;
        const char *p = parts[(r >> 16) % 14];
        memcpy(text + len, p, strlen(p));
        len += strlen(p);
    }
    int n;
    double dt = round_trip(text, len, &n);
    fprintf(stderr, "  2 MB of special-token text: %d tokens in %.2f s\n", n, dt);
    int *ids, k;
    tok_encode(tok, "<start_of_turn>user\n<end_of_turn><start_of_tur>", 47, 1, &ids, &k);
    int want[] = {2, 105, 2364, 107, 106};
    CHECK(k > 5 && memcmp(ids, want, sizeof want) == 0);
    free(ids);
    free(text);
}

/* Feeds ids one at a time: every chunk must be valid UTF-8, and all of them the full decode. */
static void stream_check(const int *ids, int n, int skip_special) {
    TokStream *st = tok_stream_new(tok, skip_special);
    char *all = xmalloc(1);
    size_t all_len = 0, len;
    for (int i = 0; i <= n; i++) {
        const char *chunk = i < n ? tok_stream_put(st, ids[i], &len) : tok_stream_flush(st, &len);
        CHECK(chunk && is_valid_utf8(chunk, len));
        if (!chunk) break;
        all = xrealloc(all, all_len + len + 1);
        memcpy(all + all_len, chunk, len);
        all_len += len;
    }
    size_t want_len;
    char *want = tok_decode(tok, ids, n, skip_special, &want_len);
    CHECK(want && want_len == all_len && memcmp(want, all, all_len) == 0);
    free(want);
    free(all);
    tok_stream_free(st);
}

static void test_stream(void) {
    static const char *texts[] = {
        "plain ascii text", "é中文😀 mixed ẞ", "𠀀𪛖𓆿 rare CJK and hieroglyphs (byte tokens)", "\xC2\xA0nbsp\r\n",
        "<bos>special<end_of_turn> tokens", "👨‍👩‍👧 family emoji ZWJ", "ꀀꀁꀂ Yi syllables",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int *ids, n;
        tok_encode(tok, texts[i], strlen(texts[i]), 1, &ids, &n);
        stream_check(ids, n, 0);
        stream_check(ids, n, 1);
        free(ids);
    }
    /* a character split over byte tokens is held back until complete */
    TokStream *st = tok_stream_new(tok, 0);
    size_t len;
    CHECK(strcmp(tok_stream_put(st, 238 + 0xF0, &len), "") == 0);
    CHECK(strcmp(tok_stream_put(st, 238 + 0x9F, &len), "") == 0);
    CHECK(strcmp(tok_stream_put(st, 238 + 0x98, &len), "") == 0);
    CHECK(strcmp(tok_stream_put(st, 238 + 0x80, &len), "😀") == 0);
    /* ...or proven invalid: a byte that cannot continue it, or a non-byte token */
    CHECK(strcmp(tok_stream_put(st, 238 + 0xE4, &len), "") == 0);
    CHECK(strcmp(tok_stream_put(st, 238 + 0x41, &len), "\xEF\xBF\xBD\xEF\xBF\xBD") == 0);
    CHECK(strcmp(tok_stream_put(st, 238 + 0xC3, &len), "\xEF\xBF\xBD") == 0);  /* the rest of a bad run */
    CHECK(strcmp(tok_stream_put(st, 9259, &len), "Hello") == 0);
    CHECK(strcmp(tok_stream_put(st, 238 + 0xC3, &len), "") == 0);
    CHECK(strcmp(tok_stream_flush(st, &len), "\xEF\xBF\xBD") == 0);
    tok_stream_free(st);
    /* invalid runs whose start was never emitted match tok_decode */
    int bad[] = {238 + 0xE4, 238 + 0xB8, 107, 238 + 0xFF, 238 + 0x80, 238 + 0xC3};
    stream_check(bad, 6, 0);
}

static void test_json(void) {
    const char *text = "{\"a\": \"x\\u0000y\\ud83d\\ude00\\ud800z\", \"b\": [1, -2.5e1, true, null]}";
    JsonValue *v = json_parse(text, strlen(text));
    CHECK(v && json_get(v, "a")->len == 11 && memcmp(json_get(v, "a")->str, "x\0y\xF0\x9F\x98\x80\xEF\xBF\xBD" "z", 11) == 0);
    CHECK(v && json_get(v, "b")->n == 4 && json_get(v, "b")->items[1].number == -25);
    json_free(v);
    static const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"\\x\"", "01", "[1] 2", "\"a\nb\"", "nul", "\"\\ud83\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = json_parse(bad[i], strlen(bad[i]));
        CHECKF(v == NULL && strstr(err_get(), "invalid JSON"), "'%s' accepted", bad[i]);
        json_free(v);
    }
    char deep[5000];
    memset(deep, '[', sizeof deep);
    CHECK(json_parse(deep, sizeof deep) == NULL);
}

/* Writes text to a file in dir; returns its path (free()). */
static char *write_file(const char *dir, const char *name, const char *text) {
    char *path = path_join(dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

#define SMALL_MODEL(vocab, merges) \
    "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"vocab\": " vocab ", \"merges\": " merges "}}"
#define SMALL_VOCAB "{\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"c\": 4, \"abc\": 5, \" \": 6}"

static void test_bad_files(void) {
    char dir[] = "/tmp/anemll_tok_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"", "invalid JSON"},
        {"{\"model\": {\"type\": \"BPE\", ", "invalid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{}", "no \"model\""},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", "unsupported model type"},
        {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", "vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "merges"},
        {SMALL_MODEL("{\"a\": 0, \"b\": \"x\"}", "[]"), "no valid id"},
        {SMALL_MODEL("{\"a\": 0, \"b\": 0}", "[]"), "twice"},
        {SMALL_MODEL(SMALL_VOCAB, "[\"a b\", \"ab x\"]"), "merges[1]"},
        {SMALL_MODEL(SMALL_VOCAB, "[\"a b c\"]"), "merges[0]"},
        {SMALL_MODEL(SMALL_VOCAB, "[[\"a\"]]"), "merges[0]"},
        {SMALL_MODEL(SMALL_VOCAB, "[\"b c\"]"), "merges[0]"},  /* "bc" is not in the vocab */
        {"{\"normalizer\": {\"type\": \"NFKC\"}, \"model\": {}}", "normalizer"},
        {"{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {}}", "pre_tokenizer"},
        {"{\"decoder\": {\"type\": \"WordPiece\"}, \"model\": {}}", "decoder"},
        {"{\"added_tokens\": [{\"id\": 7}], \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
         "added_tokens[0]"},
        /* an added token under another token's id is named with that token, not as a broken merge */
        {"{\"added_tokens\": [{\"id\": 1, \"content\": \"<s>\"}], \"model\": "
         "{\"type\": \"BPE\", \"vocab\": " SMALL_VOCAB ", \"merges\": [\"a b\"]}}",
         "added token '<s>' id 1 is already the id of vocab token 'a'"},
        {"{\"added_tokens\": [{\"id\": 7, \"content\": \"<s>\"}, {\"id\": 7, \"content\": \"<t>\"}], \"model\": "
         "{\"type\": \"BPE\", \"vocab\": " SMALL_VOCAB ", \"merges\": []}}",
         "added token '<t>' id 7 is already the id of added token '<s>'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_file(dir, "tokenizer.json", cases[i].text);
        Tokenizer *t = tok_load(path);
        CHECKF(t == NULL && strstr(err_get(), path) && strstr(err_get(), cases[i].error), "case %zu: %s", i,
               t ? "loaded" : err_get());
        tok_free(t);
        unlink(path);
        free(path);
    }
    char *missing = path_join(dir, "missing.json");
    CHECK(tok_load(missing) == NULL && strstr(err_get(), "missing.json"));
    free(missing);
    rmdir(dir);
}

/* A hand-made tokenizer: string merges, <unk> fusing, no normalizer, no byte fallback. */
static void test_small_tokenizer(void) {
    char dir[] = "/tmp/anemll_tok_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = write_file(dir, "tokenizer.json",
                            "{\"added_tokens\": [{\"id\": 7, \"content\": \"<s>\", \"special\": true}], "
                            "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
                            "{\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
                            "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [7], \"tokens\": [\"<s>\"]}}}, "
                            "\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"vocab\": "
                            "{\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"c\": 4, \"abc\": 5, \" \": 6}, "
                            "\"merges\": [\"a b\", [\"ab\", \"c\"]]}}");
    Tokenizer *t = tok_load(path);
    CHECKF(t != NULL, "%s", err_get());
    if (t) {
        int *ids, n;
        tok_encode(t, "abcxyab<s> c", 12, 1, &ids, &n);
        int want[] = {7, 5, 0, 3, 7, 6, 4};  /* the post-processor's BOS is <s>; "xy" fuses into one <unk> */
        CHECK(n == 7 && memcmp(ids, want, sizeof want) == 0);
        char *s = tok_decode(t, ids, n, 1, NULL);
        CHECK(s && strcmp(s, "abc<unk>ab c") == 0);
        free(s);
        free(ids);
        tok_free(t);
    }
    unlink(path);
    free(path);
    rmdir(dir);
}

int main(void) {
    snprintf(gemma_dir, sizeof gemma_dir, "%s/tokenizers/gemma3", data_dir());
    char *path = gemma_path("tokenizer.json");
    double t0 = now_seconds();
    tok = tok_load(path);
    if (!tok) {
        fprintf(stderr, "  %s\n", err_get());
        printf("FAIL tok_load\n");
        free(path);
        return 1;
    }
    fprintf(stderr, "  loaded %s in %.2f s\n", path, now_seconds() - t0);
    free(path);
    RUN(test_golden_encode);
    RUN(test_golden_decode);
    RUN(test_chat_golden);
    RUN(test_chat_rules);
    RUN(test_api);
    RUN(test_empty);
    RUN(test_invalid_utf8);
    RUN(test_decode_bad_ids);
    RUN(test_long_line);
    RUN(test_special_flood);
    RUN(test_stream);
    RUN(test_json);
    RUN(test_bad_files);
    RUN(test_small_tokenizer);
    tok_free(tok);
    CHECK_EXIT();
}
