//! The recurrent layers' per-step product on Burn tensors: a weight is
//! prepared once per chunk ([`StepProduct::prepare`]) and multiplied at each
//! of the T steps ([`StepProduct::step_product`]).
//!
//! On flex in f32 on a CPU with AVX-512F or AVX2 + FMA the weight is packed
//! and the kernel chosen once, when it is prepared ([`crate::packed`]);
//! everywhere else (ndarray, f64, other CPUs) preparing keeps the tensor and
//! each step is the backend's own matmul. The layers'
//! forward and backward run on these backends only (autodiff sees the whole
//! layer as one op), so this is not a differentiable op of its own.

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::{Backend, tensor::FloatTensor};

/// A weight made ready for many products.
pub enum Prepared<B: Backend> {
    /// The backend's tensor, multiplied with its matmul.
    Plain(FloatTensor<B>),
    /// Packed for [`crate::packed::matmul`] with the kernel this CPU runs.
    Packed(crate::packed::Packed, crate::packed::Kernel),
}

pub trait StepProduct: Backend {
    /// W [K, N], any layout (a transposed view too).
    fn prepare(w: FloatTensor<Self>) -> Prepared<Self> {
        Prepared::Plain(w)
    }

    /// A [M, K] · W → [M, N].
    fn step_product(a: FloatTensor<Self>, w: &Prepared<Self>) -> FloatTensor<Self> {
        match w {
            Prepared::Plain(w) => Self::float_matmul(a, w.clone()),
            Prepared::Packed(..) => unreachable!("only flex packs"),
        }
    }
}

#[cfg(feature = "ndarray")]
impl StepProduct for burn::backend::NdArray {}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::Flex;
    use burn::backend::TensorMetadata;
    use burn::backend::flex::FlexTensor;
    use burn::backend::ops::FloatTensorOps;
    use burn::tensor::{DType, TensorData};

    use super::*;
    use crate::packed::{self, Kernel, Packed};

    impl StepProduct for Flex {
        fn prepare(w: FlexTensor) -> Prepared<Self> {
            let Some(kernel) = Kernel::detect().filter(|_| w.dtype() == DType::F32) else {
                return Prepared::Plain(w);
            };
            let shape = w.shape();
            let (k, n) = (shape[0], shape[1]);
            let layout = w.layout();
            match layout.strides() {
                &[row, col] if row >= 0 && col >= 0 => {
                    let values = &w.storage::<f32>()[layout.start_offset()..];
                    Prepared::Packed(
                        Packed::new(values, k, n, row as usize, col as usize),
                        kernel,
                    )
                }
                _ => Prepared::Plain(w),
            }
        }

        fn step_product(a: FlexTensor, w: &Prepared<Self>) -> FlexTensor {
            let (w, kernel) = match w {
                Prepared::Plain(w) => return Self::float_matmul(a, w.clone()),
                Prepared::Packed(w, kernel) => (w, *kernel),
            };
            let m = a.shape()[0];
            let a = a.to_contiguous();
            let a = a.as_slice::<f32>().expect("a contiguous tensor");
            let c = packed::matmul(kernel, a, m, w);
            FlexTensor::from_data(TensorData::new(c, [m, w.n()]))
        }
    }
}
