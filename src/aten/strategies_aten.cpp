// The strategies of the C++ API, on any device this LibTorch can allocate
// on: the rules and values of src/strategies.cpp, placed with LibTorch's
// operators, and compose_residual as an autograd-aware at::cat.
#include <ATen/Context.h>
#include <ATen/ops/cat.h>

#include "strategy_rules.hpp"

namespace modctx {

namespace {

at::Tensor to_cpu(const at::Tensor& t) { return t.is_cpu() ? t : t.to(at::kCPU); }
at::Tensor to_device(const at::Tensor& values, const at::Device& device) {
  return device.is_cpu() ? values : values.to(device);
}

const detail::Placement kAnyDevice = {can_allocate_on, to_cpu, to_device};

}  // namespace

bool can_allocate_on(const at::Device& device) {
  switch (device.type()) {
    case at::kCPU: return true;
    case at::kCUDA: return at::hasCUDA();
    case at::kHIP: return at::hasHIP();
    case at::kMPS: return at::hasMPS();
    default: return false;
  }
}

at::Tensor visual_token_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens) {
  return detail::visual_token_mask(frame_mask, num_visual_tokens, kAnyDevice);
}

at::Tensor prefix_key_padding_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens,
                                   at::IntArrayRef input_ids_shape) {
  return detail::prefix_key_padding_mask(frame_mask, num_visual_tokens, input_ids_shape, kAnyDevice);
}

ModalityContext compose(Arch arch, const StrategyInputs& inputs) { return detail::compose(arch, inputs, kAnyDevice); }

at::Tensor compose_residual(const ModalityContext& context, const at::Tensor& text_embeds) {
  at::Tensor same = detail::residual_without_copy(context, text_embeds, kAnyDevice);
  if (same.defined()) return same;
  // As the reference: cast the prefix to the text-embedding dtype, then concatenate.
  return at::cat({context.prefix_embeds().to(text_embeds.scalar_type()), text_embeds}, /*dim=*/1);
}

}  // namespace modctx
