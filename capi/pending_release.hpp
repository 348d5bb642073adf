// Ownership of a foreign tensor on its way into modctx: whatever path a C
// call takes, the tensor's release (DLPack deleter, descriptor release) runs
// exactly once.
#pragma once

#include "modctx.h"

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

}  // namespace modctx::capi
