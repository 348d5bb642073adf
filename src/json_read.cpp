// The strict JSON parser and the shared readers (see json_read.hpp).
#include "json_read.hpp"
#include "printable.hpp"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <unordered_set>

#include "modctx/names.hpp"
#include "modctx/tensor.hpp"

namespace modctx::json {

namespace {

[[noreturn]] void throw_at(const std::string& path, const std::string& message) { throw ReadError(path, message); }

// Builds the DOM as nlohmann's own parser does, and refuses a key twice in
// one object and nesting deeper than kMaxDepth, naming the value's pointer.
class StrictDom {
 public:
  explicit StrictDom(Json* root) : root_(root) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string&) { return put(Json(v)); }
  bool string(std::string& v) { return put(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return put(Json(std::move(v))); }
  bool start_object(std::size_t) { return open(Json::object()); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    Frame& top = stack_.back();
    if (!top.keys.insert(k).second)
      return error(child(path(), k), "duplicate key " + quote(k) + " (a key may appear once in an object)");
    top.key = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 3: ..."
    // (out_of_range.406 for numbers too large for a double, e.g. 1e400).
    const std::string what = e.what();
    const auto bracket = what.find("] ");
    // nlohmann quotes raw input bytes in its messages.
    return error("", "malformed JSON: " + printable(bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }

  const std::string& error_path() const { return error_path_; }
  const std::string& error_message() const { return error_message_; }

 private:
  struct Frame {
    Json* value;                           // an object or an array being filled
    std::string key;                       // in an object: the key of the value to come
    std::unordered_set<std::string> keys;  // in an object: the keys so far
  };

  // The pointer of the container on top of the stack.
  std::string path() const {
    std::string p;
    for (size_t i = 0; i + 1 < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      p = f.value->is_object() ? child(p, f.key) : child(p, f.value->size() - 1);
    }
    return p;
  }

  Json* slot() {
    if (stack_.empty()) return root_;
    Frame& top = stack_.back();
    if (top.value->is_array()) {
      top.value->push_back(nullptr);
      return &top.value->back();
    }
    return &(*top.value)[top.key];
  }

  bool put(Json&& v) {
    *slot() = std::move(v);
    return true;
  }

  bool open(Json&& v) {
    if (stack_.size() >= kMaxDepth) {
      const Frame& top = stack_.back();
      const std::string p = top.value->is_object() ? child(path(), top.key) : child(path(), top.value->size());
      return error(p, "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    Json* target = slot();
    *target = std::move(v);
    stack_.push_back(Frame{target, {}, {}});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  bool error(std::string path, std::string message) {
    error_path_ = std::move(path);
    error_message_ = std::move(message);
    return false;
  }

  Json* root_;
  std::vector<Frame> stack_;
  std::string error_path_, error_message_;
};

}  // namespace

std::string child(const std::string& path, const std::string& key) {
  std::string escaped;  // RFC 6901: "~" and "/" in a key
  for (char c : key) {
    if (c == '~') escaped += "~0";
    else if (c == '/') escaped += "~1";
    else escaped += c;
  }
  return path + "/" + escaped;
}

std::string child(const std::string& path, size_t index) { return path + "/" + std::to_string(index); }

Json parse_strict(const char* begin, const char* end, const std::string& base) {
  if (const void* nul = std::memchr(begin, 0, static_cast<size_t>(end - begin)))
    throw_at(base, "a NUL byte at offset " + std::to_string(static_cast<const char*>(nul) - begin) +
                      " (JSON has none)");
  Json doc;
  StrictDom dom(&doc);
  if (!Json::sax_parse(begin, end, &dom, Json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false))
    throw_at(base + dom.error_path(), dom.error_message());
  return doc;
}

Json parse_strict(const std::string& text, const std::string& base) {
  return parse_strict(text.data(), text.data() + text.size(), base);
}

const char* kind_of(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_float: return "a non-integer number";
    case Json::value_t::number_integer: return "a negative integer";
    case Json::value_t::number_unsigned: return "an integer";
    default: return "a binary value";
  }
}

std::string quote(const std::string& s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) return Json(s).dump(-1, ' ', true);
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return Json(s.substr(0, cut)).dump(-1, ' ', true) + "...";
}

std::string show(const Json& v) {
  if (v.is_string()) return quote(v.get_ref<const std::string&>());
  if (v.is_primitive()) return v.dump();
  return kind_of(v);
}

std::optional<int64_t> as_int64(const Json& v) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v.get<uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  return std::nullopt;
}

std::optional<uint64_t> as_uint64(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return std::nullopt;
}

void expect_object(const Json& v, const std::string& path, std::initializer_list<const char*> known) {
  if (!v.is_object()) throw_at(path, std::string("expected an object, found ") + kind_of(v));
  if (known.size()) reject_unknown_keys(v, path, known);
}

void reject_unknown_keys(const Json& object, const std::string& path, std::initializer_list<const char*> known) {
  for (const auto& item : object.items()) {
    bool found = false;
    for (const char* k : known) found = found || item.key() == k;
    if (found) continue;
    std::string list;
    for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
    throw_at(child(path, item.key()), "unknown key " + quote(item.key()) + " (expected one of: " + list + ")");
  }
}

std::vector<int64_t> read_shape(const Json& v, const std::string& path) {
  if (!v.is_array()) throw_at(path, std::string("expected a shape (an array of sizes), found ") + kind_of(v));
  if (v.size() > modctx::kMaxDims)
    throw_at(path, "a shape has at most " + std::to_string(modctx::kMaxDims) + " dimensions, found " + std::to_string(v.size()));
  std::vector<int64_t> shape;
  int64_t elements = 1;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto size = as_int64(v[i]);
    if (!size || *size < 0) throw_at(child(path, i), "expected a size (an integer >= 0), found " + show(v[i]));
    if (__builtin_mul_overflow(elements, *size ? *size : 1, &elements) || elements > INT64_MAX / 16)
      throw_at(path, "the shape has more elements than a tensor can hold");
    shape.push_back(*size);
  }
  return shape;
}

std::optional<Slice> read_slice(const Json& v, const std::string& path) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_array() || v.size() != 3)
    throw_at(path, "expected [start, stop, step] (each an integer or null) or null, found " + show(v));
  std::optional<int64_t> parts[3];
  for (size_t i = 0; i < 3; ++i) {
    if (v[i].is_null()) continue;
    parts[i] = as_int64(v[i]);
    if (!parts[i]) throw_at(child(path, i), "expected an integer (int64) or null, found " + show(v[i]));
  }
  return Slice{parts[0], parts[1], parts[2]};
}

at::Device read_device(const Json& v, const std::string& path) {
  if (!v.is_string()) throw_at(path, std::string("expected a device name such as \"cuda:0\", found ") + kind_of(v));
  at::Device device(at::kCPU);
  if (!parse_device(v.get<std::string>(), &device))
    throw_at(path, "unknown device " + quote(v.get<std::string>()) +
                      " (expected e.g. cpu, cuda, cuda:1, hip:0, mps, xpu:0)");
  return device;
}

namespace {

// `path` followed by the array indices `at`: "/fields/x/values" + {1, 3}.
std::string index_path(std::string path, const std::vector<size_t>& at) {
  for (size_t i : at) path = child(path, i);
  return path;
}

// Calls fn(leaf, k) for the k-th leaf of nested arrays of exactly `shape`,
// in row-major order (the value itself for shape []). Every array is checked
// against its dimension on the way (a first pass with a no-op fn checks the
// whole nesting before anything is allocated); `at` holds the indices down
// to the current array, for the message only.
template <class Fn>
void for_each_leaf(const Json& v, const std::string& path, const std::vector<int64_t>& shape,
                   std::vector<size_t>* at, int64_t* k, Fn&& fn) {
  const size_t dim = at->size();
  if (dim == shape.size()) {
    fn(v, (*k)++);
    return;
  }
  if (!v.is_array() || v.size() != static_cast<uint64_t>(shape[dim]))
    throw_at(index_path(path, *at), "expected an array of size " + std::to_string(shape[dim]) + " (dimension " +
                                        std::to_string(dim) + " of shape " + shape_list(shape) + "), found " +
                                        (v.is_array() ? "an array of size " + std::to_string(v.size()) : show(v)));
  for (size_t i = 0; i < v.size(); ++i) {
    at->push_back(i);
    for_each_leaf(v[i], path, shape, at, k, fn);
    at->pop_back();
  }
}

// The pointer of the k-th leaf (row-major) under `path` (a shape with leaves
// has no size 0).
std::string leaf_path(const std::string& path, const std::vector<int64_t>& shape, int64_t k) {
  std::vector<size_t> at(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    at[d] = static_cast<size_t>(k % shape[d]);
    k /= shape[d];
  }
  return index_path(path, at);
}

// A leaf as T, when it is an integer within T's range.
template <class T>
bool integer_leaf(const Json& v, T* out) {
  const auto value = as_int64(v);
  if (!value || *value < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      *value > static_cast<int64_t>(std::numeric_limits<T>::max()))
    return false;
  *out = static_cast<T>(*value);
  return true;
}

// A leaf as T, when it is a number within T's finite range once rounded to
// T (float16 past 65504 is refused rather than made infinite).
template <class T>
bool float_leaf(const Json& v, T* out) {
  if (!v.is_number()) return false;
  const double d = v.get<double>();
  // The 16-bit types go through float: a double past float's range is
  // refused first (converting it would be undefined behaviour).
  if (!std::is_same_v<T, double> && !(std::fabs(d) <= std::numeric_limits<float>::max())) return false;
  *out = static_cast<T>(d);
  return std::isfinite(static_cast<double>(*out));
}

bool bool_leaf(const Json& v, bool* out) {
  if (!v.is_boolean()) return false;
  *out = v.get<bool>();
  return true;
}

// Converts every leaf into out[k]; `expected` says what a leaf must be.
template <class T, class Convert>
void fill(const Json& values, const std::string& path, const std::vector<int64_t>& shape, T* out, Convert convert,
          const std::string& expected) {
  std::vector<size_t> at;
  int64_t k = 0;
  for_each_leaf(values, path, shape, &at, &k, [&](const Json& v, int64_t i) {
    if (!convert(v, out + i)) throw_at(leaf_path(path, shape, i), "expected " + expected + ", found " + show(v));
  });
}

template <class T>
void fill_integers(const Json& values, const std::string& path, const std::vector<int64_t>& shape,
                   at::ScalarType dtype, void* out) {
  fill(values, path, shape, static_cast<T*>(out), integer_leaf<T>,
       "an integer in [" + std::to_string(static_cast<int64_t>(std::numeric_limits<T>::min())) + ", " +
           std::to_string(static_cast<int64_t>(std::numeric_limits<T>::max())) + "] (" + dtype_name(dtype) + ")");
}

template <class T>
void fill_floats(const Json& values, const std::string& path, const std::vector<int64_t>& shape, at::ScalarType dtype,
                 void* out) {
  fill(values, path, shape, static_cast<T*>(out), float_leaf<T>,
       std::string("a number within ") + dtype_name(dtype) + "'s range");
}

void fill_bools(const Json& values, const std::string& path, const std::vector<int64_t>& shape, at::ScalarType,
                void* out) {
  fill(values, path, shape, static_cast<bool*>(out), bool_leaf, "true or false (bool)");
}

using Filler = void (*)(const Json&, const std::string&, const std::vector<int64_t>&, at::ScalarType, void*);

// How a dtype's values are read; null for those that take none (complex).
Filler filler_for(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBool: return fill_bools;
    case at::kByte: return fill_integers<uint8_t>;
    case at::kChar: return fill_integers<int8_t>;
    case at::kShort: return fill_integers<int16_t>;
    case at::kInt: return fill_integers<int32_t>;
    case at::kLong: return fill_integers<int64_t>;
    case at::kHalf: return fill_floats<c10::Half>;
    case at::kBFloat16: return fill_floats<c10::BFloat16>;
    case at::kFloat: return fill_floats<float>;
    case at::kDouble: return fill_floats<double>;
    default: return nullptr;
  }
}

// A CPU tensor of `shape` holding `values` (read_tensor's rules).
at::Tensor read_values(const Json& values, const std::string& path, const std::vector<int64_t>& shape,
                       at::ScalarType dtype) {
  int64_t numel = 1;
  for (const int64_t s : shape) numel *= s;  // fits: read_shape bounds the product
  if (numel > kMaxValues)
    throw_at(path, "a tensor given with values has at most " + std::to_string(kMaxValues) + " elements; shape " +
                       shape_list(shape) + " has " + std::to_string(numel));
  const Filler filler = filler_for(dtype);
  if (!filler)
    throw_at(path, std::string("values are not read for ") + dtype_name(dtype) +
                       " tensors (give the tensor without them)");
  std::vector<size_t> at;
  int64_t k = 0;
  for_each_leaf(values, path, shape, &at, &k, [](const Json&, int64_t) {});
  at::Tensor t = allocate_cpu_tensor(shape, dtype);
  filler(values, path, shape, dtype, t.data_ptr());
  return t;
}

}  // namespace

at::Tensor read_tensor(const Json& v, const std::string& path) {
  expect_object(v, path, {"shape", "dtype", "device", "values"});
  if (!v.contains("shape")) throw_at(child(path, "shape"), "missing key \"shape\"");
  if (!v.contains("dtype")) throw_at(child(path, "dtype"), "missing key \"dtype\"");
  const auto shape = read_shape(v["shape"], child(path, "shape"));
  at::ScalarType dtype{};
  if (!v["dtype"].is_string() || !parse_dtype(v["dtype"].get<std::string>(), &dtype))
    throw_at(child(path, "dtype"), "unknown dtype " + show(v["dtype"]) + " (expected " + dtype_list() +
                                      ", or an alias such as long, half)");
  const at::Device device = v.contains("device") ? read_device(v["device"], child(path, "device")) : at::Device(at::kCPU);
  if (v.contains("values")) {
    // Data on the host: what the value checks read.
    if (!device.is_cpu())
      throw_at(child(path, "values"), "a tensor given with values is on the CPU, but its device is " +
                                          quote(device.str()));
    return read_values(v["values"], child(path, "values"), shape, dtype);
  }
  // No data: nothing is allocated, no device runtime is asked anything.
  return make_metadata_tensor(shape, dtype, device);
}

ForwardRecord read_forward(const Json& v, const std::string& path, ForwardSource source) {
  const bool description = source == ForwardSource::description;
  if (description) expect_object(v, path, {"tokens", "doc_ids", "kv_caches"});
  else expect_object(v, path, {"tokens", "kv_caches"});
  ForwardRecord forward;
  if (v.contains("tokens") && !v["tokens"].is_null()) {
    const Json& tokens = v["tokens"];
    const std::string at = child(path, "tokens");
    if (description && tokens.is_object()) {
      forward.token_ids = read_tensor(tokens, at);
      forward.tokens = forward.token_ids.sizes().vec();
    } else {
      if (description && !tokens.is_array())
        throw_at(at, std::string("expected a shape (an array of sizes), a tensor ({\"shape\", \"dtype\", ...}) or "
                                 "null, found ") + kind_of(tokens));
      forward.tokens = read_shape(tokens, at);
    }
  }
  if (v.contains("doc_ids") && !v["doc_ids"].is_null()) forward.doc_ids = read_tensor(v["doc_ids"], child(path, "doc_ids"));
  if (v.contains("kv_caches")) {
    const Json& kv = v["kv_caches"];
    const std::string at = child(path, "kv_caches");
    if (kv.is_boolean()) {
      forward.kv_caches = kv.get<bool>();
    } else if (kv.is_object()) {
      expect_object(kv, at, {"seq_len", "capacity", "batch"});
      KvCacheState state;
      const std::pair<const char*, int64_t*> parts[] = {
          {"seq_len", &state.seq_len}, {"capacity", &state.capacity}, {"batch", &state.batch}};
      for (const auto& [key, slot] : parts) {
        if (!kv.contains(key)) throw_at(child(at, key), std::string("missing key \"") + key + "\"");
        const auto n = as_int64(kv[key]);
        if (!n || *n < 0) throw_at(child(at, key), "expected an integer >= 0, found " + show(kv[key]));
        *slot = *n;
      }
      forward.kv_caches = true;
      forward.kv_cache = state;
    } else {
      throw_at(at, "expected true, false or {\"seq_len\", \"capacity\", \"batch\"}, found " + show(kv));
    }
  }
  return forward;
}

}  // namespace modctx::json
