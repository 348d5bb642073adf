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

Tensors handed in are described by hand-made DLManagedTensor structs (data
pointer, shape, strides, dtype, device of the torch tensor), so bool masks
work even though PyTorch 1.13's to_dlpack refuses bool. The torch tensor is
kept alive until modctx calls the deleter, exactly once, as the C ABI
promises; live_exports() counts the tensors modctx still holds.
"""

import ctypes
import enum
import itertools
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint8,
                    c_uint16, c_uint32, c_uint64, c_void_p)
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "load", "Library", "Builder", "Context", "Model", "Status", "Field", "Arch",
    "ModctxError", "ArgumentError", "ContextError", "ForwardError", "SliceError", "UnsupportedError",
    "InternalError", "FormatError", "described_as", "live_exports", "export_stats", "MODALITY_ID_VALUES",
]

# ---------------------------------------------------------------- DLPack (1.0 ABI)


class DLDevice(Structure):
    _fields_ = [("device_type", c_int), ("device_id", c_int32)]


class DLDataType(Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(Structure):
    _fields_ = [
        ("data", c_void_p),
        ("device", DLDevice),
        ("ndim", c_int32),
        ("dtype", DLDataType),
        ("shape", POINTER(c_int64)),
        ("strides", POINTER(c_int64)),
        ("byte_offset", c_uint64),
    ]


class DLManagedTensor(Structure):
    pass


DELETER = CFUNCTYPE(None, POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", c_void_p), ("deleter", DELETER)]


class DLPackVersion(Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class DLManagedTensorVersioned(Structure):
    pass


DELETER_VERSIONED = CFUNCTYPE(None, POINTER(DLManagedTensorVersioned))
DLManagedTensorVersioned._fields_ = [
    ("version", DLPackVersion),
    ("manager_ctx", c_void_p),
    ("deleter", DELETER_VERSIONED),
    ("flags", c_uint64),
    ("dl_tensor", DLTensor),
]

kDLCPU, kDLCUDA, kDLMetal, kDLROCM, kDLOneAPI = 1, 2, 8, 10, 14
kDLInt, kDLUInt, kDLFloat, kDLBfloat, kDLComplex, kDLBool = 0, 1, 2, 4, 5, 6
DLPACK_FLAG_BITMASK_READ_ONLY = 1

# ---------------------------------------------------------------- modctx.h


class modctx_slice(Structure):
    _fields_ = [("start", c_int64), ("stop", c_int64), ("step", c_int64), ("flags", c_uint32)]


HAS_START, HAS_STOP, HAS_STEP = 1, 2, 4


class modctx_model(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("arch", c_int),
        ("hidden_size", c_int64),
        ("num_modalities", c_int64),
        ("num_image_tokens", c_int64),
        ("text_dtype", c_int32),
    ]


MODALITY_ID_VALUES = 1  # MODCTX_CHECK_MODALITY_ID_VALUES


class Status(enum.IntEnum):
    OK = 0
    INVALID_ARGUMENT = 1
    ROUTES = 2
    IMAGE_MASK = 3
    MODALITY_IDS = 4
    KEY_PADDING_MASK = 5
    FORWARD_INPUTS = 6
    KV_CACHE = 7
    DTYPE = 8
    SHAPE = 9
    DEVICE = 10
    MISSING_FIELD = 11
    UNSUPPORTED = 12
    OUT_OF_MEMORY = 13
    INTERNAL = 14
    SLICE = 15
    UNUSED_FIELD = 16
    VALUE = 17
    FORMAT = 18
    IO = 19


class Field(enum.IntEnum):
    inputs_embeds = 0
    prefix_embeds = 1
    image_features = 2
    image_mask = 3
    modality_ids = 4
    key_padding_mask = 5


class Arch(enum.IntEnum):
    text = 0
    joint_decoder = 1
    cross_attention = 2
    mot = 3
    moma = 4


# ---------------------------------------------------------------- errors


class ModctxError(ValueError):
    """A failed modctx call: .status (a Status, or an int the binding does not
    know) and .message, the library's exact message (also str(error))."""

    def __init__(self, status, message):
        super().__init__(message)
        try:
            self.status = Status(status)
        except ValueError:
            self.status = int(status)
        self.message = message

    @property
    def status_name(self):
        s = self.status
        return "MODCTX_ERR_" + s.name if isinstance(s, Status) else "MODCTX_ERR_UNKNOWN"


class ArgumentError(ModctxError):
    """MODCTX_ERR_INVALID_ARGUMENT: a malformed tensor, an unknown value."""


class ContextError(ModctxError):
    """The four construction checks (ROUTES, IMAGE_MASK, MODALITY_IDS, KEY_PADDING_MASK)."""


class ForwardError(ModctxError):
    """Forward-time and model checks (FORWARD_INPUTS, KV_CACHE, DTYPE, SHAPE,
    DEVICE, MISSING_FIELD, UNUSED_FIELD, VALUE)."""


class SliceError(ModctxError):
    """MODCTX_ERR_SLICE: step 0, a negative length, a step below 0 applied."""


class UnsupportedError(ModctxError):
    """MODCTX_ERR_UNSUPPORTED: valid but not servable by this build."""


class InternalError(ModctxError):
    """MODCTX_ERR_OUT_OF_MEMORY, MODCTX_ERR_INTERNAL, unknown statuses."""


class FormatError(ModctxError):
    """MODCTX_ERR_FORMAT: a document or file that is not a readable context;
    MODCTX_ERR_IO: a file that cannot be opened, read or written."""


_FAMILY = {Status.INVALID_ARGUMENT: ArgumentError, Status.SLICE: SliceError, Status.UNSUPPORTED: UnsupportedError,
           Status.FORMAT: FormatError, Status.IO: FormatError}
_FAMILY.update({s: ContextError for s in (Status.ROUTES, Status.IMAGE_MASK, Status.MODALITY_IDS,
                                          Status.KEY_PADDING_MASK)})
_FAMILY.update({s: ForwardError for s in (Status.FORWARD_INPUTS, Status.KV_CACHE, Status.DTYPE, Status.SHAPE,
                                          Status.DEVICE, Status.MISSING_FIELD, Status.UNUSED_FIELD, Status.VALUE)})


def error_class(status):
    """The exception class of a status."""
    return _FAMILY.get(status, InternalError)


# ---------------------------------------------------------------- torch tensors in (hand-made DLPack)

# Tensors handed to modctx and not yet released, by manager_ctx key. The
# entry keeps the torch tensor, the shape and stride arrays and the struct
# itself alive until modctx calls the deleter.
_live = {}
_keys = itertools.count(1)
_lock = threading.Lock()
_stats = {"exported": 0, "released": 0, "unknown": 0}


def live_exports():
    """How many tensors handed to modctx have not been released yet."""
    with _lock:
        return len(_live)


def export_stats():
    """Counts since import: tensors exported, deleter calls, and deleter calls
    for a tensor already released or never exported (a double release: 0)."""
    with _lock:
        return dict(_stats)


def _release(key):
    with _lock:
        if _live.pop(key, None) is None:
            _stats["unknown"] += 1
        else:
            _stats["released"] += 1


def _discard(managed):
    """Releases an exported tensor that was never handed to modctx."""
    if managed is not None and managed.contents.deleter:
        managed.contents.deleter(managed)


@DELETER
def _deleter(managed):
    # Runs on whichever thread frees the last holder; never raises into C.
    try:
        _release(managed.contents.manager_ctx)
    except BaseException:  # noqa: B902: nothing may escape into C
        pass


@DELETER_VERSIONED
def _deleter_versioned(managed):
    try:
        _release(managed.contents.manager_ctx)
    except BaseException:  # noqa: B902
        pass


# Contexts and builders hold these too: at interpreter exit, module globals
# may go before the last context, whose release calls them.
_DELETERS = (_deleter, _deleter_versioned)


class described_as:
    """A tensor described to modctx as living on another device (metadata
    only: its memory does not move). modctx reads no data except for value
    checks and strategies, so this lets CPU tensors stand for accelerator ones:
    lib.context(prefix_embeds=described_as(t, "cuda:0"))."""

    def __init__(self, tensor, device):
        self.tensor = tensor
        kind, _, index = str(device).partition(":")
        codes = {"cpu": kDLCPU, "cuda": kDLCUDA, "hip": kDLROCM, "rocm": kDLROCM, "mps": kDLMetal,
                 "xpu": kDLOneAPI}
        if kind not in codes:
            raise ArgumentError(Status.INVALID_ARGUMENT, "described_as: unknown device %r" % (device,))
        self.device = (codes[kind], int(index) if index else 0)


def _torch():
    import torch  # imported on first use: the rest of the module works without it
    return torch


_dl_dtypes = None


def _dl_dtype(dtype):
    global _dl_dtypes
    if _dl_dtypes is None:
        torch = _torch()
        _dl_dtypes = {
            torch.float32: (kDLFloat, 32), torch.float64: (kDLFloat, 64), torch.float16: (kDLFloat, 16),
            torch.bfloat16: (kDLBfloat, 16), torch.int64: (kDLInt, 64), torch.int32: (kDLInt, 32),
            torch.int16: (kDLInt, 16), torch.int8: (kDLInt, 8), torch.uint8: (kDLUInt, 8),
            torch.bool: (kDLBool, 8), torch.complex64: (kDLComplex, 64), torch.complex128: (kDLComplex, 128),
        }
    if dtype not in _dl_dtypes:
        raise ArgumentError(Status.INVALID_ARGUMENT, "modctx.py: no DLPack type for %s" % (dtype,))
    return _dl_dtypes[dtype]


def _dl_device(device):
    torch = _torch()
    if device.type == "cpu":
        return kDLCPU, 0
    if device.type == "cuda":
        return (kDLROCM if getattr(torch.version, "hip", None) else kDLCUDA), device.index or 0
    codes = {"mps": kDLMetal, "xpu": kDLOneAPI}
    if device.type not in codes:
        raise ArgumentError(Status.INVALID_ARGUMENT, "modctx.py: no DLPack device for %s" % (device,))
    return codes[device.type], device.index or 0


def _export(tensor, versioned=False):
    """A new managed tensor describing `tensor` (a torch.Tensor, or
    described_as(...)), ready to hand to modctx, which will call its deleter
    exactly once. Returns a ctypes pointer."""
    device = None
    if isinstance(tensor, described_as):
        device, tensor = tensor.device, tensor.tensor
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        raise TypeError("modctx.py: expected a torch.Tensor, got %s" % type(tensor).__name__)
    t = tensor.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    code, bits = _dl_dtype(t.dtype)
    if device is None:
        device = _dl_device(t.device)
    ndim = t.dim()
    shape = (c_int64 * ndim)(*t.shape)
    strides = (c_int64 * ndim)(*t.stride())
    managed = DLManagedTensorVersioned() if versioned else DLManagedTensor()
    dl = managed.dl_tensor
    dl.data = t.data_ptr() or None
    dl.device = DLDevice(device[0], device[1])
    dl.ndim = ndim
    dl.dtype = DLDataType(code, bits, 1)
    dl.shape = ctypes.cast(shape, POINTER(c_int64))
    dl.strides = ctypes.cast(strides, POINTER(c_int64))
    dl.byte_offset = 0
    key = next(_keys)
    managed.manager_ctx = key
    if versioned:
        managed.version = DLPackVersion(1, 0)
        managed.flags = 0
        managed.deleter = _deleter_versioned
    else:
        managed.deleter = _deleter
    with _lock:
        _live[key] = (t, shape, strides, managed)
        _stats["exported"] += 1
    return ctypes.pointer(managed)


# ---------------------------------------------------------------- tensors out (to torch, zero copy)

_pythonapi = ctypes.pythonapi
_pythonapi.PyCapsule_New.restype = ctypes.py_object
_pythonapi.PyCapsule_New.argtypes = [c_void_p, c_char_p, c_void_p]
_CAPSULE_NAME = b"dltensor"  # the capsule keeps a pointer to this: it must live as long as the module


def _to_torch(managed):
    """A torch tensor viewing a managed tensor modctx handed out; torch calls
    its deleter when the tensor goes (or we do, if torch refuses it)."""
    torch = _torch()
    dl = managed.contents.dl_tensor
    if not dl.data:
        # No memory (zero elements): PyTorch 1.13's from_dlpack never calls the
        # deleter of a NULL-data tensor, so make the empty tensor here.
        return _empty_like_dl(managed)
    # Hand torch only what it can hold: once its from_dlpack has wrapped the
    # memory, a later failure runs the deleter itself, so after a failure we
    # cannot tell whether it ran. Refuse up front instead.
    device_type = dl.device.device_type
    hip = bool(getattr(torch.version, "hip", None))
    servable = device_type == kDLCPU or (device_type == (kDLROCM if hip else kDLCUDA) and torch.cuda.is_available())
    _dl_dtype(torch.float32)  # fills the dtype table
    if not servable or (dl.dtype.code, dl.dtype.bits) not in _dl_dtypes.values() or dl.dtype.lanes != 1:
        if managed.contents.deleter:
            managed.contents.deleter(managed)
        raise UnsupportedError(Status.UNSUPPORTED, "modctx.py: this PyTorch cannot hold a tensor of DLPack dtype "
                               "(%d, %d) on device type %d" % (dl.dtype.code, dl.dtype.bits, device_type))
    is_bool = dl.dtype.code == kDLBool
    if is_bool:  # PyTorch 1.13 reads no kDLBool: take the bytes as uint8 and view them as bool
        dl.dtype.code = kDLUInt
    capsule = _pythonapi.PyCapsule_New(ctypes.cast(managed, c_void_p), _CAPSULE_NAME, None)
    t = torch.utils.dlpack.from_dlpack(capsule)
    return t.view(torch.bool) if is_bool else t


def _empty_like_dl(managed):
    dl = managed.contents.dl_tensor
    shape = [dl.shape[i] for i in range(dl.ndim)]
    strides = [dl.strides[i] for i in range(dl.ndim)] if dl.strides else None
    code, bits, device_type = dl.dtype.code, dl.dtype.bits, dl.device.device_type
    if managed.contents.deleter:
        managed.contents.deleter(managed)
    _dl_dtype(_torch().float32)  # fills the dtype table
    dtype = next((d for d, cb in _dl_dtypes.items() if cb == (code, bits)), None)
    if dtype is None or device_type != kDLCPU:
        raise UnsupportedError(Status.UNSUPPORTED, "modctx.py: cannot make an empty torch tensor of DLPack dtype "
                               "(%d, %d) on device type %d" % (code, bits, device_type))
    torch = _torch()
    if strides is None:
        return torch.empty(shape, dtype=dtype)
    return torch.empty_strided(shape, strides, dtype=dtype)


# ---------------------------------------------------------------- the library


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


@dataclass(frozen=True)
class Model:
    """What modctx needs to know of a model (modctx_model). arch: "text",
    "joint_decoder", "cross_attention", "mot", "moma" (or an Arch)."""
    arch: object
    hidden_size: int
    num_modalities: int = 0  # 0 means 2 (image, text)
    num_image_tokens: Optional[int] = None
    text_dtype: object = None  # a torch dtype, its name, or None

    def _struct(self):
        return modctx_model(ctypes.sizeof(modctx_model), _arch(self.arch), self.hidden_size, self.num_modalities,
                            -1 if self.num_image_tokens is None else self.num_image_tokens,
                            _modctx_dtype(self.text_dtype))


class Library:
    """libmodctx, loaded with ctypes. path: a file, else $MODCTX_LIBRARY,
    else "libmodctx.so.1" from the loader's search path."""

    def __init__(self, path=None):
        path = path or os.environ.get("MODCTX_LIBRARY") or "libmodctx.so.1"
        self.path = path
        lib = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        self._c = lib
        P = POINTER
        builder_p, context_p = c_void_p, c_void_p
        sigs = {
            "modctx_builder_new": (c_int, [P(builder_p)]),
            "modctx_builder_new_from_context": (c_int, [context_p, P(builder_p)]),
            "modctx_builder_free": (None, [builder_p]),
            "modctx_builder_set_dlpack": (c_int, [builder_p, c_int, P(DLManagedTensor)]),
            "modctx_builder_set_dlpack_versioned": (c_int, [builder_p, c_int, P(DLManagedTensorVersioned)]),
            "modctx_builder_clear": (c_int, [builder_p, c_int]),
            "modctx_builder_set_output_slice": (c_int, [builder_p, P(modctx_slice)]),
            "modctx_builder_build": (c_int, [builder_p, P(context_p)]),
            "modctx_context_free": (None, [context_p]),
            "modctx_context_retain": (c_int, [context_p, P(context_p)]),
            "modctx_context_has": (c_int, [context_p, c_int, P(c_int)]),
            "modctx_context_get_dlpack": (c_int, [context_p, c_int, P(P(DLManagedTensor))]),
            "modctx_context_get_output_slice": (c_int, [context_p, P(c_int), P(modctx_slice)]),
            "modctx_context_describe": (c_int, [context_p, c_char_p, c_size_t, P(c_size_t)]),
            "modctx_check_forward": (c_int, [context_p, c_int, c_int]),
            "modctx_slice_indices": (c_int, [P(modctx_slice), c_int64, P(c_int64), P(c_int64), P(c_int64),
                                             P(c_int64)]),
            "modctx_context_apply_output_slice": (c_int, [context_p, P(DLManagedTensor), P(P(DLManagedTensor))]),
            "modctx_check_model": (c_int, [context_p, P(modctx_model), P(c_int64), c_int32, c_int, c_uint32]),
            "modctx_arch_name": (c_char_p, [c_int]),
            "modctx_compose": (c_int, [c_int, P(DLManagedTensor), P(c_int64), c_int32, c_int32, P(DLManagedTensor),
                                       P(context_p)]),
            "modctx_context_residual_length": (c_int, [context_p, c_int64, P(c_int64)]),
            "modctx_context_compose_residual": (c_int, [context_p, P(DLManagedTensor), P(P(DLManagedTensor))]),
            "modctx_last_error": (c_char_p, []),
            "modctx_status_name": (c_char_p, [c_int]),
            "modctx_field_name": (c_char_p, [c_int]),
            "modctx_version": (c_char_p, []),
            "modctx_abi_version": (c_uint32, []),
        }
        for name, (restype, argtypes) in sigs.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        self.version = lib.modctx_version().decode()
        self.abi_version = lib.modctx_abi_version()

    # ---- errors

    def last_error(self):
        """This thread's last failure message."""
        return self._c.modctx_last_error().decode("utf-8", "replace")

    def _check(self, status):
        """Raises for a failed status, with the message of the call just made on this thread."""
        if status != Status.OK:
            raise error_class(status)(status, self.last_error())

    def status_name(self, status):
        return self._c.modctx_status_name(int(status)).decode()

    def field_name(self, field):
        name = self._c.modctx_field_name(int(field))
        return name.decode() if name is not None else None

    def arch_name(self, arch):
        name = self._c.modctx_arch_name(int(arch))
        return name.decode() if name is not None else None

    # ---- building

    def builder(self):
        return Builder(self)

    def context(self, output_slice=None, **fields):
        """The ModalityContext of the given fields (names as in the reference),
        checked as the reference's constructor does."""
        with Builder(self) as b:
            for name, tensor in fields.items():
                if tensor is not None:
                    b.set(name, tensor)
            b.set_output_slice(output_slice)
            return b.build()

    def compose(self, arch, image_embeds, input_ids, frame_mask=None):
        """The context of the reference's strategy for arch: input_ids is the
        token-id tensor (only its shape and device are used) or a (B, T) shape."""
        torch = _torch()
        if isinstance(input_ids, torch.Tensor):
            shape, device = tuple(input_ids.shape), _dl_device(input_ids.device)
        else:
            shape, device = tuple(input_ids), (kDLCPU, 0)
        if len(shape) != 2:  # the C ABI takes exactly two sizes; the core's message
            raise ForwardError(Status.SHAPE, "input_ids must have shape (B, T), got %s" % (shape,))
        out = c_void_p()
        image = _export(image_embeds)
        try:
            mask = _export(frame_mask) if frame_mask is not None else None
        except BaseException:
            _discard(image)
            raise
        self._check(self._c.modctx_compose(_arch(arch), image, (c_int64 * 2)(*shape), device[0], device[1], mask,
                                           byref(out)))
        return Context(self, out.value)

    # ---- checks

    def check_forward(self, context, tokens=None, kv_caches=None):
        """The top of Transformer.forward(tokens, modality, kv_caches); context may be None."""
        handle = context._live_handle() if context is not None else None
        self._check(self._c.modctx_check_forward(handle, int(_given(tokens)), int(_given(kv_caches))))

    def check(self, context, model, tokens=None, kv_caches=None, value_checks=0):
        """modctx_check_model: context (or None) with its forward arguments against a
        Model. tokens: the token ids (a tensor) or their shape, or None."""
        handle = context._live_handle() if context is not None else None
        if tokens is None:
            shape, ndim = None, 0
        else:
            dims = tuple(tokens.shape) if hasattr(tokens, "shape") else tuple(tokens)
            shape, ndim = (c_int64 * len(dims))(*dims), len(dims)
        m = model._struct()
        self._check(self._c.modctx_check_model(handle, byref(m), shape, ndim, int(_given(kv_caches)), value_checks))

    def slice_indices(self, s, length):
        """(start, stop, step, count): Python's s.indices(length) and len(range(...)), by modctx."""
        start, stop, step, count = c_int64(), c_int64(), c_int64(), c_int64()
        raw = _slice_struct(s)
        self._check(self._c.modctx_slice_indices(byref(raw), length, byref(start), byref(stop), byref(step),
                                                 byref(count)))
        return start.value, stop.value, step.value, count.value


def load(path=None):
    """Loads libmodctx: see Library."""
    return Library(path)


class Builder:
    """Collects fields and an output slice, then builds contexts. One thread at
    a time. Tensors handed in are held without copying."""

    def __init__(self, lib, _handle=None):
        self._lib = lib
        self._deleters = _DELETERS  # alive at least as long as anything that may call them
        if _handle is None:
            h = c_void_p()
            lib._check(lib._c.modctx_builder_new(byref(h)))
            _handle = h.value
        self._handle = _handle

    def set(self, field, tensor, versioned=False):
        """Sets a field (its name or a Field) to a torch tensor (or
        described_as(...)); with versioned=True as a DLManagedTensorVersioned."""
        f = _field(field)
        managed = _export(tensor, versioned)
        c = self._lib._c
        if versioned:
            self._lib._check(c.modctx_builder_set_dlpack_versioned(self._handle, f, managed))
        else:
            self._lib._check(c.modctx_builder_set_dlpack(self._handle, f, managed))
        return self

    def clear(self, field):
        self._lib._check(self._lib._c.modctx_builder_clear(self._handle, _field(field)))
        return self

    def set_output_slice(self, s):
        """A slice, or None to unset."""
        raw = byref(_slice_struct(s)) if s is not None else None
        self._lib._check(self._lib._c.modctx_builder_set_output_slice(self._handle, raw))
        return self

    def build(self):
        out = c_void_p()
        self._lib._check(self._lib._c.modctx_builder_build(self._handle, byref(out)))
        return Context(self._lib, out.value)

    def close(self):
        h, self._handle = self._handle, None
        if h:
            self._lib._c.modctx_builder_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Context:
    """An immutable, validated ModalityContext. Fields read as attributes
    (ctx.prefix_embeds: a torch tensor viewing the same memory, or None)."""

    def __init__(self, lib, handle):
        self._lib = lib
        self._deleters = _DELETERS
        self._handle = handle

    def _live_handle(self):
        if not self._handle:
            raise ArgumentError(Status.INVALID_ARGUMENT, "modctx.py: the context is closed")
        return self._handle

    def has(self, field):
        out = c_int()
        self._lib._check(self._lib._c.modctx_context_has(self._handle, _field(field), byref(out)))
        return bool(out.value)

    def get(self, field):
        """The field as a torch tensor sharing its memory; None when unset."""
        if not self.has(field):
            return None
        out = POINTER(DLManagedTensor)()
        self._lib._check(self._lib._c.modctx_context_get_dlpack(self._handle, _field(field), byref(out)))
        return _to_torch(out)

    def __getattr__(self, name):
        if name in Field.__members__:
            return self.get(name)
        raise AttributeError(name)

    @property
    def output_slice(self):
        has, raw = c_int(), modctx_slice()
        self._lib._check(self._lib._c.modctx_context_get_output_slice(self._handle, byref(has), byref(raw)))
        if not has.value:
            return None
        return slice(raw.start if raw.flags & HAS_START else None, raw.stop if raw.flags & HAS_STOP else None,
                     raw.step if raw.flags & HAS_STEP else None)

    def describe(self):
        n = c_size_t()
        c = self._lib._c
        self._lib._check(c.modctx_context_describe(self._handle, None, 0, byref(n)))
        buf = ctypes.create_string_buffer(n.value + 1)
        self._lib._check(c.modctx_context_describe(self._handle, buf, len(buf), byref(n)))
        return buf.value.decode()

    __str__ = describe

    def __repr__(self):
        return self.describe()

    def check_forward(self, tokens=None, kv_caches=None):
        self._lib.check_forward(self, tokens, kv_caches)

    def check(self, model, tokens=None, kv_caches=None, value_checks=0):
        self._lib.check(self, model, tokens, kv_caches, value_checks)

    def apply_output_slice(self, h):
        """h[:, output_slice, :] as PyTorch computes it, as a view of h."""
        out = POINTER(DLManagedTensor)()
        self._lib._check(self._lib._c.modctx_context_apply_output_slice(self._handle, _export(h), byref(out)))
        return _to_torch(out)

    def residual_length(self, text_length):
        out = c_int64()
        self._lib._check(self._lib._c.modctx_context_residual_length(self._handle, text_length, byref(out)))
        return out.value

    def compose_residual(self, text_embeds=None):
        out = POINTER(DLManagedTensor)()
        text = _export(text_embeds) if text_embeds is not None else None
        self._lib._check(self._lib._c.modctx_context_compose_residual(self._handle, text, byref(out)))
        return _to_torch(out)

    def replace(self, **changes):
        """dataclasses.replace: the same context with some fields (or
        output_slice) changed; the construction checks run again."""
        h = c_void_p()
        self._lib._check(self._lib._c.modctx_builder_new_from_context(self._handle, byref(h)))
        with Builder(self._lib, h.value) as b:
            for name, value in changes.items():
                if name == "output_slice":
                    b.set_output_slice(value)
                elif value is None:
                    b.clear(name)
                else:
                    b.set(name, value)
            return b.build()

    def retain(self):
        """Another handle to the same context (a reference; no copy)."""
        out = c_void_p()
        self._lib._check(self._lib._c.modctx_context_retain(self._handle, byref(out)))
        return Context(self._lib, out.value)

    def close(self):
        h, self._handle = self._handle, None
        if h:
            self._lib._c.modctx_context_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
