"""The library (Library, load) and what it checks contexts against (Model)."""

import ctypes
import os
from ctypes import byref, c_int64, c_void_p
from dataclasses import dataclass
from typing import Optional

from ._capi import Status, declare, kDLCPU, modctx_model
from ._context import Builder, Context
from ._errors import ForwardError, error_class
from ._tensors import _discard, _dl_device, _export, _torch
from ._values import _arch, _given, _modctx_dtype, _slice_struct


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
        lib = declare(ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL))
        self._c = lib
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
