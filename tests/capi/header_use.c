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
  /* ABI version 2 */
  modctx_request r = {sizeof(modctx_request), MODCTX_KV_STATE, 0, 0, 0, 0, 0};
  modctx_status_class c = MODCTX_CLASS_REQUEST;
  size_t sizes = MODCTX_MODEL_SIZE_V1 + MODCTX_FORWARD_ARGS_SIZE_V1;
  r.tokens = &t->dl_tensor;
  (void)fn;
  (void)version;
  return (int)(api != 0) + (int)s.flags + (int)f + (int)st + (int)(v->flags & DLPACK_FLAG_BITMASK_READ_ONLY) +
         t->dl_tensor.ndim + (int)d->struct_size + MODCTX_DLPACK_BOOL + (int)MODCTX_ABI_VERSION + kDLCUDA +
         (int)r.kv_caches + (int)c + (int)sizes + (int)MODCTX_CHECK_TOKEN_ID_VALUES + (int)MODCTX_ERR_LENGTH;
}
