// How every C entry point runs: its whole body inside the guard, so that no
// C++ exception crosses the C ABI (any exception becomes a status and this
// thread's last error), with the C function's name at hand for messages.
//
//   MODCTX_API modctx_status modctx_thing_do(modctx_thing* thing, int* out) {
//     return entry(__func__, [&](const Call& call) {
//       if (!out) return call.null_argument("out");
//       ...
//       return MODCTX_OK;
//     });
//   }
#pragma once

#include <cstddef>
#include <string>

#include "last_error.hpp"
#include "modctx.h"

namespace modctx::capi {

// The messages a body gives about its arguments, each starting with the C
// function's name. Each records the message and returns the status.
class Call {
 public:
  explicit Call(const char* function) noexcept : function_(function) {}

  // "modctx_x: out is NULL"
  modctx_status null_argument(const char* argument) const;
  // "modctx_x: unknown field 7 (expected 0 to 5)"
  modctx_status unknown_field(modctx_field field) const;
  // "modctx_x: " + problem, MODCTX_ERR_INVALID_ARGUMENT
  modctx_status invalid_argument(const std::string& problem) const;
  // "modctx_x: " + problem, with another status
  modctx_status fail(modctx_status status, const std::string& problem) const;

 private:
  const char* function_;
};

// The argument rules several entry points share. Each gives "" when the
// argument is fine, else what is wrong with it, for a message.
// A rank within [0, MODCTX_MAX_NDIM]: "tokens_ndim 33 is out of range [0, 32]".
std::string rank_problem(const char* name, int32_t ndim);
// A versioned struct's size (modctx.h, "Versioned structs"): at least its
// first version's size `first` (sizeof, for a struct that never grew), any
// larger size accepted, since a caller built against an older header passes
// a smaller struct and a newer one a larger:
// "model->struct_size 8 is smaller than modctx_model (40)".
std::string struct_size_problem(const char* name, uint32_t size, size_t first, const char* type);

// Whether the caller's struct, of its own struct_size, holds `member`: a
// field appended after the caller's header is neither read nor written.
// Every field of a later version than the first is reached through this.
template <class Struct, class Member>
bool covers(const Struct& s, Member Struct::*member) noexcept {
  // The member's end, measured on a struct of our own: the caller's may be
  // smaller than Struct, so nothing past its struct_size is even addressed.
  static const Struct probe{};
  const size_t end = static_cast<size_t>(reinterpret_cast<const char*>(&(probe.*member)) -
                                         reinterpret_cast<const char*>(&probe)) +
                     sizeof(Member);
  return s.struct_size >= end;
}

template <class Body>
modctx_status entry(const char* function, Body&& body) noexcept {
  try {
    return body(Call(function));
  } catch (...) {
    return error_from_current_exception(function);
  }
}

}  // namespace modctx::capi
