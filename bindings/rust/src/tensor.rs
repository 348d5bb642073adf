//! Owned DLPack tensors: [`Dlpack`], one implementation over the two
//! managed-tensor structs ([`ManagedTensor`]), used as [`DlpackTensor`]
//! (`DLManagedTensor`) and [`DlpackTensorVersioned`] (`DLManagedTensorVersioned`).
//!
//! An owned tensor calls its deleter exactly once: when it is dropped, or,
//! once moved into a modctx call (which always consumes it), by modctx. Safe
//! code cannot leak it (short of `mem::forget`) nor free it twice.

use std::any::Any;
use std::fmt;
use std::os::raw::c_void;
use std::ptr::NonNull;

use crate::sys;
use crate::{Error, Result, Status};

// ------------------------------------------------------------------ data types and devices

/// A DLPack data type (`DLDataType`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

impl DataType {
    pub const FLOAT32: DataType = DataType::new(sys::kDLFloat, 32);
    pub const FLOAT64: DataType = DataType::new(sys::kDLFloat, 64);
    pub const FLOAT16: DataType = DataType::new(sys::kDLFloat, 16);
    pub const BFLOAT16: DataType = DataType::new(sys::kDLBfloat, 16);
    pub const INT64: DataType = DataType::new(sys::kDLInt, 64);
    pub const INT32: DataType = DataType::new(sys::kDLInt, 32);
    pub const INT16: DataType = DataType::new(sys::kDLInt, 16);
    pub const INT8: DataType = DataType::new(sys::kDLInt, 8);
    pub const UINT8: DataType = DataType::new(sys::kDLUInt, 8);
    /// `kDLBool` (6), 8 bits: what modctx exports for bool.
    pub const BOOL: DataType = DataType::new(sys::kDLBool, 8);
    pub const COMPLEX64: DataType = DataType::new(sys::kDLComplex, 64);
    pub const COMPLEX128: DataType = DataType::new(sys::kDLComplex, 128);

    /// One lane of `code` with `bits` bits.
    pub const fn new(code: u8, bits: u8) -> DataType {
        DataType { code, bits, lanes: 1 }
    }

    /// PyTorch's name without `torch.` (`"bfloat16"`), or `None`.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [(DataType, &str); 12] = [
            (DataType::FLOAT32, "float32"),
            (DataType::FLOAT64, "float64"),
            (DataType::FLOAT16, "float16"),
            (DataType::BFLOAT16, "bfloat16"),
            (DataType::INT64, "int64"),
            (DataType::INT32, "int32"),
            (DataType::INT16, "int16"),
            (DataType::INT8, "int8"),
            (DataType::UINT8, "uint8"),
            (DataType::BOOL, "bool"),
            (DataType::COMPLEX64, "complex64"),
            (DataType::COMPLEX128, "complex128"),
        ];
        NAMES.iter().find(|(d, _)| *d == self).map(|(_, n)| *n)
    }

    pub(crate) fn from_sys(d: sys::DLDataType) -> DataType {
        DataType { code: d.code, bits: d.bits, lanes: d.lanes }
    }

    pub(crate) fn to_sys(self) -> sys::DLDataType {
        sys::DLDataType { code: self.code, bits: self.bits, lanes: self.lanes }
    }

    fn size_in_bytes(self) -> Option<usize> {
        if self.bits % 8 != 0 || self.lanes == 0 {
            return None;
        }
        Some(self.bits as usize / 8 * self.lanes as usize)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "DLDataType(code={}, bits={}, lanes={})", self.code, self.bits, self.lanes),
        }
    }
}

/// A DLPack device (`DLDevice`): DLPack's device codes (1 CPU, 2 CUDA, 10 ROCm, ...).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Device {
    pub device_type: i32,
    pub device_id: i32,
}

impl Device {
    pub const CPU: Device = Device { device_type: sys::kDLCPU, device_id: 0 };

    pub const fn cuda(id: i32) -> Device {
        Device { device_type: sys::kDLCUDA, device_id: id }
    }

    pub const fn rocm(id: i32) -> Device {
        Device { device_type: sys::kDLROCM, device_id: id }
    }

    pub(crate) fn from_sys(d: sys::DLDevice) -> Device {
        Device { device_type: d.device_type, device_id: d.device_id }
    }

    pub(crate) fn to_sys(self) -> sys::DLDevice {
        sys::DLDevice { device_type: self.device_type, device_id: self.device_id }
    }
}

impl Default for Device {
    fn default() -> Device {
        Device::CPU
    }
}

// ------------------------------------------------------------------ element types

mod sealed {
    use super::{c_void, fmt, sys, Deleter};

    pub trait Sealed {}

    /// What [`super::Dlpack`] asks of a managed-tensor struct.
    pub trait Managed: Sized + 'static {
        /// The name `Debug` prints.
        const NAME: &'static str;
        /// A managed tensor with a NULL `manager_ctx`.
        fn new(dl_tensor: sys::DLTensor, deleter: Deleter<Self>) -> Self;
        fn dl_tensor(&self) -> &sys::DLTensor;
        fn dl_tensor_mut(&mut self) -> &mut sys::DLTensor;
        fn manager_ctx_mut(&mut self) -> &mut *mut c_void;
        fn deleter(&self) -> Option<Deleter<Self>>;
        /// What `Debug` prints before the descriptor's fields.
        fn debug_fields(&self, _: &mut fmt::DebugStruct<'_, '_>) {}
    }
}

/// Element types a Rust `Vec` can carry into a tensor, with their DLPack type.
/// Sealed: implemented for `f32`, `f64`, `i8`, `i16`, `i32`, `i64`, `u8`,
/// `bool`, [`Bf16`] and [`F16`].
pub trait Element: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The DLPack type of one element.
    const DATA_TYPE: DataType;
    #[doc(hidden)]
    /// Reads one element from foreign memory (bool: any nonzero byte is true).
    unsafe fn read_from(p: *const u8) -> Self {
        std::ptr::read_unaligned(p as *const Self)
    }
}

macro_rules! element {
    ($t:ty, $dt:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DATA_TYPE: DataType = $dt;
        }
    };
}

element!(f32, DataType::FLOAT32);
element!(f64, DataType::FLOAT64);
element!(i8, DataType::INT8);
element!(i16, DataType::INT16);
element!(i32, DataType::INT32);
element!(i64, DataType::INT64);
element!(u8, DataType::UINT8);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DATA_TYPE: DataType = DataType::BOOL;
    unsafe fn read_from(p: *const u8) -> bool {
        *p != 0
    }
}

/// A bfloat16 value as its bits (Rust has no bf16 type).
#[repr(transparent)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bf16(pub u16);
element!(Bf16, DataType::BFLOAT16);

/// An IEEE half-precision value as its bits.
#[repr(transparent)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct F16(pub u16);
element!(F16, DataType::FLOAT16);

// ------------------------------------------------------------------ Vec-backed managed tensors

fn invalid(message: String) -> Error {
    Error::new(Status::InvalidArgument, message)
}

/// Checks that `shape` (and `strides`, in elements) describe memory within
/// `len` elements; returns the strides to record (contiguous when not given).
fn layout(len: usize, shape: &[i64], strides: Option<&[i64]>) -> Result<Vec<i64>> {
    if shape.len() > sys::MODCTX_MAX_NDIM as usize {
        return Err(invalid(format!("tensor: {} dimensions, at most {}", shape.len(), sys::MODCTX_MAX_NDIM)));
    }
    if let Some(s) = shape.iter().find(|s| **s < 0) {
        return Err(invalid(format!("tensor: negative size {} in shape {:?}", s, shape)));
    }
    let len = i64::try_from(len).map_err(|_| invalid("tensor: too many elements".to_string()))?;
    let strides = match strides {
        None => {
            let mut count: i64 = 1;
            for s in shape {
                count = count
                    .checked_mul(*s)
                    .ok_or_else(|| invalid(format!("tensor: shape {:?} overflows", shape)))?;
            }
            if count != len {
                return Err(invalid(format!(
                    "tensor: shape {:?} has {} elements, the data has {}",
                    shape, count, len
                )));
            }
            let mut out = vec![0i64; shape.len()];
            let mut step: i64 = 1;
            for i in (0..shape.len()).rev() {
                out[i] = step;
                step = step.saturating_mul(shape[i].max(1));
            }
            out
        }
        Some(strides) => {
            if strides.len() != shape.len() {
                return Err(invalid(format!(
                    "tensor: {} strides for {} dimensions",
                    strides.len(),
                    shape.len()
                )));
            }
            if let Some(s) = strides.iter().find(|s| **s < 0) {
                return Err(invalid(format!("tensor: negative stride {} in {:?}", s, strides)));
            }
            if !shape.contains(&0) {
                let mut last: i64 = 0;
                for (size, stride) in shape.iter().zip(strides) {
                    last = (size - 1)
                        .checked_mul(*stride)
                        .and_then(|x| x.checked_add(last))
                        .ok_or_else(|| invalid(format!("tensor: strides {:?} overflow", strides)))?;
                }
                if last >= len {
                    return Err(invalid(format!(
                        "tensor: shape {:?} with strides {:?} reaches element {}, the data has {}",
                        shape, strides, last, len
                    )));
                }
            }
            strides.to_vec()
        }
    };
    Ok(strides)
}

/// What a Vec-backed managed tensor owns; dropped by its deleter.
struct VecOwner<T> {
    data: Vec<T>,
    shape: Box<[i64]>,
    strides: Box<[i64]>,
    _guard: Option<Box<dyn Any + Send>>,
}

impl<T: Element> VecOwner<T> {
    fn new(
        data: Vec<T>,
        shape: &[i64],
        strides: Option<&[i64]>,
        guard: Option<Box<dyn Any + Send>>,
    ) -> Result<VecOwner<T>> {
        let strides = layout(data.len(), shape, strides)?;
        Ok(VecOwner { data, shape: shape.into(), strides: strides.into_boxed_slice(), _guard: guard })
    }

    fn dl_tensor(&mut self) -> sys::DLTensor {
        sys::DLTensor {
            // Vec's pointer: aligned, non-null even when empty, stable while owned.
            data: self.data.as_mut_ptr() as *mut c_void,
            device: Device::CPU.to_sys(),
            ndim: self.shape.len() as i32,
            dtype: T::DATA_TYPE.to_sys(),
            shape: self.shape.as_mut_ptr(),
            strides: self.strides.as_mut_ptr(),
            byte_offset: 0,
        }
    }
}

// ------------------------------------------------------------------ reading a DLTensor

fn shape_of(t: &sys::DLTensor) -> &[i64] {
    if t.ndim <= 0 || t.shape.is_null() {
        &[]
    } else {
        // SAFETY: a valid DLTensor has ndim sizes at shape.
        unsafe { std::slice::from_raw_parts(t.shape, t.ndim as usize) }
    }
}

fn strides_of(t: &sys::DLTensor) -> Option<&[i64]> {
    if t.strides.is_null() {
        None
    } else if t.ndim <= 0 {
        Some(&[])
    } else {
        // SAFETY: a valid DLTensor has ndim strides at strides when not NULL.
        Some(unsafe { std::slice::from_raw_parts(t.strides, t.ndim as usize) })
    }
}

fn to_vec_of<T: Element>(t: &sys::DLTensor) -> Result<Vec<T>> {
    let device = Device::from_sys(t.device);
    if device != Device::CPU {
        return Err(Error::new(
            Status::Unsupported,
            format!("to_vec: the tensor is on {}, not the CPU", crate::device_name(device)),
        ));
    }
    let dtype = DataType::from_sys(t.dtype);
    if dtype != T::DATA_TYPE {
        return Err(Error::new(
            Status::Dtype,
            format!("to_vec: the tensor's dtype is {}, not {}", dtype, T::DATA_TYPE),
        ));
    }
    let elem = dtype.size_in_bytes().unwrap_or(1) as i64;
    let shape = shape_of(t);
    let contiguous;
    let strides = match strides_of(t) {
        Some(s) => s,
        None => {
            let mut out = vec![0i64; shape.len()];
            let mut step = 1i64;
            for i in (0..shape.len()).rev() {
                out[i] = step;
                step = step.saturating_mul(shape[i].max(1));
            }
            contiguous = out;
            &contiguous[..]
        }
    };
    let mut count: usize = 1;
    for s in shape {
        let s = usize::try_from(*s).map_err(|_| invalid(format!("to_vec: negative size in {:?}", shape)))?;
        count = count.checked_mul(s).ok_or_else(|| invalid(format!("to_vec: shape {:?} overflows", shape)))?;
    }
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Ok(out);
    }
    let base = (t.data as *const u8).wrapping_add(t.byte_offset as usize);
    let mut index = vec![0i64; shape.len()];
    for _ in 0..count {
        let offset: i64 = index.iter().zip(strides).map(|(i, s)| i * s).sum::<i64>() * elem;
        // SAFETY: a valid CPU tensor's elements are readable for as long as
        // its owner lives (from_raw's contract; Vec-backed tensors by construction).
        out.push(unsafe { T::read_from(base.wrapping_offset(offset as isize)) });
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ the two managed-tensor structs

/// A managed tensor's deleter.
type Deleter<M> = unsafe extern "C" fn(*mut M);

/// The managed-tensor structs a [`Dlpack`] tensor can own: `DLManagedTensor`
/// ([`DlpackTensor`]) and `DLManagedTensorVersioned` ([`DlpackTensorVersioned`]).
/// Sealed: what it asks of them (their `dl_tensor`, `manager_ctx` and
/// `deleter`) is private to this crate.
pub trait ManagedTensor: sealed::Managed {}

macro_rules! managed_tensor {
    ($t:ty, $name:literal, { $($own:tt)* }) => {
        impl ManagedTensor for $t {}
        impl sealed::Managed for $t {
            const NAME: &'static str = $name;
            fn dl_tensor(&self) -> &sys::DLTensor {
                &self.dl_tensor
            }
            fn dl_tensor_mut(&mut self) -> &mut sys::DLTensor {
                &mut self.dl_tensor
            }
            fn manager_ctx_mut(&mut self) -> &mut *mut c_void {
                &mut self.manager_ctx
            }
            fn deleter(&self) -> Option<Deleter<Self>> {
                self.deleter
            }
            $($own)*
        }
    };
}

managed_tensor!(sys::DLManagedTensor, "DlpackTensor", {
    fn new(dl_tensor: sys::DLTensor, deleter: Deleter<Self>) -> Self {
        sys::DLManagedTensor { dl_tensor, manager_ctx: std::ptr::null_mut(), deleter: Some(deleter) }
    }
});

managed_tensor!(sys::DLManagedTensorVersioned, "DlpackTensorVersioned", {
    /// Version 1.0, no flags.
    fn new(dl_tensor: sys::DLTensor, deleter: Deleter<Self>) -> Self {
        sys::DLManagedTensorVersioned {
            version: sys::DLPackVersion { major: sys::DLPACK_MAJOR_VERSION, minor: sys::DLPACK_MINOR_VERSION },
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(deleter),
            flags: 0,
            dl_tensor,
        }
    }
    fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        d.field("version", &(self.version.major, self.version.minor)).field("flags", &self.flags);
    }
});

/// A Vec-backed managed tensor and what it owns, in one allocation that its
/// `manager_ctx` points to; `managed` comes first, so a pointer to it is one to the holder.
#[repr(C)]
struct Holder<M, T> {
    managed: M,
    owner: VecOwner<T>,
}

unsafe extern "C" fn delete_holder<M: ManagedTensor, T>(managed: *mut M) {
    if !managed.is_null() {
        drop(Box::from_raw(*(*managed).manager_ctx_mut() as *mut Holder<M, T>));
    }
}

// ------------------------------------------------------------------ Dlpack

/// An owned managed tensor, used as [`DlpackTensor`] (`DLManagedTensor`) or
/// [`DlpackTensorVersioned`] (`DLManagedTensorVersioned`, DLPack 1.x): its
/// deleter runs exactly once, on `Drop`, or by modctx once the tensor is moved
/// into a call (which always consumes it).
pub struct Dlpack<M: ManagedTensor> {
    raw: NonNull<M>,
}

/// An owned `DLManagedTensor` (see [`Dlpack`]).
pub type DlpackTensor = Dlpack<sys::DLManagedTensor>;

/// An owned `DLManagedTensorVersioned` (DLPack 1.x; see [`Dlpack`]).
pub type DlpackTensorVersioned = Dlpack<sys::DLManagedTensorVersioned>;

// SAFETY: modctx runs deleters on whichever thread frees the last holder, so
// the C ABI already requires managed tensors to be movable between threads;
// from_raw's contract says so, and Vec-backed tensors hold Send + Sync data.
unsafe impl<M: ManagedTensor> Send for Dlpack<M> {}
unsafe impl<M: ManagedTensor> Sync for Dlpack<M> {}

impl<M: ManagedTensor> Dlpack<M> {
    /// A contiguous CPU tensor of `shape` over `data` (row-major; the number
    /// of elements must match). The deleter frees the Vec. A versioned
    /// tensor is version 1.0, no flags.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[i64]) -> Result<Self> {
        Self::make(VecOwner::new(data, shape, None, None)?)
    }

    /// A strided CPU view of `data` (strides in elements, each >= 0, within the Vec).
    pub fn from_vec_strided<T: Element>(data: Vec<T>, shape: &[i64], strides: &[i64]) -> Result<Self> {
        Self::make(VecOwner::new(data, shape, Some(strides), None)?)
    }

    /// As [`from_vec`](Self::from_vec), also owning `guard`, which is dropped
    /// when the deleter runs (on whichever thread modctx frees the tensor):
    /// a way to learn when the memory is released.
    pub fn from_vec_with_guard<T: Element, G: Send + 'static>(data: Vec<T>, shape: &[i64], guard: G) -> Result<Self> {
        Self::make(VecOwner::new(data, shape, None, Some(Box::new(guard)))?)
    }

    /// A contiguous CPU tensor over a boxed slice.
    pub fn from_boxed_slice<T: Element>(data: Box<[T]>, shape: &[i64]) -> Result<Self> {
        Self::from_vec(data.into_vec(), shape)
    }

    fn make<T: Element>(owner: VecOwner<T>) -> Result<Self> {
        // The descriptor is filled in once the owner has its place in the box.
        let empty = sys::DLTensor {
            data: std::ptr::null_mut(),
            device: Device::CPU.to_sys(),
            ndim: 0,
            dtype: T::DATA_TYPE.to_sys(),
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        };
        let mut holder = Box::new(Holder { managed: M::new(empty, delete_holder::<M, T>), owner });
        *holder.managed.dl_tensor_mut() = holder.owner.dl_tensor();
        let raw = Box::into_raw(holder);
        // SAFETY: raw is a live Box; managed is its first field.
        unsafe {
            *(*raw).managed.manager_ctx_mut() = raw as *mut c_void;
            Ok(Dlpack { raw: NonNull::new_unchecked(std::ptr::addr_of_mut!((*raw).managed)) })
        }
    }

    /// Takes ownership of a managed tensor (e.g. from another library).
    /// `None` for NULL.
    ///
    /// # Safety
    /// `raw` must be a valid managed tensor that the caller owns (nobody
    /// else calls its deleter), whose descriptor and memory stay valid until
    /// the deleter runs, whose deleter may be called from any thread, and
    /// whose memory nobody writes while it is read (`to_vec`).
    pub unsafe fn from_raw(raw: *mut M) -> Option<Self> {
        NonNull::new(raw).map(|raw| Dlpack { raw })
    }

    /// A managed tensor modctx returned with `MODCTX_OK`.
    ///
    /// # Safety
    /// As [`from_raw`](Self::from_raw): a new tensor, ours to delete once.
    pub(crate) unsafe fn from_new(raw: *mut M) -> Self {
        Self::from_raw(raw).expect("modctx returned MODCTX_OK and a NULL tensor")
    }

    /// Gives up ownership: the caller must see that the deleter runs once.
    pub fn into_raw(self) -> *mut M {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    pub fn as_ptr(&self) -> *const M {
        self.raw.as_ptr()
    }

    /// The managed tensor, for changes before handing it on (e.g. in tests).
    pub fn as_mut_ptr(&mut self) -> *mut M {
        self.raw.as_ptr()
    }

    /// The same tensor described as living on `device` (metadata only: the
    /// memory does not move).
    ///
    /// # Safety
    /// Whatever reads the data (modctx's value checks and strategies, other
    /// consumers) will read it as `device` memory: only for tensors whose data
    /// nobody reads, e.g. to check a context's shapes and devices.
    pub unsafe fn with_device(mut self, device: Device) -> Self {
        self.raw.as_mut().dl_tensor_mut().device = device.to_sys();
        self
    }

    fn dl(&self) -> &sys::DLTensor {
        // SAFETY: the managed tensor is valid while owned.
        unsafe { self.raw.as_ref().dl_tensor() }
    }

    /// The tensor's descriptor (for a [`Borrowed`](crate::Borrowed) view of it, or another library).
    pub fn dl_tensor(&self) -> &sys::DLTensor {
        self.dl()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.dl().ndim.max(0) as usize
    }

    /// The sizes.
    pub fn shape(&self) -> &[i64] {
        shape_of(self.dl())
    }

    /// The strides in elements; `None` when the producer left them out (contiguous).
    pub fn strides(&self) -> Option<&[i64]> {
        strides_of(self.dl())
    }

    pub fn dtype(&self) -> DataType {
        DataType::from_sys(self.dl().dtype)
    }

    pub fn device(&self) -> Device {
        Device::from_sys(self.dl().device)
    }

    pub fn byte_offset(&self) -> u64 {
        self.dl().byte_offset
    }

    /// The address of the first element (`data + byte_offset`).
    pub fn data_ptr(&self) -> *const c_void {
        (self.dl().data as *const u8).wrapping_add(self.dl().byte_offset as usize) as *const c_void
    }

    /// The elements in row-major order, read through the strides. Only
    /// for CPU tensors whose dtype is `T`'s.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        to_vec_of::<T>(self.dl())
    }
}

impl DlpackTensorVersioned {
    /// The DLPack version the producer wrote.
    pub fn version(&self) -> (u32, u32) {
        // SAFETY: valid while owned.
        let v = unsafe { self.raw.as_ref().version };
        (v.major, v.minor)
    }

    /// `DLPACK_FLAG_BITMASK_*` bits.
    pub fn flags(&self) -> u64 {
        // SAFETY: valid while owned.
        unsafe { self.raw.as_ref().flags }
    }

    pub fn is_read_only(&self) -> bool {
        self.flags() & sys::DLPACK_FLAG_BITMASK_READ_ONLY != 0
    }
}

impl<M: ManagedTensor> Drop for Dlpack<M> {
    fn drop(&mut self) {
        let raw = self.raw.as_ptr();
        // SAFETY: owned, so the deleter has not run yet; it runs once here.
        unsafe {
            if let Some(deleter) = (*raw).deleter() {
                deleter(raw);
            }
        }
    }
}

impl<M: ManagedTensor> fmt::Debug for Dlpack<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(M::NAME);
        // SAFETY: valid while owned.
        unsafe { self.raw.as_ref() }.debug_fields(&mut d);
        d.field("shape", &self.shape())
            .field("strides", &self.strides())
            .field("dtype", &self.dtype())
            .field("device", &self.device())
            .field("data", &self.data_ptr())
            .finish()
    }
}
