/* C shims: the fuzzer's calls that carry enum values as plain ints. */
#ifndef MODCTX_FUZZ_CAPI_SHIM_H
#define MODCTX_FUZZ_CAPI_SHIM_H

#include "modctx.h"

#ifdef __cplusplus
extern "C" {
#endif

modctx_status fz_set_dlpack(modctx_builder *b, int field, DLManagedTensor *t);
modctx_status fz_set_dlpack_versioned(modctx_builder *b, int field, DLManagedTensorVersioned *t);
modctx_status fz_set_tensor(modctx_builder *b, int field, const modctx_tensor_desc *t);
modctx_status fz_clear(modctx_builder *b, int field);
modctx_status fz_has(const modctx_context *c, int field, int *out);
modctx_status fz_get_dlpack(const modctx_context *c, int field, DLManagedTensor **out);
modctx_status fz_get_dlpack_versioned(const modctx_context *c, int field, DLManagedTensorVersioned **out);
const char *fz_field_name(int field);
const char *fz_status_name(int status);
const char *fz_api_status_name(const modctx_api *api, int status);
void fz_desc_set_dtype(modctx_tensor_desc *d, int dtype);

#ifdef __cplusplus
}
#endif

#endif
