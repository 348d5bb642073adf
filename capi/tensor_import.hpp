// Foreign tensors in: DLPack (legacy and versioned) and the plain-C
// descriptor, validated and wrapped as at::Tensor views without copying.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx.h"
#include "modctx/status.hpp"

namespace modctx::capi {

// Owns a foreign tensor until ownership moves into LibTorch: its release
// function runs exactly once, from the destructor unless take() was called.
class PendingRelease {
 public:
  using Fn = void (*)(void*);
  PendingRelease(Fn fn, void* ctx) noexcept : fn_(fn), ctx_(ctx) {}
  PendingRelease(const PendingRelease&) = delete;
  PendingRelease& operator=(const PendingRelease&) = delete;
  ~PendingRelease() {
    if (fn_) fn_(ctx_);
  }
  // Hands the release over to the caller; afterwards this does nothing.
  void* take(Fn* fn) noexcept {
    *fn = fn_;
    fn_ = nullptr;
    return ctx_;
  }

  static PendingRelease of(DLManagedTensor* t) noexcept;
  static PendingRelease of(DLManagedTensorVersioned* t) noexcept;
  static PendingRelease of(const modctx_tensor_desc* t) noexcept;

 private:
  Fn fn_;
  void* ctx_;
};

// Validates a DLPack tensor and wraps it; on success the returned tensor owns
// the release (taken from `owner`), on failure `owner` still has it. `what`
// prefixes messages (e.g. "prefix_embeds").
Status import_dlpack(const DLTensor& t, const char* what, PendingRelease& owner, at::Tensor* out);

// Versioned DLPack: the major version is read first (only 1 is served).
Status import_dlpack_versioned(const DLManagedTensorVersioned& t, const char* what, PendingRelease& owner,
                               at::Tensor* out);

// A DLPack device code and ordinal as a LibTorch device.
Status device_from_dlpack(int32_t type, int32_t id, const char* what, at::Device* out);

// A modctx_dtype value as a ScalarType; false for unknown values.
bool dtype_from_modctx(int dtype, at::ScalarType* out) noexcept;

// The plain-C descriptor, with the same rules.
Status import_desc(const modctx_tensor_desc& t, const char* what, PendingRelease& owner, at::Tensor* out);

}  // namespace modctx::capi
