"""The library (Library, load) and what it checks contexts against (Model)."""

import ctypes
import os
from ctypes import byref, c_int64, c_void_p
from dataclasses import dataclass
from typing import Optional, Tuple

from ._capi import (KV_GIVEN, KV_NONE, KV_STATE, Arch, Status, StatusClass, declare, kDLCPU, modctx_model,
                    modctx_request)
from ._context import Builder, Context
from ._errors import ArgumentError, ForwardError, error_class
from ._tensors import _borrow, _discard, _dl_device, _export, _torch
from ._values import _arch, _given, _modctx_dtype, _modctx_dtype_name, _slice_struct


@dataclass(frozen=True)
class Model:
    """What modctx needs to know of a model (modctx_model): typed in, or read
    from the model's own training config (Model.from_config). arch: "text",
    "joint_decoder", "cross_attention", "mot", "moma" (or an Arch)."""
    arch: object
    hidden_size: int
    num_modalities: int = 0  # 0: as many as `modalities`, else 2 (image, text)
    num_image_tokens: Optional[int] = None
    text_dtype: object = None  # a torch dtype, its name, or None
    vocab_size: Optional[int] = None  # token ids in [0, vocab_size)
    max_seq_len: Optional[int] = None  # positions one forward may use (the RoPE table)
    cross_attention_blocks: Optional[int] = None  # blocks that fire; 0: none; None: at least one
    modalities: Tuple[str, ...] = ()  # MoT / MoMa modality names in order; (): (image, text)

    @classmethod
    def from_config(cls, path, lib=None):
        """The model a KempnerForge training config (TOML file) describes,
        read by the library `lib` (default: load())."""
        return (lib or load()).model_from_config(path)

    @classmethod
    def from_config_string(cls, text, lib=None):
        """The same from TOML text."""
        return (lib or load()).model_from_config_string(text)

    def _struct(self):
        names = ",".join(self.modalities).encode()
        if any("," in n or "\0" in n for n in self.modalities) or len(names) >= 128:
            raise ArgumentError(Status.INVALID_ARGUMENT, "modctx.py: modality names %r do not fit modctx_model "
                                "(no commas, 127 bytes in all)" % (self.modalities,))
        blocks = self.cross_attention_blocks
        return modctx_model(ctypes.sizeof(modctx_model), _arch(self.arch), self.hidden_size, self.num_modalities,
                            -1 if self.num_image_tokens is None else self.num_image_tokens,
                            _modctx_dtype(self.text_dtype), self.vocab_size or 0, self.max_seq_len or 0,
                            0 if blocks is None else (blocks if blocks > 0 else -1), names)

    @classmethod
    def _of(cls, m):
        blocks = m.cross_attention_blocks
        names = m.modalities.decode()
        return cls(Arch(m.arch).name, m.hidden_size, m.num_modalities,
                   m.num_image_tokens if m.num_image_tokens >= 0 else None, _modctx_dtype_name(m.text_dtype),
                   m.vocab_size if m.vocab_size > 0 else None, m.max_seq_len if m.max_seq_len > 0 else None,
                   None if blocks == 0 else max(blocks, 0), tuple(names.split(",")) if names else ())


def _kv_caches(kv_caches):
    """(kind, seq_len, capacity, batch) of a kv_caches argument: None or
    False (none), True or any other given object (given, state unknown), or
    the state: a dict {"seq_len", "capacity", "batch"} as JSON writes it, or
    an object with those attributes."""
    if isinstance(kv_caches, dict):
        return KV_STATE, kv_caches["seq_len"], kv_caches["capacity"], kv_caches["batch"]
    if all(hasattr(kv_caches, a) for a in ("seq_len", "capacity", "batch")):
        return KV_STATE, kv_caches.seq_len, kv_caches.capacity, kv_caches.batch
    return (KV_GIVEN if _given(kv_caches) else KV_NONE), 0, 0, 0


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
            message = self.last_error()
            status_class = self.status_class(status) if hasattr(self._c, "modctx_status_class_of") else None
            raise error_class(status)(status, message, status_class)

    def status_name(self, status):
        return self._c.modctx_status_name(int(status)).decode()

    def status_class(self, status):
        """Whose fault a status is: StatusClass.REQUEST (a server answers 400)
        or StatusClass.SERVER (500; unknown values too), StatusClass.OK."""
        return StatusClass(self._c.modctx_status_class_of(int(status)))

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

    def check_request(self, context, model, tokens=None, doc_ids=None, kv_caches=None, value_checks=0):
        """modctx_check_request: context (or None) with a whole forward request
        against a Model. tokens, doc_ids: torch tensors (or described_as(...)),
        borrowed for the call: their descriptors, and their values for the
        value checks asked for (TOKEN_ID_VALUES, MODALITY_ID_VALUES), are read,
        nothing is kept; or a shape (token ids described without values).
        kv_caches: None (none), True or the caches themselves (given), or their
        state {"seq_len": S, "capacity": C, "batch": B}."""
        handle = context._live_handle() if context is not None else None
        request = modctx_request()
        request.struct_size = ctypes.sizeof(modctx_request)
        request.kv_caches, request.kv_seq_len, request.kv_capacity, request.kv_batch = _kv_caches(kv_caches)
        keep = []  # the borrowed descriptors and what they point at, alive through the call
        for name, value in (("tokens", tokens), ("doc_ids", doc_ids)):
            if value is not None:
                dl, alive = _borrow(value)
                keep.append((dl, alive))
                setattr(request, name, ctypes.pointer(dl))
        m = model._struct()
        self._check(self._c.modctx_check_request(handle, byref(m), byref(request), value_checks))
        del keep

    def model_from_config(self, path):
        """The Model a KempnerForge training config (a TOML file) describes:
        architecture and modalities, dim, vocab_size, max_seq_len, image
        tokens, Cross-Attention blocks, text dtype, with KempnerForge's
        defaults. FormatError (naming the key) for a config that cannot be
        used, or a file that cannot be read."""
        m = modctx_model()
        m.struct_size = ctypes.sizeof(modctx_model)
        self._check(self._c.modctx_model_from_config(os.fsencode(path), byref(m)))
        return Model._of(m)

    def model_from_config_string(self, text):
        """The same from TOML text (str or bytes), named <config> in messages."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        m = modctx_model()
        m.struct_size = ctypes.sizeof(modctx_model)
        self._check(self._c.modctx_model_from_config_string(data, len(data), byref(m)))
        return Model._of(m)

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
