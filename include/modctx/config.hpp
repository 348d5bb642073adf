// modctx/config.hpp: a model described by its own training config.
//
// KempnerForge trains from TOML configs (configs/train/*.toml upstream). A
// request check needs a few numbers of the model a config builds; these
// functions read them, with KempnerForge's defaults and derived as its build
// path derives them (upstream commit 5666d0d):
//
//   arch               [vlm].arch (default "joint_decoder"); no [vlm]: text
//   hidden_size        [model].dim (default 4096)
//   vocab_size         [model].vocab_size (default 32000)
//   max_seq_len        [model].max_seq_len (default 2048)
//   num_image_tokens   a VLM's image tokens per sample: frames x the adapter's
//                      output count of the encoder's num_tokens. Frames:
//                      [video].max_frames (default 16) when [video] is set,
//                      else 1. Encoder tokens: [vision_encoder].num_tokens;
//                      0 means "the encoder decides": 16 for "random", and
//                      refused for a Hugging Face encoder ("siglip2", "clip"),
//                      whose count only its weights know. Pooling adapters
//                      ("avgpool", "attentional_pool") give
//                      ceil(sqrt(n) / pool_window)^2 (n a perfect square);
//                      projection adapters keep n.
//   num_modalities,    MoT: [vlm].mot_modalities; MoMa: [vlm].moma_modalities
//   modality_names     (default ["image", "text"]); others: 2, none
//   cross_attention_   Cross-Attention: [model].n_layers (default 32) /
//   blocks             [vlm].cross_attention_every_n_layers (default 4)
//   text_dtype         [train].mixed_precision when the config writes it:
//                      bf16 and fp8 -> bfloat16, fp16 -> float16, fp32 ->
//                      float32 (the dtype the training script casts the
//                      model to); unset when the config leaves it out
//
// A config is refused, naming the key path, when it is not TOML, when a
// section or key is unknown (as KempnerForge refuses it), when a value has
// the wrong type, or when a value is impossible: the checks KempnerForge
// runs on these sections when it loads the config and builds the model
// (positive sizes, dim divisible by n_heads, known architectures, encoders
// and adapters, a square patch grid for pooling, the image tokens plus
// [vlm].max_text_len within max_seq_len, ...). Sections a request does not
// depend on ([optimizer], [data], ...) are not read past their names.
//
// Failures are Code::format (an unusable config) or Code::io (a file that
// cannot be read), with messages such as
//   config.toml: model.dim: expected an integer, found a string
#pragma once

#include <string>
#include <string_view>

#include "modctx/model.hpp"
#include "modctx/status.hpp"

namespace modctx {

// Reads a config from TOML text. `source` names it in messages (a path, or
// "<config>"). On failure *out is untouched.
Status read_model_config(std::string_view text, const std::string& source, ModelSpec* out);

// Reads a config file (at most 16 MiB).
Status read_model_config_file(const std::string& path, ModelSpec* out);

// Throwing forms: Error with the status's code.
ModelSpec model_from_config(std::string_view text, const std::string& source = "<config>");
ModelSpec model_from_config_file(const std::string& path);

}  // namespace modctx
