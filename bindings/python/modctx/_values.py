"""Python values as the C ABI takes them: field and architecture names, slices,
flags, dtypes."""

from ._capi import HAS_START, HAS_STEP, HAS_STOP, Arch, Field, Status, modctx_slice
from ._errors import ArgumentError
from ._tensors import _torch



def _field(field):
    if isinstance(field, str):
        try:
            return Field[field]
        except KeyError:
            raise ArgumentError(Status.INVALID_ARGUMENT, "unknown field %r (expected one of %s)"
                                % (field, ", ".join(f.name for f in Field))) from None
    return int(field)


def _arch(arch):
    if isinstance(arch, str):
        try:
            return Arch[arch]
        except KeyError:
            raise ArgumentError(Status.INVALID_ARGUMENT, "unknown architecture %r" % (arch,)) from None
    return int(arch)


def _slice_struct(s):
    out = modctx_slice()
    for value, name, flag in ((s.start, "start", HAS_START), (s.stop, "stop", HAS_STOP), (s.step, "step", HAS_STEP)):
        if value is not None:
            setattr(out, name, int(value))
            out.flags |= flag
    return out


def _given(x):
    """Reference semantics: an argument is given unless it is None (bools are taken as flags)."""
    return bool(x) if isinstance(x, bool) else x is not None


_modctx_dtypes = None


def _modctx_dtype(dtype):
    global _modctx_dtypes
    if dtype is None:
        return -1
    if isinstance(dtype, int):
        return dtype
    torch = _torch()
    if _modctx_dtypes is None:
        _modctx_dtypes = {d: i for i, d in enumerate([
            torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
            torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128])}
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    return _modctx_dtypes[dtype]
