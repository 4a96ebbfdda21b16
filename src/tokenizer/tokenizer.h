/* tokenizer: Hugging Face tokenizer.json (BPE, as Gemma 3 uses it), a streaming decoder,
 * Gemma 3's chat template, and the small JSON reader the JSON-lines commands use.
 *
 * Encoding follows HF `tokenizers`:
 *  - added tokens (special or not) are matched first on the raw text, leftmost-longest;
 *  - each run of text between them is normalized (a Replace normalizer, Gemma: " " -> "▁"),
 *    split by the pre-tokenizer (Gemma's Split on " " never matches after normalization, so a
 *    whole run is one BPE word), then merged by BPE in rank order (lowest rank, then leftmost);
 *  - a character missing from the vocab becomes its UTF-8 bytes as <0xNN> tokens
 *    (byte_fallback), else <unk> (consecutive ones fused when fuse_unk).
 * Invalid UTF-8 input (which HF, working on Rust strings, never sees): every byte that does not
 * belong to a valid UTF-8 character is encoded like a character missing from the vocab, i.e. as
 * its own byte token <0xNN> (<unk> without byte fallback), so the ids keep the bytes; decoding,
 * which only writes valid UTF-8, shows them as U+FFFD.
 *
 * Decoding: each token's text with the decoder's Replace applied ("▁" -> " "); a run of
 * consecutive byte tokens becomes its bytes when they are valid UTF-8, otherwise one U+FFFD per
 * byte of the run (HF's Rust ByteFallback decoder). Decoded text may hold NUL bytes (<0x00>),
 * hence the lengths.
 *
 * Supported tokenizer.json: model "BPE" (merges as "a b" strings or ["a","b"] pairs; no
 * dropout, no subword prefix/suffix; ignore_merges honoured), normalizer null or Replace with a
 * String pattern, pre_tokenizer null or Split with a String pattern and MergedWithPrevious,
 * post_processor TemplateProcessing (its leading special token is BOS) or null. Added tokens'
 * lstrip/rstrip/single_word/normalized flags are ignored: all are matched verbatim.
 *
 * A loaded Tokenizer is read-only: encoding and decoding may run on several threads at once. */
#ifndef ANEMLL_TOKENIZER_H
#define ANEMLL_TOKENIZER_H

#include <stddef.h>
#include <stdio.h>

#include "util/json.h"

typedef struct Tokenizer Tokenizer;

/* NULL (and err_set naming the file and the problem) on error. */
Tokenizer *tok_load(const char *path);
/* The tokenizer.json a model folder holds: 0 and *out = NULL when it has none, 0 and the tokenizer,
 * or -1 (err_set) when the file is there but does not load. */
int tok_load_beside(const char *model_dir, Tokenizer **out);
void tok_free(Tokenizer *t);

/* Encodes len bytes of text into a new array *ids (free()) of *n ids; add_bos puts the BOS
 * token in front (when the tokenizer has one). Empty text gives no ids (or just BOS).
 * Returns 0 (encoding cannot fail on any input). */
int tok_encode(const Tokenizer *t, const char *text, size_t len, int add_bos, int **ids, int *n);

/* New NUL-terminated text (free()) with its length in *len (may be NULL); skip_special drops
 * special tokens. NULL and err_set when an id is out of range or no token's. */
char *tok_decode(const Tokenizer *t, const int *ids, int n, int skip_special, size_t *len);

int tok_vocab_size(const Tokenizer *t);  /* one more than the largest id */
int tok_token_id(const Tokenizer *t, const char *piece);  /* e.g. "<end_of_turn>"; -1 if absent */
const char *tok_piece(const Tokenizer *t, int id);  /* token text as in the file; NULL if none */
int tok_bos_id(const Tokenizer *t);  /* -1 when there is none */
/* Ids that end a generated turn: <eos> and <end_of_turn> where the vocab has them (Gemma 3's
 * generation config stops on [1, 106]). Writes up to max ids, returns how many there are. */
int tok_eos_ids(const Tokenizer *t, int *out, int max);
int tok_is_special(const Tokenizer *t, int id);

/* Streaming decoder for generation: feed ids one at a time, get back only complete UTF-8 text.
 * The bytes of a character split over several byte tokens are held back until the character
 * completes, or until it is proven invalid (a byte that cannot continue it, or a non-byte token),
 * when each held byte becomes U+FFFD, and so does every later byte of that byte-token run.
 * The concatenated output equals tok_decode() of all the ids whenever every byte-token run is
 * valid UTF-8 (always so for ids encoded from valid text); for an invalid run, characters it
 * completed before going wrong have already been emitted, where tok_decode gives U+FFFD. */
typedef struct TokStream TokStream;
TokStream *tok_stream_new(const Tokenizer *t, int skip_special);
void tok_stream_free(TokStream *s);
/* Text made complete by this id (possibly ""), valid until the next call; its length in *len.
 * NULL and err_set when the id is out of range or no token's. */
const char *tok_stream_put(TokStream *s, int id, size_t *len);
/* End of stream: held bytes as U+FFFD each (usually ""); the stream can then be reused. */
const char *tok_stream_flush(TokStream *s, size_t *len);

/* ---- Gemma 3 chat template (chat_template.jinja of the instruction-tuned models):
 * "<bos>", then one "<start_of_turn>ROLE\n...<end_of_turn>\n" per message, role "assistant"
 * written "model"; a first "system" message is not a turn: its text (untrimmed) + "\n\n" opens
 * the first user turn. Other contents are trimmed of Unicode whitespace (Python str.strip());
 * list contents concatenate their text items (each trimmed) and "<start_of_image>" per image.
 * After the system message, message i must be "user" exactly when i is even. */
typedef enum { CHAT_PART_TEXT, CHAT_PART_IMAGE, CHAT_PART_OTHER } ChatPartKind;
typedef struct {
    ChatPartKind kind;
    const char *text;  /* CHAT_PART_TEXT */
    size_t len;
} ChatPart;
typedef struct {
    const char *role;
    const char *text;       /* string content (when parts is NULL) */
    size_t len;
    const ChatPart *parts;  /* list content */
    int n_parts;
} ChatMessage;

/* New prompt text (free()), its length in *len; NULL and err_set on a template error. */
char *chat_render(const ChatMessage *msgs, int n, int add_generation_prompt, size_t *len);
/* One user prompt as ids: the chat template with the generation prompt (a system text folded
 * in), or with raw, the text itself after <bos>. */
int chat_encode_prompt(const Tokenizer *t, const char *system, const char *prompt, int raw, int **ids, int *n);
/* Messages from a JSON array of {"role": ..., "content": string | [{"type": ...}, ...]}.
 * *msgs (free with chat_messages_free) points into arr, which must outlive it. */
int chat_messages_from_json(const JsonValue *arr, ChatMessage **msgs, int *n);
void chat_messages_free(ChatMessage *msgs, int n);

#endif
