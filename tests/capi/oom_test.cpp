// Out of memory: an allocation failure injected at every allocation a
// sequence of C ABI calls makes must end in MODCTX_ERR_OUT_OF_MEMORY from the
// call that was making it, with nothing leaked and the deleter rule kept
// (a tensor handed in is always consumed: its deleter runs exactly once).
//
// This program replaces the global operator new and delete (every form);
// libmodctx.so, LibTorch and libstdc++ resolve to these, so the countdown
// sees every C++ allocation made on a call's path. For N = 1, 2, ... the
// whole sequence runs again with the Nth allocation failing, until a run
// completes without reaching N. Two modes: only the Nth allocation fails
// ("once"), or the Nth and every later one until the call returns
// ("persistent": the error path itself may not allocate). At each N:
//   - the call during which the allocation failed returns
//     MODCTX_ERR_OUT_OF_MEMORY (a call expected to fail may instead return
//     its own status, its message lost), with a message, and *out NULL;
//   - a tensor handed to that call has had its deleter run exactly once
//     when it returns; after everything is freed each tensor's deleter has
//     run exactly once and no test tensor is left;
//   - the allocations live before the run are the allocations live after it
//     (no leak; under AddressSanitizer the leak checker agrees).
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "modctx.h"
extern "C" {
#include "test_tensors.h"
}

// ------------------------------------------------------------------ the allocator

namespace {

std::atomic<long> g_countdown{0};  // > 0: allocations left before the failing one
std::atomic<bool> g_persistent{false};
std::atomic<bool> g_failing{false};  // persistent mode, after the first failure
std::atomic<long> g_failures{0};     // injected failures so far
std::atomic<long> g_live{0};         // blocks from operator new not yet deleted

bool inject() noexcept {
  if (g_failing.load(std::memory_order_relaxed)) {
    g_failures.fetch_add(1);
    return true;
  }
  long left = g_countdown.load(std::memory_order_relaxed);
  while (left > 0) {
    if (g_countdown.compare_exchange_weak(left, left - 1)) {
      if (left != 1) return false;
      g_failures.fetch_add(1);
      if (g_persistent.load()) g_failing.store(true);
      return true;
    }
  }
  return false;
}

void* allocate(std::size_t size, std::size_t alignment) noexcept {
  if (inject()) return nullptr;
  void* p = nullptr;
  if (alignment > alignof(std::max_align_t)) {
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) p = nullptr;
  } else {
    p = std::malloc(size ? size : 1);
  }
  if (p) g_live.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void release(void* p) noexcept {
  if (!p) return;
  g_live.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}

void* allocate_or_throw(std::size_t size, std::size_t alignment) {
  void* p = allocate(size, alignment);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }

// ------------------------------------------------------------------ the sequence

namespace {

int g_problems = 0;

void problem(const std::string& what) {
  ++g_problems;
  if (g_problems <= 30) std::fprintf(stderr, "FAILED: %s\n", what.c_str());
}

float g_hidden[2 * 6 * 4];
float g_prefix[2 * 4 * 8];
int64_t g_ids[2 * 10];
uint8_t g_mask[2 * 10];

void count_release(void* counter) { __atomic_add_fetch(static_cast<int*>(counter), 1, __ATOMIC_SEQ_CST); }

// One run of the sequence. Test tensors come from calloc (test_tensors.c),
// so making them is not counted; only modctx's own allocations are.
class Run {
 public:
  // A step: the call, the status it gives when memory suffices, and the
  // tensor counter (if any) of a tensor it consumes.
  struct Step {
    const char* name;
    modctx_status normal;
    std::function<modctx_status()> call;
    int* consumed = nullptr;       // deleter counter of a tensor handed in
    void** out = nullptr;          // an out pointer that must be NULL on failure
  };

  // Returns false when the run completed without reaching the failing allocation.
  bool run(long n, bool persistent, bool check) {
    build_steps();
    g_failing = false;
    g_persistent = persistent;
    g_failures = 0;
    long remaining = n;  // allocations left before the failing one; 0: no injection
    size_t failed_step = steps_.size();
    size_t executed = 0;
    for (size_t i = 0; i < steps_.size(); ++i) {
      Step& s = steps_[i];
      executed = i + 1;
      const long before = g_failures.load();
      g_countdown = remaining;  // armed during the call only, not in this harness
      const modctx_status got = s.call();
      remaining = g_countdown.exchange(0);
      g_failing = false;  // persistent failure lasts until the call returns
      const bool injected = g_failures.load() != before;
      if (!check) continue;
      const std::string where = std::string(persistent ? "persistent" : "once") + " N=" + std::to_string(n) +
                                ", " + s.name + ": ";
      if (injected) {
        failed_step = i;
        if (std::getenv("MODCTX_OOM_VERBOSE"))
          std::fprintf(stderr, "%s N=%ld: %s -> %s (%s)\n", persistent ? "persistent" : "once", n, s.name,
                       modctx_status_name(got), modctx_last_error());
        const bool ok = got == MODCTX_ERR_OUT_OF_MEMORY || (s.normal != MODCTX_OK && got == s.normal);
        if (!ok)
          problem(where + "allocation failed, returned " + modctx_status_name(got) + " (" + modctx_last_error() +
                  "), wanted MODCTX_ERR_OUT_OF_MEMORY");
        if (got != MODCTX_OK && modctx_last_error()[0] == '\0') problem(where + "no message");
        if (got == MODCTX_ERR_OUT_OF_MEMORY && s.out && *s.out) problem(where + "*out not NULL after failure");
        if (s.consumed && *s.consumed != 1)
          problem(where + "deleter ran " + std::to_string(*s.consumed) + " times before the failed call returned");
        break;
      }
      if (got != s.normal)
        problem(where + "returned " + modctx_status_name(got) + " (" + modctx_last_error() + "), wanted " +
                modctx_status_name(s.normal));
    }
    g_countdown = 0;
    g_failing = false;
    cleanup();
    if (check) {
      const std::string where = std::string(persistent ? "persistent" : "once") + " N=" + std::to_string(n) + ": ";
      for (size_t i = 0; i < executed; ++i)
        if (steps_[i].consumed && *steps_[i].consumed != 1)
          problem(where + steps_[i].name + ": deleter ran " + std::to_string(*steps_[i].consumed) +
                  " times after everything was freed");
      if (tt_live_allocations() != 0) problem(where + std::to_string(tt_live_allocations()) + " test tensors left");
    }
    return failed_step < steps_.size();
  }

 private:
  std::vector<Step> steps_;
  std::vector<std::unique_ptr<int>> counters_;  // one per tensor handed in (fresh per run)
  modctx_builder *b_ = nullptr, *b2_ = nullptr;
  modctx_context *ctx_ = nullptr, *retained_ = nullptr, *ctx2_ = nullptr;
  DLManagedTensor *out1_ = nullptr, *out3_ = nullptr;
  DLManagedTensorVersioned* out2_ = nullptr;
  char describe_[512];
  size_t describe_len_ = 0;
  modctx_model model_{};

  int* counter() {
    counters_.push_back(std::make_unique<int>(0));
    return counters_.back().get();
  }

  void cleanup() {
    if (out1_) out1_->deleter(out1_);
    if (out2_) out2_->deleter(out2_);
    if (out3_) out3_->deleter(out3_);
    out1_ = out3_ = nullptr;
    out2_ = nullptr;
    modctx_builder_free(b_);
    modctx_builder_free(b2_);
    modctx_context_free(ctx_);
    modctx_context_free(retained_);
    modctx_context_free(ctx2_);
    b_ = b2_ = nullptr;
    ctx_ = retained_ = ctx2_ = nullptr;
  }

  // A tensor handed in: made now (calloc), consumed by the step's call.
  template <class Make>
  void hand_in(const char* name, modctx_status normal, Make make) {
    int* c = counter();
    steps_.push_back(Step{name, normal, [c, make] { return make(c); }, c});
  }

  void build_steps() {
    steps_.clear();
    counters_.clear();
    static const int64_t prefix_shape[3] = {2, 4, 8};
    static const int64_t ids_shape[2] = {2, 10};
    static const int64_t hidden_shape[3] = {2, 6, 4};
    static const int64_t bad_shape[2] = {2, -3};

    steps_.push_back({"modctx_builder_new", MODCTX_OK, [this] { return modctx_builder_new(&b_); }, nullptr,
                      reinterpret_cast<void**>(&b_)});
    hand_in("modctx_builder_set_dlpack(prefix_embeds)", MODCTX_OK, [this](int* c) {
      return modctx_builder_set_dlpack(b_, MODCTX_FIELD_PREFIX_EMBEDS,
                                       tt_dlpack(g_prefix, kDLFloat, 32, 3, prefix_shape, nullptr, c));
    });
    hand_in("modctx_builder_set_dlpack_versioned(modality_ids)", MODCTX_OK, [this](int* c) {
      return modctx_builder_set_dlpack_versioned(
          b_, MODCTX_FIELD_MODALITY_IDS, tt_dlpack_versioned(g_ids, kDLInt, 64, 2, ids_shape, nullptr, 1, 0, c));
    });
    hand_in("modctx_builder_set_tensor(key_padding_mask)", MODCTX_OK, [this](int* c) {
      modctx_tensor_desc d;
      std::memset(&d, 0, sizeof d);
      d.struct_size = sizeof d;
      d.dtype = MODCTX_DTYPE_BOOL;
      d.data = g_mask;
      d.ndim = 2;
      d.shape = ids_shape;
      d.device_type = kDLCPU;
      d.release = count_release;
      d.release_ctx = c;
      return modctx_builder_set_tensor(b_, MODCTX_FIELD_KEY_PADDING_MASK, &d);
    });
    // Replacing a field releases the tensor it held.
    hand_in("modctx_builder_set_dlpack(prefix_embeds, again)", MODCTX_OK, [this](int* c) {
      return modctx_builder_set_dlpack(b_, MODCTX_FIELD_PREFIX_EMBEDS,
                                       tt_dlpack(g_prefix, kDLBfloat, 16, 3, prefix_shape, nullptr, c));
    });
    hand_in("modctx_builder_set_dlpack(hostile descriptor)", MODCTX_ERR_INVALID_ARGUMENT, [this](int* c) {
      return modctx_builder_set_dlpack(b_, MODCTX_FIELD_IMAGE_MASK,
                                       tt_dlpack(g_mask, MODCTX_DLPACK_BOOL, 8, 2, bad_shape, nullptr, c));
    });
    steps_.push_back({"modctx_builder_set_output_slice", MODCTX_OK, [this] {
                        const modctx_slice s = {4, 0, 0, MODCTX_SLICE_HAS_START};
                        return modctx_builder_set_output_slice(b_, &s);
                      }});
    steps_.push_back({"modctx_builder_build", MODCTX_OK, [this] { return modctx_builder_build(b_, &ctx_); },
                      nullptr, reinterpret_cast<void**>(&ctx_)});
    steps_.push_back({"modctx_context_describe", MODCTX_OK, [this] {
                        return modctx_context_describe(ctx_, describe_, sizeof describe_, &describe_len_);
                      }});
    steps_.push_back({"modctx_context_get_dlpack", MODCTX_OK,
                      [this] { return modctx_context_get_dlpack(ctx_, MODCTX_FIELD_PREFIX_EMBEDS, &out1_); }, nullptr,
                      reinterpret_cast<void**>(&out1_)});
    steps_.push_back({"modctx_context_get_dlpack_versioned", MODCTX_OK,
                      [this] { return modctx_context_get_dlpack_versioned(ctx_, MODCTX_FIELD_MODALITY_IDS, &out2_); },
                      nullptr, reinterpret_cast<void**>(&out2_)});
    steps_.push_back({"modctx_context_get_dlpack(unset field)", MODCTX_ERR_MISSING_FIELD, [this] {
                        DLManagedTensor* none = nullptr;
                        const modctx_status s = modctx_context_get_dlpack(ctx_, MODCTX_FIELD_IMAGE_MASK, &none);
                        if (none) none->deleter(none);
                        return s;
                      }});
    steps_.push_back({"modctx_check_forward(tokens)", MODCTX_OK, [this] { return modctx_check_forward(ctx_, 1, 0); }});
    steps_.push_back({"modctx_check_forward(kv caches)", MODCTX_ERR_FORWARD_INPUTS,
                      [this] { return modctx_check_forward(ctx_, 0, 1); }});
    steps_.push_back({"modctx_check_forward(tokens, kv caches)", MODCTX_ERR_KV_CACHE,
                      [this] { return modctx_check_forward(ctx_, 1, 1); }});
    steps_.push_back({"modctx_context_retain", MODCTX_OK, [this] { return modctx_context_retain(ctx_, &retained_); },
                      nullptr, reinterpret_cast<void**>(&retained_)});
    steps_.push_back({"modctx_context_has", MODCTX_OK, [this] {
                        int has = 0;
                        return modctx_context_has(ctx_, MODCTX_FIELD_MODALITY_IDS, &has);
                      }});
    steps_.push_back({"modctx_context_get_output_slice", MODCTX_OK, [this] {
                        int has = 0;
                        modctx_slice s;
                        return modctx_context_get_output_slice(ctx_, &has, &s);
                      }});
    hand_in("modctx_context_apply_output_slice", MODCTX_OK, [this](int* c) {
      return modctx_context_apply_output_slice(ctx_, tt_dlpack(g_hidden, kDLFloat, 32, 3, hidden_shape, nullptr, c),
                                               &out3_);
    });
    steps_.push_back({"modctx_builder_new_from_context", MODCTX_OK,
                      [this] { return modctx_builder_new_from_context(ctx_, &b2_); }, nullptr,
                      reinterpret_cast<void**>(&b2_)});
    steps_.push_back({"modctx_builder_clear", MODCTX_OK,
                      [this] { return modctx_builder_clear(b2_, MODCTX_FIELD_KEY_PADDING_MASK); }});
    hand_in("modctx_builder_set_dlpack(image_features)", MODCTX_OK, [this](int* c) {
      return modctx_builder_set_dlpack(b2_, MODCTX_FIELD_IMAGE_FEATURES,
                                       tt_dlpack(g_prefix, kDLFloat, 32, 3, prefix_shape, nullptr, c));
    });
    steps_.push_back({"modctx_builder_build(routes)", MODCTX_ERR_ROUTES,
                      [this] { return modctx_builder_build(b2_, &ctx2_); }, nullptr, reinterpret_cast<void**>(&ctx2_)});
    steps_.push_back({"modctx_builder_clear(prefix_embeds)", MODCTX_OK,
                      [this] { return modctx_builder_clear(b2_, MODCTX_FIELD_PREFIX_EMBEDS); }});
    steps_.push_back({"modctx_builder_build(modality_ids)", MODCTX_ERR_MODALITY_IDS,
                      [this] { return modctx_builder_build(b2_, &ctx2_); }, nullptr, reinterpret_cast<void**>(&ctx2_)});
    steps_.push_back({"modctx_slice_indices", MODCTX_OK, [] {
                        const modctx_slice s = {-3, 0, 2, MODCTX_SLICE_HAS_START | MODCTX_SLICE_HAS_STEP};
                        int64_t a, b, c, d;
                        return modctx_slice_indices(&s, 10, &a, &b, &c, &d);
                      }});
    steps_.push_back({"modctx_slice_indices(step 0)", MODCTX_ERR_SLICE, [] {
                        const modctx_slice s = {0, 0, 0, MODCTX_SLICE_HAS_STEP};
                        int64_t a, b, c, d;
                        return modctx_slice_indices(&s, 10, &a, &b, &c, &d);
                      }});
    steps_.push_back({"modctx_builder_set_output_slice(bad flags)", MODCTX_ERR_INVALID_ARGUMENT, [this] {
                        const modctx_slice s = {0, 0, 0, 64};
                        return modctx_builder_set_output_slice(b2_, &s);
                      }});
    steps_.push_back({"modctx_get_api", MODCTX_OK, [] {
                        return modctx_get_api(1) && modctx_get_api(MODCTX_ABI_VERSION) ? MODCTX_OK : MODCTX_ERR_INTERNAL;
                      }});
    steps_.push_back({"modctx_get_api(too new)", MODCTX_ERR_UNSUPPORTED, [] {
                        // No status: NULL and a message (which may be the fixed out-of-memory text).
                        if (modctx_get_api(MODCTX_ABI_VERSION + 1)) return MODCTX_ERR_INTERNAL;
                        return modctx_last_error()[0] ? MODCTX_ERR_UNSUPPORTED : MODCTX_ERR_INTERNAL;
                      }});
    // The argument errors of the calls that allocate nothing when they
    // succeed: their message is built inside the guard too (entry.hpp).
    steps_.push_back({"modctx_context_retain(NULL context)", MODCTX_ERR_INVALID_ARGUMENT, [] {
                        modctx_context* none = nullptr;
                        return modctx_context_retain(nullptr, &none);
                      }});
    steps_.push_back({"modctx_context_has(unknown field)", MODCTX_ERR_INVALID_ARGUMENT, [this] {
                        int has = 0;
                        return modctx_context_has(ctx_, static_cast<modctx_field>(77), &has);
                      }});
    steps_.push_back({"modctx_context_get_output_slice(NULL context)", MODCTX_ERR_INVALID_ARGUMENT, [] {
                        int has = 0;
                        modctx_slice s;
                        return modctx_context_get_output_slice(nullptr, &has, &s);
                      }});
    steps_.push_back({"modctx_slice_indices(bad flags)", MODCTX_ERR_INVALID_ARGUMENT, [] {
                        const modctx_slice s = {0, 0, 0, 64};
                        int64_t a, b, c, d;
                        return modctx_slice_indices(&s, 10, &a, &b, &c, &d);
                      }});
    hand_in("modctx_builder_set_dlpack(NULL builder)", MODCTX_ERR_INVALID_ARGUMENT, [](int* c) {
      return modctx_builder_set_dlpack(nullptr, MODCTX_FIELD_PREFIX_EMBEDS,
                                       tt_dlpack(g_prefix, kDLFloat, 32, 3, prefix_shape, nullptr, c));
    });

    // ABI version 2: models from configs, whole requests (borrowed tensors:
    // nothing to release), status classes.
    steps_.push_back({"modctx_status_class_of", MODCTX_OK, [] {
                        return modctx_status_class_of(MODCTX_ERR_LENGTH) == MODCTX_CLASS_REQUEST ? MODCTX_OK
                                                                                                 : MODCTX_ERR_INTERNAL;
                      }});
    steps_.push_back({"modctx_model_from_config_string", MODCTX_OK, [this] {
                        static const char config[] =
                            "[model]\ndim = 8\nn_heads = 2\nn_kv_heads = 2\nvocab_size = 10\nmax_seq_len = 16\n"
                            "[vision_encoder]\ntype = \"random\"\nfeature_dim = 8\nnum_tokens = 4\n"
                            "[vlm]\narch = \"mot\"\nmax_text_len = 6\n";
                        std::memset(&model_, 0, sizeof model_);
                        model_.struct_size = sizeof model_;
                        return modctx_model_from_config_string(config, sizeof config - 1, &model_);
                      }});
    steps_.push_back({"modctx_model_from_config_string(bad key)", MODCTX_ERR_FORMAT, [] {
                        static const char config[] = "[model]\ndim = \"eight\"\n";
                        modctx_model m;
                        std::memset(&m, 0, sizeof m);
                        m.struct_size = sizeof m;
                        return modctx_model_from_config_string(config, sizeof config - 1, &m);
                      }});
    steps_.push_back({"modctx_model_from_config(missing file)", MODCTX_ERR_IO, [] {
                        modctx_model m;
                        std::memset(&m, 0, sizeof m);
                        m.struct_size = sizeof m;
                        return modctx_model_from_config("/nonexistent/modctx/train.toml", &m);
                      }});
    // The context: prefix_embeds (2, 4, 8), modality_ids and key_padding_mask (2, 10).
    steps_.push_back({"modctx_check_request(values)", MODCTX_OK, [this] {
                        static int64_t tokens_shape[2] = {2, 6};
                        DLTensor tokens = borrowed_ids(tokens_shape);
                        const modctx_request r = request_of(&tokens);
                        return modctx_check_request(ctx_, &model_, &r,
                                                    MODCTX_CHECK_TOKEN_ID_VALUES | MODCTX_CHECK_MODALITY_ID_VALUES);
                      }});
    steps_.push_back({"modctx_check_request(too long)", MODCTX_ERR_LENGTH, [] {
                        static int64_t tokens_shape[2] = {2, 17};  // 17 positions: past 16
                        DLTensor tokens = borrowed_ids(tokens_shape);
                        DLTensor docs = borrowed_ids(tokens_shape);
                        docs.data = nullptr;  // described only
                        modctx_request r = request_of(&tokens);
                        r.doc_ids = &docs;
                        modctx_model text;
                        std::memset(&text, 0, sizeof text);
                        text.struct_size = sizeof text;
                        text.arch = MODCTX_ARCH_TEXT;
                        text.hidden_size = 8;
                        text.num_image_tokens = -1;
                        text.text_dtype = -1;
                        text.max_seq_len = 16;
                        return modctx_check_request(nullptr, &text, &r, 0);
                      }});
    steps_.push_back({"modctx_check_request(hostile tokens)", MODCTX_ERR_INVALID_ARGUMENT, [this] {
                        static int64_t tokens_shape[2] = {2, 6};
                        DLTensor tokens = borrowed_ids(tokens_shape);
                        tokens.ndim = MODCTX_MAX_NDIM + 1;
                        const modctx_request r = request_of(&tokens);
                        return modctx_check_request(ctx_, &model_, &r, 0);
                      }});
    steps_.push_back({"modctx_check_request(NULL request)", MODCTX_ERR_INVALID_ARGUMENT,
                      [this] { return modctx_check_request(ctx_, &model_, nullptr, 0); }});
    steps_.push_back({"modctx_check_model", MODCTX_ERR_UNSUPPORTED, [this] {
                        static const int64_t tokens_shape[2] = {2, 6};
                        return modctx_check_model(ctx_, &model_, tokens_shape, 2, 0, MODCTX_CHECK_TOKEN_ID_VALUES);
                      }});
  }

  // Token ids (zeros) of `shape` on the host, borrowed by a request.
  static DLTensor borrowed_ids(int64_t* shape) {
    static int64_t ids[64];
    DLTensor t;
    std::memset(&t, 0, sizeof t);
    t.data = ids;
    t.device.device_type = kDLCPU;
    t.ndim = 2;
    t.dtype.code = kDLInt;
    t.dtype.bits = 64;
    t.dtype.lanes = 1;
    t.shape = shape;
    return t;
  }

  static modctx_request request_of(const DLTensor* tokens) {
    modctx_request r;
    std::memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.tokens = tokens;
    return r;
  }
};

}  // namespace

int main() {
  // Warm up: LibTorch's and the library's first-use allocations (registries,
  // this thread's error message buffer) happen outside the measured runs.
  for (int i = 0; i < 3; ++i) Run().run(0, false, i == 2);
  if (g_problems) {
    std::fprintf(stderr, "the sequence fails without any injected failure\n");
    return 1;
  }
  long total = 0;
  for (const bool persistent : {false, true}) {
    long n = 1;
    for (;; ++n) {
      const long live_before = g_live.load();
      const bool reached = Run().run(n, persistent, true);
      const long live_after = g_live.load();
      if (live_after != live_before) {
        problem(std::string(persistent ? "persistent" : "once") + " N=" + std::to_string(n) + ": " +
                std::to_string(live_after - live_before) + " allocations leaked");
      }
      if (!reached) break;
      if (n > 100000) {
        problem("more than 100000 allocations in one run");
        break;
      }
    }
    std::printf("%s: %ld injection points, each ending in MODCTX_ERR_OUT_OF_MEMORY\n",
                persistent ? "persistent failure" : "one failure", n - 1);
    total += n - 1;
  }
  if (g_problems) {
    std::printf("%d problems (first 30 shown above) over %ld injection points\n", g_problems, total);
    return 1;
  }
  std::printf("all %ld injection points passed: status, message, deleters, no leak\n", total);
  return 0;
}
