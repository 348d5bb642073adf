// Thread-local last error of the C ABI.
#include "last_error.hpp"

#include <c10/util/Exception.h>

namespace modctx::capi {

namespace {

// Either a borrowed literal or an owned copy; last_error() prefers the literal.
thread_local const char* t_literal = "";
thread_local std::string t_owned;

}  // namespace

modctx_status set_error_static(modctx_status status, const char* literal) noexcept {
  t_literal = literal;
  return status;
}

modctx_status set_error(modctx_status status, const char* msg) noexcept {
  try {
    t_owned.assign(msg);
    t_literal = nullptr;
  } catch (...) {
    t_literal = "out of memory while recording the error message";
  }
  return status;
}

modctx_status set_error(modctx_status status, const std::string& msg) noexcept { return set_error(status, msg.c_str()); }

modctx_status error_from_current_exception(const char* function) noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return set_error_static(MODCTX_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const Error& e) {
    return set_error(to_status(e.code()), e.what());
  } catch (const c10::Error& e) {
    // LibTorch refused something our validation let through: a modctx bug.
    try {
      return set_error(MODCTX_ERR_INTERNAL, std::string(function) + ": LibTorch: " + e.what_without_backtrace());
    } catch (...) {
      return set_error_static(MODCTX_ERR_INTERNAL, "LibTorch raised an error (no memory to record it)");
    }
  } catch (const std::exception& e) {
    try {
      return set_error(MODCTX_ERR_INTERNAL, std::string(function) + ": " + e.what());
    } catch (...) {
      return set_error_static(MODCTX_ERR_INTERNAL, "internal error (no memory to record it)");
    }
  } catch (...) {
    return set_error_static(MODCTX_ERR_INTERNAL, "internal error: unknown exception");
  }
}

}  // namespace modctx::capi

extern "C" MODCTX_API const char* modctx_last_error(void) {
  using namespace modctx::capi;
  return t_literal ? t_literal : t_owned.c_str();
}
