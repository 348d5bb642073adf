//! The reference's checks through the safe layer: statuses and exact messages.
mod common;

use common::*;
use modctx::{
    check, check_forward, compose, Arch, Builder, Context, Device, DlpackTensor, Dtype, Family, Field, Model, Slice,
    SliceIndices, Status, ValueChecks,
};

/// A tensor of plausible shape and dtype for each field.
fn tensor_for(field: Field) -> DlpackTensor {
    match field {
        Field::InputsEmbeds | Field::PrefixEmbeds | Field::ImageFeatures => f32s(&[2, 4, 8]),
        Field::ImageMask => bools(&[2, 4]),
        Field::ModalityIds => i64s(&[2, 7]),
        Field::KeyPaddingMask => bools(&[2, 7]),
    }
}

/// The reference's construction checks, in order.
fn expected(set: &[Field]) -> Option<(Status, &'static str)> {
    let has = |f| set.contains(&f);
    let routes = [Field::InputsEmbeds, Field::PrefixEmbeds, Field::ImageFeatures].iter().filter(|f| has(**f)).count();
    let extension = has(Field::PrefixEmbeds) || has(Field::InputsEmbeds);
    if routes > 1 {
        Some((Status::Routes, ROUTES))
    } else if has(Field::ImageMask) && !has(Field::ImageFeatures) {
        Some((Status::ImageMask, IMAGE_MASK))
    } else if has(Field::ModalityIds) && !extension {
        Some((Status::ModalityIds, MODALITY_IDS))
    } else if has(Field::KeyPaddingMask) && !extension {
        Some((Status::KeyPaddingMask, KEY_PADDING_MASK))
    } else {
        None
    }
}

#[test]
fn construction_checks_on_all_64_patterns_with_and_without_a_slice() {
    for with_slice in [false, true] {
        for mask in 0u32..64 {
            let set: Vec<Field> = Field::ALL.iter().copied().filter(|f| mask & (1 << *f as u32) != 0).collect();
            let mut b = Builder::new().unwrap();
            for f in &set {
                b.set(*f, tensor_for(*f)).unwrap();
            }
            if with_slice {
                b.set_output_slice(4..).unwrap();
            }
            match (b.build(), expected(&set)) {
                (Ok(ctx), None) => {
                    assert_eq!(ctx.fields(), set);
                    assert_eq!(ctx.output_slice(), with_slice.then(|| Slice::from(4..)));
                }
                (Err(e), Some((status, message))) => {
                    assert_eq!(e.status(), status, "fields {:?}", set);
                    assert_eq!(e.message(), message);
                    assert_eq!(e.to_string(), message);
                    assert_eq!(status.family(), Family::Construction);
                }
                (got, want) => panic!("fields {:?}: got {:?}, want {:?}", set, got.map(|c| c.describe()), want),
            }
        }
    }
}

#[test]
fn the_issue_example_message() {
    let err = Builder::new().unwrap().set(Field::ImageMask, bools(&[2, 4])).unwrap().build().unwrap_err();
    assert_eq!(err.status(), Status::ImageMask);
    assert_eq!(err.status().name(), "MODCTX_ERR_IMAGE_MASK");
    assert_eq!(err.message(), "ModalityContext: image_mask requires image_features to be set");
}

fn mot(ids: DlpackTensor) -> Context {
    let mut b = Builder::new().unwrap();
    let prefix = unsafe { f32s(&[2, 4, 8]).with_device(Device::cuda(0)) };
    b.set(Field::PrefixEmbeds, prefix).unwrap().set(Field::ModalityIds, ids).unwrap().set_output_slice(4..).unwrap();
    b.build().unwrap()
}

#[test]
fn forward_checks_in_order_with_exact_messages() {
    let ctx = mot(i64s(&[2, 12]));
    let ctx32 = mot(DlpackTensor::from_vec(vec![0i32; 24], &[2, 12]).unwrap());
    let empty = Context::empty().unwrap();

    assert!(ctx.check_forward(true, false).is_ok());
    assert!(check_forward(None, true, false).is_ok());
    assert!(empty.check_forward(true, true).is_ok());
    let e = check_forward(None, false, false).unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::ForwardInputs, FORWARD_INPUTS));
    assert_eq!(e.status().family(), Family::Check);
    assert_eq!(ctx.check_forward(false, true).unwrap_err().status(), Status::ForwardInputs);
    let e = ctx.check_forward(true, true).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::KvCache, "modality.output_slice is training-only; cannot be combined with kv_caches")
    );
    let e = ctx32.check_forward(true, false).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::Dtype, "modality.modality_ids.dtype must be torch.long, got torch.int32")
    );

    // The training-only fields, one at a time, in the reference's order.
    let no_slice = {
        let mut b = ctx.to_builder().unwrap();
        b.clear_output_slice().unwrap();
        b.build().unwrap()
    };
    assert_eq!(
        no_slice.check_forward(true, true).unwrap_err().message(),
        "modality.prefix_embeds is training-only; cannot be combined with kv_caches"
    );
    let features = Builder::new().unwrap().set(Field::ImageFeatures, f32s(&[1, 2, 3])).unwrap().build().unwrap();
    assert_eq!(
        features.check_forward(true, true).unwrap_err().message(),
        "modality.image_features is training-only; cannot be combined with kv_caches"
    );
    let ids = Builder::new()
        .unwrap()
        .set(Field::InputsEmbeds, f32s(&[1, 2, 3]))
        .unwrap()
        .set(Field::ModalityIds, i64s(&[1, 2]))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        ids.check_forward(false, true).unwrap_err().message(),
        "modality.modality_ids is training-only; cannot be combined with kv_caches"
    );
}

#[test]
fn describe_and_replace() {
    let ctx = mot(i64s(&[2, 12]));
    let want = "ModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cuda:0, output_slice=slice(4, None, None), \
                modality_ids=Tensor[2, 12] int64 cpu)";
    assert_eq!(ctx.describe(), want);
    assert_eq!(ctx.to_string(), want);
    assert_eq!(format!("{:?}", ctx), want);
    assert_eq!(Context::empty().unwrap().describe(), "ModalityContext()");

    // dataclasses.replace: the checks run again; the original is unchanged.
    let mut b = ctx.to_builder().unwrap();
    b.set(Field::ImageFeatures, f32s(&[2, 4, 8])).unwrap();
    assert_eq!(b.build().unwrap_err().message(), ROUTES);
    b.clear(Field::ImageFeatures).unwrap().clear(Field::PrefixEmbeds).unwrap();
    assert_eq!(b.build().unwrap_err().status(), Status::ModalityIds);
    b.clear(Field::ModalityIds).unwrap();
    let changed = b.build().unwrap();
    assert_eq!(changed.fields(), Vec::<Field>::new());
    assert!(ctx.has(Field::PrefixEmbeds));
    assert!(!changed.ptr_eq(&ctx));
    assert!(ctx.clone().ptr_eq(&ctx));
}

/// Python's slice.indices, written out (CPython's PySlice_GetIndicesEx).
fn python_indices(s: &Slice, len: i64) -> SliceIndices {
    let step = s.step.unwrap_or(1);
    let (lower, upper) = if step < 0 { (-1, len - 1) } else { (0, len) };
    let clamp = |v: Option<i64>, default: i64| match v {
        None => default,
        Some(v) if v < 0 => (v + len).max(lower),
        Some(v) => v.min(upper),
    };
    let start = clamp(s.start, if step < 0 { upper } else { lower });
    let stop = clamp(s.stop, if step < 0 { lower } else { upper });
    let count = if step > 0 {
        if start < stop { (stop - start - 1) / step + 1 } else { 0 }
    } else if start > stop {
        (start - stop - 1) / (-step) + 1
    } else {
        0
    };
    SliceIndices { start, stop, step, count }
}

#[test]
fn slices_follow_python_on_a_grid() {
    let mut bounds: Vec<Option<i64>> = (-9..=9).map(Some).collect();
    bounds.push(None);
    let mut n = 0;
    for &start in &bounds {
        for &stop in &bounds {
            for &step in &[None, Some(1), Some(2), Some(3), Some(-1), Some(-2), Some(-3)] {
                for len in 0..8 {
                    let s = Slice::new(start, stop, step);
                    assert_eq!(s.indices(len).unwrap(), python_indices(&s, len), "{} on {}", s, len);
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 20 * 20 * 7 * 8);
    let e = Slice::default().step_by(0).indices(3).unwrap_err();
    assert_eq!((e.status(), e.message(), e.status().family()), (Status::Slice, "slice step cannot be zero", Family::Slice));
    assert_eq!(Slice::default().indices(-1).unwrap_err().message(), "length should not be negative");
}

#[test]
fn ranges_are_python_slices() {
    assert_eq!(Slice::from(576..).to_string(), "slice(576, None, None)");
    assert_eq!(Slice::from(..-1).to_string(), "slice(None, -1, None)");
    assert_eq!(Slice::from(1..5).step_by(2).to_string(), "slice(1, 5, 2)");
    assert_eq!(Slice::from(..).to_string(), "slice(None, None, None)");
    let raw = Slice::new(Some(1), None, Some(-2)).to_sys();
    assert_eq!(raw.flags, modctx::sys::MODCTX_SLICE_HAS_START | modctx::sys::MODCTX_SLICE_HAS_STEP);
    assert_eq!(Slice::from_sys(&raw), Slice::new(Some(1), None, Some(-2)));
    let ctx = Builder::new().unwrap().set_output_slice(Slice::new(Some(1), Some(-2), Some(3))).unwrap().build().unwrap();
    assert_eq!(ctx.output_slice(), Some(Slice::new(Some(1), Some(-2), Some(3))));
}

#[test]
fn model_checks() {
    let ctx = mot(i64s(&[2, 12])); // prefix (2, 4, 8) on cuda:0, ids (2, 12) on cpu, 4:
    let mut m = Model::new(Arch::Mot, 8);
    let e = ctx.check(&m, Some(&[2, 8]), false, ValueChecks::NONE).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::Device, "modality.modality_ids is on cpu, but modality.prefix_embeds is on cuda:0")
    );
    let e = ctx.check(&m, Some(&[2, 6]), false, ValueChecks::NONE).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::Shape, "modality.modality_ids shape (2, 12) does not match residual shape (2, 10)")
    );
    assert_eq!(ctx.check(&m, Some(&[2, 8]), true, ValueChecks::NONE).unwrap_err().status(), Status::KvCache);
    assert_eq!(ctx.check(&m, None, false, ValueChecks::NONE).unwrap_err().status(), Status::ForwardInputs);
    m.arch = Arch::JointDecoder;
    let e = ctx.check(&m, Some(&[2, 8]), false, ValueChecks::NONE).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::UnusedField, "modality.modality_ids is not used by a joint_decoder model")
    );
    m.arch = Arch::CrossAttention;
    assert_eq!(
        check(None, &m, Some(&[2, 8]), false, ValueChecks::NONE).unwrap_err().message(),
        "Cross-Attention block fired but modality.image_features is None. Cross-Attention models require \
         image_features in the ModalityContext."
    );
    m.arch = Arch::Moma;
    assert_eq!(
        check(None, &m, Some(&[2, 8]), false, ValueChecks::NONE).unwrap_err().message(),
        "MoMa model requires modality.modality_ids (got None). Build the ModalityContext via MoMaStrategy or set \
         modality_ids explicitly."
    );
    m.arch = Arch::Text;
    assert!(check(None, &m, Some(&[2, 8]), false, ValueChecks::NONE).is_ok());
    assert_eq!(
        check(None, &m, Some(&[2]), false, ValueChecks::NONE).unwrap_err().message(),
        "tokens must have shape (B, T), got (2,)"
    );
    m.hidden_size = 0;
    let e = check(None, &m, Some(&[2, 8]), false, ValueChecks::NONE).unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::InvalidArgument, "model: hidden_size must be > 0, got 0"));
    m.hidden_size = 8;
    m.text_dtype = Some(Dtype::Bfloat16);
    assert!(check(None, &m, Some(&[2, 8]), false, ValueChecks::NONE).is_ok());
}

#[test]
fn strategies_compose_the_reference_contexts() {
    let image = DlpackTensor::from_vec(vec![0f32; 2 * 4 * 2], &[2, 4, 2]).unwrap();
    let frames = DlpackTensor::from_vec(vec![true, false, true, true], &[2, 2]).unwrap();
    let ctx = compose(Arch::Mot, image, [2, 3], Device::CPU, Some(frames)).unwrap();
    let mut m = Model::new(Arch::Mot, 2);
    m.num_modalities = Some(2);
    ctx.check(&m, Some(&[2, 3]), false, ValueChecks::MODALITY_ID_VALUES).unwrap();
    assert_eq!(ctx.output_slice(), Some(Slice::from(4..)));
    let ids = ctx.get(Field::ModalityIds).unwrap();
    assert_eq!(ids.shape(), &[2, 7]);
    assert_eq!(ids.to_vec::<i64>().unwrap(), vec![0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1]);
    let kpm = ctx.get(Field::KeyPaddingMask).unwrap();
    assert_eq!(kpm.dtype(), modctx::DataType::BOOL);
    let want = [1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1].iter().map(|v| *v == 1).collect::<Vec<bool>>();
    assert_eq!(kpm.to_vec::<bool>().unwrap(), want);
    assert_eq!(
        ctx.describe(),
        "ModalityContext(prefix_embeds=Tensor[2, 4, 2] float32 cpu, output_slice=slice(4, None, None), \
         modality_ids=Tensor[2, 7] int64 cpu, key_padding_mask=Tensor[2, 7] bool cpu)"
    );
    let image = DlpackTensor::from_vec(vec![0f32; 2 * 4 * 2], &[2, 4, 2]).unwrap();
    let ca = compose(Arch::CrossAttention, image, [2, 3], Device::CPU, None).unwrap();
    assert_eq!(ca.fields(), vec![Field::ImageFeatures]);
}

#[test]
fn names_and_versions() {
    assert_eq!(Status::Routes.name(), "MODCTX_ERR_ROUTES");
    assert_eq!(Status::Format.name(), "MODCTX_ERR_FORMAT");
    assert_eq!(Status::Unknown(12345).name(), "MODCTX_ERR_UNKNOWN");
    for code in 1..=18 {
        let s = Status::from_raw(code).unwrap();
        assert_eq!(s.code(), code);
        assert!(!matches!(s, Status::Unknown(_)));
    }
    assert_eq!(Status::from_raw(0), None);
    assert_eq!(Status::from_raw(99), Some(Status::Unknown(99)));
    let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(
        names,
        ["inputs_embeds", "prefix_embeds", "image_features", "image_mask", "modality_ids", "key_padding_mask"]
    );
    assert_eq!(Arch::CrossAttention.name(), "cross_attention");
    assert_eq!(Arch::Moma.name(), "moma");
    assert_eq!(modctx::version().split('.').count(), 3);
    assert!(modctx::abi_version() >= modctx::sys::MODCTX_ABI_VERSION);
}
