// Reading JSON the way modctx's inputs need it: one strict parser, and the
// readers of the pieces that both the checker's descriptions and the
// safetensors metadata hold (shapes, tensors, slices, forward arguments),
// with one set of limits and one set of messages.
//
// Internal: the library's safetensors loader and the checker (cli/) include
// it; it is not installed.
//
// Every failure is a ReadError: a JSON pointer (RFC 6901) to the faulty
// value, below the base path the caller gave, and what is wrong with it.
// The callers put them together: the checker as "/fields/x/shape/1: ...",
// the safetensors loader as `tensor "x" at /shape/1: ...`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "modctx/forward.hpp"
#include "modctx/slice.hpp"

namespace modctx::json {

// A DOM with sorted objects: inserting a key costs O(log n) (an ordered
// object would make a document with many keys quadratic to read).
using Json = nlohmann::json;

// The nesting of arrays and objects any JSON input of modctx may have (a
// context needs four levels). Shapes have at most modctx::kMaxDims sizes.
constexpr size_t kMaxDepth = 32;

class ReadError : public std::runtime_error {
 public:
  ReadError(std::string path, const std::string& message) : std::runtime_error(message), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// The pointer of a child: "/fields" + "prefix_embeds", "/shape" + 1.
std::string child(const std::string& path, const std::string& key);
std::string child(const std::string& path, size_t index);

// A whole document, strictly: no NUL byte (nlohmann would stop reading
// there), no key twice in one object at any depth (nlohmann would keep the
// last one, hiding a conflict), at most kMaxDepth levels of nesting. Errors
// are at `base`: followed by the duplicate key's or the too-deep value's
// pointer; "malformed JSON: ..." at `base` itself.
Json parse_strict(const char* begin, const char* end, const std::string& base);
Json parse_strict(const std::string& text, const std::string& base);

// What a value is, for messages: "null", "an object", "a negative integer"...
const char* kind_of(const Json& v);

// A string from the input, quoted for a message: JSON-escaped, ASCII only,
// at most 64 bytes of it (cut on a UTF-8 boundary).
std::string quote(const std::string& s);

// A scalar as JSON text (strings quoted as above); a container by its kind.
std::string show(const Json& v);

// The integer a value holds, when it fits (nlohmann keeps large positive
// numbers unsigned).
std::optional<int64_t> as_int64(const Json& v);
std::optional<uint64_t> as_uint64(const Json& v);

// An object; with `known`, one with keys from `known` only ("unknown key" at
// the key's pointer).
void expect_object(const Json& v, const std::string& path, std::initializer_list<const char*> known = {});
void reject_unknown_keys(const Json& object, const std::string& path, std::initializer_list<const char*> known);

// A shape: at most modctx::kMaxDims sizes, each an integer >= 0, whose element count
// (sizes counted as at least 1, times 16 bytes, the widest element) fits
// int64, so that byte counts and LibTorch's strides never overflow.
std::vector<int64_t> read_shape(const Json& v, const std::string& path);

// The most elements a tensor given with "values" may have (16 Mi: 128 MiB
// of int64), so that a document cannot make modctx allocate more than that
// per tensor whatever shape it names.
constexpr int64_t kMaxValues = int64_t{1} << 24;

// A device name such as "cuda:0" (modctx::parse_device).
at::Device read_device(const Json& v, const std::string& path);

// A tensor: {"shape": SHAPE, "dtype": NAME, "device": NAME (default "cpu"),
// "values": NESTED LISTS}. Without "values", a tensor that only describes
// a shape: no data, nothing allocated, on the device named. With them, a
// CPU tensor holding them: nested arrays matching the shape exactly (a
// scalar for shape []), at most kMaxValues elements; integers within the
// dtype's range for integer dtypes, true or false for bool, numbers within
// the dtype's finite range for floating point dtypes (rounded to it);
// complex dtypes take no values.
at::Tensor read_tensor(const Json& v, const std::string& path);

// [start, stop, step], each an int64 or null; null is no slice.
std::optional<Slice> read_slice(const Json& v, const std::string& path);

// Where forward arguments are read: a description (the checker's "forward"
// section, --forward) may give the token ids and doc_ids as tensors; a
// safetensors file's "modctx.forward" metadata holds the rest (its tensors
// "tokens" and "doc_ids" are the file's own).
enum class ForwardSource { description, metadata };

// An object, every key optional:
//   "tokens":    null (no tokens) | SHAPE | a tensor (description only)
//   "doc_ids":   null | a tensor (description only)
//   "kv_caches": false | true | {"seq_len": S, "capacity": C, "batch": B}
//                (integers >= 0; the object gives the caches' state)
ForwardRecord read_forward(const Json& v, const std::string& path,
                           ForwardSource source = ForwardSource::description);

}  // namespace modctx::json
