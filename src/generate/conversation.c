#include "generate/conversation.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void conversation_init(Conversation *c, const Tokenizer *tok, Session *ss, const char *system, int history, int raw) {
    memset(c, 0, sizeof *c);
    c->tok = tok;
    c->ss = ss;
    c->system = system ? xstrdup(system) : NULL;
    c->history = history && !raw;
    c->raw = raw;
}

void conversation_free(Conversation *c) {
    while (conversation_drop_oldest(c)) {
    }
    free(c->turns);
    free(c->system);
    memset(c, 0, sizeof *c);
}

static void ids_append(int **ids, int *n, const int *add, int k) {
    *ids = xrealloc(*ids, sizeof(int) * (size_t)(*n + k + 1));
    if (k) memcpy(*ids + *n, add, sizeof(int) * (size_t)k);
    *n += k;
}

static int encode_append(const Tokenizer *t, const char *text, size_t len, int **ids, int *n) {
    int *seg, k;
    if (tok_encode(t, text, len, 0, &seg, &k)) return -1;
    ids_append(ids, n, seg, k);
    free(seg);
    return 0;
}

/* Templated text is tokenized, except each earlier reply, whose generated ids are spliced in as
 * they were. Splicing is exact because every cut lies next to an added token (<end_of_turn>,
 * "\n"), where tokenization restarts anyway. */
int conversation_prompt(const Conversation *c, const char *user, const int *partial, int n_partial, int **ids,
                        int *n) {
    *ids = NULL;
    *n = 0;
    if (c->raw) {
        if (tok_encode(c->tok, user, strlen(user), 1, ids, n)) return -1;
        ids_append(ids, n, partial, n_partial);
        return 0;
    }
    int nm = 0;
    ChatMessage *msgs = xcalloc((size_t)c->n_turns + 2, sizeof *msgs);
    if (c->system) msgs[nm++] = (ChatMessage){.role = "system", .text = c->system, .len = strlen(c->system)};
    int first_turn = nm;
    for (int i = 0; i < c->n_turns; i++)
        msgs[nm++] = (ChatMessage){.role = c->turns[i].role, .text = c->turns[i].text, .len = strlen(c->turns[i].text)};
    msgs[nm++] = (ChatMessage){.role = "user", .text = user, .len = strlen(user)};
    size_t full_len, done = 0;
    char *full = chat_render(msgs, nm, 1, &full_len);
    int rc = full ? 0 : -1;
    for (int i = 0; rc == 0 && i < c->n_turns; i++) {
        if (!c->turns[i].ids) continue;
        int m = first_turn + i; /* the assistant message */
        size_t before, through;
        char *p = chat_render(msgs, m, 1, &before);                  /* ... "<start_of_turn>model\n" */
        char *q = p ? chat_render(msgs, m + 1, 0, &through) : NULL; /* ... reply "<end_of_turn>\n" */
        if (!q) {
            free(p);
            rc = -1;
            break;
        }
        rc = encode_append(c->tok, full + done, before - done, ids, n);
        ids_append(ids, n, c->turns[i].ids, c->turns[i].n_ids);
        done = through - strlen("<end_of_turn>\n");
        free(p);
        free(q);
    }
    if (rc == 0) rc = encode_append(c->tok, full + done, full_len - done, ids, n);
    if (rc == 0) ids_append(ids, n, partial, n_partial);
    free(full);
    free(msgs);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

int conversation_drop_oldest(Conversation *c) {
    if (c->n_turns < 2) return 0;
    for (int i = 0; i < 2; i++) {
        free(c->turns[i].role);
        free(c->turns[i].text);
        free(c->turns[i].ids);
    }
    memmove(c->turns, c->turns + 2, sizeof(Turn) * (size_t)(c->n_turns - 2));
    c->n_turns -= 2;
    return 1;
}

static void add_turn(Conversation *c, const char *role, const char *text, const int *ids, int n_ids) {
    c->turns = xrealloc(c->turns, sizeof(Turn) * (size_t)(c->n_turns + 1));
    Turn *t = &c->turns[c->n_turns++];
    t->role = xstrdup(role);
    t->text = xstrdup(text);
    t->ids = NULL;
    t->n_ids = n_ids;
    if (ids) {
        t->ids = xmalloc(sizeof(int) * (size_t)(n_ids + 1));
        memcpy(t->ids, ids, sizeof(int) * (size_t)n_ids);
    }
}

int conversation_reply(Conversation *c, const char *user, const GenOptions *o, ReplyStats *st) {
    memset(st, 0, sizeof *st);
    int context = c->ss->s.context;
    /* room to answer before the reply starts: the limit, at most half the context */
    int reserve = o->max_tokens < context / 2 ? o->max_tokens : context / 2;
    Generation g;
    if (generation_init(&g, c->tok, o)) return -1;
    int rc = 0;
    for (;;) {
        /* fit the prompt: drop the oldest turns while it leaves too little room to answer */
        int *ids = NULL, n = 0;
        for (;;) {
            free(ids);
            if (conversation_prompt(c, user, g.ids, g.n_ids, &ids, &n)) {
                rc = -1;
                goto out;
            }
            if (n + (g.n_ids ? 1 : reserve) <= context || !(c->history && conversation_drop_oldest(c))) break;
            st->turns_dropped += 2;
        }
        if (n >= context) {
            free(ids);
            if (g.n_ids) { /* a reply that fills the whole context ends here */
                g.stop = GEN_CONTEXT_FULL;
                break;
            }
            err_set("the prompt (%d tokens) does not fit the context of %d tokens", n, context);
            rc = -1;
            goto out;
        }
        rc = session_set(c->ss, ids, n);
        free(ids);
        if (rc) goto out;
        st->prefilled += c->ss->prefilled;
        st->reused += n - c->ss->prefilled;
        st->prefill_seconds += c->ss->prefill_seconds;
        int stop = generation_run(&g, c->ss);
        if (stop < 0) {
            rc = -1;
            goto out;
        }
        /* context full mid-reply: re-fit (dropping turns) and go on with the reply's ids */
        if (stop != GEN_CONTEXT_FULL) break;
    }
    generation_flush(&g);
    st->stop = g.stop;
    st->stop_id = g.stop_id;
    st->generated = g.n_ids;
    st->decode_seconds = g.decode_seconds;
    if (c->history) {
        add_turn(c, "user", user, NULL, 0);
        /* a reply cut at a stop string is re-tokenized from its text: its ids run past the cut */
        add_turn(c, "assistant", g.text, g.stop == GEN_STOP_STRING ? NULL : g.ids, g.n_ids);
    }
out:
    generation_free(&g);
    return rc;
}
