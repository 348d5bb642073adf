// modctx/strategies.hpp: the reference's four strategies, which compose a context from projected image embeddings and a
// text batch, and the residual-composition helpers of Transformer.forward.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx/context.hpp"
#include "modctx/model.hpp"

namespace modctx {

struct StrategyInputs {
  at::Tensor image_embeds;        // (B, N, D), already projected by the adapter; held, not copied
  at::IntArrayRef input_ids_shape;  // (B, T): only the shape is used (read during the call)
  at::Device input_ids_device = at::Device(at::kCPU);  // where modality_ids are allocated
  at::Tensor frame_mask;          // optional (B, F) bool, True = real frame; undefined: none
};

// The context the reference's strategy for `arch` builds:
//   joint_decoder:   prefix_embeds, output_slice = slice(N, None, None), key_padding_mask
//   cross_attention: image_features, image_mask
//   mot, moma:       as joint_decoder, plus modality_ids (B, N + T) int64:
//                    0 for the first N positions, 1 after
// key_padding_mask and image_mask exist only with a frame mask. Allocates
// the masks and tags (on the frame mask's and the input ids' devices);
// where this LibTorch cannot allocate, Error(Code::unsupported). Arch::text
// has no strategy: Error(Code::invalid_argument). A frame count that does
// not divide N: Error(Code::shape) with the reference's message.
ModalityContext compose(Arch arch, const StrategyInputs& inputs);

// The reference's helpers. visual_token_mask: each frame's bit repeated over
// its N / F consecutive tokens, (B, N); undefined when frame_mask is.
at::Tensor visual_token_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens);
// [visual_token_mask, ones(B, T, bool)] along dim 1: text always valid.
at::Tensor prefix_key_padding_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens,
                                   at::IntArrayRef input_ids_shape);

// The residual's length without building it: N + T with a prefix, S with
// inputs_embeds (text_length is then ignored), else T.
int64_t residual_length(const ModalityContext& context, int64_t text_length);

// The residual as the reference builds it: cat([prefix_embeds cast to
// text_embeds' dtype, text_embeds], dim=1) with a prefix; text_embeds
// itself otherwise (no copy). Allocates on text_embeds' device.
at::Tensor compose_residual(const ModalityContext& context, const at::Tensor& text_embeds);

// True when this LibTorch can allocate memory on `device`.
bool can_allocate_on(const at::Device& device);

// compose, visual_token_mask, prefix_key_padding_mask, compose_residual and
// can_allocate_on use LibTorch's operators: a program that calls them links
// libtorch_cpu (the modctx_aten library; pkg-config modctx-cxx brings both).
// The forms below need LibTorch's core library (libc10) only, as the C ABI
// and the checker do: the same checks, messages and values, but they
// allocate CPU memory only (any other device: Error(Code::unsupported), the
// message compose gives on a LibTorch built without that device), and
// compose_residual copies values (its result has no autograd history).
namespace cpu_only {
ModalityContext compose(Arch arch, const StrategyInputs& inputs);
at::Tensor compose_residual(const ModalityContext& context, const at::Tensor& text_embeds);
}  // namespace cpu_only

}  // namespace modctx
