// The reference's checks at the top of
// Transformer.forward, their order and messages; the output slice on a
// hidden state; describe().
#include "catch_with_torch.hpp"

#include "helpers.hpp"

using modctx::Code;
using modctx::ContextFields;
using modctx::Field;
using modctx::ForwardArgs;
using modctx::ModalityContext;
using modctx::Slice;
using test::meta;

namespace {

const std::string kForwardInputs = "Transformer.forward requires exactly one of tokens or modality.inputs_embeds";
const std::string kSliceKv = "modality.output_slice is training-only; cannot be combined with kv_caches";
const std::string kPrefixKv = "modality.prefix_embeds is training-only; cannot be combined with kv_caches";
const std::string kFeaturesKv = "modality.image_features is training-only; cannot be combined with kv_caches";
const std::string kIdsKv = "modality.modality_ids is training-only; cannot be combined with kv_caches";

ModalityContext make(std::initializer_list<std::pair<Field, at::Tensor>> tensors,
                     std::optional<Slice> slice = std::nullopt) {
  ContextFields f;
  for (const auto& [field, t] : tensors) f[field] = t;
  f.output_slice = slice;
  return ModalityContext(f);
}

modctx::Status forward(const ModalityContext* ctx, bool tokens, bool kv) {
  return modctx::validate_forward(ctx ? ctx->facts() : modctx::ContextFacts(), ForwardArgs{tokens, kv});
}

}  // namespace

TEST_CASE("forward needs exactly one of tokens and inputs_embeds") {
  const ModalityContext empty;
  const ModalityContext embeds = make({{Field::inputs_embeds, meta({2, 8, 16})}});

  CHECK(forward(&empty, true, false).ok());
  CHECK(forward(nullptr, true, false).ok());  // a missing context is an empty one
  CHECK(forward(&embeds, false, false).ok());

  for (auto [ctx, tokens] : {std::pair{&empty, false}, std::pair{(const ModalityContext*)nullptr, false},
                             std::pair{&embeds, true}}) {
    const auto status = forward(ctx, tokens, false);
    CHECK(status.code == Code::forward_inputs);
    CHECK(status.message == kForwardInputs);
  }
  // The inputs check comes before the KV-cache checks.
  const ModalityContext prefix_and_embeds_free = make({{Field::prefix_embeds, meta({2, 4, 16})}},
                                                      Slice{4, std::nullopt, std::nullopt});
  CHECK(forward(&prefix_and_embeds_free, false, true).code == Code::forward_inputs);
}

TEST_CASE("training-only fields under KV caches, in the reference's order") {
  const Slice s{4, std::nullopt, std::nullopt};
  const ModalityContext slice_only = make({}, s);
  const ModalityContext prefix_ids = make({{Field::prefix_embeds, meta({1, 4, 8})},
                                           {Field::modality_ids, meta({1, 6}, at::kLong)}});
  const ModalityContext prefix_ids_slice = make({{Field::prefix_embeds, meta({1, 4, 8})},
                                                 {Field::modality_ids, meta({1, 6}, at::kLong)}}, s);
  const ModalityContext features = make({{Field::image_features, meta({1, 4, 8})}});
  const ModalityContext embeds_ids = make({{Field::inputs_embeds, meta({1, 4, 8})},
                                           {Field::modality_ids, meta({1, 4}, at::kLong)}});

  struct Case {
    const ModalityContext* ctx;
    bool tokens;
    const std::string* message;
  };
  const Case cases[] = {
      {&slice_only, true, &kSliceKv},
      {&prefix_ids_slice, true, &kSliceKv},   // slice before prefix
      {&prefix_ids, true, &kPrefixKv},        // prefix before modality_ids
      {&features, true, &kFeaturesKv},
      {&embeds_ids, false, &kIdsKv},
  };
  for (const auto& c : cases) {
    const auto status = forward(c.ctx, c.tokens, true);
    CHECK(status.code == Code::kv_cache);
    CHECK(status.message == *c.message);
    CHECK(forward(c.ctx, c.tokens, false).ok());  // fine without caches
  }
}

TEST_CASE("inputs_embeds, image_mask and key_padding_mask are allowed with KV caches") {
  const ModalityContext embeds_kpm = make({{Field::inputs_embeds, meta({1, 4, 8})},
                                           {Field::key_padding_mask, meta({1, 4}, at::kBool)}});
  CHECK(forward(&embeds_kpm, false, true).ok());
  // image_mask needs image_features, which is training-only: image_mask itself is not reported.
  const ModalityContext features_mask = make({{Field::image_features, meta({1, 4, 8})},
                                              {Field::image_mask, meta({1, 4}, at::kBool)}});
  CHECK(forward(&features_mask, true, true).message == kFeaturesKv);
}

TEST_CASE("modality_ids must be int64, named as PyTorch prints dtypes") {
  const std::pair<at::ScalarType, const char*> cases[] = {
      {at::kInt, "torch.int32"},     {at::kByte, "torch.uint8"},     {at::kBool, "torch.bool"},
      {at::kFloat, "torch.float32"}, {at::kBFloat16, "torch.bfloat16"}, {at::kHalf, "torch.float16"},
      {at::kDouble, "torch.float64"}, {at::kShort, "torch.int16"},   {at::kChar, "torch.int8"},
      {at::kComplexFloat, "torch.complex64"}, {at::kComplexDouble, "torch.complex128"},
  };
  for (const auto& [dtype, name] : cases) {
    const ModalityContext ctx = make({{Field::prefix_embeds, meta({1, 4, 8})},
                                      {Field::modality_ids, meta({1, 6}, dtype)}});
    const auto status = forward(&ctx, true, false);
    CHECK(status.code == Code::dtype);
    CHECK(status.message == std::string("modality.modality_ids.dtype must be torch.long, got ") + name);
    CHECK_THROWS_AS(modctx::check_forward(&ctx, ForwardArgs{true, false}), modctx::ForwardError);
  }
  const ModalityContext good = make({{Field::prefix_embeds, meta({1, 4, 8})},
                                     {Field::modality_ids, meta({1, 6}, at::kLong)}});
  CHECK(forward(&good, true, false).ok());
  CHECK_NOTHROW(modctx::check_forward(&good, ForwardArgs{true, false}));
  // KV-cache conflict is reported before the dtype.
  const ModalityContext bad = make({{Field::inputs_embeds, meta({1, 4, 8})},
                                    {Field::modality_ids, meta({1, 4}, at::kInt)}});
  CHECK(forward(&bad, false, true).code == Code::kv_cache);
  CHECK(forward(&bad, false, false).code == Code::dtype);
}

TEST_CASE("the forward check throws ForwardError carrying the code") {
  try {
    modctx::check_forward(nullptr, ForwardArgs{false, false});
    FAIL("accepted");
  } catch (const modctx::ForwardError& e) {
    CHECK(e.code() == Code::forward_inputs);
    CHECK(std::string(e.what()) == kForwardInputs);
  }
}

TEST_CASE("output slice on a hidden state: a view with PyTorch's clamping") {
  const at::Tensor h = meta({2, 10, 4}, at::kFloat, at::Device(at::kCUDA, 0));
  const auto len = [&](Slice s) { return modctx::apply_output_slice(h, s).size(1); };
  CHECK(len(Slice{6, std::nullopt, std::nullopt}) == 4);
  CHECK(len(Slice{-3, std::nullopt, std::nullopt}) == 3);
  CHECK(len(Slice{-100, std::nullopt, std::nullopt}) == 10);
  CHECK(len(Slice{100, std::nullopt, std::nullopt}) == 0);
  CHECK(len(Slice{std::nullopt, 3, 2}) == 2);
  CHECK(len(Slice{7, 3, std::nullopt}) == 0);
  CHECK(len(Slice{1, -1, 3}) == 3);

  // int64 extremes follow Python's clamping (LibTorch alone refuses them).
  CHECK(len(Slice{INT64_MIN, std::nullopt, std::nullopt}) == 10);
  CHECK(len(Slice{std::nullopt, INT64_MAX, std::nullopt}) == 10);
  CHECK(len(Slice{INT64_MAX, std::nullopt, std::nullopt}) == 0);
  CHECK(len(Slice{std::nullopt, std::nullopt, INT64_MAX}) == 1);
  CHECK(len(Slice{3, std::nullopt, INT64_MAX}) == 1);
  CHECK(modctx::apply_output_slice(h, Slice{3, std::nullopt, INT64_MAX}).storage_offset() == 3 * 4);

  const at::Tensor view = modctx::apply_output_slice(h, Slice{6, std::nullopt, std::nullopt});
  CHECK(view.sizes() == at::IntArrayRef({2, 4, 4}));
  CHECK(view.device() == h.device());
  CHECK(view.storage().is_alias_of(h.storage()));
  CHECK(view.storage_offset() == 6 * 4);

  try {
    modctx::apply_output_slice(h, Slice{std::nullopt, std::nullopt, 0});
    FAIL("accepted step 0");
  } catch (const modctx::SliceError& e) {
    CHECK(std::string(e.what()) == "slice step cannot be zero");
    CHECK(e.code() == Code::slice);
  }
  try {
    modctx::apply_output_slice(h, Slice{std::nullopt, std::nullopt, -1});
    FAIL("accepted a negative step");
  } catch (const modctx::SliceError& e) {
    CHECK(std::string(e.what()) == "step must be greater than zero");
  }
  // The rank error comes before the step's, as in PyTorch.
  for (std::optional<int64_t> step : {std::optional<int64_t>(1), std::optional<int64_t>(0), std::optional<int64_t>(-1)}) {
    try {
      modctx::apply_output_slice(meta({2, 10}), Slice{1, std::nullopt, step});
      FAIL("accepted a 2-d hidden state");
    } catch (const modctx::Error& e) {
      CHECK(e.code() == Code::shape);
      CHECK(std::string(e.what()) == "too many indices for tensor of dimension 2");
    }
  }
}

TEST_CASE("describe(): one line, fields in the reference's order") {
  CHECK(ModalityContext().describe() == "ModalityContext()");

  const ModalityContext mot = make({{Field::prefix_embeds, meta({2, 576, 4096}, at::kBFloat16, at::Device(at::kCUDA, 0))},
                                    {Field::modality_ids, meta({2, 600}, at::kLong, at::Device(at::kCUDA, 0))}},
                                   Slice{576, std::nullopt, std::nullopt});
  CHECK(mot.describe() ==
        "ModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, output_slice=slice(576, None, None), "
        "modality_ids=Tensor[2, 600] int64 cuda:0)");

  const ModalityContext xattn = make({{Field::image_features, meta({1, 4, 8}, at::kHalf)},
                                      {Field::image_mask, meta({1, 4}, at::kBool)}},
                                     Slice{std::nullopt, -1, 2});
  CHECK(xattn.describe() ==
        "ModalityContext(output_slice=slice(None, -1, 2), image_features=Tensor[1, 4, 8] float16 cpu, "
        "image_mask=Tensor[1, 4] bool cpu)");

  const ModalityContext all = make({{Field::inputs_embeds, meta({}, at::kDouble, at::Device(at::kHIP, 1))},
                                    {Field::modality_ids, meta({3}, at::kInt)},
                                    {Field::key_padding_mask, meta({1, 0}, at::kBool)}});
  CHECK(all.describe() ==
        "ModalityContext(inputs_embeds=Tensor[] float64 hip:1, modality_ids=Tensor[3] int32 cpu, "
        "key_padding_mask=Tensor[1, 0] bool cpu)");
}
