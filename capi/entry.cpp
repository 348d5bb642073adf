// The argument messages of the C entry points (see entry.hpp).
#include "entry.hpp"

#include "modctx/names.hpp"

namespace modctx::capi {

modctx_status Call::null_argument(const char* argument) const {
  return invalid_argument(std::string(argument) + " is NULL");
}

modctx_status Call::unknown_field(modctx_field field) const {
  return invalid_argument(modctx::unknown_field_message(static_cast<int>(field)));
}

modctx_status Call::invalid_argument(const std::string& problem) const {
  return fail(MODCTX_ERR_INVALID_ARGUMENT, problem);
}

modctx_status Call::fail(modctx_status status, const std::string& problem) const {
  return set_error(status, std::string(function_) + ": " + problem);
}

std::string rank_problem(const char* name, int32_t ndim) {
  if (ndim >= 0 && ndim <= MODCTX_MAX_NDIM) return {};
  return std::string(name) + " " + std::to_string(ndim) + " is out of range [0, " + std::to_string(MODCTX_MAX_NDIM) +
         "]";
}

std::string struct_size_problem(const char* name, uint32_t size, size_t first, const char* type) {
  if (size >= first) return {};
  return std::string(name) + " " + std::to_string(size) + " is smaller than " + type + " (" + std::to_string(first) +
         ")";
}

}  // namespace modctx::capi
