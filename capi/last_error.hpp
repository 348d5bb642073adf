// The thread-local last error of the C ABI, and the guard that keeps C++
// exceptions from crossing it.
#pragma once

#include <new>
#include <string>

#include "modctx.h"
#include "modctx/status.hpp"

namespace modctx::capi {

// Records msg as this thread's last error and returns status. Never throws:
// if the message cannot be stored, a fixed text takes its place.
modctx_status fail(modctx_status status, const char* msg) noexcept;
modctx_status fail(modctx_status status, const std::string& msg) noexcept;

// Records a string literal (or other text that outlives the thread) without
// copying it: the out-of-memory path allocates nothing.
modctx_status fail_static(modctx_status status, const char* literal) noexcept;

inline modctx_status to_status(Code code) noexcept { return static_cast<modctx_status>(code); }

inline modctx_status fail(const Status& s) noexcept { return fail(to_status(s.code), s.message); }

// Maps whatever is in flight to a status and message. Call only inside a catch.
modctx_status fail_from_current_exception(const char* function) noexcept;

// Runs body (which returns a modctx_status); any exception becomes a status.
template <class Body>
modctx_status guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return fail_from_current_exception(function);
  }
}

}  // namespace modctx::capi
