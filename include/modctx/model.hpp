// modctx/model.hpp: checking a context, with its forward arguments, against
// a model: the reference's checks first, then everything the reference
// leaves to fail deep inside the model.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

#include "modctx/context.hpp"
#include "modctx/forward.hpp"

namespace modctx {

// The architectures (Arch, arch_name, parse_arch): modctx/names.hpp.

// What modctx needs to know of a model.
struct ModelSpec {
  Arch arch = Arch::text;
  int64_t hidden_size = 0;                      // D, > 0
  int64_t num_modalities = 2;                   // MoT / MoMa routing: modality_ids in [0, num_modalities)
  std::optional<int64_t> num_image_tokens;      // N, when the model fixes it (MoT splits the residual at N)
  std::optional<at::ScalarType> text_dtype;     // the token embedding's dtype (inputs_embeds must match)
};

// The forward call's arguments besides the context. tokens_shape is read
// during the call only.
struct ModelForward {
  bool has_tokens = false;
  at::IntArrayRef tokens_shape;                 // (B, T) when has_tokens
  bool has_kv_caches = false;

  // The arguments a file or a description records; tokens_shape views
  // record.tokens, which must outlive the result.
  static ModelForward of(const ForwardRecord& record) {
    return {record.tokens.has_value(), record.tokens ? at::IntArrayRef(*record.tokens) : at::IntArrayRef(),
            record.kv_caches};
  }
};

// Checks that read tensor values: off unless asked for by name.
struct ValueChecks {
  bool modality_ids_range = false;              // modality_ids within [0, num_modalities)
};

// Everything, in this order (the first failure is returned):
//  1. the reference's forward-time checks (validate_forward);
//  2. what must hold for the reference to build the residual at all
//     (tokens (B, T); inputs_embeds (B, S, D); prefix_embeds (B, N, D) with
//     the tokens' B and the model's D): the reference fails there with an
//     opaque PyTorch error, before its model-time checks;
//  3. the reference's model-time checks with its messages (MoT / MoMa
//     without modality_ids, modality_ids not of the residual's shape,
//     Cross-Attention without image_features), then its output slice
//     (step 0 or below);
//  4. modctx's own: fields the architecture does not use; shapes (ranks,
//     batch, hidden size, image_mask against image_features,
//     key_padding_mask against the residual, the model's image tokens);
//     dtypes; one device for all;
//  5. value checks asked for in `values` (these read data: a tensor whose
//     memory this LibTorch cannot read gives Code::unsupported).
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
