//! Threads, as the C ABI allows them: a Context is shared (Send + Sync),
//! a Builder moves (Send) but is not shared.
mod common;

use std::sync::Arc;
use std::thread;

use common::*;
use modctx::{Builder, Context, Field, Status};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn marker_traits_follow_the_c_abi() {
    assert_send::<Builder>();
    assert_send::<Context>();
    assert_sync::<Context>();
    assert_send::<modctx::DlpackTensor>();
    assert_sync::<modctx::DlpackTensor>();
    assert_send::<modctx::DlpackTensorVersioned>();
    assert_sync::<modctx::DlpackTensorVersioned>();
    assert_send::<modctx::Error>();
    assert_sync::<modctx::Error>();
    // Builder is not Sync and DlpackTensor not Clone: see the compile_fail
    // examples in the crate's documentation (run by `cargo test --doc`).
}

#[test]
fn threads_share_a_context_and_see_only_their_own_errors() {
    let c = Counter::new();
    let ctx = {
        let mut b = Builder::new().unwrap();
        b.set(Field::PrefixEmbeds, counted::<f32>(&[2, 4, 8], &c)).unwrap();
        b.set(Field::ModalityIds, counted::<i32>(&[2, 12], &c)).unwrap(); // int32: the forward dtype check fails
        b.set_output_slice(4..).unwrap();
        b.build().unwrap()
    };
    let described = ctx.describe();
    thread::scope(|s| {
        for i in 0..8 {
            let ctx = &ctx; // shared by reference: Sync
            let described = &described;
            s.spawn(move || {
                for round in 0..200 {
                    // Alternate failures so that each thread's last error differs from its neighbours'.
                    if (i + round) % 2 == 0 {
                        let e = ctx.check_forward(true, true).unwrap_err();
                        assert_eq!(e.status(), Status::KvCache);
                        assert_eq!(
                            e.message(),
                            "modality.output_slice is training-only; cannot be combined with kv_caches"
                        );
                    } else {
                        let e = ctx.check_forward(true, false).unwrap_err();
                        assert_eq!(e.status(), Status::Dtype);
                        assert_eq!(e.message(), "modality.modality_ids.dtype must be torch.long, got torch.int32");
                    }
                    assert_eq!(&ctx.describe(), described);
                    let t = ctx.get(Field::PrefixEmbeds).unwrap();
                    assert_eq!(t.shape(), &[2, 4, 8]);
                    let again = ctx.clone(); // retain from many threads at once
                    drop(t);
                    drop(again);
                }
            });
        }
    });
    assert_eq!(c.get(), 0);
    assert_eq!(c.after_drop(ctx), 2);
}

#[test]
fn clones_move_to_threads_and_the_last_drop_releases() {
    let c = Counter::new();
    let ctx = Builder::new().unwrap().set(Field::InputsEmbeds, counted::<f32>(&[1, 3, 4], &c)).unwrap().build().unwrap();
    let shared = Arc::new(ctx.clone());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let mine = ctx.clone(); // Send
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                mine.check_forward(false, true).unwrap();
                assert!(shared.has(Field::InputsEmbeds));
                // The tensor may be released on this thread if it is the last holder.
            })
        })
        .collect();
    drop(ctx);
    drop(shared);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(c.get(), 1);
}

#[test]
fn a_builder_moves_to_another_thread() {
    let c = Counter::new();
    let mut b = Builder::new().unwrap();
    b.set(Field::ImageMask, counted::<bool>(&[2, 4], &c)).unwrap();
    let err = thread::spawn(move || {
        let err = b.build().unwrap_err();
        drop(b);
        err
    })
    .join()
    .unwrap();
    assert_eq!(err.message(), IMAGE_MASK);
    assert_eq!(c.get(), 1);
    // This thread's last error is untouched by the other thread's failure.
    assert_ne!(modctx::last_error(), IMAGE_MASK);
}
