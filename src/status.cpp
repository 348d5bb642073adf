// Code names and the mapping from a failed Status to its exception type.
#include "modctx/status.hpp"

namespace modctx {

const char* code_name(Code code) noexcept {
  switch (code) {
    case Code::ok: return "MODCTX_OK";
    case Code::invalid_argument: return "MODCTX_ERR_INVALID_ARGUMENT";
    case Code::routes: return "MODCTX_ERR_ROUTES";
    case Code::image_mask: return "MODCTX_ERR_IMAGE_MASK";
    case Code::modality_ids: return "MODCTX_ERR_MODALITY_IDS";
    case Code::key_padding_mask: return "MODCTX_ERR_KEY_PADDING_MASK";
    case Code::forward_inputs: return "MODCTX_ERR_FORWARD_INPUTS";
    case Code::kv_cache: return "MODCTX_ERR_KV_CACHE";
    case Code::dtype: return "MODCTX_ERR_DTYPE";
    case Code::shape: return "MODCTX_ERR_SHAPE";
    case Code::device: return "MODCTX_ERR_DEVICE";
    case Code::missing_field: return "MODCTX_ERR_MISSING_FIELD";
    case Code::unsupported: return "MODCTX_ERR_UNSUPPORTED";
    case Code::out_of_memory: return "MODCTX_ERR_OUT_OF_MEMORY";
    case Code::internal: return "MODCTX_ERR_INTERNAL";
    case Code::slice: return "MODCTX_ERR_SLICE";
    case Code::unused_field: return "MODCTX_ERR_UNUSED_FIELD";
    case Code::value: return "MODCTX_ERR_VALUE";
    case Code::format: return "MODCTX_ERR_FORMAT";
    case Code::io: return "MODCTX_ERR_IO";
    case Code::length: return "MODCTX_ERR_LENGTH";
  }
  return "MODCTX_ERR_UNKNOWN";
}

StatusClass status_class(Code code) noexcept {
  switch (code) {
    case Code::ok: return StatusClass::ok;
    // What a request carries: its tensors, their shapes, dtypes, devices and
    // values, its lengths, and a document it was sent as.
    case Code::routes:
    case Code::image_mask:
    case Code::modality_ids:
    case Code::key_padding_mask:
    case Code::forward_inputs:
    case Code::kv_cache:
    case Code::dtype:
    case Code::shape:
    case Code::device:
    case Code::missing_field:
    case Code::slice:
    case Code::unused_field:
    case Code::value:
    case Code::format:
    case Code::length:
      return StatusClass::request;
    // The server's: a NULL or malformed argument it passed, a check this build
    // cannot serve, memory, a file it could not read, a bug.
    case Code::invalid_argument:
    case Code::unsupported:
    case Code::out_of_memory:
    case Code::internal:
    case Code::io:
      return StatusClass::server;
  }
  return StatusClass::server;
}

void throw_if_failed(const Status& status) {
  switch (status.code) {
    case Code::ok:
      return;
    case Code::routes:
    case Code::image_mask:
    case Code::modality_ids:
    case Code::key_padding_mask:
      throw ContextError(status.code, status.message);
    case Code::slice:
      throw SliceError(status.code, status.message);
    case Code::out_of_memory:
      throw std::bad_alloc();
    case Code::invalid_argument:
    case Code::unsupported:
    case Code::internal:
    case Code::format:
    case Code::io:
      throw Error(status.code, status.message);
    default:
      throw ForwardError(status.code, status.message);
  }
}

}  // namespace modctx
