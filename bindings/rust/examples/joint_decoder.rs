//! A Joint-Decoder context from Rust: build it from tensors, check it against
//! a model, print it, show an error, apply the output slice.
//!
//!     MODCTX_LIB_DIR=$PWD/build/capi cargo run --manifest-path bindings/rust/Cargo.toml --example joint_decoder
use modctx::{Arch, Builder, DlpackTensor, Field, Model, ValueChecks};

fn main() -> Result<(), modctx::Error> {
    // Batch 2, 4 image tokens, 3 text tokens, hidden size 8.
    let (b, n, t, d) = (2i64, 4i64, 3i64, 8i64);
    let image = DlpackTensor::from_vec(vec![0.5f32; (b * n * d) as usize], &[b, n, d])?;
    let mut mask = vec![true; (b * (n + t)) as usize];
    mask[2] = false; // the first sample's third image token is padding
    let key_padding_mask = DlpackTensor::from_vec(mask, &[b, n + t])?;

    let mut builder = Builder::new()?;
    builder
        .set(Field::PrefixEmbeds, image)? // moved in: modctx releases it
        .set(Field::KeyPaddingMask, key_padding_mask)?
        .set_output_slice(n..)?; // the LM head sees the text positions only
    let ctx = builder.build()?;
    drop(builder);

    let model = Model::new(Arch::JointDecoder, d);
    ctx.check(&model, Some(&[b, t]), false, ValueChecks::NONE)?;
    println!("OK {}", ctx);

    // An error: a Joint-Decoder does not route by modality.
    let mut wrong = ctx.to_builder()?;
    wrong.set(Field::ModalityIds, DlpackTensor::from_vec(vec![0i64; (b * (n + t)) as usize], &[b, n + t])?)?;
    match wrong.build()?.check(&model, Some(&[b, t]), false, ValueChecks::NONE) {
        Ok(()) => println!("unexpectedly accepted"),
        Err(e) => println!("{}: {}", e.status().name(), e),
    }

    // h[:, n:, :] on the final hidden state, without a copy.
    let hidden = DlpackTensor::from_vec(vec![0f32; (b * (n + t) * d) as usize], &[b, n + t, d])?;
    let logits_in = ctx.apply_output_slice(hidden)?;
    println!("hidden state for the LM head: {:?}", logits_in.shape());
    Ok(())
}
