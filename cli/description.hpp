// The JSON description of a context read by `modctx check`, turned into
// tensors that carry no data (nothing is allocated for them; each keeps the
// device the description names).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "modctx/context.hpp"
#include "modctx/forward.hpp"
#include "modctx/model.hpp"

namespace modctx::cli {

// The forward arguments of a description: the token-id shape (absent: no
// tokens) and whether KV caches are given.
struct ForwardDescription {
  std::optional<std::vector<int64_t>> tokens;
  bool kv_caches = false;

  ForwardArgs args() const { return ForwardArgs{tokens.has_value(), kv_caches}; }
};

struct Description {
  ContextFields fields;                       // unchecked: construction runs later
  std::optional<ForwardDescription> forward;  // absent: construction checks only
  std::optional<ModelSpec> model;             // present: the model check runs (needs forward)
};

// An unusable description: `path` is the JSON pointer of the faulty value
// ("" for the whole document), what() says what is wrong with it.
class DescriptionError : public std::runtime_error {
 public:
  DescriptionError(std::string path, const std::string& message)
      : std::runtime_error(message), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// The deepest nesting of arrays and objects a document may have (a context
// needs four levels).
constexpr size_t kMaxJsonDepth = 32;

// Parses a whole JSON document. Throws DescriptionError, nothing else.
// Besides the rules of each section: a key twice in one object, at any depth,
// is an error at that key's path (e.g. /fields/prefix_embeds), and so is
// nesting deeper than kMaxJsonDepth. `forward`, when given (the checker's
// --forward), replaces the document's "forward" section, which must still be
// well formed.
Description parse_description(const std::string& text,
                              const std::optional<ForwardDescription>& forward = std::nullopt);

// Forward arguments given on the command line (--forward): either the JSON
// of a "forward" section ('{"tokens": [2, 24], "kv_caches": false}') or the
// short form: comma-separated items "tokens=" with the sizes or "none", and
// "kv_caches" ("kv_caches=true", "kv_caches=false"), e.g. "tokens=2,24",
// "tokens=none,kv_caches". Throws DescriptionError with a path starting
// "--forward".
ForwardDescription parse_forward_text(const std::string& text);

// A shape: an array of sizes, each an integer >= 0, whose element count
// (and LibTorch's contiguous strides) fit int64. Used for `modctx compose`.
std::vector<int64_t> parse_shape_text(const std::string& text, const std::string& what);

// A "model" section given as JSON text (the checker's --model option).
ModelSpec parse_model_text(const std::string& text);

// A device name such as "cuda:0" ("cuda" means "cuda:0", "cpu:0" means "cpu").
bool parse_device(const std::string& name, at::Device* out) noexcept;

// A tensor of the given shape, dtype and device whose storage holds no data.
at::Tensor metadata_tensor(const std::vector<int64_t>& shape, at::ScalarType dtype, at::Device device);

// PyTorch's dtype names without "torch." and their aliases ("long", "half", ...).
bool parse_dtype(const std::string& name, at::ScalarType* out) noexcept;

}  // namespace modctx::cli
