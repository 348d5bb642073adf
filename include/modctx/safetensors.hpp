// modctx/safetensors.hpp: a context (and its forward arguments) saved as a
// safetensors file, and loaded back without copying (memory-mapped).
//
// The file is an ordinary safetensors file: 8 bytes little-endian header
// length N, N bytes of JSON header (padded with spaces to a multiple of 8),
// then the data buffer. Tensor names are the field names (inputs_embeds,
// prefix_embeds, image_features, image_mask, modality_ids, key_padding_mask)
// and, for forward arguments saved with their data, "tokens" (the token ids)
// and "doc_ids"; the rest lives in "__metadata__" (string values only):
//
//   "modctx.format"       "1"
//   "modctx.output_slice" "[576, null, null]"                       (when set)
//   "modctx.forward"      "{\"tokens\": [2, 24], \"kv_caches\": false}" (when given;
//                         "kv_caches" is the caches' state
//                         {"seq_len": 37, "capacity": 1024, "batch": 2} when known)
//
// Other metadata keys (e.g. "format": "pt" from other writers) are ignored.
//
// dtypes, both ways: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL C64
// (float64 float32 float16 bfloat16 int64 int32 int16 int8 uint8 bool
// complex64). Valid safetensors dtypes that LibTorch 1.13 has no type for
// (U16 U32 U64 F8_E4M3 F8_E5M2 F8_E8M0 F4 F6_E2M3 F6_E3M2) are
// Code::unsupported; any other dtype string is Code::format.
//
// Loading validates the whole header before it creates any tensor; the rules
// (L1 to L13) are listed at the top of src/safetensors.cpp.
// Every failure is a modctx::Error whose message starts with the file name:
// "ctx.safetensors: header length 4096 exceeds the file (120 bytes after the
// 8-byte length)". Nothing is ever read outside the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modctx/context.hpp"
#include "modctx/forward.hpp"
#include "modctx/names.hpp"

namespace modctx {

// What a file holds: the RAW fields (no construction check has run: pass
// them to ModalityContext::make or the constructor so that the reference's
// messages apply) and the forward arguments, if saved (with the tensors
// "tokens" and "doc_ids" as token_ids and doc_ids, views of the file too).
struct LoadedContext {
  ContextFields fields;
  std::optional<ForwardRecord> forward;
};

// Limits a file must respect (Code::format beyond them).
// (Shapes have at most kMaxDims sizes and the JSON at most 32 levels of
// nesting, as every JSON input of modctx.)
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;  // the JSON header

// Writes `ctx` (and `forward` when given: its token_ids and doc_ids, when
// defined, as the tensors "tokens" and "doc_ids") to `path`, atomically: a temporary
// file in the same folder, flushed to disk, then renamed over `path`.
// Tensors are laid out contiguously, widest dtype first then by name, so each
// starts at a multiple of its element size. Non-contiguous tensors are
// written through a contiguous copy; contiguous ones are written directly.
// Throws Error(Code::unsupported) for a tensor that is not on the CPU, not
// strided, has no data (a metadata-only tensor), or whose dtype safetensors
// cannot name (complex128, quantized types), the forward's token_ids and
// doc_ids included; Error(Code::invalid_argument) for token_ids whose shape
// is not the record's tokens; Error(Code::io) when the file cannot be
// written (message: "PATH: cannot ...: strerror").
void save_safetensors(const std::string& path, const ModalityContext& ctx,
                      const std::optional<ForwardRecord>& forward);

// The same file as bytes in memory (for tests, fuzz corpora, sockets).
std::string safetensors_bytes(const ModalityContext& ctx, const std::optional<ForwardRecord>& forward);

// Loads a file: mmap of the whole file (MAP_PRIVATE, so a caller's in-place
// write to a tensor changes a private copy-on-write page, never the file),
// full validation of the header, then one tensor per field (and per saved
// forward tensor: the record's token_ids and doc_ids) over the mapping:
// zero copy. Each tensor's deleter holds a
// shared_ptr to the mapping: it is unmapped when the last tensor goes.
// A tensor whose bytes are not aligned to its element size in memory (a file
// from a writer that does not align) is copied into aligned memory instead.
// Throws Error(Code::io) "PATH: cannot open: ..." when the file cannot be
// opened, read or mapped; Error(Code::format) "PATH: ..." for a malformed one,
// Error(Code::unsupported) for a valid dtype LibTorch 1.13 has no type for.
// The file must not be truncated by someone else while it is mapped (that is
// SIGBUS for any mmap reader).
LoadedContext load_safetensors(const std::string& path);

// The same from bytes in memory; `name` starts every error message.
// The tensors alias `data` (zero copy, except misaligned ones): `keepalive`
// is held by each tensor's deleter and should own the bytes. With a null
// keepalive the caller must keep the bytes alive, and unchanged, for as long
// as any returned tensor lives. Never reads outside [data, data + size).
LoadedContext load_safetensors_from_memory(const void* data, size_t size,
                                           std::shared_ptr<const void> keepalive,
                                           const std::string& name = "<memory>");

// The header length N a file's first 8 bytes declare (rule L1: a
// little-endian u64); a file whose N exceeds kSafetensorsMaxHeaderBytes is
// refused (rule L2).
uint64_t safetensors_header_length(const unsigned char* first8) noexcept;

// safetensors' dtype names: safetensors_dtype_name and parse_safetensors_dtype
// in modctx/names.hpp.

}  // namespace modctx
