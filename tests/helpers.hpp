// Shared by the Catch2 tests: tensors that carry no data.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "modctx/modctx.hpp"
#include "modctx/tensor.hpp"

namespace test {

inline at::Tensor meta(std::vector<int64_t> shape, at::ScalarType dtype = at::kFloat,
                       at::Device device = at::Device(at::kCPU)) {
  return modctx::make_metadata_tensor(shape, dtype, device);
}

// A context's raw parts with the fields named by the bits of `mask` set
// (bit i: Field i) to small float tensors, and an output slice if asked.
inline modctx::ContextFields fields_with(unsigned mask, bool with_slice = false) {
  modctx::ContextFields f;
  for (int i = 0; i < modctx::kFieldCount; ++i)
    if (mask & (1u << i)) f.tensors[i] = meta({1, 2, 3});
  if (with_slice) f.output_slice = modctx::Slice{2, std::nullopt, std::nullopt};
  return f;
}

constexpr unsigned bit(modctx::Field f) { return 1u << static_cast<int>(f); }

}  // namespace test
