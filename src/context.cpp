// ModalityContext: the construction checks (the reference's __post_init__) and describe().
#include "modctx/context.hpp"

namespace modctx {

namespace {

// The reference's messages, byte for byte.
constexpr const char* kRoutesMessage =
    "ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
    "(mutually exclusive residual-stream routes)";
constexpr const char* kImageMaskMessage =
    "ModalityContext: image_mask requires image_features to be set";
constexpr const char* kModalityIdsMessage =
    "ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
    "(routing without a residual extension is meaningless)";
constexpr const char* kKeyPaddingMaskMessage =
    "ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
    "(it masks the residual sequence; Cross-Attention uses image_mask)";

void append_tensor(std::string& out, const at::Tensor& t) {
  out += "Tensor";
  out += shape_list(t.sizes());
  out += ' ';
  out += dtype_name(t.scalar_type());
  out += ' ';
  out += t.device().str();
}

}  // namespace

ContextFacts::ContextFacts(const ContextFields& fields) : output_slice(fields.output_slice) {
  for (int i = 0; i < kFieldCount; ++i) present[i] = fields.tensors[i].defined();
  if (fields.has(Field::modality_ids)) modality_ids_dtype = fields[Field::modality_ids].scalar_type();
}

Status validate_construction(const ContextFacts& f) {
  const int routes = int{f.has(Field::inputs_embeds)} + int{f.has(Field::prefix_embeds)} +
                     int{f.has(Field::image_features)};
  if (routes > 1) return Status::failure(Code::routes, kRoutesMessage);
  if (f.has(Field::image_mask) && !f.has(Field::image_features))
    return Status::failure(Code::image_mask, kImageMaskMessage);
  const bool extends_residual = f.has(Field::prefix_embeds) || f.has(Field::inputs_embeds);
  if (f.has(Field::modality_ids) && !extends_residual)
    return Status::failure(Code::modality_ids, kModalityIdsMessage);
  if (f.has(Field::key_padding_mask) && !extends_residual)
    return Status::failure(Code::key_padding_mask, kKeyPaddingMaskMessage);
  return Status::success();
}

ModalityContext::ModalityContext(ContextFields fields) {
  throw_if_failed(validate_construction(fields));
  fields_ = std::move(fields);
}

Status ModalityContext::make(ContextFields fields, ModalityContext* out) {
  Status status = validate_construction(fields);
  if (status.ok()) out->fields_ = std::move(fields);
  return status;
}

bool ModalityContext::empty() const {
  for (const auto& t : fields_.tensors)
    if (t.defined()) return false;
  return !fields_.output_slice.has_value();
}

ModalityContext ModalityContext::replace(Field field, at::Tensor tensor) const {
  const int i = static_cast<int>(field);
  if (i < 0 || i >= kFieldCount)
    throw Error(Code::invalid_argument, "ModalityContext.replace: unknown field " + std::to_string(i));
  ContextFields changed = fields_;
  changed[field] = std::move(tensor);
  return ModalityContext(std::move(changed));
}

ModalityContext ModalityContext::replace_output_slice(std::optional<Slice> slice) const {
  ContextFields changed = fields_;
  changed.output_slice = slice;
  return ModalityContext(std::move(changed));
}

std::string ModalityContext::describe() const {
  std::string out = "ModalityContext(";
  bool first = true;
  auto separator = [&] {
    if (!first) out += ", ";
    first = false;
  };
  // The reference's field order: output_slice sits between prefix_embeds
  // and image_features.
  for (int i = 0; i < kFieldCount; ++i) {
    if (i == static_cast<int>(Field::image_features) && fields_.output_slice) {
      separator();
      out += "output_slice=";
      out += fields_.output_slice->repr();
    }
    const at::Tensor& t = fields_.tensors[i];
    if (!t.defined()) continue;
    separator();
    out += field_name(static_cast<Field>(i));
    out += '=';
    append_tensor(out, t);
  }
  out += ')';
  return out;
}

}  // namespace modctx
