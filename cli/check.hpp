// One input checked, as `modctx check` does for each file: read it (bounded,
// input.hpp), parse it (JSON description or safetensors file), run the
// construction checks, then the forward or model checks, and describe it.
#pragma once

#include <optional>
#include <string>

#include "description.hpp"
#include "verdict.hpp"

namespace modctx::cli {

struct CheckOptions {
  bool values = false;                        // --values: the checks that read tensor values (all of them)
  std::optional<ModelSpec> model;             // --model or --config: replaces a document's "model" section
  std::optional<ForwardRecord> forward;       // --forward: replaces a document's forward arguments
};

// `name` is "-" for standard input; `from_walk`: found in a directory walk.
// Never throws for a bad input: every problem is in the verdict.
Verdict verdict_for(const std::string& name, bool from_walk, const CheckOptions& options);

}  // namespace modctx::cli
