/* Shared helpers of the libFuzzer harnesses (fuzz/fuzz_*.c): a private scratch folder for
 * parsers that read files (in /dev/shm when it is writable, so each iteration costs no disk I/O),
 * the Gemma 3 tokenizer for the harnesses that need one, and small checks.
 * Each harness is one translation unit; everything here is static. */
#ifndef ANEMLL_FUZZ_COMMON_H
#define ANEMLL_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer/tokenizer.h"
#include "util/util.h"

/* A failed property: print it and abort so libFuzzer keeps the input as a crash. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed at %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, err_get());                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char fz_dir[512];

static inline void fz_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[1024];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            fz_rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void fz_cleanup(void) {
    if (fz_dir[0]) fz_rmtree(fz_dir);
}

/* Scratch folders of fuzz processes that died without cleaning up (a crash, a kill). */
static void fz_remove_stale(const char *base) {
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dash = strrchr(de->d_name, '-');
        if (strncmp(de->d_name, "anemll-fuzz-", 12) != 0 || !dash) continue;
        long pid = strtol(dash + 1, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", base, de->d_name);
        fz_rmtree(p);
    }
    closedir(d);
}

/* The scratch folder of this process, made on first use and removed at exit. */
static const char *fz_scratch(void) {
    if (fz_dir[0]) return fz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    fz_remove_stale(base);
    snprintf(fz_dir, sizeof fz_dir, "%s/anemll-fuzz-%ld", base, (long)getpid());
    fz_rmtree(fz_dir);
    if (mkdir(fz_dir, 0700) != 0) {
        fprintf(stderr, "cannot make %s: %s\n", fz_dir, strerror(errno));
        abort();
    }
    atexit(fz_cleanup);
    return fz_dir;
}

/* Writes data to NAME inside the scratch folder (or a subfolder of it); returns the path in buf. */
static inline const char *fz_write(const char *name, const void *data, size_t n, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", fz_scratch(), name);
    int fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "cannot write %s: %s\n", buf, strerror(errno));
        abort();
    }
    const uint8_t *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0) {
            fprintf(stderr, "cannot write %s: %s\n", buf, strerror(errno));
            abort();
        }
        p += k;
        n -= (size_t)k;
    }
    close(fd);
    return buf;
}

/* A NUL-terminated copy of the input (free()). */
static inline char *fz_cstr(const uint8_t *data, size_t n) {
    char *s = xmalloc(n + 1);
    if (n) memcpy(s, data, n);
    s[n] = 0;
    return s;
}

/* 1 when s[0..n) is valid UTF-8 (RFC 3629: no overlongs, surrogates, or code points past U+10FFFF). */
static inline int fz_valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i], lo = 0x80, hi = 0xBF;
        size_t k;
        if (b < 0x80) k = 1;
        else if (b >= 0xC2 && b < 0xE0) k = 2;
        else if (b >= 0xE0 && b < 0xF0) k = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        else if (b >= 0xF0 && b < 0xF5) k = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        else return 0;
        if (n - i < k) return 0;
        for (size_t j = 1; j < k; j++) {
            if (s[i + j] < lo || s[i + j] > hi) return 0;
            lo = 0x80;
            hi = 0xBF;
        }
        i += k;
    }
    return 1;
}

/* A tokenizer small enough to build in a moment, used when the Gemma 3 one is not at hand:
 * byte fallback, a Replace normalizer and decoder, merges, added special tokens. */
static const char fz_small_tokenizer[] =
    "{\"added_tokens\":[{\"id\":0,\"content\":\"<pad>\",\"special\":true},"
    "{\"id\":1,\"content\":\"<eos>\",\"special\":true},{\"id\":2,\"content\":\"<bos>\",\"special\":true},"
    "{\"id\":3,\"content\":\"<start_of_turn>\",\"special\":true},{\"id\":4,\"content\":\"<end_of_turn>\",\"special\":true},"
    "{\"id\":5,\"content\":\"<start_of_image>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"},"
    "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\",\"invert\":false},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<bos>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<bos>\":{\"id\":\"<bos>\",\"ids\":[2]}}},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},"
    "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,"
    "\"vocab\":{\"<pad>\":0,\"<eos>\":1,\"<bos>\":2,\"<unk>\":6,\"\\u2581\":7,\"a\":8,\"b\":9,\"c\":10,\"ab\":11,"
    "\"abc\":12,\"\\u2581a\":13,\"\\u2581ab\":14,\"\\n\":15,\"\\n\\n\":16,\"\\u00e9\":17,\"\\u2581\\u2581\":18,"
    "\"x\":19,\"y\":20,\"xy\":21,\"\\u4e2d\":22,\"\\ud83d\\ude00\":23,\"<0x00>\":24,\"<0x0A>\":25,\"<0x20>\":26,"
    "\"<0x41>\":27,\"<0xC3>\":28,\"<0xA9>\":29,\"<0xE2>\":30,\"<0x82>\":31,\"<0xAC>\":32,\"<0xF0>\":33,"
    "\"<0x9F>\":34,\"<0x98>\":35,\"<0x80>\":36,\"<0xFF>\":37,\"<0xE4>\":38,\"<0xB8>\":39,\"<0xAD>\":40},"
    "\"merges\":[\"a b\",\"ab c\",\"\\u2581 a\",\"\\u2581a b\",\"\\n \\n\",\"\\u2581 \\u2581\",[\"x\",\"y\"]]}}";

/* The tokenizer for the encode/decode/chat harnesses: $ANEMLL_FUZZ_TOKENIZER, else the
 * Gemma 3 tokenizer in tests/data, else the small one above. Loaded once. */
static inline Tokenizer *fz_tokenizer(void) {
    static Tokenizer *tok;
    if (tok) return tok;
    const char *env = getenv("ANEMLL_FUZZ_TOKENIZER");
    const char *path = env && *env ? env : "tests/data/tokenizers/gemma3/tokenizer.json";
    if (access(path, R_OK) == 0) {
        tok = tok_load(path);
        if (!tok) {
            fprintf(stderr, "cannot load %s: %s\n", path, err_get());
            abort();
        }
        fprintf(stderr, "fuzz: tokenizer %s (%d ids)\n", path, tok_vocab_size(tok));
    } else {
        char buf[1024];
        tok = tok_load(fz_write("small_tokenizer.json", fz_small_tokenizer, sizeof fz_small_tokenizer - 1, buf,
                                sizeof buf));
        if (!tok) {
            fprintf(stderr, "cannot load the built-in tokenizer: %s\n", err_get());
            abort();
        }
        unlink(buf);
        fprintf(stderr, "fuzz: %s not found, using the built-in small tokenizer\n", path);
    }
    return tok;
}

/* Every token text is valid UTF-8: then every decode must be too. */
static inline int fz_pieces_valid_utf8(const Tokenizer *t) {
    for (int id = 0; id < tok_vocab_size(t); id++) {
        const char *p = tok_piece(t, id);
        if (p && !fz_valid_utf8((const uint8_t *)p, strlen(p))) return 0;
    }
    return 1;
}

#endif
