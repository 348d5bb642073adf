//! DLPack ownership: every tensor handed to modctx is released exactly once,
//! on success (when the last holder goes) and on every failure path.
mod common;

use std::os::raw::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{counted, counted_versioned, Counter};
use modctx::{compose, sys, Arch, Builder, Device, DlpackTensor, DlpackTensorVersioned, Field, Status};

#[test]
fn a_tensor_never_handed_in_is_released_on_drop() {
    let c = Counter::new();
    let t = counted::<f32>(&[2, 3], &c);
    assert_eq!(c.get(), 0);
    assert_eq!(c.after_drop(t), 1);
}

#[test]
fn set_build_free_releases_once_when_the_last_holder_goes() {
    let c = Counter::new();
    let mut b = Builder::new().unwrap();
    b.set(Field::PrefixEmbeds, counted::<f32>(&[2, 4, 8], &c)).unwrap();
    let ctx = b.build().unwrap();
    let ctx2 = ctx.clone();
    assert_eq!(c.get(), 0);
    assert_eq!(c.after_drop(b), 0, "the contexts still hold it");
    assert_eq!(c.after_drop(ctx), 0, "a clone still holds it");
    assert_eq!(c.after_drop(ctx2), 1);
}

#[test]
fn replacing_and_clearing_a_field_release_the_old_tensor() {
    let (first, second) = (Counter::new(), Counter::new());
    let mut b = Builder::new().unwrap();
    b.set(Field::InputsEmbeds, counted::<f32>(&[1, 2, 3], &first)).unwrap();
    b.set(Field::InputsEmbeds, counted::<f32>(&[1, 2, 3], &second)).unwrap();
    assert_eq!((first.get(), second.get()), (1, 0));
    b.clear(Field::InputsEmbeds).unwrap();
    assert_eq!((first.get(), second.get()), (1, 1));
    drop(b);
    assert_eq!((first.get(), second.get()), (1, 1));
}

#[test]
fn a_failed_build_keeps_the_tensors_in_the_builder() {
    let c = Counter::new();
    let mut b = Builder::new().unwrap();
    b.set(Field::InputsEmbeds, counted::<f32>(&[1, 2, 3], &c)).unwrap();
    b.set(Field::ImageFeatures, counted::<f32>(&[1, 2, 3], &c)).unwrap();
    let err = b.build().unwrap_err();
    assert_eq!(err.status(), Status::Routes);
    assert_eq!(c.get(), 0);
    assert_eq!(c.after_drop(b), 2);
}

#[test]
fn a_malformed_descriptor_is_released_before_the_call_returns() {
    let c = Counter::new();
    let mut b = Builder::new().unwrap();

    let mut t = counted::<f32>(&[2, 3], &c);
    unsafe { (*t.as_mut_ptr()).dl_tensor.dtype.lanes = 2 };
    let err = b.set(Field::PrefixEmbeds, t).unwrap_err();
    assert_eq!(err.status(), Status::Unsupported);
    assert!(!err.message().is_empty());
    assert_eq!(c.get(), 1);

    let mut t = counted::<f32>(&[2, 3], &c);
    unsafe { (*t.as_mut_ptr()).dl_tensor.ndim = 33 };
    let err = b.set(Field::PrefixEmbeds, t).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    assert_eq!(c.get(), 2);

    let mut t = counted::<f32>(&[2, 3], &c);
    unsafe { (*t.as_mut_ptr()).dl_tensor.dtype.code = 99 };
    assert_eq!(b.set(Field::PrefixEmbeds, t).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(c.get(), 3);

    let mut t = counted::<f32>(&[2, 3], &c);
    unsafe { (*t.as_mut_ptr()).dl_tensor.data = ptr::null_mut() };
    assert_eq!(b.set(Field::PrefixEmbeds, t).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(c.get(), 4);

    // The builder is still usable and empty.
    assert_eq!(b.build().unwrap().describe(), "ModalityContext()");
    assert_eq!(c.after_drop(b), 4);
}

#[test]
fn versioned_tensors_major_2_is_unsupported_and_released() {
    let c = Counter::new();
    let mut b = Builder::new().unwrap();
    let mut t = counted_versioned::<f32>(&[2, 3], &c);
    unsafe { (*t.as_mut_ptr()).version.major = 2 };
    let err = b.set_versioned(Field::PrefixEmbeds, t).unwrap_err();
    assert_eq!(err.status(), Status::Unsupported);
    assert_eq!(c.get(), 1);

    let mut t = counted_versioned::<f32>(&[2, 3, 4], &c);
    unsafe { (*t.as_mut_ptr()).flags = sys::DLPACK_FLAG_BITMASK_READ_ONLY };
    b.set_versioned(Field::PrefixEmbeds, t).unwrap();
    let ctx = b.build().unwrap();
    drop(b);
    let out = ctx.get_versioned(Field::PrefixEmbeds).unwrap();
    assert_eq!(out.version(), (1, 0));
    assert!(out.is_read_only());
    assert_eq!(c.after_drop(ctx), 1, "the exported tensor keeps the memory alive");
    assert_eq!(c.after_drop(out), 2);
}

#[test]
fn exported_tensors_share_memory_and_keep_it_alive() {
    let c = Counter::new();
    let t = DlpackTensor::from_vec_with_guard((0..24).map(|x| x as f32).collect(), &[2, 3, 4], c.guard()).unwrap();
    let data = t.data_ptr();
    let mut b = Builder::new().unwrap();
    b.set(Field::InputsEmbeds, t).unwrap();
    let ctx = b.build().unwrap();
    drop(b);
    let out = ctx.get(Field::InputsEmbeds).unwrap();
    assert_eq!(out.data_ptr(), data, "zero copy");
    assert_eq!(out.shape(), &[2, 3, 4]);
    assert_eq!(out.strides(), Some(&[12i64, 4, 1][..]));
    assert_eq!(out.to_vec::<f32>().unwrap(), (0..24).map(|x| x as f32).collect::<Vec<_>>());
    assert_eq!(c.after_drop(ctx), 0);
    assert_eq!(c.after_drop(out), 1);

    let ctx = Builder::new().unwrap().build().unwrap();
    let err = ctx.get(Field::PrefixEmbeds).unwrap_err();
    assert_eq!(err.status(), Status::MissingField);
    assert_eq!(err.message(), "modctx_context_get_dlpack: modality.prefix_embeds is not set");
}

#[test]
fn apply_output_slice_consumes_hidden_on_success_and_failure() {
    let c = Counter::new();
    let mut b = Builder::new().unwrap();
    b.set_output_slice(4..).unwrap();
    let ctx = b.build().unwrap();

    let hidden = DlpackTensor::from_vec_with_guard((0..2 * 12 * 8).map(|x| x as f32).collect(), &[2, 12, 8], c.guard())
        .unwrap();
    let base = hidden.data_ptr() as *const f32;
    let view = ctx.apply_output_slice(hidden).unwrap();
    assert_eq!(view.shape(), &[2, 8, 8]);
    assert_eq!(view.data_ptr(), unsafe { base.add(4 * 8) } as *const c_void);
    assert_eq!(view.to_vec::<f32>().unwrap()[0], 32.0);
    assert_eq!(c.get(), 0, "the view holds the hidden state");
    assert_eq!(c.after_drop(view), 1);

    let err = ctx.apply_output_slice(counted::<f32>(&[2, 12], &c)).unwrap_err();
    assert_eq!(err.status(), Status::Shape);
    assert_eq!(err.message(), "too many indices for tensor of dimension 2");
    assert_eq!(c.get(), 2);

    let mut b = ctx.to_builder().unwrap();
    b.set_output_slice(modctx::Slice::default().step_by(-1)).unwrap();
    let err = b.build().unwrap().apply_output_slice(counted::<f32>(&[2, 12, 8], &c)).unwrap_err();
    assert_eq!((err.status(), err.message()), (Status::Slice, "step must be greater than zero"));
    assert_eq!(c.get(), 3);
}

#[test]
fn compose_consumes_both_tensors_on_every_path() {
    let (image, mask) = (Counter::new(), Counter::new());
    let frames = DlpackTensor::from_vec_with_guard(vec![true, false, true, true], &[2, 2], mask.guard()).unwrap();
    let ctx = compose(Arch::Mot, counted::<f32>(&[2, 4, 2], &image), [2, 3], Device::CPU, Some(frames)).unwrap();
    assert_eq!(mask.get(), 1, "the frame mask was only read");
    assert_eq!(image.get(), 0, "the image embeddings are held");
    assert_eq!(image.after_drop(ctx), 1);

    let frames = DlpackTensor::from_vec_with_guard(vec![true; 6], &[2, 3], mask.guard()).unwrap();
    let err = compose(Arch::CrossAttention, counted::<f32>(&[2, 4, 2], &image), [2, 3], Device::CPU, Some(frames))
        .unwrap_err();
    assert_eq!(err.status(), Status::Shape);
    assert_eq!(
        err.message(),
        "_visual_token_mask: num_visual_tokens (4) is not a multiple of num_frames (3); the per-frame expansion \
         assumes frame-contiguous visual tokens."
    );
    assert_eq!((image.get(), mask.get()), (2, 2));

    let err = compose(Arch::Text, counted::<f32>(&[2, 4, 2], &image), [2, 3], Device::CPU, None).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    assert_eq!(image.get(), 3);

    let err = compose(Arch::Moma, counted::<f32>(&[2, 4, 2], &image), [2, 3], Device::cuda(0), None).unwrap_err();
    assert_eq!(err.status(), Status::Unsupported);
    assert_eq!(image.get(), 4);
}

#[test]
fn compose_residual_consumes_the_text_embeddings() {
    let c = Counter::new();
    let image = DlpackTensor::from_vec((0..16).map(|x| x as f32).collect(), &[2, 4, 2]).unwrap();
    let ctx = compose(Arch::JointDecoder, image, [2, 3], Device::CPU, None).unwrap();
    assert_eq!(ctx.residual_length(3).unwrap(), 7);
    let text = DlpackTensor::from_vec_with_guard((0..12).map(|x| 100.0 + x as f32).collect(), &[2, 3, 2], c.guard())
        .unwrap();
    let residual = ctx.compose_residual(Some(text)).unwrap();
    assert_eq!(residual.shape(), &[2, 7, 2]);
    let v = residual.to_vec::<f32>().unwrap();
    assert_eq!((v[0], v[7], v[8], v[14]), (0.0, 7.0, 100.0, 8.0));
    assert_eq!(c.get(), 1, "the residual is a new tensor: the text embeddings went");

    let err = ctx.compose_residual(Some(counted::<f32>(&[2, 3, 5], &c))).unwrap_err();
    assert_eq!(err.status(), Status::Shape);
    assert_eq!(c.get(), 2);
    assert_eq!(ctx.compose_residual(None).unwrap_err().status(), Status::InvalidArgument);
}

// The raw C ABI, for what the safe layer cannot express: NULL builders and unknown fields.
static RAW_DELETED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn raw_deleter(t: *mut sys::DLManagedTensor) {
    RAW_DELETED.fetch_add(1, Ordering::SeqCst);
    drop(Box::from_raw(t));
}

fn raw_tensor(shape: &mut [i64; 2], data: &mut [f32; 6]) -> *mut sys::DLManagedTensor {
    Box::into_raw(Box::new(sys::DLManagedTensor {
        dl_tensor: sys::DLTensor {
            data: data.as_mut_ptr() as *mut c_void,
            device: sys::DLDevice { device_type: sys::kDLCPU, device_id: 0 },
            ndim: 2,
            dtype: sys::DLDataType { code: sys::kDLFloat, bits: 32, lanes: 1 },
            shape: shape.as_mut_ptr(),
            strides: ptr::null_mut(),
            byte_offset: 0,
        },
        manager_ctx: ptr::null_mut(),
        deleter: Some(raw_deleter),
    }))
}

#[test]
fn raw_abi_null_builder_and_unknown_field_still_consume() {
    let mut shape = [2i64, 3];
    let mut data = [0f32; 6];
    unsafe {
        let s = sys::modctx_builder_set_dlpack(ptr::null_mut(), sys::MODCTX_FIELD_PREFIX_EMBEDS, raw_tensor(&mut shape, &mut data));
        assert_eq!(s, sys::MODCTX_ERR_INVALID_ARGUMENT);
        assert_eq!(modctx::last_error(), "modctx_builder_set_dlpack: builder is NULL");
        assert_eq!(RAW_DELETED.load(Ordering::SeqCst), 1);
        let mut b = ptr::null_mut();
        assert_eq!(sys::modctx_builder_new(&mut b), sys::MODCTX_OK);
        let s = sys::modctx_builder_set_dlpack(b, 6, raw_tensor(&mut shape, &mut data));
        assert_eq!(s, sys::MODCTX_ERR_INVALID_ARGUMENT);
        assert_eq!(modctx::last_error(), "modctx_builder_set_dlpack: unknown field 6 (expected 0 to 5)");
        assert_eq!(RAW_DELETED.load(Ordering::SeqCst), 2);
        assert_eq!(sys::modctx_builder_set_dlpack(b, sys::MODCTX_FIELD_PREFIX_EMBEDS, raw_tensor(&mut shape, &mut data)), 0);
        assert_eq!(RAW_DELETED.load(Ordering::SeqCst), 2);
        sys::modctx_builder_free(b);
        assert_eq!(RAW_DELETED.load(Ordering::SeqCst), 3);
    }
}

static DESC_RELEASED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn desc_release(ctx: *mut c_void) {
    let counter = if ctx.is_null() { &NULL_CTX_RELEASED } else { &*(ctx as *const AtomicUsize) };
    counter.fetch_add(1, Ordering::SeqCst);
}

static NULL_CTX_RELEASED: AtomicUsize = AtomicUsize::new(0);

/// A plain-C descriptor of contiguous `data` whose release is `desc_release(release_ctx)`.
fn desc<T>(
    dtype: sys::modctx_dtype,
    data: &mut [T],
    shape: &[i64],
    device: Device,
    release_ctx: *mut c_void,
) -> sys::modctx_tensor_desc {
    sys::modctx_tensor_desc {
        struct_size: std::mem::size_of::<sys::modctx_tensor_desc>() as u32,
        dtype,
        data: data.as_mut_ptr() as *mut c_void,
        ndim: shape.len() as i32,
        shape: shape.as_ptr(),
        strides: ptr::null(),
        device_type: device.device_type,
        device_id: device.device_id,
        release: Some(desc_release),
        release_ctx,
    }
}

/// The header: "release runs exactly once, on success when the last holder
/// goes", also with `release_ctx == NULL` (LibTorch skips a storage deleter
/// whose context is NULL; modctx works around it).
#[test]
fn null_release_ctx_is_released_on_success() {
    let shape = [4i64];
    let mut data = [0f32; 4];
    let desc = desc(sys::MODCTX_DTYPE_FLOAT32, &mut data, &shape, Device::CPU, ptr::null_mut());
    let mut b = Builder::new().unwrap();
    unsafe { b.set_tensor_desc(Field::InputsEmbeds, &desc) }.unwrap();
    drop(b);
    assert_eq!(NULL_CTX_RELEASED.load(Ordering::SeqCst), 1);
}

#[test]
fn plain_descriptors_are_released_once_too() {
    let shape = [2i64, 10];
    let mut ids = [1i64; 20];
    // A real release context here; null_release_ctx_is_released_on_success covers a NULL one.
    let counter = &DESC_RELEASED as *const AtomicUsize as *mut c_void;
    let mut desc = desc(sys::MODCTX_DTYPE_INT64, &mut ids, &shape, Device::rocm(2), counter);
    let mut b = Builder::new().unwrap();
    unsafe {
        b.set_tensor_desc(Field::InputsEmbeds, &desc).unwrap();
        b.set_tensor_desc(Field::ModalityIds, &desc).unwrap();
    }
    let ctx = b.build().unwrap();
    assert_eq!(
        ctx.describe(),
        "ModalityContext(inputs_embeds=Tensor[2, 10] int64 hip:2, modality_ids=Tensor[2, 10] int64 hip:2)"
    );
    drop(b);
    drop(ctx);
    assert_eq!(DESC_RELEASED.load(Ordering::SeqCst), 2);
    desc.dtype = 99;
    let mut b = Builder::new().unwrap();
    let err = unsafe { b.set_tensor_desc(Field::PrefixEmbeds, &desc) }.unwrap_err();
    assert_eq!((err.status(), err.message()), (Status::InvalidArgument, "prefix_embeds: unknown modctx_dtype 99"));
    assert_eq!(DESC_RELEASED.load(Ordering::SeqCst), 3);
}

#[test]
fn vec_layouts_are_checked_before_any_call() {
    assert_eq!(DlpackTensor::from_vec(vec![0f32; 5], &[2, 3]).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(DlpackTensor::from_vec(vec![0f32; 6], &[-2, -3]).unwrap_err().status(), Status::InvalidArgument);
    assert!(DlpackTensor::from_vec_strided(vec![0f32; 6], &[2, 3], &[3, 1]).is_ok());
    assert!(DlpackTensor::from_vec_strided(vec![0f32; 6], &[2, 3], &[4, 1]).is_err());
    assert!(DlpackTensor::from_vec_strided(vec![0f32; 6], &[2, 3], &[3]).is_err());
    assert!(DlpackTensor::from_vec_strided(vec![0f32; 6], &[2, 3], &[-3, 1]).is_err());
    assert!(DlpackTensor::from_vec_strided(Vec::<f32>::new(), &[0, 3], &[3, 1]).is_ok());
    // A strided view: every other column.
    let t = DlpackTensor::from_vec_strided((0..12).map(|x| x as i64).collect(), &[2, 3], &[6, 2]).unwrap();
    assert_eq!(t.to_vec::<i64>().unwrap(), vec![0, 2, 4, 6, 8, 10]);
    assert_eq!(t.to_vec::<f32>().unwrap_err().status(), Status::Dtype);
    let scalar = DlpackTensor::from_boxed_slice(vec![7i32].into_boxed_slice(), &[]).unwrap();
    assert_eq!(scalar.ndim(), 0);
    assert_eq!(scalar.to_vec::<i32>().unwrap(), vec![7]);
    let cuda = unsafe { DlpackTensor::from_vec(vec![0f32; 2], &[2]).unwrap().with_device(Device::cuda(1)) };
    assert_eq!(cuda.to_vec::<f32>().unwrap_err().status(), Status::Unsupported);
}

#[test]
fn debug_names_the_kind_and_a_versioned_tensor_shows_its_version_and_flags() {
    let t = DlpackTensor::from_vec(vec![0f32; 6], &[2, 3]).unwrap();
    let d = format!("{:?}", t);
    assert!(
        d.starts_with(
            "DlpackTensor { shape: [2, 3], strides: Some([3, 1]), dtype: DataType { code: 2, bits: 32, lanes: 1 }, \
             device: Device { device_type: 1, device_id: 0 }, data: 0x"
        ),
        "{}",
        d
    );
    let v = DlpackTensorVersioned::from_boxed_slice(vec![1i64, 2].into_boxed_slice(), &[2]).unwrap();
    let d = format!("{:?}", v);
    assert!(d.starts_with("DlpackTensorVersioned { version: (1, 0), flags: 0, shape: [2], strides: Some([1]), "), "{}", d);
    assert_eq!(v.to_vec::<i64>().unwrap(), vec![1, 2]);
}
