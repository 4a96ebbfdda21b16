/* include/anemll.h over the engine's modules: each handle wraps one internal object. */
#include "anemll.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert.h"
#include "convert/synth.h"
#include "eval/eval.h"
#include "generate/conversation.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/session.h"
#include "tokenizer/tokenizer.h"
#include "util/cpu.h"
#include "util/pool.h"
#include "util/util.h"

#ifndef ANEMLL_VERSION_STRING
#define ANEMLL_VERSION_STRING "unknown"
#endif

struct anemll_model {
    Model m;
};
struct anemll_tokenizer {
    Tokenizer *t;
};
struct anemll_session {
    Session ss;
};
struct anemll_sampler {
    Sampler s;
};
struct anemll_chat {
    Conversation c;
};
struct anemll_batch {
    RunState work;    /* the rows of a pass (its cache unused) */
    int max_sessions;
    float *logits;    /* [max_sessions, V]: the last row of each */
};

const char *anemll_last_error(void) { return err_get(); }
void anemll_free(void *p) { free(p); }
const char *anemll_version(void) { return ANEMLL_VERSION_STRING; }

/* ---- the machine ---- */

int anemll_kernel_families(anemll_kernel_info *out, int max) {
    int n = 0;
    for (int k = QMAT_KERNEL_SCALAR; k < QMAT_KERNEL_END; k++, n++)
        if (n < max)
            out[n] = (anemll_kernel_info){qmat_kernel_name((QMatKernel)k), qmat_kernel_compiled((QMatKernel)k),
                                          qmat_kernel_available((QMatKernel)k)};
    return n;
}

const char *anemll_kernel_active(void) { return qmat_kernel_name(qmat_active_kernel()); }
const char *anemll_kernel_note(void) { return qmat_kernel_env_note(); }

int anemll_cpu_features(anemll_cpu_feature *out, int max) {
    CpuFeature f[CPU_MAX_FEATURES];
    int n = cpu_features(f);
    for (int i = 0; i < n && i < max; i++) out[i] = (anemll_cpu_feature){f[i].name, f[i].present};
    return n;
}

int anemll_threads(void) { return pool_threads(); }
void anemll_set_threads(int n) { pool_set_threads(n); }
int anemll_threads_env(int *capped) { return pool_threads_env(capped); }

/* ---- models ---- */

int anemll_model_load(const char *path, anemll_model **out) {
    anemll_model *m = xmalloc(sizeof *m);
    if (model_load(&m->m, path)) {
        free(m);
        *out = NULL;
        return -1;
    }
    *out = m;
    return 0;
}

int anemll_model_check(const char *path) { return model_check_path(path); }

void anemll_model_free(anemll_model *m) {
    if (!m) return;
    model_free(&m->m);
    free(m);
}

void anemll_model_get_info(const anemll_model *m, anemll_model_info *out) {
    const ModelConfig *c = &m->m.cfg;
    out->dir = m->m.dir;
    out->converted = m->m.converted;
    out->vocab_size = c->vocab_size;
    out->hidden_size = c->hidden_size;
    out->num_layers = c->num_layers;
    out->sliding_window = c->sliding_window;
    out->default_context = model_default_context(&m->m);
    out->alpha = m->m.converted ? m->m.meta.alpha : 1.0;
    out->file_bytes = 0;
    for (int i = 0; i < m->m.st.n_files; i++) out->file_bytes += (double)m->m.st.files[i].size;
    double b = 0;
    for (int l = 0; l < c->num_layers; l++) {
        const LayerWeights *w = &m->m.w.layers[l];
        const QMatrix *mats[LAYER_NUM_MATRICES] = {LAYER_MATRICES(w)};
        for (int i = 0; i < LAYER_NUM_MATRICES; i++) b += (double)qmat_bytes(mats[i]);
    }
    b += (double)qmat_bytes(&m->m.w.lm_head); /* its codes8 where built, which decode reads instead of the indices */
    b += (double)qmat_bytes(&m->m.w.embed) / c->vocab_size;
    out->bytes_per_token = b;
    config_describe(c, out->shape, sizeof out->shape);
}

/* ---- read bandwidth ---- */

/* The weights a decoded token streams, as byte ranges; every thread sums its own slice of their
 * concatenation (8 bytes at a time through memcpy: the ranges need not be aligned). */
typedef struct {
    QStream *parts;
    int n;
    size_t total;
    uint64_t sums[POOL_MAX_THREADS];
} ReadJob;

static uint64_t sum_bytes(const uint8_t *p, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, v[4];
    size_t k = 0;
    for (; k + sizeof v <= n; k += sizeof v) {
        memcpy(v, p + k, sizeof v);
        s0 += v[0], s1 += v[1], s2 += v[2], s3 += v[3];
    }
    for (; k < n; k++) s0 += p[k];
    return s0 + s1 + s2 + s3;
}

static void read_task(void *ctx, int i, int n) {
    ReadJob *j = ctx;
    size_t a = j->total / (size_t)n * (size_t)i, b = i + 1 == n ? j->total : j->total / (size_t)n * (size_t)(i + 1);
    uint64_t s = 0;
    size_t off = 0; /* of part k in the concatenation */
    for (int k = 0; k < j->n && off < b; off += j->parts[k].bytes, k++) {
        size_t lo = a > off ? a : off, end = off + j->parts[k].bytes, hi = b < end ? b : end;
        if (lo < hi) s += sum_bytes((const uint8_t *)j->parts[k].data + (lo - off), hi - lo);
    }
    j->sums[i] = s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double anemll_read_bandwidth_gbs(const anemll_model *m, int repeats) {
    const ModelWeights *mw = &m->m.w;
    int L = m->m.cfg.num_layers;
    ReadJob j = {.parts = xmalloc(sizeof(QStream) * ((size_t)L * LAYER_NUM_MATRICES + 1))};
    for (int l = 0; l < L; l++) {
        const QMatrix *mats[LAYER_NUM_MATRICES] = {LAYER_MATRICES(&mw->layers[l])};
        for (int i = 0; i < LAYER_NUM_MATRICES; i++) j.parts[j.n++] = qmat_stream(mats[i]);
    }
    j.parts[j.n++] = qmat_stream(&mw->lm_head);
    for (int k = 0; k < j.n; k++) j.total += j.parts[k].bytes;
    if (repeats < 1) repeats = 1;
    double *gbs = xmalloc(sizeof(double) * (size_t)repeats);
    pool_run(read_task, &j, pool_threads()); /* pages mapped in, as decoding finds them */
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        pool_run(read_task, &j, pool_threads());
        gbs[r] = (double)j.total / (now_seconds() - t0) / 1e9;
    }
    qsort(gbs, (size_t)repeats, sizeof(double), cmp_double);
    double med = repeats % 2 ? gbs[repeats / 2] : 0.5 * (gbs[repeats / 2 - 1] + gbs[repeats / 2]);
    free(gbs);
    free(j.parts);
    return med;
}

/* What a FILE* writer produced, as one allocation. */
static int capture(int (*write)(const void *obj, FILE *f), const void *obj, char **text, size_t *len) {
    size_t n = 0;
    *text = NULL;
    FILE *f = open_memstream(text, &n);
    if (!f) {
        err_set("out of memory");
        return -1;
    }
    int bad = write(obj, f) != 0;
    bad |= ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        free(*text);
        *text = NULL;
        return -1;
    }
    if (len) *len = n;
    return 0;
}

static int describe(const void *m, FILE *f) {
    model_describe(&((const anemll_model *)m)->m, f);
    return 0;
}

int anemll_model_describe(const anemll_model *m, char **text, size_t *len) { return capture(describe, m, text, len); }

int anemll_measure_activations(const anemll_model *m, const char *calib_text, const char *calib_ids,
                               anemll_activations *out) {
    memset(out, 0, sizeof *out);
    int n;
    int *ids = calibration_ids(m->m.dir, calib_text, calib_ids, &n, out->calibration, sizeof out->calibration);
    if (!ids) return -1;
    out->num_layers = m->m.cfg.num_layers;
    out->layer_peaks = xcalloc((size_t)out->num_layers, sizeof(float));
    int rc = measure_residual_peaks(&m->m, ids, n, 64, out->layer_peaks, &out->peak, NULL, NULL);
    free(ids);
    if (rc) {
        free(out->layer_peaks);
        out->layer_peaks = NULL;
        return -1;
    }
    out->alpha = alpha_for_peak(out->peak);
    out->target_peak = FP16_SCALE_TARGET;
    return 0;
}

int anemll_model_source(const char *dir, char **source) {
    *source = NULL;
    char *mp = path_join(dir, "meta.yaml");
    ModelMeta *meta = xmalloc(sizeof *meta);
    int ok = file_exists(mp) && meta_read(meta, mp) == 0 && meta->source_checkpoint[0];
    if (ok) *source = xstrdup(meta->source_checkpoint);
    else err_set("%s: records no source checkpoint", dir);
    free(meta);
    free(mp);
    return ok ? 0 : -1;
}

int anemll_model_check_tokens(const anemll_model *m, const int *ids, int n, int context) {
    return model_check_tokens(&m->m, ids, n, context);
}

/* ---- tokenizer ---- */

static int wrap_tokenizer(Tokenizer *t, anemll_tokenizer **out) {
    *out = NULL;
    if (!t) return -1;
    *out = xmalloc(sizeof **out);
    (*out)->t = t;
    return 0;
}

int anemll_tokenizer_load(const char *path, anemll_tokenizer **out) { return wrap_tokenizer(tok_load(path), out); }

int anemll_tokenizer_for_model(const anemll_model *m, const char *override_path, anemll_tokenizer **out) {
    if (override_path) return anemll_tokenizer_load(override_path, out);
    Tokenizer *t;
    if (tok_load_beside(m->m.dir, &t) == 0 && !t)
        err_set("%s: no tokenizer.json in the model folder (give one with --tokenizer FILE)", m->m.dir);
    /* a tokenizer of another model would index logits out of range or miss most of them */
    if (t && (tok_vocab_size(t) > m->m.cfg.vocab_size + 64 || tok_vocab_size(t) < 3)) {
        err_set("tokenizer has %d tokens but the model's vocabulary is %d", tok_vocab_size(t), m->m.cfg.vocab_size);
        tok_free(t);
        t = NULL;
    }
    return wrap_tokenizer(t, out);
}

void anemll_tokenizer_free(anemll_tokenizer *t) {
    if (!t) return;
    tok_free(t->t);
    free(t);
}

int anemll_tokenize(const anemll_tokenizer *t, const char *text, size_t len, int add_bos, int **ids, int *n) {
    return tok_encode(t->t, text, len, add_bos, ids, n);
}

int anemll_detokenize(const anemll_tokenizer *t, const int *ids, int n, int skip_special, char **text, size_t *len) {
    *text = tok_decode(t->t, ids, n, skip_special, len);
    return *text ? 0 : -1;
}

int anemll_chat_template(const anemll_message *msgs, int n, int add_generation_prompt, char **text, size_t *len) {
    ChatMessage *cm = xcalloc((size_t)(n > 0 ? n : 1), sizeof *cm);
    for (int i = 0; i < n; i++)
        cm[i] = (ChatMessage){.role = msgs[i].role, .text = msgs[i].text, .len = strlen(msgs[i].text)};
    *text = chat_render(cm, n, add_generation_prompt, len);
    free(cm);
    return *text ? 0 : -1;
}

int anemll_chat_template_json(const char *json, size_t len, char **text, size_t *text_len) {
    *text = NULL;
    JsonValue *v = json_parse(json, len);
    if (!v) return -1;
    const JsonValue *agp = json_get(v, "add_generation_prompt");
    ChatMessage *msgs;
    int n;
    if (v->type != JSON_OBJECT)
        err_set("expected {\"messages\": [...], \"add_generation_prompt\": true|false}");
    else if (agp && agp->type != JSON_BOOL)
        err_set("\"add_generation_prompt\" must be true or false");
    else if (chat_messages_from_json(json_get(v, "messages"), &msgs, &n) == 0) {
        *text = chat_render(msgs, n, agp ? agp->boolean : 0, text_len);
        chat_messages_free(msgs, n);
    }
    json_free(v);
    return *text ? 0 : -1;
}

int anemll_chat_prompt_ids(const anemll_tokenizer *t, const char *system, const char *user, int **ids, int *n) {
    return chat_encode_prompt(t->t, system, user, 0, ids, n);
}

/* ---- sessions ---- */

_Static_assert(ANEMLL_PRECISION_Q8 == (int)PRECISION_Q8 && ANEMLL_PRECISION_FP32 == (int)PRECISION_FP32 &&
                   ANEMLL_PRECISION_FP16 == (int)PRECISION_FP16,
               "anemll_precision mirrors Precision");

int anemll_precision_parse(const char *name, anemll_precision *out) {
    Precision p;
    if (precision_parse(name, &p)) return -1;
    *out = (anemll_precision)p;
    return 0;
}

const char *anemll_precision_name(anemll_precision p) { return precision_name((Precision)p); }

void anemll_session_default_options(anemll_session_options *o) {
    memset(o, 0, sizeof *o);
    o->batch = 64;
    o->precision = ANEMLL_PRECISION_Q8;
}

int anemll_session_new(const anemll_model *m, const anemll_session_options *o, anemll_session **out) {
    anemll_session_options d;
    if (!o) {
        anemll_session_default_options(&d);
        o = &d;
    }
    *out = NULL;
    int context = o->context ? o->context : model_default_context(&m->m);
    if (context > m->m.cfg.max_position_embeddings) {
        err_set("context %d exceeds the model's max_position_embeddings %d", context,
                m->m.cfg.max_position_embeddings);
        return -1;
    }
    if (o->batch < 1) {
        err_set("batch %d: must be at least 1", o->batch);
        return -1;
    }
    anemll_session *s = xmalloc(sizeof *s);
    if (session_init(&s->ss, &m->m, context, o->batch)) {
        free(s);
        return -1;
    }
    runstate_set_precision(&s->ss.s, (Precision)o->precision);
    s->ss.s.overflow_continue = o->overflow_continue;
    *out = s;
    return 0;
}

void anemll_session_free(anemll_session *s) {
    if (!s) return;
    session_free(&s->ss);
    free(s);
}

int anemll_session_set(anemll_session *s, const int *ids, int n) { return session_set(&s->ss, ids, n); }
int anemll_session_push(anemll_session *s, int id) { return session_push(&s->ss, id); }

int anemll_session_truncate(anemll_session *s, int n) {
    if (n < 0 || n > s->ss.s.pos) {
        err_set("cannot keep %d positions of %d", n, s->ss.s.pos);
        return -1;
    }
    if (runstate_rewind(&s->ss.s, n)) runstate_reset(&s->ss.s); /* the rings lost the window: start over */
    return 0;
}

const float *anemll_session_logits(const anemll_session *s) { return s->ss.logits; }
int anemll_session_length(const anemll_session *s) { return s->ss.s.pos; }
const char *anemll_session_overflow(const anemll_session *s) { return s->ss.s.overflowed ? s->ss.s.overflow_where : NULL; }
int anemll_session_context(const anemll_session *s) { return s->ss.s.context; }
int anemll_session_last_prefilled(const anemll_session *s) { return s->ss.prefilled; }
double anemll_session_last_prefill_seconds(const anemll_session *s) { return s->ss.prefill_seconds; }

int anemll_session_logits_all(anemll_session *s, const int *ids, int n, anemll_logits_fn fn, void *ctx) {
    if (model_check_tokens(s->ss.m, ids, n, s->ss.s.context)) return -1;
    runstate_reset(&s->ss.s);
    int rc = model_prefill(s->ss.m, &s->ss.s, ids, n, LOGITS_ALL, NULL, fn, ctx);
    /* the cache holds ids now, but ss.ids does not know it: start the next set from scratch */
    runstate_reset(&s->ss.s);
    return rc;
}

/* ---- sampling ---- */

int anemll_sampler_new(int vocab_size, float temperature, int top_k, float top_p, uint64_t seed,
                       anemll_sampler **out) {
    *out = NULL;
    if (vocab_size < 1 || !(temperature >= 0) || top_k < 0 || !(top_p >= 0 && top_p <= 1)) {
        err_set("sampler: vocab_size >= 1, temperature >= 0, top_k >= 0 and top_p in [0, 1] are needed");
        return -1;
    }
    *out = xmalloc(sizeof **out);
    sampler_init(&(*out)->s, vocab_size, temperature, top_k, top_p, seed);
    return 0;
}

int anemll_sampler_sample(anemll_sampler *s, const float *logits) { return sampler_sample(&s->s, logits); }

void anemll_sampler_free(anemll_sampler *s) {
    if (!s) return;
    sampler_free(&s->s);
    free(s);
}

/* ---- generation ---- */

void anemll_generate_default_options(anemll_generate_options *o) {
    memset(o, 0, sizeof *o);
    o->max_tokens = 512;
}

/* The library's options for a reply: the caller's, a greedy sampler when none was given, and
 * the model's stop ids unless ignore_eos. */
typedef struct {
    GenOptions g;
    Sampler greedy;
    int has_greedy;
    int stops[16];
} ReplySetup;

static void reply_setup(ReplySetup *r, const Model *m, const Tokenizer *tok, const anemll_generate_options *o) {
    memset(r, 0, sizeof *r);
    r->g.max_tokens = o->max_tokens;
    if (o->sampler) {
        r->g.sampler = &o->sampler->s;
    } else {
        sampler_init(&r->greedy, m->cfg.vocab_size, 0.0f, 0, 1.0f, 0);
        r->has_greedy = 1;
        r->g.sampler = &r->greedy;
    }
    r->g.stop_ids = r->stops;
    r->g.n_stop_ids = o->ignore_eos ? 0 : reply_stop_ids(m, tok, r->stops, 16);
    r->g.stop_strings = o->stop_strings;
    r->g.n_stop_strings = o->n_stop_strings;
    r->g.on_token = o->on_token;
    r->g.ctx = o->ctx;
}

static void reply_setup_free(ReplySetup *r) {
    if (r->has_greedy) sampler_free(&r->greedy);
}

int anemll_generate(anemll_session *s, const anemll_tokenizer *t, const int *prompt, int n,
                    const anemll_generate_options *o, anemll_generate_result *r) {
    anemll_generate_result dummy;
    if (!r) r = &dummy;
    memset(r, 0, sizeof *r);
    if (o->max_tokens < 0) {
        err_set("max_tokens %d: must not be negative", o->max_tokens);
        return -1;
    }
    ReplySetup rs;
    reply_setup(&rs, s->ss.m, t ? t->t : NULL, o);
    Generation g;
    int rc = generation_init(&g, t ? t->t : NULL, &rs.g);
    if (rc == 0) {
        rc = session_set(&s->ss, prompt, n);
        if (rc == 0) {
            r->prefilled = s->ss.prefilled;
            r->reused = n - s->ss.prefilled;
            r->prefill_seconds = s->ss.prefill_seconds;
            int stop = generation_run(&g, &s->ss);
            rc = stop < 0 ? -1 : 0;
            generation_flush(&g);
            r->stop = (anemll_stop)g.stop;
            r->stop_id = g.stop_id;
            r->generated = g.n_ids;
            r->decode_seconds = g.decode_seconds;
        }
        generation_free(&g);
    }
    reply_setup_free(&rs);
    return rc;
}

/* ---- serving ---- */

int anemll_batch_new(const anemll_model *m, int max_tokens, int max_sessions, anemll_batch **out) {
    *out = NULL;
    if (max_sessions < 1 || max_sessions > max_tokens) {
        err_set("a batch of %d sessions in %d rows: expected 1..rows sessions", max_sessions, max_tokens);
        return -1;
    }
    anemll_batch *b = xcalloc(1, sizeof *b);
    if (runstate_init(&b->work, &m->m, max_tokens, max_tokens)) {
        free(b);
        return -1;
    }
    b->max_sessions = max_sessions;
    b->logits = xmalloc(sizeof(float) * (size_t)max_sessions * (size_t)m->m.cfg.vocab_size);
    *out = b;
    return 0;
}

void anemll_batch_free(anemll_batch *b) {
    if (!b) return;
    runstate_free(&b->work);
    free(b->logits);
    free(b);
}

int anemll_batch_run(anemll_batch *b, anemll_session *const *s, const int *const *ids, const int *n, int count) {
    if (count < 1 || count > b->max_sessions) {
        err_set("a batch of %d sessions (allowed 1..%d)", count, b->max_sessions);
        return -1;
    }
    Session **ss = xmalloc(sizeof *ss * (size_t)count);
    for (int i = 0; i < count; i++) ss[i] = &s[i]->ss;
    int rc = session_feed_batch(ss, ids, n, count, &b->work, b->logits);
    free(ss);
    return rc;
}

int anemll_batch_shared(const anemll_model *m, anemll_precision p) {
    return model_rows_independent(&m->m, (Precision)p);
}

int anemll_session_reuse(anemll_session *s, const int *ids, int n) { return session_reuse(&s->ss, ids, n); }

struct anemll_reply {
    ReplySetup rs;
    Generation g;
};

int anemll_reply_new(const anemll_model *m, const anemll_tokenizer *t, const anemll_generate_options *o,
                     anemll_reply **out) {
    *out = NULL;
    if (o->max_tokens < 0) {
        err_set("max_tokens %d: must not be negative", o->max_tokens);
        return -1;
    }
    anemll_reply *r = xcalloc(1, sizeof *r);
    reply_setup(&r->rs, &m->m, t ? t->t : NULL, o);
    if (generation_init(&r->g, t ? t->t : NULL, &r->rs.g)) {
        reply_setup_free(&r->rs);
        free(r);
        return -1;
    }
    r->g.o.stop_ids = r->rs.stops; /* the copy in g points at this allocation's ids */
    *out = r;
    return 0;
}

int anemll_reply_next(anemll_reply *r, const float *logits, int room, int *next, anemll_stop *stop) {
    int st = generation_next(&r->g, logits, room, next);
    if (st < 0) return -1;
    if (st == GEN_RUNNING) return 0;
    *stop = (anemll_stop)st;
    return 1;
}

void anemll_reply_flush(anemll_reply *r) { generation_flush(&r->g); }
int anemll_reply_generated(const anemll_reply *r) { return r->g.n_ids; }

void anemll_reply_free(anemll_reply *r) {
    if (!r) return;
    generation_free(&r->g);
    reply_setup_free(&r->rs);
    free(r);
}

int anemll_chat_new(anemll_session *s, const anemll_tokenizer *t, const anemll_chat_options *o, anemll_chat **out) {
    anemll_chat_options d = {0};
    if (!o) o = &d;
    *out = NULL;
    if (!s || !t) {
        err_set("a conversation needs a session and a tokenizer");
        return -1;
    }
    *out = xmalloc(sizeof **out);
    conversation_init(&(*out)->c, t->t, &s->ss, o->system, o->keep_history, o->raw);
    return 0;
}

int anemll_chat_reply(anemll_chat *c, const char *user, const anemll_generate_options *o, anemll_generate_result *r) {
    anemll_generate_result dummy;
    if (!r) r = &dummy;
    memset(r, 0, sizeof *r);
    ReplySetup rs;
    reply_setup(&rs, c->c.ss->m, c->c.tok, o);
    ReplyStats st;
    int rc = conversation_reply(&c->c, user, &rs.g, &st);
    reply_setup_free(&rs);
    if (rc) return -1;
    r->stop = (anemll_stop)st.stop;
    r->stop_id = st.stop_id;
    r->generated = st.generated;
    r->prefilled = st.prefilled;
    r->reused = st.reused;
    r->turns_dropped = st.turns_dropped;
    r->prefill_seconds = st.prefill_seconds;
    r->decode_seconds = st.decode_seconds;
    return 0;
}

int anemll_chat_turns(const anemll_chat *c) { return c->c.n_turns; }

void anemll_chat_free(anemll_chat *c) {
    if (!c) return;
    conversation_free(&c->c);
    free(c);
}

/* ---- conversion, synth ---- */

void anemll_convert_default_options(anemll_convert_options *o) {
    memset(o, 0, sizeof *o);
    o->lut_embeddings = "none";
    o->lut_ffn = "4,4";
    o->lut_lmhead = "6,4";
    o->fp16_scale = "auto";
    o->chunks = 2;
    o->batch = 64;
}

static int parse_scale(const char *s, ScaleMode *mode, double *alpha) {
    if (!strcmp(s, "auto")) {
        *mode = SCALE_AUTO;
        return 0;
    }
    if (!strcmp(s, "none")) {
        *mode = SCALE_NONE;
        return 0;
    }
    char *end;
    *alpha = strtod(s, &end);
    if (end == s || *end || !(*alpha >= FP16_SCALE_MIN && *alpha <= 1)) {
        err_set("--fp16-scale '%s': expected auto, none or a number in [1/1024, 1] (a smaller alpha pushes the "
                "weights into FP16's subnormal range)", s);
        return -1;
    }
    *mode = SCALE_FIXED;
    return 0;
}

int anemll_convert(const char *hf_dir, const char *out_dir, const anemll_convert_options *o,
                   anemll_convert_report *r) {
    memset(r, 0, sizeof *r);
    ConvertOptions co;
    memset(&co, 0, sizeof co);
    co.context = o->context;
    co.batch = o->batch ? o->batch : 64;
    co.chunks = o->chunks ? o->chunks : 2;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    co.threads = o->threads > 0 ? o->threads : nproc > 0 ? (int)nproc : 1;
    co.force = o->force;
    co.command_line = o->command_line;
    co.progress = (Progress){o->progress, o->progress_ctx};
    if (lut_spec_parse(o->lut_embeddings ? o->lut_embeddings : "none", &co.lut_embeddings) ||
        lut_spec_parse(o->lut_ffn ? o->lut_ffn : "4,4", &co.lut_ffn) ||
        lut_spec_parse(o->lut_lmhead ? o->lut_lmhead : "6,4", &co.lut_lmhead) ||
        parse_scale(o->fp16_scale ? o->fp16_scale : "auto", &co.scale_mode, &co.alpha))
        return -1;
    int n;
    int *ids = calibration_ids(hf_dir, o->calib_text, o->calib_ids, &n, r->calibration, sizeof r->calibration);
    if (!ids) return -1;
    co.calib_ids = ids;
    co.n_calib = n;
    co.calib_desc = r->calibration;
    ConvertReport cr;
    int rc = convert_model(hf_dir, out_dir, &co, &cr);
    free(ids);
    r->alpha = cr.alpha;
    r->peak_before = cr.peak_before;
    r->peak_after = cr.peak_after;
    r->seconds = cr.seconds;
    return rc;
}

int anemll_synth(const char *shape, const char *out_dir, int vocab, uint64_t seed, anemll_progress_fn progress,
                 void *progress_ctx) {
    Progress p = {progress, progress_ctx};
    return synth_write(shape, out_dir, vocab, seed, &p);
}

/* ---- quality report ---- */

_Static_assert(ANEMLL_EVAL_CANDIDATE_DRIVES == (int)EVAL_DRIVER_CANDIDATE &&
                   ANEMLL_EVAL_REFERENCE_DRIVES == (int)EVAL_DRIVER_REFERENCE,
               "anemll_eval_driver mirrors EvalDriver");

struct anemll_eval_report {
    EvalReport *r;
};

void anemll_eval_default_options(anemll_eval_options *o) {
    EvalPlan p;
    eval_plan_init(&p);
    memset(o, 0, sizeof *o);
    o->steps = p.steps;
    o->driver = (anemll_eval_driver)p.driver;
    o->precision = (anemll_precision)p.precision;
}

/* The caller's phase callback, given the public form of a phase. */
typedef struct {
    const anemll_eval_options *o;
} PhaseRelay;

static int relay_phase(void *ctx, const EvalPhase *ph) {
    const anemll_eval_options *o = ((PhaseRelay *)ctx)->o;
    anemll_eval_phase p = {ph->kind == EVAL_PHASE_SCORE, ph->end, ph->ok, ph->label, ph->index, ph->count,
                           ph->text, ph->results, ph->scored_steps, ph->seconds};
    return o->phase(o->progress_ctx, &p);
}

static int relay_progress(void *ctx, const char *stage, const char *unit, long done, long total) {
    const anemll_eval_options *o = ((PhaseRelay *)ctx)->o;
    return o->progress(o->progress_ctx, stage, unit, done, total);
}

int anemll_eval(const anemll_eval_options *o, anemll_eval_report **out) {
    *out = NULL;
    PhaseRelay relay = {o};
    EvalPlan p;
    eval_plan_init(&p);
    p.candidate = o->candidate;
    p.reference = o->reference;
    p.sweep = o->sweep;
    p.configs = o->configs;
    p.n_configs = o->n_configs;
    p.prompts_file = o->prompts_file;
    p.text_file = o->text_file;
    p.text_ids_file = o->text_ids_file;
    p.builtin_prompts = o->builtin_prompts;
    p.tokenizer = o->tokenizer;
    p.max_prompts = o->max_prompts;
    p.steps = o->steps;
    p.chunk = o->chunk;
    p.driver = (EvalDriver)o->driver;
    p.precision = (Precision)o->precision;
    p.label = o->label;
    p.command_line = o->command_line;
    if (o->progress) p.progress = (Progress){relay_progress, &relay};
    if (o->phase) {
        p.phase = relay_phase;
        p.progress.ctx = &relay;
    }
    EvalReport *r;
    if (eval_run(&p, &r)) return -1;
    *out = xmalloc(sizeof **out);
    (*out)->r = r;
    return 0;
}

static int report_text(const void *r, FILE *f) {
    eval_report_print_text(f, ((const anemll_eval_report *)r)->r);
    return 0;
}

static int report_json(const void *r, FILE *f) { return eval_report_write_json(f, ((const anemll_eval_report *)r)->r); }

int anemll_eval_report_text(const anemll_eval_report *r, char **text, size_t *len) {
    return capture(report_text, r, text, len);
}

int anemll_eval_report_json(const anemll_eval_report *r, char **json, size_t *len) {
    return capture(report_json, r, json, len);
}

void anemll_eval_report_free(anemll_eval_report *r) {
    if (!r) return;
    eval_report_free(r->r);
    free(r);
}
