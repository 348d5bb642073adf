// modctx/model.hpp: checking a context, with its forward arguments, against
// a model: the reference's checks first, then everything the reference
// leaves to fail deep inside the model.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "modctx/context.hpp"
#include "modctx/forward.hpp"

namespace modctx {

// The architectures (Arch, arch_name, parse_arch): modctx/names.hpp.

// What modctx needs to know of a model. The first five are what a caller
// types in; the rest are what a model's own config adds (modctx/config.hpp
// reads them from KempnerForge's TOML): each is checked only when given.
struct ModelSpec {
  Arch arch = Arch::text;
  int64_t hidden_size = 0;                      // D, > 0
  int64_t num_modalities = 2;                   // MoT / MoMa routing: modality_ids in [0, num_modalities)
  std::optional<int64_t> num_image_tokens;      // N, when the model fixes it (MoT splits the residual at N)
  std::optional<at::ScalarType> text_dtype;     // the token embedding's dtype (inputs_embeds must match)

  std::optional<int64_t> vocab_size;            // token ids in [0, vocab_size) (nn.Embedding's rows), > 0
  std::optional<int64_t> max_seq_len;           // the RoPE table's length: positions one forward may use, > 0
  // Cross-Attention: how many Cross-Attention blocks the model has
  // (n_layers / cross_attention_every_n_layers). Unset: at least one. With
  // none, no block fires and image_features is not required.
  std::optional<int64_t> cross_attention_blocks;
  // MoT / MoMa: the modality names in order (KempnerForge's mot_modalities /
  // moma_modalities). Empty: ("image", "text"). When given, num_modalities
  // must equal their count.
  std::vector<std::string> modality_names;
};

// The forward call's arguments besides the context, read during the call
// only (the pointers and tokens_shape are not kept).
struct ModelForward {
  bool has_tokens = false;
  at::IntArrayRef tokens_shape;                 // (B, T) when has_tokens and tokens is null
  bool has_kv_caches = false;
  // The token ids as a tensor: its shape replaces tokens_shape, its dtype and
  // device are checked, its values when asked (ValueChecks::token_ids).
  // Implies has_tokens.
  const at::Tensor* tokens = nullptr;
  const at::Tensor* doc_ids = nullptr;          // per-position document ids for packed sequences
  std::optional<KvCacheState> kv_cache;         // the KV caches' state, when known (implies has_kv_caches)

  // The arguments a file or a description records; the result views
  // record's members, so record must outlive it.
  static ModelForward of(const ForwardRecord& record) {
    ModelForward f;
    f.has_tokens = record.tokens.has_value();
    if (record.tokens) f.tokens_shape = at::IntArrayRef(*record.tokens);
    if (record.token_ids.defined()) f.tokens = &record.token_ids;
    if (record.doc_ids.defined()) f.doc_ids = &record.doc_ids;
    f.has_kv_caches = record.kv_caches;
    f.kv_cache = record.kv_cache;
    return f;
  }
};

// Checks that read tensor values: off unless asked for by name. Each reads
// host memory only (a tensor elsewhere, or without data, gives
// Code::unsupported).
struct ValueChecks {
  bool modality_ids_range = false;              // modality_ids within [0, num_modalities)
  bool token_ids_range = false;                 // token ids within [0, vocab_size) (needs the model's vocab_size)
};

// Everything, in this order (the first failure is returned), which follows
// the order in which the reference's forward meets each problem:
//  1. the model itself and the KV caches' state (Code::invalid_argument);
//  2. the reference's forward-time checks (validate_forward);
//  3. the token ids' dtype: nn.Embedding takes int64 or int32 (Code::dtype);
//  4. what must hold for the reference to build the residual at all
//     (tokens (B, T) of sizes >= 0; inputs_embeds of at least 2 dims;
//     prefix_embeds (B, N, D) with the tokens' B and the model's D): the
//     reference fails there with an opaque PyTorch error;
//  5. the reference's model-time checks with its messages (MoT / MoMa
//     without modality_ids, modality_ids not of the residual's shape, MoT's
//     streams against its modalities);
//  6. what the first block needs: inputs_embeds (B, S, D); at least one
//     sample and one position (MoT: in each stream); the model's image
//     tokens; the RoPE budget (cache fill + the residual's length within
//     max_seq_len; MoT counts image and text positions apart) (Code::length);
//     the KV caches' room and batch, doc_ids or key_padding_mask with KV
//     caches (the reference's assert) (Code::kv_cache);
//  7. the rest of the reference's forward: Cross-Attention without
//     image_features when a block fires, then the output slice (step 0 or
//     below);
//  8. modctx's own: fields and arguments the architecture does not use
//     (doc_ids with MoT); shapes (ranks, batch, hidden size, image_mask
//     against image_features, key_padding_mask and doc_ids against the
//     residual); dtypes; one device for all, tokens and doc_ids included;
//  9. value checks asked for in `values`, token ids first (these read data:
//     a tensor whose memory this LibTorch cannot read gives
//     Code::unsupported).
// Metadata only unless a value check is asked for. Never throws for a bad
// context or model (only std::bad_alloc).
Status validate_model(const ModalityContext* context, const ModelSpec& model, const ModelForward& forward,
                      ValueChecks values = {});

// Throwing form: the exception throw_if_failed gives for the first failure
// (ForwardError for most, SliceError, Error for a bad spec or an unreadable
// tensor).
void check_model(const ModalityContext* context, const ModelSpec& model, const ModelForward& forward,
                 ValueChecks values = {});

}  // namespace modctx
