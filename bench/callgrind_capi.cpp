// Instruction counts per request, under callgrind (repeatable where wall
// time on a shared machine is not). Run through bench/profile.sh:
//
//   valgrind --tool=callgrind --toggle-collect=bench_loop build-bench/bench/callgrind_capi CASE N
//
// Only bench_loop is counted: setup (tensors, LibTorch's first-use work) and
// a warm-up of the same case run before it, uncounted.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "contexts.hpp"

namespace {

using bench::Kind;

bench::HeldDLPack* g_dl = nullptr;
bench::Held* g_held = nullptr;
modctx_context* g_ctx = nullptr;  // capi_check_request: built once, before the counted loop
modctx_request g_request{};
int (*g_case)() = nullptr;

int capi_legacy() { return bench::capi_request<false>(*g_dl) == MODCTX_OK; }
int capi_versioned() { return bench::capi_request<true>(*g_dl) == MODCTX_OK; }
int capi_full_request() {
  return bench::capi_request<false>(*g_dl, false, &bench::mot_model_from_config(), &g_request) == MODCTX_OK;
}
int capi_check_request() { return modctx_check_request(g_ctx, &bench::mot_model_from_config(), &g_request, 0) == MODCTX_OK; }
int capi_rejected() { return bench::capi_request<false>(*g_dl, true) != MODCTX_OK; }
int capi_builder_only() {
  modctx_builder* b = nullptr;
  modctx_builder_new(&b);
  modctx_builder_free(b);
  return b != nullptr;
}
int capi_one_import() {
  modctx_builder* b = nullptr;
  modctx_builder_new(&b);
  const int ok = modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, &g_dl->dl[0].legacy) == MODCTX_OK;
  modctx_builder_free(b);
  return ok;
}
int capi_mot_and_slice() {
  static bench::DLPackOf hidden(bench::described_only({bench::B, bench::N + bench::T, bench::D}, at::kBFloat16));
  return bench::capi_mot_and_slice_request(*g_dl, hidden, bench::T) == MODCTX_OK;
}
int core_build_forward() {
  modctx::ModalityContext ctx(g_held->fields());
  return modctx::validate_forward(ctx.facts(), g_held->spec.forward).ok();
}
int core_rejected() {
  modctx::ContextFields f = g_held->fields();
  f[g_held->spec.rejected_extra.field] = g_held->extra;
  modctx::ModalityContext ctx;
  return !modctx::ModalityContext::make(std::move(f), &ctx).ok();
}

}  // namespace

extern "C" __attribute__((noinline)) int bench_loop(long n) {
  int ok = 1;
  for (long i = 0; i < n; ++i) ok &= g_case();
  return ok;
}

int main(int argc, char** argv) {
  struct Case {
    const char* name;
    int (*fn)();
  };
  static const Case kCases[] = {
      {"capi_dlpack", capi_legacy},          {"capi_dlpack_versioned", capi_versioned},
      {"capi_rejected", capi_rejected},      {"capi_builder_only", capi_builder_only},
      {"capi_one_import", capi_one_import},  {"core_build_forward", core_build_forward},
      {"core_rejected", core_rejected},      {"capi_mot_and_slice", capi_mot_and_slice},
      {"capi_full_request", capi_full_request}, {"capi_check_request", capi_check_request},
  };
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: callgrind_capi CASE CONTEXT N [MEMORY]\n  CASE:");
    for (const auto& c : kCases) std::fprintf(stderr, " %s", c.name);
    std::fprintf(stderr, "\n  CONTEXT: text_only pipeline_middle joint_decoder cross_attention mot\n");
    std::fprintf(stderr, "  MEMORY: cuda_1GiB (default: described only), cpu_1KiB, cpu_1GiB, cpu\n");
    return 2;
  }
  for (const auto& c : kCases)
    if (std::strcmp(c.name, argv[1]) == 0) g_case = c.fn;
  Kind kind = Kind::mot;
  bool found = false;
  for (Kind k : bench::kKinds)
    if (std::strcmp(bench::kind_name(k), argv[2]) == 0) kind = k, found = true;
  const long n = std::atol(argv[3]);
  // Default: described-only cuda:0 tensors, nothing to allocate under valgrind.
  bench::Memory memory = bench::Memory::cuda_1GiB;
  const std::string m = argc == 5 ? argv[4] : "cuda_1GiB";
  if (m == "cpu_1KiB") memory = bench::Memory::cpu_1KiB;
  else if (m == "cpu_1GiB") memory = bench::Memory::cpu_1GiB;
  else if (m == "cpu") memory = bench::Memory::cpu_strategy;
  else if (m != "cuda_1GiB") found = false;
  if (!g_case || !found || n <= 0) {
    std::fprintf(stderr, "callgrind_capi: unknown case, context or memory, or N <= 0\n");
    return 2;
  }
  static bench::HeldDLPack dl(kind, memory);
  g_dl = &dl;
  g_held = &dl.held;
  g_ctx = bench::built_from_dlpack(dl);
  g_request = bench::mot_request();
  static DLTensor tokens = bench::mot_tokens();  // on the fields' device (a description on cuda:0 by default)
  tokens.device = dl.dl[0].legacy.dl_tensor.device;
  g_request.tokens = &tokens;
  int ok = 1;
  for (int i = 0; i < 1000; ++i) ok &= g_case();  // warm-up, not counted
  ok &= bench_loop(n);
  if (!ok) {
    std::fprintf(stderr, "callgrind_capi: case failed: %s\n", modctx_last_error());
    return 1;
  }
  std::printf("%s %s %s %ld iterations\n", argv[1], argv[2], m.c_str(), n);
  return 0;
}
