/* util: error reporting, half-precision conversions, mapped files, checked allocation.
 * Everything else in the engine builds on these few helpers. */
#ifndef ANEMLL_UTIL_H
#define ANEMLL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Errors: a failing function records one line (no trailing newline) and returns
 * non-zero; the CLI prints it once. The last message wins. */
void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_get(void);

/* Half-precision conversions, round-to-nearest-even, inf/nan/subnormals kept. */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
/* Round a float through FP16 and back (what an FP16 register would hold). */
static inline float round_f16(float f) { return f16_to_f32(f32_to_f16(f)); }

/* Allocation that exits with a one-line error when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* a*b, or -1 (and an error) when it overflows size_t */
int mul_size(size_t a, size_t b, size_t *out);

/* A read-only memory-mapped file. */
typedef struct {
    const uint8_t *data;
    size_t size;
    char *path;
} MappedFile;
int map_file(MappedFile *mf, const char *path);
void unmap_file(MappedFile *mf);
/* Let the pages wholly inside [p, p + n) of a read-only mapping (map_file) go: they leave the
 * process's resident memory and are read from the file again if used again. */
void map_release(const void *p, size_t n);

/* Whole small file into a NUL-terminated buffer (config.json, meta.yaml): a regular file only,
 * so a FIFO in a model folder is an error, never a hang. */
char *read_text_file(const char *path, size_t max_bytes, size_t *len_out);
/* The same for a user's text (--text, --calib): a pipe, FIFO or /dev/stdin works too. */
char *read_user_text(const char *path, size_t max_bytes, size_t *len_out);

/* Token ids written as plain decimal words (no sign, no 0x, no fraction) between any of the
 * separator characters: a new array (free()) of *n ids, possibly none; NULL and err_set, quoting
 * the offending word after `what:`, when a word is not one. */
int *parse_ids(const char *text, const char *separators, const char *what, int *n);

/* path join into a new string: dir + "/" + name */
char *path_join(const char *dir, const char *name);
int file_exists(const char *path);
int dir_exists(const char *path);
/* Remove a folder and everything under it, links as links (never followed): only for folders
 * this program made, or verified as its own (a converted model's meta.yaml). */
void remove_tree(const char *dir);
/* Whether two paths name the same file or folder, or one lies inside the other (links resolved;
 * a path that does not exist yet counts by its existing parent). An output must never overlap an
 * input: writing it would destroy what is being read. */
int paths_overlap(const char *a, const char *b);

/* A file written under a temporary name in the target folder, fsynced and renamed into
 * place on commit, so readers never see a half-written file. An existing character device or
 * FIFO (/dev/null, a terminal, a pipe) is written in place instead, never replaced; any other
 * existing non-regular path (a folder, a socket, a block device) is refused. */
typedef struct {
    int fd;
    char *path, *tmp; /* tmp: NULL when writing in place */
} AtomicFile;
int atomic_open(AtomicFile *f, const char *path);
int atomic_write(AtomicFile *f, const void *data, size_t n);
/* at a byte offset (a file being filled out of order; not for a FIFO written in place) */
int atomic_pwrite(AtomicFile *f, const void *data, size_t n, uint64_t offset);
int atomic_commit(AtomicFile *f); /* closes f */
void atomic_abort(AtomicFile *f); /* removes the temporary file, closes f */
/* The whole of a small output in one call: open, write, commit (or abort on failure). */
int atomic_write_file(const char *path, const void *data, size_t n);

/* A place where tests make a race happen deterministically: when $ANEMLL_FAULT_<NAME> (NAME in
 * capitals) is set, it runs as a shell command right there (e.g. creating the folder a
 * conversion is about to rename onto). Unset: nothing. */
void fault_point(const char *name);

/* Monotonic seconds, for throughput figures. */
double now_seconds(void);

#endif
