// modctx/slice.hpp: Python's `slice(start, stop, step)`, exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "modctx/status.hpp"

namespace modctx {

// A Python slice. Each part may be absent (Python's None).
struct Slice {
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  std::optional<int64_t> step;

  // The result of Python's `slice.indices(length)`, plus the number of
  // elements the slice selects (`len(range(start, stop, step))`).
  struct Indices {
    int64_t start;
    int64_t stop;
    int64_t step;
    int64_t count;
  };

  // Python's `slice.indices(length)`: negative steps allowed. Throws
  // SliceError "slice step cannot be zero" for step 0 and
  // "length should not be negative" for length < 0.
  Indices indices(int64_t length) const;

  // Non-throwing form of indices(): Code::slice on failure.
  bool try_indices(int64_t length, Indices* out, const char** error) const noexcept;

  // Whether `h[:, slice, :]` can be taken on a hidden state of rank
  // `hidden_dim`, in PyTorch's order: the rank first (Code::shape, "too many
  // indices for tensor of dimension 2"), then the step (Code::slice, "slice
  // step cannot be zero", "step must be greater than zero").
  Status check_view_of(int64_t hidden_dim) const;

  // Python's repr: "slice(576, None, None)".
  std::string repr() const;

  friend bool operator==(const Slice& a, const Slice& b) {
    return a.start == b.start && a.stop == b.stop && a.step == b.step;
  }
};

}  // namespace modctx
