// libFuzzer target: KempnerForge TOML config text (modctx::read_model_config).
//
// Contract checked beyond the sanitizers: read_model_config returns (no
// exception escapes: libFuzzer reports one through std::terminate); a
// refusal is Code::format with a message naming the source; an accepted
// config gives a spec that holds what the reader promises: positive sizes,
// modality names matching num_modalities, image tokens that leave room for
// text in the RoPE table (but with Cross-Attention), no Cross-Attention
// blocks but for Cross-Attention.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "modctx/config.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "config_fuzz: FINDING: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  modctx::ModelSpec spec;
  const modctx::Status s = modctx::read_model_config(text, "<fuzz>", &spec);
  if (!s.ok()) {
    if (s.code != modctx::Code::format)
      finding(std::string("refused with ") + modctx::code_name(s.code) + ": " + s.message);
    if (s.message.rfind("<fuzz>: ", 0) != 0 || s.message.size() == 8) finding("message: " + s.message);
    return 0;
  }
  if (!s.message.empty()) finding("success with a message");
  if (spec.hidden_size <= 0 || !spec.vocab_size || *spec.vocab_size <= 0 || !spec.max_seq_len ||
      *spec.max_seq_len <= 0)
    finding("a size not positive");
  if (!spec.modality_names.empty() && static_cast<int64_t>(spec.modality_names.size()) != spec.num_modalities)
    finding("modality names against num_modalities");
  const bool vlm = spec.arch != modctx::Arch::text;
  if (vlm != spec.num_image_tokens.has_value()) finding("num_image_tokens given for a text model or missing for a VLM");
  if (vlm && *spec.num_image_tokens < 0) finding("negative num_image_tokens");
  if (vlm && spec.arch != modctx::Arch::cross_attention && *spec.num_image_tokens >= *spec.max_seq_len)
    finding("image tokens leave no room for text");
  if (spec.cross_attention_blocks.has_value() != (spec.arch == modctx::Arch::cross_attention))
    finding("cross_attention_blocks");
  if (spec.cross_attention_blocks && *spec.cross_attention_blocks < 0) finding("negative cross_attention_blocks");
  return 0;
}
