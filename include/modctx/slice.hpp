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

  // The output slice's step rule, as PyTorch applies it to `h[:, slice, :]`:
  // Code::slice "slice step cannot be zero" for step 0, "step must be
  // greater than zero" for a negative step.
  Status validate_step() const;

  // Whether `h[:, slice, :]` can be taken on a hidden state of rank
  // `hidden_dim`, in PyTorch's order: the rank first (Code::shape, "too many
  // indices for tensor of dimension 2"), then validate_step().
  Status validate_view_of(int64_t hidden_dim) const;

  // The step a view of `h[:, slice, :]` takes along a dim of `length`
  // positions `stride` elements apart: `step` (> 0) itself, or max(length, 1)
  // when LibTorch's arithmetic on it would overflow int64 (any step >= length
  // selects the same single position; only the view's stride differs).
  static int64_t view_step(int64_t step, int64_t length, int64_t stride) noexcept;

  // Python's repr: "slice(576, None, None)".
  std::string repr() const;

  friend bool operator==(const Slice& a, const Slice& b) {
    return a.start == b.start && a.stop == b.stop && a.step == b.step;
  }
};

}  // namespace modctx
