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
  return set_error(MODCTX_ERR_INVALID_ARGUMENT, std::string(function_) + ": " + problem);
}

}  // namespace modctx::capi
