// The DLPack <-> LibTorch tables (see dlpack_codes.hpp).
#include "dlpack_codes.hpp"

#include <string>

namespace modctx::capi {

namespace {

struct DtypeRow {
  uint8_t code;
  uint8_t bits;
  at::ScalarType type;
};

constexpr DtypeRow kDtypes[] = {
    {kDLInt, 8, at::kChar},          {kDLInt, 16, at::kShort},          {kDLInt, 32, at::kInt},
    {kDLInt, 64, at::kLong},         {kDLUInt, 8, at::kByte},           {kDLFloat, 16, at::kHalf},
    {kDLFloat, 32, at::kFloat},      {kDLFloat, 64, at::kDouble},       {kDLBfloat, 16, at::kBFloat16},
    {kDLComplex, 32, at::kComplexHalf}, {kDLComplex, 64, at::kComplexFloat}, {kDLComplex, 128, at::kComplexDouble},
    {MODCTX_DLPACK_BOOL, 8, at::kBool},
};

// The highest dtype code DLPack defines (1.1's float8 and float4 types have
// no LibTorch 1.13 type); anything above is garbage.
constexpr unsigned kLastDlpackDtypeCode = 17;

struct DeviceRow {
  int32_t code;
  c10::DeviceType type;
  bool data_is_address;  // false: an opaque handle
  bool exported;         // the code export writes for `type`
};

constexpr DeviceRow kDevices[] = {
    {kDLCPU, c10::DeviceType::CPU, true, true},
    {kDLCUDAHost, c10::DeviceType::CPU, true, false},  // pinned host memory: the CPU reads it
    {kDLROCMHost, c10::DeviceType::CPU, true, false},
    {kDLCUDA, c10::DeviceType::CUDA, true, true},
    {kDLCUDAManaged, c10::DeviceType::CUDA, true, false},
    {kDLROCM, c10::DeviceType::HIP, true, true},
    {kDLOneAPI, c10::DeviceType::XPU, true, true},
    {kDLMetal, c10::DeviceType::MPS, false, true},
    {kDLVulkan, c10::DeviceType::Vulkan, false, true},
    {kDLOpenCL, c10::DeviceType::OPENCL, false, true},
};

// DLPack device types LibTorch has no device for: VPI, ExtDev, WebGPU,
// Hexagon, MAIA.
constexpr int32_t kDevicesWithoutLibTorch[] = {9, 12, 15, 16, 17};

Status problem(Code code, const char* what, const std::string& message) {
  return Status::failure(code, std::string(what) + ": " + message);
}

}  // namespace

Status dtype_from_dlpack(const DLDataType& t, const char* what, at::ScalarType* out) {
  if (t.lanes != 1)
    return problem(Code::unsupported, what, "dtype lanes " + std::to_string(t.lanes) + " (only 1 is supported)");
  for (const auto& row : kDtypes) {
    if (row.code == t.code && row.bits == t.bits) {
      *out = row.type;
      return Status::success();
    }
  }
  const std::string code = std::to_string(t.code);
  if (t.code > kLastDlpackDtypeCode) return problem(Code::invalid_argument, what, "unknown DLPack dtype code " + code);
  return problem(Code::unsupported, what,
                 "DLPack dtype code " + code + " with " + std::to_string(t.bits) + " bits has no LibTorch type");
}

Status dtype_to_dlpack(at::ScalarType type, DLDataType* out) {
  for (const auto& row : kDtypes) {
    if (row.type == type) {
      *out = DLDataType{row.code, row.bits, 1};
      return Status::success();
    }
  }
  return Status::failure(Code::unsupported, "DLPack has no dtype for this tensor's dtype");
}

Status device_from_dlpack(int32_t type, int32_t id, const char* what, at::Device* out, bool* data_is_address) {
  if (id < 0) return problem(Code::invalid_argument, what, "device_id " + std::to_string(id) + " is negative");
  for (const auto& row : kDevices) {
    if (row.code != type) continue;
    if (data_is_address) *data_is_address = row.data_is_address;
    if (row.type == c10::DeviceType::CPU) {
      *out = at::Device(at::kCPU);
    } else if (id > INT8_MAX) {
      return problem(Code::unsupported, what, "device_id " + std::to_string(id) + " is above LibTorch's limit 127");
    } else {
      *out = at::Device(row.type, static_cast<at::DeviceIndex>(id));
    }
    return Status::success();
  }
  for (int32_t code : kDevicesWithoutLibTorch)
    if (code == type)
      return problem(Code::unsupported, what, "DLPack device type " + std::to_string(type) + " has no LibTorch device");
  return problem(Code::invalid_argument, what, "unknown DLPack device type " + std::to_string(type));
}

Status device_to_dlpack(const at::Device& device, DLDevice* out) {
  for (const auto& row : kDevices) {
    if (row.exported && row.type == device.type()) {
      out->device_type = static_cast<DLDeviceType>(row.code);
      out->device_id = device.has_index() && !device.is_cpu() ? device.index() : 0;
      return Status::success();
    }
  }
  return Status::failure(Code::unsupported, "DLPack has no device type for device " + device.str());
}

}  // namespace modctx::capi
