// Forward-time checks (REFERENCE.md section 3, items 1-3), the output slice
// applied to a hidden state, and PyTorch's dtype names.
#include "modctx/forward.hpp"

#include <c10/util/Exception.h>

#include <algorithm>

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

at::Tensor apply_output_slice(const at::Tensor& h, const Slice& slice) {
  if (!h.defined()) throw Error(Code::invalid_argument, "apply_output_slice: the hidden state is undefined");
  const Status rule = slice.check_view_of(h.dim());
  if (rule.code == Code::slice) throw SliceError(rule.code, rule.message);
  if (!rule.ok()) throw Error(rule.code, rule.message);
  const int64_t step = slice.step.value_or(1);
  // at::slice clamps start/stop exactly as h[:, start:stop:step] does.
  // Clamp to what the result can depend on: LibTorch refuses int64 extremes
  // (SymInt) and overflows on huge steps, Python's rules do not care.
  const int64_t length = h.size(1);
  auto clamp = [&](int64_t v) { return std::max(-length, std::min(v, length)); };
  const auto start = slice.start ? c10::optional<int64_t>(clamp(*slice.start)) : c10::nullopt;
  const auto stop = slice.stop ? c10::optional<int64_t>(clamp(*slice.stop)) : c10::nullopt;
  // A step whose arithmetic would overflow selects at most one position:
  // any step >= length selects the same one (only the view's stride differs).
  int64_t unused = 0;
  const bool step_overflows = __builtin_add_overflow(length, step - 1, &unused) ||
                              __builtin_mul_overflow(step, h.stride(1), &unused);
  const int64_t bounded_step = step_overflows ? std::max<int64_t>(length, 1) : step;
  try {
    return h.slice(1, start, stop, bounded_step);
  } catch (const c10::Error& e) {
    // Some backends (e.g. MPS) refuse views this LibTorch cannot make.
    throw Error(Code::unsupported, "apply_output_slice: this LibTorch cannot take a view of a tensor on " +
                                       h.device().str() + ": " + e.what_without_backtrace());
  }
}

}  // namespace modctx
