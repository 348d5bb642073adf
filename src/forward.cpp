// The forward-time checks (the top of the reference's Transformer.forward).
// (The output slice's view: src/aten/output_slice_aten.cpp.)
#include "modctx/forward.hpp"

namespace modctx {

namespace {

struct TrainingOnlyRule {
  Field field;  // checked when set
  const char* message;
};

}  // namespace

Status validate_forward_inputs(const ContextFacts& facts, bool has_tokens) {
  if (has_tokens != facts.has(Field::inputs_embeds)) return Status::success();
  return Status::failure(Code::forward_inputs,
                         "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
}

Status validate_forward(const ContextFacts& facts, ForwardArgs args) {
  Status s = validate_forward_inputs(facts, args.has_tokens);
  if (!s.ok()) return s;

  if (args.has_kv_caches) {
    if (facts.output_slice)
      return Status::failure(Code::kv_cache,
                             "modality.output_slice is training-only; cannot be combined with kv_caches");
    static constexpr TrainingOnlyRule kRules[] = {
        {Field::prefix_embeds, "modality.prefix_embeds is training-only; cannot be combined with kv_caches"},
        {Field::image_features, "modality.image_features is training-only; cannot be combined with kv_caches"},
        {Field::modality_ids, "modality.modality_ids is training-only; cannot be combined with kv_caches"},
    };
    for (const auto& rule : kRules)
      if (facts.has(rule.field)) return Status::failure(Code::kv_cache, rule.message);
  }

  if (facts.has(Field::modality_ids) && facts.modality_ids_dtype != at::kLong)
    return Status::failure(Code::dtype, "modality.modality_ids.dtype must be torch.long, got " +
                                            torch_dtype_name(facts.modality_ids_dtype));
  return Status::success();
}

void check_forward(const ModalityContext* context, ForwardArgs args) {
  throw_if_failed(validate_forward(context ? context->facts() : ContextFacts(), args));
}

}  // namespace modctx
