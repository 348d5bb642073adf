// The whole forward request against a model (include/modctx/model.hpp,
// steps 1, 3, 6, 7 and 8): token ids as a tensor, doc_ids, the KV caches'
// state, the RoPE budget, what a model's config adds. Each rule at its
// boundary, both ways.
#include "catch_with_torch.hpp"

#include <cstring>
#include <limits>

#include "helpers.hpp"

using modctx::Arch;
using modctx::Code;
using modctx::ContextFields;
using modctx::Field;
using modctx::KvCacheState;
using modctx::ModalityContext;
using modctx::ModelForward;
using modctx::ModelSpec;
using modctx::Slice;
using modctx::Status;
using modctx::ValueChecks;
using test::meta;

namespace {

const at::Device kCuda0(at::kCUDA, 0);

ModelSpec model(Arch arch, int64_t max_seq_len = 16) {
  ModelSpec m;
  m.arch = arch;
  m.hidden_size = 8;
  m.max_seq_len = max_seq_len;
  return m;
}

// A CPU tensor holding `values` (row-major) with `shape`.
template <class T>
at::Tensor filled(std::vector<int64_t> shape, at::ScalarType dtype, std::vector<T> values) {
  at::Tensor t = modctx::allocate_cpu_tensor(shape, dtype);
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::memcpy(t.data_ptr(), values.data(), values.size() * sizeof(T));
  return t;
}

// Token ids (B, T) = `shape`, every id `fill`, one id (the last) `last`.
at::Tensor ids(std::vector<int64_t> shape, int64_t fill = 1, int64_t last = 1) {
  std::vector<int64_t> v(static_cast<size_t>(shape[0] * shape[1]), fill);
  v.back() = last;
  return filled(shape, at::kLong, v);
}

struct Request {
  ContextFields fields;
  at::Tensor tokens;
  at::Tensor doc_ids;
  std::optional<KvCacheState> kv;
  bool kv_given = false;
  ValueChecks values;

  Request& set(Field f, at::Tensor t) {
    fields[f] = std::move(t);
    return *this;
  }
  Request& with_tokens(at::Tensor t) {
    tokens = std::move(t);
    return *this;
  }
  Request& with_doc_ids(at::Tensor t) {
    doc_ids = std::move(t);
    return *this;
  }
  Request& with_kv(KvCacheState state) {
    kv = state;
    return *this;
  }
  Request& with_kv_unknown() {
    kv_given = true;
    return *this;
  }
  Request& check_values() {
    values.token_ids_range = true;
    values.modality_ids_range = true;
    return *this;
  }
  Status run(const ModelSpec& m) const {
    const ModalityContext ctx(fields);
    ModelForward f;
    if (tokens.defined()) f.tokens = &tokens;
    if (doc_ids.defined()) f.doc_ids = &doc_ids;
    f.kv_cache = kv;
    f.has_kv_caches = kv_given;
    return modctx::validate_model(&ctx, m, f, values);
  }
};

// A MoT request: prefix (2, n, 8), tokens (2, t), modality_ids (2, n + t).
Request mot(int64_t n, int64_t t) {
  return Request{}
      .set(Field::prefix_embeds, meta({2, n, 8}))
      .set(Field::modality_ids, meta({2, n + t}, at::kLong))
      .with_tokens(meta({2, t}, at::kLong));
}

void expect(const Status& s, Code code, const std::string& message) {
  INFO("got: " << modctx::code_name(s.code) << " " << s.message);
  CHECK(s.code == code);
  CHECK(s.message == message);
}

}  // namespace

TEST_CASE("request: token ids are int64 or int32, as nn.Embedding takes them") {
  for (auto dtype : {at::kLong, at::kInt}) CHECK(Request{}.with_tokens(meta({2, 6}, dtype)).run(model(Arch::text)).ok());
  expect(Request{}.with_tokens(meta({2, 6}, at::kFloat)).run(model(Arch::text)), Code::dtype,
         "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.float32");
  expect(Request{}.with_tokens(meta({2, 6}, at::kByte)).run(model(Arch::text)), Code::dtype,
         "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.uint8");
  expect(Request{}.with_tokens(meta({2, 6}, at::kBool)).run(model(Arch::text)), Code::dtype,
         "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.bool");
  // After the reference's forward checks, before the residual's shapes.
  expect(Request{}.set(Field::inputs_embeds, meta({2, 6, 8})).with_tokens(meta({2, 6}, at::kFloat)).run(model(Arch::text)),
         Code::forward_inputs, "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
  expect(Request{}.with_tokens(meta({2, 6, 1}, at::kFloat)).run(model(Arch::text)), Code::dtype,
         "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.float32");
}

TEST_CASE("request: the RoPE budget, exactly max_seq_len admitted, one more refused") {
  CHECK(Request{}.with_tokens(meta({2, 16}, at::kLong)).run(model(Arch::text)).ok());
  expect(Request{}.with_tokens(meta({2, 17}, at::kLong)).run(model(Arch::text)), Code::length,
         "sequence of 17 positions exceeds the model's max_seq_len 16 (the length of its RoPE table)");
  // Joint-Decoder: the prefix counts.
  Request jd = Request{}.set(Field::prefix_embeds, meta({2, 4, 8})).with_tokens(meta({2, 12}, at::kLong));
  CHECK(jd.run(model(Arch::joint_decoder)).ok());
  expect(jd.with_tokens(meta({2, 13}, at::kLong)).run(model(Arch::joint_decoder)), Code::length,
         "sequence of 17 positions exceeds the model's max_seq_len 16 (the length of its RoPE table)");
  // inputs_embeds count the same way.
  CHECK(Request{}.set(Field::inputs_embeds, meta({1, 16, 8})).run(model(Arch::text)).ok());
  CHECK(Request{}.set(Field::inputs_embeds, meta({1, 17, 8})).run(model(Arch::text)).code == Code::length);
  // Without max_seq_len there is no budget to check.
  ModelSpec open = model(Arch::text);
  open.max_seq_len.reset();
  CHECK(Request{}.with_tokens(meta({2, 100000}, at::kLong)).run(open).ok());
}

TEST_CASE("request: with KV caches the budget starts at the caches' fill") {
  const ModelSpec m = model(Arch::text);
  CHECK(Request{}.with_tokens(meta({2, 6}, at::kLong)).with_kv({10, 32, 2}).run(m).ok());
  expect(Request{}.with_tokens(meta({2, 7}, at::kLong)).with_kv({10, 32, 2}).run(m), Code::length,
         "KV caches at position 10 plus 7 new positions exceed the model's max_seq_len 16 (the length of its RoPE "
         "table)");
  CHECK(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({15, 32, 2}).run(m).ok());
  CHECK(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({16, 32, 2}).run(m).code == Code::length);
  // Caches of unknown state: the new positions alone must fit.
  CHECK(Request{}.with_tokens(meta({2, 16}, at::kLong)).with_kv_unknown().run(m).ok());
  CHECK(Request{}.with_tokens(meta({2, 17}, at::kLong)).with_kv_unknown().run(m).code == Code::length);
}

TEST_CASE("request: MoT counts image and text positions apart") {
  ModelSpec m = model(Arch::mot, 8);
  m.num_image_tokens = 4;
  CHECK(mot(4, 8).run(m).ok());  // 12 positions in all, 4 + 8 by modality
  expect(mot(4, 9).run(m), Code::length,
         "MoT text stream of 9 positions exceeds the model's max_seq_len 8 (each modality counts its positions from 0)");
  m.num_image_tokens = 8;
  CHECK(mot(8, 8).run(m).ok());
  m.num_image_tokens = 9;
  expect(mot(9, 1).run(m), Code::length,
         "MoT image stream of 9 positions exceeds the model's max_seq_len 8 (each modality counts its positions from 0)");
  // A residual shorter than the model's image tokens cannot be split
  // (inputs_embeds carry no prefix to count).
  m.num_image_tokens = 4;
  const Request short_residual =
      Request{}.set(Field::inputs_embeds, meta({2, 3, 8})).set(Field::modality_ids, meta({2, 3}, at::kLong));
  expect(short_residual.run(m), Code::shape,
         "MoT splits the residual at 4 image tokens and needs at least one position in each stream, but the residual "
         "has 3 positions");
  // Each stream needs a position: no text at all cannot run either.
  expect(mot(4, 0).run(m), Code::shape,
         "MoT splits the residual at 4 image tokens and needs at least one position in each stream, but the residual "
         "has 4 positions");
  CHECK(mot(4, 1).run(m).ok());
  // Without the model's count, the prefix's length is the split; without a
  // prefix either, the split is unknown and only the shapes are checked.
  m.num_image_tokens.reset();
  CHECK(mot(5, 8).run(m).ok());
  CHECK(mot(5, 9).run(m).code == Code::length);
  CHECK(Request{}.set(Field::inputs_embeds, meta({2, 30, 8})).set(Field::modality_ids, meta({2, 30}, at::kLong)).run(m).ok());
  m.modality_names = {"image", "image"};
  expect(mot(5, 8).run(m), Code::shape,
         "MoTBlock.forward: streams keys ['image', 'text'] do not match construction-time modalities ['image', "
         "'image']");
  m.modality_names.clear();
  m.num_image_tokens = 4;
  // The model's image-token count is checked before the budget.
  expect(mot(5, 1).run(m), Code::shape,
         "modality.prefix_embeds has 5 image tokens, but the model's num_image_tokens is 4");
}

TEST_CASE("request: the KV caches' room and batch") {
  const ModelSpec m = model(Arch::text, 1024);
  CHECK(Request{}.with_tokens(meta({2, 5}, at::kLong)).with_kv({15, 20, 2}).run(m).ok());
  expect(Request{}.with_tokens(meta({2, 6}, at::kLong)).with_kv({15, 20, 2}).run(m), Code::kv_cache,
         "kv_caches hold 15 of 20 positions; 6 new positions do not fit");
  CHECK(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({19, 20, 2}).run(m).ok());
  expect(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({20, 20, 2}).run(m), Code::kv_cache,
         "kv_caches hold 20 of 20 positions; 1 new position does not fit");
  expect(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({15, 20, 4}).run(m), Code::kv_cache,
         "kv_caches have batch size 4, but tokens has batch size 2");
  expect(Request{}.set(Field::inputs_embeds, meta({3, 1, 8})).with_kv({15, 20, 4}).run(m), Code::kv_cache,
         "kv_caches have batch size 4, but modality.inputs_embeds has batch size 3");
  // A state that cannot exist is the caller's mistake.
  expect(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({-1, 20, 2}).run(m), Code::invalid_argument,
         "forward: kv_caches seq_len must be >= 0, got -1");
  expect(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({21, 20, 2}).run(m), Code::invalid_argument,
         "forward: kv_caches seq_len 21 is past its capacity 20");
  // The reference's training-only checks still come first.
  expect(Request{}.set(Field::prefix_embeds, meta({2, 4, 8})).with_tokens(meta({2, 1}, at::kLong)).with_kv({0, 20, 2}).run(m),
         Code::kv_cache, "modality.prefix_embeds is training-only; cannot be combined with kv_caches");
}

TEST_CASE("request: doc_ids and key_padding_mask are refused with KV caches (the reference's assert)") {
  const std::string assert_text =
      "doc_ids / key_padding_mask are not supported with kv_cache decode (would build an incorrect causal mask).";
  const ModelSpec m = model(Arch::text);
  expect(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_doc_ids(meta({2, 1}, at::kLong)).with_kv({3, 8, 2}).run(m),
         Code::kv_cache, assert_text);
  expect(Request{}
             .set(Field::inputs_embeds, meta({2, 1, 8}))
             .set(Field::key_padding_mask, meta({2, 1}, at::kBool))
             .with_kv_unknown()
             .run(m),
         Code::kv_cache, assert_text);
  CHECK(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_doc_ids(meta({2, 1}, at::kLong)).run(m).ok());
}

TEST_CASE("request: doc_ids span the residual, and MoT does not take them") {
  const Request jd = Request{}.set(Field::prefix_embeds, meta({2, 4, 8})).with_tokens(meta({2, 6}, at::kLong));
  CHECK(Request(jd).with_doc_ids(meta({2, 10}, at::kLong)).run(model(Arch::joint_decoder)).ok());
  expect(Request(jd).with_doc_ids(meta({2, 6}, at::kLong)).run(model(Arch::joint_decoder)), Code::shape,
         "doc_ids shape (2, 6) does not match residual shape (2, 10)");
  expect(Request(jd).with_doc_ids(meta({2, 1}, at::kLong)).run(model(Arch::joint_decoder)), Code::shape,
         "doc_ids shape (2, 1) does not match residual shape (2, 10)");
  expect(Request(jd).with_doc_ids(meta({10}, at::kLong)).run(model(Arch::joint_decoder)), Code::shape,
         "doc_ids shape (10,) does not match residual shape (2, 10)");
  ModelSpec m = model(Arch::mot);
  m.num_image_tokens = 4;
  expect(mot(4, 6).with_doc_ids(meta({2, 10}, at::kLong)).run(m), Code::unused_field,
         "doc_ids is not used by a mot model");
  CHECK(mot(4, 6).run(m).ok());
}

TEST_CASE("request: tokens and doc_ids share the fields' device") {
  const ModelSpec m = model(Arch::joint_decoder);
  expect(Request{}.set(Field::prefix_embeds, meta({2, 4, 8}, at::kFloat, kCuda0)).with_tokens(meta({2, 6}, at::kLong)).run(m),
         Code::device, "tokens is on cpu, but modality.prefix_embeds is on cuda:0");
  CHECK(Request{}
            .set(Field::prefix_embeds, meta({2, 4, 8}, at::kFloat, kCuda0))
            .with_tokens(meta({2, 6}, at::kLong, kCuda0))
            .run(m)
            .ok());
  expect(Request{}.with_tokens(meta({2, 6}, at::kLong, kCuda0)).with_doc_ids(meta({2, 6}, at::kLong)).run(m),
         Code::device, "doc_ids is on cpu, but tokens is on cuda:0");
}

TEST_CASE("request: token ids within [0, vocab_size), only when asked") {
  ModelSpec m = model(Arch::text);
  m.vocab_size = 100;
  CHECK(Request{}.with_tokens(ids({2, 6}, 0, 99)).check_values().run(m).ok());
  expect(Request{}.with_tokens(ids({2, 6}, 0, 100)).check_values().run(m), Code::value,
         "tokens values must be in [0, 100) (the model's vocab_size), found 100");
  expect(Request{}.with_tokens(ids({2, 6}, 5, -1)).check_values().run(m), Code::value,
         "tokens values must be in [0, 100) (the model's vocab_size), found -1");
  CHECK(Request{}.with_tokens(ids({2, 6}, 0, 100)).run(m).ok());  // not asked
  // int32 ids, and a strided view (a column-major batch).
  CHECK(Request{}.with_tokens(filled<int32_t>({1, 3}, at::kInt, {0, 99, 7})).check_values().run(m).ok());
  CHECK(Request{}.with_tokens(filled<int32_t>({1, 3}, at::kInt, {0, 100, 7})).check_values().run(m).code == Code::value);
  const at::Tensor column_major = ids({6, 2}, 3, 250);
  const at::Tensor view = modctx::make_tensor_view(column_major.data_ptr(), {2, 6}, {1, 2}, at::kLong, at::kCPU,
                                                   nullptr, nullptr);
  expect(Request{}.with_tokens(view).check_values().run(m), Code::value,
         "tokens values must be in [0, 100) (the model's vocab_size), found 250");
  // Without data the values cannot be read.
  expect(Request{}.with_tokens(meta({2, 6}, at::kLong)).check_values().run(m), Code::unsupported,
         "tokens holds no data (a metadata-only tensor); its values were not checked");
  // Without a vocab_size there is no range.
  m.vocab_size.reset();
  CHECK(Request{}.with_tokens(ids({2, 6}, 0, 100000)).check_values().run(m).ok());
}

TEST_CASE("request: token ids given as a shape only cannot be read") {
  ModelSpec m = model(Arch::text);
  m.vocab_size = 100;
  const int64_t shape[2] = {2, 6};
  ModelForward f;
  f.has_tokens = true;
  f.tokens_shape = shape;
  ValueChecks v;
  v.token_ids_range = true;
  expect(modctx::validate_model(nullptr, m, f, v), Code::unsupported,
         "tokens are given as a shape only; their values were not checked");
}

TEST_CASE("request: MoMa's own message for modality_ids out of range") {
  ModelSpec m = model(Arch::moma, 64);
  m.vocab_size = 100;
  std::vector<int64_t> tags(2 * 10, 1);
  tags[0] = 2;
  tags[7] = -1;
  const Request r = Request{}
                        .set(Field::prefix_embeds, meta({2, 4, 8}))
                        .set(Field::modality_ids, filled({2, 10}, at::kLong, tags))
                        .with_tokens(ids({2, 6}, 0, 5))
                        .check_values();
  expect(r.run(m), Code::value,
         "MoMaFFN.forward: modality_ids contains out-of-range values; 2 of 20 positions did not match any modality "
         "(allowed values: 0..1 for modalities ('image', 'text'))");
  m.num_modalities = 3;
  m.modality_names = {"image", "text", "audio"};
  expect(r.run(m), Code::value,
         "MoMaFFN.forward: modality_ids contains out-of-range values; 1 of 20 positions did not match any modality "
         "(allowed values: 0..2 for modalities ('image', 'text', 'audio'))");
  // Token ids are read first.
  m.vocab_size = 5;
  m.num_modalities = 2;
  m.modality_names.clear();
  expect(r.run(m), Code::value, "tokens values must be in [0, 5) (the model's vocab_size), found 5");
  // MoT keeps modctx's message.
  ModelSpec t = model(Arch::mot, 64);
  expect(Request(r).run(t), Code::value, "modality.modality_ids values must be in [0, 2), found -1");
}

TEST_CASE("request: MoT's blocks take exactly the image and text streams") {
  ModelSpec m = model(Arch::mot);
  m.num_image_tokens = 4;
  m.num_modalities = 2;
  m.modality_names = {"text", "image"};
  CHECK(mot(4, 6).run(m).ok());
  m.num_modalities = 3;
  m.modality_names = {"image", "text", "audio"};
  expect(mot(4, 6).run(m), Code::shape,
         "MoTBlock.forward: streams keys ['image', 'text'] do not match construction-time modalities ['audio', "
         "'image', 'text']");
}

TEST_CASE("request: a Cross-Attention model whose blocks never fire needs no image_features") {
  ModelSpec m = model(Arch::cross_attention);
  const Request text = Request{}.with_tokens(meta({2, 6}, at::kLong));
  CHECK(text.run(m).code == Code::missing_field);
  m.cross_attention_blocks = 1;
  CHECK(text.run(m).code == Code::missing_field);
  m.cross_attention_blocks = 0;
  CHECK(text.run(m).ok());
  // Decoding: image_features is training-only, so a model with blocks cannot decode.
  m.cross_attention_blocks = 8;
  CHECK(Request{}.with_tokens(meta({2, 1}, at::kLong)).with_kv({3, 8, 2}).run(m).code == Code::missing_field);
}

TEST_CASE("request: a model's config values must be possible") {
  auto bad = [](ModelSpec m, const std::string& message) {
    expect(Request{}.with_tokens(meta({2, 6}, at::kLong)).run(m), Code::invalid_argument, message);
  };
  ModelSpec m = model(Arch::text);
  m.vocab_size = 0;
  bad(m, "model: vocab_size must be > 0, got 0");
  m = model(Arch::text, -1);
  bad(m, "model: max_seq_len must be > 0, got -1");
  m = model(Arch::cross_attention);
  m.cross_attention_blocks = -2;
  bad(m, "model: cross_attention_blocks must be >= 0, got -2");
  m = model(Arch::moma);
  m.modality_names = {"image", "text", "audio"};
  bad(m, "model: 3 modality names for num_modalities 2");
}

TEST_CASE("status classes: the request's fault or the server's") {
  using modctx::StatusClass;
  const Code request[] = {Code::routes, Code::image_mask, Code::modality_ids, Code::key_padding_mask,
                          Code::forward_inputs, Code::kv_cache, Code::dtype, Code::shape, Code::device,
                          Code::missing_field, Code::slice, Code::unused_field, Code::value, Code::format,
                          Code::length};
  const Code server[] = {Code::invalid_argument, Code::unsupported, Code::out_of_memory, Code::internal, Code::io};
  CHECK(modctx::status_class(Code::ok) == StatusClass::ok);
  for (Code c : request) CHECK(modctx::status_class(c) == StatusClass::request);
  for (Code c : server) CHECK(modctx::status_class(c) == StatusClass::server);
  CHECK(std::size(request) + std::size(server) + 1 == 21);  // every code, once
  CHECK(modctx::status_class(static_cast<Code>(99)) == StatusClass::server);
  CHECK(std::string(modctx::code_name(Code::length)) == "MODCTX_ERR_LENGTH");
}

TEST_CASE("request: an empty batch or residual cannot be reshaped by attention") {
  const ModelSpec m = model(Arch::text);
  expect(Request{}.with_tokens(meta({0, 4}, at::kLong)).run(m), Code::shape,
         "tokens has batch size 0; the model needs at least 1");
  expect(Request{}.with_tokens(meta({1, 0}, at::kLong)).run(m), Code::shape,
         "the residual has 0 positions; the model needs at least 1");
  expect(Request{}.set(Field::inputs_embeds, meta({1, 0, 8})).run(m), Code::shape,
         "the residual has 0 positions; the model needs at least 1");
  // A prefix alone is a residual: Joint-Decoder runs with no text.
  CHECK(Request{}.set(Field::prefix_embeds, meta({1, 4, 8})).with_tokens(meta({1, 0}, at::kLong)).run(model(Arch::joint_decoder)).ok());
  CHECK(Request{}.with_tokens(meta({1, 1}, at::kLong)).run(m).ok());
}

TEST_CASE("request: checks meet problems in the order the reference's forward does") {
  // A (B, S) inputs_embeds reaches MoT's own check before the first block fails on it.
  expect(Request{}.set(Field::inputs_embeds, meta({2, 6})).run(model(Arch::mot)), Code::missing_field,
         "MoT model requires modality.modality_ids (got None). Build the ModalityContext via MoTStrategy or set "
         "modality_ids explicitly.");
  expect(Request{}.set(Field::inputs_embeds, meta({2, 6})).run(model(Arch::text)), Code::shape,
         "modality.inputs_embeds must have shape (B, S, D), got (2, 6)");
  expect(Request{}.set(Field::inputs_embeds, meta({6})).run(model(Arch::mot)), Code::shape,
         "modality.inputs_embeds must have shape (B, S, D), got (6,)");
  // The first block's attention asserts before a Cross-Attention block fires.
  expect(Request{}
             .set(Field::inputs_embeds, meta({2, 1, 8}))
             .set(Field::key_padding_mask, meta({2, 1}, at::kBool))
             .with_kv({3, 8, 2})
             .run(model(Arch::cross_attention)),
         Code::kv_cache,
         "doc_ids / key_padding_mask are not supported with kv_cache decode (would build an incorrect causal mask).");
  // The RoPE budget before the output slice (applied last).
  Request sliced = Request{}.set(Field::prefix_embeds, meta({1, 4, 8})).with_tokens(meta({1, 13}, at::kLong));
  sliced.fields.output_slice = Slice{0, std::nullopt, 0};
  CHECK(sliced.run(model(Arch::joint_decoder)).code == Code::length);
  sliced.with_tokens(meta({1, 12}, at::kLong));
  CHECK(sliced.run(model(Arch::joint_decoder)).code == Code::slice);
  // A field the architecture does not use is reported as such, whatever its token count.
  ModelSpec jd = model(Arch::joint_decoder);
  jd.num_image_tokens = 4;
  for (int64_t n : {4, 5})
    expect(Request{}.set(Field::image_features, meta({2, n, 8})).with_tokens(meta({2, 6}, at::kLong)).run(jd),
           Code::unused_field, "modality.image_features is not used by a joint_decoder model");
}

TEST_CASE("request: a token shape typed in must be a shape") {
  const ModalityContext jd(Request{}.set(Field::prefix_embeds, meta({2, 10, 8})).fields);
  auto run = [&](std::vector<int64_t> shape) {
    ModelForward f;
    f.has_tokens = true;
    f.tokens_shape = shape;
    return modctx::validate_model(&jd, model(Arch::joint_decoder), f);
  };
  expect(run({2, -5}), Code::shape, "tokens must have sizes >= 0, got (2, -5)");
  expect(run({-2, 5}), Code::shape, "tokens must have sizes >= 0, got (-2, 5)");
  expect(run({2, std::numeric_limits<int64_t>::max()}), Code::shape,
         "the residual's length overflows: 10 image tokens and 9223372036854775807 text tokens");
  CHECK(run({2, 6}).ok());
}
