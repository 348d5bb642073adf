// Names of fields, dtypes, devices and shapes (see modctx/names.hpp): each
// table written once.
#include "modctx/names.hpp"

#include <iterator>
#include <vector>

namespace modctx {

namespace {

constexpr const char* kFieldNames[kFieldCount] = {
    "inputs_embeds", "prefix_embeds", "image_features", "image_mask", "modality_ids", "key_padding_mask",
};

// One row a dtype: PyTorch's name and alias, safetensors' name (null where
// LibTorch 1.13 cannot save it), the C ABI's modctx_dtype code (-1: not one
// a context can describe). The first twelve rows are in modctx_dtype order.
struct DtypeRow {
  c10::ScalarType type;
  const char* name;
  const char* alias;
  const char* safetensors;
  int code;
};

constexpr DtypeRow kDtypes[] = {
    {c10::ScalarType::Float, "float32", "float", "F32", 0},
    {c10::ScalarType::Double, "float64", "double", "F64", 1},
    {c10::ScalarType::Half, "float16", "half", "F16", 2},
    {c10::ScalarType::BFloat16, "bfloat16", nullptr, "BF16", 3},
    {c10::ScalarType::Long, "int64", "long", "I64", 4},
    {c10::ScalarType::Int, "int32", "int", "I32", 5},
    {c10::ScalarType::Short, "int16", "short", "I16", 6},
    {c10::ScalarType::Char, "int8", nullptr, "I8", 7},
    {c10::ScalarType::Byte, "uint8", nullptr, "U8", 8},
    {c10::ScalarType::Bool, "bool", nullptr, "BOOL", 9},
    {c10::ScalarType::ComplexFloat, "complex64", "cfloat", "C64", 10},
    {c10::ScalarType::ComplexDouble, "complex128", "cdouble", nullptr, 11},
    {c10::ScalarType::ComplexHalf, "complex32", nullptr, nullptr, -1},
    {c10::ScalarType::QInt8, "qint8", nullptr, nullptr, -1},
    {c10::ScalarType::QUInt8, "quint8", nullptr, nullptr, -1},
    {c10::ScalarType::QInt32, "qint32", nullptr, nullptr, -1},
    {c10::ScalarType::QUInt4x2, "quint4x2", nullptr, nullptr, -1},
    {c10::ScalarType::QUInt2x4, "quint2x4", nullptr, nullptr, -1},
};

// The first row that `match` accepts, or null.
template <class Match>
const DtypeRow* find_row(Match match) noexcept {
  for (const auto& row : kDtypes)
    if (match(row)) return &row;
  return nullptr;
}

const DtypeRow* row_of(c10::ScalarType type) noexcept {
  return find_row([&](const DtypeRow& row) { return row.type == type; });
}

// Sets *out to the row's type when there is a row.
bool found(const DtypeRow* row, c10::ScalarType* out) noexcept {
  if (row) *out = row->type;
  return row != nullptr;
}

bool equal(const char* a, const std::string& b) noexcept { return a && b == a; }

constexpr const char* kArchNames[kArchCount] = {"text", "joint_decoder", "cross_attention", "mot", "moma"};

// "a, b, c" (last_separator ", ") or "a, b or c" (" or ").
std::string join(const std::vector<const char*>& names, const char* last_separator) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? last_separator : ", ";
    out += names[i];
  }
  return out;
}

// An enum's name from its table ("unknown" outside it), and back.
template <class Enum, size_t N>
const char* name_of(const char* const (&names)[N], Enum value) noexcept {
  const int i = static_cast<int>(value);
  return (i >= 0 && i < static_cast<int>(N)) ? names[i] : "unknown";
}

template <class Enum, size_t N>
bool parse_name(const char* const (&names)[N], const std::string& name, Enum* out) noexcept {
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

std::string join_sizes(c10::IntArrayRef shape) {
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out;
}

}  // namespace

const char* field_name(Field field) noexcept { return name_of(kFieldNames, field); }

bool parse_field(const std::string& name, Field* out) noexcept { return parse_name(kFieldNames, name, out); }

std::string field_ref(Field field) { return std::string("modality.") + field_name(field); }

std::string field_list() { return join({std::begin(kFieldNames), std::end(kFieldNames)}, ", "); }

std::string unknown_field_message(int value) {
  return "unknown field " + std::to_string(value) + " (expected 0 to " + std::to_string(kFieldCount - 1) + ")";
}

const char* arch_name(Arch arch) noexcept { return name_of(kArchNames, arch); }

bool parse_arch(const std::string& name, Arch* out) noexcept { return parse_name(kArchNames, name, out); }

std::string arch_list() { return join({std::begin(kArchNames), std::end(kArchNames)}, " or "); }

const char* dtype_name(c10::ScalarType type) noexcept {
  const DtypeRow* row = row_of(type);
  return row ? row->name : "unknown";
}

std::string torch_dtype_name(c10::ScalarType type) { return std::string("torch.") + dtype_name(type); }

bool parse_dtype(const std::string& name, c10::ScalarType* out) noexcept {
  return found(find_row([&](const DtypeRow& r) { return r.code >= 0 && (equal(r.name, name) || equal(r.alias, name)); }),
               out);
}

std::string dtype_list() {
  std::vector<const char*> names;
  for (const auto& row : kDtypes)
    if (row.code >= 0) names.push_back(row.name);
  return join(names, " or ");
}

bool dtype_from_code(int code, c10::ScalarType* out) noexcept {
  return found(find_row([&](const DtypeRow& r) { return r.code >= 0 && r.code == code; }), out);
}

int dtype_code(c10::ScalarType type) noexcept {
  const DtypeRow* row = row_of(type);
  return row ? row->code : -1;
}

const char* safetensors_dtype_name(c10::ScalarType type) noexcept {
  const DtypeRow* row = row_of(type);
  return row ? row->safetensors : nullptr;
}

bool parse_safetensors_dtype(const std::string& name, c10::ScalarType* out) noexcept {
  return found(find_row([&](const DtypeRow& r) { return equal(r.safetensors, name); }), out);
}

std::string safetensors_dtype_list() {
  std::vector<const char*> names;
  for (const auto& row : kDtypes)
    if (row.safetensors) names.push_back(row.safetensors);
  return join(names, " or ");
}

bool parse_device(const std::string& name, c10::Device* out) noexcept {
  try {
    const c10::Device device(name);
    if (device.is_cpu()) *out = c10::Device(c10::kCPU);
    else if (!device.has_index()) *out = c10::Device(device.type(), 0);
    else *out = device;
    return true;
  } catch (...) {  // c10::Error for an unknown name
    return false;
  }
}

std::string shape_list(c10::IntArrayRef shape) { return "[" + join_sizes(shape) + "]"; }

std::string shape_tuple(c10::IntArrayRef shape) {
  return "(" + join_sizes(shape) + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace modctx
