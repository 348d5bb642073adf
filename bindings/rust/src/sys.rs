//! The raw C ABI of modctx (`include/modctx.h`, ABI version 2), declared by hand.
//!
//! Everything here is `unsafe` to call and follows the header's rules exactly:
//! statuses, `modctx_last_error()` per thread, DLPack tensors handed in are
//! always consumed (their deleter runs exactly once, also on failure), tensors
//! handed out are the caller's to delete once. Prefer the safe layer in the
//! crate root.
//!
//! C enums are declared as `c_int` type aliases with constants (not Rust
//! enums): a value the library adds later must not be undefined behaviour on
//! this side. The DLPack types are the published DLPack 1.0 ABI
//! (`dlpack/dlpack.h`), which `modctx.h` declares itself when no DLPack header
//! is included.
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int, c_void};

// ------------------------------------------------------------------ DLPack 1.0

/// `DLPackVersion`: the DLPack ABI version of a versioned tensor.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DLPackVersion {
    pub major: u32,
    pub minor: u32,
}

pub const DLPACK_MAJOR_VERSION: u32 = 1;
pub const DLPACK_MINOR_VERSION: u32 = 0;

/// `DLDeviceType` (a C enum, int-sized).
pub type DLDeviceType = c_int;
pub const kDLCPU: DLDeviceType = 1;
pub const kDLCUDA: DLDeviceType = 2;
pub const kDLCUDAHost: DLDeviceType = 3;
pub const kDLOpenCL: DLDeviceType = 4;
pub const kDLVulkan: DLDeviceType = 7;
pub const kDLMetal: DLDeviceType = 8;
pub const kDLVPI: DLDeviceType = 9;
pub const kDLROCM: DLDeviceType = 10;
pub const kDLROCMHost: DLDeviceType = 11;
pub const kDLExtDev: DLDeviceType = 12;
pub const kDLCUDAManaged: DLDeviceType = 13;
pub const kDLOneAPI: DLDeviceType = 14;
pub const kDLWebGPU: DLDeviceType = 15;
pub const kDLHexagon: DLDeviceType = 16;

/// `DLDevice`
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DLDevice {
    pub device_type: DLDeviceType,
    pub device_id: i32,
}

/// `DLDataTypeCode`: the values of `DLDataType::code` (a `uint8_t` there).
pub type DLDataTypeCode = u8;
pub const kDLInt: DLDataTypeCode = 0;
pub const kDLUInt: DLDataTypeCode = 1;
pub const kDLFloat: DLDataTypeCode = 2;
pub const kDLOpaqueHandle: DLDataTypeCode = 3;
pub const kDLBfloat: DLDataTypeCode = 4;
pub const kDLComplex: DLDataTypeCode = 5;
pub const kDLBool: DLDataTypeCode = 6;

/// `DLDataType`
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DLDataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

/// `DLTensor`: a borrowed view; `shape` and `strides` (in elements, NULL
/// for contiguous) have `ndim` entries.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: i32,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

/// `DLManagedTensor` (DLPack 0.x and 1.x): a tensor with an owner; whoever
/// holds it calls `deleter(self)` once (a NULL deleter means nothing to free).
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensor {
    pub dl_tensor: DLTensor,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(self_: *mut DLManagedTensor)>,
}

pub const DLPACK_FLAG_BITMASK_READ_ONLY: u64 = 1 << 0;
pub const DLPACK_FLAG_BITMASK_IS_COPIED: u64 = 1 << 1;

/// `DLManagedTensorVersioned` (DLPack 1.0).
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensorVersioned {
    pub version: DLPackVersion,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(self_: *mut DLManagedTensorVersioned)>,
    pub flags: u64,
    pub dl_tensor: DLTensor,
}

/// DLPack's bool type code (DLPack 0.8+), as `modctx.h` names it.
pub const MODCTX_DLPACK_BOOL: u8 = 6;

// ------------------------------------------------------------------ versions

pub const MODCTX_ABI_VERSION: u32 = 2;

// ------------------------------------------------------------------ status

/// `modctx_status` (int-sized C enum).
pub type modctx_status = c_int;
pub const MODCTX_OK: modctx_status = 0;
pub const MODCTX_ERR_INVALID_ARGUMENT: modctx_status = 1;
pub const MODCTX_ERR_ROUTES: modctx_status = 2;
pub const MODCTX_ERR_IMAGE_MASK: modctx_status = 3;
pub const MODCTX_ERR_MODALITY_IDS: modctx_status = 4;
pub const MODCTX_ERR_KEY_PADDING_MASK: modctx_status = 5;
pub const MODCTX_ERR_FORWARD_INPUTS: modctx_status = 6;
pub const MODCTX_ERR_KV_CACHE: modctx_status = 7;
pub const MODCTX_ERR_DTYPE: modctx_status = 8;
pub const MODCTX_ERR_SHAPE: modctx_status = 9;
pub const MODCTX_ERR_DEVICE: modctx_status = 10;
pub const MODCTX_ERR_MISSING_FIELD: modctx_status = 11;
pub const MODCTX_ERR_UNSUPPORTED: modctx_status = 12;
pub const MODCTX_ERR_OUT_OF_MEMORY: modctx_status = 13;
pub const MODCTX_ERR_INTERNAL: modctx_status = 14;
pub const MODCTX_ERR_SLICE: modctx_status = 15;
pub const MODCTX_ERR_UNUSED_FIELD: modctx_status = 16;
pub const MODCTX_ERR_VALUE: modctx_status = 17;
pub const MODCTX_ERR_FORMAT: modctx_status = 18;
pub const MODCTX_ERR_IO: modctx_status = 19;
/// ABI version 2.
pub const MODCTX_ERR_LENGTH: modctx_status = 20;

/// `modctx_status_class` (int-sized C enum, ABI version 2): whose fault a status is.
pub type modctx_status_class = c_int;
pub const MODCTX_CLASS_OK: modctx_status_class = 0;
pub const MODCTX_CLASS_REQUEST: modctx_status_class = 1;
pub const MODCTX_CLASS_SERVER: modctx_status_class = 2;

// ------------------------------------------------------------------ fields

/// `modctx_field` (int-sized C enum).
pub type modctx_field = c_int;
pub const MODCTX_FIELD_INPUTS_EMBEDS: modctx_field = 0;
pub const MODCTX_FIELD_PREFIX_EMBEDS: modctx_field = 1;
pub const MODCTX_FIELD_IMAGE_FEATURES: modctx_field = 2;
pub const MODCTX_FIELD_IMAGE_MASK: modctx_field = 3;
pub const MODCTX_FIELD_MODALITY_IDS: modctx_field = 4;
pub const MODCTX_FIELD_KEY_PADDING_MASK: modctx_field = 5;
pub const MODCTX_FIELD_COUNT: c_int = 6;

// ------------------------------------------------------------------ slices

/// `modctx_slice`: Python's `slice(start, stop, step)`; a part whose
/// `MODCTX_SLICE_HAS_*` flag is clear is `None`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct modctx_slice {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
    pub flags: u32,
}

pub const MODCTX_SLICE_HAS_START: u32 = 1;
pub const MODCTX_SLICE_HAS_STOP: u32 = 2;
pub const MODCTX_SLICE_HAS_STEP: u32 = 4;

// ------------------------------------------------------------------ handles

/// Opaque `modctx_builder`: mutable, one thread at a time.
#[repr(C)]
pub struct modctx_builder {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque `modctx_context`: immutable, shareable between threads.
#[repr(C)]
pub struct modctx_context {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// ------------------------------------------------------------------ plain-C tensors

/// `modctx_dtype` (int-sized C enum).
pub type modctx_dtype = c_int;
pub const MODCTX_DTYPE_FLOAT32: modctx_dtype = 0;
pub const MODCTX_DTYPE_FLOAT64: modctx_dtype = 1;
pub const MODCTX_DTYPE_FLOAT16: modctx_dtype = 2;
pub const MODCTX_DTYPE_BFLOAT16: modctx_dtype = 3;
pub const MODCTX_DTYPE_INT64: modctx_dtype = 4;
pub const MODCTX_DTYPE_INT32: modctx_dtype = 5;
pub const MODCTX_DTYPE_INT16: modctx_dtype = 6;
pub const MODCTX_DTYPE_INT8: modctx_dtype = 7;
pub const MODCTX_DTYPE_UINT8: modctx_dtype = 8;
pub const MODCTX_DTYPE_BOOL: modctx_dtype = 9;
pub const MODCTX_DTYPE_COMPLEX64: modctx_dtype = 10;
pub const MODCTX_DTYPE_COMPLEX128: modctx_dtype = 11;

/// `modctx_tensor_desc`: a tensor without DLPack; set `struct_size` to
/// `size_of::<modctx_tensor_desc>()`.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct modctx_tensor_desc {
    pub struct_size: u32,
    pub dtype: modctx_dtype,
    pub data: *mut c_void,
    pub ndim: i32,
    pub shape: *const i64,
    pub strides: *const i64,
    pub device_type: i32,
    pub device_id: i32,
    pub release: Option<unsafe extern "C" fn(release_ctx: *mut c_void)>,
    pub release_ctx: *mut c_void,
}

pub const MODCTX_MAX_NDIM: i32 = 32;

// ------------------------------------------------------------------ models

/// `modctx_arch` (int-sized C enum).
pub type modctx_arch = c_int;
pub const MODCTX_ARCH_TEXT: modctx_arch = 0;
pub const MODCTX_ARCH_JOINT_DECODER: modctx_arch = 1;
pub const MODCTX_ARCH_CROSS_ATTENTION: modctx_arch = 2;
pub const MODCTX_ARCH_MOT: modctx_arch = 3;
pub const MODCTX_ARCH_MOMA: modctx_arch = 4;

/// `modctx_model`: set `struct_size` to `size_of::<modctx_model>()` (a
/// versioned struct: the library accepts any size from
/// [`MODCTX_MODEL_SIZE_V1`] up and reads the fields the size covers).
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct modctx_model {
    pub struct_size: u32,
    pub arch: modctx_arch,
    pub hidden_size: i64,
    pub num_modalities: i64,
    pub num_image_tokens: i64,
    pub text_dtype: i32,
    // ABI version 2
    pub vocab_size: i64,
    pub max_seq_len: i64,
    pub cross_attention_blocks: i64,
    /// Comma-separated modality names, NUL-terminated.
    pub modalities: [c_char; 128],
}

/// `modctx_model` as ABI version 1 knew it: what [`MODCTX_MODEL_SIZE_V1`] measures.
#[repr(C)]
#[allow(dead_code)]
struct modctx_model_v1 {
    struct_size: u32,
    arch: modctx_arch,
    hidden_size: i64,
    num_modalities: i64,
    num_image_tokens: i64,
    text_dtype: i32,
}

/// `MODCTX_MODEL_SIZE_V1`: the size of `modctx_model` in ABI version 1.
pub const MODCTX_MODEL_SIZE_V1: usize = std::mem::size_of::<modctx_model_v1>();

pub const MODCTX_CHECK_MODALITY_ID_VALUES: u32 = 1;
/// ABI version 2.
pub const MODCTX_CHECK_TOKEN_ID_VALUES: u32 = 2;

// ------------------------------------------------------------------ requests (ABI version 2)

/// `modctx_kv_caches` (int-sized C enum).
pub type modctx_kv_caches = c_int;
pub const MODCTX_KV_NONE: modctx_kv_caches = 0;
pub const MODCTX_KV_GIVEN: modctx_kv_caches = 1;
pub const MODCTX_KV_STATE: modctx_kv_caches = 2;

/// `modctx_request`: set `struct_size` to `size_of::<modctx_request>()`. The
/// tensors are borrowed: read during the call only, never released.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct modctx_request {
    pub struct_size: u32,
    pub kv_caches: modctx_kv_caches,
    pub tokens: *const DLTensor,
    pub doc_ids: *const DLTensor,
    pub kv_seq_len: i64,
    pub kv_capacity: i64,
    pub kv_batch: i64,
}

// ------------------------------------------------------------------ files

/// `modctx_forward_args`: set `struct_size` to `size_of::<modctx_forward_args>()`
/// (a versioned struct, as `modctx_model`).
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct modctx_forward_args {
    pub struct_size: u32,
    pub present: c_int,
    pub has_tokens: c_int,
    pub tokens_ndim: i32,
    pub tokens_shape: [i64; MODCTX_MAX_NDIM as usize],
    pub has_kv_caches: c_int,
    // ABI version 2
    pub kv_seq_len: i64,
    pub kv_capacity: i64,
    pub kv_batch: i64,
    pub kv_state_present: c_int,
}

#[repr(C)]
#[allow(dead_code)]
struct modctx_forward_args_v1 {
    struct_size: u32,
    present: c_int,
    has_tokens: c_int,
    tokens_ndim: i32,
    tokens_shape: [i64; MODCTX_MAX_NDIM as usize],
    has_kv_caches: c_int,
}

/// `MODCTX_FORWARD_ARGS_SIZE_V1`: the size of `modctx_forward_args` in ABI version 1.
pub const MODCTX_FORWARD_ARGS_SIZE_V1: usize = std::mem::size_of::<modctx_forward_args_v1>();

// ------------------------------------------------------------------ dlopen table

/// `modctx_api`: every function, for `dlopen` users (ABI version 2 layout;
/// append-only, so a newer library's table starts with this one, and a
/// version-1 library's table is its prefix up to
/// `context_load_safetensors_from_memory`: check `struct_size`).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct modctx_api {
    pub served_abi_version: u32,
    pub struct_size: u32,
    // ABI version 1
    pub builder_new: Option<unsafe extern "C" fn(out: *mut *mut modctx_builder) -> modctx_status>,
    pub builder_free: Option<unsafe extern "C" fn(builder: *mut modctx_builder)>,
    pub builder_set_dlpack:
        Option<unsafe extern "C" fn(*mut modctx_builder, modctx_field, *mut DLManagedTensor) -> modctx_status>,
    pub builder_set_dlpack_versioned: Option<
        unsafe extern "C" fn(*mut modctx_builder, modctx_field, *mut DLManagedTensorVersioned) -> modctx_status,
    >,
    pub builder_clear: Option<unsafe extern "C" fn(*mut modctx_builder, modctx_field) -> modctx_status>,
    pub builder_set_output_slice:
        Option<unsafe extern "C" fn(*mut modctx_builder, *const modctx_slice) -> modctx_status>,
    pub builder_build:
        Option<unsafe extern "C" fn(*const modctx_builder, *mut *mut modctx_context) -> modctx_status>,
    pub context_free: Option<unsafe extern "C" fn(*mut modctx_context)>,
    pub context_has: Option<unsafe extern "C" fn(*const modctx_context, modctx_field, *mut c_int) -> modctx_status>,
    pub context_get_dlpack: Option<
        unsafe extern "C" fn(*const modctx_context, modctx_field, *mut *mut DLManagedTensor) -> modctx_status,
    >,
    pub context_get_dlpack_versioned: Option<
        unsafe extern "C" fn(*const modctx_context, modctx_field, *mut *mut DLManagedTensorVersioned) -> modctx_status,
    >,
    pub context_get_output_slice:
        Option<unsafe extern "C" fn(*const modctx_context, *mut c_int, *mut modctx_slice) -> modctx_status>,
    pub context_describe:
        Option<unsafe extern "C" fn(*const modctx_context, *mut c_char, usize, *mut usize) -> modctx_status>,
    pub check_forward: Option<unsafe extern "C" fn(*const modctx_context, c_int, c_int) -> modctx_status>,
    pub slice_indices: Option<
        unsafe extern "C" fn(*const modctx_slice, i64, *mut i64, *mut i64, *mut i64, *mut i64) -> modctx_status,
    >,
    pub last_error: Option<unsafe extern "C" fn() -> *const c_char>,
    pub status_name: Option<unsafe extern "C" fn(modctx_status) -> *const c_char>,
    pub version: Option<unsafe extern "C" fn() -> *const c_char>,
    pub abi_version: Option<unsafe extern "C" fn() -> u32>,
    pub builder_new_from_context:
        Option<unsafe extern "C" fn(*const modctx_context, *mut *mut modctx_builder) -> modctx_status>,
    pub builder_set_tensor:
        Option<unsafe extern "C" fn(*mut modctx_builder, modctx_field, *const modctx_tensor_desc) -> modctx_status>,
    pub context_retain: Option<unsafe extern "C" fn(*mut modctx_context, *mut *mut modctx_context) -> modctx_status>,
    pub context_apply_output_slice: Option<
        unsafe extern "C" fn(*const modctx_context, *mut DLManagedTensor, *mut *mut DLManagedTensor) -> modctx_status,
    >,
    pub field_name: Option<unsafe extern "C" fn(modctx_field) -> *const c_char>,
    pub check_model: Option<
        unsafe extern "C" fn(*const modctx_context, *const modctx_model, *const i64, i32, c_int, u32) -> modctx_status,
    >,
    pub arch_name: Option<unsafe extern "C" fn(modctx_arch) -> *const c_char>,
    pub compose: Option<
        unsafe extern "C" fn(
            modctx_arch,
            *mut DLManagedTensor,
            *const i64,
            i32,
            i32,
            *mut DLManagedTensor,
            *mut *mut modctx_context,
        ) -> modctx_status,
    >,
    pub context_residual_length:
        Option<unsafe extern "C" fn(*const modctx_context, i64, *mut i64) -> modctx_status>,
    pub context_compose_residual: Option<
        unsafe extern "C" fn(*const modctx_context, *mut DLManagedTensor, *mut *mut DLManagedTensor) -> modctx_status,
    >,
    pub context_save_safetensors: Option<
        unsafe extern "C" fn(*const modctx_context, *const c_char, *const modctx_forward_args) -> modctx_status,
    >,
    pub context_load_safetensors: Option<
        unsafe extern "C" fn(*const c_char, *mut *mut modctx_context, *mut modctx_forward_args) -> modctx_status,
    >,
    pub context_load_safetensors_from_memory: Option<
        unsafe extern "C" fn(
            *const c_void,
            usize,
            *mut *mut modctx_context,
            *mut modctx_forward_args,
        ) -> modctx_status,
    >,
    // ABI version 2
    pub status_class_of: Option<unsafe extern "C" fn(modctx_status) -> modctx_status_class>,
    pub check_request: Option<
        unsafe extern "C" fn(*const modctx_context, *const modctx_model, *const modctx_request, u32) -> modctx_status,
    >,
    pub model_from_config: Option<unsafe extern "C" fn(*const c_char, *mut modctx_model) -> modctx_status>,
    pub model_from_config_string:
        Option<unsafe extern "C" fn(*const c_char, usize, *mut modctx_model) -> modctx_status>,
}

/// The type of `modctx_get_api`, for `dlsym`.
pub type modctx_get_api_fn = Option<unsafe extern "C" fn(abi_version: u32) -> *const modctx_api>;

// ------------------------------------------------------------------ functions

extern "C" {
    // builders
    pub fn modctx_builder_new(out: *mut *mut modctx_builder) -> modctx_status;
    pub fn modctx_builder_new_from_context(
        context: *const modctx_context,
        out: *mut *mut modctx_builder,
    ) -> modctx_status;
    pub fn modctx_builder_free(builder: *mut modctx_builder);
    pub fn modctx_builder_set_dlpack(
        builder: *mut modctx_builder,
        field: modctx_field,
        tensor: *mut DLManagedTensor,
    ) -> modctx_status;
    pub fn modctx_builder_set_dlpack_versioned(
        builder: *mut modctx_builder,
        field: modctx_field,
        tensor: *mut DLManagedTensorVersioned,
    ) -> modctx_status;
    pub fn modctx_builder_set_tensor(
        builder: *mut modctx_builder,
        field: modctx_field,
        tensor: *const modctx_tensor_desc,
    ) -> modctx_status;
    pub fn modctx_builder_clear(builder: *mut modctx_builder, field: modctx_field) -> modctx_status;
    pub fn modctx_builder_set_output_slice(builder: *mut modctx_builder, slice: *const modctx_slice)
        -> modctx_status;
    pub fn modctx_builder_build(builder: *const modctx_builder, out: *mut *mut modctx_context) -> modctx_status;

    // contexts
    pub fn modctx_context_free(context: *mut modctx_context);
    pub fn modctx_context_retain(context: *mut modctx_context, out: *mut *mut modctx_context) -> modctx_status;
    pub fn modctx_context_has(context: *const modctx_context, field: modctx_field, out: *mut c_int)
        -> modctx_status;
    pub fn modctx_context_get_dlpack(
        context: *const modctx_context,
        field: modctx_field,
        out: *mut *mut DLManagedTensor,
    ) -> modctx_status;
    pub fn modctx_context_get_dlpack_versioned(
        context: *const modctx_context,
        field: modctx_field,
        out: *mut *mut DLManagedTensorVersioned,
    ) -> modctx_status;
    pub fn modctx_context_get_output_slice(
        context: *const modctx_context,
        has: *mut c_int,
        out: *mut modctx_slice,
    ) -> modctx_status;
    pub fn modctx_context_describe(
        context: *const modctx_context,
        buf: *mut c_char,
        cap: usize,
        len: *mut usize,
    ) -> modctx_status;

    // forward checks
    pub fn modctx_check_forward(context: *const modctx_context, has_tokens: c_int, has_kv_caches: c_int)
        -> modctx_status;

    // slices
    pub fn modctx_slice_indices(
        slice: *const modctx_slice,
        length: i64,
        start: *mut i64,
        stop: *mut i64,
        step: *mut i64,
        count: *mut i64,
    ) -> modctx_status;
    pub fn modctx_context_apply_output_slice(
        context: *const modctx_context,
        hidden: *mut DLManagedTensor,
        out: *mut *mut DLManagedTensor,
    ) -> modctx_status;

    // models
    pub fn modctx_check_model(
        context: *const modctx_context,
        model: *const modctx_model,
        tokens_shape: *const i64,
        tokens_ndim: i32,
        has_kv_caches: c_int,
        value_checks: u32,
    ) -> modctx_status;
    pub fn modctx_arch_name(arch: modctx_arch) -> *const c_char;

    // requests and model configs (ABI version 2)
    pub fn modctx_check_request(
        context: *const modctx_context,
        model: *const modctx_model,
        request: *const modctx_request,
        value_checks: u32,
    ) -> modctx_status;
    pub fn modctx_model_from_config(path: *const c_char, out: *mut modctx_model) -> modctx_status;
    pub fn modctx_model_from_config_string(text: *const c_char, len: usize, out: *mut modctx_model)
        -> modctx_status;

    // strategies
    pub fn modctx_compose(
        arch: modctx_arch,
        image_embeds: *mut DLManagedTensor,
        input_ids_shape: *const i64,
        input_ids_device_type: i32,
        input_ids_device_id: i32,
        frame_mask: *mut DLManagedTensor,
        out: *mut *mut modctx_context,
    ) -> modctx_status;

    // residual
    pub fn modctx_context_residual_length(context: *const modctx_context, text_length: i64, out: *mut i64)
        -> modctx_status;
    pub fn modctx_context_compose_residual(
        context: *const modctx_context,
        text_embeds: *mut DLManagedTensor,
        out: *mut *mut DLManagedTensor,
    ) -> modctx_status;

    // files
    pub fn modctx_context_save_safetensors(
        context: *const modctx_context,
        path: *const c_char,
        forward: *const modctx_forward_args,
    ) -> modctx_status;
    pub fn modctx_context_load_safetensors(
        path: *const c_char,
        out: *mut *mut modctx_context,
        forward: *mut modctx_forward_args,
    ) -> modctx_status;
    pub fn modctx_context_load_safetensors_from_memory(
        data: *const c_void,
        size: usize,
        out: *mut *mut modctx_context,
        forward: *mut modctx_forward_args,
    ) -> modctx_status;

    // errors and versions
    pub fn modctx_last_error() -> *const c_char;
    pub fn modctx_status_name(status: modctx_status) -> *const c_char;
    pub fn modctx_status_class_of(status: modctx_status) -> modctx_status_class;
    pub fn modctx_field_name(field: modctx_field) -> *const c_char;
    pub fn modctx_version() -> *const c_char;
    pub fn modctx_abi_version() -> u32;

    // dlopen table
    pub fn modctx_get_api(abi_version: u32) -> *const modctx_api;
}
