/* safetensors: mmap reader (single file, sharded index, or every *.safetensors of a folder)
 * and a streaming writer that writes to a temporary name and renames when complete. */
#ifndef ANEMLL_SAFETENSORS_H
#define ANEMLL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef enum { DT_F32, DT_F16, DT_BF16, DT_U8, DT_I8, DT_I32, DT_I64, DT_U16, DT_COUNT } DType;

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const void *data; /* inside a mapping: never copied */
    size_t nbytes;
    int file;         /* index into SafeTensors.files */
} StTensor;

typedef struct {
    int n_files;
    MappedFile *files;
    int n_tensors;
    StTensor *tensors;  /* sorted by name */
    char ***metadata;   /* per file, its __metadata__: key, value, key, value, ..., NULL (or NULL) */
    char *source;       /* several files: the index or the folder they came from (else NULL) */
} SafeTensors;

size_t dtype_size(DType t);
const char *dtype_name(DType t);
int dtype_parse(const char *s, DType *out);

/* path: a .safetensors file, a model.safetensors.index.json, or a folder (index.json if present,
 * else model.safetensors, else every *.safetensors in it, sorted). */
int st_open(SafeTensors *st, const char *path);
/* Exactly these files of dir, in this order. */
int st_open_files(SafeTensors *st, const char *dir, const char *const *names, int n);
void st_close(SafeTensors *st);
const StTensor *st_find(const SafeTensors *st, const char *name);
/* Metadata value of files[file], or NULL. */
const char *st_metadata(const SafeTensors *st, int file, const char *key);
/* Find `name`, check dtype is one of the allowed set (mask of 1<<DType; 0 = any) and shape
 * (ndim entries; -1 = any). Sets an error naming file and tensor on failure: a missing tensor
 * is blamed on files[home], the file meant to hold it, or with home -1 on all of st's files. */
const StTensor *st_expect(const SafeTensors *st, int home, const char *name, unsigned dtype_mask, int ndim,
                          const int64_t *shape);

/* Streaming writer. Declare every tensor, then write their bytes in declaration order. The
 * file's data section orders them by element size (largest first), so each tensor is aligned to
 * its element size whatever the shapes, as the reader requires. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(const char *path);
void st_writer_metadata(StWriter *w, const char *key, const char *value);
void st_writer_declare(StWriter *w, const char *name, DType dtype, int ndim, const int64_t *shape);
/* Appends bytes of the current tensor(s); the header is written on the first call. */
int st_writer_write(StWriter *w, const void *data, size_t nbytes);
/* Checks every declared byte was written, fsyncs and renames into place. Frees w. */
int st_writer_finish(StWriter *w);
/* Removes the temporary file. Frees w. */
void st_writer_abort(StWriter *w);

#endif
