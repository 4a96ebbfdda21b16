/* Gemma 3's chat template, written out in C (see chat_template.jinja beside the tokenizer). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

/* Python's str.isspace(), which Jinja's trim filter (str.strip()) uses. */
static int is_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Code point of the valid character of k bytes at s. */
static uint32_t code_point(const uint8_t *s, size_t k) {
    static const uint8_t lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t c = s[0] & lead_mask[k];
    for (size_t i = 1; i < k; i++) c = c << 6 | (s[i] & 0x3Fu);
    return c;
}

static void put_trimmed(Buf *out, const char *text, size_t n) {
    const uint8_t *s = (const uint8_t *)text;
    size_t start = 0, end = n, k;
    while (start < end && (k = utf8_char_len(s + start, end - start)) && is_py_space(code_point(s + start, k)))
        start += k;
    while (end > start) {
        size_t c = end - 1;  /* back to the start of the last character */
        while (c > start && end - c < 4 && (s[c] & 0xC0) == 0x80) c--;
        k = utf8_char_len(s + c, end - c);
        if (k != end - c || !is_py_space(code_point(s + c, k))) break;
        end = c;
    }
    buf_put(out, text + start, end - start);
}

char *chat_render(const ChatMessage *msgs, int n, int add_generation_prompt, size_t *len) {
    if (n < 1) {
        err_set("chat template: no messages");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!msgs[i].role) {
            err_set("chat template: message %d has no role", i);
            return NULL;
        }
    const char *prefix = "";  /* the system message's text, opening the first turn */
    size_t prefix_len = 0;
    int first = 0;
    if (strcmp(msgs[0].role, "system") == 0) {
        first = 1;
        if (!msgs[0].parts) {
            prefix = msgs[0].text;
            prefix_len = msgs[0].len;
        } else if (msgs[0].n_parts > 0 && msgs[0].parts[0].kind == CHAT_PART_TEXT) {
            prefix = msgs[0].parts[0].text;
            prefix_len = msgs[0].parts[0].len;
        } else {
            err_set("chat template: a system message's list content must start with a text item");
            return NULL;
        }
    }
    Buf out = {0};
    buf_puts(&out, "<bos>");
    for (int i = first; i < n; i++) {
        const ChatMessage *m = &msgs[i];
        int turn = i - first;
        if ((strcmp(m->role, "user") == 0) != (turn % 2 == 0)) {
            err_set("chat template: conversation roles must alternate user/assistant/user/assistant/... "
                    "(message %d is '%s')", i, m->role);
            free(out.p);
            return NULL;
        }
        buf_puts(&out, "<start_of_turn>");
        buf_puts(&out, strcmp(m->role, "assistant") == 0 ? "model" : m->role);
        buf_puts(&out, "\n");
        if (turn == 0 && first) {
            buf_put(&out, prefix, prefix_len);
            buf_puts(&out, "\n\n");
        }
        if (!m->parts) put_trimmed(&out, m->text, m->len);
        for (int j = 0; m->parts && j < m->n_parts; j++) {
            if (m->parts[j].kind == CHAT_PART_IMAGE) buf_puts(&out, "<start_of_image>");
            if (m->parts[j].kind == CHAT_PART_TEXT) put_trimmed(&out, m->parts[j].text, m->parts[j].len);
        }
        buf_puts(&out, "<end_of_turn>\n");
    }
    if (add_generation_prompt) buf_puts(&out, "<start_of_turn>model\n");
    if (len) *len = out.n;
    return out.p;
}

static int parse_parts(const JsonValue *content, ChatMessage *m, int index) {
    ChatPart *parts = xcalloc((size_t)content->n + 1, sizeof *parts);
    m->parts = parts;
    m->n_parts = content->n;
    for (int j = 0; j < content->n; j++) {
        const JsonValue *type = json_get(&content->items[j], "type");
        const JsonValue *text = json_get(&content->items[j], "text");
        int is_type = type && type->type == JSON_STRING;
        parts[j].kind = CHAT_PART_OTHER;  /* the template skips items of other types */
        if (is_type && strcmp(type->str, "image") == 0) parts[j].kind = CHAT_PART_IMAGE;
        if (is_type && strcmp(type->str, "text") == 0) {
            if (!text || text->type != JSON_STRING) {
                err_set("message %d: content item %d of type text has no \"text\" string", index, j);
                return -1;
            }
            parts[j] = (ChatPart){CHAT_PART_TEXT, text->str, text->len};
        }
    }
    return 0;
}

int chat_messages_from_json(const JsonValue *arr, ChatMessage **msgs, int *n) {
    *msgs = NULL;
    *n = 0;
    if (!arr || arr->type != JSON_ARRAY) {
        err_set("\"messages\" must be a list");
        return -1;
    }
    ChatMessage *m = xcalloc((size_t)arr->n + 1, sizeof *m);
    for (int i = 0; i < arr->n; i++) {
        const JsonValue *role = json_get(&arr->items[i], "role");
        const JsonValue *content = json_get(&arr->items[i], "content");
        if (!role || role->type != JSON_STRING) {
            err_set("message %d has no \"role\" string", i);
        } else if (content && content->type == JSON_STRING) {
            m[i] = (ChatMessage){role->str, content->str, content->len, NULL, 0};
            continue;
        } else if (content && content->type == JSON_ARRAY) {
            m[i].role = role->str;
            if (parse_parts(content, &m[i], i) == 0) continue;
        } else {
            err_set("message %d: \"content\" must be a string or a list", i);
        }
        chat_messages_free(m, arr->n);
        return -1;
    }
    *msgs = m;
    *n = arr->n;
    return 0;
}

void chat_messages_free(ChatMessage *msgs, int n) {
    if (!msgs) return;
    for (int i = 0; i < n; i++) free((void *)msgs[i].parts);
    free(msgs);
}

int chat_encode_prompt(const Tokenizer *t, const char *system, const char *prompt, int raw, int **ids, int *n) {
    if (raw) return tok_encode(t, prompt, strlen(prompt), 1, ids, n);
    ChatMessage msgs[2];
    int k = 0;
    if (system) msgs[k++] = (ChatMessage){.role = "system", .text = system, .len = strlen(system)};
    msgs[k++] = (ChatMessage){.role = "user", .text = prompt, .len = strlen(prompt)};
    size_t len;
    char *text = chat_render(msgs, k, 1, &len);
    if (!text) return -1;
    int rc = tok_encode(t, text, len, 0, ids, n);
    free(text);
    return rc;
}
