/* C entry points for the fuzzer's calls that pass enum values: C lets any int
 * through a modctx_field, modctx_status or modctx_dtype (as a C caller of the
 * ABI would), where the fuzzer's C++ could not form an out-of-range enum
 * value without undefined behaviour of its own. */
#include "capi_shim.h"

modctx_status fz_set_dlpack(modctx_builder *b, int field, DLManagedTensor *t) {
  return modctx_builder_set_dlpack(b, (modctx_field)field, t);
}
modctx_status fz_set_dlpack_versioned(modctx_builder *b, int field, DLManagedTensorVersioned *t) {
  return modctx_builder_set_dlpack_versioned(b, (modctx_field)field, t);
}
modctx_status fz_set_tensor(modctx_builder *b, int field, const modctx_tensor_desc *t) {
  return modctx_builder_set_tensor(b, (modctx_field)field, t);
}
modctx_status fz_clear(modctx_builder *b, int field) { return modctx_builder_clear(b, (modctx_field)field); }
modctx_status fz_has(const modctx_context *c, int field, int *out) {
  return modctx_context_has(c, (modctx_field)field, out);
}
modctx_status fz_get_dlpack(const modctx_context *c, int field, DLManagedTensor **out) {
  return modctx_context_get_dlpack(c, (modctx_field)field, out);
}
modctx_status fz_get_dlpack_versioned(const modctx_context *c, int field, DLManagedTensorVersioned **out) {
  return modctx_context_get_dlpack_versioned(c, (modctx_field)field, out);
}
const char *fz_field_name(int field) { return modctx_field_name((modctx_field)field); }
const char *fz_status_name(int status) { return modctx_status_name((modctx_status)status); }
const char *fz_api_status_name(const modctx_api *api, int status) { return api->status_name((modctx_status)status); }
void fz_desc_set_dtype(modctx_tensor_desc *d, int dtype) { d->dtype = (modctx_dtype)dtype; }
