"""The C ABI as ctypes sees it: DLPack's structs (the 1.0 ABI), the structs,
enums and constants of modctx.h, and the prototypes of its functions.
Declarations only: nothing here loads a library or imports torch."""

import enum
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint8,
                    c_uint16, c_uint32, c_uint64, c_void_p)

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
        # ABI version 2
        ("vocab_size", c_int64),
        ("max_seq_len", c_int64),
        ("cross_attention_blocks", c_int64),
        ("modalities", c_char * 128),
    ]


MODEL_SIZE_V1 = modctx_model.vocab_size.offset  # MODCTX_MODEL_SIZE_V1

MODALITY_ID_VALUES = 1  # MODCTX_CHECK_MODALITY_ID_VALUES
TOKEN_ID_VALUES = 2  # MODCTX_CHECK_TOKEN_ID_VALUES (ABI version 2)

KV_NONE, KV_GIVEN, KV_STATE = 0, 1, 2  # modctx_kv_caches


class modctx_request(Structure):
    """A forward request (ABI version 2); the tensors are borrowed for the call."""
    _fields_ = [
        ("struct_size", c_uint32),
        ("kv_caches", c_int),
        ("tokens", POINTER(DLTensor)),
        ("doc_ids", POINTER(DLTensor)),
        ("kv_seq_len", c_int64),
        ("kv_capacity", c_int64),
        ("kv_batch", c_int64),
    ]


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
    LENGTH = 20


class StatusClass(enum.IntEnum):
    """Whose fault a status is (modctx_status_class): the request's (a server
    answers 400) or the server's (500)."""
    OK = 0
    REQUEST = 1
    SERVER = 2


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


# ---------------------------------------------------------------- the functions the binding calls

_P = POINTER
_builder_p = _context_p = c_void_p

PROTOTYPES = {  # name: (restype, argtypes)
    "modctx_builder_new": (c_int, [_P(_builder_p)]),
    "modctx_builder_new_from_context": (c_int, [_context_p, _P(_builder_p)]),
    "modctx_builder_free": (None, [_builder_p]),
    "modctx_builder_set_dlpack": (c_int, [_builder_p, c_int, _P(DLManagedTensor)]),
    "modctx_builder_set_dlpack_versioned": (c_int, [_builder_p, c_int, _P(DLManagedTensorVersioned)]),
    "modctx_builder_clear": (c_int, [_builder_p, c_int]),
    "modctx_builder_set_output_slice": (c_int, [_builder_p, _P(modctx_slice)]),
    "modctx_builder_build": (c_int, [_builder_p, _P(_context_p)]),
    "modctx_context_free": (None, [_context_p]),
    "modctx_context_retain": (c_int, [_context_p, _P(_context_p)]),
    "modctx_context_has": (c_int, [_context_p, c_int, _P(c_int)]),
    "modctx_context_get_dlpack": (c_int, [_context_p, c_int, _P(_P(DLManagedTensor))]),
    "modctx_context_get_output_slice": (c_int, [_context_p, _P(c_int), _P(modctx_slice)]),
    "modctx_context_describe": (c_int, [_context_p, c_char_p, c_size_t, _P(c_size_t)]),
    "modctx_check_forward": (c_int, [_context_p, c_int, c_int]),
    "modctx_slice_indices": (c_int, [_P(modctx_slice), c_int64, _P(c_int64), _P(c_int64), _P(c_int64),
                                     _P(c_int64)]),
    "modctx_context_apply_output_slice": (c_int, [_context_p, _P(DLManagedTensor), _P(_P(DLManagedTensor))]),
    "modctx_check_model": (c_int, [_context_p, _P(modctx_model), _P(c_int64), c_int32, c_int, c_uint32]),
    "modctx_check_request": (c_int, [_context_p, _P(modctx_model), _P(modctx_request), c_uint32]),
    "modctx_model_from_config": (c_int, [c_char_p, _P(modctx_model)]),
    "modctx_model_from_config_string": (c_int, [c_char_p, c_size_t, _P(modctx_model)]),
    "modctx_status_class_of": (c_int, [c_int]),
    "modctx_arch_name": (c_char_p, [c_int]),
    "modctx_compose": (c_int, [c_int, _P(DLManagedTensor), _P(c_int64), c_int32, c_int32, _P(DLManagedTensor),
                               _P(_context_p)]),
    "modctx_context_residual_length": (c_int, [_context_p, c_int64, _P(c_int64)]),
    "modctx_context_compose_residual": (c_int, [_context_p, _P(DLManagedTensor), _P(_P(DLManagedTensor))]),
    "modctx_last_error": (c_char_p, []),
    "modctx_status_name": (c_char_p, [c_int]),
    "modctx_field_name": (c_char_p, [c_int]),
    "modctx_version": (c_char_p, []),
    "modctx_abi_version": (c_uint32, []),
}


# Added in ABI version 2: a library of version 1 lacks them (calling one then
# raises AttributeError), the rest of the package works.
ABI_2_FUNCTIONS = frozenset(["modctx_check_request", "modctx_model_from_config", "modctx_model_from_config_string",
                             "modctx_status_class_of"])


def declare(lib):
    """Sets the prototypes above on a loaded ctypes.CDLL (a missing symbol
    raises AttributeError, as the first call would, unless it is one that
    ABI version 2 added)."""
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            if name in ABI_2_FUNCTIONS:
                continue
            raise
        fn.restype = restype
        fn.argtypes = argtypes
    return lib
