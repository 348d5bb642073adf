// DLPack's dtype and device codes against LibTorch's types, both ways, each
// mapping one table (dlpack_codes.cpp): what import accepts is what export
// writes.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx.h"
#include "modctx/status.hpp"

namespace modctx::capi {

// A DLPack dtype as a ScalarType. Code::unsupported for lanes other than 1
// and for a DLPack type LibTorch 1.13 has none for; Code::invalid_argument
// for a code DLPack does not define. `what` starts the message.
Status dtype_from_dlpack(const DLDataType& t, const char* what, at::ScalarType* out);

// A ScalarType as DLPack names it; Code::unsupported where DLPack has none.
Status dtype_to_dlpack(at::ScalarType type, DLDataType* out);

// A DLPack device (type code and ordinal) as a LibTorch device; host memory
// of an accelerator (kDLCUDAHost, kDLROCMHost) is the CPU's. When given,
// *data_is_address says whether a tensor's data is an address (false for
// the opaque handles of OpenCL, Vulkan and Metal).
Status device_from_dlpack(int32_t type, int32_t id, const char* what, at::Device* out,
                          bool* data_is_address = nullptr);

// A LibTorch device as DLPack names it; Code::unsupported where DLPack has none.
Status device_to_dlpack(const at::Device& device, DLDevice* out);

}  // namespace modctx::capi
