/* Hand-made DLPack tensors for the C tests, with counting deleters.
 * Each deleter adds one to *counter (atomically) and frees the tensor;
 * tt_live_allocations() says how many were made and not yet deleted. */
#ifndef MODCTX_TEST_TENSORS_H
#define MODCTX_TEST_TENSORS_H

#include "modctx.h"

#define TT_MAX_NDIM 8

/* shape and strides (NULL: none) are copied; ndim at most TT_MAX_NDIM
 * (larger values are stored as given but only TT_MAX_NDIM sizes copied). */
DLManagedTensor *tt_dlpack(void *data, int code, int bits, int ndim, const int64_t *shape,
                           const int64_t *strides, int *counter);
DLManagedTensorVersioned *tt_dlpack_versioned(void *data, int code, int bits, int ndim, const int64_t *shape,
                                              const int64_t *strides, uint32_t major, uint32_t minor,
                                              int *counter);
int tt_live_allocations(void);
/* Frees a test tensor whose deleter was set to NULL (pass its manager_ctx). */
void tt_discard(void *manager_ctx);

#endif
