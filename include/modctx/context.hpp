// modctx/context.hpp: the immutable ModalityContext and its construction checks.
//
// A ModalityContext bundles everything that flows into a transformer's
// residual stream besides token ids (REFERENCE.md section 1). It holds the
// caller's tensors as given (views: no copy, no data read, any device) and is
// immutable once built; copying one shares the tensors (reference counts).
// A built context may be read from any number of threads at once.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <optional>
#include <string>

#include "modctx/slice.hpp"
#include "modctx/status.hpp"

namespace modctx {

// The six tensor fields. The values are the C ABI's `modctx_field` values.
enum class Field : int {
  inputs_embeds = 0,
  prefix_embeds = 1,
  image_features = 2,
  image_mask = 3,
  modality_ids = 4,
  key_padding_mask = 5,
};

constexpr int kFieldCount = 6;

// The field's name as the reference spells it, e.g. "prefix_embeds".
// Unknown values give "unknown".
const char* field_name(Field field) noexcept;

// Parses a field name; false when it is not one of the six.
bool parse_field(const std::string& name, Field* out) noexcept;

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
// more: which fields are set, whether there is an output slice, and
// modality_ids' dtype. The C ABI checks these before it makes any tensor.
struct ContextFacts {
  std::array<bool, kFieldCount> present{};
  bool output_slice = false;
  at::ScalarType modality_ids_dtype = at::kLong;  // meaningful when modality_ids is present

  bool has(Field f) const { return present[static_cast<size_t>(f)]; }
  bool has_output_slice() const { return output_slice; }
};

// The four construction checks of REFERENCE.md section 2, in order; the first
// that fails is returned. Reads presence only: no shape, dtype or device.
Status validate_construction(const ContextFields& fields);
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
