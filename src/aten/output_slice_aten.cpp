// apply_output_slice: h[:, slice, :] as an autograd-aware LibTorch view
// (at::Tensor::slice, an operator of libtorch_cpu). The C ABI takes the same
// view on the DLPack descriptor instead (capi/dlpack_view.cpp).
#include <c10/util/Exception.h>

#include <algorithm>

#include "modctx/forward.hpp"

namespace modctx {

at::Tensor apply_output_slice(const at::Tensor& h, const Slice& slice) {
  if (!h.defined()) throw Error(Code::invalid_argument, "apply_output_slice: the hidden state is undefined");
  throw_if_failed(slice.validate_view_of(h.dim()));  // ForwardError (shape) or SliceError
  const int64_t step = slice.step.value_or(1);
  // at::slice clamps start/stop exactly as h[:, start:stop:step] does.
  // Clamp to what the result can depend on: LibTorch refuses int64 extremes
  // (SymInt) and overflows on huge steps, Python's rules do not care.
  const int64_t length = h.size(1);
  auto clamp = [&](int64_t v) { return std::max(-length, std::min(v, length)); };
  const auto start = slice.start ? c10::optional<int64_t>(clamp(*slice.start)) : c10::nullopt;
  const auto stop = slice.stop ? c10::optional<int64_t>(clamp(*slice.stop)) : c10::nullopt;
  const int64_t bounded_step = Slice::view_step(step, length, h.stride(1));
  try {
    return h.slice(1, start, stop, bounded_step);
  } catch (const c10::Error& e) {
    // Some backends (e.g. MPS) refuse views this LibTorch cannot make.
    throw Error(Code::unsupported, "apply_output_slice: this LibTorch cannot take a view of a tensor on " +
                                       h.device().str() + ": " + e.what_without_backtrace());
  }
}

}  // namespace modctx
