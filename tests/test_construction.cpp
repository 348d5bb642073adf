// The reference's four construction checks, their order, their
// exact messages, immutability and replace().
#include "catch_with_torch.hpp"

#include "helpers.hpp"

using modctx::Code;
using modctx::ContextError;
using modctx::ContextFields;
using modctx::Field;
using modctx::ModalityContext;
using test::bit;
using test::fields_with;
using test::meta;

namespace {

const std::string kRoutes =
    "ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
    "(mutually exclusive residual-stream routes)";
const std::string kImageMask = "ModalityContext: image_mask requires image_features to be set";
const std::string kModalityIds =
    "ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
    "(routing without a residual extension is meaningless)";
const std::string kKeyPadding =
    "ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
    "(it masks the residual sequence; Cross-Attention uses image_mask)";

const unsigned IE = bit(Field::inputs_embeds), PE = bit(Field::prefix_embeds),
               IF = bit(Field::image_features), IM = bit(Field::image_mask),
               MI = bit(Field::modality_ids), KPM = bit(Field::key_padding_mask);

// The expected first failure for a set of present fields, written from the
// reference's table as a list of (condition, outcome) rows tried in order.
std::pair<Code, std::string> expected_for(unsigned m) {
  const int routes = !!(m & IE) + !!(m & PE) + !!(m & IF);
  if (routes > 1) return {Code::routes, kRoutes};
  if ((m & IM) && !(m & IF)) return {Code::image_mask, kImageMask};
  if ((m & MI) && !(m & (PE | IE))) return {Code::modality_ids, kModalityIds};
  if ((m & KPM) && !(m & (PE | IE))) return {Code::key_padding_mask, kKeyPadding};
  return {Code::ok, ""};
}

}  // namespace

TEST_CASE("an empty context is valid: the text-only forward") {
  ModalityContext ctx;
  CHECK(ctx.empty());
  CHECK_NOTHROW(ModalityContext(ContextFields{}));
  CHECK(modctx::validate_construction(ContextFields{}).ok());
}

TEST_CASE("each construction check, alone, with its exact message and code") {
  struct Case {
    unsigned mask;
    Code code;
    const std::string* message;
  };
  const Case cases[] = {
      {IE | PE, Code::routes, &kRoutes},
      {IE | IF, Code::routes, &kRoutes},
      {PE | IF, Code::routes, &kRoutes},
      {IE | PE | IF, Code::routes, &kRoutes},
      {IM, Code::image_mask, &kImageMask},
      {IM | PE, Code::image_mask, &kImageMask},
      {MI, Code::modality_ids, &kModalityIds},
      {MI | IF, Code::modality_ids, &kModalityIds},
      {MI | IF | IM, Code::modality_ids, &kModalityIds},
      {KPM, Code::key_padding_mask, &kKeyPadding},
      {KPM | IF | IM, Code::key_padding_mask, &kKeyPadding},
  };
  for (const auto& c : cases) {
    INFO("mask " << c.mask);
    const modctx::Status status = modctx::validate_construction(fields_with(c.mask));
    CHECK(status.code == c.code);
    CHECK(status.message == *c.message);
    try {
      ModalityContext ctx(fields_with(c.mask));
      FAIL("construction accepted an invalid context");
    } catch (const ContextError& e) {
      CHECK(e.code() == c.code);
      CHECK(std::string(e.what()) == *c.message);
    }
  }
}

TEST_CASE("the routes every strategy builds are accepted") {
  for (unsigned mask : {0u, IE, PE, IF, IF | IM, PE | MI, PE | KPM, PE | MI | KPM, IE | MI, IE | KPM,
                        IE | MI | KPM}) {
    INFO("mask " << mask);
    CHECK(modctx::validate_construction(fields_with(mask, true)).ok());
    CHECK_NOTHROW(ModalityContext(fields_with(mask, true)));
  }
}

TEST_CASE("every combination of fields and slice reports the first failing check, in order") {
  int rejected = 0;
  for (unsigned mask = 0; mask < 64; ++mask) {
    for (bool with_slice : {false, true}) {
      const auto [code, message] = expected_for(mask);
      const modctx::Status status = modctx::validate_construction(fields_with(mask, with_slice));
      INFO("mask " << mask << " slice " << with_slice);
      REQUIRE(status.code == code);
      REQUIRE(status.message == message);
      rejected += code != Code::ok;
    }
  }
  // 64 presence patterns: 11 accepted, the rest rejected (each with and without a slice).
  CHECK(rejected == 2 * (64 - 11));
}

TEST_CASE("contexts that break several rules report the earliest rule") {
  CHECK(modctx::validate_construction(fields_with(IE | PE | IM | MI | KPM)).code == Code::routes);
  CHECK(modctx::validate_construction(fields_with(IM | MI | KPM)).code == Code::image_mask);
  CHECK(modctx::validate_construction(fields_with(MI | KPM)).code == Code::modality_ids);
  CHECK(modctx::validate_construction(fields_with(IF | IM | MI | KPM)).code == Code::modality_ids);
}

TEST_CASE("construction checks presence only: shapes, dtypes and devices are not looked at") {
  ContextFields f;
  f[Field::prefix_embeds] = meta({7}, at::kBool, at::Device(at::kCUDA, 3));
  f[Field::modality_ids] = meta({}, at::kFloat);
  f[Field::key_padding_mask] = meta({1, 2, 3, 4}, at::kDouble, at::Device(at::kCUDA, 1));
  f.output_slice = modctx::Slice{std::nullopt, std::nullopt, 0};  // step 0 is not checked here
  CHECK_NOTHROW(ModalityContext(f));
}

TEST_CASE("a context holds the caller's tensors: same storage, no copy") {
  at::Tensor prefix = meta({2, 5, 8}, at::kBFloat16, at::Device(at::kCUDA, 0));
  ContextFields f;
  f[Field::prefix_embeds] = prefix;
  ModalityContext ctx(f);
  CHECK(ctx.prefix_embeds().is_same(prefix));
  CHECK(ctx.has(Field::prefix_embeds));
  CHECK_FALSE(ctx.has(Field::inputs_embeds));
  CHECK_FALSE(ctx.inputs_embeds().defined());
  CHECK(ctx.prefix_embeds().device() == at::Device(at::kCUDA, 0));
}

TEST_CASE("replace() builds a new context, runs the checks again, and leaves the original alone") {
  ContextFields f;
  f[Field::prefix_embeds] = meta({1, 4, 8});
  const ModalityContext original(f);

  const ModalityContext with_ids = original.replace(Field::modality_ids, meta({1, 10}, at::kLong));
  CHECK(with_ids.has(Field::modality_ids));
  CHECK_FALSE(original.has(Field::modality_ids));

  // Adding a second route fails with the routes message; the original is unchanged.
  try {
    (void)original.replace(Field::image_features, meta({1, 4, 8}));
    FAIL("replace accepted two routes");
  } catch (const ContextError& e) {
    CHECK(e.code() == Code::routes);
    CHECK(std::string(e.what()) == kRoutes);
  }
  CHECK_FALSE(original.has(Field::image_features));

  // Removing the prefix from a context with modality_ids fails check 3.
  try {
    (void)with_ids.replace(Field::prefix_embeds, at::Tensor());
    FAIL("replace accepted modality_ids without a residual extension");
  } catch (const ContextError& e) {
    CHECK(e.code() == Code::modality_ids);
    CHECK(std::string(e.what()) == kModalityIds);
  }

  const ModalityContext sliced = original.replace_output_slice(modctx::Slice{4, std::nullopt, std::nullopt});
  REQUIRE(sliced.output_slice().has_value());
  CHECK(sliced.output_slice()->start == 4);
  CHECK_FALSE(original.output_slice().has_value());
  CHECK_FALSE(sliced.replace_output_slice(std::nullopt).output_slice().has_value());

  CHECK_THROWS_AS(original.replace(static_cast<Field>(9), at::Tensor()), modctx::Error);
}

TEST_CASE("errors are std::invalid_argument, as the reference's are ValueError") {
  try {
    ModalityContext ctx(fields_with(IM));
    FAIL("accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == kImageMask);
  }
}

TEST_CASE("field names and code names") {
  CHECK(std::string(modctx::field_name(Field::key_padding_mask)) == "key_padding_mask");
  CHECK(std::string(modctx::field_name(static_cast<Field>(6))) == "unknown");
  Field f{};
  CHECK(modctx::parse_field("image_mask", &f));
  CHECK(f == Field::image_mask);
  CHECK_FALSE(modctx::parse_field("output_slice", &f));
  CHECK(std::string(modctx::code_name(Code::routes)) == "MODCTX_ERR_ROUTES");
  CHECK(std::string(modctx::code_name(Code::unsupported)) == "MODCTX_ERR_UNSUPPORTED");
  CHECK(std::string(modctx::code_name(static_cast<Code>(999))) == "MODCTX_ERR_UNKNOWN");
}
