// modctx/context.hpp: the immutable ModalityContext and its construction checks.
//
// A ModalityContext bundles everything that flows into a transformer's
// residual stream besides token ids (KempnerForge's ModalityContext). It holds the
// caller's tensors as given (views: no copy, no data read, any device) and is
// immutable once built; copying one shares the tensors (reference counts).
// A built context may be read from any number of threads at once.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <optional>
#include <string>

#include "modctx/names.hpp"
#include "modctx/slice.hpp"
#include "modctx/status.hpp"

namespace modctx {

// The most dimensions a shape may have wherever modctx reads or writes one
// (descriptions, files, the C ABI's MODCTX_MAX_NDIM).
constexpr size_t kMaxDims = 32;

// The raw, unchecked parts of a context. An undefined tensor (at::Tensor())
// means the field is absent (Python's None).
struct ContextFields {
  std::array<at::Tensor, kFieldCount> tensors;
  std::optional<Slice> output_slice;

  at::Tensor& operator[](Field f) { return tensors[static_cast<int>(f)]; }
  const at::Tensor& operator[](Field f) const { return tensors[static_cast<int>(f)]; }
  bool has(Field f) const { return (*this)[f].defined(); }
};

// What the construction and forward checks read of a context, and nothing
// more: which fields are set, the output slice, and modality_ids' dtype. The
// checks take this one type: the C ABI fills it before it makes any tensor,
// and ContextFields and ModalityContext convert to it.
struct ContextFacts {
  std::array<bool, kFieldCount> present{};
  std::optional<Slice> output_slice;
  at::ScalarType modality_ids_dtype = at::kLong;  // meaningful when modality_ids is present

  ContextFacts() = default;
  // The facts of raw fields (implicit: a check may be given the fields).
  ContextFacts(const ContextFields& fields);  // NOLINT(google-explicit-constructor)

  bool has(Field f) const { return present[static_cast<size_t>(f)]; }
};

// The reference's four construction checks, in order; the first
// that fails is returned. Reads presence only: no shape, dtype or device.
Status validate_construction(const ContextFacts& facts);

class ModalityContext {
 public:
  // The empty context: valid, the text-only forward.
  ModalityContext() = default;

  // Runs the construction checks; throws ContextError on the first failure.
  explicit ModalityContext(ContextFields fields);

  // Non-throwing construction: on failure returns the status and leaves
  // *out untouched.
  static Status make(ContextFields fields, ModalityContext* out);

  // Field access. An absent field is an undefined tensor.
  const at::Tensor& get(Field f) const { return fields_[f]; }
  bool has(Field f) const { return fields_.has(f); }
  const at::Tensor& inputs_embeds() const { return get(Field::inputs_embeds); }
  const at::Tensor& prefix_embeds() const { return get(Field::prefix_embeds); }
  const at::Tensor& image_features() const { return get(Field::image_features); }
  const at::Tensor& image_mask() const { return get(Field::image_mask); }
  const at::Tensor& modality_ids() const { return get(Field::modality_ids); }
  const at::Tensor& key_padding_mask() const { return get(Field::key_padding_mask); }
  const std::optional<Slice>& output_slice() const { return fields_.output_slice; }
  bool empty() const;

  // What the checks read of this context (see ContextFacts).
  ContextFacts facts() const { return ContextFacts(fields_); }

  // A copy of all parts, to change several and build a new context.
  const ContextFields& fields() const { return fields_; }

  // Python's dataclasses.replace: a new context with one part changed (an
  // undefined tensor / nullopt unsets it). Runs the construction checks again
  // and throws ContextError on failure; this context is never changed.
  ModalityContext replace(Field field, at::Tensor tensor) const;
  ModalityContext replace_output_slice(std::optional<Slice> slice) const;

  // One line for a log, fields in the reference's order, e.g.
  // ModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0,
  //   output_slice=slice(576, None, None))  (on one line)
  std::string describe() const;

 private:
  ContextFields fields_;
};

}  // namespace modctx
