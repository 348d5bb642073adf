// The four strategies against hand-computed tensors (images and video), the
// frame-mask expansion, and residual composition.
#include "catch_with_torch.hpp"

#include <ATen/ATen.h>

#include "helpers.hpp"

using modctx::Arch;
using modctx::Code;
using modctx::Field;
using modctx::ModalityContext;
using modctx::StrategyInputs;
using test::meta;

namespace {

at::Tensor bools(std::vector<std::vector<int>> rows) {
  const int64_t b = static_cast<int64_t>(rows.size()), n = static_cast<int64_t>(rows[0].size());
  at::Tensor t = at::zeros({b, n}, at::kBool);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < n; ++j) t[i][j] = static_cast<bool>(rows[i][j]);
  return t;
}

at::Tensor longs(std::vector<std::vector<int64_t>> rows) {
  const int64_t b = static_cast<int64_t>(rows.size()), n = static_cast<int64_t>(rows[0].size());
  at::Tensor t = at::zeros({b, n}, at::kLong);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < n; ++j) t[i][j] = rows[i][j];
  return t;
}

bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.defined() && b.defined() && a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         a.device() == b.device() && at::equal(a, b);
}

const int64_t kIds[2] = {2, 3};

StrategyInputs inputs(const at::Tensor& image, const at::Tensor& frame_mask = at::Tensor(),
                      at::IntArrayRef ids = kIds) {
  StrategyInputs in;
  in.image_embeds = image;
  in.input_ids_shape = ids;
  in.frame_mask = frame_mask;
  return in;
}

void expect_error(const std::function<void()>& f, Code code, const std::string& message) {
  try {
    f();
    FAIL("no error");
  } catch (const modctx::Error& e) {
    CHECK(e.code() == code);
    CHECK(std::string(e.what()) == message);
  }
}

}  // namespace

TEST_CASE("Joint-Decoder: prefix, output slice, and no mask without frames") {
  const at::Tensor image = at::randn({2, 4, 8});
  const ModalityContext ctx = modctx::compose(Arch::joint_decoder, inputs(image));
  CHECK(ctx.prefix_embeds().is_same(image));  // held, not copied
  REQUIRE(ctx.output_slice().has_value());
  CHECK(*ctx.output_slice() == modctx::Slice{4, std::nullopt, std::nullopt});
  CHECK_FALSE(ctx.has(Field::key_padding_mask));
  CHECK_FALSE(ctx.has(Field::modality_ids));
  CHECK_FALSE(ctx.has(Field::image_features));
}

TEST_CASE("Joint-Decoder with a frame mask: visual bits per frame, text always valid") {
  const at::Tensor image = at::randn({2, 4, 8});
  const at::Tensor frames = bools({{1, 0}, {1, 1}});
  const ModalityContext ctx = modctx::compose(Arch::joint_decoder, inputs(image, frames));
  CHECK(same(ctx.key_padding_mask(), bools({{1, 1, 0, 0, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1}})));
}

TEST_CASE("Cross-Attention: image features and the per-token image mask") {
  const at::Tensor image = at::randn({2, 6, 8}).to(at::kBFloat16);
  const ModalityContext plain = modctx::compose(Arch::cross_attention, inputs(image));
  CHECK(plain.image_features().is_same(image));
  CHECK_FALSE(plain.has(Field::image_mask));
  CHECK_FALSE(plain.output_slice().has_value());
  CHECK_FALSE(plain.has(Field::prefix_embeds));

  // Video with ragged clips: 3 frames of 2 tokens each.
  const ModalityContext video = modctx::compose(Arch::cross_attention, inputs(image, bools({{1, 1, 0}, {1, 0, 0}})));
  CHECK(same(video.image_mask(), bools({{1, 1, 1, 1, 0, 0}, {1, 1, 0, 0, 0, 0}})));
}

TEST_CASE("MoT and MoMa: as Joint-Decoder plus modality_ids 0 then 1, int64, on the ids' device") {
  const at::Tensor image = at::randn({2, 4, 8});
  const at::Tensor frames = bools({{1, 1, 1, 1}, {1, 1, 0, 0}});  // 4 frames of one token
  for (Arch arch : {Arch::mot, Arch::moma}) {
    const ModalityContext ctx = modctx::compose(arch, inputs(image, frames));
    CHECK(ctx.prefix_embeds().is_same(image));
    CHECK(*ctx.output_slice() == modctx::Slice{4, std::nullopt, std::nullopt});
    CHECK(same(ctx.modality_ids(), longs({{0, 0, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 1, 1, 1}})));
    CHECK(same(ctx.key_padding_mask(), bools({{1, 1, 1, 1, 1, 1, 1}, {1, 1, 0, 0, 1, 1, 1}})));
  }
  const ModalityContext no_frames = modctx::compose(Arch::mot, inputs(image));
  CHECK_FALSE(no_frames.has(Field::key_padding_mask));
  CHECK(no_frames.modality_ids().sizes() == at::IntArrayRef({2, 7}));
  // Zero text tokens: all image.
  const int64_t no_text[2] = {2, 0};
  CHECK(same(modctx::compose(Arch::moma, inputs(image, at::Tensor(), no_text)).modality_ids(),
             longs({{0, 0, 0, 0}, {0, 0, 0, 0}})));
}

TEST_CASE("composed contexts pass the model check for their architecture") {
  const at::Tensor image = at::randn({2, 4, 8});
  const at::Tensor frames = bools({{1, 0}, {1, 1}});
  for (Arch arch : {Arch::joint_decoder, Arch::cross_attention, Arch::mot, Arch::moma}) {
    const ModalityContext ctx = modctx::compose(arch, inputs(image, frames));
    modctx::ModelSpec m;
    m.arch = arch;
    m.hidden_size = 8;
    m.num_image_tokens = 4;
    INFO(modctx::arch_name(arch));
    modctx::ModelForward forward;
    forward.has_tokens = true;
    forward.tokens_shape = kIds;
    modctx::ValueChecks values;
    values.modality_ids_range = true;
    const auto status = modctx::validate_model(&ctx, m, forward, values);
    INFO(status.message);
    CHECK(status.ok());
  }
}

TEST_CASE("the frame-mask expansion refuses what it cannot expand") {
  const at::Tensor image = at::randn({2, 10, 8});
  expect_error([&] { modctx::compose(Arch::joint_decoder, inputs(image, bools({{1, 1, 1, 1}, {1, 1, 1, 1}}))); },
               Code::shape,
               "_visual_token_mask: num_visual_tokens (10) is not a multiple of num_frames (4); the per-frame "
               "expansion assumes frame-contiguous visual tokens.");
  expect_error([&] { modctx::visual_token_mask(at::zeros({2, 0}, at::kBool), 10); }, Code::shape,
               "_visual_token_mask: frame_mask has no frames (shape (2, 0))");
  expect_error([&] { modctx::visual_token_mask(at::ones({2, 5}, at::kByte), 10); }, Code::dtype,
               "frame_mask.dtype must be torch.bool, got torch.uint8");
  expect_error([&] { modctx::visual_token_mask(at::ones({5}, at::kBool), 10); }, Code::shape,
               "frame_mask must have shape (B, F), got (5,)");
  expect_error([&] { modctx::compose(Arch::mot, inputs(image, bools({{1, 1}, {1, 1}, {1, 0}}))); }, Code::shape,
               "frame_mask batch size 3 does not match the batch size 2 of input_ids");
  CHECK_FALSE(modctx::visual_token_mask(at::Tensor(), 10).defined());
  // Negative sizes would size a mask below zero.
  expect_error([&] { modctx::visual_token_mask(bools({{1, 1}, {1, 0}}), -4); }, Code::invalid_argument,
               "_visual_token_mask: num_visual_tokens must be >= 0, got -4");
  const int64_t negative_text[2] = {2, -3};
  expect_error([&] { modctx::prefix_key_padding_mask(bools({{1, 1}, {1, 0}}), 4, negative_text); }, Code::shape,
               "input_ids shape (2, -3) has a negative size");
}

TEST_CASE("strategies refuse bad inputs and devices they cannot allocate on") {
  expect_error([&] { modctx::compose(Arch::text, inputs(at::randn({2, 4, 8}))); }, Code::invalid_argument,
               "compose: the text architecture has no strategy");
  expect_error([&] { modctx::compose(Arch::mot, inputs(at::randn({2, 4}))); }, Code::shape,
               "image_embeds must have shape (B, N, D), got (2, 4)");
  const int64_t bad_ids[1] = {3};
  expect_error([&] { modctx::compose(Arch::mot, inputs(at::randn({2, 4, 8}), at::Tensor(), bad_ids)); }, Code::shape,
               "input_ids must have shape (B, T), got (3,)");
  // Image embeddings on an accelerator: held as metadata; Joint-Decoder allocates nothing.
  const at::Tensor cuda_image = meta({2, 4, 8}, at::kBFloat16, at::Device(at::kCUDA, 0));
  StrategyInputs in = inputs(cuda_image);
  in.input_ids_device = at::Device(at::kCUDA, 0);
  CHECK(modctx::compose(Arch::joint_decoder, in).prefix_embeds().is_same(cuda_image));
  CHECK(modctx::compose(Arch::cross_attention, in).image_features().is_same(cuda_image));
  expect_error([&] { modctx::compose(Arch::mot, in); }, Code::unsupported,
               "modality_ids would be allocated on cuda:0, which this LibTorch cannot allocate on (built without "
               "that backend)");
}

TEST_CASE("residual: length without allocating, composition as the reference") {
  const at::Tensor image = at::randn({2, 4, 8}, at::kDouble);
  const ModalityContext jd = modctx::compose(Arch::joint_decoder, inputs(image));
  CHECK(modctx::residual_length(jd, 3) == 7);
  CHECK(modctx::residual_length(ModalityContext(), 3) == 3);
  modctx::ContextFields f;
  f[Field::inputs_embeds] = meta({2, 11, 8});
  CHECK(modctx::residual_length(ModalityContext(f), 3) == 11);

  const at::Tensor text = at::randn({2, 3, 8});
  const at::Tensor h = modctx::compose_residual(jd, text);
  CHECK(h.sizes() == at::IntArrayRef({2, 7, 8}));
  CHECK(h.scalar_type() == at::kFloat);  // the prefix is cast to the text dtype
  CHECK(at::equal(h.slice(1, 0, 4), image.to(at::kFloat)));
  CHECK(at::equal(h.slice(1, 4), text));
  // The output slice trims the prefix back off: a view of the residual.
  const at::Tensor out = modctx::apply_output_slice(h, *jd.output_slice());
  CHECK(at::equal(out, text));
  CHECK(out.storage().is_alias_of(h.storage()));

  CHECK(modctx::compose_residual(ModalityContext(), text).is_same(text));
  expect_error([&] { modctx::compose_residual(jd, at::randn({2, 3, 5})); }, Code::shape,
               "modality.prefix_embeds shape (2, 4, 8) cannot be prepended to text embeddings of shape (2, 3, 5)");
  expect_error([&] { modctx::compose_residual(ModalityContext(f), text); }, Code::forward_inputs,
               "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
}

// The C ABI's and the checker's forms (c10 only, CPU memory) against the C++
// API's (LibTorch's operators): the same values, dtypes and errors.
TEST_CASE("cpu_only strategies and residual agree with the LibTorch forms") {
  at::Tensor mask = bools({{1, 0, 1}, {0, 1, 1}});
  const at::Tensor strided_mask = bools({{1, 1, 0, 0, 1, 1}, {0, 0, 1, 1, 1, 1}}).slice(1, 0, 6, 2);  // a view
  for (const at::Tensor& frame_mask : {at::Tensor(), mask, strided_mask}) {
    for (Arch arch : {Arch::joint_decoder, Arch::cross_attention, Arch::mot, Arch::moma}) {
      StrategyInputs in;
      in.image_embeds = at::zeros({2, 6, 4});
      in.input_ids_shape = kIds;
      in.frame_mask = frame_mask;
      const ModalityContext a = modctx::compose(arch, in);
      const ModalityContext c = modctx::cpu_only::compose(arch, in);
      CHECK(a.describe() == c.describe());
      for (Field f : {Field::image_mask, Field::modality_ids, Field::key_padding_mask}) {
        CHECK(a.has(f) == c.has(f));
        if (a.has(f)) CHECK(same(a.get(f), c.get(f)));
      }
    }
  }
  // Residual: every dtype pair's cast, a strided prefix, as at::cat(to(...)).
  const at::Tensor base = at::arange(2 * 3 * 4, at::kDouble).reshape({2, 3, 4}) - 7.5;
  for (at::ScalarType from : {at::kFloat, at::kBFloat16, at::kHalf, at::kLong, at::kDouble, at::kBool}) {
    for (at::ScalarType to : {at::kFloat, at::kBFloat16, at::kHalf, at::kInt, at::kDouble, at::kComplexFloat}) {
      ModalityContext ctx(ModalityContext().replace(Field::prefix_embeds, base.to(from).transpose(1, 2).contiguous().transpose(1, 2)));
      const at::Tensor text = at::ones({2, 5, 4}, at::kDouble).mul(0.25).to(to);
      CAPTURE(from, to);
      CHECK(same(modctx::compose_residual(ctx, text), modctx::cpu_only::compose_residual(ctx, text)));
    }
  }
  // Errors are the same, in the same order.
  StrategyInputs bad;
  bad.image_embeds = at::zeros({2, 5, 4});
  bad.input_ids_shape = kIds;
  bad.frame_mask = mask;  // 3 frames do not divide 5 tokens
  std::string a_message, c_message;
  try { modctx::compose(Arch::mot, bad); } catch (const modctx::Error& e) { a_message = e.what(); }
  try { modctx::cpu_only::compose(Arch::mot, bad); } catch (const modctx::Error& e) { c_message = e.what(); }
  CHECK(!a_message.empty());
  CHECK(a_message == c_message);
  // A device the C ABI cannot allocate on: the message compose gives on a
  // LibTorch without that backend.
  StrategyInputs on_cuda;
  on_cuda.image_embeds = meta({2, 4, 8}, at::kFloat, at::Device(at::kCUDA, 0));
  on_cuda.input_ids_shape = kIds;
  on_cuda.input_ids_device = at::Device(at::kCUDA, 0);
  CHECK_THROWS_WITH(modctx::cpu_only::compose(Arch::mot, on_cuda),
                    "modality_ids would be allocated on cuda:0, which this LibTorch cannot allocate on (built without "
                    "that backend)");
}
