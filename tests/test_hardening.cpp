// Hardening: the paths a hostile caller cannot reach through the C ABI on a
// healthy machine, driven directly. The C ABI's guard (every exception that
// could reach it becomes a status, also with no memory left to record the
// message), DLPack export of dtypes and devices DLPack has no code for, the
// exception type of every code, every dtype name, and the JSON kinds the
// checker names in its messages.
//
// This program replaces operator new (plain and array forms) with a
// countdown, so that "no memory while recording the message" can be made to
// happen; unarmed, it is malloc.
#include "catch_with_torch.hpp"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/sparse_coo_tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "entry.hpp"
#include "json_read.hpp"
#include "modctx.h"
#include "modctx/modctx.hpp"
#include "modctx/model.hpp"
#include "modctx/safetensors.hpp"
#include "modctx/strategies.hpp"
#include "modctx/tensor.hpp"
#include "tensor_export.hpp"

// ------------------------------------------------------------------ a failing operator new

namespace {
std::atomic<int> g_fail_in{0};  // > 0: the allocation that brings it to 0 fails

void* counted_new(std::size_t n) {
  int left = g_fail_in.load();
  while (left > 0 && !g_fail_in.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 1) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

template <class Throw>
modctx_status guard(Throw&& t) {
  return modctx::capi::entry("f", [&](const modctx::capi::Call&) -> modctx_status {
    t();
    return MODCTX_OK;
  });
}

// Runs fn on a fresh thread: its last-error buffer has never held a message.
template <class Fn>
void on_new_thread(Fn fn) {
  std::thread th(fn);
  th.join();
}

at::Tensor metadata(at::ScalarType dtype, at::Device device) {
  return at::for_blob(nullptr, {2, 3}).options(at::TensorOptions().dtype(dtype)).target_device(device).make_tensor();
}

}  // namespace

TEST_CASE("the C ABI's guard turns every exception into a status and a message") {
  CHECK(guard([] { throw std::bad_alloc(); }) == MODCTX_ERR_OUT_OF_MEMORY);
  CHECK(std::string(modctx_last_error()) == "out of memory");

  CHECK(guard([] { throw modctx::Error(modctx::Code::shape, "a shape message"); }) == MODCTX_ERR_SHAPE);
  CHECK(std::string(modctx_last_error()) == "a shape message");

  CHECK(guard([] { TORCH_CHECK(false, "refused by LibTorch"); }) == MODCTX_ERR_INTERNAL);
  CHECK(std::string(modctx_last_error()).rfind("f: LibTorch: refused by LibTorch", 0) == 0);

  CHECK(guard([] { throw std::runtime_error("boom"); }) == MODCTX_ERR_INTERNAL);
  CHECK(std::string(modctx_last_error()) == "f: boom");

  CHECK(guard([] { throw 42; }) == MODCTX_ERR_INTERNAL);
  CHECK(std::string(modctx_last_error()) == "internal error: unknown exception");

  CHECK(guard([] {}) == MODCTX_OK);
  CHECK(std::string(modctx_last_error()) == "internal error: unknown exception");  // left alone
}

TEST_CASE("with no memory left to record a message, the guard still answers") {
  on_new_thread([] {
    g_fail_in = 1;
    const modctx_status s = modctx::capi::set_error(MODCTX_ERR_UNSUPPORTED, "a message longer than a short string buffer");
    g_fail_in = 0;
    CHECK(s == MODCTX_ERR_UNSUPPORTED);
    CHECK(std::string(modctx_last_error()) == "out of memory while recording the error message");
  });
  on_new_thread([] {
    std::exception_ptr e;
    try {
      TORCH_CHECK(false, "refused by LibTorch");
    } catch (...) {
      e = std::current_exception();
    }
    g_fail_in = 1;  // the message's first allocation fails
    const modctx_status s = guard([&] { std::rethrow_exception(e); });
    g_fail_in = 0;
    CHECK(s == MODCTX_ERR_INTERNAL);
    CHECK(std::string(modctx_last_error()) == "LibTorch raised an error (no memory to record it)");
  });
  on_new_thread([] {
    const std::exception_ptr e =
        std::make_exception_ptr(std::runtime_error("a runtime error whose message needs the heap"));
    g_fail_in = 1;
    const modctx_status s = guard([&] { std::rethrow_exception(e); });
    g_fail_in = 0;
    CHECK(s == MODCTX_ERR_INTERNAL);
    CHECK(std::string(modctx_last_error()) == "internal error (no memory to record it)");
  });
}

TEST_CASE("DLPack export refuses dtypes and devices DLPack has no code for") {
  DLManagedTensor* out = nullptr;
  modctx::Status s = modctx::capi::export_dlpack(metadata(at::kQInt8, at::Device(at::kCPU)), &out);
  CHECK(s.code == modctx::Code::unsupported);
  CHECK(s.message == "DLPack has no dtype for this tensor's dtype");
  CHECK(out == nullptr);

  s = modctx::capi::export_dlpack(metadata(at::kFloat, at::Device(at::kXLA, 1)), &out);
  CHECK(s.code == modctx::Code::unsupported);
  CHECK(s.message == "DLPack has no device type for device xla:1");
  CHECK(out == nullptr);

  DLManagedTensorVersioned* outv = nullptr;
  s = modctx::capi::export_dlpack_versioned(metadata(at::kFloat, at::Device(at::kLazy, 0)), &outv);
  CHECK(s.code == modctx::Code::unsupported);
  CHECK(outv == nullptr);
}

TEST_CASE("every status code throws its exception type") {
  using modctx::Code;
  using modctx::Status;
  CHECK_NOTHROW(modctx::throw_if_failed(Status::success()));
  CHECK_THROWS_AS(modctx::throw_if_failed(Status::failure(Code::routes, "m")), modctx::ContextError);
  CHECK_THROWS_AS(modctx::throw_if_failed(Status::failure(Code::key_padding_mask, "m")), modctx::ContextError);
  CHECK_THROWS_AS(modctx::throw_if_failed(Status::failure(Code::slice, "m")), modctx::SliceError);
  CHECK_THROWS_AS(modctx::throw_if_failed(Status::failure(Code::out_of_memory, "m")), std::bad_alloc);
  CHECK_THROWS_AS(modctx::throw_if_failed(Status::failure(Code::shape, "m")), modctx::ForwardError);
  try {
    modctx::throw_if_failed(Status::failure(Code::device, "on two devices"));
  } catch (const modctx::Error& e) {
    CHECK(e.code() == Code::device);
    CHECK(std::string(e.what()) == "on two devices");
  }
  CHECK(std::string(modctx::code_name(static_cast<Code>(99))) == "MODCTX_ERR_UNKNOWN");
}

TEST_CASE("every dtype has PyTorch's name") {
  const std::pair<at::ScalarType, const char*> names[] = {
      {at::kByte, "uint8"},          {at::kChar, "int8"},           {at::kShort, "int16"},
      {at::kInt, "int32"},           {at::kLong, "int64"},          {at::kHalf, "float16"},
      {at::kFloat, "float32"},       {at::kDouble, "float64"},      {at::kComplexHalf, "complex32"},
      {at::kComplexFloat, "complex64"}, {at::kComplexDouble, "complex128"}, {at::kBool, "bool"},
      {at::kQInt8, "qint8"},         {at::kQUInt8, "quint8"},       {at::kQInt32, "qint32"},
      {at::kBFloat16, "bfloat16"},   {at::kQUInt4x2, "quint4x2"},   {at::kQUInt2x4, "quint2x4"},
  };
  for (const auto& [type, name] : names) CHECK(std::string(modctx::dtype_name(type)) == name);
  CHECK(std::string(modctx::dtype_name(at::ScalarType::Undefined)) == "unknown");
  CHECK(modctx::torch_dtype_name(at::kQInt8) == "torch.qint8");
}

TEST_CASE("the JSON readers name the kind of value they did not expect") {
  auto shape_error = [](const std::string& text) {
    try {
      modctx::json::read_shape(modctx::json::parse_strict(text, ""), "/shape");
    } catch (const modctx::json::ReadError& e) {
      return e.path() + ": " + e.what();
    }
    return std::string("(accepted)");
  };
  const std::string expected = "/shape: expected a shape (an array of sizes), found ";
  CHECK(shape_error("{}") == expected + "an object");
  CHECK(shape_error("1.5") == expected + "a non-integer number");
  CHECK(shape_error("-2") == expected + "a negative integer");
  CHECK(shape_error("2") == expected + "an integer");
  CHECK(shape_error("true") == expected + "a boolean");
  CHECK(shape_error("null") == expected + "null");
  CHECK(shape_error("\"2\"") == expected + "a string");
  CHECK(shape_error("[2, 3]") == "(accepted)");
}

namespace {

at::Tensor json_tensor(const std::string& text) {
  return modctx::json::read_tensor(modctx::json::parse_strict(text, ""), "");
}

// Every element, in row-major order, as T.
template <class T>
std::vector<T> values_of(const at::Tensor& t) {
  std::vector<T> out;
  modctx::for_each_value_as<T>(t, [&](T v) { out.push_back(v); });
  return out;
}

}  // namespace

TEST_CASE("the JSON reader's tensors hold the values given, in row-major order") {
  const at::Tensor ids = json_tensor(
      R"({"shape": [2, 3], "dtype": "int64", "values": [[0, -1, 9223372036854775807], [5, 6, -9223372036854775808]]})");
  CHECK(ids.is_cpu());
  CHECK(ids.scalar_type() == at::kLong);
  CHECK(ids.sizes() == at::IntArrayRef({2, 3}));
  CHECK(values_of<int64_t>(ids) == std::vector<int64_t>{0, -1, INT64_MAX, 5, 6, INT64_MIN});
  CHECK(values_of<int64_t>(json_tensor(R"({"shape": [3], "dtype": "int8", "values": [-128, 0, 127]})")) ==
        std::vector<int64_t>{-128, 0, 127});
  CHECK(values_of<int64_t>(json_tensor(R"({"shape": [2], "dtype": "uint8", "values": [0, 255]})")) ==
        std::vector<int64_t>{0, 255});
  CHECK(values_of<int64_t>(json_tensor(R"({"shape": [2], "dtype": "short", "values": [-32768, 32767]})")) ==
        std::vector<int64_t>{-32768, 32767});
  CHECK(values_of<int64_t>(json_tensor(R"({"shape": [1, 2], "dtype": "int32", "values": [[-2147483648, 7]]})")) ==
        std::vector<int64_t>{INT32_MIN, 7});
  CHECK(values_of<int64_t>(json_tensor(R"({"shape": [1, 1, 3], "dtype": "bool", "values": [[[true, false, true]]]})")) ==
        std::vector<int64_t>{1, 0, 1});
  // Floating point values rounded to the dtype, as PyTorch stores them.
  CHECK(values_of<double>(json_tensor(R"({"shape": [3], "dtype": "float16", "values": [0.5, -65504, 1]})")) ==
        std::vector<double>{0.5, -65504.0, 1.0});
  CHECK(values_of<double>(json_tensor(R"({"shape": [2], "dtype": "bfloat16", "values": [1.5, 3e38]})")) ==
        std::vector<double>{1.5, static_cast<double>(static_cast<float>(c10::BFloat16(3e38f)))});
  CHECK(values_of<double>(json_tensor(R"({"shape": [2], "dtype": "float32", "values": [0.1, 2]})")) ==
        std::vector<double>{static_cast<double>(0.1f), 2.0});
  CHECK(values_of<double>(json_tensor(R"({"shape": [2], "dtype": "float64", "values": [1e308, -0.25]})")) ==
        std::vector<double>{1e308, -0.25});
  // A scalar, an empty tensor.
  CHECK(values_of<int64_t>(json_tensor(R"({"shape": [], "dtype": "long", "values": 7})")) == std::vector<int64_t>{7});
  const at::Tensor empty = json_tensor(R"({"shape": [0, 3], "dtype": "int64", "values": []})");
  CHECK((empty.defined() && empty.numel() == 0 && empty.is_cpu()));
  // Without values: no data, on the device named.
  const at::Tensor meta = json_tensor(R"({"shape": [2, 3], "dtype": "int64", "device": "cuda:1"})");
  CHECK(meta.storage().data() == nullptr);
  CHECK(meta.device().str() == "cuda:1");
}

TEST_CASE("the JSON reader's forward arguments: token ids and doc_ids as tensors, the KV caches' state") {
  auto forward = [](const std::string& text,
                    modctx::json::ForwardSource source = modctx::json::ForwardSource::description) {
    return modctx::json::read_forward(modctx::json::parse_strict(text, ""), "", source);
  };
  const modctx::ForwardRecord full = forward(
      R"({"tokens": {"shape": [1, 2], "dtype": "int32", "values": [[5, 9]]},)"
      R"( "doc_ids": {"shape": [1, 2], "dtype": "int64", "device": "cuda:0"},)"
      R"( "kv_caches": {"seq_len": 37, "capacity": 1024, "batch": 1}})");
  REQUIRE(full.tokens.has_value());
  CHECK(*full.tokens == std::vector<int64_t>{1, 2});
  REQUIRE(full.token_ids.defined());
  CHECK(full.token_ids.scalar_type() == at::kInt);
  CHECK(values_of<int64_t>(full.token_ids) == std::vector<int64_t>{5, 9});
  REQUIRE(full.doc_ids.defined());
  CHECK(full.doc_ids.device().str() == "cuda:0");
  CHECK(full.kv_caches);
  CHECK(full.kv_cache == modctx::KvCacheState{37, 1024, 1});
  // Today's forms.
  const modctx::ForwardRecord shape = forward(R"({"tokens": [2, 24], "kv_caches": true})");
  CHECK(*shape.tokens == std::vector<int64_t>{2, 24});
  CHECK_FALSE(shape.token_ids.defined());
  CHECK_FALSE(shape.doc_ids.defined());
  CHECK(shape.kv_caches);
  CHECK_FALSE(shape.kv_cache.has_value());
  const modctx::ForwardRecord none = forward(R"({"tokens": null, "doc_ids": null, "kv_caches": false})");
  CHECK_FALSE(none.tokens.has_value());
  CHECK_FALSE(none.kv_caches);
  // A safetensors file's metadata holds no tensors (the file's own are).
  auto metadata_error = [&](const std::string& text) {
    try {
      forward(text, modctx::json::ForwardSource::metadata);
    } catch (const modctx::json::ReadError& e) {
      return e.path() + ": " + e.what();
    }
    return std::string("(accepted)");
  };
  CHECK(metadata_error(R"({"doc_ids": null})") ==
        "/doc_ids: unknown key \"doc_ids\" (expected one of: tokens, kv_caches)");
  CHECK(metadata_error(R"({"tokens": {"shape": [1], "dtype": "int64"}})") ==
        "/tokens: expected a shape (an array of sizes), found an object");
  CHECK(metadata_error(R"({"tokens": [1], "kv_caches": {"seq_len": 0, "capacity": 4, "batch": 1}})") == "(accepted)");
}

namespace {

// The code and message of what fn throws ("(no error)" when it returns).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const modctx::Error& e) {
    return std::string(modctx::code_name(e.code())) + ": " + e.what();
  }
  return "(no error)";
}

at::Tensor cpu(std::initializer_list<int64_t> shape, at::ScalarType dtype = at::kFloat) {
  return at::zeros(shape, at::TensorOptions().dtype(dtype));
}

}  // namespace

TEST_CASE("strategies and the residual refuse hostile shapes, devices and architectures") {
  using modctx::Arch;
  CHECK(modctx::can_allocate_on(at::Device(at::kCPU)));
  CHECK_FALSE(modctx::can_allocate_on(at::Device(at::kCUDA, 0)));  // Debian's LibTorch is CPU-only
  CHECK_FALSE(modctx::can_allocate_on(at::Device(at::kHIP, 0)));
  CHECK_FALSE(modctx::can_allocate_on(at::Device(at::kMPS, 0)));
  CHECK_FALSE(modctx::can_allocate_on(at::Device(at::kXLA, 0)));

  const at::Tensor frames = at::ones({2, 2}, at::TensorOptions().dtype(at::kBool));
  const std::vector<int64_t> one_dim = {2};
  CHECK(error_of([&] { modctx::prefix_key_padding_mask(frames, 4, one_dim); }) ==
        "MODCTX_ERR_SHAPE: input_ids must have shape (B, T), got (2,)");

  modctx::StrategyInputs in;
  in.image_embeds = cpu({2, 4, 8});
  const std::vector<int64_t> ids = {2, 3}, negative = {-1, 3};
  in.input_ids_shape = ids;
  CHECK(error_of([&] { modctx::compose(static_cast<Arch>(9), in); }) ==
        "MODCTX_ERR_INVALID_ARGUMENT: compose: unknown architecture 9");
  in.input_ids_shape = negative;
  CHECK(error_of([&] { modctx::compose(Arch::joint_decoder, in); }) ==
        "MODCTX_ERR_SHAPE: input_ids shape (-1, 3) has a negative size");

  auto context = [](modctx::Field f, const at::Tensor& t) {
    modctx::ContextFields fields;
    fields[f] = t;
    return modctx::ModalityContext(fields);
  };
  CHECK(error_of([&] { modctx::residual_length(context(modctx::Field::inputs_embeds, cpu({4})), 3); }) ==
        "MODCTX_ERR_SHAPE: modality.inputs_embeds must have shape (B, S, D), got (4,)");
  CHECK(error_of([&] { modctx::residual_length(context(modctx::Field::prefix_embeds, cpu({4})), 3); }) ==
        "MODCTX_ERR_SHAPE: modality.prefix_embeds must have shape (B, N, D), got (4,)");
  CHECK(error_of([&] { modctx::compose_residual(context(modctx::Field::inputs_embeds, cpu({1, 2, 4})), cpu({1, 3, 4})); }) ==
        "MODCTX_ERR_FORWARD_INPUTS: Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
  const auto prefixed = context(modctx::Field::prefix_embeds, cpu({1, 2, 4}));
  CHECK(error_of([&] { modctx::compose_residual(prefixed, cpu({3, 4})); }) ==
        "MODCTX_ERR_SHAPE: the text embeddings must have shape (B, T, D), got (3, 4)");
  const auto on_cuda = context(modctx::Field::prefix_embeds, metadata(at::kFloat, at::Device(at::kCUDA, 0)).view({1, 2, 3}));
  CHECK(error_of([&] { modctx::compose_residual(on_cuda, cpu({1, 5, 3})); }) ==
        "MODCTX_ERR_DEVICE: modality.prefix_embeds is on cuda:0, but the text embeddings are on cpu");
}

TEST_CASE("a model spec with a negative image token count is refused") {
  modctx::ModelSpec spec;
  spec.arch = modctx::Arch::mot;
  spec.hidden_size = 8;
  spec.num_image_tokens = -1;
  const modctx::Status s = modctx::validate_model(nullptr, spec, modctx::ModelForward{});
  CHECK(s.code == modctx::Code::invalid_argument);
  CHECK(s.message == "model: num_image_tokens must be >= 0, got -1");
}

TEST_CASE("safetensors: hostile headers name the JSON kind they found; sparse tensors are not saved") {
  auto load = [](const std::string& header) {
    std::string file(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    file += header;
    return error_of([&] { modctx::load_safetensors_from_memory(file.data(), file.size(), nullptr, "f"); });
  };
  const std::string shape_null = load(R"({"prefix_embeds": {"dtype": "F32", "shape": null, "data_offsets": [0, 0]}})");
  const std::string shape_float = load(R"({"prefix_embeds": {"dtype": "F32", "shape": 1.5, "data_offsets": [0, 0]}})");
  const std::string shape_negative = load(R"({"prefix_embeds": {"dtype": "F32", "shape": -1, "data_offsets": [0, 0]}})");
  CHECK(shape_null.find("MODCTX_ERR_FORMAT: f: ") == 0);
  CHECK(shape_null.find("found null") != std::string::npos);
  CHECK(shape_float.find("found a non-integer number") != std::string::npos);
  CHECK(shape_negative.find("found a negative integer") != std::string::npos);

  const at::Tensor sparse =
      at::sparse_coo_tensor(at::zeros({3, 0}, at::TensorOptions().dtype(at::kLong)), cpu({0}), {1, 2, 4});
  modctx::ContextFields fields;
  fields[modctx::Field::inputs_embeds] = sparse;
  const modctx::ModalityContext ctx(fields);
  CHECK(error_of([&] { modctx::safetensors_bytes(ctx, std::nullopt); }) ==
        "MODCTX_ERR_UNSUPPORTED: save_safetensors: inputs_embeds is not a strided (dense) tensor");
}

TEST_CASE("the C++ output slice refuses a view this LibTorch cannot make; the C ABI makes it on the descriptor") {
  const at::Tensor on_mps = at::for_blob(nullptr, {1, 4, 2})
                                .options(at::TensorOptions().dtype(at::kFloat))
                                .target_device(at::Device(at::kMPS, 0))
                                .make_tensor();
  modctx::Slice from_1;
  from_1.start = 1;
  const std::string error = error_of([&] { modctx::apply_output_slice(on_mps, from_1); });
  CHECK(error.rfind("MODCTX_ERR_UNSUPPORTED: apply_output_slice: this LibTorch cannot take a view of a tensor on mps:0: ",
                    0) == 0);
}

TEST_CASE("the residual of a pipeline-middle context is its inputs_embeds, the same tensor") {
  modctx::ContextFields fields;
  fields[modctx::Field::inputs_embeds] = cpu({1, 3, 4});
  const modctx::ModalityContext ctx(fields);
  CHECK(modctx::compose_residual(ctx, at::Tensor()).is_same(ctx.inputs_embeds()));
}

TEST_CASE("safetensors: a boolean shape is named; a failed write is an io error and leaves no file") {
  std::string file(8, '\0');
  const std::string header = R"({"prefix_embeds": {"dtype": "F32", "shape": true, "data_offsets": [0, 0]}})";
  file[0] = static_cast<char>(header.size());
  file += header;
  const std::string found = error_of([&] { modctx::load_safetensors_from_memory(file.data(), file.size(), nullptr, "f"); });
  CHECK(found.find("found a boolean") != std::string::npos);

  // A file size limit makes write(2) fail with EFBIG (SIGXFSZ ignored).
  modctx::ContextFields fields;
  fields[modctx::Field::prefix_embeds] = cpu({1, 64, 64});  // 16 KiB
  const modctx::ModalityContext ctx(fields);
  const std::string path = "modctx-hardening-efbig.safetensors";
  std::remove(path.c_str());
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string written = error_of([&] { modctx::save_safetensors(path, ctx, std::nullopt); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK(written.rfind("MODCTX_ERR_IO: ", 0) == 0);
  CHECK(written.find(": cannot write ") != std::string::npos);
  CHECK(written.find("File too large") != std::string::npos);
  CHECK(std::fopen(path.c_str(), "rb") == nullptr);  // the target was never created
}
