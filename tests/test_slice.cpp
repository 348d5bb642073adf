// Python's slice semantics: slice.indices(length), repr. The full grid is
// compared against Python itself by tests/slice_grid.py; here, cases worked
// out by hand from Python 3.11.
#include <catch2/catch.hpp>

#include <climits>

#include "modctx/slice.hpp"
#include "modctx/status.hpp"

using modctx::Slice;
using std::nullopt;

namespace {

std::tuple<int64_t, int64_t, int64_t, int64_t> idx(Slice s, int64_t length) {
  const auto r = s.indices(length);
  return {r.start, r.stop, r.step, r.count};
}

}  // namespace

TEST_CASE("slice.indices matches Python on hand-checked cases") {
  using T = std::tuple<int64_t, int64_t, int64_t, int64_t>;
  CHECK(idx({nullopt, nullopt, nullopt}, 10) == T{0, 10, 1, 10});
  CHECK(idx({576, nullopt, nullopt}, 600) == T{576, 600, 1, 24});
  CHECK(idx({-3, nullopt, nullopt}, 10) == T{7, 10, 1, 3});
  CHECK(idx({-30, 30, nullopt}, 10) == T{0, 10, 1, 10});
  CHECK(idx({nullopt, nullopt, -1}, 10) == T{9, -1, -1, 10});
  CHECK(idx({nullopt, nullopt, -1}, 0) == T{-1, -1, -1, 0});
  CHECK(idx({12, -12, -1}, 10) == T{9, -1, -1, 10});
  CHECK(idx({2, 8, 3}, 10) == T{2, 8, 3, 2});
  CHECK(idx({8, 2, 3}, 10) == T{8, 2, 3, 0});
  CHECK(idx({8, 2, -3}, 10) == T{8, 2, -3, 2});
  CHECK(idx({-1, -11, -2}, 10) == T{9, -1, -2, 5});
  CHECK(idx({5, nullopt, nullopt}, 0) == T{0, 0, 1, 0});
  CHECK(idx({nullopt, nullopt, INT64_MIN}, 10) == T{9, -1, INT64_MIN, 1});
  CHECK(idx({INT64_MIN, INT64_MAX, INT64_MAX}, 10) == T{0, 10, INT64_MAX, 1});
  CHECK(idx({INT64_MAX, INT64_MIN, -1}, 3) == T{2, -1, -1, 3});
}

TEST_CASE("slice.indices refuses step 0 and negative lengths with Python's messages") {
  try {
    (void)Slice{1, 2, 0}.indices(10);
    FAIL("accepted step 0");
  } catch (const modctx::SliceError& e) {
    CHECK(std::string(e.what()) == "slice step cannot be zero");
    CHECK(e.code() == modctx::Code::slice);
  }
  try {
    (void)Slice{}.indices(-1);
    FAIL("accepted a negative length");
  } catch (const modctx::SliceError& e) {
    CHECK(std::string(e.what()) == "length should not be negative");
  }
  // A negative length is reported before step 0, as in CPython
  // (slice(None, None, 0).indices(-1) says "length should not be negative").
  const char* error = nullptr;
  Slice::Indices out{};
  CHECK_FALSE(Slice{nullopt, nullopt, 0}.try_indices(-1, &out, &error));
  CHECK(std::string(error) == "length should not be negative");
}

TEST_CASE("count agrees with walking the indices one by one") {
  for (int64_t length = 0; length <= 10; ++length)
    for (int64_t step : {1, 2, 3, -1, -2, -3})
      for (int64_t start = -12; start <= 12; ++start)
        for (int64_t stop = -12; stop <= 12; ++stop) {
          const auto r = Slice{start, stop, step}.indices(length);
          int64_t walked = 0;
          for (int64_t i = r.start; step > 0 ? i < r.stop : i > r.stop; i += step) {
            REQUIRE(i >= 0);
            REQUIRE(i < length);
            ++walked;
          }
          REQUIRE(walked == r.count);
        }
}

TEST_CASE("repr is Python's") {
  CHECK(Slice{576, nullopt, nullopt}.repr() == "slice(576, None, None)");
  CHECK(Slice{}.repr() == "slice(None, None, None)");
  CHECK(Slice{-1, 0, -2}.repr() == "slice(-1, 0, -2)");
  CHECK(Slice{nullopt, INT64_MIN, nullopt}.repr() == "slice(None, -9223372036854775808, None)");
}
