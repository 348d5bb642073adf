// modctx/names.hpp: every name modctx reads or prints, in one place: the six
// fields, the architectures, dtypes (PyTorch's names, safetensors' names, the C ABI's
// modctx_dtype codes), devices, and shapes. The checks, the file formats,
// the checker and the C ABI all name things through these.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include <string>

namespace modctx {

// ---------------------------------------------------------------- fields

// The six tensor fields. The values are the C ABI's `modctx_field` values.
enum class Field : int {
  inputs_embeds = 0,
  prefix_embeds = 1,
  image_features = 2,
  image_mask = 3,
  modality_ids = 4,
  key_padding_mask = 5,
};

constexpr int kFieldCount = 6;

// The field's name as the reference spells it, e.g. "prefix_embeds".
// Unknown values give "unknown".
const char* field_name(Field field) noexcept;

// Parses a field name; false when it is not one of the six.
bool parse_field(const std::string& name, Field* out) noexcept;

// The field as the reference's messages name it: "modality.prefix_embeds".
std::string field_ref(Field field);

// The six names in order, for messages: "inputs_embeds, prefix_embeds, ...".
std::string field_list();

// "unknown field 7 (expected 0 to 5)": a field value outside the enumeration.
std::string unknown_field_message(int value);

// ---------------------------------------------------------------- architectures

// The reference's architecture names: text, joint_decoder, cross_attention,
// mot, moma. The values are the C ABI's `modctx_arch` values.
enum class Arch : int {
  text = 0,
  joint_decoder = 1,
  cross_attention = 2,
  mot = 3,
  moma = 4,
};

constexpr int kArchCount = 5;

const char* arch_name(Arch arch) noexcept;  // "joint_decoder"; "unknown" for others
bool parse_arch(const std::string& name, Arch* out) noexcept;
std::string arch_list();  // "text, joint_decoder, cross_attention, mot or moma"

// ---------------------------------------------------------------- dtypes

// PyTorch's name without "torch.", e.g. "int32"; "unknown" for a type
// PyTorch 1.13 does not name.
const char* dtype_name(c10::ScalarType type) noexcept;

// PyTorch's name as Python prints it, e.g. "torch.int32".
std::string torch_dtype_name(c10::ScalarType type);

// The twelve dtypes a context may describe (float32, float64, float16,
// bfloat16, int64, int32, int16, int8, uint8, bool, complex64, complex128),
// by PyTorch's name or alias (float, double, half, long, int, short, cfloat,
// cdouble). False for anything else.
bool parse_dtype(const std::string& name, c10::ScalarType* out) noexcept;

// Those twelve, for messages: "float32, float64, ... or complex128".
std::string dtype_list();

// The C ABI's modctx_dtype code (MODCTX_DTYPE_FLOAT32 = 0 ...) as a dtype;
// false for codes outside the enumeration.
bool dtype_from_code(int code, c10::ScalarType* out) noexcept;
// The other way: the modctx_dtype code of a dtype; -1 for a dtype without one.
int dtype_code(c10::ScalarType type) noexcept;

// safetensors' name ("F32", "BOOL", ...); nullptr where safetensors has none
// or LibTorch 1.13 cannot save the type.
const char* safetensors_dtype_name(c10::ScalarType type) noexcept;

// The dtype of a safetensors name; false for names LibTorch 1.13 has no
// type for and for unknown names.
bool parse_safetensors_dtype(const std::string& name, c10::ScalarType* out) noexcept;

// The names safetensors_dtype_name gives, for messages: "F32, F64, ... or C64".
std::string safetensors_dtype_list();

// ---------------------------------------------------------------- devices

// A device name such as "cuda:0": "cuda" means "cuda:0" (a real tensor on
// an accelerator always has an index), "cpu:0" means "cpu". False for names
// LibTorch does not know.
bool parse_device(const std::string& name, c10::Device* out) noexcept;

// ---------------------------------------------------------------- shapes

// A shape as a list: "[2, 576, 4096]", "[]".
std::string shape_list(c10::IntArrayRef shape);

// Python's tuple notation of a shape: "(1, 12)", "(12,)", "()".
std::string shape_tuple(c10::IntArrayRef shape);

}  // namespace modctx
