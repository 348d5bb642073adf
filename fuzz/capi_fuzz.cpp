// libFuzzer target: random sequences of C ABI calls on builders and contexts,
// with random DLPack (legacy and versioned) and modctx_tensor_desc
// descriptors: ndim, shapes, strides, dtypes, devices, byte offsets,
// versions, flags, NULLs, hostile struct sizes, tensors handed back in.
//
// The input is a little program: each op reads its arguments from the bytes
// that follow it (missing bytes read as zero). Besides the sanitizers
// (AddressSanitizer, UndefinedBehaviorSanitizer, leak checking), every call
// is checked against a model of the documented behaviour; a mismatch aborts
// with a message (a finding):
//   - statuses: a known value, never MODCTX_ERR_INTERNAL or _OUT_OF_MEMORY;
//     a failure leaves a non-empty message, a success leaves the last one;
//   - ownership: a tensor handed in has its deleter run exactly once (before
//     the call returns when the call fails), never while a holder lives;
//   - validation: a descriptor is accepted exactly when the README's rules
//     say it is valid (modelled here independently, in 128-bit arithmetic);
//   - export: a tensor handed out describes exactly the memory handed in
//     (same address, dtype, shape, strides, device), and
//     modctx_context_apply_output_slice returns PyTorch's h[:, s, :] view
//     (its address, shape and strides), inside the hidden state's memory;
//   - construction and forward checks, slices and describe() follow the
//     reference's rules.
// Tensor data lives in PROT_NONE memory: reading it would crash.
#include <sys/mman.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capi_shim.h"
#include "modctx.h"

namespace {

[[noreturn]] __attribute__((format(printf, 1, 2))) void finding(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::fputs("capi_fuzz: FINDING: ", stderr);
  std::vfprintf(stderr, fmt, args);
  std::fputc('\n', stderr);
  va_end(args);
  std::abort();
}

#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) finding(__VA_ARGS__); \
  } while (0)

// ------------------------------------------------------------------ input

class Bytes {
 public:
  Bytes(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool empty() const { return n_ == 0; }
  uint8_t u8() {
    if (!n_) return 0;
    --n_;
    return *p_++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return u32() | (static_cast<uint64_t>(u32()) << 32); }
  bool one_in(unsigned n) { return u8() % n == 0; }

  // Integers a hostile caller would try: small ones, edges, raw bits.
  int64_t i64() {
    static constexpr int64_t kSpecial[] = {
        0, 1, 2, 3, 4, 7, 8, 16, 576, 1024, 4096, -1, -2, -576,
        INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, INT64_MAX / 2, INT64_MAX / 8,
        int64_t{1} << 31, int64_t{1} << 32, (int64_t{1} << 32) + 1, int64_t{1} << 40,
        int64_t{1} << 61, int64_t{1} << 62, INT32_MAX, INT32_MIN, UINT32_MAX,
    };
    const uint8_t c = u8();
    if (c < 128) return static_cast<int64_t>(c % 32) - 8;  // -8 ... 23
    if (c < 240) return kSpecial[c % (sizeof kSpecial / sizeof kSpecial[0])];
    return static_cast<int64_t>(u64());
  }
  // A tensor size: mostly 0 ... 4.
  int64_t size() {
    const uint8_t c = u8();
    return c < 200 ? c % 5 : i64();
  }
  int32_t i32_special(std::initializer_list<int32_t> usual) {
    const uint8_t c = u8();
    if (c < 200) return usual.begin()[c % usual.size()];
    static constexpr int32_t kOdd[] = {-1, INT32_MIN, INT32_MAX, 99, 127, 128, 255, 256, 1000};
    if (c < 250) return kOdd[c % (sizeof kOdd / sizeof kOdd[0])];
    return static_cast<int32_t>(u32());
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// ------------------------------------------------------------------ memory nobody may read

constexpr size_t kArenaSize = size_t{1} << 20;
char* g_arena = nullptr;  // PROT_NONE: tensor data pointers point here

// Enum arguments (field, status, dtype) may be negative, as a C caller may
// pass them; MODCTX_FUZZ_IN_RANGE_ENUMS=1 keeps them within the enums'
// declared range [0, 2^31) (to fuzz past a known enum finding).
bool g_negative_enums = true;
// MODCTX_FUZZ_TRACE=1: print each call and descriptor (to read a reproducer).
bool g_trace = false;

void trace_dltensor(const char* what, const DLTensor& t) {
  if (!g_trace) return;
  int32_t type;
  std::memcpy(&type, &t.device.device_type, sizeof type);
  std::fprintf(stderr, "  %s: data %p, ndim %d, dtype (%u, %u, %u), device (%d, %d), byte_offset %" PRIu64, what,
               t.data, t.ndim, t.dtype.code, t.dtype.bits, t.dtype.lanes, type, t.device.device_id, t.byte_offset);
  const int n = t.ndim >= 0 && t.ndim <= MODCTX_MAX_NDIM ? t.ndim : 0;
  if (t.shape) {
    std::fputs(", shape [", stderr);
    for (int i = 0; i < n; ++i) std::fprintf(stderr, "%s%" PRId64, i ? ", " : "", t.shape[i]);
    std::fputc(']', stderr);
  }
  if (t.strides) {
    std::fputs(", strides [", stderr);
    for (int i = 0; i < n; ++i) std::fprintf(stderr, "%s%" PRId64, i ? ", " : "", t.strides[i]);
    std::fputc(']', stderr);
  }
  std::fputc('\n', stderr);
}

int enum_value(int v) { return g_negative_enums ? v : v & 0x7fffffff; }
// DLDeviceType's declared range is [0, 31] (its values reach 17).
int device_type_value(int v) { return g_negative_enums ? v : v & 31; }

// The device type's bits, read without a DLDeviceType load (a C caller may
// store any int there; C++ may not load it as the enum).
int32_t device_type_of(const DLDevice& d) {
  int32_t v;
  static_assert(sizeof d.device_type == sizeof v, "DLDeviceType is int-sized");
  std::memcpy(&v, &d.device_type, sizeof v);
  return v;
}
void set_device_type(DLDevice* d, int32_t v) { std::memcpy(&d->device_type, &v, sizeof v); }

void* pick_data(Bytes& in, size_t* choice_out = nullptr) {
  const uint8_t c = in.u8() % 8;
  if (choice_out) *choice_out = c;
  switch (c) {
    case 0: return nullptr;
    case 1: case 2: case 3: return g_arena + 64 * (in.u8() % 64);             // aligned
    case 4: return g_arena + (in.u16() % 4096);                               // maybe misaligned
    case 5: return reinterpret_cast<void*>(UINTPTR_MAX - (in.u16() % 4096));  // near the end
    case 6: return reinterpret_cast<void*>(static_cast<uintptr_t>(in.u64())); // anything
    default: return g_arena + kArenaSize - 64 * (1 + in.u8() % 16);           // near the arena's end
  }
}

// ------------------------------------------------------------------ deleter bookkeeping

struct Tracker {
  std::vector<int> runs;      // deleter runs per counted tensor
  std::vector<int> expected;  // 1, or 0 when modctx cannot see the deleter
  std::vector<bool> handed;   // handed to modctx yet
  int add(int expect) {
    runs.push_back(0);
    expected.push_back(expect);
    handed.push_back(false);
    return static_cast<int>(runs.size()) - 1;
  }
  void ran(int id) {
    CHECK(id >= 0 && static_cast<size_t>(id) < runs.size(), "a deleter ran with a foreign context");
    CHECK(handed[id], "tensor %d: deleter ran before it was handed in", id);
    CHECK(runs[id] == 0, "tensor %d: deleter ran twice", id);
    ++runs[id];
  }
};
Tracker* g_tracker = nullptr;

// A tensor the fuzzer hands in. shape/strides are exact-size heap arrays, so
// that reading past ndim entries is a heap overflow.
struct LegacyTensor {
  DLManagedTensor managed{};
  int id = -1;
  int64_t* shape = nullptr;
  int64_t* strides = nullptr;
};
struct VersionedTensor {
  DLManagedTensorVersioned managed{};
  int id = -1;
  int64_t* shape = nullptr;
  int64_t* strides = nullptr;
};

template <class T>
void free_tensor(T* t) {
  delete[] t->shape;
  delete[] t->strides;
  delete t;
}

void legacy_deleter(DLManagedTensor* self) {
  auto* t = static_cast<LegacyTensor*>(self->manager_ctx);
  g_tracker->ran(t->id);
  free_tensor(t);
}
void versioned_deleter(DLManagedTensorVersioned* self) {
  auto* t = static_cast<VersionedTensor*>(self->manager_ctx);
  g_tracker->ran(t->id);
  free_tensor(t);
}
void desc_release(void* ctx) { g_tracker->ran(static_cast<int>(reinterpret_cast<intptr_t>(ctx)) - 1); }

// Structs with a NULL deleter (or a desc too short to carry one): modctx
// never frees them; the fuzzer does, at the end of the input.
struct Unmanaged {
  std::vector<LegacyTensor*> legacy;
  std::vector<VersionedTensor*> versioned;
  ~Unmanaged() {
    for (auto* t : legacy) free_tensor(t);
    for (auto* t : versioned) free_tensor(t);
  }
};

// ------------------------------------------------------------------ the model

// What a tensor held by modctx must look like when handed out.
struct Layout {
  uintptr_t data = 0;
  int32_t ndim = 0;
  std::vector<int64_t> shape, strides;
  uint8_t code = 0, bits = 0;
  int32_t device_type = 0, device_id = 0;
  size_t itemsize = 0;
};

struct Verdict {
  bool accept = false;
  Layout layout;
};

struct DtypeInfo {
  uint8_t code, bits;
  size_t itemsize, alignment;
};

// DLPack (code, bits) pairs LibTorch 1.13 has a type for.
std::optional<DtypeInfo> dtype_info(unsigned code, unsigned bits) {
  static constexpr DtypeInfo kKnown[] = {
      {0, 8, 1, 1},   {0, 16, 2, 2},  {0, 32, 4, 4},   {0, 64, 8, 8},    {1, 8, 1, 1},
      {2, 16, 2, 2},  {2, 32, 4, 4},  {2, 64, 8, 8},   {4, 16, 2, 2},    {5, 32, 4, 2},
      {5, 64, 8, 4},  {5, 128, 16, 8}, {6, 8, 1, 1},
  };
  for (const auto& k : kKnown)
    if (k.code == code && k.bits == bits) return k;
  return std::nullopt;
}

// The README's validation rules, written independently of modctx.
Verdict model_dltensor(const DLTensor& t) {
  Verdict v;
  if (t.dtype.lanes != 1) return v;
  const auto info = dtype_info(t.dtype.code, t.dtype.bits);
  if (!info) return v;
  const int32_t type = device_type_of(t.device), id = t.device.device_id;
  if (id < 0) return v;
  bool address = true;
  int32_t out_type = type, out_id = id;
  switch (type) {
    case 1: case 3: case 11: out_type = 1; out_id = 0; break;        // CPU, CUDA host, ROCm host
    case 2: case 13: out_type = 2; break;                            // CUDA, CUDA managed
    case 10: case 14: break;                                         // ROCm, oneAPI
    case 4: case 7: case 8: address = false; break;                  // OpenCL, Vulkan, Metal: handles
    default: return v;
  }
  if (out_type != 1 && id > 127) return v;
  if (t.ndim < 0 || t.ndim > MODCTX_MAX_NDIM) return v;
  if (t.ndim > 0 && !t.shape) return v;
  const int n = t.ndim;
  unsigned __int128 product = 1;
  bool empty = false;
  for (int i = 0; i < n; ++i) {
    if (t.shape[i] < 0) return v;
    if (t.shape[i] == 0) empty = true;
    product *= static_cast<unsigned __int128>(t.shape[i] ? t.shape[i] : 1);
    if (product > static_cast<unsigned __int128>(INT64_MAX)) return v;
  }
  if (t.strides)
    for (int i = 0; i < n; ++i)
      if (t.strides[i] < 0) return v;
  if (t.byte_offset % info->itemsize) return v;
  // data + byte_offset is formed even for an empty tensor: it may not wrap.
  if (t.data && static_cast<unsigned __int128>(reinterpret_cast<uintptr_t>(t.data)) + t.byte_offset >
                    static_cast<unsigned __int128>(UINTPTR_MAX))
    return v;
  // Contiguous strides: products of max(size, 1) of the later sizes.
  std::vector<int64_t> strides(static_cast<size_t>(n));
  int64_t running = 1;
  for (int i = n - 1; i >= 0; --i) {
    strides[static_cast<size_t>(i)] = t.strides ? t.strides[i] : running;
    running *= t.shape[i] ? t.shape[i] : 1;
  }
  if (!empty) {
    if (!t.data) return v;
    unsigned __int128 last = 0;
    const unsigned __int128 limit = static_cast<unsigned __int128>(INT64_MAX);
    for (int i = 0; i < n; ++i) {
      last += static_cast<unsigned __int128>(t.shape[i] - 1) * static_cast<uint64_t>(strides[static_cast<size_t>(i)]);
      if (last > limit) return v;
    }
    const unsigned __int128 extent = (last + 1) * info->itemsize + t.byte_offset;
    if (extent > limit) return v;
    if (address) {
      const uintptr_t base = reinterpret_cast<uintptr_t>(t.data);
      if (static_cast<unsigned __int128>(base) + extent > static_cast<unsigned __int128>(UINTPTR_MAX)) return v;
      if ((base + t.byte_offset) % info->alignment) return v;
    }
  }
  v.accept = true;
  Layout& l = v.layout;
  l.data = t.data ? reinterpret_cast<uintptr_t>(t.data) + t.byte_offset : 0;
  l.ndim = n;
  l.shape.assign(t.shape, t.shape + n);
  l.strides = strides;
  l.code = info->code;
  l.bits = info->bits;
  l.device_type = out_type;
  l.device_id = out_id;
  l.itemsize = info->itemsize;
  return v;
}

Verdict model_versioned(const DLManagedTensorVersioned& t) {
  if (t.version.major != 1) return Verdict{};
  return model_dltensor(t.dl_tensor);
}

Verdict model_desc(const modctx_tensor_desc& d, int dtype, uint32_t readable) {
  if (readable < sizeof(modctx_tensor_desc) || d.struct_size < sizeof(modctx_tensor_desc)) return Verdict{};
  static constexpr uint8_t kCodes[][2] = {{2, 32}, {2, 64}, {2, 16}, {4, 16}, {0, 64}, {0, 32},
                                          {0, 16}, {0, 8},  {1, 8},  {6, 8},  {5, 64}, {5, 128}};
  if (dtype < 0 || dtype >= 12) return Verdict{};
  DLTensor t{};
  t.data = d.data;
  set_device_type(&t.device, d.device_type);
  t.device.device_id = d.device_id;
  t.ndim = d.ndim;
  t.dtype.code = kCodes[dtype][0];
  t.dtype.bits = kCodes[dtype][1];
  t.dtype.lanes = 1;
  t.shape = const_cast<int64_t*>(d.shape);
  t.strides = const_cast<int64_t*>(d.strides);
  t.byte_offset = 0;
  return model_dltensor(t);
}

// A handed-out tensor must describe exactly `want`.
void check_export(const DLTensor& t, const Layout& want, const char* what) {
  CHECK(t.ndim == want.ndim, "%s: ndim %d, wanted %d", what, t.ndim, want.ndim);
  CHECK(t.ndim == 0 || (t.shape && t.strides), "%s: shape or strides missing", what);
  CHECK(reinterpret_cast<uintptr_t>(t.data) == want.data, "%s: data %p, wanted %#" PRIxPTR, what, t.data,
        want.data);
  CHECK(t.byte_offset == 0, "%s: byte_offset %" PRIu64, what, t.byte_offset);
  CHECK(t.dtype.code == want.code && t.dtype.bits == want.bits && t.dtype.lanes == 1,
        "%s: dtype (%u, %u, %u), wanted (%u, %u, 1)", what, t.dtype.code, t.dtype.bits, t.dtype.lanes, want.code,
        want.bits);
  CHECK(device_type_of(t.device) == want.device_type && t.device.device_id == want.device_id,
        "%s: device (%d, %d), wanted (%d, %d)", what, device_type_of(t.device), t.device.device_id,
        want.device_type, want.device_id);
  for (int i = 0; i < t.ndim; ++i) {
    CHECK(t.shape[i] == want.shape[static_cast<size_t>(i)], "%s: shape[%d] %" PRId64 ", wanted %" PRId64, what, i,
          t.shape[i], want.shape[static_cast<size_t>(i)]);
    CHECK(t.strides[i] == want.strides[static_cast<size_t>(i)], "%s: strides[%d] %" PRId64 ", wanted %" PRId64,
          what, i, t.strides[i], want.strides[static_cast<size_t>(i)]);
  }
}

struct SliceModel {
  int64_t start = 0, stop = 0, step = 0;
  uint32_t flags = 0;
  bool has(uint32_t f) const { return (flags & f) != 0; }
};

struct State {
  std::optional<Layout> fields[MODCTX_FIELD_COUNT];
  std::optional<SliceModel> slice;
  bool has(int f) const { return fields[f].has_value(); }
};

// The construction checks, in the reference's order.
modctx_status model_build(const State& s) {
  if (int{s.has(0)} + int{s.has(1)} + int{s.has(2)} > 1) return MODCTX_ERR_ROUTES;
  if (s.has(3) && !s.has(2)) return MODCTX_ERR_IMAGE_MASK;
  if (s.has(4) && !s.has(0) && !s.has(1)) return MODCTX_ERR_MODALITY_IDS;
  if (s.has(5) && !s.has(0) && !s.has(1)) return MODCTX_ERR_KEY_PADDING_MASK;
  return MODCTX_OK;
}

modctx_status model_forward(const State& s, bool tokens, bool kv) {
  if (tokens == s.has(0)) return MODCTX_ERR_FORWARD_INPUTS;
  if (kv && (s.slice || s.has(1) || s.has(2) || s.has(4))) return MODCTX_ERR_KV_CACHE;
  if (s.has(4) && !(s.fields[4]->code == 0 && s.fields[4]->bits == 64)) return MODCTX_ERR_DTYPE;
  return MODCTX_OK;
}

// Python's slice.indices(length) and len(range(...)), in 128 bits.
struct PyIndices {
  int64_t start, stop, step, count;
};
bool py_indices(const SliceModel& s, int64_t length, PyIndices* out, bool* step_zero) {
  const int64_t step = s.has(MODCTX_SLICE_HAS_STEP) ? s.step : 1;
  *step_zero = step == 0;
  if (step == 0 || length < 0) return false;
  const bool back = step < 0;
  const __int128 lower = back ? -1 : 0, upper = back ? __int128{length} - 1 : __int128{length};
  auto adjust = [&](int64_t value) -> __int128 {
    __int128 x = value;
    if (x < 0) {
      x += length;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const __int128 b = s.has(MODCTX_SLICE_HAS_START) ? adjust(s.start) : (back ? upper : lower);
  const __int128 e = s.has(MODCTX_SLICE_HAS_STOP) ? adjust(s.stop) : (back ? lower : upper);
  __int128 count = 0;
  if (!back && b < e) count = (e - b - 1) / step + 1;
  if (back && e < b) count = (b - e - 1) / -__int128{step} + 1;
  *out = PyIndices{static_cast<int64_t>(b), static_cast<int64_t>(e), step, static_cast<int64_t>(count)};
  return true;
}

// ------------------------------------------------------------------ the session

constexpr int kBuilders = 3, kContexts = 4, kOutputs = 6;

struct BuilderSlot {
  modctx_builder* handle = nullptr;
  State state;
};
struct ContextSlot {
  modctx_context* handle = nullptr;
  std::shared_ptr<const State> state;
};
struct Output {
  DLManagedTensor* legacy = nullptr;
  DLManagedTensorVersioned* versioned = nullptr;
  bool used() const { return legacy || versioned; }
  void drop() {
    if (legacy && legacy->deleter) legacy->deleter(legacy);
    if (versioned && versioned->deleter) versioned->deleter(versioned);
    legacy = nullptr;
    versioned = nullptr;
  }
};

class Session {
 public:
  explicit Session(Bytes in) : in_(in) { g_tracker = &tracker_; }
  ~Session() {
    finish();
    g_tracker = nullptr;
  }
  void run();

 private:
  Bytes in_;
  Tracker tracker_;
  Unmanaged unmanaged_;
  BuilderSlot builders_[kBuilders];
  ContextSlot contexts_[kContexts];
  Output outputs_[kOutputs];
  std::string last_message_ = modctx_last_error();
  bool finished_ = false;

  void finish();
  void op();

  // After every call: a known status, never internal or out of memory; a
  // message on failure; the last message untouched on success.
  modctx_status seen(modctx_status s, const char* call) {
    CHECK(std::strcmp(modctx_status_name(s), "MODCTX_ERR_UNKNOWN") != 0, "%s: unknown status %d", call,
          static_cast<int>(s));
    const char* message = modctx_last_error();
    if (g_trace)
      std::fprintf(stderr, "%s -> %s%s%s\n", call, modctx_status_name(s), s ? ": " : "", s ? message : "");
    CHECK(message != nullptr, "%s: modctx_last_error() is NULL", call);
    CHECK(s != MODCTX_ERR_INTERNAL, "%s: MODCTX_ERR_INTERNAL: %s", call, message);
    CHECK(s != MODCTX_ERR_OUT_OF_MEMORY, "%s: MODCTX_ERR_OUT_OF_MEMORY: %s", call, message);
    if (s == MODCTX_OK) {
      CHECK(last_message_ == message, "%s succeeded but changed the last error to \"%s\"", call, message);
    } else {
      CHECK(*message != '\0', "%s failed (%s) with an empty message", call, modctx_status_name(s));
      last_message_ = message;
    }
    return s;
  }
  void want(modctx_status got, modctx_status wanted, const char* call) {
    CHECK(got == wanted, "%s returned %s, wanted %s (%s)", call, modctx_status_name(got),
          modctx_status_name(wanted), modctx_last_error());
  }

  int pick_field() {
    const uint8_t c = in_.u8();
    if (c < 240) return c % MODCTX_FIELD_COUNT;
    static constexpr int kBad[] = {-1, 6, 7, 100, INT32_MAX, INT32_MIN};
    return enum_value(kBad[c % 6]);
  }
  SliceModel pick_slice() {
    SliceModel s;
    const uint8_t c = in_.u8();
    s.flags = c < 240 ? c % 8 : in_.u32();
    s.start = in_.i64();
    s.stop = in_.i64();
    s.step = in_.i64();
    return s;
  }
  static modctx_slice to_c(const SliceModel& s) { return modctx_slice{s.start, s.stop, s.step, s.flags}; }

  // A fresh descriptor (DLTensor part); shape and strides are exact-size heap arrays.
  void fill_dltensor(DLTensor* t, int64_t** shape_out, int64_t** strides_out);
  // The three ways of handing a tensor in; each returns the model's verdict
  // and the counted tensor's id (-1: not counted).
  struct HandIn {
    Verdict verdict;
    int id = -1;
  };
  DLManagedTensor* make_legacy(HandIn* h);
  DLManagedTensorVersioned* make_versioned(HandIn* h);

  void check_deleter_after(const HandIn& h, modctx_status s, const char* call) {
    if (h.id < 0) return;
    const int runs = tracker_.runs[static_cast<size_t>(h.id)];
    if (s == MODCTX_OK)
      CHECK(runs == 0, "%s succeeded but the deleter already ran", call);
    else
      CHECK(runs == tracker_.expected[static_cast<size_t>(h.id)],
            "%s failed (%s) and the deleter ran %d times before it returned", call, modctx_status_name(s), runs);
  }

  void op_set(int kind);
  void op_build();
  void op_get(bool versioned);
  void op_describe();
  void op_slice_indices();
  void op_apply();
  void op_hand_back();
  void op_get_api();

  ContextSlot* context_or_null() {
    const uint8_t c = in_.u8();
    return c % 8 == 7 ? nullptr : &contexts_[c % kContexts];
  }
  BuilderSlot* builder_or_null() {
    const uint8_t c = in_.u8();
    return c % 8 == 7 ? nullptr : &builders_[c % kBuilders];
  }
  void set_context(ContextSlot& slot, modctx_context* handle, std::shared_ptr<const State> state) {
    modctx_context_free(slot.handle);
    slot.handle = handle;
    slot.state = handle ? std::move(state) : nullptr;
  }
  Output& free_output() {
    Output& o = outputs_[in_.u8() % kOutputs];
    o.drop();
    return o;
  }
};

void Session::fill_dltensor(DLTensor* t, int64_t** shape_out, int64_t** strides_out) {
  const uint8_t nd = in_.u8();
  t->ndim = nd < 230 ? nd % 6 : in_.i32_special({-1, 33, 32, 31, 64, INT32_MAX, INT32_MIN});
  const size_t n = (t->ndim >= 0 && t->ndim <= MODCTX_MAX_NDIM) ? static_cast<size_t>(t->ndim) : 0;
  // Exact-size arrays (new[0] too): modctx may read ndim entries, no more.
  const uint8_t arrays = in_.u8();
  if (arrays % 16 != 15) {
    *shape_out = new int64_t[n];
    for (size_t i = 0; i < n; ++i) (*shape_out)[i] = in_.size();
  }
  if (arrays % 3 == 2) {
    *strides_out = new int64_t[n];
    for (size_t i = 0; i < n; ++i) (*strides_out)[i] = in_.size();
  }
  t->shape = *shape_out;
  t->strides = *strides_out;
  t->data = pick_data(in_);
  const uint8_t d = in_.u8();
  if (d < 200) {
    static constexpr uint8_t kPairs[][2] = {{2, 32}, {2, 16}, {4, 16}, {0, 64}, {0, 32}, {6, 8},  {1, 8},
                                            {2, 64}, {5, 64}, {5, 128}, {5, 32}, {0, 8}, {0, 16}, {6, 1},
                                            {1, 16}, {3, 64}, {8, 8},  {2, 7},  {18, 8}, {255, 32}};
    t->dtype.code = kPairs[d % 20][0];
    t->dtype.bits = kPairs[d % 20][1];
  } else {
    t->dtype.code = in_.u8();
    t->dtype.bits = in_.u8();
  }
  t->dtype.lanes = in_.one_in(16) ? in_.u16() : 1;
  set_device_type(&t->device, device_type_value(in_.u8() < 160 ? 1 : in_.i32_special({1, 2, 3, 4, 7, 8, 9, 10, 11, 12,
                                                                                 13, 14, 15, 16, 17, 0, 18})));
  t->device.device_id = in_.u8() < 160 ? 0 : in_.i32_special({0, 1, 3, 7});
  const uint8_t o = in_.u8();
  t->byte_offset = o < 160 ? 0 : o < 230 ? uint64_t{8} * (o % 8) : static_cast<uint64_t>(in_.i64());
}

DLManagedTensor* Session::make_legacy(HandIn* h) {
  auto* t = new LegacyTensor();
  fill_dltensor(&t->managed.dl_tensor, &t->shape, &t->strides);
  h->verdict = model_dltensor(t->managed.dl_tensor);
  trace_dltensor("DLManagedTensor", t->managed.dl_tensor);
  t->managed.manager_ctx = t;
  if (in_.one_in(16)) {
    t->managed.deleter = nullptr;
    unmanaged_.legacy.push_back(t);
  } else {
    t->managed.deleter = legacy_deleter;
    t->id = h->id = tracker_.add(1);
  }
  return &t->managed;
}

DLManagedTensorVersioned* Session::make_versioned(HandIn* h) {
  auto* t = new VersionedTensor();
  fill_dltensor(&t->managed.dl_tensor, &t->shape, &t->strides);
  const uint8_t v = in_.u8();
  t->managed.version.major = v < 200 ? 1 : v % 4 == 0 ? in_.u32() : v % 4;
  t->managed.version.minor = in_.u8() < 200 ? 0 : in_.u32();
  t->managed.flags = in_.u8() < 128 ? DLPACK_FLAG_BITMASK_READ_ONLY : in_.u64();
  h->verdict = model_versioned(t->managed);
  if (g_trace)
    std::fprintf(stderr, "  version %u.%u, flags %#" PRIx64 "\n", t->managed.version.major, t->managed.version.minor,
                 t->managed.flags);
  trace_dltensor("DLManagedTensorVersioned", t->managed.dl_tensor);
  t->managed.manager_ctx = t;
  if (in_.one_in(16)) {
    t->managed.deleter = nullptr;
    unmanaged_.versioned.push_back(t);
  } else {
    t->managed.deleter = versioned_deleter;
    t->id = h->id = tracker_.add(1);
  }
  return &t->managed;
}

// set_dlpack (kind 0), set_dlpack_versioned (1), set_tensor (2).
void Session::op_set(int kind) {
  BuilderSlot* slot = builder_or_null();
  modctx_builder* b = slot ? slot->handle : nullptr;
  const int field = pick_field();
  const bool null_tensor = in_.one_in(32);
  HandIn h;
  modctx_status s;
  const char* call;
  if (kind == 0) {
    call = "modctx_builder_set_dlpack";
    DLManagedTensor* t = null_tensor ? nullptr : make_legacy(&h);
    if (h.id >= 0) tracker_.handed[static_cast<size_t>(h.id)] = true;
    s = seen(fz_set_dlpack(b, field, t), call);
  } else if (kind == 1) {
    call = "modctx_builder_set_dlpack_versioned";
    DLManagedTensorVersioned* t = null_tensor ? nullptr : make_versioned(&h);
    if (h.id >= 0) tracker_.handed[static_cast<size_t>(h.id)] = true;
    s = seen(fz_set_dlpack_versioned(b, field, t), call);
  } else {
    call = "modctx_builder_set_tensor";
    // The struct is allocated at exactly struct_size bytes when that is
    // smaller than modctx_tensor_desc: modctx may not read past it.
    modctx_tensor_desc d{};
    DLTensor t{};
    int64_t *shape = nullptr, *strides = nullptr;
    fill_dltensor(&t, &shape, &strides);
    const int dtype = enum_value(in_.u8() < 240 ? in_.u8() % 12 : in_.i32_special({12, -1}));
    fz_desc_set_dtype(&d, dtype);
    d.data = t.data;
    d.ndim = t.ndim;
    d.shape = shape;
    d.strides = strides;
    d.device_type = device_type_of(t.device);
    d.device_id = t.device.device_id;
    const uint8_t z = in_.u8();
    d.struct_size = z < 230 ? sizeof d : static_cast<uint32_t>(z % 4 == 0 ? in_.u32() : sizeof d - 8 * (z % 4));
    const uint32_t readable =
        d.struct_size < sizeof d ? (d.struct_size < sizeof(uint32_t) ? sizeof(uint32_t) : d.struct_size)
                                 : static_cast<uint32_t>(sizeof d);
    const bool release_visible = readable == sizeof d;
    if (!in_.one_in(16)) {
      h.id = tracker_.add(release_visible ? 1 : 0);
      tracker_.handed[static_cast<size_t>(h.id)] = true;
      d.release = desc_release;
      d.release_ctx = reinterpret_cast<void*>(static_cast<intptr_t>(h.id) + 1);
    }
    h.verdict = model_desc(d, dtype, readable);
    if (g_trace) std::fprintf(stderr, "  modctx_tensor_desc: struct_size %u, dtype %d\n", d.struct_size, dtype);
    trace_dltensor("  (as DLPack)", t);
    modctx_tensor_desc* arg = nullptr;
    std::unique_ptr<unsigned char[]> storage;
    if (!null_tensor) {
      storage.reset(new unsigned char[readable]);
      std::memcpy(storage.get(), &d, readable);
      arg = reinterpret_cast<modctx_tensor_desc*>(storage.get());
    } else if (h.id >= 0) {
      tracker_.expected[static_cast<size_t>(h.id)] = 0;  // modctx cannot see it
    }
    s = seen(fz_set_tensor(b, field, arg), call);
    delete[] shape;
    delete[] strides;
  }
  const bool args_ok = b && field >= 0 && field < MODCTX_FIELD_COUNT && !null_tensor;
  if (!args_ok) {
    want(s, MODCTX_ERR_INVALID_ARGUMENT, call);
  } else if (h.verdict.accept) {
    want(s, MODCTX_OK, call);
    slot->state.fields[field] = h.verdict.layout;
  } else {
    CHECK(s == MODCTX_ERR_INVALID_ARGUMENT || s == MODCTX_ERR_UNSUPPORTED,
          "%s accepted a descriptor the rules reject, or failed oddly (%s: %s)", call, modctx_status_name(s),
          modctx_last_error());
    const char* name = fz_field_name(field);
    CHECK(std::strncmp(modctx_last_error(), name, std::strlen(name)) == 0, "%s: message \"%s\" does not name %s",
          call, modctx_last_error(), name);
  }
  check_deleter_after(h, s, call);
}

void Session::op_build() {
  BuilderSlot* slot = builder_or_null();
  ContextSlot& target = contexts_[in_.u8() % kContexts];
  const bool null_out = in_.one_in(32);
  modctx_context* ctx = reinterpret_cast<modctx_context*>(&target);  // garbage: must be overwritten
  const modctx_status s =
      seen(modctx_builder_build(slot ? slot->handle : nullptr, null_out ? nullptr : &ctx), "modctx_builder_build");
  if (null_out || !slot || !slot->handle) {
    want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_builder_build");
    if (!null_out) CHECK(ctx == nullptr, "modctx_builder_build failed without clearing *out");
    return;
  }
  want(s, model_build(slot->state), "modctx_builder_build");
  if (s != MODCTX_OK) {
    CHECK(ctx == nullptr, "modctx_builder_build failed without clearing *out");
    return;
  }
  set_context(target, ctx, std::make_shared<const State>(slot->state));
}

void Session::op_get(bool versioned) {
  ContextSlot* slot = context_or_null();
  const int field = pick_field();
  const bool null_out = in_.one_in(32);
  Output& o = free_output();
  const char* call = versioned ? "modctx_context_get_dlpack_versioned" : "modctx_context_get_dlpack";
  modctx_context* ctx = slot ? slot->handle : nullptr;
  modctx_status s;
  if (versioned)
    s = seen(fz_get_dlpack_versioned(ctx, field, null_out ? nullptr : &o.versioned), call);
  else
    s = seen(fz_get_dlpack(ctx, field, null_out ? nullptr : &o.legacy), call);
  if (null_out || !ctx || field < 0 || field >= MODCTX_FIELD_COUNT) {
    want(s, MODCTX_ERR_INVALID_ARGUMENT, call);
    CHECK(!o.used(), "%s failed without clearing *out", call);
    return;
  }
  const auto& layout = slot->state->fields[field];
  if (!layout) {
    want(s, MODCTX_ERR_MISSING_FIELD, call);
    CHECK(!o.used(), "%s failed without clearing *out", call);
    return;
  }
  want(s, MODCTX_OK, call);
  CHECK(o.used(), "%s succeeded without a tensor", call);
  if (versioned) {
    CHECK(o.versioned->version.major == 1 && o.versioned->version.minor == 0, "%s: version %u.%u", call,
          o.versioned->version.major, o.versioned->version.minor);
    CHECK(o.versioned->flags == DLPACK_FLAG_BITMASK_READ_ONLY, "%s: flags %#" PRIx64, call, o.versioned->flags);
    CHECK(o.versioned->deleter != nullptr, "%s: no deleter", call);
    check_export(o.versioned->dl_tensor, *layout, call);
  } else {
    CHECK(o.legacy->deleter != nullptr, "%s: no deleter", call);
    check_export(o.legacy->dl_tensor, *layout, call);
  }
}

void Session::op_describe() {
  ContextSlot* slot = context_or_null();
  modctx_context* ctx = slot ? slot->handle : nullptr;
  size_t full = 0;
  const modctx_status s0 = seen(modctx_context_describe(ctx, nullptr, 0, &full), "modctx_context_describe");
  if (!ctx) {
    want(s0, MODCTX_ERR_INVALID_ARGUMENT, "modctx_context_describe");
    return;
  }
  want(s0, MODCTX_OK, "modctx_context_describe");
  CHECK(full > 16, "modctx_context_describe: length %zu", full);
  // A buffer of exactly cap bytes (heap): snprintf's rules.
  const uint8_t c = in_.u8();
  const size_t cap = c < 128 ? c % 8 : c < 192 ? full + 1 - c % 3 : full + c % 5;
  std::unique_ptr<char[]> buf(new char[cap ? cap : 1]);
  std::unique_ptr<char[]> whole(new char[full + 1]);
  size_t len = 1234567, len2 = 0;
  const bool null_len = in_.one_in(8);
  want(seen(modctx_context_describe(ctx, cap ? buf.get() : nullptr, cap, null_len ? nullptr : &len),
            "modctx_context_describe"),
       MODCTX_OK, "modctx_context_describe");
  want(seen(modctx_context_describe(ctx, whole.get(), full + 1, &len2), "modctx_context_describe"), MODCTX_OK,
       "modctx_context_describe");
  CHECK(len2 == full && std::strlen(whole.get()) == full, "modctx_context_describe: lengths differ");
  if (!null_len) CHECK(len == full, "modctx_context_describe: *len %zu, wanted %zu", len, full);
  if (cap) {
    const size_t n = std::strlen(buf.get());
    CHECK(n == (full < cap - 1 ? full : cap - 1) && std::memcmp(buf.get(), whole.get(), n) == 0,
          "modctx_context_describe: truncated text is not a prefix");
  }
  CHECK(std::strncmp(whole.get(), "ModalityContext(", 16) == 0 && whole[full - 1] == ')',
        "modctx_context_describe: \"%s\"", whole.get());
  // A NULL buffer with a capacity is an error.
  want(seen(modctx_context_describe(ctx, nullptr, 1 + c % 4, nullptr), "modctx_context_describe"),
       MODCTX_ERR_INVALID_ARGUMENT, "modctx_context_describe");
}

void Session::op_slice_indices() {
  const SliceModel m = pick_slice();
  const modctx_slice sl = to_c(m);
  const int64_t length = in_.u8() < 128 ? in_.u8() % 16 : in_.i64();
  int64_t start = 0, stop = 0, step = 0, count = 0;
  const uint8_t nulls = in_.u8();
  const bool null_slice = nulls == 255, null_out = nulls == 254;
  const modctx_status s = seen(modctx_slice_indices(null_slice ? nullptr : &sl, length, &start, &stop, &step,
                                                    null_out ? nullptr : &count),
                               "modctx_slice_indices");
  if (null_slice || null_out || (m.flags & ~7u)) {
    want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_slice_indices");
    return;
  }
  PyIndices want_idx{};
  bool step_zero = false;
  if (!py_indices(m, length, &want_idx, &step_zero)) {
    want(s, MODCTX_ERR_SLICE, "modctx_slice_indices");
    // Python checks the length first, then the step: slice(0, 1, 0).indices(-1)
    // says "length should not be negative".
    const char* msg = modctx_last_error();
    const char* python = length < 0 ? "length should not be negative" : "slice step cannot be zero";
    CHECK(step_zero || length < 0, "modctx_slice_indices: the model failed on a valid slice");
    CHECK(std::strcmp(msg, python) == 0, "modctx_slice_indices: message \"%s\", Python says \"%s\"", msg, python);
    return;
  }
  want(s, MODCTX_OK, "modctx_slice_indices");
  CHECK(start == want_idx.start && stop == want_idx.stop && step == want_idx.step && count == want_idx.count,
        "modctx_slice_indices(%" PRId64 ", %" PRId64 ", %" PRId64 ", flags %u; %" PRId64 ") = (%" PRId64 ", %" PRId64
        ", %" PRId64 ", %" PRId64 "), Python says (%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ")",
        m.start, m.stop, m.step, m.flags, length, start, stop, step, count, want_idx.start, want_idx.stop,
        want_idx.step, want_idx.count);
}

// h[:, output_slice, :] on a random hidden state; the view must be exactly
// PyTorch's and lie inside h's memory.
void Session::op_apply() {
  ContextSlot* slot = context_or_null();
  modctx_context* ctx = slot ? slot->handle : nullptr;
  const bool null_out = in_.one_in(32);
  const bool null_hidden = in_.one_in(32);
  HandIn h;
  DLManagedTensor* hidden = null_hidden ? nullptr : make_legacy(&h);
  if (h.id >= 0) tracker_.handed[static_cast<size_t>(h.id)] = true;
  Output& o = free_output();
  const char* call = "modctx_context_apply_output_slice";
  const modctx_status s =
      seen(modctx_context_apply_output_slice(ctx, hidden, null_out ? nullptr : &o.legacy), call);
  check_deleter_after(h, s, call);
  if (null_out || !ctx || null_hidden) {
    want(s, MODCTX_ERR_INVALID_ARGUMENT, call);
    CHECK(!o.used(), "%s failed without clearing *out", call);
    return;
  }
  if (!h.verdict.accept) {
    CHECK(s == MODCTX_ERR_INVALID_ARGUMENT || s == MODCTX_ERR_UNSUPPORTED, "%s: %s on a bad descriptor", call,
          modctx_status_name(s));
    CHECK(!o.used(), "%s failed without clearing *out", call);
    return;
  }
  Layout want_layout = h.verdict.layout;
  bool defined_offset = true, defined_stride = true;
  // This LibTorch cannot view a Metal tensor: MODCTX_ERR_UNSUPPORTED, or a view.
  if (slot->state->slice && want_layout.device_type == kDLMetal && s == MODCTX_ERR_UNSUPPORTED) {
    CHECK(!o.used(), "%s failed without clearing *out", call);
    return;
  }
  if (const auto& sl = slot->state->slice) {
    // PyTorch counts the indices against the rank before it reads the slice.
    const int64_t step = sl->has(MODCTX_SLICE_HAS_STEP) ? sl->step : 1;
    if (want_layout.ndim < 3) {
      want(s, MODCTX_ERR_SHAPE, call);
      CHECK(!o.used(), "%s failed without clearing *out", call);
      return;
    }
    if (step <= 0) {
      want(s, MODCTX_ERR_SLICE, call);
      CHECK(!o.used(), "%s failed without clearing *out", call);
      return;
    }
    PyIndices idx{};
    bool zero = false;
    const int64_t length = want_layout.shape[1];
    py_indices(*sl, length, &idx, &zero);
    // PyTorch's view: storage offset start * stride, stride * step. Where
    // PyTorch's own int64 arithmetic would overflow (a huge step or start on
    // an empty tensor) it has no defined answer: those parts are not compared.
    const __int128 offset = static_cast<__int128>(idx.start) * want_layout.strides[1] * want_layout.itemsize;
    const __int128 stride = static_cast<__int128>(want_layout.strides[1]) * step;
    defined_offset = offset <= INT64_MAX;
    defined_stride = stride <= INT64_MAX && static_cast<__int128>(length) + step - 1 <= INT64_MAX;
    if (want_layout.data) want_layout.data += static_cast<uint64_t>(offset);  // no data: none in the view
    want_layout.shape[1] = idx.count;
    want_layout.strides[1] = static_cast<int64_t>(static_cast<uint64_t>(stride));
  }
  want(s, MODCTX_OK, call);
  CHECK(o.legacy && o.legacy->deleter, "%s succeeded without a tensor", call);
  const DLTensor& got = o.legacy->dl_tensor;
  if (!defined_stride && got.ndim == want_layout.ndim && got.ndim > 1) want_layout.strides[1] = got.strides[1];
  if (!defined_offset) want_layout.data = reinterpret_cast<uintptr_t>(got.data);
  check_export(got, want_layout, call);
}

// A tensor handed out goes back in (set_dlpack / _versioned): ownership moves.
void Session::op_hand_back() {
  Output& o = outputs_[in_.u8() % kOutputs];
  BuilderSlot& slot = builders_[in_.u8() % kBuilders];
  const int field = in_.u8() % MODCTX_FIELD_COUNT;
  if (!o.used() || !slot.handle) return;
  modctx_status s;
  Verdict v;
  if (o.legacy) {
    v = model_dltensor(o.legacy->dl_tensor);
    s = seen(fz_set_dlpack(slot.handle, field, o.legacy),
             "modctx_builder_set_dlpack (handed back)");
  } else {
    v = model_versioned(*o.versioned);
    s = seen(fz_set_dlpack_versioned(slot.handle, field, o.versioned),
             "modctx_builder_set_dlpack_versioned (handed back)");
  }
  o.legacy = nullptr;
  o.versioned = nullptr;
  CHECK(v.accept, "modctx handed out a tensor its own rules reject");
  want(s, MODCTX_OK, "modctx_builder_set_dlpack (handed back)");
  slot.state.fields[field] = v.layout;
}

void Session::op_get_api() {
  const uint32_t version = in_.u8() < 200 ? in_.u8() % 4 : in_.u32();
  const modctx_api* api = modctx_get_api(version);
  if (version == 0 || version > modctx_abi_version()) {
    CHECK(api == nullptr, "modctx_get_api(%u) served a table", version);
    CHECK(*modctx_last_error() != '\0', "modctx_get_api(%u): no message", version);
    last_message_ = modctx_last_error();
    return;
  }
  CHECK(api && api->served_abi_version == modctx_abi_version() && api->struct_size == sizeof(modctx_api),
        "modctx_get_api(%u): bad table", version);
  CHECK(api->builder_new == modctx_builder_new && api->field_name == modctx_field_name &&
            api->context_apply_output_slice == modctx_context_apply_output_slice,
        "modctx_get_api(%u): wrong entries", version);
  CHECK(fz_api_status_name(api, enum_value(static_cast<int>(in_.i64()))) != nullptr, "status_name returned NULL");
}

void Session::op() {
  const uint8_t op = in_.u8() % 24;
  switch (op) {
    case 0: case 1: {  // builder_new
      BuilderSlot& slot = builders_[in_.u8() % kBuilders];
      if (in_.one_in(32)) {
        want(seen(modctx_builder_new(nullptr), "modctx_builder_new"), MODCTX_ERR_INVALID_ARGUMENT,
             "modctx_builder_new");
        break;
      }
      modctx_builder_free(slot.handle);
      slot = BuilderSlot{};
      want(seen(modctx_builder_new(&slot.handle), "modctx_builder_new"), MODCTX_OK, "modctx_builder_new");
      break;
    }
    case 2: {  // builder_new_from_context
      ContextSlot* c = context_or_null();
      BuilderSlot& slot = builders_[in_.u8() % kBuilders];
      modctx_builder* b = nullptr;
      const modctx_status s = seen(modctx_builder_new_from_context(c ? c->handle : nullptr, &b),
                                   "modctx_builder_new_from_context");
      if (!c || !c->handle) {
        want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_builder_new_from_context");
        CHECK(!b, "modctx_builder_new_from_context failed without clearing *out");
        break;
      }
      want(s, MODCTX_OK, "modctx_builder_new_from_context");
      modctx_builder_free(slot.handle);
      slot.handle = b;
      slot.state = *c->state;
      break;
    }
    case 3: {  // builder_free
      BuilderSlot& slot = builders_[in_.u8() % kBuilders];
      modctx_builder_free(slot.handle);
      slot = BuilderSlot{};
      break;
    }
    case 4: case 5: case 6: op_set(0); break;
    case 7: op_set(1); break;
    case 8: op_set(2); break;
    case 9: {  // clear
      BuilderSlot* slot = builder_or_null();
      const int field = pick_field();
      const modctx_status s = seen(fz_clear(slot ? slot->handle : nullptr, field), "modctx_builder_clear");
      if (!slot || !slot->handle || field < 0 || field >= MODCTX_FIELD_COUNT) {
        want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_builder_clear");
      } else {
        want(s, MODCTX_OK, "modctx_builder_clear");
        slot->state.fields[field].reset();
      }
      break;
    }
    case 10: {  // set_output_slice
      BuilderSlot* slot = builder_or_null();
      const bool null_slice = in_.one_in(4);
      const SliceModel m = pick_slice();
      const modctx_slice sl = to_c(m);
      if (g_trace && !null_slice)
        std::fprintf(stderr, "  slice: start %" PRId64 ", stop %" PRId64 ", step %" PRId64 ", flags %#x\n", m.start,
                     m.stop, m.step, m.flags);
      const modctx_status s = seen(modctx_builder_set_output_slice(slot ? slot->handle : nullptr,
                                                                   null_slice ? nullptr : &sl),
                                   "modctx_builder_set_output_slice");
      if (!slot || !slot->handle || (!null_slice && (m.flags & ~7u))) {
        want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_builder_set_output_slice");
      } else {
        want(s, MODCTX_OK, "modctx_builder_set_output_slice");
        if (null_slice) slot->state.slice.reset();
        else slot->state.slice = m;
      }
      break;
    }
    case 11: case 12: op_build(); break;
    case 13: {  // context_free
      ContextSlot& slot = contexts_[in_.u8() % kContexts];
      set_context(slot, nullptr, nullptr);
      break;
    }
    case 14: {  // retain into another slot
      ContextSlot* from = context_or_null();
      ContextSlot& to = contexts_[in_.u8() % kContexts];
      modctx_context* r = nullptr;
      const modctx_status s = seen(modctx_context_retain(from ? from->handle : nullptr, &r), "modctx_context_retain");
      if (!from || !from->handle) {
        want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_context_retain");
        CHECK(!r, "modctx_context_retain failed without clearing *out");
        break;
      }
      want(s, MODCTX_OK, "modctx_context_retain");
      CHECK(r == from->handle, "modctx_context_retain returned another context");
      auto state = from->state;
      set_context(to, r, state);  // may free `from`'s old reference when to == from: the retained one stays
      break;
    }
    case 15: {  // has
      ContextSlot* slot = context_or_null();
      const int field = pick_field();
      int out = 7;
      const modctx_status s = seen(fz_has(slot ? slot->handle : nullptr, field, &out), "modctx_context_has");
      if (!slot || !slot->handle || field < 0 || field >= MODCTX_FIELD_COUNT) {
        want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_context_has");
      } else {
        want(s, MODCTX_OK, "modctx_context_has");
        CHECK(out == (slot->state->has(field) ? 1 : 0), "modctx_context_has(%d) = %d", field, out);
      }
      break;
    }
    case 16: op_get(false); break;
    case 17: op_get(true); break;
    case 18: {  // get_output_slice
      ContextSlot* slot = context_or_null();
      int has = 7;
      modctx_slice out;
      std::memset(&out, 0xab, sizeof out);
      const modctx_status s = seen(modctx_context_get_output_slice(slot ? slot->handle : nullptr, &has, &out),
                                   "modctx_context_get_output_slice");
      if (!slot || !slot->handle) {
        want(s, MODCTX_ERR_INVALID_ARGUMENT, "modctx_context_get_output_slice");
        break;
      }
      want(s, MODCTX_OK, "modctx_context_get_output_slice");
      const auto& m = slot->state->slice;
      CHECK(has == (m ? 1 : 0), "modctx_context_get_output_slice: has %d", has);
      const uint32_t flags = m ? m->flags : 0;
      CHECK(out.flags == flags && out.start == ((flags & 1) ? m->start : 0) && out.stop == ((flags & 2) ? m->stop : 0) &&
                out.step == ((flags & 4) ? m->step : 0),
            "modctx_context_get_output_slice: wrong slice");
      break;
    }
    case 19: op_describe(); break;
    case 20: {  // check_forward
      ContextSlot* slot = context_or_null();
      const bool tokens = in_.u8() & 1, kv = in_.u8() & 1;
      modctx_context* ctx = slot ? slot->handle : nullptr;
      const modctx_status s = seen(modctx_check_forward(ctx, tokens ? 1 + in_.u8() : 0, kv ? -1 : 0),
                                   "modctx_check_forward");
      static const State kEmpty;
      want(s, model_forward(ctx ? *slot->state : kEmpty, tokens, kv), "modctx_check_forward");
      break;
    }
    case 21: op_slice_indices(); break;
    case 22: if (in_.u8() & 1) op_apply(); else op_hand_back(); break;
    default: {
      const uint8_t which = in_.u8() % 4;
      if (which == 0) {
        op_get_api();
      } else if (which == 1) {
        const int v = enum_value(static_cast<int>(in_.i64()));
        const char* name = fz_field_name(v);
        CHECK((v >= 0 && v < MODCTX_FIELD_COUNT) == (name != nullptr), "modctx_field_name(%d)", v);
        CHECK(fz_status_name(v) != nullptr, "modctx_status_name is NULL");
      } else if (which == 2) {
        outputs_[in_.u8() % kOutputs].drop();
      } else {
        CHECK(modctx_abi_version() == MODCTX_ABI_VERSION && std::strlen(modctx_version()) >= 5, "versions");
      }
    }
  }
}

void Session::run() {
  for (int ops = 0; ops < 64 && !in_.empty(); ++ops) op();
  finish();
}

void Session::finish() {
  if (finished_) return;
  finished_ = true;
  for (auto& o : outputs_) o.drop();
  for (auto& b : builders_) {
    modctx_builder_free(b.handle);
    b.handle = nullptr;
  }
  for (auto& c : contexts_) set_context(c, nullptr, nullptr);
  for (size_t id = 0; id < tracker_.runs.size(); ++id)
    CHECK(tracker_.runs[id] == tracker_.expected[id], "tensor %zu: deleter ran %d times, wanted %d", id,
          tracker_.runs[id], tracker_.expected[id]);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  void* p = mmap(nullptr, kArenaSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::abort();
  }
  g_arena = static_cast<char*>(p);
  const char* in_range = std::getenv("MODCTX_FUZZ_IN_RANGE_ENUMS");
  g_negative_enums = !(in_range && *in_range == '1');
  const char* trace = std::getenv("MODCTX_FUZZ_TRACE");
  g_trace = trace && *trace == '1';
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Session(Bytes(data, size)).run();
  return 0;
}
