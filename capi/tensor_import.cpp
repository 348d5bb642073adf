// Validation of foreign tensor descriptors and their zero-copy wrapping.
//
// Nothing here reads tensor data. A descriptor is checked completely before
// LibTorch sees it (a TensorImpl checks little): rank, sizes, strides,
// dtype, device, alignment, and that the byte extent fits 64 bits.
#include "tensor_import.hpp"

#include "dlpack_codes.hpp"
#include "entry.hpp"

#include "modctx/names.hpp"
#include "modctx/tensor.hpp"

#include <cinttypes>
#include <cstdarg>
#include <cstring>
#include <cstdio>
#include <string>

namespace modctx::capi {

namespace {

// A descriptor reduced to what both DLPack and modctx_tensor_desc say.
struct Layout {
  void* data;
  int32_t ndim;
  const int64_t* shape;
  const int64_t* strides;  // may be null: contiguous
  uint64_t byte_offset;
  at::ScalarType dtype;
  size_t itemsize;
  size_t alignment;
  at::Device device{at::kCPU};
  bool data_is_address;  // false for opaque handles (OpenCL, Vulkan, Metal buffers)
  bool data_optional;    // borrowed: NULL data describes a tensor without giving it
};

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[256];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

Status invalid(const char* what, const std::string& problem) {
  return Status::failure(Code::invalid_argument, std::string(what) + ": " + problem);
}
Status unsupported(const char* what, const std::string& problem) {
  return Status::failure(Code::unsupported, std::string(what) + ": " + problem);
}

// The checks every descriptor gets, whatever its origin.
Status validate_layout(const Layout& l, const char* what) {
  const std::string rank = rank_problem("ndim", l.ndim);
  if (!rank.empty()) return invalid(what, rank);
  if (l.ndim > 0 && !l.shape) return invalid(what, format("shape is NULL with ndim %" PRId32, l.ndim));
  // LibTorch computes contiguous strides as products of max(size, 1): those
  // must fit int64 even when a size is 0 and the tensor is empty.
  int64_t elements = 1;
  int64_t nonzero_product = 1;
  bool overflow = false;
  for (int32_t i = 0; i < l.ndim; ++i) {
    if (l.shape[i] < 0) return invalid(what, format("shape[%" PRId32 "] is %" PRId64 " (sizes must be >= 0)", i, l.shape[i]));
    elements *= l.shape[i] == 0 ? 0 : 1;
    overflow = overflow || __builtin_mul_overflow(nonzero_product, l.shape[i] ? l.shape[i] : 1, &nonzero_product);
  }
  if (overflow) return invalid(what, "the number of elements overflows 64 bits");
  if (elements) elements = nonzero_product;
  if (l.strides)
    for (int32_t i = 0; i < l.ndim; ++i)
      if (l.strides[i] < 0)
        return unsupported(what, format("strides[%" PRId32 "] is %" PRId64 " (LibTorch has no negative strides)", i,
                                        l.strides[i]));

  if (l.byte_offset % l.itemsize != 0)
    return invalid(what, format("byte_offset %" PRIu64 " is not a multiple of the element size %zu", l.byte_offset,
                                l.itemsize));
  // data + byte_offset is formed even for an empty tensor: it must not wrap.
  uintptr_t start;
  if (l.data && __builtin_add_overflow(reinterpret_cast<uintptr_t>(l.data), l.byte_offset, &start))
    return invalid(what, "data + byte_offset wraps around the address space");
  if (elements == 0 || (!l.data && l.data_optional)) return Status::success();
  if (!l.data) return invalid(what, format("data is NULL but the tensor has %" PRId64 " elements", elements));

  // The last byte the tensor can touch: byte_offset + (sum (size-1)*stride + 1) * itemsize.
  uint64_t last = 0;
  bool bad = false;
  for (int32_t i = 0; i < l.ndim; ++i) {
    uint64_t stride;
    if (l.strides) {
      stride = static_cast<uint64_t>(l.strides[i]);
    } else {
      // Contiguous: the product of the later sizes (fits: elements did not overflow).
      stride = 1;
      for (int32_t j = i + 1; j < l.ndim; ++j) stride *= static_cast<uint64_t>(l.shape[j]);
    }
    uint64_t term;
    bad = bad || __builtin_mul_overflow(static_cast<uint64_t>(l.shape[i] - 1), stride, &term) ||
          __builtin_add_overflow(last, term, &last);
  }
  uint64_t extent;
  bad = bad || __builtin_add_overflow(last, uint64_t{1}, &extent) ||
        __builtin_mul_overflow(extent, static_cast<uint64_t>(l.itemsize), &extent) ||
        __builtin_add_overflow(extent, l.byte_offset, &extent) || extent > static_cast<uint64_t>(INT64_MAX);
  if (bad) return invalid(what, "the tensor's byte extent (sizes x strides x element size + byte_offset) overflows");

  if (l.data_is_address) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(l.data);
    uintptr_t end;
    if (__builtin_add_overflow(base, static_cast<uintptr_t>(extent), &end))
      return invalid(what, "data + byte extent wraps around the address space");
    if ((base + l.byte_offset) % l.alignment != 0)
      return invalid(what, format("data + byte_offset is not aligned to %zu bytes", l.alignment));
  }
  return Status::success();
}

size_t alignment_of(at::ScalarType t, size_t itemsize) {
  // A complex number is aligned as one of its parts.
  return at::isComplexType(t) ? itemsize / 2 : itemsize;
}

// Runs a DLPack managed tensor's deleter (legacy or versioned).
template <class Managed>
void release_managed(void* p) {
  auto* t = static_cast<Managed*>(p);
  if (t->deleter) t->deleter(t);
}

// A LibTorch tensor over validated memory whose storage runs fn(ctx) when
// it goes; from the call on, the tensor (or, if making it throws, the
// unwinding) owns the release.
at::Tensor wrap(void* data, int32_t ndim, const int64_t* shape, const int64_t* strides, at::ScalarType dtype,
                at::Device device, void* ctx, PendingRelease::Fn fn) {
  const at::IntArrayRef sizes(shape, static_cast<size_t>(ndim));
  const at::IntArrayRef stride_ref = strides ? at::IntArrayRef(strides, static_cast<size_t>(ndim)) : at::IntArrayRef();
  return modctx::make_tensor_view(data, sizes, stride_ref, dtype, device, ctx, fn);
}

void* address_of(const Layout& l) { return l.data ? static_cast<char*>(l.data) + l.byte_offset : nullptr; }

Status validate(Layout* l, const char* what) {
  l->itemsize = c10::elementSize(l->dtype);
  l->alignment = alignment_of(l->dtype, l->itemsize);
  return validate_layout(*l, what);
}

// Validates and wraps now; the release moves into the tensor's storage.
Status import_layout(Layout l, const char* what, PendingRelease& owner, at::Tensor* out) {
  const Status s = validate(&l, what);
  if (!s.ok()) return s;
  PendingRelease::Fn fn = nullptr;
  void* ctx = owner.take(&fn);
  *out = wrap(address_of(l), l.ndim, l.shape, l.strides, l.dtype, l.device, ctx, fn);
  return Status::success();
}

// Validates and keeps the layout; the release moves into the ForeignTensor.
Status import_lazily(Layout l, const char* what, PendingRelease& owner, std::shared_ptr<const ForeignTensor>* out) {
  const Status s = validate(&l, what);
  if (!s.ok()) return s;
  auto t = std::make_shared<ForeignTensor>();  // may throw: the release stays with `owner`
  t->data = address_of(l);
  t->ndim = l.ndim;
  t->has_strides = l.strides != nullptr;
  t->dtype = l.dtype;
  t->device = l.device;
  for (int32_t i = 0; i < l.ndim; ++i) {
    t->shape[i] = l.shape[i];
    if (l.strides) t->strides[i] = l.strides[i];
  }
  t->release_ctx = owner.take(&t->release);
  *out = std::move(t);
  return Status::success();
}

void drop_keepalive(void* keepalive) { delete static_cast<std::shared_ptr<const ForeignTensor>*>(keepalive); }

}  // namespace

PendingRelease PendingRelease::of(DLManagedTensor* t) noexcept {
  return PendingRelease(t ? release_managed<DLManagedTensor> : nullptr, t);
}

PendingRelease PendingRelease::of(DLManagedTensorVersioned* t) noexcept {
  return PendingRelease(t ? release_managed<DLManagedTensorVersioned> : nullptr, t);
}

namespace {

// LibTorch skips a storage deleter whose context is NULL, and release_ctx may
// be NULL: then the context carries the release function itself (POSIX
// guarantees function pointers round-trip through void*, as dlsym needs).
void release_with_null_context(void* fn) { reinterpret_cast<void (*)(void*)>(fn)(nullptr); }

}  // namespace

PendingRelease PendingRelease::of(const modctx_tensor_desc* t) noexcept {
  // The release pointer is read only when struct_size says it is there.
  const bool readable = t && t->struct_size >= sizeof(modctx_tensor_desc);
  if (!readable || !t->release) return PendingRelease(nullptr, nullptr);
  if (!t->release_ctx) return PendingRelease(release_with_null_context, reinterpret_cast<void*>(t->release));
  return PendingRelease(t->release, t->release_ctx);
}

namespace {

// A DLPack descriptor as a Layout, its dtype and device read (and checked).
Status dlpack_layout(const DLTensor& t, const char* what, Layout* l) {
  Status s = dtype_from_dlpack(t.dtype, what, &l->dtype);
  // The device type is read as the int it is on the wire: a value outside
  // DLDeviceType's enumerators would be undefined behaviour as the enum.
  int32_t device_type = 0;
  static_assert(sizeof(t.device.device_type) == sizeof device_type, "DLDeviceType is int-sized");
  std::memcpy(&device_type, &t.device.device_type, sizeof device_type);
  if (s.ok()) s = device_from_dlpack(device_type, t.device.device_id, what, &l->device, &l->data_is_address);
  if (!s.ok()) return s;
  l->data = t.data;
  l->ndim = t.ndim;
  l->shape = t.shape;
  l->strides = t.strides;
  l->byte_offset = t.byte_offset;
  return Status::success();
}

}  // namespace

Status import_dlpack(const DLTensor& t, const char* what, PendingRelease& owner, at::Tensor* out) {
  Layout l{};
  const Status s = dlpack_layout(t, what, &l);
  return s.ok() ? import_layout(l, what, owner, out) : s;
}

Status import_dlpack(const DLTensor& t, const char* what, PendingRelease& owner,
                     std::shared_ptr<const ForeignTensor>* out) {
  Layout l{};
  const Status s = dlpack_layout(t, what, &l);
  return s.ok() ? import_lazily(l, what, owner, out) : s;
}

Status import_borrowed(const DLTensor& t, const char* what, at::Tensor* out) {
  Layout l{};
  l.data_optional = true;
  Status s = dlpack_layout(t, what, &l);
  if (s.ok()) s = validate(&l, what);
  if (!s.ok()) return s;
  const at::IntArrayRef sizes(l.shape, static_cast<size_t>(l.ndim));
  *out = l.data ? wrap(address_of(l), l.ndim, l.shape, l.strides, l.dtype, l.device, nullptr, nullptr)
                : make_metadata_tensor(sizes, l.dtype, l.device);
  return Status::success();
}

at::Tensor ForeignTensor::make_tensor(const std::shared_ptr<const ForeignTensor>& self) {
  auto keepalive = std::make_unique<std::shared_ptr<const ForeignTensor>>(self);
  const ForeignTensor& t = *self;
  return wrap(t.data, t.ndim, t.shape, t.has_strides ? t.strides : nullptr, t.dtype, t.device, keepalive.release(),
              drop_keepalive);
}

Status validate_dlpack(const DLTensor& t, const char* what, CheckedDLTensor* out) {
  Layout l{};
  Status s = dlpack_layout(t, what, &l);
  if (s.ok()) s = validate(&l, what);
  if (!s.ok()) return s;
  out->itemsize = l.itemsize;
  return device_to_dlpack(l.device, &out->exported_device);
}

namespace {

Status validate_version(const DLManagedTensorVersioned& t, const char* what) {
  if (t.version.major != 1)
    return unsupported(what, format("DLPack version %" PRIu32 ".%" PRIu32 " is not supported (modctx reads major version 1)",
                                    t.version.major, t.version.minor));
  return Status::success();
}

}  // namespace

Status import_dlpack_versioned(const DLManagedTensorVersioned& t, const char* what, PendingRelease& owner,
                               std::shared_ptr<const ForeignTensor>* out) {
  const Status s = validate_version(t, what);
  return s.ok() ? import_dlpack(t.dl_tensor, what, owner, out) : s;
}

namespace {

Status desc_layout(const modctx_tensor_desc& t, const char* what, Layout* l) {
  const std::string size = struct_size_problem("struct_size", t.struct_size, sizeof t, "modctx_tensor_desc");
  if (!size.empty()) return invalid(what, size);
  if (!modctx::dtype_from_code(static_cast<int>(t.dtype), &l->dtype))
    return invalid(what, format("unknown modctx_dtype %d", static_cast<int>(t.dtype)));
  const Status s = device_from_dlpack(t.device_type, t.device_id, what, &l->device, &l->data_is_address);
  if (!s.ok()) return s;
  l->data = t.data;
  l->ndim = t.ndim;
  l->shape = t.shape;
  l->strides = t.strides;
  l->byte_offset = 0;
  return Status::success();
}

}  // namespace

Status import_desc(const modctx_tensor_desc& t, const char* what, PendingRelease& owner,
                   std::shared_ptr<const ForeignTensor>* out) {
  Layout l{};
  const Status s = desc_layout(t, what, &l);
  return s.ok() ? import_lazily(l, what, owner, out) : s;
}

}  // namespace modctx::capi
