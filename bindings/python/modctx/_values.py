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


_DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                "complex64", "complex128")  # modctx_dtype's codes, in order


def _modctx_dtype(dtype):
    """The modctx_dtype code of a torch dtype, its name ("bfloat16", or an
    alias torch knows: "half"), or a code; -1 for None."""
    if dtype is None:
        return -1
    if isinstance(dtype, int):
        return dtype
    if isinstance(dtype, str):
        if dtype in _DTYPE_NAMES:  # without torch
            return _DTYPE_NAMES.index(dtype)
        dtype = getattr(_torch(), dtype)
    return _DTYPE_NAMES.index(str(dtype).replace("torch.", ""))


def _modctx_dtype_name(code):
    """PyTorch's name of a modctx_dtype code ("bfloat16"); None for < 0 (not given)."""
    return _DTYPE_NAMES[code] if 0 <= code < len(_DTYPE_NAMES) else None
