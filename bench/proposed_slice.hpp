// PROPOSED, NOT THE LIBRARY: a prototype that measures a change proposed in
// docs/PERFORMANCE.md ("the output slice through the C ABI without LibTorch").
//
// modctx_context_apply_output_slice today imports the hidden state as an
// at::Tensor (at::for_blob), slices it through LibTorch's dispatcher
// (at::slice -> as_strided: autograd and view bookkeeping a DLPack caller
// never sees) and exports the view (a holder with an at::Tensor and a
// std::vector). Through the C ABI the result is a DLPack descriptor, so the
// view can be computed from the descriptor: shape[1] = count,
// strides[1] *= step, data += start * strides[1] * itemsize, with one
// allocation that owns the input managed tensor and runs its deleter on release.
//
// This prototype uses only the public C ABI (modctx_context_get_output_slice,
// modctx_slice_indices) for Python's slice rules. It does NOT validate the
// descriptor: the library would keep its check_layout (the same checks every
// imported tensor gets), whose cost is counted separately in PERFORMANCE.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <new>

#include "contexts.hpp"
#include "modctx.h"

namespace bench::proposed {

struct SlicedView {
  DLManagedTensor managed;
  DLManagedTensor* input;  // released with the view
  int64_t shape_and_strides[2 * MODCTX_MAX_NDIM];

  static void deleter(DLManagedTensor* self) {
    auto* v = static_cast<SlicedView*>(self->manager_ctx);
    if (v->input && v->input->deleter) v->input->deleter(v->input);
    delete v;
  }
};

// The same contract as modctx_context_apply_output_slice for a valid
// descriptor (ndim >= 3, step > 0, int/float/bool dtypes of whole bytes).
inline modctx_status apply_output_slice(const modctx_context* ctx, DLManagedTensor* hidden, DLManagedTensor** out) {
  *out = nullptr;
  const DLTensor& in = hidden->dl_tensor;
  if (in.ndim < 3) {
    if (hidden->deleter) hidden->deleter(hidden);
    return MODCTX_ERR_SHAPE;
  }
  int has = 0;
  modctx_slice s{};
  modctx_context_get_output_slice(ctx, &has, &s);
  if (has && (s.flags & MODCTX_SLICE_HAS_STEP) && s.step <= 0) {
    if (hidden->deleter) hidden->deleter(hidden);
    return MODCTX_ERR_SLICE;
  }
  auto* v = new (std::nothrow) SlicedView;
  if (!v) {
    if (hidden->deleter) hidden->deleter(hidden);
    return MODCTX_ERR_OUT_OF_MEMORY;
  }
  const int32_t nd = in.ndim;
  int64_t* shape = v->shape_and_strides;
  int64_t* strides = v->shape_and_strides + nd;
  std::memcpy(shape, in.shape, sizeof(int64_t) * static_cast<size_t>(nd));
  if (in.strides) {
    std::memcpy(strides, in.strides, sizeof(int64_t) * static_cast<size_t>(nd));
  } else {
    int64_t st = 1;
    for (int32_t i = nd - 1; i >= 0; --i) strides[i] = st, st *= shape[i] ? shape[i] : 1;
  }
  int64_t start = 0, stop = 0, step = 1, count = shape[1];
  if (has) modctx_slice_indices(&s, shape[1], &start, &stop, &step, &count);
  const int64_t itemsize = (in.dtype.bits + 7) / 8;
  v->managed.dl_tensor = in;
  v->managed.dl_tensor.data =
      in.data ? static_cast<char*>(in.data) + in.byte_offset + start * strides[1] * itemsize : nullptr;
  v->managed.dl_tensor.byte_offset = 0;
  shape[1] = count;
  strides[1] *= step;
  v->managed.dl_tensor.shape = shape;
  v->managed.dl_tensor.strides = strides;
  v->managed.manager_ctx = v;
  v->managed.deleter = &SlicedView::deleter;
  v->input = hidden;
  *out = &v->managed;
  return MODCTX_OK;
}

// bench::capi_mot_and_slice_request with the proposed slice.
inline modctx_status mot_and_slice_request(HeldDLPack& h, DLPackOf& hidden, int64_t expected_len) {
  modctx_builder* b = nullptr;
  modctx_context* ctx = nullptr;
  DLManagedTensor* out = nullptr;
  if (!h.held.spec.slice) return MODCTX_ERR_INVALID_ARGUMENT;  // the MoT context only
  modctx_status s = modctx_builder_new(&b);
  for (size_t i = 0; i < h.dl.size() && s == MODCTX_OK; ++i)
    s = modctx_builder_set_dlpack(b, static_cast<modctx_field>(h.held.spec.fields[i].field), &h.dl[i].legacy);
  const modctx_slice sl = c_slice(*h.held.spec.slice);
  if (s == MODCTX_OK) s = modctx_builder_set_output_slice(b, &sl);
  if (s == MODCTX_OK) s = modctx_builder_build(b, &ctx);
  if (s == MODCTX_OK) s = modctx_check_forward(ctx, 1, 0);
  if (s == MODCTX_OK) s = apply_output_slice(ctx, &hidden.legacy, &out);
  if (s == MODCTX_OK && out->dl_tensor.shape[1] != expected_len) s = MODCTX_ERR_INTERNAL;
  if (out && out->deleter) out->deleter(out);
  modctx_builder_free(b);
  modctx_context_free(ctx);
  return s;
}

}  // namespace bench::proposed
