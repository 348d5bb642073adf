"""The owner of one C handle: what Builder and Context share."""

from ._tensors import _DELETERS


class Handle:
    """Owns one modctx handle of a Library and frees it exactly once: with
    close(), at the end of a with block, or when garbage-collected, whichever
    comes first. A subclass names the C function that frees its kind."""

    _free_function = None  # the name of the modctx_*_free function
    _handle = None  # also when __init__ failed before setting it: close() is then a no-op

    def __init__(self, lib, handle):
        self._lib = lib
        # Freeing the handle may release tensors modctx holds, which calls these:
        # at interpreter exit, module globals may go before the last handle.
        self._deleters = _DELETERS
        self._handle = handle

    def close(self):
        h, self._handle = self._handle, None
        if h:
            getattr(self._lib._c, self._free_function)(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
