/* `serve`: an OpenAI-compatible HTTP server on the library API. libmicrohttpd speaks HTTP (one
 * thread per connection); serve_request.c turns bodies into requests, serve_sched.c batches the
 * generation of every open request into one forward pass per step. A connection thread waits for
 * its request's text and streams it (SSE) or sends it whole; it notices a client that left by
 * polling the socket while it waits, and cancels the request so its slot frees. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "cli/serve_request.h"
#include "cli/serve_sched.h"
#include "util/util.h"

#define BODY_LIMIT (1u << 20)  /* 1 MiB */
#define WAIT_SLICE_MS 100      /* how often a waiting connection checks that its client is there */

typedef struct {
    Sched sched;
    anemll_model *m;
    anemll_tokenizer *t;
    char model_id[256];
    const char *api_key;
    int context, vocab;
    atomic_ullong requests, errors, disconnects;
    atomic_ullong next_id;
    atomic_int open_exchanges; /* generation requests whose response is not yet all sent */
} Server;

/* One HTTP request while its body arrives. */
typedef struct {
    Buf body;
    int too_big;
} Upload;

/* ---- responses ---- */

static enum MHD_Result send_buf(struct MHD_Connection *c, int status, const char *type, Buf *b) {
    struct MHD_Response *r = MHD_create_response_from_buffer(b->n, b->p, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    if (status == 503) MHD_add_response_header(r, "Retry-After", "1");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    free(b->p);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, Buf *b) {
    return send_buf(c, status, "application/json", b);
}

static enum MHD_Result send_error(Server *S, struct MHD_Connection *c, int status, const char *message,
                                  const char *param, const char *code) {
    atomic_fetch_add(&S->errors, 1);
    const char *type = status == 401 ? "authentication_error" : status == 404 ? "not_found_error"
                       : status == 503 ? "overloaded_error" : status >= 500 ? "server_error" : "invalid_request_error";
    Buf b = {0};
    json_put_error(&b, message, type, param, code);
    return send_json(c, status, &b);
}

static void put_num(Buf *b, const char *fmt, long long v) {
    char s[256];
    snprintf(s, sizeof s, fmt, v);
    buf_puts(b, s);
}

/* ---- what a generation request becomes ---- */

/* Everything a response needs about its request, kept until the response is sent. */
typedef struct {
    Server *S;
    Job job;
    ServeRequest req;
    int chat;
    char id[48];
    long long created;
    int fd;               /* the client's socket, to notice it leaving */
    /* streaming */
    Buf out;              /* formatted bytes not yet handed to MHD */
    size_t out_off, text_sent;
    int sent_head, sent_end;
} Exchange;

static void exchange_free(Exchange *x) {
    atomic_fetch_sub(&x->S->open_exchanges, 1);
    job_free(&x->job);
    serve_request_free(&x->req);
    free(x->out.p);
    free(x);
}

/* Whether the client closed its end (checked while waiting, without reading anything). */
static int client_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Wait (mu held) until the job has text past `seen` or is over; 0, or -1 when the client left. */
static int wait_job(Exchange *x, size_t seen) {
    Sched *S = &x->S->sched;
    while (x->job.held && x->job.text.n <= seen) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&x->job.cv, &S->mu, &ts);
        if (x->job.held && client_gone(x->fd)) {
            sched_cancel(S, &x->job);
            atomic_fetch_add(&x->S->disconnects, 1);
            return -1;
        }
    }
    return 0;
}

static void put_usage(Buf *b, const Exchange *x) {
    put_num(b, "{\"prompt_tokens\": %lld", x->job.n_ids);
    put_num(b, ", \"completion_tokens\": %lld", x->job.generated);
    put_num(b, ", \"total_tokens\": %lld", (long long)x->job.n_ids + x->job.generated);
    put_num(b, ", \"prompt_tokens_details\": {\"cached_tokens\": %lld}}", x->job.cached);
}

static void put_head(Buf *b, const Exchange *x, const char *object) {
    buf_puts(b, "{\"id\": ");
    json_put_string(b, x->id, strlen(x->id));
    buf_puts(b, ", \"object\": \"");
    buf_puts(b, object);
    put_num(b, "\", \"created\": %lld, \"model\": ", x->created);
    json_put_string(b, x->S->model_id, strlen(x->S->model_id));
}

/* The whole response of a request that is over. */
static void put_response(Buf *b, const Exchange *x) {
    put_head(b, x, x->chat ? "chat.completion" : "text_completion");
    buf_puts(b, ", \"choices\": [{\"index\": 0, ");
    if (x->chat) {
        buf_puts(b, "\"message\": {\"role\": \"assistant\", \"content\": ");
        json_put_string(b, x->job.text.p, x->job.text.n);
        buf_puts(b, "}");
    } else {
        buf_puts(b, "\"text\": ");
        json_put_string(b, x->job.text.p, x->job.text.n);
    }
    buf_puts(b, ", \"logprobs\": null, \"finish_reason\": \"");
    buf_puts(b, x->job.finish);
    buf_puts(b, "\"}], \"usage\": ");
    put_usage(b, x);
    buf_puts(b, "}");
}

/* One SSE event: a chunk with the text delta (or the first chunk's role, or the finish reason). */
static void put_chunk(Buf *b, const Exchange *x, const char *text, size_t len, int head, const char *finish) {
    buf_puts(b, "data: ");
    put_head(b, x, x->chat ? "chat.completion.chunk" : "text_completion");
    buf_puts(b, ", \"choices\": [{\"index\": 0, ");
    if (x->chat) {
        buf_puts(b, "\"delta\": {");
        if (head) buf_puts(b, "\"role\": \"assistant\", \"content\": \"\"");
        else if (!finish) buf_puts(b, "\"content\": "), json_put_string(b, text, len);
        buf_puts(b, "}");
    } else {
        buf_puts(b, "\"text\": ");
        json_put_string(b, text, len);
    }
    buf_puts(b, ", \"logprobs\": null, \"finish_reason\": ");
    if (finish) buf_puts(b, "\""), buf_puts(b, finish), buf_puts(b, "\"");
    else buf_puts(b, "null");
    buf_puts(b, "}]");
    if (x->req.include_usage) buf_puts(b, ", \"usage\": null");
    buf_puts(b, "}\n\n");
}

/* MHD asks for more of a stream: format what the job produced since the last call. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    Exchange *x = cls;
    (void)pos;
    while (x->out_off == x->out.n) {
        if (x->sent_end) return MHD_CONTENT_READER_END_OF_STREAM;
        x->out.n = x->out_off = 0;
        Sched *S = &x->S->sched;
        pthread_mutex_lock(&S->mu);
        if (!x->sent_head) {
            if (x->chat) put_chunk(&x->out, x, "", 0, 1, NULL);
            x->sent_head = 1;
        } else if (wait_job(x, x->text_sent)) {
            pthread_mutex_unlock(&S->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (x->job.text.n > x->text_sent) {
            put_chunk(&x->out, x, x->job.text.p + x->text_sent, x->job.text.n - x->text_sent, 0, NULL);
            x->text_sent = x->job.text.n;
        }
        if (!x->job.held) {
            if (x->job.failed) {
                buf_puts(&x->out, "data: ");
                json_put_error(&x->out, x->job.error, "server_error", NULL, "generation_failed");
                buf_puts(&x->out, "\n\n");
            } else {
                put_chunk(&x->out, x, "", 0, 0, x->job.finish);
                if (x->req.include_usage) {
                    buf_puts(&x->out, "data: ");
                    put_head(&x->out, x, x->chat ? "chat.completion.chunk" : "text_completion");
                    buf_puts(&x->out, ", \"choices\": [], \"usage\": ");
                    put_usage(&x->out, x);
                    buf_puts(&x->out, "}\n\n");
                }
            }
            buf_puts(&x->out, "data: [DONE]\n\n");
            x->sent_end = 1;
        }
        pthread_mutex_unlock(&S->mu);
    }
    size_t n = x->out.n - x->out_off < max ? x->out.n - x->out_off : max;
    memcpy(buf, x->out.p + x->out_off, n);
    x->out_off += n;
    return (ssize_t)n;
}

/* The response is done with (sent, or the connection closed): stop the job if it still runs. */
static void stream_free(void *cls) {
    Exchange *x = cls;
    Sched *S = &x->S->sched;
    pthread_mutex_lock(&S->mu);
    if (x->job.held) sched_cancel(S, &x->job);
    pthread_mutex_unlock(&S->mu);
    exchange_free(x);
}

/* The prompt ids of a chat or completion request; 0, or -1 with the message in err. */
static int prompt_ids(Server *S, Exchange *x, char *err, size_t errlen) {
    ServeRequest *r = &x->req;
    int rc;
    if (x->chat) {
        anemll_message *msgs = xcalloc((size_t)r->n_messages, sizeof *msgs);
        for (int i = 0; i < r->n_messages; i++) msgs[i] = (anemll_message){r->messages[i].role, r->messages[i].text};
        char *text = NULL;
        size_t len;
        rc = anemll_chat_template(msgs, r->n_messages, 1, &text, &len);
        free(msgs);
        if (rc == 0) rc = anemll_tokenize(S->t, text, len, 0, &x->job.ids, &x->job.n_ids);
        anemll_free(text);
    } else {
        rc = anemll_tokenize(S->t, r->prompt, r->prompt_len, 1, &x->job.ids, &x->job.n_ids);
    }
    if (rc) snprintf(err, errlen, "%s", anemll_last_error());
    return rc;
}

static enum MHD_Result generate(Server *S, struct MHD_Connection *c, const Upload *u, int chat) {
    Exchange *x = xcalloc(1, sizeof *x);
    x->S = S;
    atomic_fetch_add(&S->open_exchanges, 1);
    x->chat = chat;
    job_init(&x->job);
    ServeError e;
    if (serve_request_parse(u->body.p, u->body.n, chat ? SERVE_CHAT : SERVE_COMPLETION, &x->req, &e)) {
        exchange_free(x);
        return send_error(S, c, 400, e.message, e.param, e.code);
    }
    char err[300];
    if (prompt_ids(S, x, err, sizeof err)) {
        exchange_free(x);
        return send_error(S, c, 400, err, chat ? "messages" : "prompt", "invalid_value");
    }
    if (x->job.n_ids >= S->context) {
        snprintf(err, sizeof err, "the prompt has %d tokens; the context holds %d (at most %d prompt tokens)",
                 x->job.n_ids, S->context, S->context - 1);
        exchange_free(x);
        return send_error(S, c, 400, err, chat ? "messages" : "prompt", "context_length_exceeded");
    }
    /* the rest of the context at most: a longer request ends there with finish_reason "length" */
    int room = S->context - x->job.n_ids;
    x->job.max_tokens = x->req.max_tokens && x->req.max_tokens < room ? x->req.max_tokens : room;
    for (int i = 0; i < x->req.n_stop; i++) x->job.stops[i] = x->req.stop[i];
    x->job.n_stops = x->req.n_stop;
    x->job.ignore_eos = x->req.ignore_eos;
    if (x->req.temperature > 0) {
        uint64_t seed = x->req.has_seed ? (uint64_t)x->req.seed
                                        : (uint64_t)time(NULL) * 6364136223846793005ull + atomic_fetch_add(&S->next_id, 1);
        if (anemll_sampler_new(S->vocab, (float)x->req.temperature, 0, (float)x->req.top_p, seed, &x->job.sampler)) {
            exchange_free(x);
            return send_error(S, c, 400, anemll_last_error(), "temperature", "invalid_value");
        }
    }
    snprintf(x->id, sizeof x->id, "%s-%llu", chat ? "chatcmpl" : "cmpl", (unsigned long long)atomic_fetch_add(&S->next_id, 1));
    x->created = (long long)time(NULL);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    x->fd = ci ? ci->connect_fd : -1;

    Sched *sc = &S->sched;
    pthread_mutex_lock(&sc->mu);
    int queued = sched_submit(sc, &x->job) == 0;
    pthread_mutex_unlock(&sc->mu);
    if (!queued) {
        exchange_free(x);
        return send_error(S, c, 503, "the server is busy: every slot and the queue are full; retry later", NULL,
                          "server_busy");
    }
    if (x->req.stream) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, x, stream_free);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
    }
    pthread_mutex_lock(&sc->mu);
    int gone = 0;
    while (x->job.held && !gone) gone = wait_job(x, x->job.text.n) != 0;
    pthread_mutex_unlock(&sc->mu);
    if (gone) {
        exchange_free(x);
        return MHD_NO; /* nobody to answer: close the connection */
    }
    Buf b = {0};
    enum MHD_Result ok;
    if (x->job.failed) {
        ok = send_error(S, c, x->job.status ? x->job.status : 500, x->job.error, NULL,
                        x->job.status == 503 ? "server_busy" : "generation_failed");
    } else {
        put_response(&b, x);
        ok = send_json(c, MHD_HTTP_OK, &b);
    }
    exchange_free(x);
    return ok;
}

/* ---- the other routes ---- */

static enum MHD_Result tokenize(Server *S, struct MHD_Connection *c, const Upload *u, int detok) {
    ServeRequest r;
    ServeError e;
    if (serve_request_parse(u->body.p, u->body.n, detok ? SERVE_DETOKENIZE : SERVE_TOKENIZE, &r, &e))
        return send_error(S, c, 400, e.message, e.param, e.code);
    Buf b = {0};
    enum MHD_Result ok;
    if (detok) {
        char *text = NULL;
        size_t len;
        if (anemll_model_check_tokens(S->m, r.tokens, r.n_tokens, 1 << 30) ||
            anemll_detokenize(S->t, r.tokens, r.n_tokens, 0, &text, &len)) {
            ok = send_error(S, c, 400, anemll_last_error(), "tokens", "invalid_value");
        } else {
            buf_puts(&b, "{\"content\": ");
            json_put_string(&b, text, len);
            buf_puts(&b, "}");
            ok = send_json(c, MHD_HTTP_OK, &b);
        }
        anemll_free(text);
    } else {
        int *ids = NULL, n = 0;
        if (anemll_tokenize(S->t, r.prompt, r.prompt_len, r.add_special, &ids, &n)) {
            ok = send_error(S, c, 400, anemll_last_error(), "content", "invalid_value");
        } else {
            buf_puts(&b, "{\"tokens\": [");
            for (int i = 0; i < n; i++) put_num(&b, i ? ", %lld" : "%lld", ids[i]);
            buf_puts(&b, "]}");
            ok = send_json(c, MHD_HTTP_OK, &b);
        }
        anemll_free(ids);
    }
    serve_request_free(&r);
    return ok;
}

static enum MHD_Result models(Server *S, struct MHD_Connection *c) {
    Buf b = {0};
    buf_puts(&b, "{\"object\": \"list\", \"data\": [{\"id\": ");
    json_put_string(&b, S->model_id, strlen(S->model_id));
    put_num(&b, ", \"object\": \"model\", \"created\": %lld, \"owned_by\": \"anemll\"}]}", (long long)time(NULL));
    return send_json(c, MHD_HTTP_OK, &b);
}

static enum MHD_Result metrics(Server *S, struct MHD_Connection *c) {
    Sched *sc = &S->sched;
    pthread_mutex_lock(&sc->mu);
    int busy = sched_busy_slots(sc), queued = sc->queue_len;
    unsigned long long fin = sc->finished, pt = sc->prompt_tokens, ct = sc->cached_tokens,
                       gt = sc->completion_tokens, steps = sc->steps, rows = sc->step_rows;
    double secs = sc->busy_seconds;
    pthread_mutex_unlock(&sc->mu);
    char s[2048];
    snprintf(s, sizeof s,
             "# HELP anemll_http_requests_total HTTP requests received.\n# TYPE anemll_http_requests_total counter\n"
             "anemll_http_requests_total %llu\n"
             "# HELP anemll_http_errors_total Requests answered with an error status.\n"
             "# TYPE anemll_http_errors_total counter\nanemll_http_errors_total %llu\n"
             "# HELP anemll_client_disconnects_total Requests whose client left before the end.\n"
             "# TYPE anemll_client_disconnects_total counter\nanemll_client_disconnects_total %llu\n"
             "# HELP anemll_requests_finished_total Generations that ran to their end.\n"
             "# TYPE anemll_requests_finished_total counter\nanemll_requests_finished_total %llu\n"
             "# HELP anemll_prompt_tokens_total Prompt tokens of admitted requests.\n"
             "# TYPE anemll_prompt_tokens_total counter\nanemll_prompt_tokens_total %llu\n"
             "# HELP anemll_prompt_tokens_cached_total Prompt tokens a slot's cache already held.\n"
             "# TYPE anemll_prompt_tokens_cached_total counter\nanemll_prompt_tokens_cached_total %llu\n"
             "# HELP anemll_completion_tokens_total Tokens generated.\n"
             "# TYPE anemll_completion_tokens_total counter\nanemll_completion_tokens_total %llu\n"
             "# HELP anemll_batch_steps_total Forward passes run.\n# TYPE anemll_batch_steps_total counter\n"
             "anemll_batch_steps_total %llu\n"
             "# HELP anemll_batch_rows_total Token rows those passes ran.\n# TYPE anemll_batch_rows_total counter\n"
             "anemll_batch_rows_total %llu\n"
             "# HELP anemll_busy_seconds_total Seconds spent in forward passes.\n"
             "# TYPE anemll_busy_seconds_total counter\nanemll_busy_seconds_total %.3f\n"
             "# HELP anemll_queue_depth Requests waiting for a slot.\n# TYPE anemll_queue_depth gauge\n"
             "anemll_queue_depth %d\n"
             "# HELP anemll_slots_busy Slots serving a request.\n# TYPE anemll_slots_busy gauge\n"
             "anemll_slots_busy %d\n"
             "# HELP anemll_slots Slots (--parallel).\n# TYPE anemll_slots gauge\nanemll_slots %d\n"
             "# HELP anemll_tokens_per_second Generated tokens per busy second, since the start.\n"
             "# TYPE anemll_tokens_per_second gauge\nanemll_tokens_per_second %.2f\n",
             (unsigned long long)atomic_load(&S->requests), (unsigned long long)atomic_load(&S->errors),
             (unsigned long long)atomic_load(&S->disconnects), fin, pt, ct, gt, steps, rows, secs, queued, busy,
             sc->n_slots, secs > 0 ? gt / secs : 0.0);
    Buf b = {0};
    buf_puts(&b, s);
    return send_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4", &b);
}

/* Compares every byte whatever the first difference, so the time taken does not tell how much of
 * a guessed key was right. */
static int key_matches(const char *given, const char *key) {
    size_t gl = strlen(given), kl = strlen(key);
    unsigned char diff = gl != kl;
    for (size_t i = 0; i < kl; i++) diff |= (unsigned char)(key[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state) {
    Server *S = cls;
    Upload *u = *state;
    (void)version;
    if (!u) { /* headers are in: a body announced over the limit is refused before it is read */
        u = xcalloc(1, sizeof *u);
        *state = u;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > BODY_LIMIT) u->too_big = 1;
        else return MHD_YES;
    }
    if (*upload_size) {
        if (u->body.n + *upload_size > BODY_LIMIT) u->too_big = 1;
        if (!u->too_big) buf_put(&u->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&S->requests, 1);
    if (u->too_big) return send_error(S, c, 413, "the request body is over the 1 MiB limit", NULL, "body_too_large");
    if (!u->body.p) buf_puts(&u->body, "");
    if (S->api_key && strcmp(url, "/health")) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth || strncmp(auth, "Bearer ", 7) || !key_matches(auth + 7, S->api_key))
            return send_error(S, c, 401, "missing or wrong API key (Authorization: Bearer KEY)", NULL,
                              "invalid_api_key");
    }
    static const struct {
        const char *path, *method;
        int route;
    } routes[] = {
        {"/health", "GET", 0},        {"/v1/models", "GET", 1},    {"/metrics", "GET", 2},
        {"/v1/chat/completions", "POST", 3}, {"/v1/completions", "POST", 4}, {"/tokenize", "POST", 5},
        {"/detokenize", "POST", 6},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(url, routes[i].path)) continue;
        if (strcmp(method, routes[i].method)) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s takes %s, not %s", routes[i].path, routes[i].method, method);
            return send_error(S, c, 405, msg, NULL, "method_not_allowed");
        }
        switch (routes[i].route) {
        case 0: {
            Buf b = {0};
            buf_puts(&b, "{\"status\": \"ok\"}");
            return send_json(c, MHD_HTTP_OK, &b);
        }
        case 1: return models(S, c);
        case 2: return metrics(S, c);
        case 3: return generate(S, c, u, 1);
        case 4: return generate(S, c, u, 0);
        case 5: return tokenize(S, c, u, 0);
        default: return tokenize(S, c, u, 1);
        }
    }
    char msg[128];
    snprintf(msg, sizeof msg, "no route %.80s", url);
    return send_error(S, c, 404, msg, NULL, "not_found");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode code) {
    Upload *u = *state;
    (void)cls, (void)c, (void)code;
    if (!u) return;
    free(u->body.p);
    free(u);
    *state = NULL;
}

/* ---- the command ---- */

static const ArgSpec serve_args[] = {
    {"--host", NULL, "ADDR", "127.0.0.1", "address to listen on (another than loopback wants --api-key)", 0},
    {"--port", NULL, "N", "8080", "port to listen on; 0 = any free port (the line printed names it)", 0},
    {"--parallel", NULL, "N", "4", "slots: requests generated at once, batched into one pass per token", 0},
    {"--context", NULL, "N", "meta.yaml's context_length, else max_position_embeddings up to 4096",
     "positions of each slot's KV cache (prompt + reply)", 0},
    {"--timeout", NULL, "S", "30", "drop a client that sends or reads nothing for S seconds", 0},
    {"--queue", NULL, "N", "16 per slot", "requests waiting for a slot at most; more get 503 with Retry-After", 0},
    {"--api-key", NULL, "KEY", NULL, "require `Authorization: Bearer KEY` on every route but /health", 0},
    {"--threads", NULL, "N", "all cores ($ANEMLL_THREADS)", "threads of the matmuls", 0},
    {"--tokenizer", NULL, "FILE", "tokenizer.json in the model folder", "the tokenizer", 0},
    {0},
};

const CommandSpec serve_spec = {
    "serve",
    "an OpenAI-compatible HTTP server (chat, completions, streaming)",
    "[--model DIR] [--host ADDR] [--port N] [--parallel N] [options]",
    "Serves a model over HTTP with OpenAI's API shapes: POST /v1/chat/completions and /v1/completions (with "
    "stream: true as server-sent events), GET /v1/models, GET /health, GET /metrics (Prometheus), POST "
    "/tokenize and /detokenize. Prints `listening on http://HOST:PORT` when ready. The requests under way share "
    "one forward pass per token (--parallel slots, each with its own KV cache); greedy replies are the same "
    "bits as `anemll chat`. A slot keeps its cache after a request, so a follow-up that repeats a conversation "
    "prefills only what is new. Bodies over 1 MiB get 413, a full queue 503; Ctrl-C or SIGTERM ends the "
    "streams under way and exits 0.",
    (const ArgSpec *const[]){model_args, serve_args, NULL},
    "anemll serve\n"
    "anemll serve --model /tmp/gemma3-1b-lut --port 8000 --parallel 8\n"
    "curl http://127.0.0.1:8080/v1/chat/completions -d '{\"messages\": [{\"role\": \"user\", \"content\": \"What is a kluge?\"}]}'",
};

/* The address to bind: an IPv4 or IPv6 literal, or a name that resolves to one. */
static int resolve(const char *host, int port, struct sockaddr_storage *sa, int *v6) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc) {
        err_set("--host %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static int is_loopback(const struct sockaddr_storage *sa) {
    if (sa->ss_family == AF_INET) return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a);
}

int cmd_serve(int argc, char **argv) {
    Args a;
    args_init(&a, &serve_spec, argc, argv);
    const char *dir = arg_str(&a, "--model", NULL);
    const char *tok_path = arg_str(&a, "--tokenizer", NULL);
    const char *host = arg_str(&a, "--host", "127.0.0.1");
    int port = (int)arg_int(&a, "--port", 8080, 0, 65535);
    int parallel = (int)arg_int(&a, "--parallel", 4, 1, 256);
    int context = (int)arg_int(&a, "--context", 0, 2, 1 << 24);
    int queue = (int)arg_int(&a, "--queue", 16L * parallel, 0, 1 << 20);
    int timeout = (int)arg_int(&a, "--timeout", 30, 1, 86400);
    const char *api_key = arg_str(&a, "--api-key", NULL);
    int threads = (int)arg_int(&a, "--threads", 0, 1, 256);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (api_key && !*api_key) {
        fprintf(stderr, "anemll: error: --api-key must not be empty\n");
        return 2;
    }
    struct sockaddr_storage sa;
    int v6;
    if (model_arg(dir, &dir) || check_input(tok_path) || resolve(host, port, &sa, &v6)) return fail_with_error();

    /* SIGINT and SIGTERM are taken by sigwait below, in this thread only: they are blocked before
     * any thread starts (the matmul pool's too), so every thread inherits them blocked. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (threads) anemll_set_threads(threads);

    static Server S; /* the daemon's threads point at it until the end */
    memset(&S, 0, sizeof S);
    S.api_key = api_key;
    int rc = 1;
    struct MHD_Daemon *d = NULL;
    int sched_started = 0, sched_made = 0;
    if (anemll_model_load(dir, &S.m) || anemll_tokenizer_for_model(S.m, tok_path, &S.t)) goto out;
    anemll_model_info info;
    anemll_model_get_info(S.m, &info);
    S.vocab = info.vocab_size;
    S.context = context ? context : info.default_context;
    {
        const char *base = strrchr(info.dir, '/');
        snprintf(S.model_id, sizeof S.model_id, "%s", base && base[1] ? base + 1 : info.dir);
    }
    if (sched_start(&S.sched, S.m, S.t, parallel, S.context, queue)) goto out;
    sched_made = 1;

    if (sched_run(&S.sched)) {
        err_set("cannot start the scheduler thread");
        goto out;
    }
    sched_started = 1;
    if (!api_key && !is_loopback(&sa))
        fprintf(stderr, "anemll: warning: listening on %s without --api-key: anyone who reaches it can use it\n", host);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     (v6 ? MHD_USE_IPv6 : 0);
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, &S, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)(64 + 16 * parallel), MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_END);
    if (!d) {
        err_set("cannot listen on %s:%d: %s", host, port, errno ? strerror(errno) : "libmicrohttpd failed to start");
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "anemll serve: %s, %d slots of %d positions (%s batches)\n", S.model_id, parallel, S.context,
            anemll_batch_shared(S.m, ANEMLL_PRECISION_Q8) ? "shared" : "per-sequence");
    printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "", di ? di->port : port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "anemll serve: %s: finishing the requests under way\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    MHD_socket lsock = MHD_quiesce_daemon(d); /* no new connections */
    sched_stop(&S.sched);                     /* every request ends; the streams send their last events */
    sched_started = 0;
    for (int i = 0; i < 100 * timeout && atomic_load(&S.open_exchanges) > 0; i++) usleep(10000);
    MHD_stop_daemon(d);                       /* waits for the connection threads */
    if (lsock != MHD_INVALID_SOCKET) close(lsock);
    d = NULL;
    rc = 0;
out:
    if (rc) fail_with_error();
    if (d) MHD_stop_daemon(d);
    if (sched_started) sched_stop(&S.sched);
    if (sched_made) sched_free(&S.sched);
    anemll_tokenizer_free(S.t);
    anemll_model_free(S.m);
    return rc;
}
