// JSON description -> unchecked context fields. Every way a document can be
// unusable ends in a DescriptionError that names the JSON path at fault; the
// pieces a safetensors file holds too (shapes, tensors, the slice, the
// forward arguments) are read by the library's json:: readers.
#include "description.hpp"

#include "modctx/names.hpp"

namespace modctx::cli {

namespace {

using json::child;
using json::Json;

[[noreturn]] void throw_at(const std::string& path, const std::string& message) {
  throw DescriptionError(path, message);
}

ModelSpec read_model(const Json& v, const std::string& path) {
  json::expect_object(v, path, {"arch", "hidden_size", "num_modalities", "num_image_tokens", "text_dtype",
                                "vocab_size", "max_seq_len", "cross_attention_blocks", "modalities"});
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
  // An optional key: absent or null is not given.
  auto given = [&](const char* key) { return v.contains(key) && !v[key].is_null(); };
  model.hidden_size = integer("hidden_size", true);
  if (v.contains("num_modalities")) model.num_modalities = integer("num_modalities", true);
  if (given("num_image_tokens")) model.num_image_tokens = integer("num_image_tokens", false);
  if (given("text_dtype")) {
    at::ScalarType dtype{};
    if (!v["text_dtype"].is_string() || !parse_dtype(v["text_dtype"].get<std::string>(), &dtype) ||
        !at::isFloatingType(dtype))
      throw_at(child(path, "text_dtype"), "expected a floating point dtype such as \"bfloat16\", found " +
                                             json::show(v["text_dtype"]));
    model.text_dtype = dtype;
  }
  if (given("vocab_size")) model.vocab_size = integer("vocab_size", true);
  if (given("max_seq_len")) model.max_seq_len = integer("max_seq_len", true);
  if (given("cross_attention_blocks")) model.cross_attention_blocks = integer("cross_attention_blocks", false);
  if (given("modalities")) {
    const Json& names = v["modalities"];
    const std::string at = child(path, "modalities");
    if (!names.is_array() || names.empty())
      throw_at(at, "expected the modality names in order, such as [\"image\", \"text\"], found " + json::show(names));
    for (size_t i = 0; i < names.size(); ++i) {
      if (!names[i].is_string() || names[i].get_ref<const std::string&>().empty())
        throw_at(child(at, i), "expected a modality name (a non-empty string), found " + json::show(names[i]));
      const std::string& name = names[i].get_ref<const std::string&>();
      for (const std::string& before : model.modality_names)
        if (before == name) throw_at(child(at, i), "modality " + json::quote(name) + " named twice");
      model.modality_names.push_back(name);
    }
    const auto count = static_cast<int64_t>(model.modality_names.size());
    if (!v.contains("num_modalities")) model.num_modalities = count;  // the names give the count
    else if (model.num_modalities != count)
      throw_at(at, std::to_string(count) + " names, but num_modalities is " + std::to_string(model.num_modalities));
  }
  return model;
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
  bool tokens_seen = false, in_tokens = false, kv_seen = false, kv_caches = false;
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
      kv_caches = item != "kv_caches=false";
      continue;
    } else if (!in_tokens) {
      bad(item.empty() ? std::string("an empty item") : "unknown item \"" + item + "\"");
    }
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
      bad("\"" + item + "\" is not a size");
    sizes += (sizes.empty() ? "" : ",") + item;
  }
  ForwardRecord forward;
  forward.kv_caches = kv_caches;
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
      description.fields[field] = json::read_tensor(item.value(), path);
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
