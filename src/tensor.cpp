// at::Tensors from c10 types alone: a DataPtr in a Storage in a TensorImpl.
// at::for_blob and at::empty do the same through libtorch_cpu; these are
// what lets the C ABI and the checker load libc10.so only.
#include "modctx/tensor.hpp"

#include <c10/core/CPUAllocator.h>
#include <c10/core/Storage.h>
#include <c10/core/TensorImpl.h>
#include <c10/core/TensorOptions.h>
#include <c10/util/complex.h>

#include <cstring>

namespace modctx {

namespace {

// Bytes from the first to one past the last element (0 for an empty tensor).
size_t byte_extent(at::IntArrayRef sizes, at::IntArrayRef strides, size_t itemsize) {
  uint64_t last = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) return 0;
    last += static_cast<uint64_t>(sizes[i] - 1) * static_cast<uint64_t>(strides[i]);
  }
  return static_cast<size_t>((last + 1) * itemsize);
}

// The tensor's device is its storage's (the DataPtr's).
at::Tensor tensor_over(c10::Storage storage, at::IntArrayRef sizes, at::IntArrayRef strides, at::ScalarType dtype) {
  // The CPU's dispatch key whatever the device, as at::for_blob gives: the
  // tensor describes memory, its device is the storage's (device()), and
  // view operators (slice) run as metadata arithmetic on any device, as
  // they did before; a device's own key would need that backend's kernels.
  const c10::DispatchKeySet keys(c10::computeDispatchKey(dtype, c10::kStrided, at::Device(at::kCPU)));
  auto impl = c10::make_intrusive<c10::TensorImpl>(std::move(storage), keys, c10::scalarTypeToTypeMeta(dtype));
  if (strides.empty() && !sizes.empty())
    impl->set_sizes_contiguous(sizes);
  else
    impl->set_sizes_and_strides(sizes, strides);
  return at::Tensor(std::move(impl));
}

// A complex number is (real, imaginary) parts of type T.
template <class T>
void conjugate(void* data, int64_t n) {
  auto* parts = static_cast<T*>(data);
  for (int64_t i = 0; i < n; ++i) parts[2 * i + 1] = -parts[2 * i + 1];
}

template <class T>
void negate(void* data, int64_t n) {
  auto* p = static_cast<T*>(data);
  for (int64_t i = 0; i < n; ++i) p[i] = -p[i];
}

}  // namespace

at::Tensor make_tensor_view(void* data, at::IntArrayRef sizes, at::IntArrayRef strides, at::ScalarType dtype,
                            at::Device device, void* release_ctx, void (*release)(void*)) {
  // First, before anything can throw: the DataPtr owns release_ctx from here
  // on, and runs the release if making the tensor fails.
  c10::DataPtr owned(data, release ? release_ctx : nullptr, release, device);
  const size_t itemsize = c10::elementSize(dtype);
  size_t nbytes = itemsize;
  if (strides.empty())
    for (const int64_t s : sizes) nbytes *= static_cast<size_t>(s);
  else
    nbytes = byte_extent(sizes, strides, itemsize);
  c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(owned), /*allocator=*/nullptr,
                       /*resizable=*/false);
  return tensor_over(std::move(storage), sizes, strides, dtype);
}

at::Tensor make_metadata_tensor(at::IntArrayRef sizes, at::ScalarType dtype, at::Device device) {
  return make_tensor_view(nullptr, sizes, {}, dtype, device, nullptr, nullptr);
}

at::Tensor allocate_cpu_tensor(at::IntArrayRef sizes, at::ScalarType dtype) {
  size_t nbytes = c10::elementSize(dtype);
  for (const int64_t s : sizes) nbytes *= static_cast<size_t>(s);
  c10::Allocator* allocator = c10::GetCPUAllocator();
  c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, allocator->allocate(nbytes), allocator,
                       /*resizable=*/false);
  return tensor_over(std::move(storage), sizes, {}, dtype);
}

at::Tensor contiguous_cpu_copy(const at::Tensor& t) {
  at::Tensor out = allocate_cpu_tensor(t.sizes(), t.scalar_type());
  const size_t itemsize = t.element_size();
  const auto* from = static_cast<const char*>(t.data_ptr());
  auto* to = static_cast<char*>(out.data_ptr());
  if (t.is_contiguous()) {
    if (t.numel() > 0) std::memcpy(to, from, static_cast<size_t>(t.numel()) * itemsize);
  } else {
    for_each_offset(t, [&](int64_t offset) {
      std::memcpy(to, from + offset * static_cast<int64_t>(itemsize), itemsize);
      to += itemsize;
    });
  }
  // The lazy bits LibTorch views may carry: the values they stand for.
  const int64_t n = out.numel();
  if (t.is_conj()) {
    switch (t.scalar_type()) {
      case at::kComplexFloat: conjugate<float>(out.data_ptr(), n); break;
      case at::kComplexDouble: conjugate<double>(out.data_ptr(), n); break;
      case at::kComplexHalf: conjugate<c10::Half>(out.data_ptr(), n); break;
      default: break;  // only complex tensors carry the bit
    }
  }
  if (t.is_neg()) {
    switch (t.scalar_type()) {
      case at::kComplexFloat: negate<c10::complex<float>>(out.data_ptr(), n); break;
      case at::kComplexDouble: negate<c10::complex<double>>(out.data_ptr(), n); break;
      case at::kFloat: negate<float>(out.data_ptr(), n); break;
      case at::kDouble: negate<double>(out.data_ptr(), n); break;
      default:
        throw Error(Code::unsupported, std::string("a negative-bit tensor of dtype ") + c10::toString(t.scalar_type()));
    }
  }
  return out;
}

}  // namespace modctx
