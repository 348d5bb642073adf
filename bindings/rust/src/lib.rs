//! Rust bindings to modctx: build and check the multimodal inputs of a
//! transformer forward pass (KempnerForge's `ModalityContext`) exactly as the
//! reference does: same accept/reject, same first error, byte-identical
//! messages.
//!
//! - [`sys`]: the raw C ABI (`modctx.h`), DLPack types included.
//! - [`Builder`] collects fields ([`DlpackTensor`]s, moved in) and an output
//!   [`Slice`]; [`Builder::build`] runs the reference's construction checks.
//! - [`Context`] is immutable, `Send + Sync`, cheap to [`Clone`] (a reference
//!   count), freed on `Drop`.
//! - Failures are [`Error`]s: a [`Status`] and the library's exact message;
//!   [`Status::class`] says whose fault it is ([`StatusClass`]: the request's,
//!   a server answers 400, or the server's, 500).
//! - [`Model`] describes the model, typed in or read from its own training
//!   config ([`Model::from_config`]); [`Request`] is a forward call's token
//!   ids, doc_ids and KV caches ([`Borrowed`] tensors: read during the check
//!   only); [`Context::check_request`] checks them all.
//!
//! ```
//! use modctx::{Arch, Builder, DlpackTensor, Field, Model};
//!
//! # fn main() -> Result<(), modctx::Error> {
//! let (b, n, t, d) = (2, 4, 3, 8);
//! let image = DlpackTensor::from_vec(vec![0.0f32; b * n * d], &[b as i64, n as i64, d as i64])?;
//! let ctx = Builder::new()?
//!     .set(Field::PrefixEmbeds, image)?
//!     .set_output_slice(n as i64..)?
//!     .build()?;
//! ctx.check(&Model::new(Arch::JointDecoder, d as i64), Some(&[b as i64, t as i64]), false, Default::default())?;
//! println!("{}", ctx); // ModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cpu, output_slice=slice(4, None, None))
//!
//! let err = Builder::new()?.set(Field::ImageMask, DlpackTensor::from_vec(vec![true; 8], &[2, 4])?)?.build().unwrap_err();
//! assert_eq!(err.message(), "ModalityContext: image_mask requires image_features to be set");
//! # Ok(()) }
//! ```
//!
//! Threads follow the C ABI: a [`Builder`] is `Send` but not `Sync` (one
//! thread at a time); a [`Context`] is `Send + Sync`. Error messages are read
//! from `modctx_last_error()` right after the failing call, on the same thread.
//!
//! These do not compile (checked by `cargo test`): sharing a builder between
//! threads,
//!
//! ```compile_fail
//! fn shared<T: Sync>(_: &T) {}
//! shared(&modctx::Builder::new().unwrap());
//! ```
//!
//! copying an owned tensor (two deleter calls),
//!
//! ```compile_fail
//! let t = modctx::DlpackTensor::from_vec(vec![0f32; 4], &[4]).unwrap();
//! let u = t.clone();
//! ```
//!
//! and using a tensor after handing it to modctx (which consumed it).
//!
//! ```compile_fail
//! let t = modctx::DlpackTensor::from_vec(vec![0f32; 4], &[1, 1, 4]).unwrap();
//! let mut b = modctx::Builder::new().unwrap();
//! b.set(modctx::Field::InputsEmbeds, t).unwrap();
//! println!("{:?}", t.shape());
//! ```

use std::ffi::CStr;
use std::fmt;
use std::ops::{Range, RangeFrom, RangeFull, RangeTo};
use std::os::raw::{c_char, c_int};
use std::ptr::{self, NonNull};

pub mod sys;
mod tensor;

pub use tensor::{Bf16, DataType, Device, Dlpack, DlpackTensor, DlpackTensorVersioned, Element, ManagedTensor, F16};

// ------------------------------------------------------------------ statuses and errors

/// A failure status (`modctx_status` other than `MODCTX_OK`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// NULL where a value is needed, unknown enum value, malformed tensor descriptor.
    InvalidArgument,
    /// Construction: more than one of inputs_embeds, prefix_embeds, image_features.
    Routes,
    /// Construction: image_mask without image_features.
    ImageMask,
    /// Construction: modality_ids without prefix_embeds or inputs_embeds.
    ModalityIds,
    /// Construction: key_padding_mask without prefix_embeds or inputs_embeds.
    KeyPaddingMask,
    /// Forward: not exactly one of tokens and inputs_embeds.
    ForwardInputs,
    /// Forward: a training-only field together with KV caches.
    KvCache,
    Dtype,
    Shape,
    Device,
    MissingField,
    /// Valid but not servable here (DLPack version, dtype width, device).
    Unsupported,
    OutOfMemory,
    Internal,
    Slice,
    UnusedField,
    Value,
    Format,
    /// A file that cannot be opened, read or written.
    Io,
    /// More positions than the model's `max_seq_len` (its RoPE table) holds.
    Length,
    /// A status this binding does not know (a newer library).
    Unknown(i32),
}

/// Whose fault a failure is (`modctx_status_class`), for a server's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// The request is wrong (its tensors, shapes, dtypes, devices, values,
    /// lengths, or a document it was sent as): a server answers 400.
    Request,
    /// The server's: an argument it passed, a check this build cannot serve,
    /// memory, a file it could not read, a bug (and unknown statuses): 500.
    Server,
}

/// Groups of statuses (the exception families of the C++ and Python APIs).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `InvalidArgument`
    Argument,
    /// The four construction checks (`Routes` ... `KeyPaddingMask`).
    Construction,
    /// Forward-time and model checks (`ForwardInputs`, `KvCache`, `Dtype`,
    /// `Shape`, `Device`, `MissingField`, `UnusedField`, `Value`, `Length`).
    Check,
    /// `Slice`
    Slice,
    /// `Unsupported`
    Unsupported,
    /// `OutOfMemory`, `Internal`, unknown statuses.
    Internal,
    /// `Format`, `Io` (files)
    Format,
}

impl Status {
    /// The status of a raw code; `None` for `MODCTX_OK`.
    pub fn from_raw(code: sys::modctx_status) -> Option<Status> {
        use Status::*;
        Some(match code {
            sys::MODCTX_OK => return None,
            sys::MODCTX_ERR_INVALID_ARGUMENT => InvalidArgument,
            sys::MODCTX_ERR_ROUTES => Routes,
            sys::MODCTX_ERR_IMAGE_MASK => ImageMask,
            sys::MODCTX_ERR_MODALITY_IDS => ModalityIds,
            sys::MODCTX_ERR_KEY_PADDING_MASK => KeyPaddingMask,
            sys::MODCTX_ERR_FORWARD_INPUTS => ForwardInputs,
            sys::MODCTX_ERR_KV_CACHE => KvCache,
            sys::MODCTX_ERR_DTYPE => Dtype,
            sys::MODCTX_ERR_SHAPE => Shape,
            sys::MODCTX_ERR_DEVICE => Device,
            sys::MODCTX_ERR_MISSING_FIELD => MissingField,
            sys::MODCTX_ERR_UNSUPPORTED => Unsupported,
            sys::MODCTX_ERR_OUT_OF_MEMORY => OutOfMemory,
            sys::MODCTX_ERR_INTERNAL => Internal,
            sys::MODCTX_ERR_SLICE => Slice,
            sys::MODCTX_ERR_UNUSED_FIELD => UnusedField,
            sys::MODCTX_ERR_VALUE => Value,
            sys::MODCTX_ERR_FORMAT => Format,
            sys::MODCTX_ERR_IO => Io,
            sys::MODCTX_ERR_LENGTH => Length,
            other => Unknown(other),
        })
    }

    /// The raw `modctx_status` value.
    pub fn code(self) -> sys::modctx_status {
        use Status::*;
        match self {
            InvalidArgument => sys::MODCTX_ERR_INVALID_ARGUMENT,
            Routes => sys::MODCTX_ERR_ROUTES,
            ImageMask => sys::MODCTX_ERR_IMAGE_MASK,
            ModalityIds => sys::MODCTX_ERR_MODALITY_IDS,
            KeyPaddingMask => sys::MODCTX_ERR_KEY_PADDING_MASK,
            ForwardInputs => sys::MODCTX_ERR_FORWARD_INPUTS,
            KvCache => sys::MODCTX_ERR_KV_CACHE,
            Dtype => sys::MODCTX_ERR_DTYPE,
            Shape => sys::MODCTX_ERR_SHAPE,
            Device => sys::MODCTX_ERR_DEVICE,
            MissingField => sys::MODCTX_ERR_MISSING_FIELD,
            Unsupported => sys::MODCTX_ERR_UNSUPPORTED,
            OutOfMemory => sys::MODCTX_ERR_OUT_OF_MEMORY,
            Internal => sys::MODCTX_ERR_INTERNAL,
            Slice => sys::MODCTX_ERR_SLICE,
            UnusedField => sys::MODCTX_ERR_UNUSED_FIELD,
            Value => sys::MODCTX_ERR_VALUE,
            Format => sys::MODCTX_ERR_FORMAT,
            Io => sys::MODCTX_ERR_IO,
            Length => sys::MODCTX_ERR_LENGTH,
            Unknown(code) => code,
        }
    }

    /// The C identifier, e.g. `"MODCTX_ERR_ROUTES"` (from the library;
    /// `"MODCTX_ERR_UNKNOWN"` for values it does not know).
    pub fn name(self) -> &'static str {
        // SAFETY: never NULL; a static string of the linked library.
        unsafe { static_str(sys::modctx_status_name(self.code())) }.unwrap_or("MODCTX_ERR_UNKNOWN")
    }

    pub fn family(self) -> Family {
        use Status::*;
        match self {
            InvalidArgument => Family::Argument,
            Routes | ImageMask | ModalityIds | KeyPaddingMask => Family::Construction,
            ForwardInputs | KvCache | Dtype | Shape | Device | MissingField | UnusedField | Value | Length => {
                Family::Check
            }
            Slice => Family::Slice,
            Unsupported => Family::Unsupported,
            OutOfMemory | Internal | Unknown(_) => Family::Internal,
            Format | Io => Family::Format,
        }
    }

    /// Whose fault it is, as the library says (`modctx_status_class_of`).
    pub fn class(self) -> StatusClass {
        // SAFETY: any int is a valid argument.
        match unsafe { sys::modctx_status_class_of(self.code()) } {
            sys::MODCTX_CLASS_REQUEST => StatusClass::Request,
            _ => StatusClass::Server,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure: its status and the library's exact message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// An error made on this side (e.g. a tensor layout rejected before any call).
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    /// The error for a failed call's status, with `modctx_last_error()`:
    /// call it right after the call, on the same thread.
    fn from_last_call(code: sys::modctx_status) -> Error {
        Error {
            status: Status::from_raw(code).unwrap_or(Status::Unknown(code)),
            message: last_error(),
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The exact message (e.g. the reference's `ValueError` text).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whose fault it is (see [`Status::class`]).
    pub fn class(&self) -> StatusClass {
        self.status.class()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// `Ok(())` for `MODCTX_OK`, else the error with this thread's last message.
fn check_status(code: sys::modctx_status) -> Result<()> {
    if code == sys::MODCTX_OK {
        Ok(())
    } else {
        Err(Error::from_last_call(code))
    }
}

/// This thread's last failure message (`modctx_last_error()`); `""` when none.
pub fn last_error() -> String {
    // SAFETY: never NULL; valid until this thread's next failing call.
    unsafe { CStr::from_ptr(sys::modctx_last_error()) }.to_string_lossy().into_owned()
}

/// # Safety
/// `p` is NULL or a NUL-terminated string that lives as long as the library.
unsafe fn static_str(p: *const c_char) -> Option<&'static str> {
    if p.is_null() {
        None
    } else {
        CStr::from_ptr(p).to_str().ok()
    }
}

/// The library's version, `"MAJOR.MINOR.PATCH"`.
pub fn version() -> &'static str {
    // SAFETY: a static string of the library.
    unsafe { static_str(sys::modctx_version()) }.unwrap_or("")
}

/// The C ABI version of the library loaded (`MODCTX_ABI_VERSION` it was built with).
pub fn abi_version() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::modctx_abi_version() }
}

pub(crate) fn device_name(d: Device) -> String {
    let kind = match d.device_type {
        sys::kDLCPU => return "cpu".to_string(),
        sys::kDLCUDA => "cuda",
        sys::kDLROCM => "hip",
        _ => "device",
    };
    format!("{}:{}", kind, d.device_id)
}

// ------------------------------------------------------------------ fields, architectures, dtypes

/// A tensor field of the context, in the reference's order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// (B, S, D) floating: pre-embedded hidden state.
    InputsEmbeds,
    /// (B, N, D) floating: image tokens prepended to the text.
    PrefixEmbeds,
    /// (B, N, D) floating: cross-attention K/V.
    ImageFeatures,
    /// (B, N) bool: validity of image_features tokens.
    ImageMask,
    /// (B, N + T) int64: modality tag per residual position.
    ModalityIds,
    /// (B, N + T) bool: key validity over the residual.
    KeyPaddingMask,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::InputsEmbeds,
        Field::PrefixEmbeds,
        Field::ImageFeatures,
        Field::ImageMask,
        Field::ModalityIds,
        Field::KeyPaddingMask,
    ];

    pub fn raw(self) -> sys::modctx_field {
        self as sys::modctx_field
    }

    /// The reference's name, e.g. `"prefix_embeds"` (from the library).
    pub fn name(self) -> &'static str {
        // SAFETY: a valid field: a static string of the library.
        unsafe { static_str(sys::modctx_field_name(self.raw())) }.unwrap_or("?")
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The reference's architectures.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    Text,
    JointDecoder,
    CrossAttention,
    Mot,
    Moma,
}

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::Text, Arch::JointDecoder, Arch::CrossAttention, Arch::Mot, Arch::Moma];

    pub fn raw(self) -> sys::modctx_arch {
        self as sys::modctx_arch
    }

    /// The architecture of a raw `modctx_arch`; `None` for unknown values.
    pub fn from_raw(raw: sys::modctx_arch) -> Option<Arch> {
        Arch::ALL.iter().copied().find(|a| a.raw() == raw)
    }

    /// The reference's name, e.g. `"cross_attention"`.
    pub fn name(self) -> &'static str {
        // SAFETY: a valid arch: a static string of the library.
        unsafe { static_str(sys::modctx_arch_name(self.raw())) }.unwrap_or("?")
    }
}

/// Element types of the plain-C descriptor and of [`Model::text_dtype`]
/// (`modctx_dtype`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    Float32,
    Float64,
    Float16,
    Bfloat16,
    Int64,
    Int32,
    Int16,
    Int8,
    Uint8,
    Bool,
    Complex64,
    Complex128,
}

impl Dtype {
    pub const ALL: [Dtype; 12] = [
        Dtype::Float32,
        Dtype::Float64,
        Dtype::Float16,
        Dtype::Bfloat16,
        Dtype::Int64,
        Dtype::Int32,
        Dtype::Int16,
        Dtype::Int8,
        Dtype::Uint8,
        Dtype::Bool,
        Dtype::Complex64,
        Dtype::Complex128,
    ];

    pub fn raw(self) -> sys::modctx_dtype {
        self as sys::modctx_dtype
    }

    /// The dtype of a raw `modctx_dtype`; `None` for unknown values.
    pub fn from_raw(raw: sys::modctx_dtype) -> Option<Dtype> {
        Dtype::ALL.iter().copied().find(|d| d.raw() == raw)
    }
}

// ------------------------------------------------------------------ slices

/// Python's `slice(start, stop, step)`; `None` parts are Python's `None`.
/// Rust ranges convert: `576..` is `slice(576, None, None)`, `..-1` is
/// `slice(None, -1, None)`, `1..5` is `slice(1, 5, None)`, `..` is
/// `slice(None, None, None)`; negative bounds count from the end, as in Python.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Slice {
    pub start: Option<i64>,
    pub stop: Option<i64>,
    pub step: Option<i64>,
}

/// The result of [`Slice::indices`]: Python's `slice.indices(length)` and
/// `len(range(start, stop, step))`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SliceIndices {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
    pub count: i64,
}

impl Slice {
    pub const fn new(start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> Slice {
        Slice { start, stop, step }
    }

    /// The same slice with `step`.
    pub const fn step_by(self, step: i64) -> Slice {
        Slice { start: self.start, stop: self.stop, step: Some(step) }
    }

    /// Python's `slice.indices(length)` with the count, computed by modctx.
    /// Step 0 and negative lengths are `Status::Slice` errors with Python's messages.
    pub fn indices(&self, length: i64) -> Result<SliceIndices> {
        let raw = self.to_sys();
        let (mut start, mut stop, mut step, mut count) = (0, 0, 0, 0);
        // SAFETY: all pointers valid for the call.
        check_status(unsafe { sys::modctx_slice_indices(&raw, length, &mut start, &mut stop, &mut step, &mut count) })?;
        Ok(SliceIndices { start, stop, step, count })
    }

    pub fn to_sys(&self) -> sys::modctx_slice {
        let mut s = sys::modctx_slice::default();
        if let Some(v) = self.start {
            s.start = v;
            s.flags |= sys::MODCTX_SLICE_HAS_START;
        }
        if let Some(v) = self.stop {
            s.stop = v;
            s.flags |= sys::MODCTX_SLICE_HAS_STOP;
        }
        if let Some(v) = self.step {
            s.step = v;
            s.flags |= sys::MODCTX_SLICE_HAS_STEP;
        }
        s
    }

    pub fn from_sys(s: &sys::modctx_slice) -> Slice {
        Slice {
            start: (s.flags & sys::MODCTX_SLICE_HAS_START != 0).then_some(s.start),
            stop: (s.flags & sys::MODCTX_SLICE_HAS_STOP != 0).then_some(s.stop),
            step: (s.flags & sys::MODCTX_SLICE_HAS_STEP != 0).then_some(s.step),
        }
    }
}

impl From<Range<i64>> for Slice {
    fn from(r: Range<i64>) -> Slice {
        Slice::new(Some(r.start), Some(r.end), None)
    }
}

impl From<RangeFrom<i64>> for Slice {
    fn from(r: RangeFrom<i64>) -> Slice {
        Slice::new(Some(r.start), None, None)
    }
}

impl From<RangeTo<i64>> for Slice {
    fn from(r: RangeTo<i64>) -> Slice {
        Slice::new(None, Some(r.end), None)
    }
}

impl From<RangeFull> for Slice {
    fn from(_: RangeFull) -> Slice {
        Slice::default()
    }
}

impl fmt::Display for Slice {
    /// Python's repr: `slice(576, None, None)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn part(v: Option<i64>) -> String {
            v.map_or_else(|| "None".to_string(), |v| v.to_string())
        }
        write!(f, "slice({}, {}, {})", part(self.start), part(self.stop), part(self.step))
    }
}

// ------------------------------------------------------------------ models

/// Value checks for [`Context::check`] (these read tensor data).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueChecks(u32);

impl ValueChecks {
    pub const NONE: ValueChecks = ValueChecks(0);
    /// `modality_ids` within `[0, num_modalities)`.
    pub const MODALITY_ID_VALUES: ValueChecks = ValueChecks(sys::MODCTX_CHECK_MODALITY_ID_VALUES);
    /// Token ids within `[0, vocab_size)` ([`check_request`], with the model's
    /// `vocab_size`; the ids' values must be on the host).
    pub const TOKEN_ID_VALUES: ValueChecks = ValueChecks(sys::MODCTX_CHECK_TOKEN_ID_VALUES);

    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for ValueChecks {
    type Output = ValueChecks;
    fn bitor(self, other: ValueChecks) -> ValueChecks {
        ValueChecks(self.0 | other.0)
    }
}

/// What modctx needs to know of a model (`modctx_model`): typed in
/// ([`Model::new`] and the fields), or read from the model's own training
/// config ([`Model::from_config`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    pub arch: Arch,
    /// D, > 0.
    pub hidden_size: i64,
    /// MoT / MoMa: modality_ids in `[0, num_modalities)`; `None`: as many as
    /// `modalities`, or 2 (image, text).
    pub num_modalities: Option<i64>,
    /// N when the model fixes it; `None`: not fixed.
    pub num_image_tokens: Option<i64>,
    /// The token embedding's dtype; `None`: not given.
    pub text_dtype: Option<Dtype>,
    /// Token ids in `[0, vocab_size)`; `None`: not given.
    pub vocab_size: Option<i64>,
    /// Positions one forward may use (the RoPE table's length); `None`: not given.
    pub max_seq_len: Option<i64>,
    /// Cross-Attention: how many blocks fire; `Some(0)`: none, so
    /// image_features is not required; `None`: at least one is assumed.
    pub cross_attention_blocks: Option<i64>,
    /// MoT / MoMa: the modality names in order; empty: (image, text).
    pub modalities: Vec<String>,
}

impl Model {
    pub fn new(arch: Arch, hidden_size: i64) -> Model {
        Model {
            arch,
            hidden_size,
            num_modalities: None,
            num_image_tokens: None,
            text_dtype: None,
            vocab_size: None,
            max_seq_len: None,
            cross_attention_blocks: None,
            modalities: Vec::new(),
        }
    }

    /// The model a KempnerForge training config (TOML) describes
    /// (`modctx_model_from_config`): architecture and modalities, dim,
    /// vocab_size, max_seq_len, image tokens, Cross-Attention blocks, text
    /// dtype, with KempnerForge's defaults. A config that cannot be used is a
    /// `Status::Format` error naming the key; an unreadable file `Status::Io`.
    pub fn from_config(path: &std::path::Path) -> Result<Model> {
        let c_path = path_to_c(path)?;
        let mut raw = Model::empty_raw();
        // SAFETY: valid pointers for the call; struct_size set.
        check_status(unsafe { sys::modctx_model_from_config(c_path.as_ptr(), &mut raw) })?;
        Model::from_sys(&raw)
    }

    /// As [`from_config`](Self::from_config), from TOML text (named
    /// `<config>` in messages).
    pub fn from_config_str(text: &str) -> Result<Model> {
        let mut raw = Model::empty_raw();
        // SAFETY: text is valid for its length during the call.
        check_status(unsafe {
            sys::modctx_model_from_config_string(text.as_ptr() as *const c_char, text.len(), &mut raw)
        })?;
        Model::from_sys(&raw)
    }

    fn empty_raw() -> sys::modctx_model {
        sys::modctx_model {
            struct_size: std::mem::size_of::<sys::modctx_model>() as u32,
            arch: 0,
            hidden_size: 0,
            num_modalities: 0,
            num_image_tokens: -1,
            text_dtype: -1,
            vocab_size: 0,
            max_seq_len: 0,
            cross_attention_blocks: 0,
            modalities: [0; 128],
        }
    }

    /// The C struct. Modality names the struct cannot carry (a comma or a
    /// NUL in a name, 128 bytes or more in all) are a `Status::InvalidArgument` error.
    pub fn to_sys(&self) -> Result<sys::modctx_model> {
        let mut m = Model::empty_raw();
        m.arch = self.arch.raw();
        m.hidden_size = self.hidden_size;
        m.num_modalities = self.num_modalities.unwrap_or(0);
        m.num_image_tokens = self.num_image_tokens.unwrap_or(-1);
        m.text_dtype = self.text_dtype.map_or(-1, Dtype::raw);
        m.vocab_size = self.vocab_size.unwrap_or(0);
        m.max_seq_len = self.max_seq_len.unwrap_or(0);
        // Some(0) (none fire) is the C struct's -1; None its 0.
        m.cross_attention_blocks = self.cross_attention_blocks.map_or(0, |n| if n > 0 { n } else { -1 });
        if self.modalities.iter().any(|n| n.contains(',') || n.contains('\0')) {
            return Err(Error::new(Status::InvalidArgument, "a modality name holds a comma or a NUL"));
        }
        let names = self.modalities.join(",");
        if names.len() >= m.modalities.len() {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("the modality names take {} bytes (at most 127)", names.len()),
            ));
        }
        for (dst, src) in m.modalities.iter_mut().zip(names.bytes()) {
            *dst = src as c_char;
        }
        Ok(m)
    }

    /// The model a C struct describes.
    pub fn from_sys(m: &sys::modctx_model) -> Result<Model> {
        let arch = Arch::from_raw(m.arch)
            .ok_or_else(|| Error::new(Status::InvalidArgument, format!("unknown modctx_arch {}", m.arch)))?;
        let text_dtype = match m.text_dtype {
            d if d < 0 => None,
            d => Some(
                Dtype::from_raw(d)
                    .ok_or_else(|| Error::new(Status::InvalidArgument, format!("unknown modctx_dtype {}", d)))?,
            ),
        };
        let bytes: Vec<u8> = m.modalities.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
        let names = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Model {
            arch,
            hidden_size: m.hidden_size,
            num_modalities: (m.num_modalities != 0).then_some(m.num_modalities),
            num_image_tokens: (m.num_image_tokens >= 0).then_some(m.num_image_tokens),
            text_dtype,
            vocab_size: (m.vocab_size > 0).then_some(m.vocab_size),
            max_seq_len: (m.max_seq_len > 0).then_some(m.max_seq_len),
            cross_attention_blocks: match m.cross_attention_blocks {
                0 => None,
                n if n < 0 => Some(0),
                n => Some(n),
            },
            modalities: if names.is_empty() { Vec::new() } else { names.split(',').map(str::to_string).collect() },
        })
    }
}

// ------------------------------------------------------------------ requests

/// The state of a forward call's KV caches: positions already written,
/// positions they hold, their batch size.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvState {
    pub seq_len: i64,
    pub capacity: i64,
    pub batch: i64,
}

/// What a request says of the KV caches (`modctx_kv_caches`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvCaches {
    /// No KV caches (a training or prefill forward).
    None,
    /// KV caches are given; their state is not known.
    Given,
    /// KV caches are given, in this state.
    State(KvState),
}

impl Default for KvCaches {
    fn default() -> KvCaches {
        KvCaches::None
    }
}

/// A tensor a [`Request`] borrows: its descriptor (and, for value checks,
/// its host memory) is read during the check only; nothing is released.
/// Made from an owned tensor ([`Borrowed::of`]), or as a description
/// without data ([`Borrowed::described`]: its values cannot be checked).
#[derive(Copy, Clone, Debug)]
pub struct Borrowed<'a> {
    dl: sys::DLTensor,
    _borrow: std::marker::PhantomData<&'a ()>,
}

impl<'a> Borrowed<'a> {
    /// A view of an owned DLPack tensor's descriptor (and data).
    pub fn of<M: ManagedTensor>(tensor: &'a Dlpack<M>) -> Borrowed<'a> {
        Borrowed { dl: *tensor.dl_tensor(), _borrow: std::marker::PhantomData }
    }

    /// A tensor described, not given: `shape`, `dtype`, `device`, no data
    /// (a value check on it is `Status::Unsupported`).
    pub fn described(shape: &'a [i64], dtype: DataType, device: Device) -> Borrowed<'a> {
        Borrowed {
            dl: sys::DLTensor {
                data: ptr::null_mut(),
                device: sys::DLDevice { device_type: device.device_type, device_id: device.device_id },
                ndim: i32::try_from(shape.len()).unwrap_or(i32::MAX),
                dtype: sys::DLDataType { code: dtype.code, bits: dtype.bits, lanes: dtype.lanes },
                shape: shape.as_ptr() as *mut i64, // never written
                strides: ptr::null_mut(),
                byte_offset: 0,
            },
            _borrow: std::marker::PhantomData,
        }
    }

    /// Token ids of `shape` (int64, CPU), described only.
    pub fn ids_shape(shape: &'a [i64]) -> Borrowed<'a> {
        Borrowed::described(shape, DataType::INT64, Device::CPU)
    }

    /// Any DLPack descriptor.
    ///
    /// # Safety
    /// `dl`'s shape, strides and data must be valid for `'a` (as DLPack
    /// says), and nobody may write the data while a check reads it.
    pub unsafe fn from_dl_tensor(dl: &'a sys::DLTensor) -> Borrowed<'a> {
        Borrowed { dl: *dl, _borrow: std::marker::PhantomData }
    }

    pub fn dl_tensor(&self) -> &sys::DLTensor {
        &self.dl
    }
}

/// A forward call's arguments besides the context (`modctx_request`):
/// `Transformer.forward(tokens, modality, kv_caches, doc_ids)`. The tensors
/// are borrowed for the check.
///
/// ```
/// use modctx::{check_request, Arch, Borrowed, KvCaches, KvState, Model, Request, Status, ValueChecks};
/// let mut model = Model::new(Arch::Text, 8);
/// model.max_seq_len = Some(16);
/// let shape = [2i64, 13];
/// let request = Request::new()
///     .tokens(Borrowed::ids_shape(&shape))
///     .kv_caches(KvCaches::State(KvState { seq_len: 4, capacity: 64, batch: 2 }));
/// let err = check_request(None, &model, &request, ValueChecks::NONE).unwrap_err();
/// assert_eq!(err.status(), Status::Length); // 4 cached + 13 new positions > 16
/// ```
#[derive(Copy, Clone, Debug, Default)]
pub struct Request<'a> {
    /// (B, T) token ids, int64 or int32; `None`: inputs_embeds instead.
    pub tokens: Option<Borrowed<'a>>,
    /// (B, N + T) document ids of packed sequences.
    pub doc_ids: Option<Borrowed<'a>>,
    pub kv_caches: KvCaches,
}

impl<'a> Request<'a> {
    /// No tokens, no doc_ids, no KV caches.
    pub fn new() -> Request<'a> {
        Request::default()
    }

    pub fn tokens(mut self, tokens: Borrowed<'a>) -> Request<'a> {
        self.tokens = Some(tokens);
        self
    }

    pub fn doc_ids(mut self, doc_ids: Borrowed<'a>) -> Request<'a> {
        self.doc_ids = Some(doc_ids);
        self
    }

    pub fn kv_caches(mut self, kv_caches: KvCaches) -> Request<'a> {
        self.kv_caches = kv_caches;
        self
    }

    /// The C struct; it points into `self`, so it lives no longer.
    pub fn to_sys(&self) -> sys::modctx_request {
        let (kv_caches, state) = match self.kv_caches {
            KvCaches::None => (sys::MODCTX_KV_NONE, KvState::default()),
            KvCaches::Given => (sys::MODCTX_KV_GIVEN, KvState::default()),
            KvCaches::State(s) => (sys::MODCTX_KV_STATE, s),
        };
        sys::modctx_request {
            struct_size: std::mem::size_of::<sys::modctx_request>() as u32,
            kv_caches,
            tokens: self.tokens.as_ref().map_or(ptr::null(), |t| &t.dl as *const sys::DLTensor),
            doc_ids: self.doc_ids.as_ref().map_or(ptr::null(), |t| &t.dl as *const sys::DLTensor),
            kv_seq_len: state.seq_len,
            kv_capacity: state.capacity,
            kv_batch: state.batch,
        }
    }
}

// ------------------------------------------------------------------ builders

/// Collects fields and an output slice, then builds [`Context`]s (each build
/// runs the reference's construction checks). `Send`, not `Sync`: the C ABI
/// lets one thread at a time use a builder.
pub struct Builder {
    raw: NonNull<sys::modctx_builder>,
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

// SAFETY: a builder may move between threads; `&mut self` for every change
// and the missing Sync keep it to one thread at a time.
unsafe impl Send for Builder {}

impl Builder {
    /// An empty builder (its build is the text-only context).
    pub fn new() -> Result<Builder> {
        let mut raw = ptr::null_mut();
        // SAFETY: out pointer valid.
        check_status(unsafe { sys::modctx_builder_new(&mut raw) })?;
        Ok(Builder::from_new(raw))
    }

    fn from_new(raw: *mut sys::modctx_builder) -> Builder {
        Builder { raw: NonNull::new(raw).expect("modctx returned MODCTX_OK and a NULL builder"), _not_sync: Default::default() }
    }

    /// A builder holding `context`'s fields and slice (Python's
    /// `dataclasses.replace`: change some, build again).
    pub fn from_context(context: &Context) -> Result<Builder> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid context, out pointer valid.
        check_status(unsafe { sys::modctx_builder_new_from_context(context.raw.as_ptr(), &mut raw) })?;
        Ok(Builder::from_new(raw))
    }

    /// Sets `field` to `tensor`, replacing what was there. The tensor is
    /// consumed either way: on failure modctx has already run its deleter.
    pub fn set(&mut self, field: Field, tensor: DlpackTensor) -> Result<&mut Builder> {
        // SAFETY: valid builder; ownership of the managed tensor passes to modctx.
        check_status(unsafe { sys::modctx_builder_set_dlpack(self.raw.as_ptr(), field.raw(), tensor.into_raw()) })?;
        Ok(self)
    }

    /// As [`set`](Self::set), for a versioned tensor (only major version 1
    /// is read; others are `Status::Unsupported`, the tensor released).
    pub fn set_versioned(&mut self, field: Field, tensor: DlpackTensorVersioned) -> Result<&mut Builder> {
        // SAFETY: valid builder; ownership passes to modctx.
        check_status(unsafe {
            sys::modctx_builder_set_dlpack_versioned(self.raw.as_ptr(), field.raw(), tensor.into_raw())
        })?;
        Ok(self)
    }

    /// Sets `field` from a plain-C descriptor (`modctx_builder_set_tensor`).
    ///
    /// # Safety
    /// `desc` must follow the header's rules: its memory valid until
    /// `release(release_ctx)` runs (which modctx calls exactly once, possibly
    /// on another thread, also on failure).
    pub unsafe fn set_tensor_desc(&mut self, field: Field, desc: &sys::modctx_tensor_desc) -> Result<&mut Builder> {
        check_status(sys::modctx_builder_set_tensor(self.raw.as_ptr(), field.raw(), desc))?;
        Ok(self)
    }

    /// Unsets `field` (Python's `None`).
    pub fn clear(&mut self, field: Field) -> Result<&mut Builder> {
        // SAFETY: valid builder.
        check_status(unsafe { sys::modctx_builder_clear(self.raw.as_ptr(), field.raw()) })?;
        Ok(self)
    }

    /// Sets the output slice (a [`Slice`] or a range: `576..`). Not checked
    /// here, as in the reference.
    pub fn set_output_slice(&mut self, slice: impl Into<Slice>) -> Result<&mut Builder> {
        let raw = slice.into().to_sys();
        // SAFETY: valid builder and slice.
        check_status(unsafe { sys::modctx_builder_set_output_slice(self.raw.as_ptr(), &raw) })?;
        Ok(self)
    }

    /// Unsets the output slice.
    pub fn clear_output_slice(&mut self) -> Result<&mut Builder> {
        // SAFETY: valid builder; NULL means unset.
        check_status(unsafe { sys::modctx_builder_set_output_slice(self.raw.as_ptr(), ptr::null()) })?;
        Ok(self)
    }

    /// Runs the construction checks in the reference's order and, when they
    /// pass, makes a context sharing the builder's tensors. The builder is
    /// unchanged and may build again.
    pub fn build(&self) -> Result<Context> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid builder, out pointer valid.
        check_status(unsafe { sys::modctx_builder_build(self.raw.as_ptr(), &mut raw) })?;
        Ok(Context::from_new(raw))
    }

    pub fn as_ptr(&self) -> *mut sys::modctx_builder {
        self.raw.as_ptr()
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        // SAFETY: owned; freed once.
        unsafe { sys::modctx_builder_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").field("raw", &self.raw).finish()
    }
}

// ------------------------------------------------------------------ contexts

/// An immutable, validated context. `Clone` adds a reference
/// (`modctx_context_retain`); `Drop` releases one. `Send + Sync`: any number
/// of threads may check, describe and export it at once.
pub struct Context {
    raw: NonNull<sys::modctx_context>,
}

// SAFETY: the C ABI makes contexts immutable and shareable; the reference
// count is atomic, and Drop cannot race with a use (borrows end first).
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    fn from_new(raw: *mut sys::modctx_context) -> Context {
        Context { raw: NonNull::new(raw).expect("modctx returned MODCTX_OK and a NULL context") }
    }

    /// Takes ownership of one reference to a context.
    ///
    /// # Safety
    /// `raw` is a live context reference the caller owns (freed by this `Context` only).
    pub unsafe fn from_raw(raw: *mut sys::modctx_context) -> Option<Context> {
        NonNull::new(raw).map(|raw| Context { raw })
    }

    /// Gives up this reference: the caller frees it once.
    pub fn into_raw(self) -> *mut sys::modctx_context {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    pub fn as_ptr(&self) -> *const sys::modctx_context {
        self.raw.as_ptr()
    }

    /// Whether two handles are the same context.
    pub fn ptr_eq(&self, other: &Context) -> bool {
        self.raw == other.raw
    }

    /// The empty (text-only) context.
    pub fn empty() -> Result<Context> {
        Builder::new()?.build()
    }

    /// A builder starting from this context's fields (see [`Builder::from_context`]).
    pub fn to_builder(&self) -> Result<Builder> {
        Builder::from_context(self)
    }

    /// Whether `field` is set.
    pub fn has(&self, field: Field) -> bool {
        let mut out: c_int = 0;
        // SAFETY: valid context and out pointer; a valid field cannot fail.
        let status = unsafe { sys::modctx_context_has(self.raw.as_ptr(), field.raw(), &mut out) };
        status == sys::MODCTX_OK && out != 0
    }

    /// The fields that are set, in order.
    pub fn fields(&self) -> Vec<Field> {
        Field::ALL.iter().copied().filter(|f| self.has(*f)).collect()
    }

    /// A new managed tensor sharing `field`'s memory (and keeping it alive).
    /// An unset field is a `Status::MissingField` error.
    pub fn get(&self, field: Field) -> Result<DlpackTensor> {
        let mut out = ptr::null_mut();
        // SAFETY: valid context and out pointer; on success we own *out.
        check_status(unsafe { sys::modctx_context_get_dlpack(self.raw.as_ptr(), field.raw(), &mut out) })?;
        // SAFETY: a new managed tensor, ours to delete once.
        Ok(unsafe { DlpackTensor::from_new(out) })
    }

    /// As [`get`](Self::get), versioned (version 1.0, read-only flag set).
    pub fn get_versioned(&self, field: Field) -> Result<DlpackTensorVersioned> {
        let mut out = ptr::null_mut();
        // SAFETY: as get.
        check_status(unsafe { sys::modctx_context_get_dlpack_versioned(self.raw.as_ptr(), field.raw(), &mut out) })?;
        // SAFETY: a new managed tensor, ours to delete once.
        Ok(unsafe { DlpackTensorVersioned::from_new(out) })
    }

    /// The output slice, if any.
    pub fn output_slice(&self) -> Option<Slice> {
        let mut has: c_int = 0;
        let mut raw = sys::modctx_slice::default();
        // SAFETY: valid pointers.
        let status = unsafe { sys::modctx_context_get_output_slice(self.raw.as_ptr(), &mut has, &mut raw) };
        (status == sys::MODCTX_OK && has != 0).then(|| Slice::from_sys(&raw))
    }

    /// One line for a log: `ModalityContext(prefix_embeds=Tensor[2, 576, 4096] bfloat16 cuda:0, ...)`.
    pub fn describe(&self) -> String {
        let mut len = 0usize;
        // SAFETY: size query (buf NULL, cap 0).
        let status = unsafe { sys::modctx_context_describe(self.raw.as_ptr(), ptr::null_mut(), 0, &mut len) };
        if status != sys::MODCTX_OK {
            return format!("ModalityContext(<describe failed: {}>)", last_error());
        }
        let mut buf = vec![0u8; len + 1];
        // SAFETY: buf has len + 1 bytes; the context is immutable, so the length holds.
        let status = unsafe {
            sys::modctx_context_describe(self.raw.as_ptr(), buf.as_mut_ptr() as *mut c_char, buf.len(), &mut len)
        };
        if status != sys::MODCTX_OK {
            return format!("ModalityContext(<describe failed: {}>)", last_error());
        }
        buf.truncate(len.min(buf.len() - 1));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// The checks at the top of the reference's `Transformer.forward`.
    pub fn check_forward(&self, has_tokens: bool, has_kv_caches: bool) -> Result<()> {
        check_forward(Some(self), has_tokens, has_kv_caches)
    }

    /// Checks this context with a whole forward request against a model (see [`check_request`]).
    pub fn check_request(&self, model: &Model, request: &Request<'_>, value_checks: ValueChecks) -> Result<()> {
        check_request(Some(self), model, request, value_checks)
    }

    /// Checks this context with its forward arguments against a model (see [`check`]).
    pub fn check(
        &self,
        model: &Model,
        tokens_shape: Option<&[i64]>,
        has_kv_caches: bool,
        value_checks: ValueChecks,
    ) -> Result<()> {
        check(Some(self), model, tokens_shape, has_kv_caches, value_checks)
    }

    /// `h[:, output_slice, :]` as PyTorch computes it: a view of `hidden`'s
    /// memory (all of it without an output slice). `hidden` is consumed.
    pub fn apply_output_slice(&self, hidden: DlpackTensor) -> Result<DlpackTensor> {
        let mut out = ptr::null_mut();
        // SAFETY: valid context; hidden's ownership passes to modctx.
        check_status(unsafe {
            sys::modctx_context_apply_output_slice(self.raw.as_ptr(), hidden.into_raw(), &mut out)
        })?;
        // SAFETY: a new managed tensor, ours to delete once.
        Ok(unsafe { DlpackTensor::from_new(out) })
    }

    /// The residual's length without building it: N + T with prefix_embeds,
    /// S with inputs_embeds, else T = `text_length`.
    pub fn residual_length(&self, text_length: i64) -> Result<i64> {
        let mut out = 0i64;
        // SAFETY: valid pointers.
        check_status(unsafe { sys::modctx_context_residual_length(self.raw.as_ptr(), text_length, &mut out) })?;
        Ok(out)
    }

    /// The residual as the reference builds it: `cat([prefix_embeds cast to
    /// the text dtype, text_embeds], dim=1)`; with inputs_embeds, itself
    /// (`text_embeds` must then be `None`). `text_embeds` is consumed.
    pub fn compose_residual(&self, text_embeds: Option<DlpackTensor>) -> Result<DlpackTensor> {
        let mut out = ptr::null_mut();
        let text = text_embeds.map_or(ptr::null_mut(), DlpackTensor::into_raw);
        // SAFETY: valid context; text's ownership passes to modctx.
        check_status(unsafe { sys::modctx_context_compose_residual(self.raw.as_ptr(), text, &mut out) })?;
        // SAFETY: a new managed tensor, ours to delete once.
        Ok(unsafe { DlpackTensor::from_new(out) })
    }

    /// Saves this context (CPU tensors with data) and, when given, its
    /// forward arguments as a safetensors file, atomically.
    pub fn save_safetensors(&self, path: &std::path::Path, forward: Option<&SavedForward>) -> Result<()> {
        let c_path = path_to_c(path)?;
        let raw = forward.map(SavedForward::to_raw).transpose()?;
        let fw = raw.as_ref().map_or(ptr::null(), |f| f as *const sys::modctx_forward_args);
        // SAFETY: valid pointers for the call's duration.
        check_status(unsafe { sys::modctx_context_save_safetensors(self.raw.as_ptr(), c_path.as_ptr(), fw) })
    }

    /// Loads a safetensors file zero-copy (the mapping lives as long as the
    /// context's tensors); the construction checks run. Returns the saved
    /// forward arguments too.
    pub fn load_safetensors(path: &std::path::Path) -> Result<(Context, Option<SavedForward>)> {
        let c_path = path_to_c(path)?;
        let mut out = ptr::null_mut();
        let mut fw = SavedForward::empty_raw();
        // SAFETY: valid pointers for the call's duration.
        check_status(unsafe { sys::modctx_context_load_safetensors(c_path.as_ptr(), &mut out, &mut fw) })?;
        Ok((Context::from_new(out), SavedForward::from_raw(&fw)))
    }

    /// Loads safetensors bytes (copied once into memory the context owns).
    pub fn load_safetensors_from_memory(bytes: &[u8]) -> Result<(Context, Option<SavedForward>)> {
        let mut out = ptr::null_mut();
        let mut fw = SavedForward::empty_raw();
        // SAFETY: bytes is valid for its length during the call; modctx copies it.
        check_status(unsafe {
            sys::modctx_context_load_safetensors_from_memory(bytes.as_ptr().cast(), bytes.len(), &mut out, &mut fw)
        })?;
        Ok((Context::from_new(out), SavedForward::from_raw(&fw)))
    }
}

/// The forward arguments saved with a context: the token ids' shape (if
/// tokens are given), whether KV caches are, and their state when known
/// (`kv_state` implies `kv_caches`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SavedForward {
    pub tokens: Option<Vec<i64>>,
    pub kv_caches: bool,
    pub kv_state: Option<KvState>,
}

impl SavedForward {
    fn empty_raw() -> sys::modctx_forward_args {
        sys::modctx_forward_args {
            struct_size: std::mem::size_of::<sys::modctx_forward_args>() as u32,
            present: 0,
            has_tokens: 0,
            tokens_ndim: 0,
            tokens_shape: [0; sys::MODCTX_MAX_NDIM as usize],
            has_kv_caches: 0,
            kv_seq_len: 0,
            kv_capacity: 0,
            kv_batch: 0,
            kv_state_present: 0,
        }
    }

    fn to_raw(&self) -> Result<sys::modctx_forward_args> {
        let mut raw = SavedForward::empty_raw();
        raw.present = 1;
        raw.has_kv_caches = c_int::from(self.kv_caches || self.kv_state.is_some());
        if let Some(kv) = self.kv_state {
            raw.kv_state_present = 1;
            raw.kv_seq_len = kv.seq_len;
            raw.kv_capacity = kv.capacity;
            raw.kv_batch = kv.batch;
        }
        if let Some(tokens) = &self.tokens {
            if tokens.len() > sys::MODCTX_MAX_NDIM as usize {
                return Err(Error::new(Status::InvalidArgument, "tokens shape has more than 32 dimensions"));
            }
            raw.has_tokens = 1;
            raw.tokens_ndim = tokens.len() as i32;
            raw.tokens_shape[..tokens.len()].copy_from_slice(tokens);
        }
        Ok(raw)
    }

    fn from_raw(raw: &sys::modctx_forward_args) -> Option<SavedForward> {
        if raw.present == 0 {
            return None;
        }
        let n = raw.tokens_ndim.clamp(0, sys::MODCTX_MAX_NDIM) as usize;
        Some(SavedForward {
            tokens: (raw.has_tokens != 0).then(|| raw.tokens_shape[..n].to_vec()),
            kv_caches: raw.has_kv_caches != 0,
            kv_state: (raw.kv_state_present != 0).then_some(KvState {
                seq_len: raw.kv_seq_len,
                capacity: raw.kv_capacity,
                batch: raw.kv_batch,
            }),
        })
    }
}

fn path_to_c(path: &std::path::Path) -> Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::new(Status::InvalidArgument, "the path holds a NUL byte"))
}

impl Clone for Context {
    fn clone(&self) -> Context {
        let mut out = ptr::null_mut();
        // SAFETY: valid context; retain cannot fail for non-NULL arguments.
        let status = unsafe { sys::modctx_context_retain(self.raw.as_ptr(), &mut out) };
        assert_eq!(status, sys::MODCTX_OK, "modctx_context_retain failed: {}", last_error());
        Context::from_new(out)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: this reference is owned and released once.
        unsafe { sys::modctx_context_free(self.raw.as_ptr()) }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

// ------------------------------------------------------------------ free functions

/// The reference's forward checks (`modctx_check_forward`); `None` is a
/// missing context, which behaves as an empty one.
pub fn check_forward(context: Option<&Context>, has_tokens: bool, has_kv_caches: bool) -> Result<()> {
    let raw = context.map_or(ptr::null(), Context::as_ptr);
    // SAFETY: NULL or a valid context.
    check_status(unsafe { sys::modctx_check_forward(raw, has_tokens as c_int, has_kv_caches as c_int) })
}

/// Checks a context (or none) with its forward arguments against a model
/// (`modctx_check_model`): the forward checks, the residual's shapes, the
/// reference's model-time checks, unused fields, shapes, dtypes, devices,
/// then the value checks asked for. `tokens_shape`: the token ids' shape, or
/// `None` for no tokens.
pub fn check(
    context: Option<&Context>,
    model: &Model,
    tokens_shape: Option<&[i64]>,
    has_kv_caches: bool,
    value_checks: ValueChecks,
) -> Result<()> {
    let raw = context.map_or(ptr::null(), Context::as_ptr);
    let m = model.to_sys()?;
    let (shape, ndim) = match tokens_shape {
        Some(s) => (
            s.as_ptr(),
            i32::try_from(s.len()).map_err(|_| Error::new(Status::InvalidArgument, "tokens_shape is too long"))?,
        ),
        None => (ptr::null(), 0),
    };
    // SAFETY: pointers valid for the call; shape has ndim entries.
    check_status(unsafe { sys::modctx_check_model(raw, &m, shape, ndim, has_kv_caches as c_int, value_checks.bits()) })
}

/// Checks a context (or none) with a whole forward request against a model
/// (`modctx_check_request`): the checks of [`check`] in the same order, with
/// the token ids' dtype and device, doc_ids, the KV caches' state, the RoPE
/// budget, and the value checks asked for ([`ValueChecks::TOKEN_ID_VALUES`]
/// needs the model's `vocab_size`). The request's tensors are only read.
pub fn check_request(
    context: Option<&Context>,
    model: &Model,
    request: &Request<'_>,
    value_checks: ValueChecks,
) -> Result<()> {
    let raw = context.map_or(ptr::null(), Context::as_ptr);
    let m = model.to_sys()?;
    let r = request.to_sys();
    // SAFETY: pointers valid for the call; the borrowed tensors outlive it.
    check_status(unsafe { sys::modctx_check_request(raw, &m, &r, value_checks.bits()) })
}

/// The context the reference's strategy for `arch` builds from projected
/// image embeddings (B, N, D) and a text batch of token-id shape
/// `input_ids_shape` = (B, T) on `input_ids_device`, with an optional
/// (B, F) bool `frame_mask`. Both tensors are consumed.
pub fn compose(
    arch: Arch,
    image_embeds: DlpackTensor,
    input_ids_shape: [i64; 2],
    input_ids_device: Device,
    frame_mask: Option<DlpackTensor>,
) -> Result<Context> {
    let mut out = ptr::null_mut();
    let mask = frame_mask.map_or(ptr::null_mut(), DlpackTensor::into_raw);
    // SAFETY: pointers valid; both tensors' ownership passes to modctx.
    check_status(unsafe {
        sys::modctx_compose(
            arch.raw(),
            image_embeds.into_raw(),
            input_ids_shape.as_ptr(),
            input_ids_device.device_type,
            input_ids_device.device_id,
            mask,
            &mut out,
        )
    })?;
    Ok(Context::from_new(out))
}
