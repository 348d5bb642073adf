// Checking a context against a model (modctx/model.hpp): the reference's
// forward- and model-time checks in its order, then modctx's own.
#include <algorithm>
#include <limits>

#include "modctx/forward.hpp"
#include "modctx/model.hpp"
#include "modctx/tensor.hpp"

namespace modctx {

namespace {

Status shape_error(std::string message) { return Status::failure(Code::shape, std::move(message)); }

// Which fields each architecture consumes (bit i: Field i).
unsigned used_fields(Arch arch) {
  constexpr unsigned IE = 1u << static_cast<int>(Field::inputs_embeds);
  constexpr unsigned PE = 1u << static_cast<int>(Field::prefix_embeds);
  constexpr unsigned IF = 1u << static_cast<int>(Field::image_features);
  constexpr unsigned IM = 1u << static_cast<int>(Field::image_mask);
  constexpr unsigned MI = 1u << static_cast<int>(Field::modality_ids);
  constexpr unsigned KPM = 1u << static_cast<int>(Field::key_padding_mask);
  switch (arch) {
    case Arch::text: return IE | KPM;
    case Arch::joint_decoder: return IE | PE | KPM;
    case Arch::cross_attention: return IE | IF | IM | KPM;
    case Arch::mot:
    case Arch::moma: return IE | PE | MI | KPM;
  }
  return 0;
}

Status validate_spec(const ModelSpec& m) {
  auto bad = [](const std::string& problem) { return Status::failure(Code::invalid_argument, "model: " + problem); };
  const int arch = static_cast<int>(m.arch);
  if (arch < 0 || arch >= kArchCount) return bad("unknown architecture " + std::to_string(arch));
  if (m.hidden_size <= 0) return bad("hidden_size must be > 0, got " + std::to_string(m.hidden_size));
  if (m.num_modalities < 1) return bad("num_modalities must be >= 1, got " + std::to_string(m.num_modalities));
  if (m.num_image_tokens && *m.num_image_tokens < 0)
    return bad("num_image_tokens must be >= 0, got " + std::to_string(*m.num_image_tokens));
  if (m.text_dtype && !at::isFloatingType(*m.text_dtype))
    return bad("text_dtype must be a floating point type, got " + torch_dtype_name(*m.text_dtype));
  return Status::success();
}

// The last dim is the model's hidden size D.
Status validate_hidden(const at::Tensor& t, Field f, int64_t hidden) {
  if (t.size(2) == hidden) return Status::success();
  return shape_error(field_ref(f) + " hidden size " + std::to_string(t.size(2)) +
                     " does not match the model's hidden_size " + std::to_string(hidden));
}

// A field of the residual's shape (B, N + T).
Status validate_residual_shape(const ModalityContext& c, Field f, at::IntArrayRef residual) {
  if (c.get(f).sizes() == residual) return Status::success();
  return shape_error(field_ref(f) + " shape " + shape_tuple(c.get(f).sizes()) + " does not match residual shape " +
                     shape_tuple(residual));
}

// (B, S, D) with the expected batch and hidden size.
Status validate_bsd(const at::Tensor& t, Field f, const char* dims, int64_t batch, const char* batch_source,
                 int64_t hidden) {
  if (t.dim() != 3) return shape_error(field_ref(f) + " must have shape " + dims + ", got " + shape_tuple(t.sizes()));
  if (t.size(0) != batch)
    return shape_error(field_ref(f) + " batch size " + std::to_string(t.size(0)) + " does not match the batch size " +
                       std::to_string(batch) + " of " + batch_source);
  return validate_hidden(t, f, hidden);
}

Status validate_dtypes(const ModalityContext& c, const ModelSpec& model) {
  for (Field f : {Field::inputs_embeds, Field::prefix_embeds, Field::image_features}) {
    if (c.has(f) && !at::isFloatingType(c.get(f).scalar_type()))
      return Status::failure(Code::dtype, field_ref(f) + ".dtype must be a floating point type, got " +
                                              torch_dtype_name(c.get(f).scalar_type()));
  }
  for (Field f : {Field::image_mask, Field::key_padding_mask}) {
    if (c.has(f) && c.get(f).scalar_type() != at::kBool)
      return Status::failure(Code::dtype,
                             field_ref(f) + ".dtype must be torch.bool, got " + torch_dtype_name(c.get(f).scalar_type()));
  }
  if (model.text_dtype && c.has(Field::inputs_embeds) && c.inputs_embeds().scalar_type() != *model.text_dtype)
    return Status::failure(Code::dtype, field_ref(Field::inputs_embeds) + ".dtype must be " +
                                            torch_dtype_name(*model.text_dtype) + " (the model's text dtype), got " +
                                            torch_dtype_name(c.inputs_embeds().scalar_type()));
  return Status::success();
}

Status validate_devices(const ModalityContext& c) {
  const at::Tensor* first = nullptr;
  Field first_field{};
  for (int i = 0; i < kFieldCount; ++i) {
    const Field f = static_cast<Field>(i);
    if (!c.has(f)) continue;
    if (!first) {
      first = &c.get(f);
      first_field = f;
    } else if (c.get(f).device() != first->device()) {
      return Status::failure(Code::device, field_ref(f) + " is on " + c.get(f).device().str() + ", but " +
                                               field_ref(first_field) + " is on " + first->device().str());
    }
  }
  return Status::success();
}

Status validate_modality_id_values(const at::Tensor& ids, int64_t num_modalities) {
  if (ids.numel() == 0) return Status::success();
  // Values are read on the CPU: modctx's core never runs device code.
  if (!ids.is_cpu())
    return Status::failure(Code::unsupported, field_ref(Field::modality_ids) + " is on " + ids.device().str() +
                                                  ", which this LibTorch cannot read; its values were not checked");
  if (!ids.has_storage() || ids.storage().data() == nullptr)
    return Status::failure(Code::unsupported,
                           field_ref(Field::modality_ids) + " holds no data (a metadata-only tensor); its values were not checked");
  // The one place modctx reads tensor data, and only when asked to.
  int64_t low = std::numeric_limits<int64_t>::max(), high = std::numeric_limits<int64_t>::min();
  for_each_value_as<int64_t>(ids, [&](int64_t v) {
    low = std::min(low, v);
    high = std::max(high, v);
  });
  if (low < 0 || high >= num_modalities)
    return Status::failure(Code::value, field_ref(Field::modality_ids) + " values must be in [0, " +
                                            std::to_string(num_modalities) + "), found " +
                                            std::to_string(low < 0 ? low : high));
  return Status::success();
}

}  // namespace

Status validate_model(const ModalityContext* context, const ModelSpec& model, const ModelForward& forward,
                      ValueChecks values) {
  static const ModalityContext kEmpty;
  const ModalityContext& c = context ? *context : kEmpty;
  Status s = validate_spec(model);
  if (!s.ok()) return s;

  // 1. The reference's forward-time checks.
  s = validate_forward(c.facts(), ForwardArgs{forward.has_tokens, forward.has_kv_caches});
  if (!s.ok()) return s;

  // 2. The residual h must be buildable: embedding(tokens) or inputs_embeds,
  //    then cat([prefix, h], dim=1).
  const int64_t hidden = model.hidden_size;
  int64_t batch = 0, length = 0;
  const char* batch_source = nullptr;
  if (forward.has_tokens) {
    if (forward.tokens_shape.size() != 2)
      return shape_error("tokens must have shape (B, T), got " + shape_tuple(forward.tokens_shape));
    batch = forward.tokens_shape[0];
    length = forward.tokens_shape[1];
    batch_source = "tokens";
  } else {  // validate_forward guarantees inputs_embeds here
    const at::Tensor& ie = c.inputs_embeds();
    if (ie.dim() != 3)
      return shape_error(field_ref(Field::inputs_embeds) + " must have shape (B, S, D), got " + shape_tuple(ie.sizes()));
    batch = ie.size(0);
    length = ie.size(1);
    batch_source = "modality.inputs_embeds";
  }
  if (c.has(Field::prefix_embeds)) {
    s = validate_bsd(c.prefix_embeds(), Field::prefix_embeds, "(B, N, D)", batch, batch_source, hidden);
    if (!s.ok()) return s;
    length += c.prefix_embeds().size(1);
  }
  const int64_t residual[2] = {batch, length};

  // 3. The reference's model-time checks, then its output slice.
  if (model.arch == Arch::mot || model.arch == Arch::moma) {
    const bool mot = model.arch == Arch::mot;
    if (!c.has(Field::modality_ids))
      return Status::failure(Code::missing_field,
                             std::string(mot ? "MoT" : "MoMa") +
                                 " model requires modality.modality_ids (got None). Build the ModalityContext via " +
                                 (mot ? "MoTStrategy" : "MoMaStrategy") + " or set modality_ids explicitly.");
    s = validate_residual_shape(c, Field::modality_ids, residual);
    if (!s.ok()) return s;
  }
  if (model.arch == Arch::cross_attention && !c.has(Field::image_features))
    return Status::failure(Code::missing_field,
                           "Cross-Attention block fired but modality.image_features is None. Cross-Attention models "
                           "require image_features in the ModalityContext.");
  if (c.output_slice()) {
    s = c.output_slice()->validate_step();
    if (!s.ok()) return s;
  }

  // 4a. Fields the architecture does not use (the reference ignores them silently).
  const unsigned used = used_fields(model.arch);
  for (int i = 0; i < kFieldCount; ++i) {
    if (c.has(static_cast<Field>(i)) && !(used & (1u << i)))
      return Status::failure(Code::unused_field, field_ref(static_cast<Field>(i)) + " is not used by a " +
                                                     arch_name(model.arch) + " model");
  }

  // 4b. Shapes, with B, T, N and D bound across the fields.
  if (c.has(Field::inputs_embeds)) {
    s = validate_hidden(c.inputs_embeds(), Field::inputs_embeds, hidden);
    if (!s.ok()) return s;
  }
  if (c.has(Field::image_features)) {
    const at::Tensor& f = c.image_features();
    s = validate_bsd(f, Field::image_features, "(B, N, D)", batch, batch_source, hidden);
    if (!s.ok()) return s;
    if (c.has(Field::image_mask) && c.image_mask().sizes() != f.sizes().slice(0, 2))
      return shape_error(field_ref(Field::image_mask) + " shape " + shape_tuple(c.image_mask().sizes()) +
                         " does not match image_features tokens " + shape_tuple(f.sizes().slice(0, 2)));
  }
  if (c.has(Field::key_padding_mask)) {
    s = validate_residual_shape(c, Field::key_padding_mask, residual);
    if (!s.ok()) return s;
  }
  if (model.num_image_tokens) {
    const Field image_field = c.has(Field::prefix_embeds) ? Field::prefix_embeds : Field::image_features;
    if (c.has(image_field) && c.get(image_field).size(1) != *model.num_image_tokens)
      return shape_error(field_ref(image_field) + " has " + std::to_string(c.get(image_field).size(1)) +
                         " image tokens, but the model's num_image_tokens is " +
                         std::to_string(*model.num_image_tokens));
  }

  // 4c, 4d. Dtypes, then devices.
  s = validate_dtypes(c, model);
  if (!s.ok()) return s;
  s = validate_devices(c);
  if (!s.ok()) return s;

  // 5. Value checks, asked for by name.
  if (values.modality_ids_range && c.has(Field::modality_ids))
    return validate_modality_id_values(c.modality_ids(), model.num_modalities);
  return Status::success();
}

void check_model(const ModalityContext* context, const ModelSpec& model, const ModelForward& forward,
                 ValueChecks values) {
  throw_if_failed(validate_model(context, model, forward, values));
}

}  // namespace modctx
