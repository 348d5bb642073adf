// The strict JSON parser and the shared readers (see json_read.hpp).
#include "json_read.hpp"

#include <cstring>
#include <unordered_set>

namespace modctx::json {

namespace {

[[noreturn]] void throw_at(const std::string& path, const std::string& message) { throw ReadError(path, message); }

// Bytes outside printable ASCII as \xNN (nlohmann quotes raw input bytes in
// its messages).
std::string printable(const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

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

ForwardRecord read_forward(const Json& v, const std::string& path) {
  expect_object(v, path, {"tokens", "kv_caches"});
  ForwardRecord forward;
  if (v.contains("tokens") && !v["tokens"].is_null()) forward.tokens = read_shape(v["tokens"], child(path, "tokens"));
  if (v.contains("kv_caches")) {
    if (!v["kv_caches"].is_boolean())
      throw_at(child(path, "kv_caches"), "expected true or false, found " + show(v["kv_caches"]));
    forward.kv_caches = v["kv_caches"].get<bool>();
  }
  return forward;
}

}  // namespace modctx::json
