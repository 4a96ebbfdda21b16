/* Fuzz target: a .safetensors file (8-byte header length, JSON header, tensor table, data).
 * The input is written to a scratch file and opened with st_open, the way every loader reads
 * weights. On success the reader's promises are checked: every tensor's bytes lie inside the
 * data section, ranges are disjoint and cover it, byte size = shape x dtype, names are unique
 * and sorted, data is aligned; and every byte is read once (so a bad range would fault). */
#include "fuzz_common.h"
#include "io/safetensors.h"

static int cmp_ptr(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->data != y->data) return (x->data > y->data) - (x->data < y->data);
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[1024];
    fz_write("model.safetensors", data, size, path, sizeof path);
    SafeTensors st;
    if (st_open(&st, path) != 0) {
        FZ_CHECK(st.n_tensors == 0 && st.tensors == NULL && st.files == NULL); /* closed on failure */
        return 0;
    }
    FZ_CHECK(st.n_files == 1);
    const MappedFile *mf = &st.files[0];
    FZ_CHECK(mf->size == size && size >= 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    const uint8_t *begin = mf->data + 8 + hlen, *end = mf->data + mf->size;
    const StTensor **order = xcalloc((size_t)st.n_tensors + 1, sizeof *order);
    volatile uint8_t sink = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const StTensor *t = &st.tensors[i];
        FZ_CHECK(t->file == 0 && t->ndim >= 0 && t->ndim <= ST_MAX_DIMS);
        FZ_CHECK(i == 0 || strcmp(st.tensors[i - 1].name, t->name) < 0);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FZ_CHECK(t->shape[d] >= 0);
            FZ_CHECK(mul_size(numel, (size_t)t->shape[d], &numel) == 0);
        }
        FZ_CHECK(numel == t->numel);
        FZ_CHECK(t->nbytes == numel * dtype_size(t->dtype));
        const uint8_t *p = t->data;
        FZ_CHECK(p >= begin && p <= end && t->nbytes <= (size_t)(end - p));
        FZ_CHECK((uintptr_t)p % dtype_size(t->dtype) == 0);
        for (size_t k = 0; k < t->nbytes; k++) sink ^= p[k];
        FZ_CHECK(st_find(&st, t->name) == t);
        FZ_CHECK(st_expect(&st, -1, t->name, 1u << t->dtype, t->ndim, t->shape) == t);
        order[i] = t;
    }
    /* disjoint and covering the data section exactly */
    qsort(order, (size_t)st.n_tensors, sizeof *order, cmp_ptr);
    const uint8_t *pos = begin;
    for (int i = 0; i < st.n_tensors; i++) {
        FZ_CHECK((const uint8_t *)order[i]->data == pos);
        pos += order[i]->nbytes;
    }
    FZ_CHECK(pos == end);
    free(order);
    for (int f = 0; f < st.n_files; f++)
        for (char **p = st.metadata[f]; p && *p; p += 2) FZ_CHECK(p[1] && st_metadata(&st, f, p[0]) != NULL);
    FZ_CHECK(st_find(&st, "no such tensor \x01") == NULL);
    (void)sink;
    st_close(&st);
    return 0;
}
