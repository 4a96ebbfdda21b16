#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char err_buf[1024];

void err_set(const char *fmt, ...) {
    char tmp[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    for (char *p = tmp; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    memcpy(err_buf, tmp, sizeof tmp);
}

const char *err_get(void) { return err_buf[0] ? err_buf : "unknown error"; }

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;              /* nan */
    if (a >= 0x477ff000u) return sign | 0x7c00u;             /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                                   /* below smallest normal */
        float v = bits_f32(a);                               /* |f| */
        /* subnormal step is 2^-24; rint gives round-to-nearest-even */
        uint32_t m = (uint32_t)rintf(v * 16777216.0f);
        return sign | (uint16_t)m;                           /* m == 0x400 is the smallest normal */
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);              /* round mantissa to 10 bits */
    return sign | (uint16_t)(((r >> 13) - (112u << 10)) & 0x7fffu);
}

static void oom(size_t n) {
    fprintf(stderr, "anemll: error: out of memory allocating %zu bytes\n", n);
    exit(1);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

int mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) {
        err_set("size overflow (%zu x %zu)", a, b);
        return -1;
    }
    *out = a * b;
    return 0;
}

/* Open path for reading if it is a regular file (or, with streams, a pipe or character device).
 * O_NONBLOCK first, so that a FIFO given as a model or tokenizer file is refused instead of
 * blocking the open forever (and a FIFO with no writer reads as empty instead of hanging). */
static int open_input(const char *path, struct stat *st, int streams) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        err_set("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0 ||
        !(S_ISREG(st->st_mode) || (streams && (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode))))) {
        err_set("%s: not a regular file", path);
        close(fd);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

int map_file(MappedFile *mf, const char *path) {
    memset(mf, 0, sizeof *mf);
    struct stat st;
    int fd = open_input(path, &st, 0);
    if (fd < 0) return -1;
    mf->size = (size_t)st.st_size;
    if (mf->size > 0) {
        void *p = mmap(NULL, mf->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            err_set("%s: cannot map %zu bytes: %s", path, mf->size, strerror(errno));
            close(fd);
            return -1;
        }
        mf->data = p;
    }
    close(fd);
    mf->path = xstrdup(path);
    return 0;
}

void unmap_file(MappedFile *mf) {
    if (mf->data) munmap((void *)mf->data, mf->size);
    free(mf->path);
    memset(mf, 0, sizeof *mf);
}

void map_release(const void *p, size_t n) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + page - 1) / page * page;
    uintptr_t b = ((uintptr_t)p + n) / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED); /* clean private pages: nothing lost */
}

static char *read_text(const char *path, size_t max_bytes, size_t *len_out, int streams) {
    struct stat st;
    int fd = open_input(path, &st, streams);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) {
            err_set("%s: cannot open: %s", path, strerror(errno));
            close(fd);
        }
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > max_bytes) {
            err_set("%s: file larger than %zu bytes", path, max_bytes);
            free(buf);
            fclose(f);
            return NULL;
        }
        if (n == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        err_set("%s: read error", path);
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    if (len_out) *len_out = len;
    return buf;
}

char *read_text_file(const char *path, size_t max_bytes, size_t *len_out) {
    return read_text(path, max_bytes, len_out, 0);
}

char *read_user_text(const char *path, size_t max_bytes, size_t *len_out) {
    return read_text(path, max_bytes, len_out, 1);
}

int *parse_ids(const char *text, const char *separators, const char *what, int *n) {
    int cap = 64, k = 0;
    int *ids = xmalloc(sizeof(int) * (size_t)cap);
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, separators), i = 0;
        if (!len) {
            p++;
            continue;
        }
        long long v = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9' && v <= INT_MAX) v = v * 10 + (p[i++] - '0');
        if (i < len || v > INT_MAX) {
            err_set("%s: '%.*s' is not a token id", what, len > 40 ? 40 : (int)len, p);
            free(ids);
            return NULL;
        }
        if (k == cap) ids = xrealloc(ids, sizeof(int) * (size_t)(cap *= 2));
        ids[k++] = (int)v;
        p += len;
    }
    *n = k;
    return ids;
}

char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* p made absolute: realpath when it exists, else its existing parent's realpath + its last part. */
static char *absolute_path(const char *p) {
    char *r = realpath(p, NULL);
    if (r) return r;
    char *copy = xstrdup(p);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    char *parent = slash ? (slash == copy ? realpath("/", NULL) : (*slash = 0, realpath(copy, NULL)))
                         : realpath(".", NULL);
    char *out = parent ? path_join(parent, base) : NULL;
    free(parent);
    free(copy);
    return out;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

int paths_overlap(const char *a, const char *b) {
    char *x = absolute_path(a), *y = absolute_path(b);
    int overlap = 0;
    if (x && y) {
        size_t nx = strlen(x), ny = strlen(y), n = nx < ny ? nx : ny;
        overlap = strncmp(x, y, n) == 0 && (nx == ny || (nx < ny ? y[n] : x[n]) == '/' || n == 1);
    }
    free(x);
    free(y);
    return overlap;
}

void fault_point(const char *name) {
    char var[128];
    snprintf(var, sizeof var, "ANEMLL_FAULT_%s", name);
    for (char *p = var; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    const char *cmd = getenv(var);
    if (!cmd || !*cmd) return;
    /* not system(): it ignores SIGINT while waiting, and a hook may signal this process */
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "anemll: fault point %s: '%s' failed\n", name, cmd);
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int atomic_open(AtomicFile *f, const char *path) {
    struct stat st;
    f->tmp = NULL;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a terminal, /dev/null or a FIFO is written in place: replacing it with a regular file
         * would destroy it (as root, --out /dev/null would replace the real /dev/null) */
        if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
            err_set("%s: exists and is %s; not replacing it", path,
                    S_ISDIR(st.st_mode) ? "a folder" : "not a regular file, a character device or a FIFO");
            return -1;
        }
        f->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (f->fd < 0) {
            err_set("%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        f->path = xstrdup(path);
        return 0;
    }
    f->path = xstrdup(path);
    f->tmp = xmalloc(strlen(path) + 32);
    sprintf(f->tmp, "%s.tmp.%d", path, (int)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        err_set("%s: cannot create: %s", f->tmp, strerror(errno));
        free(f->path);
        free(f->tmp);
        return -1;
    }
    return 0;
}

/* all n bytes, at the file position (offset < 0) or at offset */
static int write_all(AtomicFile *f, const void *data, size_t n, int64_t offset) {
    const uint8_t *p = data;
    while (n) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t k = offset < 0 ? write(f->fd, p, chunk) : pwrite(f->fd, p, chunk, (off_t)offset);
        if (k < 0) {
            if (errno == EINTR) continue;
            err_set("%s: write failed: %s", f->path, strerror(errno));
            return -1;
        }
        p += k;
        n -= (size_t)k;
        if (offset >= 0) offset += k;
    }
    return 0;
}

int atomic_write(AtomicFile *f, const void *data, size_t n) { return write_all(f, data, n, -1); }

int atomic_pwrite(AtomicFile *f, const void *data, size_t n, uint64_t offset) {
    return write_all(f, data, n, (int64_t)offset);
}

static void atomic_release(AtomicFile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
}

int atomic_commit(AtomicFile *f) {
    int rc = 0;
    if (!f->tmp) { /* written in place */
        rc = close(f->fd) == 0 ? 0 : -1;
        if (rc) err_set("%s: write failed: %s", f->path, strerror(errno));
        f->fd = -1;
        atomic_release(f);
        return rc;
    }
    if (fsync(f->fd) != 0 || close(f->fd) != 0) {
        err_set("%s: cannot flush: %s", f->path, strerror(errno));
        rc = -1;
    }
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, f->path) != 0) {
        err_set("%s: cannot rename into place: %s", f->path, strerror(errno));
        rc = -1;
    }
    if (rc) unlink(f->tmp);
    atomic_release(f);
    return rc;
}

int atomic_write_file(const char *path, const void *data, size_t n) {
    AtomicFile f;
    if (atomic_open(&f, path)) return -1;
    if (atomic_write(&f, data, n)) {
        atomic_abort(&f);
        return -1;
    }
    return atomic_commit(&f);
}

void atomic_abort(AtomicFile *f) {
    if (f->tmp) unlink(f->tmp);
    atomic_release(f);
}
