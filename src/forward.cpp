// Forward-time checks (REFERENCE.md section 3, items 1-3) and PyTorch's
// dtype names. (The output slice's view: src/aten/output_slice_aten.cpp.)
#include "modctx/forward.hpp"

namespace modctx {

namespace {

struct TrainingOnlyRule {
  Field field;        // checked when set
  const char* message;
};

}  // namespace

const char* dtype_short_name(at::ScalarType type) noexcept {
  switch (type) {
    case at::ScalarType::Byte: return "uint8";
    case at::ScalarType::Char: return "int8";
    case at::ScalarType::Short: return "int16";
    case at::ScalarType::Int: return "int32";
    case at::ScalarType::Long: return "int64";
    case at::ScalarType::Half: return "float16";
    case at::ScalarType::Float: return "float32";
    case at::ScalarType::Double: return "float64";
    case at::ScalarType::ComplexHalf: return "complex32";
    case at::ScalarType::ComplexFloat: return "complex64";
    case at::ScalarType::ComplexDouble: return "complex128";
    case at::ScalarType::Bool: return "bool";
    case at::ScalarType::QInt8: return "qint8";
    case at::ScalarType::QUInt8: return "quint8";
    case at::ScalarType::QInt32: return "qint32";
    case at::ScalarType::BFloat16: return "bfloat16";
    case at::ScalarType::QUInt4x2: return "quint4x2";
    case at::ScalarType::QUInt2x4: return "quint2x4";
    default: return "unknown";
  }
}

std::string torch_dtype_name(at::ScalarType type) {
  return std::string("torch.") + dtype_short_name(type);
}

namespace {

// A ModalityContext as the facts the forward checks read.
struct ContextAsFacts {
  const ModalityContext& ctx;
  bool has(Field f) const { return ctx.has(f); }
  bool has_output_slice() const { return ctx.output_slice().has_value(); }
  at::ScalarType modality_ids_dtype() const { return ctx.modality_ids().scalar_type(); }
};

// ContextFacts with the same interface.
struct Facts {
  const ContextFacts& facts;
  bool has(Field f) const { return facts.has(f); }
  bool has_output_slice() const { return facts.output_slice; }
  at::ScalarType modality_ids_dtype() const { return facts.modality_ids_dtype; }
};

template <class Context>
Status forward_checks(const Context& ctx, ForwardArgs args) {
  if (args.has_tokens == ctx.has(Field::inputs_embeds))
    return Status::failure(Code::forward_inputs,
                           "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");

  if (args.has_kv_caches) {
    if (ctx.has_output_slice())
      return Status::failure(Code::kv_cache,
                             "modality.output_slice is training-only; cannot be combined with kv_caches");
    static constexpr TrainingOnlyRule kRules[] = {
        {Field::prefix_embeds, "modality.prefix_embeds is training-only; cannot be combined with kv_caches"},
        {Field::image_features, "modality.image_features is training-only; cannot be combined with kv_caches"},
        {Field::modality_ids, "modality.modality_ids is training-only; cannot be combined with kv_caches"},
    };
    for (const auto& rule : kRules)
      if (ctx.has(rule.field)) return Status::failure(Code::kv_cache, rule.message);
  }

  if (ctx.has(Field::modality_ids) && ctx.modality_ids_dtype() != at::kLong)
    return Status::failure(Code::dtype, "modality.modality_ids.dtype must be torch.long, got " +
                                            torch_dtype_name(ctx.modality_ids_dtype()));
  return Status::success();
}

}  // namespace

Status validate_forward(const ModalityContext* context, ForwardArgs args) {
  static const ModalityContext kEmpty;
  return forward_checks(ContextAsFacts{context ? *context : kEmpty}, args);
}

Status validate_forward(const ContextFacts& facts, ForwardArgs args) { return forward_checks(Facts{facts}, args); }

void check_forward(const ModalityContext* context, ForwardArgs args) {
  throw_if_failed(validate_forward(context, args));
}

}  // namespace modctx
