// A test driver for tests/safetensors_interop.py.
//
//   safetensors_tool write OUT.safetensors < SPEC.json
//       SPEC: {"fields": {NAME: {"dtype": "float32", "shape": [2, 3],
//                                "values": [...flat, C order; complex: [re, im]...],
//                                "contiguous": true}},
//              "output_slice": [start, stop, step] or null,
//              "forward": {"tokens": SHAPE or null, "kv_caches": BOOL} or null}
//       Builds the context (construction checks) and saves it.
//   safetensors_tool write-batch < [{"path": OUT, "spec": SPEC}, ...]
//       The same for many files, one JSON line each.
//   safetensors_tool read [--summary] FILE...
//       One JSON line per file: its fields (safetensors dtype, shape, values
//       unless --summary, whether the tensor lies in the file's mapping), the
//       output slice, the forward arguments and the construction check's
//       result; or {"file": ..., "error": {"code": ..., "message": ...}}.
#include <ATen/ATen.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "modctx/names.hpp"
#include "modctx/tensor.hpp"
#include "modctx/modctx.hpp"
#include "modctx/safetensors.hpp"

namespace {

using nlohmann::json;

at::Tensor make_tensor(const json& spec) {
  at::ScalarType dtype{};
  if (!modctx::parse_dtype(spec.at("dtype").get<std::string>(), &dtype))
    throw std::runtime_error("unknown dtype " + spec.at("dtype").dump());
  const auto shape = spec.at("shape").get<std::vector<int64_t>>();
  const json& values = spec.at("values");
  at::Tensor flat;
  if (dtype == at::kComplexFloat || dtype == at::kComplexDouble) {
    std::vector<double> re, im;
    for (const auto& v : values) {
      re.push_back(v.at(0).get<double>());
      im.push_back(v.at(1).get<double>());
    }
    flat = at::complex(at::tensor(re, at::kDouble), at::tensor(im, at::kDouble)).to(dtype);
  } else if (dtype == at::kBool) {
    std::vector<uint8_t> b;
    for (const auto& v : values) b.push_back(v.get<bool>() ? 1 : 0);
    flat = at::tensor(b, at::kByte).to(at::kBool);
  } else if (at::isIntegralType(dtype, /*includeBool=*/false)) {
    flat = at::tensor(values.get<std::vector<int64_t>>(), at::kLong).to(dtype);
  } else {
    flat = at::tensor(values.get<std::vector<double>>(), at::kDouble).to(dtype);
  }
  at::Tensor t = flat.reshape(shape);
  if (spec.contains("contiguous") && !spec["contiguous"].get<bool>()) {
    // The same values in every other element of a bigger tensor.
    auto big_shape = shape;
    big_shape.push_back(2);
    at::Tensor big = at::zeros(big_shape, at::TensorOptions().dtype(dtype));
    at::Tensor view = big.select(-1, 0);
    view.copy_(t);
    t = view;
  }
  return t;
}

json write_one(const std::string& out, const json& spec) {
  modctx::ContextFields fields;
  if (spec.contains("fields"))
    for (const auto& item : spec["fields"].items()) {
      modctx::Field field{};
      if (!modctx::parse_field(item.key(), &field)) throw std::runtime_error("unknown field " + item.key());
      fields[field] = make_tensor(item.value());
    }
  if (spec.contains("output_slice") && !spec["output_slice"].is_null()) {
    const json& s = spec["output_slice"];
    auto part = [](const json& v) { return v.is_null() ? std::nullopt : std::optional<int64_t>(v.get<int64_t>()); };
    fields.output_slice = modctx::Slice{part(s.at(0)), part(s.at(1)), part(s.at(2))};
  }
  std::optional<modctx::ForwardRecord> forward;
  if (spec.contains("forward") && !spec["forward"].is_null()) {
    const json& f = spec["forward"];
    forward.emplace();
    if (f.contains("tokens") && !f["tokens"].is_null()) forward->tokens = f["tokens"].get<std::vector<int64_t>>();
    forward->kv_caches = f.value("kv_caches", false);
  }
  try {
    modctx::save_safetensors(out, modctx::ModalityContext(std::move(fields)), forward);
  } catch (const modctx::Error& e) {
    return {{"file", out}, {"error", {{"code", modctx::code_name(e.code())}, {"message", e.what()}}}};
  }
  return {{"file", out}, {"ok", true}};
}

json read_stdin() {
  std::stringstream ss;
  ss << std::cin.rdbuf();
  return json::parse(ss.str());
}

std::vector<std::pair<uintptr_t, uintptr_t>> mappings_of(const std::string& path) {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto pos = line.find(path);
    if (pos == std::string::npos || pos + path.size() != line.size()) continue;
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &lo, &hi) == 2) out.emplace_back(lo, hi);
  }
  return out;
}

json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

json values_of(const at::Tensor& t) {
  json out = json::array();
  const at::Tensor flat = t.reshape({-1});
  const int64_t n = flat.numel();
  if (t.scalar_type() == at::kBool) {
    const at::Tensor b = flat.to(at::kByte);
    for (int64_t i = 0; i < n; ++i) out.push_back(b[i].item<uint8_t>() != 0);
  } else if (t.is_complex()) {
    const at::Tensor re = at::real(flat).to(at::kDouble), im = at::imag(flat).to(at::kDouble);
    for (int64_t i = 0; i < n; ++i) out.push_back(json::array({number(re[i].item<double>()), number(im[i].item<double>())}));
  } else if (at::isIntegralType(t.scalar_type(), false)) {
    const at::Tensor l = flat.to(at::kLong);
    for (int64_t i = 0; i < n; ++i) out.push_back(l[i].item<int64_t>());
  } else {
    const at::Tensor d = flat.to(at::kDouble);
    for (int64_t i = 0; i < n; ++i) out.push_back(number(d[i].item<double>()));
  }
  return out;
}

json read_one(const std::string& path, bool summary) {
  json out = {{"file", path}};
  try {
    const modctx::LoadedContext loaded = modctx::load_safetensors(path);
    const auto maps = mappings_of(path);
    json fields = json::object();
    for (int i = 0; i < modctx::kFieldCount; ++i) {
      const at::Tensor& t = loaded.fields.tensors[i];
      if (!t.defined()) continue;
      json f = {{"dtype", modctx::safetensors_dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}};
      bool inside = false;
      const auto p = reinterpret_cast<uintptr_t>(t.data_ptr());
      for (const auto& [lo, hi] : maps) inside = inside || (p >= lo && p + t.nbytes() <= hi);
      f["zero_copy"] = inside;
      if (!summary) f["values"] = values_of(t);
      fields[modctx::field_name(static_cast<modctx::Field>(i))] = f;
    }
    out["fields"] = fields;
    if (loaded.fields.output_slice) {
      const auto& s = *loaded.fields.output_slice;
      auto part = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
      out["output_slice"] = json::array({part(s.start), part(s.stop), part(s.step)});
    } else {
      out["output_slice"] = nullptr;
    }
    if (loaded.forward)
      out["forward"] = {{"tokens", loaded.forward->tokens ? json(*loaded.forward->tokens) : json(nullptr)},
                        {"kv_caches", loaded.forward->kv_caches}};
    else
      out["forward"] = nullptr;
    modctx::ModalityContext ctx;
    const modctx::Status status = modctx::ModalityContext::make(loaded.fields, &ctx);
    out["check"] = {{"code", modctx::code_name(status.code)}, {"message", status.message}};
    if (status.ok()) out["describe"] = ctx.describe();
  } catch (const modctx::Error& e) {
    out["error"] = {{"code", modctx::code_name(e.code())}, {"message", e.what()}};
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: safetensors_tool write OUT < SPEC.json | write-batch < LIST.json | read [--summary] FILE...";
  if (argc < 2) {
    std::cerr << usage << "\n";
    return 2;
  }
  const std::string command = argv[1];
  try {
    if (command == "write" && argc == 3) {
      const json result = write_one(argv[2], read_stdin());
      std::cout << result.dump(-1, ' ', true) << "\n";
      return result.contains("ok") ? 0 : 1;
    }
    if (command == "write-batch" && argc == 2) {
      for (const auto& item : read_stdin())
        std::cout << write_one(item.at("path").get<std::string>(), item.at("spec")).dump(-1, ' ', true) << "\n";
      return 0;
    }
    if (command == "read") {
      bool summary = false;
      for (int i = 2; i < argc; ++i) {
        if (std::string(argv[i]) == "--summary") {
          summary = true;
          continue;
        }
        std::cout << read_one(argv[i], summary).dump(-1, ' ', true) << "\n";
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::cout << json{{"error", {{"code", "EXCEPTION"}, {"message", e.what()}}}}.dump(-1, ' ', true) << "\n";
    return 1;
  }
  std::cerr << usage << "\n";
  return 2;
}
