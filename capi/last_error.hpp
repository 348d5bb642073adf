// The thread-local last error of the C ABI (modctx_last_error), and how an
// exception becomes a status (entry.hpp puts every entry point behind it).
#pragma once

#include <string>

#include "modctx.h"
#include "modctx/status.hpp"

namespace modctx::capi {

// Records msg as this thread's last error and returns status. Never throws:
// if the message cannot be stored, a fixed text takes its place.
modctx_status set_error(modctx_status status, const char* msg) noexcept;
modctx_status set_error(modctx_status status, const std::string& msg) noexcept;

// Records a string literal (or other text that outlives the thread) without
// copying it: the out-of-memory path allocates nothing.
modctx_status set_error_static(modctx_status status, const char* literal) noexcept;

inline modctx_status to_status(Code code) noexcept { return static_cast<modctx_status>(code); }

inline modctx_status set_error(const Status& s) noexcept { return set_error(to_status(s.code), s.message); }

// Maps whatever is in flight to a status and message. Call only inside a catch.
modctx_status error_from_current_exception(const char* function) noexcept;

}  // namespace modctx::capi
