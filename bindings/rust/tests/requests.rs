//! Whole forward requests, models from their configs, status classes (C ABI
//! version 2) through the safe layer.
mod common;

use common::*;
use modctx::{
    check, check_request, compose, Arch, Borrowed, Builder, Context, DataType, Device, DlpackTensor, Dtype, Family,
    Field, KvCaches, KvState, Model, Request, SavedForward, Status, StatusClass, ValueChecks,
};

fn text_model(vocab_size: i64, max_seq_len: i64) -> Model {
    let mut m = Model::new(Arch::Text, 8);
    m.vocab_size = Some(vocab_size);
    m.max_seq_len = Some(max_seq_len);
    m
}

#[test]
fn every_status_has_a_class() {
    let request = [
        Status::Routes,
        Status::ImageMask,
        Status::ModalityIds,
        Status::KeyPaddingMask,
        Status::ForwardInputs,
        Status::KvCache,
        Status::Dtype,
        Status::Shape,
        Status::Device,
        Status::MissingField,
        Status::Slice,
        Status::UnusedField,
        Status::Value,
        Status::Format,
        Status::Length,
    ];
    let server = [Status::InvalidArgument, Status::Unsupported, Status::OutOfMemory, Status::Internal, Status::Io];
    for s in request {
        assert_eq!(s.class(), StatusClass::Request, "{}", s);
    }
    for s in server {
        assert_eq!(s.class(), StatusClass::Server, "{}", s);
    }
    assert_eq!(request.len() + server.len(), 20);
    for code in 1..=20 {
        let s = Status::from_raw(code).unwrap();
        assert_eq!(s.code(), code);
        assert!(!matches!(s, Status::Unknown(_)));
    }
    assert_eq!(Status::Unknown(21).class(), StatusClass::Server);
    assert_eq!(Status::Unknown(-1).class(), StatusClass::Server);
    assert_eq!(Status::Length.name(), "MODCTX_ERR_LENGTH");
    assert_eq!(Status::Length.family(), Family::Check);
}

#[test]
fn the_rope_budget_at_its_boundary() {
    let m = text_model(100, 16);
    let at = [2i64, 16];
    let past = [2i64, 17];
    check_request(None, &m, &Request::new().tokens(Borrowed::ids_shape(&at)), ValueChecks::NONE).unwrap();
    let e = check_request(None, &m, &Request::new().tokens(Borrowed::ids_shape(&past)), ValueChecks::NONE).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::Length, "sequence of 17 positions exceeds the model's max_seq_len 16 (the length of its RoPE table)")
    );
    assert_eq!(e.class(), StatusClass::Request);
    // With the caches' fill.
    let kv = KvCaches::State(KvState { seq_len: 4, capacity: 64, batch: 2 });
    let twelve = [2i64, 12];
    let thirteen = [2i64, 13];
    check_request(None, &m, &Request::new().tokens(Borrowed::ids_shape(&twelve)).kv_caches(kv), ValueChecks::NONE)
        .unwrap();
    let e = check_request(
        None,
        &m,
        &Request::new().tokens(Borrowed::ids_shape(&thirteen)).kv_caches(kv),
        ValueChecks::NONE,
    )
    .unwrap_err();
    assert_eq!(e.status(), Status::Length);
    // The same through the version-1 entry point (a shape, no state): only the length counts.
    assert_eq!(check(None, &m, Some(&past), false, ValueChecks::NONE).unwrap_err().status(), Status::Length);
}

#[test]
fn kv_caches_room_batch_and_doc_ids() {
    let m = text_model(100, 64);
    let seven = [2i64, 7];
    let six = [2i64, 6];
    let room = KvCaches::State(KvState { seq_len: 4, capacity: 10, batch: 2 });
    check_request(None, &m, &Request::new().tokens(Borrowed::ids_shape(&six)).kv_caches(room), ValueChecks::NONE)
        .unwrap();
    let e =
        check_request(None, &m, &Request::new().tokens(Borrowed::ids_shape(&seven)).kv_caches(room), ValueChecks::NONE)
            .unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::KvCache, "kv_caches hold 4 of 10 positions; 7 new positions do not fit")
    );
    let other_batch = KvCaches::State(KvState { seq_len: 0, capacity: 10, batch: 3 });
    let e = check_request(
        None,
        &m,
        &Request::new().tokens(Borrowed::ids_shape(&six)).kv_caches(other_batch),
        ValueChecks::NONE,
    )
    .unwrap_err();
    assert_eq!(e.status(), Status::KvCache);
    let impossible = KvCaches::State(KvState { seq_len: 11, capacity: 10, batch: 2 });
    let e = check_request(
        None,
        &m,
        &Request::new().tokens(Borrowed::ids_shape(&six)).kv_caches(impossible),
        ValueChecks::NONE,
    )
    .unwrap_err();
    assert_eq!((e.status(), e.class()), (Status::InvalidArgument, StatusClass::Server));
    // doc_ids over the residual, not with KV caches.
    let docs = i64s(&[2, 6]);
    let request = Request::new().tokens(Borrowed::ids_shape(&six)).doc_ids(Borrowed::of(&docs));
    check_request(None, &m, &request, ValueChecks::NONE).unwrap();
    let e = check_request(None, &m, &request.kv_caches(KvCaches::Given), ValueChecks::NONE).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (
            Status::KvCache,
            "doc_ids / key_padding_mask are not supported with kv_cache decode (would build an incorrect causal mask)."
        )
    );
    let e = check_request(None, &m, &request.tokens(Borrowed::ids_shape(&seven)), ValueChecks::NONE).unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::Shape, "doc_ids shape (2, 6) does not match residual shape (2, 7)"));
}

#[test]
fn token_ids_dtype_and_values() {
    let m = text_model(10, 16);
    let ids = DlpackTensor::from_vec(vec![0i64, 9, 3, 4, 5, 6], &[2, 3]).unwrap();
    let request = Request::new().tokens(Borrowed::of(&ids));
    check_request(None, &m, &request, ValueChecks::TOKEN_ID_VALUES).unwrap(); // vocab_size - 1 runs
    let over = DlpackTensor::from_vec(vec![0i32, 10, 3, 4, 5, 6], &[2, 3]).unwrap();
    let e =
        check_request(None, &m, &Request::new().tokens(Borrowed::of(&over)), ValueChecks::TOKEN_ID_VALUES).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::Value, "tokens values must be in [0, 10) (the model's vocab_size), found 10")
    );
    // Not read unless asked for.
    check_request(None, &m, &Request::new().tokens(Borrowed::of(&over)), ValueChecks::NONE).unwrap();
    // Described only: the values cannot be checked.
    let shape = [2i64, 3];
    let e = check_request(None, &m, &Request::new().tokens(Borrowed::ids_shape(&shape)), ValueChecks::TOKEN_ID_VALUES)
        .unwrap_err();
    assert_eq!((e.status(), e.class()), (Status::Unsupported, StatusClass::Server));
    // nn.Embedding takes int64 and int32 only.
    let floats = f32s(&[2, 3]);
    let e = check_request(None, &m, &Request::new().tokens(Borrowed::of(&floats)), ValueChecks::NONE).unwrap_err();
    assert_eq!(
        (e.status(), e.message()),
        (Status::Dtype, "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.float32")
    );
    // A descriptor the import refuses, named.
    let e = check_request(
        None,
        &m,
        &Request::new().tokens(Borrowed::described(&shape, DataType { code: 200, bits: 64, lanes: 1 }, Device::CPU)),
        ValueChecks::NONE,
    )
    .unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::InvalidArgument, "tokens: unknown DLPack dtype code 200"));
    // One device for all.
    let cuda = Borrowed::described(&shape, DataType::INT64, Device::cuda(0));
    let docs = i64s(&[2, 3]);
    let e = check_request(None, &m, &Request::new().tokens(cuda).doc_ids(Borrowed::of(&docs)), ValueChecks::NONE)
        .unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::Device, "doc_ids is on cpu, but tokens is on cuda:0"));
}

#[test]
fn borrowed_tensors_are_not_released() {
    let c = Counter::new();
    let ids = counted::<i64>(&[2, 3], &c);
    let docs = counted::<i64>(&[2, 3], &c);
    let m = text_model(1, 16);
    let request = Request::new().tokens(Borrowed::of(&ids)).doc_ids(Borrowed::of(&docs));
    for _ in 0..3 {
        check_request(None, &m, &request, ValueChecks::TOKEN_ID_VALUES).unwrap();
    }
    assert!(check_request(None, &Model::new(Arch::Text, 0), &request, ValueChecks::NONE).is_err());
    assert_eq!(c.get(), 0);
    assert_eq!(ids.to_vec::<i64>().unwrap(), vec![0; 6]); // nothing written
    assert_eq!(c.after_drop(ids), 1);
    assert_eq!(c.after_drop(docs), 2);
}

#[test]
fn contexts_with_requests() {
    let image = DlpackTensor::from_vec(vec![0f32; 2 * 4 * 2], &[2, 4, 2]).unwrap();
    let ctx = compose(Arch::Mot, image, [2, 3], Device::CPU, None).unwrap();
    let mut m = Model::new(Arch::Mot, 2);
    m.num_image_tokens = Some(4);
    m.max_seq_len = Some(4);
    let shape = [2i64, 3];
    let request = Request::new().tokens(Borrowed::ids_shape(&shape));
    ctx.check_request(&m, &request, ValueChecks::MODALITY_ID_VALUES).unwrap();
    m.max_seq_len = Some(3);
    assert_eq!(ctx.check_request(&m, &request, ValueChecks::NONE).unwrap_err().status(), Status::Length);
    m.max_seq_len = None;
    let docs = [2i64, 7];
    let e = ctx.check_request(&m, &request.doc_ids(Borrowed::ids_shape(&docs)), ValueChecks::NONE).unwrap_err();
    assert_eq!((e.status(), e.message()), (Status::UnusedField, "doc_ids is not used by a mot model"));
    // MoT's modalities by name.
    m.modalities = vec!["image".to_string(), "video".to_string()];
    assert_eq!(ctx.check_request(&m, &request, ValueChecks::NONE).unwrap_err().status(), Status::Shape);
    m.modalities = vec!["image".to_string(), "text".to_string()];
    ctx.check_request(&m, &request, ValueChecks::NONE).unwrap();
    m.modalities = vec!["a,b".to_string()];
    assert_eq!(ctx.check_request(&m, &request, ValueChecks::NONE).unwrap_err().status(), Status::InvalidArgument);
    // Cross-Attention: with no block firing, image_features is not required.
    let mut ca = Model::new(Arch::CrossAttention, 8);
    let empty = Context::empty().unwrap();
    assert_eq!(empty.check_request(&ca, &request, ValueChecks::NONE).unwrap_err().status(), Status::MissingField);
    ca.cross_attention_blocks = Some(0);
    empty.check_request(&ca, &request, ValueChecks::NONE).unwrap();
    // Training-only fields with KV caches: the reference's forward check, first.
    let jd = Builder::new().unwrap().set(Field::PrefixEmbeds, f32s(&[2, 4, 8])).unwrap().build().unwrap();
    let e = jd
        .check_request(&Model::new(Arch::JointDecoder, 8), &request.kv_caches(KvCaches::Given), ValueChecks::NONE)
        .unwrap_err();
    assert_eq!(e.status(), Status::KvCache);
}

const MOT_CONFIG: &str = r#"
[model]
dim = 64
n_layers = 4
n_heads = 4
n_kv_heads = 4
vocab_size = 1000
max_seq_len = 80

[vision_encoder]
type = "random"
feature_dim = 32
num_tokens = 16

[vlm]
arch = "mot"
max_text_len = 64

[train]
mixed_precision = "bf16"
"#;

#[test]
fn models_from_their_configs() {
    let m = Model::from_config_str(MOT_CONFIG).unwrap();
    assert_eq!(m.arch, Arch::Mot);
    assert_eq!((m.hidden_size, m.vocab_size, m.max_seq_len), (64, Some(1000), Some(80)));
    assert_eq!((m.num_image_tokens, m.num_modalities), (Some(16), Some(2)));
    assert_eq!(m.text_dtype, Some(Dtype::Bfloat16));
    assert_eq!(m.cross_attention_blocks, None);
    assert_eq!(m.modalities, vec!["image".to_string(), "text".to_string()]);
    // The same from a file; the struct round trip keeps everything.
    let path = std::env::temp_dir().join(format!("modctx-rust-config-{}.toml", std::process::id()));
    std::fs::write(&path, MOT_CONFIG).unwrap();
    let from_file = Model::from_config(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(from_file, m);
    assert_eq!(Model::from_sys(&m.to_sys().unwrap()).unwrap(), m);
    // A text model with every default.
    let text = Model::from_config_str("").unwrap();
    assert_eq!(
        (text.arch, text.hidden_size, text.vocab_size, text.max_seq_len),
        (Arch::Text, 4096, Some(32000), Some(2048))
    );
    // KempnerForge's training default, mixed_precision "bf16", fixes the text dtype.
    assert!(text.modalities.is_empty() && text.num_image_tokens.is_none());
    assert_eq!(text.text_dtype, Some(Dtype::Bfloat16));
    // Configs that cannot be used.
    let e = Model::from_config_str("[model]\ndim = \"big\"\n").unwrap_err();
    assert_eq!((e.status(), e.class(), e.status().family()), (Status::Format, StatusClass::Request, Family::Format));
    assert!(e.message().contains("model.dim"), "{}", e.message());
    let e = Model::from_config(std::path::Path::new("/nonexistent/modctx/train.toml")).unwrap_err();
    assert_eq!(e.status(), Status::Io);
    // The model checks a request: 16 image tokens, up to 80 text positions.
    let image = DlpackTensor::from_vec(vec![0f32; 16 * 64], &[1, 16, 64]).unwrap();
    let ctx = compose(Arch::Mot, image, [1, 80], Device::CPU, None).unwrap();
    let shape = [1i64, 80];
    ctx.check_request(&m, &Request::new().tokens(Borrowed::ids_shape(&shape)), ValueChecks::NONE).unwrap();
    let image = DlpackTensor::from_vec(vec![0f32; 16 * 64], &[1, 16, 64]).unwrap();
    let ctx = compose(Arch::Mot, image, [1, 81], Device::CPU, None).unwrap();
    let shape = [1i64, 81];
    let e = ctx.check_request(&m, &Request::new().tokens(Borrowed::ids_shape(&shape)), ValueChecks::NONE).unwrap_err();
    assert_eq!(e.status(), Status::Length);
}

#[test]
fn the_kv_state_saved_with_a_context() {
    let ctx = Context::empty().unwrap();
    let path = std::env::temp_dir().join(format!("modctx-rust-kv-{}.safetensors", std::process::id()));
    let forward = SavedForward {
        tokens: Some(vec![2, 1]),
        kv_caches: true,
        kv_state: Some(KvState { seq_len: 37, capacity: 1024, batch: 2 }),
    };
    ctx.save_safetensors(&path, Some(&forward)).unwrap();
    let (_, back) = Context::load_safetensors(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back, Some(forward));
}
