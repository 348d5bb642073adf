// Reading one input of `modctx check`, in bounded memory, and naming what a
// path is when it is not something to read.
//
// Limits (stated in `modctx check --help` and the README):
// - a JSON document: at most kMaxJsonBytes (64 MiB), from a file or a stream;
//   a regular file larger than that is refused before reading, a stream is
//   read no further than the limit;
// - a safetensors file given by path is read when it has at most 64 MiB
//   (one read is cheaper than a map for small files) and mapped beyond (the
//   loader's own rules apply, its header at most 100 MB);
// - a safetensors stream (standard input, a FIFO) is read into memory: its
//   8-byte length, a header of at most 100 MB, then at most
//   kMaxStreamTensorBytes (1 GiB) of tensor data.
//
// What is read: "-" (standard input), regular files, and FIFOs named on the
// command line (`<(cat ctx.json)`, /dev/stdin on a pipe): a stream is a
// legitimate input. Directories are walked (walk.hpp), never read. Character
// and block devices and sockets are refused without being opened
// (/dev/zero is "a character device"). Inside a directory walk only regular
// files are opened: a FIFO found there would block.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "modctx/status.hpp"

namespace modctx::cli {

constexpr size_t kMaxJsonBytes = size_t{64} << 20;              // 64 MiB
constexpr uint64_t kMaxStreamTensorBytes = uint64_t{1} << 30;  // 1 GiB

// An input that cannot be read: `code` is Code::io or Code::format, message()
// says what is wrong without the input's name, `diagnostic` is the one-file
// checker's standard-error line (after "modctx: ").
class InputError : public std::runtime_error {
 public:
  InputError(Code code, const std::string& message, std::string diagnostic)
      : std::runtime_error(message), code_(code), diagnostic_(std::move(diagnostic)) {}
  Code code() const noexcept { return code_; }
  const std::string& diagnostic() const noexcept { return diagnostic_; }

 private:
  Code code_;
  std::string diagnostic_;
};

struct Document {
  enum class Format { json, safetensors };
  Format format = Format::json;
  // The bytes read; null for a safetensors regular file, which the loader
  // maps by its path.
  std::shared_ptr<std::string> bytes;
};

// Reads the input `name` ("-": standard input). `from_walk`: the file was
// found by walking a directory (only a regular file is opened). Throws
// InputError.
Document read_document(const std::string& name, bool from_walk);

// True when a name ends in ".json" or ".safetensors": what a walk checks.
bool is_context_name(const std::string& name) noexcept;

}  // namespace modctx::cli
