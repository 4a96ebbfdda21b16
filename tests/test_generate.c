/* Sessions, generation and conversation through the public API (include/anemll.h) on the shipped
 * checkpoint models/anemll-tiny, whose greedy answers are known from its training data: KV reuse,
 * truncation, stop tokens, stop strings, cancel, limits, the history splice and turn dropping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemll.h"
#include "check.h"
#include "generate/conversation.h"
#include "tokenizer/tokenizer.h"

#define MODEL "models/anemll-tiny"

static anemll_model *model;
static anemll_tokenizer *tok;
static Tokenizer *raw_tok; /* the same tokenizer, for the template checks */

static void max_abs_diff(const float *a, const float *b, int n, float *out) {
    float d = 0;
    for (int i = 0; i < n; i++) d = fabsf(a[i] - b[i]) > d ? fabsf(a[i] - b[i]) : d;
    *out = d;
}

static anemll_session *new_session(int context) {
    anemll_session_options o;
    anemll_session_default_options(&o);
    o.context = context;
    o.precision = ANEMLL_PRECISION_FP32;
    anemll_session *s = NULL;
    CHECKF(anemll_session_new(model, &o, &s) == 0, "%s", anemll_last_error());
    return s;
}

static int *prompt_ids(const char *user, int *n) {
    int *ids = NULL;
    CHECK(anemll_chat_prompt_ids(tok, NULL, user, &ids, n) == 0);
    return ids;
}

/* A set that extends the cached sequence runs only the new tokens, with the logits a fresh
 * session gets; truncate keeps a prefix the next set reuses. */
/* The decode bound's probe reads the model's own streamed weights: a finite, positive rate,
 * for any repeat count (fewer than one pass is one pass). */
static void test_read_bandwidth_probe(void) {
    for (int repeats = 0; repeats <= 2; repeats++) {
        double gbs = anemll_read_bandwidth_gbs(model, repeats);
        CHECKF(isfinite(gbs) && gbs > 0.0, "%d repeats: %g GB/s", repeats, gbs);
    }
}

static void test_session_reuse_and_truncate(void) {
    int n;
    int *ids = prompt_ids("What is a kluge? Tell me everything you know about it.", &n);
    CHECK(n > 12);
    anemll_model_info info;
    anemll_model_get_info(model, &info);
    anemll_session *a = new_session(256), *b = new_session(256);
    CHECK(anemll_session_set(a, ids, n - 5) == 0 && anemll_session_last_prefilled(a) == n - 5);
    CHECK(anemll_session_set(a, ids, n) == 0);
    CHECKF(anemll_session_last_prefilled(a) == 5, "prefilled %d", anemll_session_last_prefilled(a));
    CHECK(anemll_session_set(b, ids, n) == 0 && anemll_session_last_prefilled(b) == n);
    float d;
    max_abs_diff(anemll_session_logits(a), anemll_session_logits(b), info.vocab_size, &d);
    CHECKF(d < 1e-4f, "reused vs fresh logits differ by %g", d);
    CHECK(anemll_session_length(a) == n);
    CHECK(anemll_session_truncate(a, n - 3) == 0 && anemll_session_length(a) == n - 3);
    CHECK(anemll_session_set(a, ids, n) == 0 && anemll_session_last_prefilled(a) == 3);
    /* push: decode one token, as a prefill of one more would */
    CHECK(anemll_session_push(a, 42) == 0 && anemll_session_length(a) == n + 1);
    int *more = malloc(sizeof(int) * (size_t)(n + 1));
    memcpy(more, ids, sizeof(int) * (size_t)n);
    more[n] = 42;
    CHECK(anemll_session_set(b, more, n + 1) == 0 && anemll_session_last_prefilled(b) == 1);
    max_abs_diff(anemll_session_logits(a), anemll_session_logits(b), info.vocab_size, &d);
    CHECKF(d < 1e-4f, "push vs set logits differ by %g", d);
    CHECK(anemll_session_truncate(a, n + 5) != 0); /* more than it holds */
    free(more);
    anemll_free(ids);
    anemll_session_free(a);
    anemll_session_free(b);
}

typedef struct {
    char text[4096];
    size_t len;
    int tokens, cancel_after;
} Collect;

static int collect(void *ctx, int id, const char *text, size_t len) {
    Collect *c = ctx;
    if (len && c->len + len < sizeof c->text) {
        memcpy(c->text + c->len, text, len);
        c->len += len;
        c->text[c->len] = 0;
    }
    if (id >= 0) c->tokens++;
    return c->cancel_after && c->tokens >= c->cancel_after;
}

static const char *kluge_answer =
    "kluge (noun): A Rube Goldberg (or Heath Robinson) device, whether in hardware or software.";

static anemll_generate_result generate(const char *user, anemll_generate_options *o, Collect *c) {
    int n;
    int *ids = prompt_ids(user, &n);
    anemll_session *s = new_session(512);
    o->on_token = collect;
    o->ctx = c;
    anemll_generate_result r;
    memset(&r, 0, sizeof r);
    CHECKF(anemll_generate(s, tok, ids, n, o, &r) == 0, "%s", anemll_last_error());
    anemll_session_free(s);
    anemll_free(ids);
    return r;
}

/* The trained answer, ended by <end_of_turn> (not part of the text). */
static void test_stop_at_end_of_turn(void) {
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    Collect c = {0};
    anemll_generate_result r = generate("What is a kluge?", &o, &c);
    CHECKF(!strcmp(c.text, kluge_answer), "got '%s'", c.text);
    CHECK(r.stop == ANEMLL_STOP_TOKEN && r.stop_id == tok_token_id(raw_tok, "<end_of_turn>"));
    CHECK(r.generated == c.tokens && r.generated > 5 && r.prefilled > 5 && r.reused == 0);
    /* ignore_eos goes on to the limit */
    anemll_generate_default_options(&o);
    o.ignore_eos = 1;
    o.max_tokens = r.generated + 6;
    Collect c2 = {0};
    anemll_generate_result r2 = generate("What is a kluge?", &o, &c2);
    CHECK(r2.stop == ANEMLL_STOP_MAX_TOKENS && r2.generated == r.generated + 6);
    CHECK(!strncmp(c2.text, kluge_answer, strlen(kluge_answer)));
}

/* A stop string ends the reply before it, also when it spans tokens; nothing of it is streamed. */
static void test_stop_strings(void) {
    const char *stops[][2] = {{"Goldberg", "kluge (noun): A Rube "}, {"e G", "kluge (noun): A Rub"},
                              {"never there", NULL}};
    for (int i = 0; i < 3; i++) {
        anemll_generate_options o;
        anemll_generate_default_options(&o);
        o.stop_strings = &stops[i][0];
        o.n_stop_strings = 1;
        Collect c = {0};
        anemll_generate_result r = generate("What is a kluge?", &o, &c);
        if (stops[i][1]) {
            CHECKF(!strcmp(c.text, stops[i][1]), "stop '%s': got '%s'", stops[i][0], c.text);
            CHECK(r.stop == ANEMLL_STOP_STRING);
        } else {
            CHECKF(!strcmp(c.text, kluge_answer), "got '%s'", c.text);
            CHECK(r.stop == ANEMLL_STOP_TOKEN);
        }
    }
    const char *empty = "";
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    o.stop_strings = &empty;
    o.n_stop_strings = 1;
    int n;
    int *ids = prompt_ids("hi", &n);
    anemll_session *s = new_session(64);
    CHECK(anemll_generate(s, tok, ids, n, &o, NULL) != 0 && strstr(anemll_last_error(), "empty"));
    anemll_session_free(s);
    anemll_free(ids);
}

static void test_cancel_and_limit(void) {
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    Collect c = {.cancel_after = 3};
    anemll_generate_result r = generate("What is a kluge?", &o, &c);
    CHECK(r.stop == ANEMLL_STOP_CANCELLED && r.generated == 3 && c.tokens == 3);
    anemll_generate_default_options(&o);
    o.max_tokens = 4;
    Collect c2 = {0};
    r = generate("What is a kluge?", &o, &c2);
    CHECK(r.stop == ANEMLL_STOP_MAX_TOKENS && r.generated == 4);
    CHECK(!strncmp(kluge_answer, c2.text, c2.len) && c2.len > 0);
}

/* Turn 2 of a kept conversation reuses all of turn 1 from the cache; the prompt ids of a kept
 * conversation (earlier replies spliced in as generated) spell exactly the templated text. */
static void test_conversation_history_splice(void) {
    anemll_session *s = new_session(1024);
    anemll_chat_options co = {.system = "Answer briefly.", .keep_history = 1};
    anemll_chat *chat = NULL;
    CHECK(anemll_chat_new(s, tok, &co, &chat) == 0);
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    Collect c1 = {0}, c2 = {0};
    o.on_token = collect;
    o.ctx = &c1;
    anemll_generate_result r1, r2;
    CHECK(anemll_chat_reply(chat, "What is a kluge?", &o, &r1) == 0);
    CHECK(anemll_chat_turns(chat) == 2 && r1.generated > 0 && c1.len > 0);
    int len1 = anemll_session_length(s);
    o.ctx = &c2;
    CHECK(anemll_chat_reply(chat, "What is a hack?", &o, &r2) == 0);
    CHECK(anemll_chat_turns(chat) == 4 && r2.generated > 0);
    /* everything turn 1 left in the cache but its last token is reused */
    CHECKF(r2.reused >= len1 - 1, "reused %d of %d", r2.reused, len1);

    /* the splice: the library's prompt for a third turn vs the template tokenized in one piece */
    Conversation *conv = (Conversation *)chat; /* anemll_chat wraps one Conversation first */
    int *ids, n;
    CHECK(conversation_prompt(conv, "And a crock?", NULL, 0, &ids, &n) == 0);
    ChatMessage msgs[6] = {{.role = "system", .text = "Answer briefly."},
                           {.role = "user", .text = "What is a kluge?"},
                           {.role = "assistant", .text = c1.text},
                           {.role = "user", .text = "What is a hack?"},
                           {.role = "assistant", .text = c2.text},
                           {.role = "user", .text = "And a crock?"}};
    for (int i = 0; i < 6; i++) msgs[i].len = strlen(msgs[i].text);
    size_t len;
    char *text = chat_render(msgs, 6, 1, &len);
    size_t dlen;
    char *spelled = tok_decode(raw_tok, ids, n, 0, &dlen);
    CHECKF(text && spelled && dlen == len && !memcmp(spelled, text, len), "prompt ids spell '%s'", spelled);
    free(spelled);
    free(text);
    free(ids);
    anemll_chat_free(chat);
    anemll_session_free(s);
}

/* A small context: older turns are dropped so each new prompt fits, and replies still come. */
static void test_conversation_drops_oldest_turns(void) {
    anemll_session *s = new_session(96);
    anemll_chat_options co = {.system = "Be brief.", .keep_history = 1};
    anemll_chat *chat = NULL;
    CHECK(anemll_chat_new(s, tok, &co, &chat) == 0);
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    o.max_tokens = 24;
    const char *qs[] = {"What is a kluge?", "What is a hack?", "What is a crock?", "What is cruft?",
                        "What is a kludge?"};
    int dropped = 0;
    for (int i = 0; i < 5; i++) {
        Collect c = {0};
        o.on_token = collect;
        o.ctx = &c;
        anemll_generate_result r;
        CHECKF(anemll_chat_reply(chat, qs[i], &o, &r) == 0, "turn %d: %s", i, anemll_last_error());
        CHECK(r.generated > 0 && anemll_session_length(s) <= 96);
        dropped += r.turns_dropped;
    }
    CHECKF(dropped > 0, "no turn was dropped in a 96-token context");
    CHECK(anemll_chat_turns(chat) < 10 && anemll_chat_turns(chat) % 2 == 0);
    /* a prompt that cannot fit even alone is an error, not a crash */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(anemll_chat_reply(chat, big, &o, NULL) != 0 && strstr(anemll_last_error(), "does not fit"));
    anemll_chat_free(chat);
    anemll_session_free(s);
}

/* Without a tokenizer: ids only, stopping at the model's EOS ids. */
static void test_ids_only(void) {
    int n;
    int *ids = prompt_ids("What is a kluge?", &n);
    anemll_session *s = new_session(256);
    anemll_generate_options o;
    anemll_generate_default_options(&o);
    Collect c = {0};
    o.on_token = collect;
    o.ctx = &c;
    o.max_tokens = 8;
    anemll_generate_result r;
    CHECK(anemll_generate(s, NULL, ids, n, &o, &r) == 0);
    CHECK(r.generated == 8 && c.tokens == 8 && c.len == 0);
    anemll_session_free(s);
    anemll_free(ids);
}

int main(void) {
    if (anemll_model_load(MODEL, &model) || anemll_tokenizer_for_model(model, NULL, &tok) ||
        !(raw_tok = tok_load(MODEL "/tokenizer.json"))) {
        printf("FAIL load_model: %s\n", anemll_last_error());
        return 1;
    }
    RUN(test_read_bandwidth_probe);
    RUN(test_session_reuse_and_truncate);
    RUN(test_stop_at_end_of_turn);
    RUN(test_stop_strings);
    RUN(test_cancel_and_limit);
    RUN(test_conversation_history_splice);
    RUN(test_conversation_drops_oldest_turns);
    RUN(test_ids_only);
    tok_free(raw_tok);
    anemll_tokenizer_free(tok);
    anemll_model_free(model);
    CHECK_EXIT();
}
