// JSON description -> unchecked context fields. Every way a document can be
// unusable ends in a DescriptionError that names the JSON path at fault; the
// pieces a safetensors file holds too (shapes, the slice, the forward
// arguments) are read by the library's json:: readers.
#include "description.hpp"

#include "modctx/names.hpp"
#include "modctx/tensor.hpp"

namespace modctx::cli {

namespace {

using json::child;
using json::Json;

[[noreturn]] void throw_at(const std::string& path, const std::string& message) {
  throw DescriptionError(path, message);
}

at::Device read_device(const Json& v, const std::string& path) {
  if (!v.is_string())
    throw_at(path, std::string("expected a device name such as \"cuda:0\", found ") + json::kind_of(v));
  at::Device device(at::kCPU);
  if (!parse_device(v.get<std::string>(), &device))
    throw_at(path, "unknown device " + json::quote(v.get<std::string>()) +
                      " (expected e.g. cpu, cuda, cuda:1, hip:0, mps, xpu:0)");
  return device;
}

ModelSpec read_model(const Json& v, const std::string& path) {
  json::expect_object(v, path, {"arch", "hidden_size", "num_modalities", "num_image_tokens", "text_dtype"});
  ModelSpec model;
  if (!v.contains("arch")) throw_at(child(path, "arch"), "missing key \"arch\"");
  if (!v["arch"].is_string() || !parse_arch(v["arch"].get<std::string>(), &model.arch))
    throw_at(child(path, "arch"), "unknown architecture " + json::show(v["arch"]) +
                                     " (expected " + arch_list() + ")");
  if (!v.contains("hidden_size")) throw_at(child(path, "hidden_size"), "missing key \"hidden_size\"");
  // An integer > 0 (positive) or >= 0.
  auto integer = [&](const char* key, bool positive) {
    const auto value = json::as_int64(v[key]);
    if (!value || *value < (positive ? 1 : 0))
      throw_at(child(path, key), std::string("expected an integer ") + (positive ? "> 0" : ">= 0") + ", found " +
                                     json::show(v[key]));
    return *value;
  };
  model.hidden_size = integer("hidden_size", true);
  if (v.contains("num_modalities")) model.num_modalities = integer("num_modalities", true);
  if (v.contains("num_image_tokens") && !v["num_image_tokens"].is_null())
    model.num_image_tokens = integer("num_image_tokens", false);
  if (v.contains("text_dtype") && !v["text_dtype"].is_null()) {
    at::ScalarType dtype{};
    if (!v["text_dtype"].is_string() || !parse_dtype(v["text_dtype"].get<std::string>(), &dtype) ||
        !at::isFloatingType(dtype))
      throw_at(child(path, "text_dtype"), "expected a floating point dtype such as \"bfloat16\", found " +
                                             json::show(v["text_dtype"]));
    model.text_dtype = dtype;
  }
  return model;
}

at::Tensor read_tensor(const Json& v, const std::string& path) {
  json::expect_object(v, path, {"shape", "dtype", "device"});
  if (!v.contains("shape")) throw_at(child(path, "shape"), "missing key \"shape\"");
  if (!v.contains("dtype")) throw_at(child(path, "dtype"), "missing key \"dtype\"");
  const auto shape = json::read_shape(v["shape"], child(path, "shape"));
  at::ScalarType dtype{};
  if (!v["dtype"].is_string() || !parse_dtype(v["dtype"].get<std::string>(), &dtype))
    throw_at(child(path, "dtype"), "unknown dtype " + json::show(v["dtype"]) + " (expected " + dtype_list() + ", or an alias such as long, half)");
  const at::Device device = v.contains("device") ? read_device(v["device"], child(path, "device")) : at::Device(at::kCPU);
  // No data: nothing is allocated, no device runtime is asked anything.
  return make_metadata_tensor(shape, dtype, device);
}

}  // namespace

std::vector<int64_t> parse_sizes_option(const std::string& text, const std::string& what) {
  Json v;
  try {
    v = Json::parse("[" + text + "]");
  } catch (const Json::exception&) {
    throw_at(what, "expected sizes separated by commas, such as 2,576,4096, found " + json::quote(text));
  }
  return json::read_shape(v, what);
}

ModelSpec parse_model_option(const std::string& text) {
  return read_model(json::parse_strict(text, "--model"), "--model");
}

ForwardRecord parse_forward_option(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\n\r");
  if (first != std::string::npos && text[first] == '{')
    return json::read_forward(json::parse_strict(text, "--forward"), "--forward");
  // The short form: comma-separated items, "tokens=" followed by the sizes
  // (or "none"), and "kv_caches" (or "kv_caches=true" / "=false").
  ForwardRecord forward;
  bool tokens_seen = false, in_tokens = false, kv_seen = false;
  std::string sizes;  // the token sizes, read with the JSON form's rules
  auto bad = [&](const std::string& message) {
    throw_at("--forward", message + " in \"" + text +
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
  if (!sizes.empty()) forward.tokens = parse_sizes_option(sizes, "--forward/tokens");
  return forward;
}

Description parse_description(const std::string& text, const std::optional<ForwardRecord>& forward) {
  const Json doc = json::parse_strict(text, "");
  json::expect_object(doc, "", {"fields", "output_slice", "forward", "model"});

  Description description;
  if (doc.contains("fields")) {
    const Json& fields = doc["fields"];
    json::expect_object(fields, "/fields");
    for (const auto& item : fields.items()) {
      Field field{};
      const std::string path = child("/fields", item.key());
      if (!parse_field(item.key(), &field))
        throw_at(path, "unknown field " + json::quote(item.key()) + " (expected one of: " + field_list() + ")");
      if (item.value().is_null()) continue;  // null: the field is absent
      description.fields[field] = read_tensor(item.value(), path);
    }
  }
  if (doc.contains("output_slice"))
    description.fields.output_slice = json::read_slice(doc["output_slice"], "/output_slice");
  if (doc.contains("forward") && !doc["forward"].is_null())
    description.forward = json::read_forward(doc["forward"], "/forward");
  if (forward) description.forward = forward;  // the command line's replace the document's
  if (doc.contains("model") && !doc["model"].is_null()) {
    description.model = read_model(doc["model"], "/model");
    if (!description.forward) throw_at("/forward", "a \"model\" check needs the \"forward\" arguments");
  }
  return description;
}

}  // namespace modctx::cli
