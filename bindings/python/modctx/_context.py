"""Builder and Context: the two handles a Library hands out."""

import ctypes
from ctypes import POINTER, byref, c_int, c_int64, c_size_t, c_void_p

from ._capi import HAS_START, HAS_STEP, HAS_STOP, DLManagedTensor, Field, Status, modctx_slice
from ._errors import ArgumentError
from ._handle import Handle
from ._tensors import _export, _to_torch
from ._values import _field, _slice_struct


class Builder(Handle):
    """Collects fields and an output slice, then builds contexts. One thread at
    a time. Tensors handed in are held without copying."""

    _free_function = "modctx_builder_free"

    def __init__(self, lib, _handle=None):
        if _handle is None:
            h = c_void_p()
            lib._check(lib._c.modctx_builder_new(byref(h)))
            _handle = h.value
        super().__init__(lib, _handle)

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


class Context(Handle):
    """An immutable, validated ModalityContext. Fields read as attributes
    (ctx.prefix_embeds: a torch tensor viewing the same memory, or None)."""

    _free_function = "modctx_context_free"

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

    def check_request(self, model, tokens=None, doc_ids=None, kv_caches=None, value_checks=0):
        """This context with a whole forward request against a model (Library.check_request)."""
        self._lib.check_request(self, model, tokens, doc_ids, kv_caches, value_checks)

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
