#include "io/safetensors.h"
#include "io/json_text.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds from the safetensors format rules: header at most 100 MB. */
#define ST_MAX_HEADER (100u * 1000u * 1000u)

static const struct {
    const char *name;
    size_t size;
} dtype_info[DT_COUNT] = {
    [DT_F32] = {"F32", 4}, [DT_F16] = {"F16", 2}, [DT_BF16] = {"BF16", 2}, [DT_U8] = {"U8", 1},
    [DT_I8] = {"I8", 1},   [DT_I32] = {"I32", 4}, [DT_I64] = {"I64", 8},   [DT_U16] = {"U16", 2},
};

size_t dtype_size(DType t) { return dtype_info[t].size; }
const char *dtype_name(DType t) { return dtype_info[t].name; }

int dtype_parse(const char *s, DType *out) {
    for (int i = 0; i < DT_COUNT; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (DType)i;
            return 0;
        }
    return -1;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

typedef struct {
    size_t begin, end;
    const char *name;
} Span;

static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return (x->begin > y->begin) - (x->begin < y->begin);
    return (x->end > y->end) - (x->end < y->end); /* an empty range first, as the reference sorts */
}

static int parse_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static void free_tensors(StTensor *t, int n) {
    for (int i = 0; i < n; i++) free(t[i].name);
    free(t);
}

/* Parse one file's header and append its tensors. */
static int parse_file(SafeTensors *st, int file_idx) {
    const MappedFile *mf = &st->files[file_idx];
    const char *path = mf->path;
    if (mf->size < 8) {
        err_set("%s: truncated safetensors file (%zu bytes, no header)", path, mf->size);
        return -1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | mf->data[i];
    if (hlen > ST_MAX_HEADER || hlen > mf->size - 8) {
        err_set("%s: bad safetensors header length %llu (file has %zu bytes)", path,
                (unsigned long long)hlen, mf->size);
        return -1;
    }
    if (hlen < 2 || mf->data[8] != '{') {
        err_set("%s: safetensors header is not a JSON object", path);
        return -1;
    }
    const char *why;
    size_t at;
    cJSON *root = json_parse_text((const char *)mf->data + 8, (size_t)hlen, &why, &at);
    if (!root) {
        err_set("%s: safetensors header is not valid JSON: %s at byte %zu", path, why, 8 + at);
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        err_set("%s: safetensors header is not valid JSON: not an object", path);
        cJSON_Delete(root);
        return -1;
    }
    const uint8_t *base = mf->data + 8 + hlen;
    size_t data_size = mf->size - 8 - (size_t)hlen;
    int count = 0;
    for (cJSON *e = root->child; e; e = e->next) count++;
    Span *spans = xcalloc((size_t)count + 1, sizeof *spans);
    int nspan = 0;
    int rc = -1;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!e->string) goto bad_entry;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                err_set("%s: __metadata__ is not an object", path);
                goto out;
            }
            if (!st->metadata[file_idx]) {
                int n = 0;
                for (cJSON *m = e->child; m; m = m->next) n++;
                char **kv = st->metadata[file_idx] = xcalloc((size_t)(2 * n + 1), sizeof(char *));
                int k = 0;
                for (cJSON *m = e->child; m; m = m->next) {
                    if (!cJSON_IsString(m)) {
                        err_set("%s: __metadata__ value of '%s' is not a string", path, m->string);
                        goto out;
                    }
                    kv[k++] = xstrdup(m->string);
                    kv[k++] = xstrdup(m->valuestring);
                }
            }
            continue;
        }
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsObject(e) || !cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo) ||
            cJSON_GetArraySize(jo) != 2)
            goto bad_entry;
        StTensor t = {0};
        if (dtype_parse(jd->valuestring, &t.dtype) != 0) {
            err_set("%s: tensor '%s' has unsupported dtype '%s'", path, e->string, jd->valuestring);
            goto out;
        }
        t.ndim = cJSON_GetArraySize(js);
        if (t.ndim > ST_MAX_DIMS) {
            err_set("%s: tensor '%s' has %d dimensions (max %d)", path, e->string, t.ndim, ST_MAX_DIMS);
            goto out;
        }
        size_t numel = 1;
        int d = 0;
        for (const cJSON *s = js->child; s; s = s->next, d++) {
            uint64_t v;
            if (parse_u64(s, &v) != 0) goto bad_entry;
            t.shape[d] = (int64_t)v;
            if (mul_size(numel, (size_t)v, &numel) != 0) {
                err_set("%s: tensor '%s' shape overflows", path, e->string);
                goto out;
            }
        }
        t.numel = numel;
        uint64_t b0, b1;
        if (parse_u64(jo->child, &b0) != 0 || parse_u64(jo->child->next, &b1) != 0) goto bad_entry;
        if (b0 > b1 || b1 > data_size) {
            err_set("%s: tensor '%s' bytes [%llu, %llu) lie outside the data (%zu bytes): truncated file?",
                    path, e->string, (unsigned long long)b0, (unsigned long long)b1, data_size);
            goto out;
        }
        size_t want;
        if (mul_size(numel, dtype_size(t.dtype), &want) != 0 || want != (size_t)(b1 - b0)) {
            err_set("%s: tensor '%s' shape x dtype is %zu bytes but its data range has %llu", path, e->string,
                    numel * dtype_size(t.dtype), (unsigned long long)(b1 - b0));
            goto out;
        }
        t.data = base + b0;
        t.nbytes = (size_t)(b1 - b0);
        if (((uintptr_t)t.data) % dtype_size(t.dtype) != 0) {
            err_set("%s: tensor '%s' data is not aligned to its element size", path, e->string);
            goto out;
        }
        t.file = file_idx;
        t.name = xstrdup(e->string);
        st->tensors = xrealloc(st->tensors, sizeof(StTensor) * (size_t)(st->n_tensors + 1));
        st->tensors[st->n_tensors++] = t;
        spans[nspan++] = (Span){(size_t)b0, (size_t)b1, st->tensors[st->n_tensors - 1].name};
        continue;
    bad_entry:
        err_set("%s: malformed entry '%s' in safetensors header", path, e->string ? e->string : "?");
        goto out;
    }
    /* Data must be covered exactly: sorted ranges contiguous from 0 to the end of the file. */
    qsort(spans, (size_t)nspan, sizeof *spans, cmp_span);
    size_t pos = 0;
    for (int i = 0; i < nspan; i++) {
        if (spans[i].begin < pos) {
            err_set("%s: tensor '%s' overlaps another tensor's bytes", path, spans[i].name);
            goto out;
        }
        if (spans[i].begin > pos) {
            err_set("%s: gap in tensor data before '%s'", path, spans[i].name);
            goto out;
        }
        pos = spans[i].end;
    }
    if (pos != data_size) {
        err_set("%s: %zu bytes of data not covered by any tensor", path, data_size - pos);
        goto out;
    }
    rc = 0;
out:
    free(spans);
    cJSON_Delete(root);
    return rc;
}

static int add_file(SafeTensors *st, const char *path) {
    st->files = xrealloc(st->files, sizeof(MappedFile) * (size_t)(st->n_files + 1));
    st->metadata = xrealloc(st->metadata, sizeof(char **) * (size_t)(st->n_files + 1));
    st->metadata[st->n_files] = NULL;
    if (map_file(&st->files[st->n_files], path) != 0) return -1;
    st->n_files++;
    return parse_file(st, st->n_files - 1);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int open_index(SafeTensors *st, const char *index_path) {
    st->source = xstrdup(index_path);
    size_t len, at;
    const char *why;
    char *text = read_text_file(index_path, 64u << 20, &len);
    if (!text) return -1;
    cJSON *root = json_parse_text(text, len, &why, &at);
    free(text);
    if (!root) {
        err_set("%s: not valid JSON: %s at byte %zu", index_path, why, at);
        return -1;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        err_set("%s: not a safetensors index (no weight_map object)", index_path);
        cJSON_Delete(root);
        return -1;
    }
    /* distinct shard names, in sorted order */
    int n = 0;
    for (cJSON *e = wm->child; e; e = e->next) n++;
    char **names = xcalloc((size_t)n + 1, sizeof(char *));
    int nn = 0, rc = -1;
    for (cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || strcmp(e->valuestring, "..") == 0) {
            err_set("%s: bad shard file name for '%s'", index_path, e->string);
            goto out;
        }
        names[nn++] = e->valuestring;
    }
    qsort(names, (size_t)nn, sizeof(char *), cmp_str);
    char *dir = xstrdup(index_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    for (int i = 0; i < nn; i++) {
        if (i && strcmp(names[i], names[i - 1]) == 0) continue;
        char *p = path_join(dir, names[i]);
        int r = add_file(st, p);
        free(p);
        if (r) { free(dir); goto out; }
    }
    free(dir);
    if (st->n_tensors > 1) qsort(st->tensors, (size_t)st->n_tensors, sizeof(StTensor), cmp_tensor_name);
    for (cJSON *e = wm->child; e; e = e->next) {
        const StTensor *t = st_find(st, e->string);
        if (!t || !ends_with(st->files[t->file].path, e->valuestring)) {
            err_set("%s: tensor '%s' listed in the index is missing from %s", index_path, e->string,
                    e->valuestring);
            goto out;
        }
    }
    rc = 0;
out:
    free(names);
    cJSON_Delete(root);
    return rc;
}

/* Sort by name and reject duplicates; on failure close st keeping the error. */
static int finish_open(SafeTensors *st, int rc) {
    if (rc == 0 && st->n_tensors > 1) { /* no tensors: st->tensors is NULL, which qsort must not get */
        qsort(st->tensors, (size_t)st->n_tensors, sizeof(StTensor), cmp_tensor_name);
        for (int i = 1; i < st->n_tensors; i++)
            if (strcmp(st->tensors[i].name, st->tensors[i - 1].name) == 0) {
                err_set("%s: tensor '%s' appears twice", st->files[st->tensors[i].file].path,
                        st->tensors[i].name);
                rc = -1;
                break;
            }
    }
    if (rc != 0) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", err_get());
        st_close(st);
        err_set("%s", saved);
    }
    return rc;
}

int st_open_files(SafeTensors *st, const char *dir, const char *const *names, int n) {
    memset(st, 0, sizeof *st);
    if (n > 1) st->source = xstrdup(dir);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *p = path_join(dir, names[i]);
        rc = add_file(st, p);
        free(p);
    }
    return finish_open(st, rc);
}

int st_open(SafeTensors *st, const char *path) {
    if (!dir_exists(path)) {
        memset(st, 0, sizeof *st);
        return finish_open(st, ends_with(path, ".json") ? open_index(st, path) : add_file(st, path));
    }
    char *idx = path_join(path, "model.safetensors.index.json");
    int rc;
    if (file_exists(idx)) {
        memset(st, 0, sizeof *st);
        rc = finish_open(st, open_index(st, idx));
    } else {
        /* model.safetensors alone, else every *.safetensors of the folder in name order */
        DIR *d = opendir(path);
        char **names = NULL;
        int n = 0, single = 0;
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!ends_with(de->d_name, ".safetensors")) continue;
            names = xrealloc(names, sizeof(char *) * (size_t)(n + 1));
            names[n++] = xstrdup(de->d_name);
            single |= strcmp(de->d_name, "model.safetensors") == 0;
        }
        if (d) closedir(d);
        if (n > 1) qsort(names, (size_t)n, sizeof(char *), cmp_str);
        if (single) {
            const char *one = "model.safetensors";
            rc = st_open_files(st, path, &one, 1);
        } else if (n == 0) {
            memset(st, 0, sizeof *st);
            err_set("%s: no .safetensors files in folder", path);
            rc = -1;
        } else {
            rc = st_open_files(st, path, (const char *const *)names, n);
        }
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
    }
    free(idx);
    return rc;
}

void st_close(SafeTensors *st) {
    for (int i = 0; i < st->n_files; i++) unmap_file(&st->files[i]);
    free(st->files);
    free_tensors(st->tensors, st->n_tensors);
    for (int i = 0; st->metadata && i < st->n_files; i++) {
        for (char **p = st->metadata[i]; p && *p; p++) free(*p);
        free(st->metadata[i]);
    }
    free(st->metadata);
    free(st->source);
    memset(st, 0, sizeof *st);
}

const StTensor *st_find(const SafeTensors *st, const char *name) {
    StTensor key = {.name = (char *)name};
    if (st->n_tensors == 0) return NULL;
    return bsearch(&key, st->tensors, (size_t)st->n_tensors, sizeof(StTensor), cmp_tensor_name);
}

const char *st_metadata(const SafeTensors *st, int file, const char *key) {
    if (file < 0 || file >= st->n_files || !st->metadata[file]) return NULL;
    for (char **p = st->metadata[file]; *p; p += 2)
        if (strcmp(p[0], key) == 0) return p[1];
    return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

const StTensor *st_expect(const SafeTensors *st, int home, const char *name, unsigned dtype_mask, int ndim,
                          const int64_t *shape) {
    const StTensor *t = st_find(st, name);
    if (!t && home >= 0 && home < st->n_files) {
        err_set("%s: missing tensor '%s'", st->files[home].path, name);
        return NULL;
    }
    if (!t && st->source) {
        err_set("%s: missing tensor '%s' (in none of its %d %s)", st->source, name, st->n_files,
                ends_with(st->source, ".json") ? "shards" : ".safetensors files");
        return NULL;
    }
    if (!t) {
        err_set("%s: missing tensor '%s'", st->n_files ? st->files[0].path : "(no file)", name);
        return NULL;
    }
    const char *where = st->files[t->file].path;
    if (dtype_mask && !(dtype_mask & (1u << t->dtype))) {
        err_set("%s: tensor '%s' has dtype %s, which is not supported here", where, name, dtype_name(t->dtype));
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char got[128], want[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        err_set("%s: tensor '%s' has shape %s, expected %s", where, name, got, want);
        return NULL;
    }
    return t;
}

/* ---- writer ---- */

/* One declared tensor: its size, element size and where its data goes in the data section. */
typedef struct {
    cJSON *offsets; /* the header's data_offsets array, filled when the header is written */
    size_t nbytes, elem, offset;
} StDecl;

struct StWriter {
    AtomicFile out;
    char *path;
    cJSON *header, *meta;
    StDecl *decls;
    int n_decls, cur;     /* cur: the declared tensor the next bytes belong to */
    size_t declared, written, cur_done, data_start;
    int opened, failed;
};

StWriter *st_writer_new(const char *path) {
    StWriter *w = xcalloc(1, sizeof *w);
    w->path = xstrdup(path);
    w->header = cJSON_CreateObject();
    return w;
}

void st_writer_metadata(StWriter *w, const char *key, const char *value) {
    if (!w->meta) {
        w->meta = cJSON_CreateObject();
        /* __metadata__ goes first, as other writers do */
        cJSON_AddItemToObject(w->header, "__metadata__", w->meta);
    }
    cJSON_AddStringToObject(w->meta, key, value);
}

void st_writer_declare(StWriter *w, const char *name, DType dtype, int ndim, const int64_t *shape) {
    size_t numel = 1;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "dtype", dtype_name(dtype));
    cJSON *s = cJSON_AddArrayToObject(e, "shape");
    for (int i = 0; i < ndim; i++) {
        cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[i]));
        numel *= (size_t)shape[i];
    }
    w->decls = xrealloc(w->decls, sizeof(StDecl) * (size_t)(w->n_decls + 1));
    StDecl *d = &w->decls[w->n_decls++];
    d->offsets = cJSON_AddArrayToObject(e, "data_offsets");
    d->elem = dtype_size(dtype);
    d->nbytes = numel * d->elem;
    w->declared += d->nbytes;
    cJSON_AddItemToObject(w->header, name, e);
}

/* Data offsets: tensors with larger elements first (stable), so every tensor starts at a multiple
 * of its element size whatever the shapes (a U8 block of odd length never precedes an F16 one),
 * while the bytes are still written in declaration order. Header: 8-byte little-endian length,
 * then the JSON padded with spaces to a multiple of 8 so that the data section starts aligned. */
static int write_header(StWriter *w) {
    size_t at = 0;
    for (size_t elem = 8; elem >= 1; elem /= 2)
        for (int i = 0; i < w->n_decls; i++) {
            StDecl *d = &w->decls[i];
            if (d->elem != elem) continue;
            d->offset = at;
            at += d->nbytes;
            cJSON_AddItemToArray(d->offsets, cJSON_CreateNumber((double)d->offset));
            cJSON_AddItemToArray(d->offsets, cJSON_CreateNumber((double)at));
        }
    if (atomic_open(&w->out, w->path)) return -1;
    w->opened = 1;
    char *h = cJSON_PrintUnformatted(w->header);
    size_t hl = strlen(h), padded = (hl + 7) & ~(size_t)7;
    uint8_t *buf = xmalloc(8 + padded);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, h, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    int rc = atomic_write(&w->out, buf, 8 + padded);
    w->data_start = 8 + padded;
    free(buf);
    cJSON_free(h);
    return rc;
}

int st_writer_write(StWriter *w, const void *data, size_t nbytes) {
    if (w->failed) return -1;
    if (!w->opened && write_header(w)) goto fail;
    if (w->written + nbytes > w->declared) {
        err_set("%s: more bytes written than declared", w->path);
        goto fail;
    }
    const uint8_t *p = data;
    while (nbytes) {
        StDecl *d = &w->decls[w->cur];
        size_t n = d->nbytes - w->cur_done < nbytes ? d->nbytes - w->cur_done : nbytes;
        if (atomic_pwrite(&w->out, p, n, w->data_start + d->offset + w->cur_done)) goto fail;
        p += n;
        nbytes -= n;
        w->written += n;
        w->cur_done += n;
        if (w->cur_done == d->nbytes && w->cur + 1 < w->n_decls) w->cur++, w->cur_done = 0;
    }
    return 0;
fail:
    w->failed = 1;
    return -1;
}

static void writer_free(StWriter *w) {
    cJSON_Delete(w->header);
    free(w->decls);
    free(w->path);
    free(w);
}

int st_writer_finish(StWriter *w) {
    if (st_writer_write(w, NULL, 0) != 0 || w->written != w->declared) {
        if (!w->failed) err_set("%s: %zu of %zu declared bytes written", w->path, w->written, w->declared);
        st_writer_abort(w);
        return -1;
    }
    int rc = atomic_commit(&w->out);
    writer_free(w);
    return rc;
}

void st_writer_abort(StWriter *w) {
    if (w->opened) atomic_abort(&w->out);
    writer_free(w);
}
