// Foreign tensors in: DLPack (legacy and versioned) and the plain-C
// descriptor, validated and wrapped as at::Tensor views without copying.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

#include "modctx.h"
#include "modctx/status.hpp"
#include "pending_release.hpp"

namespace modctx::capi {

// A validated foreign tensor that is not (yet) a LibTorch tensor: what the C
// ABI's builder holds. Making an at::Tensor costs two allocations and about
// 1,500 instructions; the construction and forward checks need only the
// dtype, so contexts make their tensors when first asked for them.
// Shared (std::shared_ptr) by the builder, the contexts built from it and the
// at::Tensors made from it; the release runs when the last of them goes.
struct ForeignTensor {
  void* data = nullptr;  // the descriptor's data + byte_offset (NULL stays NULL)
  int32_t ndim = 0;
  bool has_strides = false;
  at::ScalarType dtype = at::kFloat;
  at::Device device{at::kCPU};
  PendingRelease::Fn release = nullptr;
  void* release_ctx = nullptr;
  int64_t shape[MODCTX_MAX_NDIM];
  int64_t strides[MODCTX_MAX_NDIM];

  // User-provided: make_shared would otherwise zero the 512 bytes of shape
  // and strides first (value initialization); import fills what ndim needs.
  ForeignTensor() noexcept {}
  ForeignTensor(const ForeignTensor&) = delete;
  ForeignTensor& operator=(const ForeignTensor&) = delete;
  ~ForeignTensor() {
    if (release) release(release_ctx);
  }

  // An at::Tensor over the same memory (no copy) that keeps `self` alive.
  static at::Tensor make_tensor(const std::shared_ptr<const ForeignTensor>& self);
};

// The builder's three imports: DLPack (legacy), versioned DLPack (the major
// version is read first; only 1 is served) and the plain-C descriptor, all
// validated with the same rules and messages as import_dlpack below. On
// success *out owns the release; on failure `owner` still has it.
Status import_dlpack(const DLTensor& t, const char* what, PendingRelease& owner,
                     std::shared_ptr<const ForeignTensor>* out);
Status import_dlpack_versioned(const DLManagedTensorVersioned& t, const char* what, PendingRelease& owner,
                               std::shared_ptr<const ForeignTensor>* out);
Status import_desc(const modctx_tensor_desc& t, const char* what, PendingRelease& owner,
                   std::shared_ptr<const ForeignTensor>* out);

// Validates a DLPack tensor and wraps it; on success the returned tensor owns
// the release (taken from `owner`), on failure `owner` still has it. `what`
// prefixes messages (e.g. "prefix_embeds").
Status import_dlpack(const DLTensor& t, const char* what, PendingRelease& owner, at::Tensor* out);

// A borrowed DLPack tensor (a request's token ids and doc_ids): validated
// with the same rules and messages as import_dlpack, except that data may be
// NULL whatever the shape (then *out is a metadata-only tensor: it describes,
// it holds no data). Otherwise *out views the caller's memory and owns
// nothing: no release runs, so it must not outlive the call that borrowed it.
Status import_borrowed(const DLTensor& t, const char* what, at::Tensor* out);

// What a validated DLPack descriptor is, for code that makes views of it
// without LibTorch (the output slice): its element size, and its device as
// modctx exports it (e.g. kDLCUDAHost memory comes back as kDLCPU).
struct CheckedDLTensor {
  size_t itemsize;
  DLDevice exported_device;
};

// The validation import_dlpack does (same statuses, same messages), without
// wrapping the tensor.
Status validate_dlpack(const DLTensor& t, const char* what, CheckedDLTensor* out);


}  // namespace modctx::capi
