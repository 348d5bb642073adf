// Tensors out as DLPack: new managed tensors that share the memory and keep
// it alive until their deleter runs.
#pragma once

#include <ATen/core/Tensor.h>

#include "modctx.h"
#include "modctx/status.hpp"

namespace modctx::capi {

// Both return Code::unsupported for a dtype or device DLPack cannot name.
Status export_dlpack(const at::Tensor& t, DLManagedTensor** out);
Status export_dlpack_versioned(const at::Tensor& t, DLManagedTensorVersioned** out);

}  // namespace modctx::capi
