//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use modctx::{DlpackTensor, DlpackTensorVersioned, Element};

/// Counts releases: each guard adds one when dropped (by a tensor's deleter).
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

pub struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counter {
    pub fn new() -> Counter {
        Counter::default()
    }

    pub fn guard(&self) -> Guard {
        Guard(self.0.clone())
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Drops `holder` (a tensor, builder or context) and returns the count
    /// then: whether that drop released what this counter watches.
    pub fn after_drop<T>(&self, holder: T) -> usize {
        drop(holder);
        self.get()
    }
}

/// A zero-filled tensor of `shape` whose release `counter` counts.
pub fn counted<T: Element + Default>(shape: &[i64], counter: &Counter) -> DlpackTensor {
    let n: i64 = shape.iter().product();
    DlpackTensor::from_vec_with_guard(vec![T::default(); n as usize], shape, counter.guard()).unwrap()
}

pub fn counted_versioned<T: Element + Default>(shape: &[i64], counter: &Counter) -> DlpackTensorVersioned {
    let n: i64 = shape.iter().product();
    DlpackTensorVersioned::from_vec_with_guard(vec![T::default(); n as usize], shape, counter.guard()).unwrap()
}

pub fn f32s(shape: &[i64]) -> DlpackTensor {
    let n: i64 = shape.iter().product();
    DlpackTensor::from_vec(vec![0f32; n as usize], shape).unwrap()
}

pub fn i64s(shape: &[i64]) -> DlpackTensor {
    let n: i64 = shape.iter().product();
    DlpackTensor::from_vec(vec![0i64; n as usize], shape).unwrap()
}

pub fn bools(shape: &[i64]) -> DlpackTensor {
    let n: i64 = shape.iter().product();
    DlpackTensor::from_vec(vec![true; n as usize], shape).unwrap()
}

pub const ROUTES: &str = "ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set \
                          (mutually exclusive residual-stream routes)";
pub const IMAGE_MASK: &str = "ModalityContext: image_mask requires image_features to be set";
pub const MODALITY_IDS: &str = "ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set \
                                (routing without a residual extension is meaningless)";
pub const KEY_PADDING_MASK: &str = "ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be \
                                    set (it masks the residual sequence; Cross-Attention uses image_mask)";
pub const FORWARD_INPUTS: &str = "Transformer.forward requires exactly one of tokens or modality.inputs_embeds";
