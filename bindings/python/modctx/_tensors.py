"""PyTorch tensors in and out of modctx as DLPack, without copies.

Tensors handed in are described by hand-made DLManagedTensor structs (data
pointer, shape, strides, dtype, device of the torch tensor), so bool masks
work even though PyTorch 1.13's to_dlpack refuses bool. The torch tensor is
kept alive until modctx calls the deleter, exactly once, as the C ABI
promises. Tensors handed out become torch tensors viewing the same memory.
torch is imported on first use: the rest of the package works without it.
"""

import ctypes
import itertools
import threading
from ctypes import POINTER, c_char_p, c_int64, c_void_p

from ._capi import (DELETER, DELETER_VERSIONED, DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned,
                    DLPackVersion, DLTensor, Status, kDLBfloat, kDLBool, kDLComplex, kDLCPU, kDLCUDA, kDLFloat, kDLInt,
                    kDLMetal, kDLOneAPI, kDLROCM, kDLUInt)
from ._errors import ArgumentError, UnsupportedError

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


def _describe(tensor, dl):
    """Fills the DLTensor `dl` with `tensor` (a torch.Tensor, or
    described_as(...)): data pointer, shape, strides, dtype, device. Returns
    what must stay alive while dl is read (the tensor, the shape and strides)."""
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
    dl.data = t.data_ptr() or None
    dl.device = DLDevice(device[0], device[1])
    dl.ndim = ndim
    dl.dtype = DLDataType(code, bits, 1)
    dl.shape = ctypes.cast(shape, POINTER(c_int64))
    dl.strides = ctypes.cast(strides, POINTER(c_int64))
    dl.byte_offset = 0
    return t, shape, strides


def _borrow(value):
    """A DLTensor for a request to borrow during one call, and what keeps it
    valid: a torch tensor (or described_as(...)) is described with its data;
    a shape (a sequence of ints) is int64 token ids on the CPU, described
    without data (their values cannot be checked)."""
    dl = DLTensor()
    if isinstance(value, (tuple, list)):
        shape = (c_int64 * len(value))(*value)
        dl.device = DLDevice(kDLCPU, 0)
        dl.ndim = len(value)
        dl.dtype = DLDataType(kDLInt, 64, 1)
        dl.shape = ctypes.cast(shape, POINTER(c_int64))
        return dl, shape
    return dl, _describe(value, dl)


def _export(tensor, versioned=False):
    """A new managed tensor describing `tensor` (a torch.Tensor, or
    described_as(...)), ready to hand to modctx, which will call its deleter
    exactly once. Returns a ctypes pointer."""
    managed = DLManagedTensorVersioned() if versioned else DLManagedTensor()
    t, shape, strides = _describe(tensor, managed.dl_tensor)
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
