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

 private:
  const char* function_;
};

// The argument rules several entry points share. Each gives "" when the
// argument is fine, else what is wrong with it, for a message.
// A rank within [0, MODCTX_MAX_NDIM]: "tokens_ndim 33 is out of range [0, 32]".
std::string rank_problem(const char* name, int32_t ndim);
// A versioned struct at least as large as this library's:
// "model->struct_size 8 is smaller than modctx_model (48)".
std::string struct_size_problem(const char* name, uint32_t size, size_t needed, const char* type);

template <class Body>
modctx_status entry(const char* function, Body&& body) noexcept {
  try {
    return body(Call(function));
  } catch (...) {
    return error_from_current_exception(function);
  }
}

}  // namespace modctx::capi
