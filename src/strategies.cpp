// The reference's four strategies and the residual-composition helpers:
// their checks, in order, and the values
// they write (tags, masks), computed here once. These allocate; everything
// else in modctx only reads metadata. LibTorch's core (c10) only: the
// C++ API's device-placing forms are in src/aten/strategies_aten.cpp.
#include "strategy_rules.hpp"

#include <cstring>

#include "modctx/forward.hpp"
#include "modctx/tensor.hpp"

namespace modctx {

namespace detail {

namespace {

[[noreturn]] void throw_error(Code code, const std::string& message) { throw Error(code, message); }

void require_allocatable(const Placement& p, const at::Device& device, const char* what) {
  if (!p.can_allocate(device))
    throw_error(Code::unsupported, std::string(what) + " would be allocated on " + device.str() +
                                ", which this LibTorch cannot allocate on (built without that backend)");
}

// visual_token_mask's checks; returns how many tokens each frame covers.
int64_t tokens_per_frame(const at::Tensor& frame_mask, int64_t num_visual_tokens, const Placement& p) {
  if (frame_mask.dim() != 2)
    throw_error(Code::shape, "frame_mask must have shape (B, F), got " + shape_tuple(frame_mask.sizes()));
  if (frame_mask.scalar_type() != at::kBool)
    throw_error(Code::dtype, "frame_mask.dtype must be torch.bool, got " + torch_dtype_name(frame_mask.scalar_type()));
  const int64_t num_frames = frame_mask.size(1);
  if (num_frames == 0) throw_error(Code::shape, "_visual_token_mask: frame_mask has no frames (shape " +
                                             shape_tuple(frame_mask.sizes()) + ")");
  if (num_visual_tokens % num_frames != 0)
    throw_error(Code::shape, "_visual_token_mask: num_visual_tokens (" + std::to_string(num_visual_tokens) +
                          ") is not a multiple of num_frames (" + std::to_string(num_frames) +
                          "); the per-frame expansion assumes frame-contiguous visual tokens.");
  if (num_visual_tokens < 0)
    throw_error(Code::invalid_argument,
                "_visual_token_mask: num_visual_tokens must be >= 0, got " + std::to_string(num_visual_tokens));
  require_allocatable(p, frame_mask.device(), "the visual token mask");
  return num_visual_tokens / num_frames;
}

// The values: (B, N + text) bool, each frame's bit repeated over its
// `per_frame` tokens, then `text` true positions (the key padding mask; the
// visual token mask alone with text = 0).
at::Tensor mask_values(const at::Tensor& frame_mask, int64_t per_frame, int64_t text, const Placement& p) {
  if (frame_mask.numel() > 0 && !frame_mask.data_ptr())
    throw_error(Code::unsupported, "frame_mask holds no data (a metadata-only tensor)");
  const at::Tensor frames = p.read_on_cpu(frame_mask);
  const int64_t batch = frames.size(0), num_frames = frames.size(1);
  const int64_t width = num_frames * per_frame + text;
  at::Tensor out = allocate_cpu_tensor({batch, width}, at::kBool);
  const auto* in = static_cast<const unsigned char*>(frames.data_ptr());
  auto* row = static_cast<unsigned char*>(out.data_ptr());
  for (int64_t b = 0; b < batch; ++b, row += width) {
    for (int64_t f = 0; f < num_frames; ++f)
      std::memset(row + f * per_frame, in[b * frames.stride(0) + f * frames.stride(1)], static_cast<size_t>(per_frame));
    std::memset(row + num_frames * per_frame, 1, static_cast<size_t>(text));
  }
  return out;
}

// (B, N + T) int64: 0 for the first N positions, 1 after.
at::Tensor modality_id_values(int64_t batch, int64_t n, int64_t text) {
  at::Tensor ids = allocate_cpu_tensor({batch, n + text}, at::kLong);
  auto* p = static_cast<int64_t*>(ids.data_ptr());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < n + text; ++i) *p++ = i < n ? 0 : 1;
  return ids;
}

// (B, T) with no negative size: the token ids' shape, which sizes the masks and tags.
void validate_ids_shape(at::IntArrayRef shape) {
  if (shape.size() != 2) throw_error(Code::shape, "input_ids must have shape (B, T), got " + shape_tuple(shape));
  if (shape[0] < 0 || shape[1] < 0)
    throw_error(Code::shape, "input_ids shape " + shape_tuple(shape) + " has a negative size");
}

bool is_cpu(const at::Device& device) { return device.is_cpu(); }
at::Tensor as_is(const at::Tensor& t) { return t; }
at::Tensor as_is_on(const at::Tensor& t, const at::Device&) { return t; }

}  // namespace

const Placement kCpuOnly = {is_cpu, as_is, as_is_on};

at::Tensor visual_token_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens, const Placement& p) {
  if (!frame_mask.defined()) return at::Tensor();
  const int64_t per_frame = tokens_per_frame(frame_mask, num_visual_tokens, p);
  return p.place(mask_values(frame_mask, per_frame, 0, p), frame_mask.device());
}

at::Tensor prefix_key_padding_mask(const at::Tensor& frame_mask, int64_t num_visual_tokens,
                                   at::IntArrayRef input_ids_shape, const Placement& p) {
  if (!frame_mask.defined()) return at::Tensor();
  const int64_t per_frame = tokens_per_frame(frame_mask, num_visual_tokens, p);
  validate_ids_shape(input_ids_shape);
  if (frame_mask.size(0) != input_ids_shape[0])
    throw_error(Code::shape, "frame_mask batch size " + std::to_string(frame_mask.size(0)) +
                          " does not match the batch size " + std::to_string(input_ids_shape[0]) + " of input_ids");
  return p.place(mask_values(frame_mask, per_frame, input_ids_shape[1], p), frame_mask.device());
}

ModalityContext compose(Arch arch, const StrategyInputs& in, const Placement& p) {
  if (static_cast<int>(arch) < 0 || static_cast<int>(arch) >= kArchCount)
    throw_error(Code::invalid_argument, "compose: unknown architecture " + std::to_string(static_cast<int>(arch)));
  if (arch == Arch::text) throw_error(Code::invalid_argument, "compose: the text architecture has no strategy");
  if (!in.image_embeds.defined()) throw_error(Code::invalid_argument, "compose: image_embeds is not set");
  if (in.image_embeds.dim() != 3)
    throw_error(Code::shape, "image_embeds must have shape (B, N, D), got " + shape_tuple(in.image_embeds.sizes()));
  validate_ids_shape(in.input_ids_shape);
  const int64_t n = in.image_embeds.size(1);

  ContextFields f;
  if (arch == Arch::cross_attention) {
    f[Field::image_features] = in.image_embeds;
    f[Field::image_mask] = visual_token_mask(in.frame_mask, n, p);
    return ModalityContext(std::move(f));
  }
  f[Field::prefix_embeds] = in.image_embeds;
  f.output_slice = Slice{n, std::nullopt, std::nullopt};
  f[Field::key_padding_mask] = prefix_key_padding_mask(in.frame_mask, n, in.input_ids_shape, p);
  if (arch == Arch::mot || arch == Arch::moma) {
    require_allocatable(p, in.input_ids_device, "modality_ids");
    f[Field::modality_ids] =
        p.place(modality_id_values(in.input_ids_shape[0], n, in.input_ids_shape[1]), in.input_ids_device);
  }
  return ModalityContext(std::move(f));
}

at::Tensor residual_without_copy(const ModalityContext& context, const at::Tensor& text_embeds, const Placement& p) {
  if (context.has(Field::inputs_embeds)) {
    throw_if_failed(validate_forward_inputs(context.facts(), text_embeds.defined()));
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
  require_allocatable(p, text_embeds.device(), "the residual");
  return at::Tensor();
}

}  // namespace detail

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

namespace cpu_only {

namespace {

// `t` (B, L, D) converted to out's dtype (PyTorch's casts) into the (B, M, D)
// contiguous `out`, from position `first` of dim 1.
void convert_rows_into(const at::Tensor& t, at::Tensor& out, int64_t first) {
  const at::ScalarType from = t.scalar_type(), to = out.scalar_type();
  const auto* in_base = static_cast<const char*>(t.data_ptr());
  auto* out_base = static_cast<char*>(out.data_ptr());
  const int64_t in_size = static_cast<int64_t>(t.element_size()), out_size = static_cast<int64_t>(out.element_size());
  const int64_t per_batch = t.size(1) * t.size(2);  // elements of t in one batch row, contiguous in out
  int64_t k = 0;
  for_each_offset(t, [&](int64_t offset) {
    const void* in = in_base + offset * in_size;
    const int64_t b = k / per_batch, within = k % per_batch;
    char* dst = out_base + ((b * out.size(1) + first) * out.size(2) + within) * out_size;
    switch (to) {
#define MODCTX_CAST_CASE(type, name)                         \
  case at::ScalarType::name: {                               \
    const type value = c10::fetch_and_cast<type>(from, in);  \
    std::memcpy(dst, &value, sizeof value);                  \
    break;                                                   \
  }
      AT_FORALL_SCALAR_TYPES_WITH_COMPLEX(MODCTX_CAST_CASE)
#undef MODCTX_CAST_CASE
      default:
        throw Error(Code::unsupported, std::string("compose_residual: cannot convert to ") + c10::toString(to));
    }
    ++k;
  });
}

}  // namespace

ModalityContext compose(Arch arch, const StrategyInputs& inputs) { return detail::compose(arch, inputs, detail::kCpuOnly); }

at::Tensor compose_residual(const ModalityContext& context, const at::Tensor& text_embeds) {
  at::Tensor same = detail::residual_without_copy(context, text_embeds, detail::kCpuOnly);
  if (same.defined()) return same;
  const at::Tensor& prefix = context.prefix_embeds();
  for (const at::Tensor* t : {&prefix, &text_embeds})
    if (t->numel() > 0 && !t->data_ptr())
      throw Error(Code::unsupported, "compose_residual: a tensor without data (metadata only) cannot be copied");
  at::Tensor out = allocate_cpu_tensor({text_embeds.size(0), prefix.size(1) + text_embeds.size(1), text_embeds.size(2)},
                                       text_embeds.scalar_type());
  convert_rows_into(prefix, out, 0);
  convert_rows_into(text_embeds, out, prefix.size(1));
  return out;
}

}  // namespace cpu_only

}  // namespace modctx
