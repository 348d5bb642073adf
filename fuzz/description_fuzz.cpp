// libFuzzer target: the JSON description read by `modctx check`
// (modctx::cli::parse_description), then what the checker does with it:
// construction checks, forward checks, describe().
//
// Contract checked beyond the sanitizers: parse_description throws
// DescriptionError and nothing else, with a message and a JSON pointer
// ("" or starting with '/'); a parsed description's tensors carry data only
// when it gave their values (and then are on the CPU), have the shape it
// gave, and the checks answer with a known code.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "description.hpp"
#include "modctx/modctx.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "description_fuzz: FINDING: %s\n", what.c_str());
  std::abort();
}

void check_status(const modctx::Status& s, const char* what) {
  if (s.ok()) return;
  if (s.message.empty()) finding(std::string(what) + ": failure without a message");
  if (std::string(modctx::code_name(s.code)) == "MODCTX_ERR_UNKNOWN") finding(std::string(what) + ": unknown code");
  if (s.code == modctx::Code::internal || s.code == modctx::Code::out_of_memory)
    finding(std::string(what) + ": " + modctx::code_name(s.code) + ": " + s.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  modctx::cli::Description description;
  try {
    description = modctx::cli::parse_description(text);
  } catch (const modctx::cli::DescriptionError& e) {
    if (*e.what() == '\0') finding("DescriptionError without a message");
    if (!e.path().empty() && e.path()[0] != '/') finding("DescriptionError path \"" + e.path() + "\"");
    return 0;
  }
  // Any other exception escapes: libFuzzer reports it (std::terminate).
  for (int i = 0; i < modctx::kFieldCount; ++i) {
    const at::Tensor& t = description.fields.tensors[i];
    if (!t.defined()) continue;
    if (t.storage().data() != nullptr && !t.is_cpu()) finding("a described tensor with data is not on the CPU");
    for (int64_t d : t.sizes())
      if (d < 0) finding("a described tensor has a negative size");
  }
  modctx::ModalityContext context;
  const modctx::Status built = modctx::ModalityContext::make(description.fields, &context);
  check_status(built, "construction");
  if (!built.ok()) return 0;
  if (description.forward) check_status(modctx::validate_forward(context.facts(), description.forward->args()), "forward");
  const std::string line = context.describe();
  if (line.rfind("ModalityContext(", 0) != 0 || line.back() != ')') finding("describe(): " + line);
  if (context.output_slice()) {
    modctx::Slice::Indices r{};
    const char* error = nullptr;
    for (int64_t length : {int64_t{0}, int64_t{1}, int64_t{7}, INT64_MAX})
      if (!context.output_slice()->try_indices(length, &r, &error) && context.output_slice()->step.value_or(1) != 0)
        finding(std::string("slice.indices failed: ") + error);
  }
  return 0;
}
