// Foreign tensors in: DLPack (legacy and versioned) and the plain-C
// descriptor, validated and wrapped as at::Tensor views without copying.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx.h"
#include "modctx/status.hpp"
#include "pending_release.hpp"

namespace modctx::capi {

// Validates a DLPack tensor and wraps it; on success the returned tensor owns
// the release (taken from `owner`), on failure `owner` still has it. `what`
// prefixes messages (e.g. "prefix_embeds").
Status import_dlpack(const DLTensor& t, const char* what, PendingRelease& owner, at::Tensor* out);

// Versioned DLPack: the major version is read first (only 1 is served).
Status import_dlpack_versioned(const DLManagedTensorVersioned& t, const char* what, PendingRelease& owner,
                               at::Tensor* out);

// What a validated DLPack descriptor is, for code that makes views of it
// without LibTorch (the output slice): its element size, and its device as
// modctx exports it (e.g. kDLCUDAHost memory comes back as kDLCPU).
struct CheckedDLTensor {
  size_t itemsize;
  DLDevice exported_device;
};

// The validation import_dlpack does (same statuses, same messages), without
// wrapping the tensor.
Status check_dlpack(const DLTensor& t, const char* what, CheckedDLTensor* out);

// A DLPack device code and ordinal as a LibTorch device.
Status device_from_dlpack(int32_t type, int32_t id, const char* what, at::Device* out);

// A modctx_dtype value as a ScalarType; false for unknown values.
bool dtype_from_modctx(int dtype, at::ScalarType* out) noexcept;

// The plain-C descriptor, with the same rules.
Status import_desc(const modctx_tensor_desc& t, const char* what, PendingRelease& owner, at::Tensor* out);

}  // namespace modctx::capi
