// Python's slice semantics (Objects/sliceobject.c: PySlice_Unpack and
// PySlice_AdjustIndices), reimplemented on int64 without overflow.
#include "modctx/slice.hpp"

namespace modctx {

namespace {

// Python's clamping of one bound into [lower, upper] after wrapping a
// negative index once.
int64_t adjust_bound(int64_t value, int64_t length, int64_t lower, int64_t upper) {
  if (value < 0) {
    value += length;  // value < 0 <= length: cannot overflow
    return value < lower ? lower : value;
  }
  return value > upper ? upper : value;
}

std::string part_repr(const std::optional<int64_t>& part) {
  return part ? std::to_string(*part) : std::string("None");
}

}  // namespace

bool Slice::try_indices(int64_t length, Indices* out, const char** error) const noexcept {
  // CPython checks the length before it unpacks the slice.
  if (length < 0) {
    *error = "length should not be negative";
    return false;
  }
  const int64_t s = step.value_or(1);
  if (s == 0) {
    *error = "slice step cannot be zero";
    return false;
  }
  const bool backwards = s < 0;
  const int64_t lower = backwards ? -1 : 0;
  const int64_t upper = backwards ? length - 1 : length;
  const int64_t b = start ? adjust_bound(*start, length, lower, upper) : (backwards ? upper : lower);
  const int64_t e = stop ? adjust_bound(*stop, length, lower, upper) : (backwards ? lower : upper);
  int64_t count = 0;
  // Both bounds lie in [-1, length], so their difference cannot overflow;
  // the step's magnitude is taken in unsigned arithmetic (step may be INT64_MIN).
  if (!backwards && b < e) {
    count = static_cast<int64_t>(static_cast<uint64_t>(e - b - 1) / static_cast<uint64_t>(s) + 1);
  } else if (backwards && e < b) {
    const uint64_t magnitude = uint64_t{0} - static_cast<uint64_t>(s);
    count = static_cast<int64_t>(static_cast<uint64_t>(b - e - 1) / magnitude + 1);
  }
  *out = Indices{b, e, s, count};
  return true;
}

Slice::Indices Slice::indices(int64_t length) const {
  Indices result{};
  const char* error = nullptr;
  if (!try_indices(length, &result, &error)) throw SliceError(Code::slice, error);
  return result;
}

Status Slice::validate_step() const {
  const int64_t s = step.value_or(1);
  if (s == 0) return Status::failure(Code::slice, "slice step cannot be zero");
  if (s < 0) return Status::failure(Code::slice, "step must be greater than zero");
  return Status::success();
}

Status Slice::validate_view_of(int64_t hidden_dim) const {
  // PyTorch counts the indices against the tensor's dims before it unpacks
  // the slice: the rank error comes first.
  if (hidden_dim < 3)
    return Status::failure(Code::shape, "too many indices for tensor of dimension " + std::to_string(hidden_dim));
  return validate_step();
}

int64_t Slice::view_step(int64_t step, int64_t length, int64_t stride) noexcept {
  int64_t unused = 0;
  const bool overflows =
      __builtin_add_overflow(length, step - 1, &unused) || __builtin_mul_overflow(step, stride, &unused);
  return overflows ? (length > 1 ? length : 1) : step;
}

std::string Slice::repr() const {
  return "slice(" + part_repr(start) + ", " + part_repr(stop) + ", " + part_repr(step) + ")";
}

}  // namespace modctx
