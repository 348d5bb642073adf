//! Contexts as safetensors files through the safe layer.
use modctx::{Builder, Context, DlpackTensor, Field, SavedForward, Status};

#[test]
fn save_and_load_back_with_forward_arguments() {
    let mut b = Builder::new().unwrap();
    let prefix = DlpackTensor::from_vec((0..16).map(|i| i as f32).collect::<Vec<f32>>(), &[1, 2, 8]).unwrap();
    let ids = DlpackTensor::from_vec(vec![0i64, 0, 1, 1, 1], &[1, 5]).unwrap();
    b.set(Field::PrefixEmbeds, prefix).unwrap().set(Field::ModalityIds, ids).unwrap().set_output_slice(2..).unwrap();
    let ctx = b.build().unwrap();
    let path = std::env::temp_dir().join(format!("modctx-rust-{}.safetensors", std::process::id()));
    let forward = SavedForward { tokens: Some(vec![1, 3]), kv_caches: false, kv_state: None };
    ctx.save_safetensors(&path, Some(&forward)).unwrap();

    let (loaded, back) = Context::load_safetensors(&path).unwrap();
    assert_eq!(back, Some(forward));
    assert_eq!(loaded.describe(), ctx.describe());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let (from_memory, back) = Context::load_safetensors_from_memory(&bytes).unwrap();
    assert_eq!(back.unwrap().tokens, Some(vec![1, 3]));
    assert_eq!(from_memory.describe(), ctx.describe());

    let err = Context::load_safetensors(&path).unwrap_err();
    assert_eq!(err.status(), Status::Io);
    assert!(err.message().ends_with(": cannot open: No such file or directory"), "{}", err.message());
    let err = Context::load_safetensors_from_memory(&bytes[..20]).unwrap_err();
    assert_eq!(err.status(), Status::Format);
}
