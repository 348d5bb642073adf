// modctx/forward.hpp: the checks at the top of the reference's
// Transformer.forward(tokens, modality, kv_caches) (REFERENCE.md section 3,
// items 1 to 3), and the output slice applied to a hidden state.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx/context.hpp"

namespace modctx {

// What the forward call is given besides the context: whether token ids are
// passed, and whether KV caches are (decoding).
struct ForwardArgs {
  bool has_tokens = false;
  bool has_kv_caches = false;
};

// The forward-time checks in the reference's order; `context` may be null
// (a missing context behaves as an empty one). Metadata only.
Status validate_forward(const ModalityContext* context, ForwardArgs args);

// The same checks on what they read of a context (the C ABI's form).
Status validate_forward(const ContextFacts& facts, ForwardArgs args);

// Throwing form: ForwardError on the first failure.
void check_forward(const ModalityContext* context, ForwardArgs args);

// `h[:, slice, :]` as PyTorch computes it: a view of dim 1, no copy.
// Throws, in PyTorch's order: Error(Code::shape) "too many indices for
// tensor of dimension 2" when h has fewer than 3 dims, then SliceError
// "slice step cannot be zero" for step 0 and "step must be greater than
// zero" for a negative step. Uses LibTorch's operators: links libtorch_cpu
// (the modctx_aten library).
at::Tensor apply_output_slice(const at::Tensor& h, const Slice& slice);

// PyTorch's dtype name as Python prints it, e.g. "torch.int32".
std::string torch_dtype_name(at::ScalarType type);

// The same without the "torch." prefix, e.g. "int32".
const char* dtype_short_name(at::ScalarType type) noexcept;

}  // namespace modctx
