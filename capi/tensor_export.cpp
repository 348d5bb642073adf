// at::Tensor -> DLPack, without copying the data.
#include "tensor_export.hpp"

#include "dlpack_codes.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace modctx::capi {

namespace {

// The managed struct and what it keeps alive, in one allocation.
template <class Managed>
struct Holder {
  Managed managed{};
  at::Tensor tensor;
  std::vector<int64_t> shape_and_strides;

  static void deleter(Managed* self) { delete static_cast<Holder*>(self->manager_ctx); }
};

template <class Managed>
Status fill(const at::Tensor& t, Holder<Managed>& h) {
  DLTensor& dl = h.managed.dl_tensor;
  Status s = dtype_to_dlpack(t.scalar_type(), &dl.dtype);
  if (s.ok()) s = device_to_dlpack(t.device(), &dl.device);
  if (!s.ok()) return s;
  const int64_t ndim = t.dim();
  h.shape_and_strides.resize(static_cast<size_t>(2 * ndim));
  for (int64_t i = 0; i < ndim; ++i) {
    h.shape_and_strides[static_cast<size_t>(i)] = t.size(i);
    h.shape_and_strides[static_cast<size_t>(ndim + i)] = t.stride(i);
  }
  // The storage's address plus the view's offset: no data access, no device runtime.
  const at::Storage& storage = t.storage();
  // Unsigned integer arithmetic: an empty view may point past the end of the
  // address space (nothing is ever read there), where char* arithmetic is undefined.
  const auto base = reinterpret_cast<uintptr_t>(storage.data());
  const auto offset = static_cast<uintptr_t>(t.storage_offset()) * static_cast<uintptr_t>(t.element_size());
  dl.data = base ? reinterpret_cast<void*>(base + offset) : nullptr;
  dl.ndim = static_cast<int32_t>(ndim);
  dl.shape = h.shape_and_strides.data();
  dl.strides = h.shape_and_strides.data() + ndim;
  dl.byte_offset = 0;
  h.tensor = t;
  h.managed.manager_ctx = &h;
  h.managed.deleter = &Holder<Managed>::deleter;
  return Status::success();
}

template <class Managed>
Status export_as(const at::Tensor& t, Managed** out) {
  auto holder = std::make_unique<Holder<Managed>>();
  Status s = fill(t, *holder);
  if (!s.ok()) return s;
  *out = &holder.release()->managed;
  return Status::success();
}

}  // namespace

Status export_dlpack(const at::Tensor& t, DLManagedTensor** out) { return export_as(t, out); }

Status export_dlpack_versioned(const at::Tensor& t, DLManagedTensorVersioned** out) {
  DLManagedTensorVersioned* result = nullptr;
  Status s = export_as(t, &result);
  if (!s.ok()) return s;
  result->version.major = 1;
  result->version.minor = 0;
  result->flags = DLPACK_FLAG_BITMASK_READ_ONLY;
  *out = result;
  return s;
}

}  // namespace modctx::capi
