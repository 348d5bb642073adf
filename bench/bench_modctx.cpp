// What a ModalityContext costs per request: Google Benchmark cases for the
// C++ core and the C ABI, for each of the five contexts (bench/contexts.hpp).
//
// Names are FAMILY/CONTEXT (or FAMILY/CONTEXT/MEMORY for the size cases);
// bench/side_by_side.py reads them from the JSON output. Run everything with
// `bash bench/run.sh`; this binary alone accepts Google Benchmark's flags.
//
// Every case starts from tensors the caller already holds (allocated once,
// outside the timing): what is timed is modctx's work, not the tensors'.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "contexts.hpp"
#include "modctx/tensor.hpp"

namespace {

using bench::Held;
using bench::HeldDLPack;
using bench::Kind;
using bench::Memory;

// Tensors are allocated once per (context, memory) and kept for the whole
// run: the 1 GiB ones (three of them, for MoT) are allocated and zeroed once.
Held& held(Kind k, Memory m = Memory::cpu_strategy) {
  static std::map<std::pair<Kind, Memory>, std::unique_ptr<Held>> cache;
  auto& slot = cache[{k, m}];
  if (!slot) slot = std::make_unique<Held>(k, m);
  return *slot;
}

HeldDLPack& held_dlpack(Kind k, Memory m = Memory::cpu_strategy) {
  static std::map<std::pair<Kind, Memory>, std::unique_ptr<HeldDLPack>> cache;
  auto& slot = cache[{k, m}];
  if (!slot) slot = std::make_unique<HeldDLPack>(k, m);
  return *slot;
}

const modctx::ModalityContext& built(Kind k) {
  static std::map<Kind, modctx::ModalityContext> cache;
  auto it = cache.find(k);
  if (it == cache.end()) it = cache.emplace(k, modctx::ModalityContext(held(k).fields())).first;
  return it->second;
}

void fail_unless(benchmark::State& state, bool ok, const char* what) {
  if (!ok) state.SkipWithError(what);
}

// ------------------------------------------------------------------ C++ core

// Build + the four construction checks + destroy, from tensors already held:
// the context shares them (one reference-count increment and decrement each).
void core_build(benchmark::State& state, Kind k, Memory m) {
  const Held& h = held(k, m);
  for (auto _ : state) {
    modctx::ModalityContext ctx(h.fields());
    benchmark::DoNotOptimize(&ctx);
  }
}

// The same, then the forward-time checks: one request's whole modctx work.
void core_build_forward(benchmark::State& state, Kind k, Memory m) {
  const Held& h = held(k, m);
  bool ok = true;
  for (auto _ : state) {
    modctx::ModalityContext ctx(h.fields());
    const modctx::Status s = modctx::validate_forward(ctx.facts(), h.spec.forward);
    ok &= s.ok();
    benchmark::DoNotOptimize(&ctx);
  }
  fail_unless(state, ok, "forward check failed");
}

// The forward-time checks alone, on a context built beforehand.
void core_forward(benchmark::State& state, Kind k) {
  const modctx::ModalityContext& ctx = built(k);
  const modctx::ForwardArgs args = held(k).spec.forward;
  bool ok = true;
  for (auto _ : state) {
    const modctx::Status s = modctx::validate_forward(ctx.facts(), args);
    ok &= s.ok();
    benchmark::DoNotOptimize(&s);
  }
  fail_unless(state, ok, "forward check failed");
}

// The model check (validate_model: the forward checks, the residual's
// shapes against the model, the reference's model-time checks, every field's
// shape, dtype and device), on a context built beforehand. Metadata only.
void core_model_check(benchmark::State& state, Kind k) {
  const modctx::ModalityContext& ctx = built(k);
  const modctx::ModelSpec model = bench::model_spec(k);
  modctx::ModelForward fwd;
  fwd.has_tokens = held(k).spec.forward.has_tokens;
  if (fwd.has_tokens) fwd.tokens_shape = at::IntArrayRef(bench::kTokensShape, 2);
  modctx::Status last;
  for (auto _ : state) {
    last = modctx::validate_model(&ctx, model, fwd);
    benchmark::DoNotOptimize(&last);
  }
  fail_unless(state, last.ok(), last.message.c_str());
}

void core_describe(benchmark::State& state, Kind k) {
  const modctx::ModalityContext& ctx = built(k);
  for (auto _ : state) {
    std::string text = ctx.describe();
    benchmark::DoNotOptimize(text.data());
  }
}

// The error path: the context is refused by a construction check, and the
// message (the reference's, byte for byte) is produced. Non-throwing form.
void core_rejected(benchmark::State& state, Kind k) {
  const Held& h = held(k);
  bool ok = true;
  for (auto _ : state) {
    modctx::ContextFields f = h.fields();
    f[h.spec.rejected_extra.field] = h.extra;
    modctx::ModalityContext ctx;
    const modctx::Status s = modctx::ModalityContext::make(std::move(f), &ctx);
    ok &= !s.ok() && !s.message.empty();
    benchmark::DoNotOptimize(s.message.data());
  }
  fail_unless(state, ok, "context was not rejected");
}

// The same through the throwing constructor, as C++ callers write it.
void core_rejected_throw(benchmark::State& state, Kind k) {
  const Held& h = held(k);
  bool ok = true;
  for (auto _ : state) {
    modctx::ContextFields f = h.fields();
    f[h.spec.rejected_extra.field] = h.extra;
    try {
      modctx::ModalityContext ctx(std::move(f));
      ok = false;
    } catch (const modctx::ContextError& e) {
      benchmark::DoNotOptimize(e.what());
    }
  }
  fail_unless(state, ok, "context was not rejected");
}

// ------------------------------------------------------------------ C ABI

// One request from DLPack tensors: builder, import of every tensor (counted),
// slice, build, forward checks, free (every deleter runs).
template <bool kVersioned>
void capi_dlpack(benchmark::State& state, Kind k, Memory m) {
  HeldDLPack& h = held_dlpack(k, m);
  const int64_t released_before = bench::g_released;
  bool ok = true;
  for (auto _ : state) ok &= bench::capi_request<kVersioned>(h) == MODCTX_OK;
  const int64_t expected = state.iterations() * static_cast<int64_t>(h.dl.size());
  fail_unless(state, ok, modctx_last_error());
  fail_unless(state, bench::g_released - released_before == expected, "deleter count is wrong");
}

// A context built once (outside the timing) from the held DLPack tensors.
void capi_forward(benchmark::State& state, Kind k) {
  HeldDLPack& h = held_dlpack(k);
  modctx_context* ctx = bench::built_from_dlpack(h);
  const auto fwd = h.held.spec.forward;
  bool ok = true;
  for (auto _ : state) ok &= modctx_check_forward(ctx, fwd.has_tokens, fwd.has_kv_caches) == MODCTX_OK;
  modctx_context_free(ctx);
  fail_unless(state, ok, modctx_last_error());
}

// modctx_check_model on a context built beforehand from the same DLPack tensors.
void capi_model_check(benchmark::State& state, Kind k) {
  HeldDLPack& h = held_dlpack(k);
  modctx_context* ctx = bench::built_from_dlpack(h);
  const modctx::ModelSpec spec = bench::model_spec(k);
  modctx_model model{};
  model.struct_size = sizeof model;
  model.arch = static_cast<modctx_arch>(spec.arch);
  model.hidden_size = spec.hidden_size;
  model.num_image_tokens = spec.num_image_tokens.value_or(-1);
  model.text_dtype = MODCTX_DTYPE_BFLOAT16;
  const int64_t* tokens = h.held.spec.forward.has_tokens ? bench::kTokensShape : nullptr;
  bool ok = true;
  for (auto _ : state) ok &= modctx_check_model(ctx, &model, tokens, 2, 0, 0) == MODCTX_OK;
  modctx_context_free(ctx);
  fail_unless(state, ok, modctx_last_error());
}

void capi_describe(benchmark::State& state, Kind k) {
  HeldDLPack& h = held_dlpack(k);
  modctx_context* ctx = bench::built_from_dlpack(h);
  char buf[512];
  size_t len = 0;
  bool ok = true;
  for (auto _ : state) {
    ok &= modctx_context_describe(ctx, buf, sizeof buf, &len) == MODCTX_OK;
    benchmark::DoNotOptimize(buf);
  }
  modctx_context_free(ctx);
  fail_unless(state, ok && len < sizeof buf, "describe failed");
}

// The error path through the C ABI: every tensor imported, the build refused,
// the message read back (modctx_last_error) and measured, everything freed.
void capi_rejected(benchmark::State& state, Kind k) {
  HeldDLPack& h = held_dlpack(k);
  const modctx_status expected = static_cast<modctx_status>(modctx::validate_construction([&] {
    modctx::ContextFields f = h.held.fields();
    f[h.held.spec.rejected_extra.field] = h.held.extra;
    return f;
  }()).code);
  bool ok = expected != MODCTX_OK;
  for (auto _ : state) {
    ok &= bench::capi_request<false>(h, /*with_extra=*/true) == expected;
    const char* message = modctx_last_error();
    benchmark::DoNotOptimize(std::strlen(message));
  }
  fail_unless(state, ok, "context was not rejected with the expected status");
}

// Four tensors in: the MoT request, then the output slice applied to the
// hidden state (bench::capi_mot_and_slice_request).
void capi_mot_and_slice(benchmark::State& state, Memory m) {
  HeldDLPack& h = held_dlpack(Kind::mot, m);
  static const at::Tensor hidden = at::zeros({bench::B, bench::N + bench::T, bench::D}, at::kBFloat16);
  static bench::DLPackOf hidden_dl(hidden);
  bool ok = true;
  for (auto _ : state) ok &= bench::capi_mot_and_slice_request(h, hidden_dl, bench::T) == MODCTX_OK;
  fail_unless(state, ok, modctx_last_error());
}

// One DLPack import alone (builder new + set + free): the marginal cost of a tensor.
void capi_one_import(benchmark::State& state) {
  HeldDLPack& h = held_dlpack(Kind::mot);
  bool ok = true;
  for (auto _ : state) {
    modctx_builder* b = nullptr;
    modctx_builder_new(&b);
    ok &= modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, &h.dl[0].legacy) == MODCTX_OK;
    modctx_builder_free(b);
  }
  fail_unless(state, ok, modctx_last_error());
}

// An empty builder made and freed: the floor of every C ABI request.
void capi_builder_only(benchmark::State& state) {
  for (auto _ : state) {
    modctx_builder* b = nullptr;
    modctx_builder_new(&b);
    benchmark::DoNotOptimize(b);
    modctx_builder_free(b);
  }
}

// ------------------------------------------------------------------ floors: what bounds the figures

// ------------------------------------------------------------------ whole requests (C ABI)

// modctx_check_request on a context built beforehand: the MoT request
// (tokens as a DLTensor, no value checks) against the config's model.
void capi_request_check(benchmark::State& state) {
  HeldDLPack& h = held_dlpack(Kind::mot);
  modctx_context* ctx = bench::built_from_dlpack(h);
  const modctx_model& model = bench::mot_model_from_config();
  const modctx_request request = bench::mot_request();
  bool ok = true;
  for (auto _ : state) ok &= modctx_check_request(ctx, &model, &request, 0) == MODCTX_OK;
  modctx_context_free(ctx);
  fail_unless(state, ok, modctx_last_error());
}

// The whole C ABI request: three DLPack tensors in, build, the request
// check against the model, free (capi_dlpack/mot with the request check in
// place of the forward checks).
void capi_full_request(benchmark::State& state) {
  HeldDLPack& h = held_dlpack(Kind::mot);
  const modctx_model& model = bench::mot_model_from_config();
  const modctx_request request = bench::mot_request();
  bool ok = true;
  for (auto _ : state) ok &= bench::capi_request<false>(h, false, &model, &request) == MODCTX_OK;
  fail_unless(state, ok, modctx_last_error());
}

// ------------------------------------------------------------------ token-id range

// 1 Mi token ids (4 x 262144 int64, 8 MiB: past the L2 cache, as a long
// batch is), values in [0, 50257), allocated and filled once.
const at::Tensor& token_ids() {
  static const at::Tensor ids = [] {
    at::Tensor t = modctx::allocate_cpu_tensor({4, 262144}, at::kLong);
    auto* v = static_cast<int64_t*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = (i * 7919) % 50257;
    return t;
  }();
  return ids;
}

// validate_model with the token-id value check: a text model of vocab 50257
// (the residual's other checks cost nanoseconds next to the 8 MiB read).
void core_token_ids(benchmark::State& state) {
  const at::Tensor& ids = token_ids();
  modctx::ModelSpec spec;
  spec.hidden_size = 256;
  spec.vocab_size = 50257;
  modctx::ModelForward forward;
  forward.tokens = &ids;
  modctx::ValueChecks values;
  values.token_ids_range = true;
  bool ok = true;
  for (auto _ : state) ok &= modctx::validate_model(nullptr, spec, forward, values).ok();
  state.SetBytesProcessed(state.iterations() * ids.numel() * 8);
  fail_unless(state, ok, "token ids out of range");
}

// The floor: a plain min/max loop over the same ids, compiled here.
void floor_minmax(benchmark::State& state) {
  const at::Tensor& ids = token_ids();
  const auto* v = static_cast<const int64_t*>(ids.data_ptr());
  const int64_t n = ids.numel();
  for (auto _ : state) {
    int64_t low = v[0], high = v[0];
    for (int64_t i = 1; i < n; ++i) {
      low = std::min(low, v[i]);
      high = std::max(high, v[i]);
    }
    benchmark::DoNotOptimize(low);
    benchmark::DoNotOptimize(high);
  }
  state.SetBytesProcessed(state.iterations() * n * 8);
}

// One reference-count round trip (an at::Tensor copied and destroyed is one
// atomic increment and one atomic decrement, uncontended).
void floor_atomic_pair(benchmark::State& state) {
  static std::atomic<int64_t> count{1};
  for (auto _ : state) {
    count.fetch_add(1, std::memory_order_relaxed);
    benchmark::DoNotOptimize(count.fetch_sub(1, std::memory_order_acq_rel));
  }
}

// One small heap allocation and its release (glibc malloc, warm).
void floor_malloc_free(benchmark::State& state) {
  for (auto _ : state) {
    void* p = ::operator new(192);
    benchmark::DoNotOptimize(p);
    ::operator delete(p);
  }
}

// One at::Tensor made over foreign memory (at::for_blob: a TensorImpl and a
// StorageImpl) and destroyed: what every DLPack import costs inside LibTorch.
void floor_for_blob(benchmark::State& state) {
  static const at::Tensor t = at::zeros({bench::B, bench::N, bench::D}, at::kBFloat16);
  for (auto _ : state) {
    at::Tensor v = at::for_blob(t.data_ptr(), t.sizes())
                       .strides(t.strides())
                       .context(nullptr, [](void*) {})
                       .options(at::TensorOptions().dtype(at::kBFloat16))
                       .target_device(at::Device(at::kCPU))
                       .make_tensor();
    benchmark::DoNotOptimize(v.unsafeGetTensorImpl());
  }
}

// The same made from c10 types alone (modctx::make_tensor_view: what the C
// ABI, the checker and the safetensors loader use now, without libtorch_cpu).
void floor_make_tensor_view(benchmark::State& state) {
  static const at::Tensor t = at::zeros({bench::B, bench::N, bench::D}, at::kBFloat16);
  for (auto _ : state) {
    at::Tensor v = modctx::make_tensor_view(t.data_ptr(), t.sizes(), t.strides(), at::kBFloat16,
                                            at::Device(at::kCPU), nullptr, [](void*) {});
    benchmark::DoNotOptimize(v.unsafeGetTensorImpl());
  }
}

// ------------------------------------------------------------------ flat in size, paired

double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// The three sizes measured in alternation, batch after batch, inside one
// benchmark: a change of machine load (other processes, the SMT sibling)
// hits all three alike, so their ratio stays meaningful on a shared machine.
// Counters: CPU ns per request for each size, and largest / smallest.
template <class Request>
void size_paired(benchmark::State& state, Request request) {
  constexpr Memory kSizes[] = {Memory::cpu_1KiB, Memory::cpu_1GiB, Memory::cuda_1GiB};
  constexpr int kBatch = 200;
  double total[3] = {0, 0, 0};
  int64_t requests = 0;
  bool ok = true;
  for (Memory m : kSizes) ok &= request(m);  // allocate the tensors outside the timing
  for (auto _ : state) {
    for (int i = 0; i < 3; ++i) {
      const double t0 = thread_cpu_ns();
      for (int j = 0; j < kBatch; ++j) ok &= request(kSizes[i]);
      total[i] += thread_cpu_ns() - t0;
    }
    requests += kBatch;
  }
  fail_unless(state, ok, "request failed");
  if (requests == 0) return;
  double lo = total[0], hi = total[0];
  for (double t : total) lo = std::min(lo, t), hi = std::max(hi, t);
  state.counters["cpu_1KiB_ns"] = total[0] / static_cast<double>(requests);
  state.counters["cpu_1GiB_ns"] = total[1] / static_cast<double>(requests);
  state.counters["cuda_1GiB_described_ns"] = total[2] / static_cast<double>(requests);
  state.counters["max_over_min"] = hi / lo;
}

const char* memory_name(Memory m) {
  switch (m) {
    case Memory::cpu_strategy: return "cpu";
    case Memory::cpu_1KiB: return "cpu_1KiB";
    case Memory::cpu_1GiB: return "cpu_1GiB";
    case Memory::cuda_1GiB: return "cuda_1GiB_described";
  }
  return "?";
}

// CPU time (Google Benchmark's default) decides the iteration count and is
// what side_by_side.py reports: on a shared machine it is what other
// processes disturb least. Real time is in the JSON too.
// Besides Google Benchmark's mean, median and stddev: the smallest
// repetition, the figure least disturbed by other processes.
template <class F>
void reg(const std::string& name, F&& fn) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(fn))
      ->Unit(benchmark::kNanosecond)
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

}  // namespace

int main(int argc, char** argv) {
  const Memory cpu = Memory::cpu_strategy;
  for (Kind k : bench::kKinds) {
    const std::string ctx = bench::kind_name(k);
    reg("core_build/" + ctx, [k, cpu](benchmark::State& s) { core_build(s, k, cpu); });
    reg("core_build_forward/" + ctx, [k, cpu](benchmark::State& s) { core_build_forward(s, k, cpu); });
    reg("core_forward/" + ctx, [k](benchmark::State& s) { core_forward(s, k); });
    reg("core_model_check/" + ctx, [k](benchmark::State& s) { core_model_check(s, k); });
    reg("core_describe/" + ctx, [k](benchmark::State& s) { core_describe(s, k); });
    reg("core_rejected/" + ctx, [k](benchmark::State& s) { core_rejected(s, k); });
    reg("core_rejected_throw/" + ctx, [k](benchmark::State& s) { core_rejected_throw(s, k); });
    reg("capi_dlpack/" + ctx, [k, cpu](benchmark::State& s) { capi_dlpack<false>(s, k, cpu); });
    reg("capi_dlpack_versioned/" + ctx, [k, cpu](benchmark::State& s) { capi_dlpack<true>(s, k, cpu); });
    reg("capi_forward/" + ctx, [k](benchmark::State& s) { capi_forward(s, k); });
    reg("capi_model_check/" + ctx, [k](benchmark::State& s) { capi_model_check(s, k); });
    reg("capi_describe/" + ctx, [k](benchmark::State& s) { capi_describe(s, k); });
    reg("capi_rejected/" + ctx, [k](benchmark::State& s) { capi_rejected(s, k); });
  }
  reg("capi_mot_and_slice/mot", [](benchmark::State& s) { capi_mot_and_slice(s, Memory::cpu_strategy); });
  reg("capi_one_import/prefix_embeds", [](benchmark::State& s) { capi_one_import(s); });
  reg("capi_builder_only/empty", [](benchmark::State& s) { capi_builder_only(s); });

  reg("capi_request_check/mot", [](benchmark::State& s) { capi_request_check(s); });
  reg("capi_full_request/mot", [](benchmark::State& s) { capi_full_request(s); });
  reg("core_token_ids/1Mi_int64", [](benchmark::State& s) { core_token_ids(s); });
  reg("floor_minmax/1Mi_int64", [](benchmark::State& s) { floor_minmax(s); });
  reg("floor_atomic_pair/refcount", [](benchmark::State& s) { floor_atomic_pair(s); });
  reg("floor_malloc_free/192B", [](benchmark::State& s) { floor_malloc_free(s); });
  reg("floor_for_blob/tensor", [](benchmark::State& s) { floor_for_blob(s); });
  reg("floor_make_tensor_view/tensor", [](benchmark::State& s) { floor_make_tensor_view(s); });

  // Flat in size: the same MoT request with every tensor 1 KiB, 1 GiB
  // (resident), or 1 GiB of cuda:0 memory that is only described.
  for (Memory m : {Memory::cpu_1KiB, Memory::cpu_1GiB, Memory::cuda_1GiB}) {
    const std::string suffix = std::string("mot/") + memory_name(m);
    reg("size_core_build_forward/" + suffix, [m](benchmark::State& s) { core_build_forward(s, Kind::mot, m); });
    reg("size_capi_dlpack/" + suffix, [m](benchmark::State& s) { capi_dlpack<false>(s, Kind::mot, m); });
    reg("size_capi_dlpack_versioned/" + suffix, [m](benchmark::State& s) { capi_dlpack<true>(s, Kind::mot, m); });
  }

  reg("size_paired/core_build_forward", [](benchmark::State& s) {
    size_paired(s, [](Memory m) {
      const Held& h = held(Kind::mot, m);
      modctx::ModalityContext ctx(h.fields());
      benchmark::DoNotOptimize(&ctx);
      return modctx::validate_forward(ctx.facts(), h.spec.forward).ok();
    });
  });
  reg("size_paired/capi_dlpack", [](benchmark::State& s) {
    size_paired(s, [](Memory m) { return bench::capi_request<false>(held_dlpack(Kind::mot, m)) == MODCTX_OK; });
  });
  reg("size_paired/capi_dlpack_versioned", [](benchmark::State& s) {
    size_paired(s, [](Memory m) { return bench::capi_request<true>(held_dlpack(Kind::mot, m)) == MODCTX_OK; });
  });

  benchmark::AddCustomContext("modctx", modctx_version());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
