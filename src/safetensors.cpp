// Contexts as safetensors files: the writer, and a zero-copy loader that
// validates the whole header before it makes any tensor.
//
// Validation rules of the loader (every failure is Error(Code::format)
// "NAME: ..." unless marked [unsupported]); all are checked before any
// tensor is created, so a rejected file never yields a tensor:
//   L1  The file has at least 8 bytes (the little-endian u64 header length N).
//   L2  N <= 100,000,000 (kSafetensorsMaxHeaderBytes) and 8 + N <= file size.
//   L3  The header is valid UTF-8 JSON (nlohmann rejects ill-formed UTF-8)
//       and holds no NUL byte (nlohmann would stop reading there);
//       whitespace, e.g. the writers' space padding, may follow the value.
//   L4  No object in the header has the same key twice (nlohmann would keep
//       the last silently); nesting is at most 32 levels deep (L3 and L4:
//       json::parse_strict, the checker's parser too).
//   L5  The header is an object. "__metadata__", if present, is an object
//       whose values are all strings.
//   L6  Metadata: "modctx.format", if present, is "1" [unsupported
//       otherwise]; "modctx.output_slice" is JSON [start, stop, step], each an
//       int64 or null (json::read_slice); "modctx.forward" is a JSON object
//       with "tokens" (null or a shape) and "kv_caches" (a boolean or the
//       caches' state {"seq_len", "capacity", "batch"}, integers >= 0), both
//       optional (json::read_forward, ForwardSource::metadata); any other
//       "modctx."-key is an error; keys outside "modctx." are ignored.
//   L7  Every other key names a tensor: one of the six field names, one of
//       the forward arguments "tokens" and "doc_ids" (no field has these
//       names), or a name starting with "__" (validated like the others,
//       then ignored). Any other name is an error that names it.
//   L8  A tensor entry is an object with exactly "dtype", "shape",
//       "data_offsets".
//   L9  dtype is one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL C64;
//       U16 U32 U64 F8_* F4 F6_* are [unsupported] (LibTorch 1.13 has no
//       type for them); anything else is unknown.
//   L10 shape is an array of at most 32 integers in [0, 2^63); the product of
//       the sizes (each counted as at least 1) times 16 fits int64, so the
//       byte count and LibTorch's strides never overflow (json::read_shape).
//   L11 data_offsets is [begin, end], two integers, begin <= end <= the data
//       buffer's length (file size - 8 - N), and end - begin is exactly
//       numel * element size.
//   L12 No two tensors share a byte (empty tensors share none). Holes between
//       tensors and bytes after the last one are tolerated (the reference
//       writer leaves none; some readers reject them).
//   L13 A BOOL tensor's bytes (a field's or a forward argument's) are all 0
//       or 1 (another byte in a C++ bool is undefined behaviour for whoever
//       reads the mask later). This is the only check that reads tensor
//       data, and only of BOOL tensors.
//   L14 The tensors "tokens" and "doc_ids" are forward arguments: the file
//       has "modctx.forward", and the "tokens" tensor has the shape its
//       "tokens" gives (a file without the tensor records the shape alone).
// Tensors then alias the buffer (make_tensor_view); one whose address is not a
// multiple of its element size is copied into aligned memory instead.
// Messages: "NAME: " + where + (" at " + JSON pointer, for a value inside a
// JSON document) + ": " + what is wrong.
#include "modctx/safetensors.hpp"


#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "json_read.hpp"
#include "modctx/tensor.hpp"

namespace modctx {

namespace {

using json::Json;
using json::kind_of;
using json::quote;
using json::show;

constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kFormatKey = "modctx.format";
constexpr const char* kSliceKey = "modctx.output_slice";
constexpr const char* kForwardKey = "modctx.forward";
constexpr const char* kFormatVersion = "1";
// The forward arguments saved as tensors (L7; not field names).
constexpr const char* kTokensTensor = "tokens";
constexpr const char* kDocIdsTensor = "doc_ids";

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

// Valid safetensors dtypes that LibTorch 1.13 cannot represent.
constexpr const char* kUnsupportedDtypes[] = {
    "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
};

std::string errno_text(int err) { return std::system_category().message(err); }

constexpr const char* kBigEndian = "safetensors data is little-endian; this machine is big-endian";

// ------------------------------------------------------------------ reading

// A file the loader refuses; the caller puts the file's name in front.
struct Rejection {
  Code code;
  std::string message;
};

[[noreturn]] void reject(const std::string& message, Code code = Code::format) { throw Rejection{code, message}; }

// A JSON reader's error, located: `where` + " at /pointer" + ": " + message.
[[noreturn]] void reject(const std::string& where, const json::ReadError& e) {
  reject(where + (e.path().empty() ? "" : " at " + e.path()) + ": " + e.what());
}

// Runs one of the json:: readers on a value described by `where`.
template <class Read>
auto read_at(const std::string& where, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const json::ReadError& e) {
    reject(where, e);
  }
}

// Where a tensor entry goes: a field (0 to kFieldCount - 1), a forward
// argument, or nowhere (an ignored "__" entry).
constexpr int kIgnored = -1;
constexpr int kTokensSlot = kFieldCount;
constexpr int kDocIdsSlot = kFieldCount + 1;

struct TensorEntry {
  std::string name;
  int slot = kIgnored;
  at::ScalarType dtype = at::kFloat;
  uint64_t itemsize = 0;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// L8 to L11 for one entry of the header.
TensorEntry parse_entry(const std::string& name, const Json& v, uint64_t buffer_size) {
  TensorEntry entry;
  entry.name = name;
  const std::string what = "tensor " + quote(name);
  if (!v.is_object())
    reject(what + ": expected an object with dtype, shape and data_offsets, found " + std::string(kind_of(v)));
  read_at(what, [&] { json::reject_unknown_keys(v, "", {"dtype", "shape", "data_offsets"}); });
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) reject(what + ": missing \"" + key + "\"");

  const Json& dtype = v["dtype"];
  if (!dtype.is_string()) reject(what + ": dtype is " + show(dtype) + " (expected a string such as \"F32\")");
  const std::string& dtype_name = dtype.get_ref<const std::string&>();
  if (!parse_safetensors_dtype(dtype_name, &entry.dtype)) {
    for (const char* unsupported : kUnsupportedDtypes)
      if (dtype_name == unsupported)
        reject(what + ": dtype " + dtype_name + " has no LibTorch 1.13 type", Code::unsupported);
    reject(what + ": unknown dtype " + quote(dtype_name) + " (expected " + safetensors_dtype_list() + ")");
  }
  entry.itemsize = c10::elementSize(entry.dtype);

  entry.shape = read_at(what, [&] { return json::read_shape(v["shape"], "/shape"); });
  uint64_t numel = 1;
  for (int64_t s : entry.shape) numel *= static_cast<uint64_t>(s);  // cannot overflow (L10)
  const uint64_t bytes = numel * entry.itemsize;

  const Json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    reject(what + ": data_offsets must be [begin, end], found " + show(offsets));
  const auto begin = json::as_uint64(offsets[0]);
  const auto end = json::as_uint64(offsets[1]);
  if (!begin || !end)
    reject(what + ": data_offsets [" + show(offsets[0]) + ", " + show(offsets[1]) +
           "] must be two non-negative integers");
  const std::string range = "[" + std::to_string(*begin) + ", " + std::to_string(*end) + "]";
  if (*begin > *end) reject(what + ": data_offsets " + range + " are reversed (begin > end)");
  if (*end > buffer_size)
    reject(what + ": data_offsets " + range + " lie outside the data buffer (" + std::to_string(buffer_size) +
           " bytes)");
  if (*end - *begin != bytes)
    reject(what + ": data_offsets " + range + " hold " + std::to_string(*end - *begin) + " bytes, but shape " +
           shape_list(entry.shape) + " of " + dtype_name + " needs " + std::to_string(bytes));
  entry.begin = *begin;
  entry.end = *end;
  return entry;
}

// L5 (the metadata's form) and L6. The slice and the forward arguments are
// JSON inside a string: parsed like the header, read like the checker's.
void parse_metadata(const Json& v, LoadedContext* out) {
  if (!v.is_object()) reject(std::string(kMetadataKey) + ": expected an object, found " + kind_of(v));
  for (const auto& item : v.items()) {
    if (!item.value().is_string())
      reject(std::string(kMetadataKey) + " " + quote(item.key()) + ": expected a string, found " +
             kind_of(item.value()));
  }
  for (const auto& item : v.items()) {
    const std::string& key = item.key();
    const std::string& value = item.value().get_ref<const std::string&>();
    const std::string what = std::string(kMetadataKey) + " " + quote(key);
    if (key == kFormatKey) {
      if (value != kFormatVersion)
        reject(what + " is " + quote(value) + " (this modctx reads format " + quote(kFormatVersion) + ")", Code::unsupported);
    } else if (key == kSliceKey) {
      out->fields.output_slice = read_at(what, [&] { return json::read_slice(json::parse_strict(value, ""), ""); });
    } else if (key == kForwardKey) {
      out->forward = read_at(what, [&] {
        return json::read_forward(json::parse_strict(value, ""), "", json::ForwardSource::metadata);
      });
    } else if (key.compare(0, 7, "modctx.") == 0) {
      reject(std::string(kMetadataKey) + ": unknown key " + quote(key) + " (modctx writes " + kFormatKey + ", " +
             kSliceKey + ", " + kForwardKey + ")");
    }
  }
}


// Wraps a shared keepalive for a tensor's deleter context.
void delete_keepalive(void* ctx) { delete static_cast<std::shared_ptr<const void>*>(ctx); }

LoadedContext load_checked(const unsigned char* data, size_t size, const std::shared_ptr<const void>& keepalive) {
  if (!kLittleEndian) reject(kBigEndian, Code::unsupported);
  // L1, L2
  if (size < 8)
    reject("file too short: " + std::to_string(size) +
         " bytes (a safetensors file starts with an 8-byte header length)");
  const uint64_t header_size = safetensors_header_length(data);
  const uint64_t after = size - 8;
  if (header_size > kSafetensorsMaxHeaderBytes)
    reject("header length " + std::to_string(header_size) + " exceeds the limit of " +
         std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  if (header_size > after)
    reject("header length " + std::to_string(header_size) + " exceeds the file (" + std::to_string(after) +
         " bytes after the 8-byte length)");
  const char* header = reinterpret_cast<const char*>(data + 8);
  const unsigned char* buffer = data + 8 + header_size;
  const uint64_t buffer_size = after - header_size;

  // L3, L4, L5
  const Json doc = read_at("header", [&] { return json::parse_strict(header, header + header_size, ""); });
  if (!doc.is_object()) reject(std::string("header: expected a JSON object, found ") + kind_of(doc));

  LoadedContext out;
  // L6
  if (doc.contains(kMetadataKey)) parse_metadata(doc[kMetadataKey], &out);

  // L7 to L11
  std::vector<TensorEntry> entries;
  for (const auto& item : doc.items()) {
    const std::string& name = item.key();
    if (name == kMetadataKey) continue;
    Field field{};
    int slot = kIgnored;
    if (parse_field(name, &field)) slot = static_cast<int>(field);
    else if (name == kTokensTensor) slot = kTokensSlot;
    else if (name == kDocIdsTensor) slot = kDocIdsSlot;
    else if (name.compare(0, 2, "__") != 0)
      reject("tensor " + quote(name) + " is not a context field (expected one of: " + field_list() +
             "; the forward arguments " + kTokensTensor + ", " + kDocIdsTensor +
             "; names starting with \"__\" are ignored)");
    TensorEntry entry = parse_entry(name, item.value(), buffer_size);
    entry.slot = slot;
    entries.push_back(std::move(entry));
  }

  // L14
  for (const auto& e : entries) {
    if (e.slot != kTokensSlot && e.slot != kDocIdsSlot) continue;
    if (!out.forward)
      reject("tensor " + quote(e.name) + " is a forward argument, but the file has no " + kForwardKey +
             " (the forward arguments it belongs to)");
    if (e.slot == kTokensSlot && out.forward->tokens != e.shape)
      reject("tensor " + quote(e.name) + " has shape " + shape_list(e.shape) + ", but " + kForwardKey +
             " gives tokens " + (out.forward->tokens ? shape_list(*out.forward->tokens) : std::string("null")));
  }

  // L12
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    if (a->begin != b->begin) return a->begin < b->begin;
    return a->end != b->end ? a->end < b->end : a->name < b->name;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorEntry& a = *by_offset[i - 1];
    const TensorEntry& b = *by_offset[i];
    if (b.begin < a.end)
      reject("tensors " + quote(a.name) + " [" + std::to_string(a.begin) + ", " + std::to_string(a.end) + "] and " +
           quote(b.name) + " [" + std::to_string(b.begin) + ", " + std::to_string(b.end) + "] overlap");
  }

  // L13
  for (const auto& e : entries) {
    if (e.slot == kIgnored || e.dtype != at::kBool) continue;
    for (uint64_t i = e.begin; i < e.end; ++i)
      if (buffer[i] > 1)
        reject("tensor " + quote(e.name) + ": BOOL byte " + std::to_string(i - e.begin) + " is " +
             std::to_string(buffer[i]) + " (expected 0 or 1)");
  }

  // Everything is valid: make the tensors.
  for (const auto& e : entries) {
    if (e.slot == kIgnored) continue;
    const unsigned char* p = buffer + e.begin;
    at::Tensor t;
    if (e.end == e.begin) {
      t = allocate_cpu_tensor(e.shape, e.dtype);
    } else if (reinterpret_cast<uintptr_t>(p) % e.itemsize != 0) {
      t = allocate_cpu_tensor(e.shape, e.dtype);
      std::memcpy(t.data_ptr(), p, e.end - e.begin);
    } else {
      void* blob = const_cast<unsigned char*>(p);
      void* ctx = keepalive ? new std::shared_ptr<const void>(keepalive) : nullptr;
      t = make_tensor_view(blob, e.shape, {}, e.dtype, at::Device(at::kCPU), ctx,
                           keepalive ? delete_keepalive : nullptr);
    }
    if (e.slot == kTokensSlot) out.forward->token_ids = std::move(t);
    else if (e.slot == kDocIdsSlot) out.forward->doc_ids = std::move(t);
    else out.fields.tensors[e.slot] = std::move(t);
  }
  return out;
}

// ------------------------------------------------------------------ writing

// The header is written in this order: metadata first, then the tensors as
// they lie in the buffer.
using OrderedJson = nlohmann::ordered_json;

struct PlannedTensor {
  std::string name;
  const char* dtype;  // safetensors' name
  uint64_t itemsize;
  at::Tensor tensor;  // contiguous, CPU
  uint64_t bytes;
};

struct Plan {
  std::string prefix;  // the 8-byte length and the padded header
  std::vector<PlannedTensor> tensors;
};

std::string slice_text(const Slice& s) {
  auto part = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("null"); };
  return "[" + part(s.start) + ", " + part(s.stop) + ", " + part(s.step) + "]";
}

// The KV caches as their state when known (what L6 reads back).
std::string forward_text(const ForwardRecord& f) {
  std::string tokens = "null";
  if (f.tokens) tokens = shape_list(*f.tokens);
  std::string kv = f.kv_caches ? "true" : "false";
  if (f.kv_cache)
    kv = "{\"seq_len\": " + std::to_string(f.kv_cache->seq_len) + ", \"capacity\": " +
         std::to_string(f.kv_cache->capacity) + ", \"batch\": " + std::to_string(f.kv_cache->batch) + "}";
  return "{\"tokens\": " + tokens + ", \"kv_caches\": " + kv + "}";
}

// A tensor to write under `name` (a field or a forward argument): CPU,
// strided, with data, a dtype safetensors names.
PlannedTensor plan_tensor(const std::string& name, at::Tensor t) {
  const std::string what = "save_safetensors: " + name;
  if (t.layout() != at::kStrided)
    throw Error(Code::unsupported, what + " is not a strided (dense) tensor");
  if (!t.device().is_cpu())
    throw Error(Code::unsupported, what + " is on " + t.device().str() + "; only CPU tensors can be saved");
  const char* dtype = safetensors_dtype_name(t.scalar_type());
  if (!dtype)
    throw Error(Code::unsupported, what + " has dtype " + std::string(c10::toString(t.scalar_type())) +
                                       ", which safetensors cannot name");
  if (t.dim() > static_cast<int64_t>(kMaxDims))
    throw Error(Code::unsupported, what + " has " + std::to_string(t.dim()) + " dimensions (at most " +
                                       std::to_string(kMaxDims) + ")");
  if (t.numel() > 0 && (!t.has_storage() || t.data_ptr() == nullptr))
    throw Error(Code::unsupported, what + " has no data (a tensor that only describes a shape)");
  if (t.is_conj() || t.is_neg() || !t.is_contiguous()) t = contiguous_cpu_copy(t);
  const uint64_t itemsize = c10::elementSize(t.scalar_type());
  return {name, dtype, itemsize, t, static_cast<uint64_t>(t.numel()) * itemsize};
}

Plan make_plan(const ModalityContext& ctx, const std::optional<ForwardRecord>& forward) {
  if (!kLittleEndian) throw Error(Code::unsupported, std::string("save_safetensors: ") + kBigEndian);
  Plan plan;
  for (int i = 0; i < kFieldCount; ++i) {
    const at::Tensor& t = ctx.fields().tensors[i];
    if (t.defined()) plan.tensors.push_back(plan_tensor(field_name(static_cast<Field>(i)), t));
  }
  if (forward && forward->token_ids.defined()) {
    // L14: the tensor has the shape the metadata gives.
    if (!forward->tokens || *forward->tokens != forward->token_ids.sizes().vec())
      throw Error(Code::invalid_argument,
                  "save_safetensors: the forward token_ids of shape " + shape_list(forward->token_ids.sizes()) +
                      " do not match its tokens shape " +
                      (forward->tokens ? shape_list(*forward->tokens) : std::string("null")));
    plan.tensors.push_back(plan_tensor(kTokensTensor, forward->token_ids));
  }
  if (forward && forward->doc_ids.defined()) plan.tensors.push_back(plan_tensor(kDocIdsTensor, forward->doc_ids));
  // Widest element first, then by name: every tensor starts at a multiple of
  // its element size (sizes are powers of two; the data buffer starts at a
  // multiple of 8), as the reference writer lays them out.
  std::sort(plan.tensors.begin(), plan.tensors.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    return a.itemsize != b.itemsize ? a.itemsize > b.itemsize : a.name < b.name;
  });

  OrderedJson header = OrderedJson::object();
  OrderedJson metadata = OrderedJson::object();
  metadata[kFormatKey] = kFormatVersion;
  if (ctx.output_slice()) metadata[kSliceKey] = slice_text(*ctx.output_slice());
  if (forward) metadata[kForwardKey] = forward_text(*forward);
  header[kMetadataKey] = std::move(metadata);
  uint64_t offset = 0;
  for (const auto& p : plan.tensors) {
    OrderedJson entry = OrderedJson::object();
    entry["dtype"] = p.dtype;
    entry["shape"] = p.tensor.sizes().vec();
    entry["data_offsets"] = {offset, offset + p.bytes};
    header[p.name] = std::move(entry);
    offset += p.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  plan.prefix.resize(8);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) plan.prefix[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  plan.prefix += text;
  return plan;
}


class TempFile {
 public:
  explicit TempFile(const std::string& path) : path_(path) {
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
      tmp_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    throw_io_error("cannot create " + tmp_);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, std::min<size_t>(size, size_t{1} << 30));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_io_error("cannot write " + tmp_);
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) throw_io_error("cannot flush " + tmp_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_io_error("cannot close " + tmp_);
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw_io_error("cannot rename " + tmp_ + " to " + path_);
    committed_ = true;
    // Make the rename durable too (best effort).
    const auto slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  [[noreturn]] void throw_io_error(const std::string& what) {
    const int err = errno;
    throw Error(Code::io, path_ + ": " + what + ": " + errno_text(err));
  }

  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// The whole file mapped into memory; unmapped with the last reference.
struct Mapping {
  void* addr;
  size_t size;
  Mapping(void* a, size_t s) : addr(a), size(s) {}
  ~Mapping() { ::munmap(addr, size); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

}  // namespace

uint64_t safetensors_header_length(const unsigned char* first8) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | first8[i];
  return v;
}

std::string safetensors_bytes(const ModalityContext& ctx, const std::optional<ForwardRecord>& forward) {
  const Plan plan = make_plan(ctx, forward);
  std::string out = plan.prefix;
  for (const auto& p : plan.tensors)
    if (p.bytes) out.append(static_cast<const char*>(p.tensor.data_ptr()), p.bytes);
  return out;
}

void save_safetensors(const std::string& path, const ModalityContext& ctx,
                      const std::optional<ForwardRecord>& forward) {
  const Plan plan = make_plan(ctx, forward);
  TempFile file(path);
  file.write(plan.prefix.data(), plan.prefix.size());
  for (const auto& p : plan.tensors)
    if (p.bytes) file.write(p.tensor.data_ptr(), p.bytes);
  file.commit();
}

LoadedContext load_safetensors_from_memory(const void* data, size_t size, std::shared_ptr<const void> keepalive,
                                           const std::string& name) {
  static const unsigned char kEmpty[1] = {0};
  const auto* bytes = data ? static_cast<const unsigned char*>(data) : kEmpty;
  if (!data) size = 0;
  try {
    return load_checked(bytes, size, keepalive);
  } catch (const Rejection& r) {
    throw Error(r.code, name + ": " + r.message);
  }
}

LoadedContext load_safetensors(const std::string& path) {
  auto throw_io_error = [&](const std::string& what, int err) {
    throw Error(Code::io, path + ": " + what + ": " + errno_text(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io_error("cannot open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw_io_error("cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(Code::format, path + ": not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    // Too short to map usefully (mmap refuses 0 bytes): read what is there
    // so that the message is the loader's own.
    unsigned char small[8] = {};
    ssize_t n;
    do n = ::pread(fd, small, sizeof small, 0);
    while (n < 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (n < 0) throw_io_error("cannot read", err);
    return load_safetensors_from_memory(small, static_cast<size_t>(n), nullptr, path);
  }
  if (size > SIZE_MAX) {
    ::close(fd);
    throw Error(Code::format, path + ": too large to map");
  }
  // Private and writable: an in-place write to a loaded tensor changes a
  // copy-on-write page of this process, never the file, and does not fault.
  void* addr = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (addr == MAP_FAILED) throw_io_error("cannot map", err);
  std::shared_ptr<Mapping> mapping;
  try {
    mapping = std::make_shared<Mapping>(addr, static_cast<size_t>(size));
  } catch (...) {
    ::munmap(addr, static_cast<size_t>(size));
    throw;
  }
  return load_safetensors_from_memory(addr, static_cast<size_t>(size), mapping, path);
}

}  // namespace modctx
