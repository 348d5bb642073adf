// modctx/tensor.hpp: at::Tensors made and read with LibTorch's core library
// (libc10) alone. Nothing here dispatches to an operator, so a program that
// uses only these needs libc10.so, not libtorch_cpu.so: the C ABI, the
// checker and the safetensors loader are built on them.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/DynamicCast.h>

#include <cstdint>
#include <string>

#include "modctx/status.hpp"

namespace modctx {

// A tensor over memory someone else owns: no copy, no check that the memory
// is on `device` (a tensor may describe accelerator memory on a CPU-only
// LibTorch). `strides` empty: contiguous. `release(release_ctx)` runs when the
// last tensor sharing the storage goes; a null `release` owns nothing. Sizes
// and strides must be valid (>= 0, byte extent within int64): callers check.
at::Tensor make_tensor_view(void* data, at::IntArrayRef sizes, at::IntArrayRef strides, at::ScalarType dtype,
                            at::Device device, void* release_ctx, void (*release)(void*));

// A tensor that only describes a shape: no data (data_ptr() is null).
at::Tensor make_metadata_tensor(at::IntArrayRef sizes, at::ScalarType dtype, at::Device device);

// A new contiguous CPU tensor from c10's CPU allocator; its values are not
// initialised.
at::Tensor allocate_cpu_tensor(at::IntArrayRef sizes, at::ScalarType dtype);

// A contiguous CPU copy of a CPU tensor with data, conjugate and negative
// bits resolved (as at::Tensor::contiguous after resolve_conj/resolve_neg).
at::Tensor contiguous_cpu_copy(const at::Tensor& t);

// The most dimensions for_each_offset walks.
constexpr int64_t kMaxWalkDims = 64;

// Calls fn(offset) with the offset, in elements from t.data_ptr(), of every
// element of `t`, in row-major order. Error(Code::unsupported) past
// kMaxWalkDims dimensions.
template <class Fn>
void for_each_offset(const at::Tensor& t, Fn&& fn) {
  const int64_t n = t.numel();
  if (n == 0) return;
  const int64_t dim = t.dim();
  if (dim > kMaxWalkDims)
    throw Error(Code::unsupported, "a tensor of " + std::to_string(dim) + " dimensions (modctx reads at most " +
                                       std::to_string(kMaxWalkDims) + ")");
  const auto sizes = t.sizes();
  const auto strides = t.strides();
  int64_t index[kMaxWalkDims] = {};
  int64_t offset = 0;
  for (int64_t k = 0; k < n; ++k) {
    fn(offset);
    for (int64_t d = dim - 1; d >= 0; --d) {
      if (++index[d] < sizes[d]) {
        offset += strides[d];
        break;
      }
      offset -= strides[d] * (sizes[d] - 1);
      index[d] = 0;
    }
  }
}

// Calls fn(value) with every element of the CPU tensor `t` (with data),
// converted to T with PyTorch's casts, in row-major order.
template <class T, class Fn>
void for_each_value_as(const at::Tensor& t, Fn&& fn) {
  const auto* base = static_cast<const char*>(t.data_ptr());
  const int64_t itemsize = static_cast<int64_t>(t.element_size());
  const at::ScalarType dtype = t.scalar_type();
  for_each_offset(t, [&](int64_t offset) { fn(c10::fetch_and_cast<T>(dtype, base + offset * itemsize)); });
}

}  // namespace modctx
