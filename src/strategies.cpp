// The reference's four strategies and the residual-composition helpers
// (REFERENCE.md sections 3 and 4). These allocate (masks, tags, the
// residual); everything else in modctx only reads metadata.
#include "modctx/strategies.hpp"

#include <ATen/Context.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>

#include "modctx/forward.hpp"

namespace modctx {

namespace {

[[noreturn]] void fail(Code code, const std::string& message) { throw Error(code, message); }

void require_allocatable(const at::Device& device, const char* what) {
  if (!can_allocate_on(device))
    fail(Code::unsupported, std::string(what) + " would be allocated on " + device.str() +
                                ", which this LibTorch cannot allocate on (built without that backend)");
}

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
  if (!frame_mask.defined()) return at::Tensor();
  if (frame_mask.dim() != 2)
    fail(Code::shape, "frame_mask must have shape (B, F), got " + shape_tuple(frame_mask.sizes()));
  if (frame_mask.scalar_type() != at::kBool)
    fail(Code::dtype, "frame_mask.dtype must be torch.bool, got " + torch_dtype_name(frame_mask.scalar_type()));
  const int64_t num_frames = frame_mask.size(1);
  if (num_frames == 0) fail(Code::shape, "_visual_token_mask: frame_mask has no frames (shape " +
                                             shape_tuple(frame_mask.sizes()) + ")");
  if (num_visual_tokens % num_frames != 0)
    fail(Code::shape, "_visual_token_mask: num_visual_tokens (" + std::to_string(num_visual_tokens) +
                          ") is not a multiple of num_frames (" + std::to_string(num_frames) +
                          "); the per-frame expansion assumes frame-contiguous visual tokens.");
  require_allocatable(frame_mask.device(), "the visual token mask");
  return frame_mask.repeat_interleave(num_visual_tokens / num_frames, /*dim=*/1);
}

at::Tensor prefix_key_padding_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens,
                                   at::IntArrayRef input_ids_shape) {
  at::Tensor vmask = visual_token_mask(frame_mask, num_visual_tokens);
  if (!vmask.defined()) return vmask;
  if (input_ids_shape.size() != 2)
    fail(Code::shape, "input_ids must have shape (B, T), got " + shape_tuple(input_ids_shape));
  if (vmask.size(0) != input_ids_shape[0])
    fail(Code::shape, "frame_mask batch size " + std::to_string(vmask.size(0)) +
                          " does not match the batch size " + std::to_string(input_ids_shape[0]) + " of input_ids");
  const at::Tensor text_valid =
      at::ones(input_ids_shape, at::TensorOptions().dtype(at::kBool).device(vmask.device()));
  return at::cat({vmask, text_valid}, /*dim=*/1);
}

ModalityContext compose(Arch arch, const StrategyInputs& in) {
  if (static_cast<int>(arch) < 0 || static_cast<int>(arch) > static_cast<int>(Arch::moma))
    fail(Code::invalid_argument, "compose: unknown architecture " + std::to_string(static_cast<int>(arch)));
  if (arch == Arch::text) fail(Code::invalid_argument, "compose: the text architecture has no strategy");
  if (!in.image_embeds.defined()) fail(Code::invalid_argument, "compose: image_embeds is not set");
  if (in.image_embeds.dim() != 3)
    fail(Code::shape, "image_embeds must have shape (B, N, D), got " + shape_tuple(in.image_embeds.sizes()));
  if (in.input_ids_shape.size() != 2)
    fail(Code::shape, "input_ids must have shape (B, T), got " + shape_tuple(in.input_ids_shape));
  if (in.input_ids_shape[0] < 0 || in.input_ids_shape[1] < 0)
    fail(Code::shape, "input_ids shape " + shape_tuple(in.input_ids_shape) + " has a negative size");
  const int64_t n = in.image_embeds.size(1);

  ContextFields f;
  if (arch == Arch::cross_attention) {
    f[Field::image_features] = in.image_embeds;
    f[Field::image_mask] = visual_token_mask(in.frame_mask, n);
    return ModalityContext(std::move(f));
  }
  f[Field::prefix_embeds] = in.image_embeds;
  f.output_slice = Slice{n, std::nullopt, std::nullopt};
  f[Field::key_padding_mask] = prefix_key_padding_mask(in.frame_mask, n, in.input_ids_shape);
  if (arch == Arch::mot || arch == Arch::moma) {
    require_allocatable(in.input_ids_device, "modality_ids");
    const int64_t batch = in.input_ids_shape[0], text = in.input_ids_shape[1];
    at::Tensor ids = at::zeros({batch, n + text}, at::TensorOptions().dtype(at::kLong).device(in.input_ids_device));
    ids.slice(/*dim=*/1, n).fill_(1);
    f[Field::modality_ids] = std::move(ids);
  }
  return ModalityContext(std::move(f));
}

int64_t residual_length(const ModalityContext& context, int64_t text_length) {
  if (context.has(Field::inputs_embeds)) {
    if (context.inputs_embeds().dim() < 2)
      throw Error(Code::shape, "modality.inputs_embeds must have shape (B, S, D), got " +
                                   shape_tuple(context.inputs_embeds().sizes()));
    return context.inputs_embeds().size(1);
  }
  if (text_length < 0) throw Error(Code::invalid_argument, "residual_length: the text length is negative");
  if (!context.has(Field::prefix_embeds)) return text_length;
  if (context.prefix_embeds().dim() < 2)
    throw Error(Code::shape, "modality.prefix_embeds must have shape (B, N, D), got " +
                                 shape_tuple(context.prefix_embeds().sizes()));
  return context.prefix_embeds().size(1) + text_length;
}

at::Tensor compose_residual(const ModalityContext& context, const at::Tensor& text_embeds) {
  if (context.has(Field::inputs_embeds)) {
    if (text_embeds.defined())
      throw Error(Code::forward_inputs, "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
    return context.inputs_embeds();
  }
  if (!text_embeds.defined()) throw Error(Code::invalid_argument, "compose_residual: the text embeddings are not set");
  if (!context.has(Field::prefix_embeds)) return text_embeds;
  const at::Tensor& prefix = context.prefix_embeds();
  if (text_embeds.dim() != 3)
    throw Error(Code::shape, "the text embeddings must have shape (B, T, D), got " + shape_tuple(text_embeds.sizes()));
  if (prefix.dim() != 3 || prefix.size(0) != text_embeds.size(0) || prefix.size(2) != text_embeds.size(2))
    throw Error(Code::shape, "modality.prefix_embeds shape " + shape_tuple(prefix.sizes()) +
                                 " cannot be prepended to text embeddings of shape " +
                                 shape_tuple(text_embeds.sizes()));
  if (prefix.device() != text_embeds.device())
    throw Error(Code::device, "modality.prefix_embeds is on " + prefix.device().str() +
                                  ", but the text embeddings are on " + text_embeds.device().str());
  require_allocatable(text_embeds.device(), "the residual");
  // As the reference: cast the prefix to the text-embedding dtype, then concatenate.
  return at::cat({prefix.to(text_embeds.scalar_type()), text_embeds}, /*dim=*/1);
}

}  // namespace modctx
