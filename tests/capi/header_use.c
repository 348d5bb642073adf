/* Compiled (not run) by header_test.sh in every way a user may include
 * modctx.h: alone, after DLPack 0.6, after DLPack 1.x, before DLPack, as C99
 * and as C++. It touches every type the header declares. */
#if defined(USE_DLPACK_FIRST)
#include <dlpack/dlpack.h>
#endif
#if defined(USE_ATEN_DLPACK_FIRST)
#include <ATen/dlpack.h>
#endif
#include "modctx.h"
#if defined(USE_DLPACK_AFTER)
#include <dlpack/dlpack.h>
#endif

int header_use(const modctx_api *api, DLManagedTensorVersioned *v, DLManagedTensor *t, modctx_tensor_desc *d);

int header_use(const modctx_api *api, DLManagedTensorVersioned *v, DLManagedTensor *t, modctx_tensor_desc *d) {
  modctx_slice s = {0, 0, 0, MODCTX_SLICE_HAS_START};
  DLPackVersion version = {1, 0};
  modctx_field f = MODCTX_FIELD_MODALITY_IDS;
  modctx_status st = MODCTX_ERR_UNSUPPORTED;
  modctx_get_api_fn fn = modctx_get_api;
  (void)fn;
  (void)version;
  return (int)(api != 0) + (int)s.flags + (int)f + (int)st + (int)(v->flags & DLPACK_FLAG_BITMASK_READ_ONLY) +
         t->dl_tensor.ndim + (int)d->struct_size + MODCTX_DLPACK_BOOL + (int)MODCTX_ABI_VERSION + kDLCUDA;
}
