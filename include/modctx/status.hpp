// modctx/status.hpp: the machine-readable codes of every failure, and the
// exception types that carry them.
//
// The numeric values are the C ABI's `modctx_status` values (include/modctx.h);
// the C ABI asserts at compile time that both lists agree. Values never change
// once released: new codes are appended.
#pragma once

#include <stdexcept>
#include <string>

namespace modctx {

enum class Code : int {
  ok = 0,
  invalid_argument = 1,        // NULL where a value is needed, unknown enum, malformed tensor
  routes = 2,                  // construction check 1: more than one residual route
  image_mask = 3,              // construction check 2: image_mask without image_features
  modality_ids = 4,            // construction check 3: modality_ids without a residual extension
  key_padding_mask = 5,        // construction check 4: key_padding_mask without a residual extension
  forward_inputs = 6,          // forward: not exactly one of tokens and inputs_embeds
  kv_cache = 7,                // forward: a training-only field together with KV caches
  dtype = 8,                   // a tensor has the wrong dtype
  shape = 9,                   // a tensor has the wrong rank or shape
  device = 10,                 // tensors on different devices, or a device modctx cannot use
  missing_field = 11,          // the model requires a field that is not set
  unsupported = 12,            // valid input this build cannot serve (DLPack version, device, dtype width)
  out_of_memory = 13,          // an allocation failed
  internal = 14,               // a bug in modctx: please report it
  slice = 15,                  // a slice step of zero (or below zero where PyTorch refuses it)
  unused_field = 16,           // a field the model's architecture does not use
  value = 17,                  // a tensor's values are out of range (value checks, asked by name)
  format = 18,                 // a file that is not a readable context (safetensors, JSON)
  io = 19,                     // a file that cannot be opened, read or written
  length = 20,                 // more positions than the model's max_seq_len (its RoPE table) holds
};

// Whose fault a failure is, for a server's answer: the request's (the
// request itself is wrong: a server answers 400), or the server's (the
// caller's use of modctx, the machine, or modctx itself: a server answers
// 500). Values are the C ABI's `modctx_status_class`.
enum class StatusClass : int {
  ok = 0,
  request = 1,
  server = 2,
};

// The class of a code; unknown values are StatusClass::server.
StatusClass status_class(Code code) noexcept;

// The identifier of a code as the C ABI spells it, e.g. "MODCTX_ERR_ROUTES".
// Unknown values give "MODCTX_ERR_UNKNOWN".
const char* code_name(Code code) noexcept;

// The result of a non-throwing check: Code::ok with an empty message, or the
// first failure with its exact message.
struct Status {
  Code code = Code::ok;
  std::string message;

  bool ok() const noexcept { return code == Code::ok; }
  static Status success() { return {}; }
  static Status failure(Code c, std::string msg) { return {c, std::move(msg)}; }
};

// Every exception modctx throws derives from Error, which is a
// std::invalid_argument (the reference raises ValueError for all of these)
// carrying the machine-readable code. what() is the exact message.
class Error : public std::invalid_argument {
 public:
  Error(Code code, const std::string& message) : std::invalid_argument(message), code_(code) {}
  Code code() const noexcept { return code_; }

 private:
  Code code_;
};

// A construction check failed (the reference's ModalityContext.__post_init__).
class ContextError : public Error {
  using Error::Error;
};

// A forward-time or model check failed (the reference's Transformer.forward, and modctx's own).
class ForwardError : public Error {
  using Error::Error;
};

// A slice step of zero, or a negative length (Python's slice rules).
class SliceError : public Error {
  using Error::Error;
};

// Throws the exception type that matches the status's code; does nothing on ok.
void throw_if_failed(const Status& status);

}  // namespace modctx
