#include "test_tensors.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  DLManagedTensor managed;
  int64_t shape[TT_MAX_NDIM];
  int64_t strides[TT_MAX_NDIM];
  int *counter;
} tt_legacy;

typedef struct {
  DLManagedTensorVersioned managed;
  int64_t shape[TT_MAX_NDIM];
  int64_t strides[TT_MAX_NDIM];
  int *counter;
} tt_versioned;

static int live = 0;

int tt_live_allocations(void) { return __atomic_load_n(&live, __ATOMIC_SEQ_CST); }

static void count(int *counter) {
  if (counter) __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
  __atomic_sub_fetch(&live, 1, __ATOMIC_SEQ_CST);
}

static void legacy_deleter(DLManagedTensor *self) {
  tt_legacy *t = (tt_legacy *)self->manager_ctx;
  count(t->counter);
  free(t);
}

static void versioned_deleter(DLManagedTensorVersioned *self) {
  tt_versioned *t = (tt_versioned *)self->manager_ctx;
  count(t->counter);
  free(t);
}

static void fill(DLTensor *dl, int64_t *shape_store, int64_t *strides_store, void *data, int code, int bits,
                 int ndim, const int64_t *shape, const int64_t *strides) {
  int n = ndim < 0 ? 0 : (ndim > TT_MAX_NDIM ? TT_MAX_NDIM : ndim);
  dl->data = data;
  dl->device.device_type = kDLCPU;
  dl->device.device_id = 0;
  dl->ndim = ndim;
  dl->dtype.code = (uint8_t)code;
  dl->dtype.bits = (uint8_t)bits;
  dl->dtype.lanes = 1;
  if (shape) memcpy(shape_store, shape, (size_t)n * sizeof(int64_t));
  dl->shape = shape ? shape_store : NULL;
  if (strides) memcpy(strides_store, strides, (size_t)n * sizeof(int64_t));
  dl->strides = strides ? strides_store : NULL;
  dl->byte_offset = 0;
}

DLManagedTensor *tt_dlpack(void *data, int code, int bits, int ndim, const int64_t *shape,
                           const int64_t *strides, int *counter) {
  tt_legacy *t = (tt_legacy *)calloc(1, sizeof *t);
  if (!t) abort();
  fill(&t->managed.dl_tensor, t->shape, t->strides, data, code, bits, ndim, shape, strides);
  t->managed.manager_ctx = t;
  t->managed.deleter = legacy_deleter;
  t->counter = counter;
  __atomic_add_fetch(&live, 1, __ATOMIC_SEQ_CST);
  return &t->managed;
}

DLManagedTensorVersioned *tt_dlpack_versioned(void *data, int code, int bits, int ndim, const int64_t *shape,
                                              const int64_t *strides, uint32_t major, uint32_t minor,
                                              int *counter) {
  tt_versioned *t = (tt_versioned *)calloc(1, sizeof *t);
  if (!t) abort();
  fill(&t->managed.dl_tensor, t->shape, t->strides, data, code, bits, ndim, shape, strides);
  t->managed.version.major = major;
  t->managed.version.minor = minor;
  t->managed.manager_ctx = t;
  t->managed.deleter = versioned_deleter;
  t->counter = counter;
  __atomic_add_fetch(&live, 1, __ATOMIC_SEQ_CST);
  return &t->managed;
}

void tt_discard(void *manager_ctx) {
  __atomic_sub_fetch(&live, 1, __ATOMIC_SEQ_CST);
  free(manager_ctx);
}
