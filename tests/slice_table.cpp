// Prints modctx's answers over the slice grid for tests/slice_grid.py, which
// compares them with Python's slice.indices and PyTorch's h[:, s, :].
// One line per case: "start stop step length -> start stop step count applied"
// where a part may be None, and an error prints as "error: MESSAGE".
#include <iostream>
#include <optional>

#include "modctx/names.hpp"
#include "modctx/tensor.hpp"
#include "modctx/forward.hpp"
#include "modctx/slice.hpp"

namespace {

std::string str(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "None"; }

}  // namespace

int main() {
  std::optional<int64_t> bounds[26];
  for (int i = 0; i < 25; ++i) bounds[i + 1] = i - 12;
  const std::optional<int64_t> steps[] = {std::nullopt, 1, 2, 3, -1, 0};
  for (int64_t length = 0; length <= 10; ++length) {
    const at::Tensor h = modctx::make_metadata_tensor({1, length, 2}, at::kFloat, at::Device(at::kCPU));
    for (const auto& start : bounds)
      for (const auto& stop : bounds)
        for (const auto& step : steps) {
          const modctx::Slice s{start, stop, step};
          std::cout << str(start) << ' ' << str(stop) << ' ' << str(step) << ' ' << length << " ->";
          try {
            const auto r = s.indices(length);
            std::cout << ' ' << r.start << ' ' << r.stop << ' ' << r.step << ' ' << r.count;
          } catch (const modctx::SliceError& e) {
            std::cout << " error: " << e.what();
          }
          std::cout << " |";
          try {
            const int64_t applied = modctx::apply_output_slice(h, s).size(1);
            std::cout << ' ' << applied;
          } catch (const modctx::SliceError& e) {
            std::cout << " error: " << e.what();
          }
          std::cout << '\n';
        }
  }
}
