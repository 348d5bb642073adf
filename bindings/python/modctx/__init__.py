"""modctx from Python through ctypes: no compiler, no extension module.

Loads libmodctx (the path from the argument, else $MODCTX_LIBRARY, else
"libmodctx.so.1" on the loader's search path), hands PyTorch tensors to it as
DLPack without copying, builds and checks contexts, and raises a ModctxError
(a ValueError, as the reference raises) carrying .status and the library's
exact message.

    import modctx, torch
    lib = modctx.load()                       # or modctx.load("build/capi/libmodctx.so")
    ctx = lib.context(prefix_embeds=img, output_slice=slice(576, None))
    ctx.check_forward(tokens=tokens)
    print(ctx)                                # ModalityContext(prefix_embeds=Tensor[...] ...)
    model = lib.model_from_config("train.toml")   # the model's own KempnerForge config
    ctx.check_request(model, tokens=tokens, kv_caches={"seq_len": 37, "capacity": 1024, "batch": 2},
                      value_checks=modctx.TOKEN_ID_VALUES)

Tensors handed in are described by hand-made DLManagedTensor structs (data
pointer, shape, strides, dtype, device of the torch tensor), so bool masks
work even though PyTorch 1.13's to_dlpack refuses bool. The torch tensor is
kept alive until modctx calls the deleter, exactly once, as the C ABI
promises; live_exports() counts the tensors modctx still holds.

The package: _capi (the ctypes declarations of modctx.h and DLPack),
_errors (the exceptions), _tensors (torch tensors in and out), _values
(Python values as the C ABI takes them), _context (Builder, Context),
_library (Library, load, Model). Everything public is imported here.
"""

# Every public name of the single module this package was split from (the
# ctypes declarations too), so users change only how they find the package.
from ._capi import (DELETER, DELETER_VERSIONED, DLPACK_FLAG_BITMASK_READ_ONLY, HAS_START, HAS_STEP, HAS_STOP,
                    KV_GIVEN, KV_NONE, KV_STATE, MODALITY_ID_VALUES, MODEL_SIZE_V1, TOKEN_ID_VALUES, Arch,
                    DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor, Field,
                    Status, StatusClass, kDLBfloat, kDLBool, kDLComplex, kDLCPU, kDLCUDA, kDLFloat, kDLInt, kDLMetal,
                    kDLOneAPI, kDLROCM, kDLUInt, modctx_model, modctx_request, modctx_slice)  # noqa: F401
from ._context import Builder, Context
from ._errors import (ArgumentError, ContextError, FormatError, ForwardError, InternalError, ModctxError, SliceError,
                      UnsupportedError, error_class)  # noqa: F401
from ._library import Library, Model, load
from ._tensors import described_as, export_stats, live_exports

__all__ = [
    "load", "Library", "Builder", "Context", "Model", "Status", "StatusClass", "Field", "Arch",
    "ModctxError", "ArgumentError", "ContextError", "ForwardError", "SliceError", "UnsupportedError",
    "InternalError", "FormatError", "described_as", "live_exports", "export_stats", "MODALITY_ID_VALUES",
    "TOKEN_ID_VALUES",
]

# Named as before the split into modules: modctx.ContextError in tracebacks and reprs.
for _name in __all__ + ["error_class"]:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, int):
        _obj.__module__ = __name__
del _name, _obj
