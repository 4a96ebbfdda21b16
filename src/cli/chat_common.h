/* Pieces shared by the commands: flag groups several commands take, the default model folder,
 * early checks of input paths, the tokenizer that goes with a model folder, and the stop ids of a
 * reply. */
#ifndef ANEMLL_CHAT_COMMON_H
#define ANEMLL_CHAT_COMMON_H

#include "anemll.h"
#include "cli/args.h"

/* Flag tables of the shared groups (see args.h). */
extern const ArgSpec model_args[];     /* --model DIR (alias --meta): chat logits generate inspect bench */
extern const ArgSpec context_args[];   /* --context --batch: chat logits generate */
extern const ArgSpec sampling_args[];  /* --temp --top-k --top-p --seed: chat generate */
extern const ArgSpec precision_args[]; /* --precision: logits generate bench eval */
extern const ArgSpec calib_args[];     /* --calib --calib-ids: convert inspect */

/* --temp T (0 = greedy) --top-k K --top-p P --seed S, read from a (generate, chat). */
typedef struct {
    double temp, top_p;
    long top_k, seed;
} SamplingFlags;
void read_sampling_flags(Args *a, SamplingFlags *f);
int sampler_from_flags(int vocab, const SamplingFlags *f, anemll_sampler **out);

/* --precision NAME, parsed once here ("--precision 'x': expected ..." otherwise). */
int precision_flag(const char *name, anemll_precision *out);

/* The one meaning of --model (alias --meta DIR/meta.yaml): the folder given, else the default
 * below; *dir is set and 0 returned when it names an existing model folder, else -1 + err_set. */
int model_arg(const char *given, const char **dir);

/* The model folder to use when a command gets no --model: $ANEMLL_MODEL, else the shipped
 * default model that `make` converts next to the binary (build/anemll-tiny). NULL + err_set if
 * neither exists. */
const char *default_model_dir(void);

/* 0 when path is NULL or exists; else -1 and err_set "PATH: cannot open: REASON". Commands check
 * the inputs they are given before complaining about flags they lack. */
int check_input(const char *path);
/* 0 when the output path `out` (given with `flag`) neither is, holds nor lies inside any of the
 * n inputs (NULL entries skipped): writing it would destroy what is being read. */
int check_output_apart(const char *flag, const char *out, const char *const *inputs, int n);

/* SIGINT (and SIGTERM when sigterm_too) only raise a flag, until stop_signals_restore: long work
 * polls it (through its progress or token callback) and stops cleanly, removing what it was
 * writing. */
void stop_signals_catch(int sigterm_too);
void stop_signals_restore(void);
int stop_requested(void); /* the signal caught, or 0 */
void stop_request_clear(void);
/* stop_signals_restore, then die of the signal caught as the default action would (a conversion
 * that finished despite it still ends the way the user asked). */
void stop_signals_reraise(void);

/* An anemll_token_fn: the text to stdout at once; a stop signal caught meanwhile (chat's Ctrl-C)
 * ends the reply. */
int stream_text(void *ctx, int id, const char *text, size_t len);

/* Until called again with NULL, SIGINT and SIGTERM first remove `path` (an output's temporary
 * file), then end the process as the signal would have. NULL: the handlers are restored. */
void remove_on_signal(const char *path);

#endif
