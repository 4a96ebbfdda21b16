#include "cli/chat_common.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/shipped.h"
#include "util/util.h"

const ArgSpec model_args[] = {
    {"--model", "--meta", "DIR", "$ANEMLL_MODEL, else anemll-tiny beside the binary",
     "the model: a Hugging Face checkpoint folder, a converted folder, or its meta.yaml", 0},
    {0},
};

const ArgSpec context_args[] = {
    {"--context", NULL, "N", "meta.yaml's context_length, else max_position_embeddings up to 4096",
     "positions of the KV cache", 0},
    {"--batch", NULL, "N", "64", "prefill batch size; 1 = token by token", 0},
    {0},
};

const ArgSpec sampling_args[] = {
    {"--temp", NULL, "T", "0", "sampling temperature; 0 = greedy", 0},
    {"--top-k", NULL, "K", "0", "sample from the K likeliest tokens only; 0 = all", 0},
    {"--top-p", NULL, "P", "1", "sample from the likeliest tokens whose probabilities sum to P; 1 = all", 0},
    {"--seed", NULL, "S", "0", "random seed of the sampler; the same seed gives the same text", 0},
    {0},
};

const ArgSpec precision_args[] = {
    {"--precision", NULL, "q8|fp32|fp16", "q8",
     "activations: q8 = LUT matmuls read their inputs as 8-bit codes (integer dot products), the rest "
     "FP32; fp32 = FP32 throughout, the exact reference of the stored weights; fp16 = strict FP16, every "
     "activation rounded to FP16 after each op, stopping at the first overflow", 0},
    {0},
};

const ArgSpec calib_args[] = {
    {"--calib", NULL, "FILE", NULL,
     "text appended to the built-in calibration prompts (used when the model folder has a tokenizer.json; "
     "without one, calibration runs a fixed pseudo-random sequence)", 0},
    {"--calib-ids", NULL, "FILE", NULL,
     "the calibration sequence as token ids (separated by spaces, commas or newlines; a JSON array works "
     "too) instead of the built-in one", 0},
    {0},
};

void read_sampling_flags(Args *a, SamplingFlags *f) {
    f->temp = arg_double(a, "--temp", 0.0, 0.0, 100.0);
    f->top_k = arg_int(a, "--top-k", 0, 0, 1 << 24);
    f->top_p = arg_double(a, "--top-p", 1.0, 0.0, 1.0);
    f->seed = arg_int(a, "--seed", 0, 0, 0x7fffffffL);
}

int sampler_from_flags(int vocab, const SamplingFlags *f, anemll_sampler **out) {
    return anemll_sampler_new(vocab, (float)f->temp, (int)f->top_k, (float)f->top_p, (uint64_t)f->seed, out);
}

int precision_flag(const char *name, anemll_precision *out) {
    if (anemll_precision_parse(name, out) == 0) return 0;
    err_set("--precision '%s': expected " ANEMLL_PRECISION_NAMES, name);
    return -1;
}

const char *default_model_dir(void) {
    static char path[PATH_MAX];
    const char *env = getenv("ANEMLL_MODEL");
    if (env && *env) return env;
    char *meta = shipped_path("anemll-tiny/meta.yaml");
    if (meta) {
        *strrchr(meta, '/') = 0;
        snprintf(path, sizeof path, "%s", meta);
        free(meta);
        return path;
    }
    err_set("no --model given and no default model (run `make` to build build/anemll-tiny, `make install`, "
            "or set ANEMLL_MODEL)");
    return NULL;
}

int model_arg(const char *given, const char **dir) {
    if (!given && !(given = default_model_dir())) return -1;
    *dir = given;
    return anemll_model_check(given);
}

int check_input(const char *path) {
    if (!path || access(path, F_OK) == 0) return 0;
    err_set("%s: cannot open: %s", path, strerror(errno));
    return -1;
}

int check_output_apart(const char *flag, const char *out, const char *const *inputs, int n) {
    for (int i = 0; out && i < n; i++)
        if (inputs[i] && paths_overlap(out, inputs[i])) {
            err_set("%s %s: would overwrite an input (it is, holds or lies inside %s)", flag, out, inputs[i]);
            return -1;
        }
    return 0;
}

static volatile sig_atomic_t stop_signal;
static struct sigaction stop_saved_int, stop_saved_term;

static void on_stop(int sig) { stop_signal = sig; }

static int stop_term_caught;

void stop_signals_catch(int sigterm_too) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART */
    stop_signal = 0;
    sigaction(SIGINT, &sa, &stop_saved_int);
    stop_term_caught = sigterm_too;
    if (sigterm_too) sigaction(SIGTERM, &sa, &stop_saved_term);
}

void stop_signals_restore(void) {
    sigaction(SIGINT, &stop_saved_int, NULL);
    if (stop_term_caught) sigaction(SIGTERM, &stop_saved_term, NULL);
}

int stop_requested(void) { return stop_signal; }
void stop_request_clear(void) { stop_signal = 0; }

void stop_signals_reraise(void) {
    int sig = stop_signal;
    stop_signals_restore();
    if (sig) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

int stream_text(void *ctx, int id, const char *text, size_t len) {
    (void)ctx;
    (void)id;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return stop_requested() != 0;
}

static char signal_victim[PATH_MAX];
static struct sigaction saved_int, saved_term;

static void remove_and_die(int sig) {
    unlink(signal_victim); /* async-signal-safe, as are signal and raise */
    signal(sig, SIG_DFL);
    raise(sig);
}

void remove_on_signal(const char *path) {
    if (!path) {
        if (signal_victim[0]) {
            sigaction(SIGINT, &saved_int, NULL);
            sigaction(SIGTERM, &saved_term, NULL);
        }
        signal_victim[0] = 0;
        return;
    }
    snprintf(signal_victim, sizeof signal_victim, "%s", path);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = remove_and_die;
    sigaction(SIGINT, &sa, &saved_int);
    sigaction(SIGTERM, &sa, &saved_term);
}

