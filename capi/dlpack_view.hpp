// The output slice on a DLPack hidden state, computed on the descriptor.
#pragma once

#include <optional>

#include "modctx.h"
#include "modctx/slice.hpp"
#include "modctx/status.hpp"
#include "pending_release.hpp"

namespace modctx::capi {

// `hidden[:, slice, :]` as PyTorch computes it (the same shape, strides and
// address as at::slice, the same errors in the same order), or `hidden` as
// it is when there is no slice: a new DLManagedTensor that shares the memory
// and owns `hidden`, whose deleter runs when the view's deleter runs.
//
// Why not at::slice: a C caller has DLPack at both ends and no autograd, and
// LibTorch's view machinery (dispatcher, autograd and view bookkeeping, two
// tensors made and destroyed) was more than half the cost of a request.
// The C++ API's modctx::apply_output_slice keeps at::slice: it must stay a
// differentiable view for training stacks.
//
// On success `owner`'s release moves into *out; on failure it stays with
// `owner` and *out is untouched. `what` prefixes descriptor messages.
Status slice_dlpack(const DLTensor& hidden, const std::optional<Slice>& slice, const char* what,
                    PendingRelease& owner, DLManagedTensor** out);

}  // namespace modctx::capi
