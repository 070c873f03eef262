//! The activations registered with Burn: a backend-extension trait, its
//! implementation on flex and ndarray (the kernels on the tensors' buffers),
//! and on autodiff (the forward on the inner backend, saving the output,
//! and a backward node that calls the backward kernel).

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::{Slice, Tensor};

use crate::kernels::Activation;

/// Runs `act` on `x` through Burn's dispatch (flex or ndarray, autodiff or not).
pub fn apply<const D: usize>(act: Activation, x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as Activations>::activate(x.into_dispatch(), act))
}

/// The operations: `activate` is the forward; `activate_grad(y, grad, act)`
/// is the input's gradient from the output y and the output's gradient.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait Activations: Backend {
    fn activate(x: FloatTensor<Self>, act: Activation) -> FloatTensor<Self>;
    fn activate_grad(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self>;
}

/// The last dimension's size: log-softmax's row length, the LSTM gates' 4H.
#[cfg(any(feature = "flex", feature = "ndarray"))]
fn width(t: &impl TensorMetadata) -> usize {
    let shape = t.shape();
    match shape.num_dims() {
        0 => 1,
        n => shape[n - 1],
    }
}

/// A CPU backend implements the trait with its module's `forward(act, x)`
/// and `backward(act, y, grad)`.
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_backend {
    ($backend:ty) => {
        impl Activations for $backend {
            fn activate(x: FloatTensor<Self>, act: Activation) -> FloatTensor<Self> {
                forward(act, x)
            }
            fn activate_grad(
                y: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                act: Activation,
            ) -> FloatTensor<Self> {
                backward(act, y, grad)
            }
        }
    };
}

#[cfg(feature = "flex")]
pub(crate) mod flex {
    use std::borrow::Cow;

    use burn::backend::Flex;
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, Element, TensorData};

    use super::*;
    use crate::kernels;

    /// A tensor whose buffer is exactly its elements in row-major order and
    /// owned by it alone, so a kernel may write it in place. Copies only when
    /// the buffer is shared or laid out otherwise.
    pub(crate) fn owned_contiguous(t: FlexTensor) -> FlexTensor {
        let writable = |t: &FlexTensor| {
            t.is_unique()
                && t.layout().is_contiguous()
                && t.layout().start_offset() == 0
                && t.bytes().len() == t.layout().num_elements() * t.dtype().size()
        };
        if writable(&t) {
            return t;
        }
        // A strided view becomes a fresh buffer of its own here...
        let contiguous = t.to_contiguous();
        drop(t);
        let t = contiguous;
        if writable(&t) {
            return t;
        }
        // ...a shared buffer, or rows of a larger one, is copied.
        let shape = t.layout().shape().clone();
        let data = match t.dtype() {
            DType::F64 => TensorData::new(t.as_slice::<f64>().expect(CONTIGUOUS).to_vec(), shape),
            _ => TensorData::new(t.as_slice::<f32>().expect(CONTIGUOUS).to_vec(), shape),
        };
        FlexTensor::from_data(data)
    }

    /// The tensor's elements in row-major order, borrowed where its buffer
    /// already holds them so (a row range of a larger tensor too).
    pub(crate) fn read<T: Element + bytemuck::Pod>(t: &FlexTensor) -> Cow<'_, [T]> {
        match t.as_slice::<T>() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(
                t.to_contiguous()
                    .as_slice::<T>()
                    .expect("contiguous")
                    .to_vec(),
            ),
        }
    }

    pub(crate) fn tensor<T: Element>(values: Vec<T>, shape: [usize; 2]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape))
    }

    const CONTIGUOUS: &str = "a contiguous tensor after to_contiguous";

    fn forward(act: Activation, x: FlexTensor) -> FlexTensor {
        let mut x = owned_contiguous(x);
        let width = width(&x);
        match x.dtype() {
            DType::F64 => kernels::forward_f64(act, x.storage_mut(), width),
            DType::F32 => kernels::forward_f32(act, x.storage_mut(), width),
            other => panic!("charrnn activations: unsupported dtype {other:?}"),
        }
        x
    }

    fn backward(act: Activation, y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let mut grad = owned_contiguous(grad);
        let y = y.to_contiguous();
        let width = width(&y);
        match grad.dtype() {
            DType::F64 => {
                let y = y.as_slice().expect(CONTIGUOUS);
                kernels::backward_f64(act, grad.storage_mut(), y, width)
            }
            DType::F32 => {
                let y = y.as_slice().expect(CONTIGUOUS);
                kernels::backward_f32(act, grad.storage_mut(), y, width)
            }
            other => panic!("charrnn activations: unsupported dtype {other:?}"),
        }
        grad
    }

    cpu_backend!(Flex);
}

#[cfg(feature = "ndarray")]
mod ndarray {
    use burn::backend::NdArray;
    use burn::backend::ndarray::NdArrayTensor;

    use super::*;
    use crate::kernels;

    /// The tensor's array in row-major order, owned (copy-on-write when shared).
    macro_rules! standard {
        ($storage:expr) => {{
            let a = $storage.into_shared();
            if a.is_standard_layout() {
                a
            } else {
                a.as_standard_layout().into_owned().into_shared()
            }
        }};
    }

    fn forward(act: Activation, x: NdArrayTensor) -> NdArrayTensor {
        let width = width(&x);
        match x {
            NdArrayTensor::F32(s) => {
                let mut a = standard!(s);
                kernels::forward_f32(act, a.as_slice_mut().expect("standard layout"), width);
                a.into()
            }
            NdArrayTensor::F64(s) => {
                let mut a = standard!(s);
                kernels::forward_f64(act, a.as_slice_mut().expect("standard layout"), width);
                a.into()
            }
            other => panic!("charrnn activations: unsupported dtype {:?}", other.dtype()),
        }
    }

    fn backward(act: Activation, y: NdArrayTensor, grad: NdArrayTensor) -> NdArrayTensor {
        let width = width(&y);
        match (y, grad) {
            (NdArrayTensor::F32(y), NdArrayTensor::F32(g)) => {
                let (y, mut g) = (standard!(y), standard!(g));
                let (gs, ys) = (g.as_slice_mut(), y.as_slice());
                kernels::backward_f32(act, gs.expect("standard"), ys.expect("standard"), width);
                g.into()
            }
            (NdArrayTensor::F64(y), NdArrayTensor::F64(g)) => {
                let (y, mut g) = (standard!(y), standard!(g));
                let (gs, ys) = (g.as_slice_mut(), y.as_slice());
                kernels::backward_f64(act, gs.expect("standard"), ys.expect("standard"), width);
                g.into()
            }
            (y, g) => panic!(
                "charrnn activations: unsupported dtypes {:?}, {:?}",
                y.dtype(),
                g.dtype()
            ),
        }
    }

    cpu_backend!(NdArray);
}

/// Autodiff: the inner backend's forward, with a backward node holding y.
impl<B: Backend + Activations, C: CheckpointStrategy> Activations for Autodiff<B, C> {
    fn activate(x: FloatTensor<Self>, act: Activation) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        // compute_bound: keep y rather than recompute it under checkpointing.
        match ActivationBackward(act)
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::activate(x, act);
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::activate(x, act)),
        }
    }

    // Only a second derivative would differentiate the backward; nothing
    // here needs one, but composing Burn's own ops keeps it correct.
    fn activate_grad(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self> {
        let one_minus = |t| Self::float_add_scalar(Self::float_neg(t), 1f32.into());
        let sigmoid_grad = |y: FloatTensor<Self>, grad| {
            Self::float_mul(grad, Self::float_mul(y.clone(), one_minus(y)))
        };
        let tanh_grad = |y: FloatTensor<Self>, grad| {
            Self::float_mul(grad, one_minus(Self::float_mul(y.clone(), y)))
        };
        match act {
            Activation::Tanh => tanh_grad(y, grad),
            Activation::Sigmoid => sigmoid_grad(y, grad),
            Activation::LogSoftmax => {
                let last = y.shape().num_dims() - 1;
                let total = Self::float_sum_dim(grad.clone(), last);
                Self::float_sub(grad, Self::float_mul(Self::float_exp(y), total))
            }
            Activation::LstmGates => {
                // Block by block: σ′ on i, f, o and tanh′ on g.
                let shape = y.shape();
                let (rows, h) = (shape[0], shape[1] / 4);
                let block = |t: &FloatTensor<Self>, k: usize| {
                    Self::float_slice(
                        t.clone(),
                        &[Slice::from(0..rows), Slice::from(k * h..(k + 1) * h)],
                    )
                };
                let blocks = (0..4)
                    .map(|k| {
                        let (y, g) = (block(&y, k), block(&grad, k));
                        if k == 2 {
                            tanh_grad(y, g)
                        } else {
                            sigmoid_grad(y, g)
                        }
                    })
                    .collect();
                Self::float_cat(blocks, 1)
            }
        }
    }
}

/// The backward node: its state is the forward's output.
#[derive(Debug)]
struct ActivationBackward(Activation);

impl<B: Backend + Activations> Backward<B, 1> for ActivationBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let y = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::activate_grad(y, grad, self.0)
        });
    }
}
