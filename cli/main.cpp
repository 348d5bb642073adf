// modctx: the command-line checker.
//
//   modctx check [OPTIONS] PATH...      (files, directories, "-" for standard input; cli/check_command.cpp)
//   modctx compose ARCH --image B,N,D --tokens B,T [--frames F | --frame-mask ROWS] [--dtype D] [--device D]
//
// Exit status: 0 the context is valid, 1 it is invalid (first line: the
// check's code; second line: its exact message), 2 unreadable input or a
// usage error (a message on standard error).
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "check_command.hpp"
#include "description.hpp"
#include "report.hpp"
#include "modctx/modctx.hpp"
#include "modctx/tensor.hpp"

namespace {

const char* const kComposeUsage =
    "usage: modctx compose ARCH --image B,N,D --tokens B,T [--frames F | --frame-mask ROWS]\n"
    "                      [--dtype DTYPE] [--device DEVICE]\n"
    "                    print the context the reference's strategy for ARCH builds\n";

const char* const kComposeHelp =
    "\n"
    "ARCH is joint_decoder, cross_attention, mot or moma; --image is the projected image\n"
    "embeddings' shape, --tokens the token ids' shape; --frames F gives a mask of F real\n"
    "frames, --frame-mask a 0/1 mask such as \"1,1,0;1,0,0\" (rows separated by \";\");\n"
    "--dtype is the embeddings' dtype (default float32), --device where the inputs live\n"
    "(default cpu). Prints \"OK\", the context, and the values of the tensors the strategy\n"
    "allocates; or the failed check's code and message (exit 1).\n";

const std::string kUsageText = std::string(modctx::cli::kCheckUsage) + kComposeUsage +
                               "       modctx --help | --version | COMMAND --help\n";

int usage_error(const std::string& message) { return modctx::cli::print_usage_error(message, kUsageText); }

const std::string kHelpText =
    "modctx: build and check a ModalityContext the way KempnerForge does, without Python.\n"
    "\n" + kUsageText +
    "\n"
    "A JSON context:\n"
    "  {\n"
    "    \"fields\": {\"prefix_embeds\": {\"shape\": [2, 576, 4096], \"dtype\": \"bfloat16\", \"device\": \"cuda:0\"},\n"
    "               \"modality_ids\":  {\"shape\": [2, 600], \"dtype\": \"int64\"}},\n"
    "    \"output_slice\": [576, null, null],\n"
    "    \"forward\": {\"tokens\": [2, 24], \"kv_caches\": false},\n"
    "    \"model\": {\"arch\": \"mot\", \"hidden_size\": 4096, \"num_modalities\": 2}\n"
    "  }\n"
    "fields: any of inputs_embeds, prefix_embeds, image_features, image_mask, modality_ids,\n"
    "key_padding_mask; dtype: PyTorch's names without \"torch.\" (aliases such as long, half\n"
    "too); device: default cpu. A tensor without \"values\" carries no data (nothing is\n"
    "allocated); with \"values\" (nested lists matching its shape: integers, true/false for\n"
    "bool, numbers for floating point dtypes; at most 16777216) it is a CPU tensor holding\n"
    "them, which the --values checks read. output_slice: [start, stop, step] or null.\n"
    "forward: optional; tokens is the token-id shape, null, or a tensor\n"
    "({\"shape\": [2, 24], \"dtype\": \"int64\", \"values\": [[5, 9, ...], ...]}); doc_ids a tensor\n"
    "of shape (B, N + T); kv_caches false, true, or the caches' state\n"
    "{\"seq_len\": 37, \"capacity\": 1024, \"batch\": 2}. model: optional (needs forward): arch\n"
    "(text, joint_decoder, cross_attention, mot, moma), hidden_size, and optionally\n"
    "num_modalities, num_image_tokens, text_dtype, vocab_size, max_seq_len,\n"
    "cross_attention_blocks, modalities ([\"image\", \"text\"]); --config FILE reads one from a\n"
    "KempnerForge TOML config. It runs every check of a context against the model.\n"
    "A safetensors file saved by modctx (or any writer using the field names) is checked\n"
    "with its data and the forward arguments saved in it.\n"
    "\n"
    "modctx check --help and modctx compose --help: each command's options.\n"
    "\n"
    "Output: \"OK\" and the context's description, or the failed check's code and its\n"
    "message on two lines (for many files: a line per file and a summary).\n"
    "Exit status: 0 valid, 1 invalid context, 2 unreadable input or usage error.\n";

// "1,1,0;1,0,0" -> a (2, 3) bool tensor; empty optional when malformed.
std::optional<at::Tensor> parse_frame_mask(const std::string& text) {
  std::vector<std::vector<bool>> rows(1);
  for (char c : text) {
    if (c == ';') rows.emplace_back();
    else if (c == '0' || c == '1') rows.back().push_back(c == '1');
    else if (c != ',' && c != ' ') return std::nullopt;
  }
  for (const auto& row : rows)
    if (row.empty() || row.size() != rows[0].size()) return std::nullopt;
  at::Tensor mask =
      modctx::allocate_cpu_tensor({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, at::kBool);
  auto* data = static_cast<bool*>(mask.data_ptr());
  for (const auto& row : rows)
    for (bool bit : row) *data++ = bit;
  return mask;
}

void print_values(const char* name, const at::Tensor& t) {
  if (!t.defined() || !t.is_cpu() || t.numel() > 4096) return;
  const int64_t cols = t.size(1);
  std::cout << name << " =";
  int64_t k = 0;
  modctx::for_each_value_as<int64_t>(t, [&](int64_t v) {
    if (k % cols == 0) std::cout << (k ? "; " : " ");
    else std::cout << ',';
    std::cout << v;
    ++k;
  });
  std::cout << '\n';
}

int compose(int argc, char** argv) {
  // argv[0] is "compose", argv[1] the architecture, then options.
  if (argc < 2) return usage_error("compose needs an architecture");
  modctx::Arch arch{};
  if (!modctx::parse_arch(argv[1], &arch) || arch == modctx::Arch::text)
    return usage_error(std::string("compose: unknown architecture \"") + argv[1] +
                       "\" (expected joint_decoder, cross_attention, mot or moma)");
  std::optional<std::vector<int64_t>> image, tokens;
  std::optional<at::Tensor> frame_mask;
  std::optional<int64_t> frames;
  at::ScalarType dtype = at::kFloat;
  at::Device device(at::kCPU);
  try {
    for (int i = 2; i < argc; i += 2) {
      const std::string option = argv[i];
      if (i + 1 >= argc) return usage_error("compose: " + option + " needs a value");
      const std::string value = argv[i + 1];
      if (option == "--image") image = modctx::cli::parse_sizes_option(value, "--image");
      else if (option == "--tokens") tokens = modctx::cli::parse_sizes_option(value, "--tokens");
      else if (option == "--frames") {
        const auto f = modctx::cli::parse_sizes_option(value, "--frames");
        if (f.size() != 1 || f[0] < 1) return usage_error("compose: --frames needs one count >= 1");
        frames = f[0];
      } else if (option == "--frame-mask") {
        frame_mask = parse_frame_mask(value);
        if (!frame_mask) return usage_error("compose: --frame-mask needs rows of 0 and 1, such as \"1,1,0;1,0,0\"");
      } else if (option == "--dtype") {
        if (!modctx::parse_dtype(value, &dtype)) return usage_error("compose: unknown dtype \"" + value + "\"");
      } else if (option == "--device") {
        if (!modctx::parse_device(value, &device)) return usage_error("compose: unknown device \"" + value + "\"");
      } else {
        return usage_error("compose: unknown option " + option);
      }
    }
  } catch (const modctx::cli::DescriptionError& e) {
    return usage_error("compose: " + e.path() + ": " + e.what());
  }
  if (!image || image->size() != 3) return usage_error("compose: --image B,N,D is required (three sizes)");
  if (!tokens || tokens->size() != 2) return usage_error("compose: --tokens B,T is required (two sizes)");
  if (frames && frame_mask) return usage_error("compose: give --frames or --frame-mask, not both");

  modctx::StrategyInputs in;
  in.image_embeds = modctx::make_metadata_tensor(*image, dtype, device);  // no data: never read
  in.input_ids_shape = *tokens;
  in.input_ids_device = device;
  if (frames) {
    frame_mask = modctx::allocate_cpu_tensor({(*image)[0], *frames}, at::kBool);
    std::memset(frame_mask->data_ptr(), 1, static_cast<size_t>(frame_mask->numel()));
  }
  if (frame_mask) {
    in.frame_mask = device.is_cpu() ? *frame_mask
                                    : modctx::make_metadata_tensor(frame_mask->sizes().vec(), at::kBool, device);
  }
  modctx::ModalityContext context;
  try {
    context = modctx::cpu_only::compose(arch, in);
  } catch (const modctx::Error& e) {
    modctx::cli::print_single(modctx::cli::invalid(modctx::Status::failure(e.code(), e.what())));
    return modctx::cli::kExitInvalid;
  }
  std::cout << "OK\n" << context.describe() << '\n';
  print_values("modality_ids", context.modality_ids());
  print_values("key_padding_mask", context.key_padding_mask());
  print_values("image_mask", context.image_mask());
  return modctx::cli::kExitValid;
}

int run(int argc, char** argv) {
  if (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::cout << kHelpText;
    return modctx::cli::kExitValid;
  }
  if (argc == 2 && (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V"))) {
    std::cout << "modctx " << MODCTX_VERSION_STRING << '\n';
    return modctx::cli::kExitValid;
  }
  if (argc >= 2 && !std::strcmp(argv[1], "check")) {
    return modctx::cli::check_command(argc - 2, argv + 2);
  } else if (argc >= 2 && !std::strcmp(argv[1], "compose")) {
    for (int i = 2; i < argc; ++i) {
      if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
        std::cout << kComposeUsage << kComposeHelp;
        return modctx::cli::kExitValid;
      }
    }
    return compose(argc - 1, argv + 1);
  } else if (argc >= 2) {
    std::cerr << "modctx: unknown command \"" << argv[1] << "\"\n";
  }
  std::cerr << kUsageText;
  return modctx::cli::kExitUnusable;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // Nothing above should throw past its own handling; if it does, say so
    // plainly instead of aborting.
    std::cerr << "modctx: internal error: " << e.what() << '\n';
    return modctx::cli::kExitUnusable;
  }
}
