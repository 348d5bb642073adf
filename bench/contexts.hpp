// The five contexts the benchmarks measure, and the tensors they hold.
//
// Shared by bench_modctx.cpp (Google Benchmark) and callgrind_capi.cpp (the
// instruction-count driver). Shapes are those of examples/contexts/: a batch
// of 2, 576 image tokens, 24 text tokens, hidden size 4096, bfloat16.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>

#include <array>
#include <deque>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modctx.h"  // after LibTorch's headers: adds DLPack 1.0's types if a 0.x header came first
#include "modctx/modctx.hpp"

namespace bench {

// ------------------------------------------------------------------ the contexts

enum class Kind { text_only, pipeline_middle, joint_decoder, cross_attention, mot };
constexpr Kind kKinds[] = {Kind::text_only, Kind::pipeline_middle, Kind::joint_decoder, Kind::cross_attention,
                           Kind::mot};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::text_only: return "text_only";
    case Kind::pipeline_middle: return "pipeline_middle";
    case Kind::joint_decoder: return "joint_decoder";
    case Kind::cross_attention: return "cross_attention";
    case Kind::mot: return "mot";
  }
  return "?";
}

struct FieldSpec {
  modctx::Field field;
  std::vector<int64_t> shape;
  at::ScalarType dtype;
};

struct Spec {
  Kind kind;
  std::vector<FieldSpec> fields;   // in the reference's field order
  std::optional<modctx::Slice> slice;
  modctx::ForwardArgs forward;     // what the forward call is given besides the context
  FieldSpec rejected_extra;        // the field that makes the context invalid
};

constexpr int64_t B = 2, N = 576, T = 24, D = 4096;

// The strategies' contexts (the reference's four strategies; Joint-Decoder and MoT with
// a video frame mask, so with key_padding_mask), and for each one extra
// field that trips a construction check (each of the four checks is hit).
inline Spec spec(Kind k) {
  using modctx::Field;
  const FieldSpec prefix{Field::prefix_embeds, {B, N, D}, at::kBFloat16};
  const FieldSpec kpm{Field::key_padding_mask, {B, N + T}, at::kBool};
  const FieldSpec ids{Field::modality_ids, {B, N + T}, at::kLong};
  const FieldSpec features{Field::image_features, {B, N, D}, at::kBFloat16};
  const FieldSpec image_mask{Field::image_mask, {B, N}, at::kBool};
  const modctx::Slice after_prefix{N, std::nullopt, std::nullopt};
  switch (k) {
    case Kind::text_only:  // check 4: key_padding_mask without a residual extension
      return {k, {}, std::nullopt, {true, false}, {Field::key_padding_mask, {B, T}, at::kBool}};
    case Kind::pipeline_middle:  // check 1: two routes
      return {k, {{Field::inputs_embeds, {B, N + T, D}, at::kBFloat16}}, std::nullopt, {false, false}, prefix};
    case Kind::joint_decoder:  // check 2: image_mask without image_features
      return {k, {prefix, kpm}, after_prefix, {true, false}, image_mask};
    case Kind::cross_attention:  // check 3: modality_ids without a residual extension
      return {k, {features, image_mask}, std::nullopt, {true, false}, ids};
    case Kind::mot:  // check 1: two routes
      return {k, {prefix, ids, kpm}, after_prefix, {true, false}, features};
  }
  return {};
}

// The model each context is fed to (for the model check): hidden size D,
// MoT splitting the residual at N, text embeddings in bfloat16.
inline modctx::ModelSpec model_spec(Kind k) {
  modctx::ModelSpec m;
  m.hidden_size = D;
  m.text_dtype = at::kBFloat16;
  switch (k) {
    case Kind::text_only:
    case Kind::pipeline_middle: m.arch = modctx::Arch::text; break;
    case Kind::joint_decoder: m.arch = modctx::Arch::joint_decoder; break;
    case Kind::cross_attention: m.arch = modctx::Arch::cross_attention; break;
    case Kind::mot:
      m.arch = modctx::Arch::mot;
      m.num_image_tokens = N;
      break;
  }
  return m;
}

inline constexpr int64_t kTokensShape[2] = {B, T};

// ------------------------------------------------------------------ tensors

// Where a benchmark's tensors live, and how big they are.
enum class Memory {
  cpu_strategy,   // CPU tensors of the strategy shapes above, allocated and zeroed
  cpu_1KiB,       // every tensor 1 KiB, on the CPU
  cpu_1GiB,       // every tensor 1 GiB, on the CPU, allocated and zeroed (resident)
  cuda_1GiB,      // every tensor 1 GiB on cuda:0: a description only, nothing allocated
};

inline int64_t element_size(at::ScalarType t) { return static_cast<int64_t>(c10::elementSize(t)); }

// The same rank and dtype as the strategy's field, resized to `bytes`: the
// last dimension carries the size.
inline std::vector<int64_t> resized(const FieldSpec& f, int64_t bytes) {
  std::vector<int64_t> shape(f.shape.size(), 1);
  shape.back() = bytes / element_size(f.dtype);
  return shape;
}

// A tensor on cuda:0 that holds no data (LibTorch neither allocates nor asks
// a CUDA runtime: Debian's LibTorch is CPU-only).
inline at::Tensor described_only(const std::vector<int64_t>& shape, at::ScalarType dtype) {
  return at::for_blob(nullptr, shape)
      .options(at::TensorOptions().dtype(dtype))
      .target_device(at::Device(at::kCUDA, 0))
      .make_tensor();
}

inline at::Tensor make_tensor(const FieldSpec& f, Memory m) {
  switch (m) {
    case Memory::cpu_strategy: return at::zeros(f.shape, at::TensorOptions().dtype(f.dtype));
    case Memory::cpu_1KiB: return at::zeros(resized(f, 1 << 10), at::TensorOptions().dtype(f.dtype));
    case Memory::cpu_1GiB: return at::zeros(resized(f, int64_t{1} << 30), at::TensorOptions().dtype(f.dtype));
    case Memory::cuda_1GiB: return described_only(resized(f, int64_t{1} << 30), f.dtype);
  }
  return {};
}

// The caller's tensors, already held (allocated once, outside any timing).
struct Held {
  Spec spec;
  std::vector<at::Tensor> tensors;   // parallel to spec.fields
  at::Tensor extra;                  // spec.rejected_extra

  Held(Kind k, Memory m) : spec(bench::spec(k)) {
    for (const auto& f : spec.fields) tensors.push_back(make_tensor(f, m));
    extra = make_tensor(spec.rejected_extra, Memory::cpu_1KiB);
  }

  // Python's ModalityContext(field=tensor, ...): the fields, set one by one.
  modctx::ContextFields fields() const {
    modctx::ContextFields f;
    for (size_t i = 0; i < tensors.size(); ++i) f[spec.fields[i].field] = tensors[i];
    f.output_slice = spec.slice;
    return f;
  }
};

// ------------------------------------------------------------------ DLPack, as a C or Rust caller makes it

inline DLDataType dl_dtype(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return {kDLBfloat, 16, 1};
    case at::kBool: return {MODCTX_DLPACK_BOOL, 8, 1};
    case at::kLong: return {kDLInt, 64, 1};
    case at::kFloat: return {kDLFloat, 32, 1};
    default: return {kDLFloat, 32, 1};
  }
}

// Counts deleter calls: the benchmarks check that every tensor handed in
// was released exactly once.
inline int64_t g_released = 0;

inline void count_release(DLManagedTensor*) { ++g_released; }
inline void count_release_versioned(DLManagedTensorVersioned*) { ++g_released; }

// A caller-owned managed tensor describing an at::Tensor's memory (or a
// CUDA address, for described-only tensors). Once modctx has run its
// deleter, the caller may hand the same struct in again: nothing in it changes.
struct DLPackOf {
  DLPackOf(const DLPackOf&) = delete;  // dl_tensor points into this object
  DLPackOf& operator=(const DLPackOf&) = delete;
  std::array<int64_t, 8> shape{};
  std::array<int64_t, 8> strides{};
  DLManagedTensor legacy{};
  DLManagedTensorVersioned versioned{};

  explicit DLPackOf(const at::Tensor& t) {
    DLTensor dl{};
    const bool cuda = t.device().is_cuda();
    // A described-only tensor has no address: give a plausible, aligned device address.
    dl.data = cuda ? reinterpret_cast<void*>(uintptr_t{1} << 40) : t.data_ptr();
    dl.device = cuda ? DLDevice{kDLCUDA, 0} : DLDevice{kDLCPU, 0};
    dl.ndim = static_cast<int32_t>(t.dim());
    dl.dtype = dl_dtype(t.scalar_type());
    for (int64_t i = 0; i < t.dim(); ++i) {
      shape[i] = t.sizes()[i];
      strides[i] = t.strides()[i];
    }
    dl.shape = shape.data();
    dl.strides = strides.data();
    dl.byte_offset = 0;
    legacy.dl_tensor = dl;
    legacy.manager_ctx = nullptr;
    legacy.deleter = count_release;
    versioned.version = {1, 0};
    versioned.manager_ctx = nullptr;
    versioned.deleter = count_release_versioned;
    versioned.flags = 0;
    versioned.dl_tensor = dl;
  }
};

struct HeldDLPack {
  Held held;
  std::deque<DLPackOf> dl;    // parallel to held.tensors (a deque: elements never move)
  DLPackOf extra;

  HeldDLPack(Kind k, Memory m) : held(k, m), extra(held.extra) {
    for (const auto& t : held.tensors) dl.emplace_back(t);
  }
};

inline modctx_slice c_slice(const modctx::Slice& s) {
  modctx_slice out{0, 0, 0, 0};
  if (s.start) out.start = *s.start, out.flags |= MODCTX_SLICE_HAS_START;
  if (s.stop) out.stop = *s.stop, out.flags |= MODCTX_SLICE_HAS_STOP;
  if (s.step) out.step = *s.step, out.flags |= MODCTX_SLICE_HAS_STEP;
  return out;
}

// The MoT model of the MoT context, read from a KempnerForge config as a
// server would at start-up: D 4096, 576 image tokens (a random encoder's
// 576, a projection adapter), bfloat16.
inline const modctx_model& mot_model_from_config() {
  static const modctx_model model = [] {
    static const char kConfig[] =
        "[model]\ndim = 4096\nn_layers = 32\nn_heads = 32\nvocab_size = 32000\nmax_seq_len = 2048\n"
        "[vision_encoder]\ntype = \"random\"\nnum_tokens = 576\n[vlm]\narch = \"mot\"\n"
        "[train]\nmixed_precision = \"bf16\"\n";
    modctx_model m{};
    m.struct_size = sizeof m;
    if (modctx_model_from_config_string(kConfig, sizeof kConfig - 1, &m) != MODCTX_OK) std::abort();
    return m;
  }();
  return model;
}

// The request's token ids (B, T) int64 on the CPU, borrowed by each check.
inline const DLTensor& mot_tokens() {
  static std::vector<int64_t> ids(static_cast<size_t>(kTokensShape[0] * kTokensShape[1]), 7);
  static int64_t shape[2] = {kTokensShape[0], kTokensShape[1]};
  static const DLTensor t = [] {
    DLTensor d{};
    d.data = ids.data();
    d.device = {kDLCPU, 0};
    d.ndim = 2;
    d.dtype = {kDLInt, 64, 1};
    d.shape = shape;
    return d;
  }();
  return t;
}

inline modctx_request mot_request() {
  modctx_request r{};
  r.struct_size = sizeof r;
  r.kv_caches = MODCTX_KV_NONE;
  r.tokens = &mot_tokens();
  return r;
}

// A context built from the held DLPack tensors, outside any timing.
inline modctx_context* built_from_dlpack(HeldDLPack& h) {
  modctx_builder* b = nullptr;
  modctx_context* ctx = nullptr;
  modctx_builder_new(&b);
  for (size_t i = 0; i < h.dl.size(); ++i)
    modctx_builder_set_dlpack(b, static_cast<modctx_field>(h.held.spec.fields[i].field), &h.dl[i].legacy);
  if (h.held.spec.slice) {
    const modctx_slice sl = c_slice(*h.held.spec.slice);
    modctx_builder_set_output_slice(b, &sl);
  }
  modctx_builder_build(b, &ctx);
  modctx_builder_free(b);
  return ctx;
}

// One request through the C ABI, as a server does it: a builder, every
// tensor handed in as DLPack (imported: validated and wrapped), the slice,
// build (construction checks), the forward checks, then both handles freed
// (every deleter runs). Returns the first failing status.
// With `model` and `request`, the last step is modctx_check_request (the
// whole request against the model) instead of modctx_check_forward.
template <bool kVersioned>
inline modctx_status capi_request(HeldDLPack& h, bool with_extra = false, const modctx_model* model = nullptr,
                                  const modctx_request* request = nullptr) {
  modctx_builder* b = nullptr;
  modctx_context* ctx = nullptr;
  modctx_status s = modctx_builder_new(&b);
  const auto& fields = h.held.spec.fields;
  for (size_t i = 0; i < fields.size() && s == MODCTX_OK; ++i) {
    const auto f = static_cast<modctx_field>(fields[i].field);
    s = kVersioned ? modctx_builder_set_dlpack_versioned(b, f, &h.dl[i].versioned)
                   : modctx_builder_set_dlpack(b, f, &h.dl[i].legacy);
  }
  if (with_extra && s == MODCTX_OK) {
    const auto f = static_cast<modctx_field>(h.held.spec.rejected_extra.field);
    s = kVersioned ? modctx_builder_set_dlpack_versioned(b, f, &h.extra.versioned)
                   : modctx_builder_set_dlpack(b, f, &h.extra.legacy);
  }
  if (s == MODCTX_OK && h.held.spec.slice) {
    const modctx_slice sl = c_slice(*h.held.spec.slice);
    s = modctx_builder_set_output_slice(b, &sl);
  }
  if (s == MODCTX_OK) s = modctx_builder_build(b, &ctx);
  if (s == MODCTX_OK && model) {
    s = modctx_check_request(ctx, model, request, 0);
  } else if (s == MODCTX_OK) {
    const auto& fwd = h.held.spec.forward;
    s = modctx_check_forward(ctx, fwd.has_tokens, fwd.has_kv_caches);
  }
  modctx_builder_free(b);
  modctx_context_free(ctx);
  return s;
}

// Four tensors in: the MoT request (three DLPack tensors and the slice), then
// the output slice applied to the hidden state (a fourth DLPack tensor in, a
// view handed out and released): all of modctx's part in one MoT forward.
inline modctx_status capi_mot_and_slice_request(HeldDLPack& h, DLPackOf& hidden, int64_t expected_len) {
  modctx_builder* b = nullptr;
  modctx_context* ctx = nullptr;
  DLManagedTensor* out = nullptr;
  if (!h.held.spec.slice) return MODCTX_ERR_INVALID_ARGUMENT;  // the MoT context only
  modctx_status s = modctx_builder_new(&b);
  for (size_t i = 0; i < h.dl.size() && s == MODCTX_OK; ++i)
    s = modctx_builder_set_dlpack(b, static_cast<modctx_field>(h.held.spec.fields[i].field), &h.dl[i].legacy);
  const modctx_slice sl = c_slice(*h.held.spec.slice);
  if (s == MODCTX_OK) s = modctx_builder_set_output_slice(b, &sl);
  if (s == MODCTX_OK) s = modctx_builder_build(b, &ctx);
  if (s == MODCTX_OK) s = modctx_check_forward(ctx, 1, 0);
  if (s == MODCTX_OK) s = modctx_context_apply_output_slice(ctx, &hidden.legacy, &out);
  if (s == MODCTX_OK && out->dl_tensor.shape[1] != expected_len) s = MODCTX_ERR_INTERNAL;
  if (out && out->deleter) out->deleter(out);
  modctx_builder_free(b);
  modctx_context_free(ctx);
  return s;
}

}  // namespace bench
