// Checking a context against a model: every check with its message, and the
// order in which they run (include/modctx/model.hpp).
#include "catch_with_torch.hpp"

#include <ATen/ATen.h>

#include "helpers.hpp"

using modctx::Arch;
using modctx::Code;
using modctx::ContextFields;
using modctx::Field;
using modctx::ModalityContext;
using modctx::ModelForward;
using modctx::ModelSpec;
using modctx::Slice;
using test::meta;

namespace {

const at::Device kCuda0(at::kCUDA, 0);
const int64_t kTokens[2] = {2, 6};

ModelSpec model(Arch arch, int64_t hidden = 8) {
  ModelSpec m;
  m.arch = arch;
  m.hidden_size = hidden;
  return m;
}

ModelForward with_tokens(at::IntArrayRef shape = kTokens, bool kv = false) {
  ModelForward f;
  f.has_tokens = true;
  f.tokens_shape = shape;
  f.has_kv_caches = kv;
  return f;
}
ModelForward without_tokens(bool kv = false) {
  ModelForward f;
  f.has_kv_caches = kv;
  return f;
}

struct Fields {
  ContextFields f;
  Fields& set(Field field, at::Tensor t) {
    f[field] = std::move(t);
    return *this;
  }
  Fields& slice(Slice s) {
    f.output_slice = s;
    return *this;
  }
  ModalityContext build() const { return ModalityContext(f); }
};

// A MoT context for tokens (2, 6): prefix (2, 4, 8), modality_ids (2, 10).
Fields mot_fields() {
  return Fields{}
      .set(Field::prefix_embeds, meta({2, 4, 8}))
      .set(Field::modality_ids, meta({2, 10}, at::kLong))
      .slice(Slice{4, std::nullopt, std::nullopt});
}

modctx::Status run(const Fields& f, const ModelSpec& m, const ModelForward& fw = with_tokens(),
                   modctx::ValueChecks v = {}) {
  const ModalityContext ctx = f.build();
  return modctx::validate_model(&ctx, m, fw, v);
}

void expect(const modctx::Status& s, Code code, const std::string& message) {
  INFO(s.message);
  CHECK(s.code == code);
  CHECK(s.message == message);
}

}  // namespace

TEST_CASE("model check: contexts the strategies' shapes describe pass") {
  CHECK(run(Fields{}, model(Arch::text)).ok());
  CHECK(modctx::validate_model(nullptr, model(Arch::text), with_tokens()).ok());
  CHECK(run(mot_fields(), model(Arch::mot)).ok());
  CHECK(run(mot_fields(), model(Arch::moma)).ok());
  CHECK(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})).slice({4, std::nullopt, std::nullopt}),
            model(Arch::joint_decoder))
            .ok());
  CHECK(run(Fields{}
                .set(Field::image_features, meta({2, 5, 8}, at::kBFloat16))
                .set(Field::image_mask, meta({2, 5}, at::kBool)),
            model(Arch::cross_attention))
            .ok());
  CHECK(run(Fields{}.set(Field::inputs_embeds, meta({2, 10, 8})), model(Arch::text), without_tokens(true)).ok());
  ModelSpec full = model(Arch::mot);
  full.num_image_tokens = 4;
  full.text_dtype = at::kFloat;
  CHECK(run(mot_fields().set(Field::key_padding_mask, meta({2, 10}, at::kBool)), full).ok());
}

TEST_CASE("model check: the reference's forward checks come first, with their messages") {
  expect(run(Fields{}, model(Arch::text), without_tokens()), Code::forward_inputs,
         "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
  expect(run(mot_fields(), model(Arch::mot), with_tokens(kTokens, true)), Code::kv_cache,
         "modality.output_slice is training-only; cannot be combined with kv_caches");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})).set(Field::modality_ids, meta({2, 3}, at::kInt)),
             model(Arch::mot)),
         Code::dtype, "modality.modality_ids.dtype must be torch.long, got torch.int32");
}

TEST_CASE("model check: the residual must be buildable (where the reference fails in cat)") {
  const int64_t one_d[1] = {6};
  expect(run(Fields{}, model(Arch::text), with_tokens(one_d)), Code::shape, "tokens must have shape (B, T), got (6,)");
  expect(run(Fields{}.set(Field::inputs_embeds, meta({2, 10})), model(Arch::text), without_tokens()), Code::shape,
         "modality.inputs_embeds must have shape (B, S, D), got (2, 10)");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4})), model(Arch::joint_decoder)), Code::shape,
         "modality.prefix_embeds must have shape (B, N, D), got (2, 4)");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({3, 4, 8})), model(Arch::joint_decoder)), Code::shape,
         "modality.prefix_embeds batch size 3 does not match the batch size 2 of tokens");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 16})), model(Arch::joint_decoder)), Code::shape,
         "modality.prefix_embeds hidden size 16 does not match the model's hidden_size 8");
}

TEST_CASE("model check: the reference's model-time checks, with its messages") {
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})), model(Arch::mot)), Code::missing_field,
         "MoT model requires modality.modality_ids (got None). Build the ModalityContext via MoTStrategy or set "
         "modality_ids explicitly.");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})), model(Arch::moma)), Code::missing_field,
         "MoMa model requires modality.modality_ids (got None). Build the ModalityContext via MoMaStrategy or set "
         "modality_ids explicitly.");
  expect(run(Fields{}, model(Arch::mot)), Code::missing_field,
         "MoT model requires modality.modality_ids (got None). Build the ModalityContext via MoTStrategy or set "
         "modality_ids explicitly.");
  const int64_t tokens[2] = {1, 6};
  expect(run(Fields{}.set(Field::prefix_embeds, meta({1, 4, 8})).set(Field::modality_ids, meta({1, 12}, at::kLong)),
             model(Arch::mot), with_tokens(tokens)),
         Code::shape, "modality.modality_ids shape (1, 12) does not match residual shape (1, 10)");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({1, 4, 8})).set(Field::modality_ids, meta({10}, at::kLong)),
             model(Arch::moma), with_tokens(tokens)),
         Code::shape, "modality.modality_ids shape (10,) does not match residual shape (1, 10)");
  expect(run(Fields{}.set(Field::inputs_embeds, meta({2, 7, 8})).set(Field::modality_ids, meta({2, 8}, at::kLong)),
             model(Arch::mot), without_tokens()),
         Code::shape, "modality.modality_ids shape (2, 8) does not match residual shape (2, 7)");
  expect(run(Fields{}, model(Arch::cross_attention)), Code::missing_field,
         "Cross-Attention block fired but modality.image_features is None. Cross-Attention models require "
         "image_features in the ModalityContext.");
  expect(run(Fields{}.slice({std::nullopt, std::nullopt, 0}), model(Arch::text)), Code::slice,
         "slice step cannot be zero");
  expect(run(Fields{}.slice({std::nullopt, std::nullopt, -1}), model(Arch::text)), Code::slice,
         "step must be greater than zero");
}

TEST_CASE("model check: fields the architecture does not use") {
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8})), model(Arch::joint_decoder)), Code::unused_field,
         "modality.image_features is not used by a joint_decoder model");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})).set(Field::modality_ids, meta({2, 10}, at::kLong)),
             model(Arch::joint_decoder)),
         Code::unused_field, "modality.modality_ids is not used by a joint_decoder model");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})), model(Arch::text)), Code::unused_field,
         "modality.prefix_embeds is not used by a text model");
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})), model(Arch::cross_attention)), Code::missing_field,
         "Cross-Attention block fired but modality.image_features is None. Cross-Attention models require "
         "image_features in the ModalityContext.");
}

TEST_CASE("model check: shapes bound across fields") {
  expect(run(Fields{}.set(Field::inputs_embeds, meta({2, 10, 4})), model(Arch::text), without_tokens()), Code::shape,
         "modality.inputs_embeds hidden size 4 does not match the model's hidden_size 8");
  expect(run(Fields{}.set(Field::image_features, meta({2, 4})), model(Arch::cross_attention)), Code::shape,
         "modality.image_features must have shape (B, N, D), got (2, 4)");
  expect(run(Fields{}.set(Field::image_features, meta({3, 4, 8})), model(Arch::cross_attention)), Code::shape,
         "modality.image_features batch size 3 does not match the batch size 2 of tokens");
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8})), model(Arch::cross_attention, 16)), Code::shape,
         "modality.image_features hidden size 8 does not match the model's hidden_size 16");
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8})).set(Field::image_mask, meta({2, 5}, at::kBool)),
             model(Arch::cross_attention)),
         Code::shape, "modality.image_mask shape (2, 5) does not match image_features tokens (2, 4)");
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8})).set(Field::image_mask, meta({8}, at::kBool)),
             model(Arch::cross_attention)),
         Code::shape, "modality.image_mask shape (8,) does not match image_features tokens (2, 4)");
  expect(run(mot_fields().set(Field::key_padding_mask, meta({2, 6}, at::kBool)), model(Arch::mot)), Code::shape,
         "modality.key_padding_mask shape (2, 6) does not match residual shape (2, 10)");
  expect(run(Fields{}.set(Field::inputs_embeds, meta({2, 7, 8})).set(Field::key_padding_mask, meta({2, 8}, at::kBool)),
             model(Arch::text), without_tokens()),
         Code::shape, "modality.key_padding_mask shape (2, 8) does not match residual shape (2, 7)");
  ModelSpec fixed = model(Arch::mot);
  fixed.num_image_tokens = 5;
  expect(run(mot_fields(), fixed), Code::shape,
         "modality.prefix_embeds has 4 image tokens, but the model's num_image_tokens is 5");
  ModelSpec xattn = model(Arch::cross_attention);
  xattn.num_image_tokens = 3;
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8})), xattn), Code::shape,
         "modality.image_features has 4 image tokens, but the model's num_image_tokens is 3");
}

TEST_CASE("model check: dtypes") {
  expect(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8}, at::kLong)), model(Arch::joint_decoder)), Code::dtype,
         "modality.prefix_embeds.dtype must be a floating point type, got torch.int64");
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8}, at::kComplexFloat)), model(Arch::cross_attention)),
         Code::dtype, "modality.image_features.dtype must be a floating point type, got torch.complex64");
  expect(run(Fields{}.set(Field::image_features, meta({2, 4, 8})).set(Field::image_mask, meta({2, 4}, at::kByte)),
             model(Arch::cross_attention)),
         Code::dtype, "modality.image_mask.dtype must be torch.bool, got torch.uint8");
  expect(run(mot_fields().set(Field::key_padding_mask, meta({2, 10}, at::kFloat)), model(Arch::mot)), Code::dtype,
         "modality.key_padding_mask.dtype must be torch.bool, got torch.float32");
  ModelSpec bf16 = model(Arch::text);
  bf16.text_dtype = at::kBFloat16;
  expect(run(Fields{}.set(Field::inputs_embeds, meta({2, 7, 8})), bf16, without_tokens()), Code::dtype,
         "modality.inputs_embeds.dtype must be torch.bfloat16 (the model's text dtype), got torch.float32");
  // The prefix is cast to the text dtype by the reference: any floating dtype is fine.
  CHECK(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8}, at::kDouble)), model(Arch::joint_decoder)).ok());
}

TEST_CASE("model check: one device for all") {
  expect(run(Fields{}
                 .set(Field::image_features, meta({2, 4, 8}, at::kFloat, kCuda0))
                 .set(Field::image_mask, meta({2, 4}, at::kBool, at::Device(at::kCUDA, 1))),
             model(Arch::cross_attention)),
         Code::device, "modality.image_mask is on cuda:1, but modality.image_features is on cuda:0");
  expect(run(Fields{}
                 .set(Field::prefix_embeds, meta({2, 4, 8}, at::kFloat, kCuda0))
                 .set(Field::modality_ids, meta({2, 10}, at::kLong))
                 .slice({4, std::nullopt, std::nullopt}),
             model(Arch::mot)),
         Code::device, "modality.modality_ids is on cpu, but modality.prefix_embeds is on cuda:0");
}

TEST_CASE("model check: the order of our own checks") {
  // Unused before shapes, shapes before dtypes, dtypes before devices.
  CHECK(run(Fields{}.set(Field::image_features, meta({9}, at::kLong, kCuda0)), model(Arch::text)).code ==
        Code::unused_field);
  CHECK(run(Fields{}
                .set(Field::image_features, meta({2, 4, 8}, at::kLong, kCuda0))
                .set(Field::image_mask, meta({2, 5}, at::kByte)),
            model(Arch::cross_attention))
            .code == Code::shape);
  CHECK(run(Fields{}
                .set(Field::image_features, meta({2, 4, 8}, at::kLong, kCuda0))
                .set(Field::image_mask, meta({2, 4}, at::kByte)),
            model(Arch::cross_attention))
            .code == Code::dtype);
  // The reference's model-time checks before ours, its slice before ours.
  CHECK(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 8})).set(Field::key_padding_mask, meta({1}, at::kByte)),
            model(Arch::mot))
            .code == Code::missing_field);
  CHECK(run(mot_fields().slice({std::nullopt, std::nullopt, 0}).set(Field::key_padding_mask, meta({1}, at::kByte)),
            model(Arch::mot))
            .code == Code::slice);
  // Forward checks before everything.
  CHECK(run(Fields{}.set(Field::prefix_embeds, meta({2, 4, 3})), model(Arch::mot), with_tokens(kTokens, true)).code ==
        Code::kv_cache);
}

TEST_CASE("model check: a bad model description is an invalid argument") {
  expect(run(Fields{}, model(Arch::text, 0)), Code::invalid_argument, "model: hidden_size must be > 0, got 0");
  ModelSpec m = model(Arch::mot);
  m.num_modalities = 0;
  expect(run(Fields{}, m), Code::invalid_argument, "model: num_modalities must be >= 1, got 0");
  ModelSpec bad_arch = model(static_cast<Arch>(7));
  expect(run(Fields{}, bad_arch), Code::invalid_argument, "model: unknown architecture 7");
  ModelSpec int_text = model(Arch::text);
  int_text.text_dtype = at::kInt;
  expect(run(Fields{}, int_text), Code::invalid_argument,
         "model: text_dtype must be a floating point type, got torch.int32");
  CHECK_THROWS_AS(modctx::check_model(nullptr, model(Arch::text, -1), with_tokens()), modctx::Error);
}

TEST_CASE("model check: modality_ids values, only when asked") {
  at::Tensor ids = at::zeros({2, 10}, at::kLong);
  ids.slice(1, 4).fill_(1);
  Fields f = mot_fields().set(Field::modality_ids, ids);
  const modctx::ValueChecks asked{true};
  CHECK(run(f, model(Arch::mot), with_tokens(), asked).ok());
  ids[1][9] = 2;
  CHECK(run(f, model(Arch::mot)).ok());  // not asked: not read
  expect(run(f, model(Arch::mot), with_tokens(), asked), Code::value,
         "modality.modality_ids values must be in [0, 2), found 2");
  ModelSpec three = model(Arch::mot);
  three.num_modalities = 3;
  CHECK(run(f, three, with_tokens(), asked).ok());
  ids[0][0] = -1;
  expect(run(f, three, with_tokens(), asked), Code::value, "modality.modality_ids values must be in [0, 3), found -1");
  // No data to read, or a device this LibTorch cannot reach: unsupported, never a crash.
  expect(run(mot_fields(), model(Arch::mot), with_tokens(), asked), Code::unsupported,
         "modality.modality_ids holds no data (a metadata-only tensor); its values were not checked");
  expect(run(Fields{}
                 .set(Field::prefix_embeds, meta({2, 4, 8}, at::kFloat, kCuda0))
                 .set(Field::modality_ids, meta({2, 10}, at::kLong, kCuda0)),
             model(Arch::mot), with_tokens(), asked),
         Code::unsupported, "modality.modality_ids is on cuda:0, which this LibTorch cannot read; its values were not checked");
}

TEST_CASE("shape_tuple prints as Python does") {
  CHECK(modctx::shape_tuple({}) == "()");
  CHECK(modctx::shape_tuple({12}) == "(12,)");
  CHECK(modctx::shape_tuple({1, 12}) == "(1, 12)");
}

TEST_CASE("architecture names") {
  Arch a{};
  CHECK(modctx::parse_arch("cross_attention", &a));
  CHECK(a == Arch::cross_attention);
  CHECK_FALSE(modctx::parse_arch("vit", &a));
  CHECK(std::string(modctx::arch_name(Arch::moma)) == "moma");
  CHECK(std::string(modctx::arch_name(static_cast<Arch>(9))) == "unknown");
}
