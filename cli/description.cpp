// JSON description -> unchecked context fields. Every way a document can be
// unusable ends in a DescriptionError that names the JSON path at fault.
#include "cli/description.hpp"

#include <c10/core/Device.h>
#include <c10/util/Exception.h>

#include <nlohmann/json.hpp>

#include "modctx/tensor.hpp"

namespace modctx::cli {

namespace {

using nlohmann::json;

constexpr size_t kMaxDims = 64;

struct DtypeName {
  const char* name;
  at::ScalarType type;
};

constexpr DtypeName kDtypeNames[] = {
    {"float32", at::kFloat},   {"float", at::kFloat},         {"float64", at::kDouble},
    {"double", at::kDouble},   {"float16", at::kHalf},        {"half", at::kHalf},
    {"bfloat16", at::kBFloat16}, {"int64", at::kLong},        {"long", at::kLong},
    {"int32", at::kInt},       {"int", at::kInt},             {"int16", at::kShort},
    {"short", at::kShort},     {"int8", at::kChar},           {"uint8", at::kByte},
    {"bool", at::kBool},       {"complex64", at::kComplexFloat}, {"cfloat", at::kComplexFloat},
    {"complex128", at::kComplexDouble}, {"cdouble", at::kComplexDouble},
};

std::string child(const std::string& path, const std::string& key) {
  // JSON pointer escaping (RFC 6901).
  std::string escaped;
  for (char c : key) {
    if (c == '~') escaped += "~0";
    else if (c == '/') escaped += "~1";
    else escaped += c;
  }
  return path + "/" + escaped;
}

std::string child(const std::string& path, size_t index) { return path + "/" + std::to_string(index); }

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw DescriptionError(path, message);
}

const char* kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a non-integer number";
    default: return "a number";
  }
}

void expect_object(const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, std::string("expected an object, found ") + kind_of(v));
}

void reject_unknown_keys(const json& object, const std::string& path,
                         std::initializer_list<const char*> known) {
  for (const auto& item : object.items()) {
    bool found = false;
    for (const char* k : known) found = found || item.key() == k;
    if (!found) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      fail(child(path, item.key()), "unknown key \"" + item.key() + "\" (expected one of: " + list + ")");
    }
  }
}

// An integer that fits int64 (nlohmann keeps large positives as uint64).
std::optional<int64_t> as_int64(const json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v.get<uint64_t>());
  return std::nullopt;
}

std::vector<int64_t> parse_shape(const json& v, const std::string& path) {
  if (!v.is_array()) fail(path, std::string("expected a shape (an array of sizes), found ") + kind_of(v));
  if (v.size() > kMaxDims) fail(path, "a shape has at most " + std::to_string(kMaxDims) + " dimensions");
  std::vector<int64_t> shape;
  int64_t elements = 1;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto size = as_int64(v[i]);
    if (!size || *size < 0) fail(child(path, i), "expected a size (an integer >= 0), found " + v[i].dump());
    // The byte count must fit int64 even for the widest dtype (16 bytes), and
    // so must LibTorch's contiguous strides (products of max(size, 1)).
    if (__builtin_mul_overflow(elements, *size ? *size : 1, &elements) || elements > INT64_MAX / 16)
      fail(path, "the shape has more elements than a tensor can hold");
    shape.push_back(*size);
  }
  return shape;
}

at::Device parse_device(const json& v, const std::string& path) {
  if (!v.is_string()) fail(path, std::string("expected a device name such as \"cuda:0\", found ") + kind_of(v));
  const std::string name = v.get<std::string>();
  at::Device device(at::kCPU);
  if (!modctx::cli::parse_device(name, &device))
    fail(path, "unknown device \"" + name + "\" (expected e.g. cpu, cuda, cuda:1, hip:0, mps, xpu:0)");
  return device;
}

ModelSpec parse_model(const json& v, const std::string& path) {
  expect_object(v, path);
  reject_unknown_keys(v, path, {"arch", "hidden_size", "num_modalities", "num_image_tokens", "text_dtype"});
  ModelSpec model;
  if (!v.contains("arch")) fail(child(path, "arch"), "missing key \"arch\"");
  if (!v["arch"].is_string() || !parse_arch(v["arch"].get<std::string>(), &model.arch))
    fail(child(path, "arch"), "unknown architecture " + v["arch"].dump() +
                                  " (expected text, joint_decoder, cross_attention, mot or moma)");
  if (!v.contains("hidden_size")) fail(child(path, "hidden_size"), "missing key \"hidden_size\"");
  auto positive = [&](const char* key) {
    const auto value = as_int64(v[key]);
    if (!value || *value <= 0) fail(child(path, key), "expected an integer > 0, found " + v[key].dump());
    return *value;
  };
  model.hidden_size = positive("hidden_size");
  if (v.contains("num_modalities")) model.num_modalities = positive("num_modalities");
  if (v.contains("num_image_tokens") && !v["num_image_tokens"].is_null()) {
    const auto value = as_int64(v["num_image_tokens"]);
    if (!value || *value < 0)
      fail(child(path, "num_image_tokens"), "expected an integer >= 0, found " + v["num_image_tokens"].dump());
    model.num_image_tokens = *value;
  }
  if (v.contains("text_dtype") && !v["text_dtype"].is_null()) {
    at::ScalarType dtype{};
    if (!v["text_dtype"].is_string() || !parse_dtype(v["text_dtype"].get<std::string>(), &dtype) ||
        !at::isFloatingType(dtype))
      fail(child(path, "text_dtype"), "expected a floating point dtype such as \"bfloat16\", found " +
                                          v["text_dtype"].dump());
    model.text_dtype = dtype;
  }
  return model;
}

at::Tensor parse_tensor(const json& v, const std::string& path) {
  expect_object(v, path);
  reject_unknown_keys(v, path, {"shape", "dtype", "device"});
  if (!v.contains("shape")) fail(child(path, "shape"), "missing key \"shape\"");
  if (!v.contains("dtype")) fail(child(path, "dtype"), "missing key \"dtype\"");
  const auto shape = parse_shape(v["shape"], child(path, "shape"));
  const json& dtype_value = v["dtype"];
  at::ScalarType dtype{};
  if (!dtype_value.is_string() || !parse_dtype(dtype_value.get<std::string>(), &dtype))
    fail(child(path, "dtype"), "unknown dtype " + dtype_value.dump() +
                                   " (expected float32, bfloat16, float16, float64, int64, int32, "
                                   "int16, int8, uint8, bool, complex64, complex128 or an alias such as long, half)");
  const at::Device device = v.contains("device") ? parse_device(v["device"], child(path, "device")) : at::Device(at::kCPU);
  return metadata_tensor(shape, dtype, device);
}

std::optional<Slice> parse_slice(const json& v, const std::string& path) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_array() || v.size() != 3)
    fail(path, "expected [start, stop, step] (each an integer or null), or null");
  std::optional<int64_t> parts[3];
  for (size_t i = 0; i < 3; ++i) {
    if (v[i].is_null()) continue;
    parts[i] = as_int64(v[i]);
    if (!parts[i]) fail(child(path, i), "expected an integer (int64) or null, found " + v[i].dump());
  }
  return Slice{parts[0], parts[1], parts[2]};
}

ForwardDescription parse_forward(const json& v, const std::string& path) {
  expect_object(v, path);
  reject_unknown_keys(v, path, {"tokens", "kv_caches"});
  ForwardDescription forward;
  if (v.contains("tokens") && !v["tokens"].is_null())
    forward.tokens = parse_shape(v["tokens"], child(path, "tokens"));
  if (v.contains("kv_caches")) {
    if (!v["kv_caches"].is_boolean())
      fail(child(path, "kv_caches"), std::string("expected true or false, found ") + kind_of(v["kv_caches"]));
    forward.kv_caches = v["kv_caches"].get<bool>();
  }
  return forward;
}

// A JSON document read into a DOM, strictly: a key twice in one object is an
// error (nlohmann would keep the last one, hiding a conflict such as a second
// "prefix_embeds": null after a real one), and so is nesting deeper than
// kMaxJsonDepth (a context needs four levels; error messages print values,
// recursively). Errors name the JSON path: the duplicate key's, or the
// too-deep value's. The SAX handler builds the DOM as nlohmann's own does.
class StrictDom {
 public:
  explicit StrictDom(json* root) : root_(root) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool v) { return put(json(v)); }
  bool number_integer(json::number_integer_t v) { return put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return put(json(v)); }
  bool string(std::string& v) { return put(json(std::move(v))); }
  bool binary(json::binary_t& v) { return put(json(std::move(v))); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    Frame& top = stack_.back();
    if (top.value->contains(k)) return error(child(path(), k), "duplicate key \"" + k + "\" (a key may appear once in an object)");
    top.key = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, ..."
    // (out_of_range.406 for numbers too large for a double, e.g. 1e400).
    const std::string what = e.what();
    const auto bracket = what.find("] ");
    return error("", "malformed JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }

  const std::string& error_path() const { return error_path_; }
  const std::string& error_message() const { return error_message_; }

 private:
  struct Frame {
    json* value;      // an object or an array being filled
    std::string key;  // in an object: the key of the value to come
  };

  // The JSON pointer of the value to come (of the container on top).
  std::string path() const {
    std::string p;
    for (size_t i = 0; i + 1 < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      p = f.value->is_object() ? child(p, f.key) : child(p, f.value->size() - 1);
    }
    return p;
  }

  json* slot() {
    if (stack_.empty()) return root_;
    Frame& top = stack_.back();
    if (top.value->is_array()) {
      top.value->push_back(nullptr);
      return &top.value->back();
    }
    return &(*top.value)[top.key];
  }

  bool put(json&& v) {
    *slot() = std::move(v);
    return true;
  }

  bool open(json&& v) {
    if (stack_.size() >= kMaxJsonDepth) {
      std::string p = path();
      if (!stack_.empty()) {
        const Frame& top = stack_.back();
        p = top.value->is_object() ? child(p, top.key) : child(p, top.value->size());
      }
      return error(p, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    json* target = slot();
    *target = std::move(v);
    stack_.push_back(Frame{target, {}});
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

  json* root_;
  std::vector<Frame> stack_;
  std::string error_path_, error_message_;
};

// Throws DescriptionError: at the JSON path for a duplicate key or deep
// nesting; "malformed JSON: ..." at `path` otherwise.
json parse_strict(const std::string& text, const std::string& path) {
  json doc;
  StrictDom dom(&doc);
  if (!json::sax_parse(text, &dom, json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false))
    fail(path + dom.error_path(), dom.error_message());
  return doc;
}

}  // namespace

bool parse_device(const std::string& name, at::Device* out) noexcept {
  try {
    at::Device device(name);
    // A real tensor on an accelerator always has an index; on the CPU none.
    if (device.is_cpu()) *out = at::Device(at::kCPU);
    else if (!device.has_index()) *out = at::Device(device.type(), 0);
    else *out = device;
    return true;
  } catch (...) {
    return false;
  }
}

std::vector<int64_t> parse_shape_text(const std::string& text, const std::string& what) {
  json v;
  try {
    v = json::parse("[" + text + "]");
  } catch (const json::exception&) {
    fail(what, "expected sizes separated by commas, such as 2,576,4096, found \"" + text + "\"");
  }
  return parse_shape(v, what);
}

ModelSpec parse_model_text(const std::string& text) {
  return parse_model(parse_strict(text, "--model"), "--model");
}

ForwardDescription parse_forward_text(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\n\r");
  if (first != std::string::npos && text[first] == '{') return parse_forward(parse_strict(text, "--forward"), "--forward");
  // The short form: comma-separated items, "tokens=" followed by the sizes
  // (or "none"), and "kv_caches" (or "kv_caches=true" / "=false").
  ForwardDescription forward;
  bool tokens_seen = false, in_tokens = false, kv_seen = false;
  std::string sizes;  // the token sizes, read with the JSON form's rules
  auto bad = [&](const std::string& message) {
    fail("--forward", message + " in \"" + text +
                          "\" (expected e.g. tokens=2,24 or tokens=none,kv_caches, or the JSON "
                          "{\"tokens\": [2, 24], \"kv_caches\": false})");
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    start = end + 1;
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.rfind("tokens=", 0) == 0) {
      if (tokens_seen) bad("tokens given twice");
      tokens_seen = true;
      item.erase(0, 7);
      in_tokens = item != "none";
      if (!in_tokens) continue;
    } else if (item == "kv_caches" || item == "kv_caches=true" || item == "kv_caches=false") {
      if (kv_seen) bad("kv_caches given twice");
      kv_seen = true;
      in_tokens = false;
      forward.kv_caches = item != "kv_caches=false";
      continue;
    } else if (!in_tokens) {
      bad(item.empty() ? std::string("an empty item") : "unknown item \"" + item + "\"");
    }
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
      bad("\"" + item + "\" is not a size");
    sizes += (sizes.empty() ? "" : ",") + item;
  }
  if (!sizes.empty()) forward.tokens = parse_shape_text(sizes, "--forward/tokens");
  return forward;
}

bool parse_dtype(const std::string& name, at::ScalarType* out) noexcept {
  for (const auto& entry : kDtypeNames) {
    if (name == entry.name) {
      *out = entry.type;
      return true;
    }
  }
  return false;
}

at::Tensor metadata_tensor(const std::vector<int64_t>& shape, at::ScalarType dtype, at::Device device) {
  // No data: nothing is allocated, no device runtime is asked anything.
  return modctx::make_metadata_tensor(shape, dtype, device);
}

Description parse_description(const std::string& text, const std::optional<ForwardDescription>& forward) {
  const json doc = parse_strict(text, "");
  expect_object(doc, "");
  reject_unknown_keys(doc, "", {"fields", "output_slice", "forward", "model"});

  Description description;
  if (doc.contains("fields")) {
    const json& fields = doc["fields"];
    expect_object(fields, "/fields");
    for (const auto& item : fields.items()) {
      Field field{};
      const std::string path = child("/fields", item.key());
      if (!parse_field(item.key(), &field))
        fail(path, "unknown field \"" + item.key() +
                       "\" (expected one of: inputs_embeds, prefix_embeds, image_features, image_mask, "
                       "modality_ids, key_padding_mask)");
      if (item.value().is_null()) continue;  // null: the field is absent
      description.fields[field] = parse_tensor(item.value(), path);
    }
  }
  if (doc.contains("output_slice")) description.fields.output_slice = parse_slice(doc["output_slice"], "/output_slice");
  if (doc.contains("forward") && !doc["forward"].is_null())
    description.forward = parse_forward(doc["forward"], "/forward");
  if (forward) description.forward = forward;  // the command line's replace the document's
  if (doc.contains("model") && !doc["model"].is_null()) {
    description.model = parse_model(doc["model"], "/model");
    if (!description.forward) fail("/forward", "a \"model\" check needs the \"forward\" arguments");
  }
  return description;
}

}  // namespace modctx::cli
