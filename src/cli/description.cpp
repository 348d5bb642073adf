// JSON description -> unchecked context fields. Every way a document can be
// unusable ends in a DescriptionError that names the JSON path at fault.
#include "cli/description.hpp"

#include <ATen/ops/from_blob.h>
#include <c10/core/Device.h>
#include <c10/util/Exception.h>

#include <nlohmann/json.hpp>

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
  json v;
  try {
    v = json::parse(text);
  } catch (const json::exception&) {
    fail("--model", "malformed JSON");
  }
  return parse_model(v, "--model");
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
  // No data pointer and an explicit target device: LibTorch neither allocates
  // nor asks a device runtime where the (absent) memory lives.
  return at::for_blob(nullptr, shape)
      .options(at::TensorOptions().dtype(dtype))
      .target_device(device)
      .make_tensor();
}

Description parse_description(const std::string& text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, ..."
    // (out_of_range.406 for numbers too large for a double, e.g. 1e400).
    std::string what = e.what();
    const auto bracket = what.find("] ");
    fail("", "malformed JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
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
  if (doc.contains("model") && !doc["model"].is_null()) {
    description.model = parse_model(doc["model"], "/model");
    if (!description.forward) fail("/forward", "a \"model\" check needs the \"forward\" arguments");
  }
  return description;
}

}  // namespace modctx::cli
