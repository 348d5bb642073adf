// libFuzzer target: safetensors files (modctx::load_safetensors_from_memory),
// then what a server does with one: the construction and forward checks,
// describe(), and writing it back out (safetensors_bytes), which must load
// again to the same tensors.
//
// Contract checked beyond the sanitizers: a load either succeeds or throws
// modctx::Error with Code::format or Code::unsupported and a message that
// starts with the given name, and nothing else; every byte of every loaded
// tensor lies inside the input (or inside memory the loader allocated for a
// misaligned tensor). The fuzzer reads each tensor's bytes itself, in
// instrumented code, so that a tensor reaching past the input is a heap
// overflow report (libFuzzer hands the input in an exact-size heap block).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "modctx/modctx.hpp"
#include "modctx/safetensors.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "safetensors_fuzz: FINDING: %s\n", what.c_str());
  std::abort();
}

// The tensor's bytes in logical order, read one element at a time.
std::vector<unsigned char> bytes_of(const at::Tensor& t, const uint8_t* input, size_t size, const char* name) {
  std::vector<unsigned char> out;
  if (!t.device().is_cpu()) finding(std::string(name) + ": a loaded tensor is not on the CPU");
  const int64_t n = t.numel();
  const size_t item = t.element_size();
  if (n == 0) return out;
  const auto* base = static_cast<const unsigned char*>(t.data_ptr());
  if (!base) finding(std::string(name) + ": elements without data");
  // A tensor viewing the input must end inside it.
  const bool views_input = base >= input && base < input + size;
  if (views_input && (static_cast<size_t>(n) > size / item || base + static_cast<size_t>(n) * item > input + size))
    finding(std::string(name) + ": tensor reaches past the end of the file");
  if (static_cast<size_t>(n) > size) finding(std::string(name) + ": more elements than the file has bytes");
  out.resize(static_cast<size_t>(n) * item);
  const int64_t dims = t.dim();
  std::vector<int64_t> index(static_cast<size_t>(dims), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t offset = 0;
    for (int64_t d = 0; d < dims; ++d) offset += index[static_cast<size_t>(d)] * t.stride(d);
    for (size_t b = 0; b < item; ++b)
      out[static_cast<size_t>(e) * item + b] = *static_cast<const volatile unsigned char*>(base + offset * item + b);
    for (int64_t d = dims - 1; d >= 0; --d) {
      if (++index[static_cast<size_t>(d)] < t.size(d)) break;
      index[static_cast<size_t>(d)] = 0;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  modctx::LoadedContext loaded;
  try {
    loaded = modctx::load_safetensors_from_memory(data, size, nullptr, "fuzz.safetensors");
  } catch (const modctx::Error& e) {
    if (e.code() != modctx::Code::format && e.code() != modctx::Code::unsupported)
      finding(std::string("load failed with ") + modctx::code_name(e.code()) + ": " + e.what());
    if (std::strncmp(e.what(), "fuzz.safetensors: ", 18) != 0)
      finding(std::string("message does not start with the name: ") + e.what());
    return 0;
  }
  // Any other exception escapes: libFuzzer reports it (std::terminate).
  std::vector<unsigned char> contents[modctx::kFieldCount];
  for (int i = 0; i < modctx::kFieldCount; ++i) {
    const at::Tensor& t = loaded.fields.tensors[i];
    if (t.defined())
      contents[i] = bytes_of(t, data, size, modctx::field_name(static_cast<modctx::Field>(i)));
  }
  modctx::ModalityContext context;
  const modctx::Status built = modctx::ModalityContext::make(loaded.fields, &context);
  if (!built.ok()) {
    if (built.message.empty()) finding("construction failed without a message");
    return 0;
  }
  if (loaded.forward) {
    const modctx::Status s =
        modctx::validate_forward(context.facts(), loaded.forward->args());
    if (!s.ok() && s.message.empty()) finding("forward check failed without a message");
  }
  const std::string line = context.describe();
  if (line.rfind("ModalityContext(", 0) != 0) finding("describe(): " + line);

  // Written back out, the file loads to the same context.
  std::string again;
  try {
    again = modctx::safetensors_bytes(context, loaded.forward);
  } catch (const modctx::Error& e) {
    if (e.code() != modctx::Code::unsupported)
      finding(std::string("writing a loaded context failed: ") + modctx::code_name(e.code()) + ": " + e.what());
    return 0;
  }
  modctx::LoadedContext reloaded;
  try {
    reloaded = modctx::load_safetensors_from_memory(again.data(), again.size(), nullptr, "again");
  } catch (const modctx::Error& e) {
    finding(std::string("a file modctx wrote does not load: ") + e.what());
  }
  for (int i = 0; i < modctx::kFieldCount; ++i) {
    const at::Tensor& a = loaded.fields.tensors[i];
    const at::Tensor& b = reloaded.fields.tensors[i];
    const char* name = modctx::field_name(static_cast<modctx::Field>(i));
    if (a.defined() != b.defined()) finding(std::string(name) + ": present in one file only");
    if (!a.defined()) continue;
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
      finding(std::string(name) + ": dtype or shape changed in the round trip");
    const auto* p = reinterpret_cast<const uint8_t*>(again.data());
    if (bytes_of(b, p, again.size(), name) != contents[i]) finding(std::string(name) + ": bytes changed in the round trip");
  }
  const auto& s1 = loaded.fields.output_slice;
  const auto& s2 = reloaded.fields.output_slice;
  if (s1.has_value() != s2.has_value() ||
      (s1 && (s1->start != s2->start || s1->stop != s2->stop || s1->step != s2->step)))
    finding("output_slice changed in the round trip");
  if (loaded.forward.has_value() != reloaded.forward.has_value() ||
      (loaded.forward && !(*loaded.forward == *reloaded.forward)))
    finding("forward arguments changed in the round trip");
  return 0;
}
