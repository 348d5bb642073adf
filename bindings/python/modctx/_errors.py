"""The exceptions: a failed call raises error_class(status)(status, message)."""

from ._capi import Status, StatusClass


class ModctxError(ValueError):
    """A failed modctx call: .status (a Status, or an int the binding does not
    know), .message, the library's exact message (also str(error)), and
    .status_class, whose fault it is as the library says (StatusClass.REQUEST:
    a server answers 400, StatusClass.SERVER: 500; None for errors this
    binding raises before any call: Library.status_class(e.status) answers)."""

    def __init__(self, status, message, status_class=None):
        super().__init__(message)
        try:
            self.status = Status(status)
        except ValueError:
            self.status = int(status)
        self.message = message
        self.status_class = StatusClass(status_class) if status_class is not None else None

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
    DEVICE, MISSING_FIELD, UNUSED_FIELD, VALUE, LENGTH)."""


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
                                          Status.DEVICE, Status.MISSING_FIELD, Status.UNUSED_FIELD, Status.VALUE,
                                          Status.LENGTH)})


def error_class(status):
    """The exception class of a status."""
    return _FAMILY.get(status, InternalError)
