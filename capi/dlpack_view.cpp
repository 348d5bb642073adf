// h[:, slice, :] on a DLPack descriptor: arithmetic on shape, strides and
// address; no LibTorch tensor is made and no data is read.
#include "dlpack_view.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>

#include "tensor_import.hpp"

namespace modctx::capi {

namespace {

// The view and what it owns, in one allocation.
struct View {
  DLManagedTensor managed;
  PendingRelease::Fn release;  // the hidden state's release
  void* release_ctx;
  int64_t shape[MODCTX_MAX_NDIM];
  int64_t strides[MODCTX_MAX_NDIM];

  static void deleter(DLManagedTensor* self) {
    View* view = static_cast<View*>(self->manager_ctx);
    const PendingRelease::Fn fn = view->release;
    void* const ctx = view->release_ctx;
    delete view;
    if (fn) fn(ctx);
  }
};

}  // namespace

Status slice_dlpack(const DLTensor& hidden, const std::optional<Slice>& slice, const char* what,
                    PendingRelease& owner, DLManagedTensor** out) {
  CheckedDLTensor checked{};
  Status s = validate_dlpack(hidden, what, &checked);
  if (!s.ok()) return s;
  if (slice) {
    s = slice->validate_view_of(hidden.ndim);
    if (!s.ok()) return s;
  }

  std::unique_ptr<View> view(new View);  // may throw bad_alloc: the caller's owner keeps the release
  const int32_t ndim = hidden.ndim;
  // LibTorch's strides for a tensor given without them: products of
  // max(size, 1) of the later sizes (they fit: validate_dlpack checked them).
  int64_t running = 1;
  for (int32_t i = ndim - 1; i >= 0; --i) {
    view->shape[i] = hidden.shape[i];
    view->strides[i] = hidden.strides ? hidden.strides[i] : running;
    running *= std::max<int64_t>(hidden.shape[i], 1);
  }
  // As LibTorch's storage address plus the view's offset: byte_offset folded
  // into the address, in unsigned arithmetic (an empty view may point past
  // the end of the address space; nothing is read there).
  uintptr_t address = reinterpret_cast<uintptr_t>(hidden.data);
  if (hidden.data) address += hidden.byte_offset;

  if (slice) {
    // at::slice's result, which for a positive step is Python's indices:
    // start and stop clamped to [0, length], ceil((stop - start) / step) rows.
    const int64_t length = view->shape[1];
    Slice::Indices idx{};
    const char* error = nullptr;
    slice->try_indices(length, &idx, &error);  // cannot fail: length >= 0, step > 0
    // The step LibTorch's view takes (and modctx::apply_output_slice too).
    const int64_t step = Slice::view_step(idx.step, length, view->strides[1]);
    // Wrapping where PyTorch's int64 arithmetic has no defined result
    // (only possible for empty tensors, whose strides are not checked).
    const uint64_t stride = static_cast<uint64_t>(view->strides[1]);
    if (hidden.data) address += static_cast<uint64_t>(idx.start) * stride * checked.itemsize;
    view->shape[1] = idx.count;
    view->strides[1] = static_cast<int64_t>(stride * static_cast<uint64_t>(step));
  }

  DLTensor& dl = view->managed.dl_tensor;
  dl.data = reinterpret_cast<void*>(address);
  dl.device = checked.exported_device;
  dl.ndim = ndim;
  dl.dtype = hidden.dtype;  // every dtype modctx accepts exports as itself
  dl.shape = view->shape;
  dl.strides = view->strides;
  dl.byte_offset = 0;
  view->managed.manager_ctx = view.get();
  view->managed.deleter = &View::deleter;
  view->release_ctx = owner.take(&view->release);
  *out = &view.release()->managed;
  return Status::success();
}

}  // namespace modctx::capi
