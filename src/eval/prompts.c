/* What is scored: prompt files, pseudo-random prompts, texts and ids. See prompts.h. */
#include "eval/prompts.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "convert/convert.h"
#include "util/util.h"

void eval_prompts_free(EvalPrompt *p, int n) {
    if (!p) return;
    for (int i = 0; i < n; i++) {
        free(p[i].ids);
        free(p[i].text);
    }
    free(p);
}

static int prompt_from_json(const JsonValue *v, const Tokenizer *tok, int vocab, EvalPrompt *p) {
    memset(p, 0, sizeof *p);
    if (v->type != JSON_OBJECT) {
        err_set("expected an object {\"text\": \"...\"} or {\"ids\": [...]}");
        return -1;
    }
    const JsonValue *ids = json_get(v, "ids");
    const JsonValue *text = json_get(v, "text");
    if (!text) text = json_get(v, "prompt");
    if (!text) text = json_get(v, "input");
    const JsonValue *system = json_get(v, "system");
    if (!ids == !text) {
        err_set(ids ? "give \"text\" or \"ids\", not both" : "expected {\"text\": \"...\"} or {\"ids\": [...]}");
        return -1;
    }
    if (ids) {
        if (ids->type != JSON_ARRAY) {
            err_set("\"ids\" must be an array of token ids");
            return -1;
        }
        if (ids->n == 0) {
            err_set("empty prompt");
            return -1;
        }
        p->ids = xmalloc(sizeof(int) * (size_t)ids->n);
        for (int i = 0; i < ids->n; i++) {
            const JsonValue *x = &ids->items[i];
            if (x->type != JSON_NUMBER || x->number != floor(x->number)) {
                err_set("\"ids\" item %d is not an integer", i);
                return -1;
            }
            if (x->number < 0 || x->number >= vocab) {
                err_set("token id %.0f at position %d is outside the vocabulary (0..%d)", x->number, i, vocab - 1);
                return -1;
            }
            p->ids[i] = (int)x->number;
        }
        p->n = ids->n;
        return 0;
    }
    if (text->type != JSON_STRING || (system && system->type != JSON_STRING)) {
        err_set("\"text\" and \"system\" must be strings");
        return -1;
    }
    if (!tok) {
        err_set("a text prompt needs a tokenizer (none found: give --tokenizer FILE, or {\"ids\": [...]} prompts)");
        return -1;
    }
    ChatMessage msgs[2];
    int k = 0;
    if (system) msgs[k++] = (ChatMessage){.role = "system", .text = system->str, .len = system->len};
    msgs[k++] = (ChatMessage){.role = "user", .text = text->str, .len = text->len};
    size_t len;
    char *rendered = chat_render(msgs, k, 1, &len);
    if (!rendered) return -1;
    tok_encode(tok, rendered, len, 0, &p->ids, &p->n);
    free(rendered);
    if (p->n == 0) {
        err_set("empty prompt");
        return -1;
    }
    for (int i = 0; i < p->n; i++)
        if (p->ids[i] < 0 || p->ids[i] >= vocab) {
            err_set("the tokenizer gives id %d, outside the model's vocabulary (0..%d)", p->ids[i], vocab - 1);
            return -1;
        }
    p->text = xmalloc(text->len + 1);
    memcpy(p->text, text->str, text->len + 1);
    p->text_len = text->len;
    return 0;
}

int eval_prompts_read(const char *path, const Tokenizer *tok, int vocab, EvalPrompt **out, int *n) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int number = 0, count = 0, alloc = 0, rc = 0;
    EvalPrompt *ps = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        number++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        JsonValue *v = json_parse(line, (size_t)len);
        EvalPrompt p;
        memset(&p, 0, sizeof p);
        if (!v || prompt_from_json(v, tok, vocab, &p)) {
            char why[512];
            snprintf(why, sizeof why, "%s", err_get());
            err_set("%s line %d: %s", path, number, why);
            json_free(v);
            free(p.ids);
            free(p.text);
            rc = -1;
            break;
        }
        json_free(v);
        p.line = number;
        if (count == alloc) ps = xrealloc(ps, sizeof *ps * (size_t)(alloc = alloc ? alloc * 2 : 16));
        ps[count++] = p;
    }
    if (rc == 0 && ferror(f)) {
        err_set("%s: read error", path);
        rc = -1;
    }
    fclose(f);
    free(line);
    if (rc == 0 && count == 0) {
        err_set("%s: no prompts (expected JSON lines {\"text\": \"...\"} or {\"ids\": [...]})", path);
        rc = -1;
    }
    if (rc) {
        eval_prompts_free(ps, count);
        return -1;
    }
    *out = ps;
    *n = count;
    return 0;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

EvalPrompt *eval_prompts_random(const ModelConfig *c, int max_len, int *n, char *desc, size_t desc_n) {
    int sw = c->sliding_window > 0 ? c->sliding_window : 512;
    int lens[5] = {4, 12, 40, sw + 7, 2 * sw + 3};
    *n = 5;
    EvalPrompt *ps = xcalloc(5, sizeof *ps);
    int V = c->vocab_size, lo = V > 3 ? 3 : 0;
    int bos = c->bos_token_id >= 0 && c->bos_token_id < V ? c->bos_token_id : 0;
    size_t k = (size_t)snprintf(desc, desc_n, "5 prompts, BOS first, lengths");
    for (int i = 0; i < 5; i++) {
        int len = lens[i] < max_len ? lens[i] : max_len;
        if (len < 1) len = 1;
        if (k < desc_n) k += (size_t)snprintf(desc + k, desc_n - k, "%s %d", i ? "," : "", len);
        if (k < desc_n && len != lens[i]) k += (size_t)snprintf(desc + k, desc_n - k, " (clipped from %d)", lens[i]);
        uint64_t state = 0xE5A1ull * 1000003ull + (uint64_t)i;
        ps[i].ids = xmalloc(sizeof(int) * (size_t)len);
        ps[i].n = len;
        ps[i].ids[0] = bos;
        for (int j = 1; j < len; j++) ps[i].ids[j] = lo + (int)(splitmix64(&state) % (uint64_t)(V - lo));
    }
    return ps;
}

/* p->tokenizer, else tokenizer.json of the candidate, else of the reference; NULL (no error)
 * when there is none. *failed on a load error. */
static Tokenizer *find_tokenizer(const EvalPlan *p, int *failed) {
    *failed = 0;
    if (p->tokenizer) {
        Tokenizer *t = tok_load(p->tokenizer);
        *failed = !t;
        return t;
    }
    const char *dirs[2] = {p->candidate, p->reference};
    for (int i = 0; i < 2; i++) {
        Tokenizer *t;
        if (!dirs[i]) continue;
        *failed = tok_load_beside(dirs[i], &t) != 0;
        if (t || *failed) return t;
    }
    return NULL;
}

int eval_inputs_load(const EvalPlan *p, const ModelConfig *cfg, int context, EvalInputs *in) {
    memset(in, 0, sizeof *in);
    int failed;
    int need_tok = !p->text_ids_file;
    Tokenizer *tok = need_tok ? find_tokenizer(p, &failed) : NULL;
    if (need_tok && failed) return -1;
    int rc = 0;
    if (p->text_file || p->text_ids_file) {
        in->text = 1;
        if (p->text_file) {
            in->kind = "text";
            if (!tok) {
                err_set("--text needs a tokenizer (none found: give --tokenizer FILE, or --text-ids FILE)");
                rc = -1;
            } else {
                size_t len;
                char *text = read_user_text(p->text_file, (size_t)1 << 30, &len);
                if (!text) {
                    rc = -1;
                } else {
                    tok_encode(tok, text, len, 1, &in->ids, &in->n_ids);
                    free(text);
                }
            }
            snprintf(in->source, sizeof in->source, "%s (tokenized with BOS, no chat template)", p->text_file);
        } else {
            in->kind = "text-ids";
            in->ids = read_ids_file(p->text_ids_file, &in->n_ids);
            if (!in->ids) rc = -1;
            snprintf(in->source, sizeof in->source, "%s (token ids as given)", p->text_ids_file);
        }
        for (int i = 0; rc == 0 && i < in->n_ids; i++)
            if (in->ids[i] < 0 || in->ids[i] >= cfg->vocab_size) {
                err_set("%s: token id %d at position %d is outside the vocabulary (0..%d)",
                        p->text_file ? p->text_file : p->text_ids_file, in->ids[i], i, cfg->vocab_size - 1);
                rc = -1;
            }
    } else if (p->prompts_file) {
        in->kind = "file";
        rc = eval_prompts_read(p->prompts_file, tok, cfg->vocab_size, &in->prompts, &in->n_prompts);
        snprintf(in->source, sizeof in->source, "%s", p->prompts_file);
    } else if (tok) {
        in->kind = "builtin";
        if (!p->builtin_prompts) {
            err_set("the built-in prompt set data/eval_prompts.jsonl was not found (set ANEMLL_DATA to its folder, "
                    "or give --prompts FILE)");
            rc = -1;
        } else {
            rc = eval_prompts_read(p->builtin_prompts, tok, cfg->vocab_size, &in->prompts, &in->n_prompts);
            char *real = realpath(p->builtin_prompts, NULL);
            snprintf(in->source, sizeof in->source, "built-in prompt set %s", real ? real : p->builtin_prompts);
            free(real);
        }
    } else {
        in->kind = "random";
        char desc[512];
        in->prompts = eval_prompts_random(cfg, context - 1 > 1 ? context - 1 : 1, &in->n_prompts, desc, sizeof desc);
        snprintf(in->source, sizeof in->source, "built-in pseudo-random ids (no tokenizer): %s", desc);
    }
    if (rc == 0 && !in->text && p->max_prompts > 0 && in->n_prompts > p->max_prompts) {
        for (int i = p->max_prompts; i < in->n_prompts; i++) {
            free(in->prompts[i].ids);
            free(in->prompts[i].text);
        }
        in->n_prompts = p->max_prompts;
    }
    if (rc == 0 && !in->text)
        for (int i = 0; i < in->n_prompts; i++) in->chat_template |= in->prompts[i].text != NULL;
    tok_free(tok);
    if (rc) eval_inputs_free(in);
    return rc;
}

void eval_inputs_free(EvalInputs *in) {
    eval_prompts_free(in->prompts, in->n_prompts);
    free(in->ids);
    memset(in, 0, sizeof *in);
}

EvalPrompt *eval_inputs_fitting(const EvalInputs *in, int context, int *n, int *skipped) {
    EvalPrompt *ps = xcalloc((size_t)in->n_prompts + 1, sizeof *ps);
    *n = *skipped = 0;
    for (int i = 0; i < in->n_prompts; i++) {
        if (!strcmp(in->kind, "builtin") && in->prompts[i].n > context)
            ++*skipped;
        else
            ps[(*n)++] = in->prompts[i];
    }
    if (*n == 0) {
        err_set("no prompt fits the context of %d tokens", context);
        free(ps);
        return NULL;
    }
    return ps;
}

int eval_text_chunk(int requested, int context) { return requested && requested < context ? requested : context; }
