// modctx/forward.hpp: the checks at the top of the reference's
// Transformer.forward(tokens, modality, kv_caches), and the output slice
// applied to a hidden state.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "modctx/context.hpp"

namespace modctx {

// What the forward call is given besides the context: whether token ids are
// passed, and whether KV caches are (decoding).
struct ForwardArgs {
  bool has_tokens = false;
  bool has_kv_caches = false;
};

// The state of a forward call's KV caches (every layer's cache alike), as
// KempnerForge's KVCache holds it: positions already written (its seq_len),
// positions it can hold (the length it was allocated with) and its batch size.
struct KvCacheState {
  int64_t seq_len = 0;
  int64_t capacity = 0;
  int64_t batch = 0;

  friend bool operator==(const KvCacheState& a, const KvCacheState& b) {
    return a.seq_len == b.seq_len && a.capacity == b.capacity && a.batch == b.batch;
  }
};

// The forward arguments as a file or a description records them: the
// token ids (absent: no tokens), doc_ids, and the KV caches. A safetensors
// file saves one ("modctx.forward", plus the tensors "tokens" and "doc_ids"
// when it holds them); the checker reads one from a JSON description's
// "forward" section or from --forward.
struct ForwardRecord {
  // The token ids' shape. token_ids, when defined, is the tensor itself
  // (its dtype and device; its values when it has data) and has this shape.
  std::optional<std::vector<int64_t>> tokens;
  bool kv_caches = false;               // KV caches are given (decoding)
  at::Tensor token_ids;
  at::Tensor doc_ids;                   // undefined: none
  std::optional<KvCacheState> kv_cache;  // their state, when known (implies kv_caches)

  ForwardArgs args() const { return ForwardArgs{tokens.has_value(), kv_caches}; }

  // Equal when the shapes, the KV caches and, for tensors, presence, dtype,
  // device and shape agree (values are not compared).
  friend bool operator==(const ForwardRecord& a, const ForwardRecord& b) {
    auto same = [](const at::Tensor& x, const at::Tensor& y) {
      if (x.defined() != y.defined()) return false;
      return !x.defined() ||
             (x.scalar_type() == y.scalar_type() && x.device() == y.device() && x.sizes() == y.sizes());
    };
    return a.tokens == b.tokens && a.kv_caches == b.kv_caches && a.kv_cache == b.kv_cache &&
           same(a.token_ids, b.token_ids) && same(a.doc_ids, b.doc_ids);
  }
};

// The forward-time checks in the reference's order: exactly one of tokens
// and inputs_embeds; no training-only part (output_slice, prefix_embeds,
// image_features, modality_ids) with KV caches; modality_ids of dtype long.
// Reads the facts only. A missing context is an empty one:
// validate_forward(ContextFacts(), args).
Status validate_forward(const ContextFacts& facts, ForwardArgs args);

// The first of them alone: exactly one of tokens and inputs_embeds
// (compose_residual applies it to its text embeddings).
Status validate_forward_inputs(const ContextFacts& facts, bool has_tokens);

// Throwing form: ForwardError on the first failure; `context` may be null.
void check_forward(const ModalityContext* context, ForwardArgs args);

// `h[:, slice, :]` as PyTorch computes it: a view of dim 1, no copy.
// Throws, in PyTorch's order: Error(Code::shape) "too many indices for
// tensor of dimension 2" when h has fewer than 3 dims, then SliceError
// "slice step cannot be zero" for step 0 and "step must be greater than
// zero" for a negative step. Uses LibTorch's operators: links libtorch_cpu
// (the modctx_aten library).
at::Tensor apply_output_slice(const at::Tensor& h, const Slice& slice);

}  // namespace modctx
