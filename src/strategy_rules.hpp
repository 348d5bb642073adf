// The strategies' rules and values, written once for both ways of running
// them: the C ABI and the checker (libc10 only, CPU memory) and the C++ API
// (src/aten/, LibTorch's operators, any device LibTorch can allocate on).
// Internal: not installed.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx/strategies.hpp"

namespace modctx::detail {

// Where the tensors a strategy allocates go. The strategies compute every
// value on the CPU, then place it.
struct Placement {
  bool (*can_allocate)(const at::Device& device);
  // A CPU tensor with t's values (t itself when t is on the CPU).
  at::Tensor (*read_on_cpu)(const at::Tensor& t);
  // The new CPU tensor `values` on `device` (itself for the CPU).
  at::Tensor (*place)(const at::Tensor& values, const at::Device& device);
};

// CPU memory only, through c10: what the C ABI and the checker use.
extern const Placement kCpuOnly;

ModalityContext compose(Arch arch, const StrategyInputs& inputs, const Placement& placement);
at::Tensor visual_token_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens, const Placement& placement);
at::Tensor prefix_key_padding_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens,
                                   at::IntArrayRef input_ids_shape, const Placement& placement);

// compose_residual's checks, in order. Returns the residual when it is a
// tensor the caller already has (inputs_embeds, or the text embeddings
// without a prefix); an undefined tensor when the prefix must be prepended.
at::Tensor residual_without_copy(const ModalityContext& context, const at::Tensor& text_embeds,
                                 const Placement& placement);

}  // namespace modctx::detail
