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
//   text_dtype         [train].mixed_precision (default "bf16"): bf16 and
//                      fp8 -> bfloat16, fp16 -> float16, fp32 -> float32:
//                      the dtype the training script casts the model to, so
//                      the dtype inputs_embeds must have
//
// A config is refused, naming the key path, when it is not TOML, when a
// section or key is unknown (as KempnerForge refuses it), when a value has
// the wrong type, or when a value is impossible: the checks KempnerForge
// runs on these sections when it loads the config and builds the model.
// Sections a request does not depend on ([optimizer], [scheduler], [data],
// [eval], [distributed], [checkpoint], [metrics], [profiling]) are not read
// past their names. The rules, in the order they run:
//
//   limits     at most 16 MiB; tables and arrays nested at most 32 levels
//              (each name of a dotted key or [header] is a level); no
//              non-ASCII character where the TOML parser (toml++ 3.3)
//              misreads it: outside strings and comments (malformed TOML),
//              and right after a backslash in a multi-line basic string;
//              then toml++ parses ("line L, column C: malformed TOML: ...")
//   keys       the top level's sections, then in [model], [train],
//              [vision_encoder], [adapter], [vlm] (its keys depend on
//              vlm.arch, read first) and [video]: unknown keys, then types
//              (integers are TOML integers, a float key takes an integer
//              too, modalities are arrays of strings,
//              moma_experts_per_modality a table of integers), then values:
//   [model]    dim, n_layers, n_heads, vocab_size, n_kv_heads > 0; dim
//              divisible by n_heads, n_heads by n_kv_heads (unset: 32,
//              whatever n_heads is: KempnerForge keeps its default
//              ModelConfig's resolved value); max_seq_len > 0
//   [train]    mixed_precision one of bf16, fp16, fp32, fp8
//   [vision_   type one of random, siglip2, clip; feature_dim, num_tokens
//   encoder]   >= 0
//   [adapter]  type one of mlp_2layer, linear, avgpool, attentional_pool;
//              pool_window > 0
//   [vlm]      arch one of joint_decoder, cross_attention, mot, moma;
//              max_text_len > 0; cross_attention_every_n_layers > 0;
//              modalities: >= 2, "image" and "text" among them, no
//              duplicates; MoT's image head counts >= 0; MoMa's experts: an
//              entry for each modality, none other, each > 0
//   [video]    min_frames, max_frames > 0, min_frames <= max_frames
//   across     [vlm] needs [vision_encoder]; [video] needs [vlm]; a Hugging
//              Face encoder needs num_tokens; a pooling adapter needs a
//              square patch grid (attentional_pool: one the window
//              divides); frames x tokens within 64 bits; the residual's
//              image tokens (Cross-Attention: none) + vlm.max_text_len
//              within model.max_seq_len; MoT's image head counts, when
//              given, equal the text's
//
// Messages: "<source>: <key path>: expected an integer, found a string",
// "<source>: model.dim must be positive, got -1", "<source>: model.dimm:
// unknown key (valid keys: ...)". Failures are Code::format (an unusable
// config) or Code::io (a file that cannot be read); out_of_memory when an
// allocation fails. Nothing throws but the throwing forms.
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
