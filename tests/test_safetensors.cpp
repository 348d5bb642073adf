// Contexts as safetensors files: round trips (every dtype, zero copy, the
// mapping's lifetime), the writer's exact layout, and hostile files, each
// with its exact error.
#include "catch_with_torch.hpp"

#include <ATen/ATen.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "helpers.hpp"
#include "modctx/safetensors.hpp"

using modctx::Code;
using modctx::ContextFields;
using modctx::Field;
using modctx::LoadedContext;
using modctx::ModalityContext;
using modctx::ForwardRecord;
using modctx::Slice;

namespace {

// A scratch folder, removed at exit of the test case.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/modctx-st-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The address ranges where `path` is mapped in this process.
std::vector<std::pair<uintptr_t, uintptr_t>> mappings_of(const std::string& path) {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto pos = line.find(path);
    if (pos == std::string::npos || pos + path.size() != line.size()) continue;
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &lo, &hi) == 2) out.emplace_back(lo, hi);
  }
  return out;
}

bool inside_mapping(const at::Tensor& t, const std::string& path) {
  const auto p = reinterpret_cast<uintptr_t>(t.data_ptr());
  for (const auto& [lo, hi] : mappings_of(path))
    if (p >= lo && p + t.nbytes() <= hi) return true;
  return false;
}

// A file from its parts: the 8-byte length (the header's own unless given),
// the header text, the data.
std::string file_of(const std::string& header, const std::string& data = "",
                    std::optional<uint64_t> length = std::nullopt) {
  const uint64_t n = length ? *length : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

LoadedContext load_bytes(const std::string& bytes) {
  return modctx::load_safetensors_from_memory(bytes.data(), bytes.size(), nullptr, "t.safetensors");
}

// "/0/0/...": the JSON pointer n levels down a nest of arrays.
std::string deep_pointer(int n) {
  std::string p;
  for (int i = 0; i < n; ++i) p += "/0";
  return p;
}

constexpr const char* kTooMany = "tensor \"inputs_embeds\" at /shape: the shape has more elements than a tensor can hold";

// Loading `bytes` fails with exactly this code and message (after "t.safetensors: ").
void expect_error(const std::string& bytes, Code code, const std::string& message) {
  INFO("expected: " << message);
  try {
    load_bytes(bytes);
    FAIL("loaded without error");
  } catch (const modctx::Error& e) {
    CHECK(std::string(e.what()) == "t.safetensors: " + message);
    CHECK(modctx::code_name(e.code()) == std::string(modctx::code_name(code)));
  }
}

// at::tensor has no bool overload in LibTorch 1.13.
at::Tensor bools(std::vector<uint8_t> values) { return at::tensor(values, at::kByte).to(at::kBool); }

at::Tensor sample(at::ScalarType dtype, std::vector<int64_t> shape = {2, 3, 4}) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  at::Tensor base = at::arange(n, at::kDouble).reshape(shape);
  if (dtype == at::kBool) return (base.remainder(3) == 0);
  if (dtype == at::kComplexFloat) return at::complex(base.to(at::kFloat), (-base).to(at::kFloat));
  return (base - 7).to(dtype);
}

const at::ScalarType kAllDtypes[] = {at::kDouble, at::kFloat, at::kHalf,  at::kBFloat16, at::kLong,         at::kInt,
                                     at::kShort,  at::kChar,  at::kByte,  at::kBool,     at::kComplexFloat};

const std::string kF32x2 = R"("dtype":"F32","shape":[2])";

// Forward arguments as shapes: the token ids' (none: no tokens) and whether
// KV caches are given.
ForwardRecord record(std::vector<int64_t> tokens, bool kv_caches) {
  ForwardRecord r;
  r.tokens = std::move(tokens);
  r.kv_caches = kv_caches;
  return r;
}

ForwardRecord record(std::nullopt_t, bool kv_caches) {
  ForwardRecord r;
  r.kv_caches = kv_caches;
  return r;
}

}  // namespace

TEST_CASE("safetensors: dtype names both ways", "[safetensors]") {
  const std::pair<const char*, at::ScalarType> names[] = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16},
      {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},    {"BOOL", at::kBool}, {"C64", at::kComplexFloat}};
  for (const auto& [name, type] : names) {
    CHECK(modctx::safetensors_dtype_name(type) == std::string(name));
    at::ScalarType parsed{};
    CHECK(modctx::parse_safetensors_dtype(name, &parsed));
    CHECK(parsed == type);
  }
  at::ScalarType parsed{};
  CHECK_FALSE(modctx::parse_safetensors_dtype("U16", &parsed));
  CHECK_FALSE(modctx::parse_safetensors_dtype("bool", &parsed));
  CHECK(modctx::safetensors_dtype_name(at::kComplexDouble) == nullptr);
}

TEST_CASE("safetensors: every dtype round-trips through a file, zero copy", "[safetensors]") {
  TempDir dir;
  for (at::ScalarType dtype : kAllDtypes) {
    INFO("dtype " << c10::toString(dtype));
    const std::string path = dir.file(std::string(c10::toString(dtype)) + ".safetensors");
    const at::Tensor values = sample(dtype);
    ContextFields f;
    f[Field::inputs_embeds] = values;
    modctx::save_safetensors(path, ModalityContext(f), std::nullopt);
    LoadedContext loaded = modctx::load_safetensors(path);
    const at::Tensor& t = loaded.fields[Field::inputs_embeds];
    REQUIRE(t.defined());
    CHECK(t.scalar_type() == dtype);
    CHECK(t.sizes() == values.sizes());
    CHECK(t.is_contiguous());
    CHECK(at::equal(t, values));
    CHECK(inside_mapping(t, path));
    CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % t.element_size() == 0);
    CHECK_FALSE(loaded.forward.has_value());
    CHECK_FALSE(loaded.fields.output_slice.has_value());
    for (int i = 0; i < modctx::kFieldCount; ++i)
      if (i != static_cast<int>(Field::inputs_embeds)) CHECK_FALSE(loaded.fields.tensors[i].defined());
  }
}

TEST_CASE("safetensors: a whole context with its metadata round-trips", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("mot.safetensors");
  ContextFields f;
  f[Field::prefix_embeds] = sample(at::kBFloat16, {2, 3, 4});
  f[Field::modality_ids] = at::cat({at::zeros({2, 3}, at::kLong), at::ones({2, 2}, at::kLong)}, 1);
  f[Field::key_padding_mask] = sample(at::kBool, {2, 5});
  f.output_slice = Slice{3, std::nullopt, std::nullopt};
  const ModalityContext ctx(f);

  const std::optional<ForwardRecord> forwards[] = {
      std::nullopt,
      record({2, 2}, false),
      record(std::nullopt, true),
      record(std::vector<int64_t>{}, true),
  };
  for (const auto& forward : forwards) {
    modctx::save_safetensors(path, ctx, forward);
    const LoadedContext loaded = modctx::load_safetensors(path);
    CHECK(loaded.forward == forward);
    CHECK(loaded.fields.output_slice == ctx.output_slice());
    for (int i = 0; i < modctx::kFieldCount; ++i) {
      const at::Tensor& a = ctx.fields().tensors[i];
      const at::Tensor& b = loaded.fields.tensors[i];
      REQUIRE(a.defined() == b.defined());
      if (a.defined()) CHECK(at::equal(a, b));
    }
    ModalityContext back;
    REQUIRE(ModalityContext::make(loaded.fields, &back).ok());
    CHECK(back.describe() == ctx.describe());
  }
  // Every slice shape.
  for (const Slice& s : {Slice{}, Slice{-5, 7, 2}, Slice{std::nullopt, INT64_MIN, INT64_MAX},
                         Slice{0, std::nullopt, -1}}) {
    modctx::save_safetensors(path, ModalityContext().replace_output_slice(s), std::nullopt);
    CHECK(modctx::load_safetensors(path).fields.output_slice == s);
  }
  // A context the construction checks refuse can come from another writer:
  // load returns the raw fields, make() reports the reference's message.
  const std::string routes = file_of(
      R"({"inputs_embeds":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("prefix_embeds":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      std::string(8, '\0'));
  ModalityContext out;
  const auto status = ModalityContext::make(load_bytes(routes).fields, &out);
  CHECK(status.code == Code::routes);
}

TEST_CASE("safetensors: forward arguments with their tensors round-trip, zero copy", "[safetensors]") {
  // No field has these names: the forward's tensors never clash with one (L7).
  Field field{};
  CHECK_FALSE(modctx::parse_field("tokens", &field));
  CHECK_FALSE(modctx::parse_field("doc_ids", &field));

  TempDir dir;
  const std::string path = dir.file("request.safetensors");
  ContextFields f;
  f[Field::inputs_embeds] = sample(at::kFloat, {2, 3, 4});
  const ModalityContext ctx(f);
  ForwardRecord forward;
  forward.tokens = std::vector<int64_t>{2, 2};
  forward.token_ids = at::tensor({5, 9, 0, 49}, at::kLong).reshape({2, 2});
  forward.doc_ids = at::tensor({0, 0, 1, 0, 1, 1}, at::kInt).reshape({2, 3});
  forward.kv_caches = true;
  forward.kv_cache = modctx::KvCacheState{37, 1024, 2};
  for (at::ScalarType dtype : {at::kLong, at::kInt, at::kFloat, at::kBool}) {
    INFO("token dtype " << c10::toString(dtype));
    forward.token_ids = forward.token_ids.to(dtype);
    modctx::save_safetensors(path, ctx, forward);
    const LoadedContext loaded = modctx::load_safetensors(path);
    REQUIRE(loaded.forward.has_value());
    CHECK(*loaded.forward == forward);
    CHECK(at::equal(loaded.forward->token_ids, forward.token_ids));
    CHECK(at::equal(loaded.forward->doc_ids, forward.doc_ids));
    CHECK(inside_mapping(loaded.forward->token_ids, path));
    CHECK(inside_mapping(loaded.forward->doc_ids, path));
    CHECK(at::equal(loaded.fields[Field::inputs_embeds], f[Field::inputs_embeds]));
  }
  // The KV caches' state alone, and the shape alone: no tensor is written.
  ForwardRecord state = record({1, 1}, true);
  state.kv_cache = modctx::KvCacheState{3, 8, 1};
  const std::string bytes = modctx::safetensors_bytes(ModalityContext(), state);
  CHECK(bytes.find(R"("modctx.forward":"{\"tokens\": [1, 1], \"kv_caches\": {\"seq_len\": 3, \"capacity\": 8, )"
                   R"(\"batch\": 1}}"})") != std::string::npos);
  const LoadedContext back = load_bytes(bytes);
  REQUIRE(back.forward.has_value());
  CHECK(*back.forward == state);
  CHECK_FALSE(back.forward->token_ids.defined());
  CHECK_FALSE(back.forward->doc_ids.defined());

  // From memory: views of the caller's bytes, like the fields.
  forward.token_ids = forward.token_ids.to(at::kLong);
  const std::string request = modctx::safetensors_bytes(ctx, forward);
  CHECK(request.find(R"("tokens":{"dtype":"I64","shape":[2,2],"data_offsets":)") != std::string::npos);
  CHECK(request.find(R"("doc_ids":{"dtype":"I32","shape":[2,3],"data_offsets":)") != std::string::npos);
  const LoadedContext mem = load_bytes(request);
  const auto* p = static_cast<const char*>(mem.forward->token_ids.data_ptr());
  CHECK((p >= request.data() && p + 32 <= request.data() + request.size()));
  CHECK(at::equal(mem.forward->token_ids, forward.token_ids));
}

TEST_CASE("safetensors: forward tensors the writer refuses", "[safetensors]") {
  auto error_of = [](const ForwardRecord& forward) {
    try {
      modctx::safetensors_bytes(ModalityContext(), forward);
    } catch (const modctx::Error& e) {
      return std::string(modctx::code_name(e.code())) + ": " + e.what();
    }
    return std::string("(saved)");
  };
  ForwardRecord forward = record({1, 2}, false);
  forward.token_ids = modctx::make_metadata_tensor({1, 2}, at::kLong, at::Device(at::kCPU));
  CHECK(error_of(forward) ==
        "MODCTX_ERR_UNSUPPORTED: save_safetensors: tokens has no data (a tensor that only describes a shape)");
  forward.token_ids = at::zeros({1, 3}, at::kLong);
  CHECK(error_of(forward) == "MODCTX_ERR_INVALID_ARGUMENT: save_safetensors: the forward token_ids of shape [1, 3] "
                             "do not match its tokens shape [1, 2]");
  forward.tokens.reset();
  CHECK(error_of(forward) == "MODCTX_ERR_INVALID_ARGUMENT: save_safetensors: the forward token_ids of shape [1, 3] "
                             "do not match its tokens shape null");
  forward = record({1, 2}, false);
  forward.doc_ids = modctx::make_metadata_tensor({1, 2}, at::kLong, at::Device(at::kCUDA, 0));
  CHECK(error_of(forward) == "MODCTX_ERR_UNSUPPORTED: save_safetensors: doc_ids is on cuda:0; only CPU tensors can be saved");
  forward.doc_ids = at::zeros({1, 2}, at::kComplexDouble);
  CHECK(error_of(forward) ==
        "MODCTX_ERR_UNSUPPORTED: save_safetensors: doc_ids has dtype ComplexDouble, which safetensors cannot name");
}

TEST_CASE("safetensors: hostile forward arguments, each with its exact error", "[safetensors]") {
  const Code F = Code::format;
  const std::string e8(8, '\0');
  const std::string tokens1 = R"("tokens":{"dtype":"I64","shape":[1],"data_offsets":[0,8]})";
  // L14: the forward's tensors belong to a "modctx.forward".
  expect_error(file_of("{" + tokens1 + "}", e8), F,
               "tensor \"tokens\" is a forward argument, but the file has no modctx.forward (the forward arguments it "
               "belongs to)");
  expect_error(file_of(R"({"doc_ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", e8), F,
               "tensor \"doc_ids\" is a forward argument, but the file has no modctx.forward (the forward arguments it "
               "belongs to)");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": [2]}"},)" + tokens1 + "}", e8), F,
               "tensor \"tokens\" has shape [1], but modctx.forward gives tokens [2]");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": null}"},)" + tokens1 + "}", e8), F,
               "tensor \"tokens\" has shape [1], but modctx.forward gives tokens null");
  // L13 for the forward's tensors too.
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{}"},)"
                       R"("doc_ids":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\1\3", 2)), F,
               "tensor \"doc_ids\": BOOL byte 1 is 3 (expected 0 or 1)");
  // L8 to L12 apply to them as to the fields.
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": [2]}"},)"
                       R"("tokens":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}})", e8), F,
               "tensor \"tokens\": data_offsets [0, 8] hold 8 bytes, but shape [2] of I64 needs 16");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": [1]}"},)" + tokens1 +
                       R"(,"doc_ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", e8), F,
               "tensors \"doc_ids\" [0, 8] and \"tokens\" [0, 8] overlap");
  // L6: the metadata holds shapes and the KV caches' state, not tensors.
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"doc_ids\": null}"}})"), F,
               "__metadata__ \"modctx.forward\" at /doc_ids: unknown key \"doc_ids\" (expected one of: tokens, kv_caches)");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": {\"shape\": [1], \"dtype\": \"int64\"}}"}})"),
               F, "__metadata__ \"modctx.forward\" at /tokens: expected a shape (an array of sizes), found an object");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"kv_caches\": {\"seq_len\": 1, \"batch\": 1}}"}})"), F,
               "__metadata__ \"modctx.forward\" at /kv_caches/capacity: missing key \"capacity\"");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"kv_caches\": {\"seq_len\": 1, \"capacity\": -2, )"
                       R"(\"batch\": 1}}"}})"), F,
               "__metadata__ \"modctx.forward\" at /kv_caches/capacity: expected an integer >= 0, found -2");
  // A file with the tensors as modctx writes them loads; "__" entries stay ignored.
  const LoadedContext ok = load_bytes(file_of(
      R"({"__metadata__":{"modctx.forward":"{\"tokens\": [1], \"kv_caches\": {\"seq_len\": 0, \"capacity\": 4, )"
      R"(\"batch\": 1}}"},)" + tokens1 + R"(,"__tokens":{"dtype":"I64","shape":[0],"data_offsets":[8,8]}})", e8));
  REQUIRE(ok.forward.has_value());
  CHECK(ok.forward->token_ids.sizes() == at::IntArrayRef({1}));
  CHECK(ok.forward->kv_caches);
  CHECK(ok.forward->kv_cache == modctx::KvCacheState{0, 4, 1});
}

TEST_CASE("safetensors: the writer's exact bytes", "[safetensors]") {
  ContextFields f;
  f[Field::inputs_embeds] = at::tensor({1.0f, -2.0f});
  f[Field::key_padding_mask] = bools({1, 0, 1});
  f.output_slice = Slice{576, std::nullopt, std::nullopt};
  const std::string bytes =
      modctx::safetensors_bytes(ModalityContext(f), record({2, 24}, false));
  std::string header =
      R"({"__metadata__":{"modctx.format":"1","modctx.output_slice":"[576, null, null]",)"
      R"("modctx.forward":"{\"tokens\": [2, 24], \"kv_caches\": false}"},)"
      R"("inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("key_padding_mask":{"dtype":"BOOL","shape":[3],"data_offsets":[8,11]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const float data[2] = {1.0f, -2.0f};
  const std::string expected =
      file_of(header, std::string(reinterpret_cast<const char*>(data), 8) + std::string("\1\0\1", 3));
  CHECK(bytes == expected);
  CHECK((bytes.size() - 11) % 8 == 0);

  // The same bytes through a file; no temporary file left behind.
  TempDir dir;
  const std::string path = dir.file("ctx.safetensors");
  write_all(path, "old contents");
  modctx::save_safetensors(path, ModalityContext(f), record({2, 24}, false));
  CHECK(read_all(path) == expected);
  CHECK(std::system(("test $(ls -A '" + dir.path + "' | wc -l) -eq 1").c_str()) == 0);

  // The empty context: metadata only, an empty data buffer.
  const std::string empty = modctx::safetensors_bytes(ModalityContext(), std::nullopt);
  CHECK(empty.substr(8) == R"({"__metadata__":{"modctx.format":"1"}}  )");
  const LoadedContext loaded = load_bytes(empty);
  for (const auto& t : loaded.fields.tensors) CHECK_FALSE(t.defined());
}

TEST_CASE("safetensors: layout, non-contiguous, empty and scalar tensors", "[safetensors]") {
  ContextFields f;
  f[Field::image_features] = at::arange(24, at::kFloat).reshape({4, 6}).t();  // not contiguous
  f[Field::image_mask] = at::ones({3}, at::kBool);
  ModalityContext ctx(f);
  std::string bytes = modctx::safetensors_bytes(ctx, std::nullopt);
  LoadedContext loaded = load_bytes(bytes);
  CHECK(at::equal(loaded.fields[Field::image_features], f[Field::image_features]));
  CHECK(loaded.fields[Field::image_features].is_contiguous());
  // Zero copy from memory: the tensor points into the caller's bytes.
  const char* base = bytes.data();
  const auto p = static_cast<const char*>(loaded.fields[Field::image_features].data_ptr());
  CHECK(p >= base);
  CHECK(p < base + bytes.size());

  ContextFields g;
  g[Field::inputs_embeds] = at::empty({2, 0, 4}, at::kHalf);
  g[Field::key_padding_mask] = bools({1}).reshape({});
  bytes = modctx::safetensors_bytes(ModalityContext(g), std::nullopt);
  loaded = load_bytes(bytes);
  CHECK(loaded.fields[Field::inputs_embeds].sizes() == at::IntArrayRef({2, 0, 4}));
  CHECK(loaded.fields[Field::inputs_embeds].scalar_type() == at::kHalf);
  CHECK(loaded.fields[Field::key_padding_mask].dim() == 0);
  CHECK(loaded.fields[Field::key_padding_mask].item<bool>());

  // A view into a bigger storage is written as its own elements only.
  ContextFields h;
  h[Field::inputs_embeds] = at::arange(100, at::kLong).slice(0, 10, 20);
  loaded = load_bytes(modctx::safetensors_bytes(ModalityContext(h), std::nullopt));
  CHECK(at::equal(loaded.fields[Field::inputs_embeds], at::arange(10, 20, at::kLong)));
}

TEST_CASE("safetensors: conjugate and negative views are written as their values", "[safetensors]") {
  const at::Tensor z = at::complex(at::arange(6, at::kFloat), at::arange(6, at::kFloat) - 2).reshape({2, 3});
  ContextFields f, g;
  f[Field::image_features] = z.conj().t();  // lazy conjugate bit and a transpose
  g[Field::inputs_embeds] = at::_neg_view(at::arange(6, at::kDouble)).reshape({1, 2, 3});  // negative bit
  REQUIRE(f[Field::image_features].is_conj());
  REQUIRE(g[Field::inputs_embeds].is_neg());
  LoadedContext loaded = load_bytes(modctx::safetensors_bytes(ModalityContext(f), std::nullopt));
  CHECK(at::equal(loaded.fields[Field::image_features], f[Field::image_features].resolve_conj().contiguous()));
  CHECK_FALSE(loaded.fields[Field::image_features].is_conj());
  loaded = load_bytes(modctx::safetensors_bytes(ModalityContext(g), std::nullopt));
  CHECK(at::equal(loaded.fields[Field::inputs_embeds], -at::arange(6, at::kDouble).reshape({1, 2, 3})));
}

TEST_CASE("safetensors: the mapping lives as long as a tensor does", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  ContextFields f;
  f[Field::inputs_embeds] = sample(at::kFloat, {64, 64});
  modctx::save_safetensors(path, ModalityContext(f), std::nullopt);
  at::Tensor kept;
  {
    LoadedContext loaded = modctx::load_safetensors(path);
    kept = loaded.fields[Field::inputs_embeds];
    CHECK(!mappings_of(path).empty());
  }
  // The loader's result is gone; the tensor keeps the mapping.
  CHECK(!mappings_of(path).empty());
  CHECK(inside_mapping(kept, path));
  REQUIRE(::unlink(path.c_str()) == 0);  // even the file's name may go
  CHECK(at::equal(kept, f[Field::inputs_embeds]));
  at::Tensor view = kept.slice(0, 1, 3);
  kept = at::Tensor();
  CHECK(at::equal(view, f[Field::inputs_embeds].slice(0, 1, 3)));
  view = at::Tensor();
  CHECK(mappings_of(path).empty());
  CHECK(mappings_of(path + " (deleted)").empty());
}

TEST_CASE("safetensors: writing to a loaded tensor changes neither the file nor other loads", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("cow.safetensors");
  ContextFields f;
  f[Field::inputs_embeds] = sample(at::kFloat, {4});
  modctx::save_safetensors(path, ModalityContext(f), std::nullopt);
  const std::string before = read_all(path);
  LoadedContext a = modctx::load_safetensors(path);
  a.fields[Field::inputs_embeds].add_(1);
  CHECK(at::equal(a.fields[Field::inputs_embeds], f[Field::inputs_embeds] + 1));
  CHECK(read_all(path) == before);
  CHECK(at::equal(modctx::load_safetensors(path).fields[Field::inputs_embeds], f[Field::inputs_embeds]));
}

TEST_CASE("safetensors: files from other writers", "[safetensors]") {
  // No modctx metadata, other metadata, keys in any order, space padding,
  // an ignored "__" tensor, a hole, trailing bytes.
  const float values[2] = {1.5f, 2.5f};
  std::string data(reinterpret_cast<const char*>(values), 8);
  data += std::string("\0\1\0\1\xAA\xBB", 6);
  const std::string header =
      R"({"image_mask":{"shape":[4],"data_offsets":[8,12],"dtype":"BOOL"}, "__metadata__":{"format":"pt"},)"
      R"( "image_features":{"data_offsets":[0,8],"dtype":"F32","shape":[1,2]},)"
      R"("__extra__":{"dtype":"U8","shape":[1],"data_offsets":[13,14]}}      )";
  const LoadedContext loaded = load_bytes(file_of(header, data));
  CHECK_FALSE(loaded.forward.has_value());
  CHECK_FALSE(loaded.fields.output_slice.has_value());
  CHECK(at::equal(loaded.fields[Field::image_features], at::tensor({1.5f, 2.5f}).reshape({1, 2})));
  CHECK(at::equal(loaded.fields[Field::image_mask], bools({0, 1, 0, 1})));
  int defined = 0;
  for (const auto& t : loaded.fields.tensors) defined += t.defined();
  CHECK(defined == 2);

  // Misaligned tensors (BOOL first, then F32 at offset 3) are copied.
  std::string odd = std::string("\1\0\1", 3) + std::string(reinterpret_cast<const char*>(values), 8);
  const std::string odd_file = file_of(
      R"({"image_mask":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},)"
      R"("image_features":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}})",
      odd);
  const LoadedContext copied = load_bytes(odd_file);
  const at::Tensor& t = copied.fields[Field::image_features];
  CHECK(at::equal(t, at::tensor({1.5f, 2.5f})));
  CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % 4 == 0);
}

TEST_CASE("safetensors: save refuses what it cannot write", "[safetensors]") {
  auto expect_save_error = [](const ModalityContext& ctx, Code code, const std::string& message) {
    try {
      (void)modctx::safetensors_bytes(ctx, std::nullopt);
      FAIL("saved without error");
    } catch (const modctx::Error& e) {
      CHECK(std::string(e.what()) == message);
      CHECK(e.code() == code);
    }
  };
  ContextFields f;
  f[Field::prefix_embeds] = test::meta({2, 3}, at::kBFloat16, at::Device("cuda:0"));
  expect_save_error(ModalityContext(f), Code::unsupported,
                    "save_safetensors: prefix_embeds is on cuda:0; only CPU tensors can be saved");
  f[Field::prefix_embeds] = test::meta({2, 3});
  expect_save_error(ModalityContext(f), Code::unsupported,
                    "save_safetensors: prefix_embeds has no data (a tensor that only describes a shape)");
  f[Field::prefix_embeds] = at::zeros({2}, at::kComplexDouble);
  expect_save_error(ModalityContext(f), Code::unsupported,
                    "save_safetensors: prefix_embeds has dtype ComplexDouble, which safetensors cannot name");
  f[Field::prefix_embeds] = at::zeros(std::vector<int64_t>(33, 1));
  expect_save_error(ModalityContext(f), Code::unsupported,
                    "save_safetensors: prefix_embeds has 33 dimensions (at most 32)");
  // A metadata-only tensor with no elements has nothing to read: fine.
  f[Field::prefix_embeds] = test::meta({2, 0, 3});
  CHECK(load_bytes(modctx::safetensors_bytes(ModalityContext(f), std::nullopt)).fields[Field::prefix_embeds].numel() == 0);

  try {
    modctx::save_safetensors("/nonexistent-modctx-dir/ctx.safetensors", ModalityContext(), std::nullopt);
    FAIL("saved without error");
  } catch (const modctx::Error& e) {
    CHECK(e.code() == Code::io);
    CHECK_THAT(e.what(), Catch::StartsWith("/nonexistent-modctx-dir/ctx.safetensors: cannot create "));
    CHECK_THAT(e.what(), Catch::EndsWith(": No such file or directory"));
  }
}

TEST_CASE("safetensors: unreadable paths", "[safetensors]") {
  TempDir dir;
  auto expect = [](const std::string& path, const std::string& message, Code code = Code::format) {
    try {
      modctx::load_safetensors(path);
      FAIL("loaded without error");
    } catch (const modctx::Error& e) {
      CHECK(e.code() == code);
      CHECK(std::string(e.what()) == message);
    }
  };
  expect(dir.file("missing.safetensors"), dir.file("missing.safetensors") + ": cannot open: No such file or directory",
         Code::io);
  expect(dir.path, dir.path + ": not a regular file");
  write_all(dir.file("empty"), "");
  expect(dir.file("empty"),
         dir.file("empty") + ": file too short: 0 bytes (a safetensors file starts with an 8-byte header length)");
  write_all(dir.file("seven"), std::string("\2\0\0\0\0\0\0", 7));
  expect(dir.file("seven"),
         dir.file("seven") + ": file too short: 7 bytes (a safetensors file starts with an 8-byte header length)");
  write_all(dir.file("lying"), file_of("{}", "", 1000));
  expect(dir.file("lying"), dir.file("lying") + ": header length 1000 exceeds the file (2 bytes after the 8-byte length)");
}

TEST_CASE("safetensors: hostile files, each with its exact error", "[safetensors]") {
  const Code F = Code::format;
  const std::string e8(8, '\0');

  // Lengths.
  expect_error("", F, "file too short: 0 bytes (a safetensors file starts with an 8-byte header length)");
  expect_error(std::string(7, '\0'), F, "file too short: 7 bytes (a safetensors file starts with an 8-byte header length)");
  expect_error(file_of("{}", "", 100), F, "header length 100 exceeds the file (2 bytes after the 8-byte length)");
  expect_error(file_of("{}", "", 9223372036854775808ull), F,
               "header length 9223372036854775808 exceeds the limit of 100000000 bytes");
  expect_error(file_of("{}", "", UINT64_MAX), F,
               "header length 18446744073709551615 exceeds the limit of 100000000 bytes");
  expect_error(file_of("{}", "", 100'000'001), F, "header length 100000001 exceeds the limit of 100000000 bytes");
  expect_error(file_of("", ""), F, "header: malformed JSON: parse error at line 1, column 1: syntax error while parsing value - unexpected end "
               "of input; expected '[', '{', or a literal");
  // A header length shorter than the header: the JSON is cut.
  expect_error(file_of(R"({"inputs_embeds":{)", "", 5), F,
               "header: malformed JSON: parse error at line 1, column 6: syntax error while parsing object key - invalid "
               "string: missing closing quote; last read: '\"inp'; expected string literal");
  // A header length longer than the header: data bytes become JSON.
  expect_error(file_of(R"({"__metadata__":{}})", "\x01\x02\x03\x04", 23), F,
               "header: malformed JSON: parse error at line 1, column 20: syntax error while parsing value - invalid literal; "
               "last read: '\"__metadata__\":{}}<U+0001>'; expected end of input");

  // JSON.
  expect_error(file_of("[]"), F, "header: expected a JSON object, found an array");
  expect_error(file_of("null"), F, "header: expected a JSON object, found null");
  expect_error(file_of("\"{}\""), F, "header: expected a JSON object, found a string");
  expect_error(file_of("{} x"), F, "header: malformed JSON: parse error at line 1, column 4: syntax error while parsing value - invalid literal; "
               "last read: '{} x'; expected end of input");
  expect_error(file_of(std::string("{}\0\0", 4)), F,
               "header: a NUL byte at offset 2 (JSON has none)");
  expect_error(file_of("{\"\xff\": 1}"), F,
               "header: malformed JSON: parse error at line 1, column 3: syntax error while parsing object key - invalid "
               "string: ill-formed UTF-8 byte; last read: '\"\\xff'; expected string literal");
  expect_error(file_of("{\"a\xc3\": 1}"), F,
               "header: malformed JSON: parse error at line 1, column 5: syntax error while parsing object key - invalid "
               "string: ill-formed UTF-8 byte; last read: '\"a\\xc3\"'; expected string literal");
  expect_error(file_of(R"({"__metadata__":{},"__metadata__":{}})"), F, "header at /__metadata__: duplicate key \"__metadata__\" (a key may appear once in an object)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","dtype":"F32","shape":[],"data_offsets":[0,4]}})", e8), F,
               "header at /inputs_embeds/dtype: duplicate key \"dtype\" (a key may appear once in an object)");
  expect_error(file_of(R"({"__metadata__":{"a":"1","a":"2"}})"), F, "header at /__metadata__/a: duplicate key \"a\" (a key may appear once in an object)");
  expect_error(file_of("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"), F,
               "header at /a" + deep_pointer(31) + ": JSON nested deeper than 32 levels");
  expect_error(file_of(std::string(1000000, '[')), F, "header at " + deep_pointer(32) + ": JSON nested deeper than 32 levels");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[1],"data_offsets":[0,1e400]}})", e8), F,
               "header: malformed JSON: number overflow parsing '1e400'");

  // Metadata.
  expect_error(file_of(R"({"__metadata__":[]})"), F, "__metadata__: expected an object, found an array");
  expect_error(file_of(R"({"__metadata__":{"format":1}})"), F, "__metadata__ \"format\": expected a string, found an integer");
  expect_error(file_of(R"({"__metadata__":{"x":null}})"), F, "__metadata__ \"x\": expected a string, found null");
  expect_error(file_of(R"({"__metadata__":{"modctx.format":"2"}})"), Code::unsupported,
               "__metadata__ \"modctx.format\" is \"2\" (this modctx reads format \"1\")");
  expect_error(file_of(R"({"__metadata__":{"modctx.slice":"[1, 2, 3]"}})"), F,
               "__metadata__: unknown key \"modctx.slice\" (modctx writes modctx.format, modctx.output_slice, modctx.forward)");
  expect_error(file_of(R"({"__metadata__":{"modctx.output_slice":"[1, 2]"}})"), F,
               "__metadata__ \"modctx.output_slice\": expected [start, stop, step] (each an integer or null) or null, found an array");
  expect_error(file_of(R"({"__metadata__":{"modctx.output_slice":"[1.5, null, null]"}})"), F,
               "__metadata__ \"modctx.output_slice\" at /0: expected an integer (int64) or null, found 1.5");
  expect_error(file_of(R"({"__metadata__":{"modctx.output_slice":"[null, 9223372036854775808, null]"}})"), F,
               "__metadata__ \"modctx.output_slice\" at /1: expected an integer (int64) or null, found 9223372036854775808");
  expect_error(file_of(R"({"__metadata__":{"modctx.output_slice":"[1, 2, 3]\u0000x"}})"), F,
               "__metadata__ \"modctx.output_slice\": a NUL byte at offset 9 (JSON has none)");
  expect_error(file_of(R"J({"__metadata__":{"modctx.output_slice":"slice(1)"}})J"), F,
               "__metadata__ \"modctx.output_slice\": malformed JSON: parse error at line 1, column 1: syntax error while "
               "parsing value - invalid literal; last read: 's'");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": [-1]}"}})"), F,
               "__metadata__ \"modctx.forward\" at /tokens/0: expected a size (an integer >= 0), found -1");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"kv_caches\": \"yes\"}"}})"), F,
               "__metadata__ \"modctx.forward\" at /kv_caches: expected true, false or {\"seq_len\", \"capacity\", \"batch\"}, "
               "found \"yes\"");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": null, \"caches\": true}"}})"), F,
               "__metadata__ \"modctx.forward\" at /caches: unknown key \"caches\" (expected one of: tokens, kv_caches)");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"[]"}})"), F,
               "__metadata__ \"modctx.forward\": expected an object, found an array");
  expect_error(file_of(R"({"__metadata__":{"modctx.forward":"{\"tokens\": [1], \"tokens\": [2]}"}})"), F,
               "__metadata__ \"modctx.forward\" at /tokens: duplicate key \"tokens\" (a key may appear once in an object)");

  // Tensor names and entries.
  expect_error(file_of(R"({"weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", e8), F,
               "tensor \"weight\" is not a context field (expected one of: inputs_embeds, prefix_embeds, image_features, "
               "image_mask, modality_ids, key_padding_mask; the forward arguments tokens, doc_ids; "
               "names starting with \"__\" are ignored)");
  expect_error(file_of("{\"" + std::string(200, 'x') + "\":{}}"), F,
               "tensor \"" + std::string(64, 'x') + "\"... is not a context field (expected one of: inputs_embeds, "
               "prefix_embeds, image_features, image_mask, modality_ids, key_padding_mask; the forward arguments tokens, doc_ids; "
               "names starting with \"__\" are ignored)");
  expect_error(file_of("{\"a\\nb\\u00e9\":{}}"), F,
               "tensor \"a\\nb\\u00e9\" is not a context field (expected one of: inputs_embeds, prefix_embeds, "
               "image_features, image_mask, modality_ids, key_padding_mask; the forward arguments tokens, doc_ids; "
               "names starting with \"__\" are ignored)");
  expect_error(file_of(R"({"inputs_embeds":5})"), F,
               "tensor \"inputs_embeds\": expected an object with dtype, shape and data_offsets, found an integer");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2]}})"), F, "tensor \"inputs_embeds\": missing \"data_offsets\"");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1]}})", e8), F,
               "tensor \"inputs_embeds\" at /strides: unknown key \"strides\" (expected one of: dtype, shape, data_offsets)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\": unknown dtype \"F33\" (expected F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL or C64)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"bool","shape":[2],"data_offsets":[0,2]}})", e8), F,
               "tensor \"inputs_embeds\": unknown dtype \"bool\" (expected F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL or C64)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\": dtype is 4 (expected a string such as \"F32\")");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})", e8), Code::unsupported,
               "tensor \"inputs_embeds\": dtype U16 has no LibTorch 1.13 type");
  expect_error(file_of(R"({"__x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", e8), Code::unsupported,
               "tensor \"__x\": dtype F8_E4M3 has no LibTorch 1.13 type");

  // Shapes.
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\" at /shape: expected a shape (an array of sizes), found an integer");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\" at /shape/0: expected a size (an integer >= 0), found -1");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[1,1.5],"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\" at /shape/1: expected a size (an integer >= 0), found 1.5");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\" at /shape/0: expected a size (an integer >= 0), found 18446744073709551615");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", e8), F,
               kTooMany);
  // Zero elements, but LibTorch's strides would overflow.
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})"), F,
               kTooMany);
  // The byte count would wrap to 8 in 64 bits: 2^62 + 2 elements of F32.
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[4611686018427387906],"data_offsets":[0,8]}})", e8), F,
               kTooMany);
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[4294967296,4294967296,")" + std::string(100000, 'x') +
                       R"("],"data_offsets":[0,8]}})", e8), F,
               kTooMany);
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[[[0]],")" + std::string(100000, 'x') +
                       R"("]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [an array, \"" + std::string(64, 'x') +
                   "\"...] must be two non-negative integers");
  std::string many = "[";
  for (int i = 0; i < 33; ++i) many += i ? ",1" : "1";
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":)" + many + R"(],"data_offsets":[0,4]}})", e8), F,
               "tensor \"inputs_embeds\" at /shape: a shape has at most 32 dimensions, found 33");

  // Offsets.
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets must be [begin, end], found an array");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":{"begin":0}}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets must be [begin, end], found an object");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [-8, 0] must be two non-negative integers");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [0, \"8\"] must be two non-negative integers");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [8, 0] are reversed (begin > end)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [8, 16] lie outside the data buffer (8 bytes)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [18446744073709551608, 18446744073709551615] lie outside the data buffer (8 bytes)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[0],"data_offsets":[9,9]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [9, 9] lie outside the data buffer (8 bytes)");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]}})", e8), F,
               "tensor \"inputs_embeds\": data_offsets [0, 4] hold 4 bytes, but shape [2, 2] of BF16 needs 8");
  expect_error(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("key_padding_mask":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", e8), Code::format,
               "tensors \"inputs_embeds\" [0, 8] and \"key_padding_mask\" [4, 8] overlap");
  expect_error(file_of(R"({"image_features":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                       R"("__alias":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", e8), F,
               "tensors \"__alias\" [0, 8] and \"image_features\" [0, 8] overlap");
  // Empty tensors share no byte: no overlap.
  CHECK(load_bytes(file_of(R"({"inputs_embeds":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("image_features":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})", e8))
            .fields[Field::image_features].numel() == 0);

  // Values: a BOOL mask holds 0 and 1 only.
  expect_error(file_of(R"({"image_mask":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}})", std::string("\1\0\2\1", 4)), F,
               "tensor \"image_mask\": BOOL byte 2 is 2 (expected 0 or 1)");
}

TEST_CASE("safetensors: every truncation and every header byte flip fails cleanly", "[safetensors]") {
  ContextFields f;
  f[Field::prefix_embeds] = sample(at::kBFloat16, {2, 3, 4});
  f[Field::modality_ids] = at::zeros({2, 5}, at::kLong);
  f[Field::key_padding_mask] = at::ones({2, 5}, at::kBool);
  f.output_slice = Slice{3, std::nullopt, std::nullopt};
  const std::string good =
      modctx::safetensors_bytes(ModalityContext(f), record({2, 2}, false));
  REQUIRE_NOTHROW(load_bytes(good));
  // Every proper prefix is refused with a format error; copies on the heap
  // of exactly that size, so that ASan sees any read past the end.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<char> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    INFO("prefix of " << n << " bytes");
    try {
      modctx::load_safetensors_from_memory(cut.data(), cut.size(), nullptr, "t");
      FAIL("a truncated file loaded");
    } catch (const modctx::Error& e) {
      CHECK(e.code() == Code::format);
    }
  }
  // Every byte of the length and the header, replaced by a few values:
  // either it loads or it fails with a modctx::Error; nothing else.
  uint64_t header_end = 8;
  for (int i = 0; i < 8; ++i) header_end += static_cast<uint64_t>(static_cast<unsigned char>(good[i])) << (8 * i);
  size_t loaded = 0, refused = 0;
  for (size_t i = 0; i < header_end; ++i) {
    for (unsigned char b : {0x00, 0x01, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x5d, 0x7b, 0x7d, 0x80, 0xff}) {
      std::vector<char> bad(good.begin(), good.end());
      bad[i] = static_cast<char>(b);
      try {
        LoadedContext c = modctx::load_safetensors_from_memory(bad.data(), bad.size(), nullptr, "t");
        for (const auto& t : c.fields.tensors)
          if (t.defined() && t.numel() > 0) {
            const auto p = static_cast<const char*>(t.data_ptr());
            const bool inside = p >= bad.data() && p + t.nbytes() <= bad.data() + bad.size();
            CHECK((inside || reinterpret_cast<uintptr_t>(p) % t.element_size() == 0));
          }
        ++loaded;
      } catch (const modctx::Error&) {
        ++refused;
      }
    }
  }
  CHECK(refused > 0);
  CHECK(loaded > 0);
}
