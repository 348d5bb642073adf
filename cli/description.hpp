// The JSON description of a context read by `modctx check`, turned into
// tensors that carry no data (nothing is allocated for them; each keeps the
// device the description names), or, for a tensor given with "values", CPU
// tensors holding them (json::read_tensor).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "json_read.hpp"
#include "modctx/context.hpp"
#include "modctx/forward.hpp"
#include "modctx/model.hpp"

namespace modctx::cli {

struct Description {
  ContextFields fields;                  // unchecked: construction runs later
  std::optional<ForwardRecord> forward;  // absent: construction checks only
  std::optional<ModelSpec> model;        // present: the model check runs (needs forward)
};

// An unusable description: path() is the JSON pointer of the faulty value
// ("" for the whole document), what() says what is wrong with it.
using DescriptionError = json::ReadError;

// Parses a whole JSON document. Throws DescriptionError, nothing else.
// Besides the rules of each section, json::parse_strict's: a key twice in one
// object, at any depth, is an error at that key's path (e.g.
// /fields/prefix_embeds), and so is nesting deeper than json::kMaxDepth.
// `forward`, when given (the checker's --forward), replaces the document's
// "forward" section, which must still be well formed.
Description parse_description(const std::string& text, const std::optional<ForwardRecord>& forward = std::nullopt);

// Forward arguments given on the command line (--forward): either the JSON
// of a "forward" section ('{"tokens": [2, 24], "kv_caches": false}', any
// form json::read_forward reads) or the
// short form: comma-separated items "tokens=" with the sizes or "none", and
// "kv_caches" ("kv_caches=true", "kv_caches=false"), e.g. "tokens=2,24",
// "tokens=none,kv_caches". Throws DescriptionError with a path starting
// "--forward".
ForwardRecord parse_forward_option(const std::string& text);

// Sizes separated by commas ("2,576,4096"), read as a shape (json::read_shape).
// Used by `modctx compose`.
std::vector<int64_t> parse_sizes_option(const std::string& text, const std::string& what);

// A "model" section given as JSON text (the checker's --model option).
ModelSpec parse_model_option(const std::string& text);

}  // namespace modctx::cli
