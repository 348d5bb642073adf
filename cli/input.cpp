// Bounded reading of one input (see input.hpp for the rules).
#include "input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "modctx/safetensors.hpp"

namespace modctx::cli {

namespace {

bool ends_with(const std::string& s, const char* suffix) noexcept {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// A safetensors file starts with its 8-byte header length, then '{'; a JSON
// description starts with '{' (or white space). The name decides first.
bool looks_like_safetensors(const std::string& name, const std::string& bytes) noexcept {
  if (name.size() > 12 && ends_with(name, ".safetensors")) return true;
  return bytes.size() >= 9 && bytes[8] == '{' && bytes[0] != '{' &&
         !std::isspace(static_cast<unsigned char>(bytes[0]));
}

[[noreturn]] void throw_input_error(Code code, const std::string& name, const std::string& message) {
  throw InputError(code, message, name + ": " + message);
}

// The one-file checker's words for an input it could not open or read.
[[noreturn]] void throw_io_error(const std::string& name, int err) {
  throw InputError(Code::io, std::string("cannot read: ") + std::strerror(err),
                   "cannot read " + name + ": " + std::strerror(err));
}

// Reads from `fd` until `out` holds `want` bytes or the input ends; true if
// it ends first. Never reads past `want`. `expected`: the size the input is
// likely to have (a file's), so that one read takes it all; the buffer grows
// with what was read, never more than 4 MiB at a time (each growth is zeroed).
bool fill(int fd, std::string* out, uint64_t want, const std::string& name, size_t expected = 0) {
  while (out->size() < want) {
    const size_t old = out->size();
    const size_t step = std::min(std::max({expected + 1 - std::min(expected, old), old, size_t{4096}}), size_t{4} << 20);
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(want - old, step));
    out->resize(old + chunk);
    ssize_t n;
    do n = ::read(fd, &(*out)[old], chunk);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int err = errno;
      out->resize(old);
      throw_io_error(name, err);
    }
    out->resize(old + static_cast<size_t>(n));
    if (n == 0) return true;
  }
  return false;
}

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB (" + std::to_string(bytes) + " bytes)"; }

// A JSON document or a safetensors file on a stream.
Document read_stream(int fd, const std::string& name) {
  auto bytes = std::make_shared<std::string>();
  const bool ended = fill(fd, bytes.get(), 9, name);
  Document doc;
  if (looks_like_safetensors(name, *bytes)) {
    doc.format = Document::Format::safetensors;
    uint64_t limit = 8 + kSafetensorsMaxHeaderBytes + kMaxStreamTensorBytes;
    if (bytes->size() >= 8) {
      const uint64_t header = safetensors_header_length(reinterpret_cast<const unsigned char*>(bytes->data()));
      // A header over the loader's limit: it says so from the first 8 bytes.
      if (header > kSafetensorsMaxHeaderBytes) limit = 0;
      else limit = 8 + header + kMaxStreamTensorBytes;
    }
    if (!ended && limit > bytes->size() && !fill(fd, bytes.get(), limit + 1, name) && bytes->size() > limit)
      throw_input_error(Code::format, name,
           "a safetensors stream longer than " + std::to_string(limit) +
               " bytes (its header and 1 GiB of tensor data, the most read from a stream); "
               "give the file's path instead (a large file is mapped, not read)");
  } else if (!ended && !fill(fd, bytes.get(), size_t{1} << 20, name)) {
    // Past 1 MiB the whole limit is reserved at once (address space until
    // read): growing to 64 MiB then never copies, so the peak is the limit,
    // not one and a half times it. Smaller documents never reserve it.
    bytes->reserve(kMaxJsonBytes + 1);
    if (!fill(fd, bytes.get(), kMaxJsonBytes + 1, name))
      throw_input_error(Code::format, name,
           "more than " + mib(kMaxJsonBytes) + ", the most a JSON document may have; stopped reading");
  }
  doc.bytes = std::move(bytes);
  return doc;
}

Document read_regular(int fd, const struct stat& st, const std::string& name) {
  // A file up to the JSON limit is read, whatever it holds: for a small
  // safetensors file one read is cheaper than mapping it (a map, a page
  // fault, an unmap). A larger safetensors file is mapped by the loader.
  Document doc;
  if (static_cast<uint64_t>(st.st_size) > kMaxJsonBytes) {
    // Too large for JSON: a safetensors file by its first bytes, or refused unread.
    std::string head(9, '\0');
    ssize_t n;
    do n = ::pread(fd, &head[0], head.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw_io_error(name, errno);
    head.resize(static_cast<size_t>(n));
    if (looks_like_safetensors(name, head)) {
      doc.format = Document::Format::safetensors;
      return doc;
    }
    throw_input_error(Code::format, name,
         std::to_string(st.st_size) + " bytes, more than the " + mib(kMaxJsonBytes) +
             " a JSON document may have; not read");
  }
  // The size is a hint (a file may grow, /proc files say 0): the limit holds
  // while reading.
  auto bytes = std::make_shared<std::string>();
  bytes->reserve(static_cast<size_t>(st.st_size) + 1);
  if (!fill(fd, bytes.get(), kMaxJsonBytes + 1, name, static_cast<size_t>(st.st_size)) &&
      !looks_like_safetensors(name, *bytes))
    throw_input_error(Code::format, name, "more than " + mib(kMaxJsonBytes) + ", the most a JSON document may have; stopped reading");
  if (looks_like_safetensors(name, *bytes)) {
    doc.format = Document::Format::safetensors;
    // Small enough to check from the bytes read; a larger one is mapped.
    if (bytes->size() > kMaxJsonBytes) return doc;
  }
  doc.bytes = std::move(bytes);
  return doc;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}  // an open descriptor
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// What a file is, for messages (after stat: links are followed).
const char* kind_name(mode_t mode) noexcept {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

}  // namespace


bool is_context_name(const std::string& name) noexcept {
  return ends_with(name, ".json") || ends_with(name, ".safetensors");
}

Document read_document(const std::string& name, bool from_walk) {
  if (name == "-") return read_stream(STDIN_FILENO, name);
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) throw_io_error(name, errno);
  if (S_ISFIFO(st.st_mode) && !from_walk) {
    // A stream named on the command line (`<(cat ctx.json)`, /dev/stdin on
    // a pipe): read it, within the limits. Opening waits for a writer.
    int fd;
    do fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) throw_io_error(name, errno);
    Fd guard(fd);
    return read_stream(fd, name);
  }
  if (!S_ISREG(st.st_mode))
    throw_input_error(Code::io, name,
         std::string(kind_name(st.st_mode)) +
             (S_ISFIFO(st.st_mode) ? ", not read inside a directory (name it to read it)" : ", not a file; not read"));
  // O_NONBLOCK: should the file have become a FIFO since stat, opening does
  // not wait for a writer; the kind is checked again on the descriptor.
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw_io_error(name, errno);
  Fd guard(fd);
  if (::fstat(fd, &st) != 0) throw_io_error(name, errno);
  if (!S_ISREG(st.st_mode)) throw_input_error(Code::io, name, std::string(kind_name(st.st_mode)) + ", not a file; not read");
  return read_regular(fd, st, name);
}

}  // namespace modctx::cli
