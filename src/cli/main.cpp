// modctx: the command-line checker.
//
//   modctx check FILE.json     (FILE may be "-" for standard input)
//
// Exit status: 0 the context is valid, 1 it is invalid (first line: the
// check's code; second line: its exact message), 2 unreadable input or a
// usage error (a message on standard error).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "cli/description.hpp"
#include "modctx/modctx.hpp"

namespace {

constexpr int kValid = 0;
constexpr int kInvalid = 1;
constexpr int kUsage = 2;

const char* const kUsageText =
    "usage: modctx check FILE.json      check the context FILE describes (\"-\": standard input)\n"
    "       modctx --help | --version\n";

const char* const kHelpText =
    "modctx: build and check a ModalityContext the way KempnerForge does, without Python.\n"
    "\n"
    "usage: modctx check FILE.json      check the context FILE describes (\"-\": standard input)\n"
    "       modctx --help               this text\n"
    "       modctx --version            the version of modctx\n"
    "\n"
    "FILE is a JSON object:\n"
    "  {\n"
    "    \"fields\": {\"prefix_embeds\": {\"shape\": [2, 576, 4096], \"dtype\": \"bfloat16\", \"device\": \"cuda:0\"},\n"
    "               \"modality_ids\":  {\"shape\": [2, 600], \"dtype\": \"int64\"}},\n"
    "    \"output_slice\": [576, null, null],\n"
    "    \"forward\": {\"tokens\": [2, 24], \"kv_caches\": false}\n"
    "  }\n"
    "fields: any of inputs_embeds, prefix_embeds, image_features, image_mask, modality_ids,\n"
    "key_padding_mask; dtype: PyTorch's names without \"torch.\" (aliases such as long, half\n"
    "too); device: default cpu. output_slice: [start, stop, step] or null. forward: optional;\n"
    "tokens is the token-id shape or null. Tensors carry no data: nothing is allocated.\n"
    "\n"
    "Output: \"OK\" and the context's description, or the failed check's code and its\n"
    "message on two lines.\n"
    "Exit status: 0 valid, 1 invalid context, 2 unreadable input or usage error.\n";

bool read_input(const std::string& name, std::string* text) {
  std::ostringstream buffer;
  if (name == "-") {
    buffer << std::cin.rdbuf();
    if (std::cin.bad()) return false;
  } else {
    std::ifstream file(name, std::ios::binary);
    if (!file) return false;
    buffer << file.rdbuf();
    if (file.bad()) return false;
  }
  *text = buffer.str();
  return true;
}

int report_invalid(const modctx::Status& status) {
  std::cout << modctx::code_name(status.code) << '\n' << status.message << '\n';
  return kInvalid;
}

int check(const std::string& name) {
  std::string text;
  if (!read_input(name, &text)) {
    std::cerr << "modctx: cannot read " << name << ": " << std::strerror(errno) << '\n';
    return kUsage;
  }
  modctx::cli::Description description;
  try {
    description = modctx::cli::parse_description(text);
  } catch (const modctx::cli::DescriptionError& e) {
    std::cerr << "modctx: " << name << ": " << (e.path().empty() ? "" : e.path() + ": ") << e.what() << '\n';
    return kUsage;
  }
  modctx::ModalityContext context;
  modctx::Status status = modctx::ModalityContext::make(std::move(description.fields), &context);
  if (!status.ok()) return report_invalid(status);
  if (description.forward) {
    status = modctx::validate_forward(&context, description.forward->args());
    if (!status.ok()) return report_invalid(status);
  }
  std::cout << "OK\n" << context.describe() << '\n';
  return kValid;
}

int run(int argc, char** argv) {
  if (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::cout << kHelpText;
    return kValid;
  }
  if (argc == 2 && (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V"))) {
    std::cout << "modctx " << MODCTX_VERSION_STRING << '\n';
    return kValid;
  }
  if (argc == 3 && !std::strcmp(argv[1], "check")) return check(argv[2]);
  if (argc >= 2 && !std::strcmp(argv[1], "check"))
    std::cerr << "modctx: check takes exactly one FILE\n";
  else if (argc >= 2)
    std::cerr << "modctx: unknown command \"" << argv[1] << "\"\n";
  std::cerr << kUsageText;
  return kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // Nothing above should throw past its own handling; if it does, say so
    // plainly instead of aborting.
    std::cerr << "modctx: internal error: " << e.what() << '\n';
    return kUsage;
  }
}
