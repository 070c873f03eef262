//! The activations registered with Burn: a backend-extension trait, its
//! implementation on flex and ndarray (the kernels on the tensors' buffers),
//! and on autodiff (the forward on the inner backend, saving the output,
//! and a backward node that calls the backward kernel).

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;

use crate::kernels::Activation;

/// Runs `act` on `x` through Burn's dispatch (flex or ndarray, autodiff or not).
pub fn apply<const D: usize>(act: Activation, x: Tensor<D>) -> Tensor<D> {
    let x = x.into_dispatch();
    let y = match act {
        Activation::Tanh => <Dispatch as Activations>::fast_tanh(x),
        Activation::Sigmoid => <Dispatch as Activations>::fast_sigmoid(x),
    };
    Tensor::from_dispatch(y)
}

/// The operations. `fast_*_grad(y, grad)` is grad · f′ written in the output y.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait Activations: Backend {
    fn fast_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
    fn fast_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self>;
    fn fast_tanh_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    fn fast_sigmoid_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::Flex;
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, TensorData};

    use super::*;
    use crate::kernels;

    /// A tensor whose buffer is exactly its elements in row-major order and
    /// owned by it alone, so a kernel may write it in place. Copies only when
    /// the buffer is shared or laid out otherwise.
    fn owned_contiguous(t: FlexTensor) -> FlexTensor {
        let n = t.layout().num_elements();
        let fits = t.is_unique()
            && t.layout().is_contiguous()
            && t.layout().start_offset() == 0
            && t.bytes().len() == n * t.dtype().size();
        if fits {
            return t;
        }
        let shape = t.layout().shape().clone();
        let t = t.to_contiguous();
        let data = match t.dtype() {
            DType::F64 => TensorData::new(t.as_slice::<f64>().expect(CONTIGUOUS).to_vec(), shape),
            _ => TensorData::new(t.as_slice::<f32>().expect(CONTIGUOUS).to_vec(), shape),
        };
        FlexTensor::from_data(data)
    }

    const CONTIGUOUS: &str = "a contiguous tensor after to_contiguous";

    fn forward(act: Activation, x: FlexTensor) -> FlexTensor {
        let mut x = owned_contiguous(x);
        match x.dtype() {
            DType::F64 => kernels::forward_f64(act, x.storage_mut()),
            DType::F32 => kernels::forward_f32(act, x.storage_mut()),
            other => panic!("charrnn activations: unsupported dtype {other:?}"),
        }
        x
    }

    fn backward(act: Activation, y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let mut grad = owned_contiguous(grad);
        let y = y.to_contiguous();
        match grad.dtype() {
            DType::F64 => {
                kernels::backward_f64(act, grad.storage_mut(), y.as_slice().expect(CONTIGUOUS))
            }
            DType::F32 => {
                kernels::backward_f32(act, grad.storage_mut(), y.as_slice().expect(CONTIGUOUS))
            }
            other => panic!("charrnn activations: unsupported dtype {other:?}"),
        }
        grad
    }

    impl Activations for Flex {
        fn fast_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
            forward(Activation::Tanh, x)
        }
        fn fast_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
            forward(Activation::Sigmoid, x)
        }
        fn fast_tanh_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
            backward(Activation::Tanh, y, grad)
        }
        fn fast_sigmoid_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
            backward(Activation::Sigmoid, y, grad)
        }
    }
}

#[cfg(feature = "ndarray")]
mod ndarray {
    use burn::backend::NdArray;
    use burn::backend::TensorMetadata;
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
        match x {
            NdArrayTensor::F32(s) => {
                let mut a = standard!(s);
                kernels::forward_f32(act, a.as_slice_mut().expect("standard layout"));
                a.into()
            }
            NdArrayTensor::F64(s) => {
                let mut a = standard!(s);
                kernels::forward_f64(act, a.as_slice_mut().expect("standard layout"));
                a.into()
            }
            other => panic!("charrnn activations: unsupported dtype {:?}", other.dtype()),
        }
    }

    fn backward(act: Activation, y: NdArrayTensor, grad: NdArrayTensor) -> NdArrayTensor {
        match (y, grad) {
            (NdArrayTensor::F32(y), NdArrayTensor::F32(g)) => {
                let (y, mut g) = (standard!(y), standard!(g));
                let (gs, ys) = (g.as_slice_mut(), y.as_slice());
                kernels::backward_f32(act, gs.expect("standard"), ys.expect("standard"));
                g.into()
            }
            (NdArrayTensor::F64(y), NdArrayTensor::F64(g)) => {
                let (y, mut g) = (standard!(y), standard!(g));
                let (gs, ys) = (g.as_slice_mut(), y.as_slice());
                kernels::backward_f64(act, gs.expect("standard"), ys.expect("standard"));
                g.into()
            }
            (y, g) => panic!(
                "charrnn activations: unsupported dtypes {:?}, {:?}",
                y.dtype(),
                g.dtype()
            ),
        }
    }

    impl Activations for NdArray {
        fn fast_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
            forward(Activation::Tanh, x)
        }
        fn fast_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
            forward(Activation::Sigmoid, x)
        }
        fn fast_tanh_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
            backward(Activation::Tanh, y, grad)
        }
        fn fast_sigmoid_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
            backward(Activation::Sigmoid, y, grad)
        }
    }
}

/// Autodiff: the inner backend's forward, with a backward node holding y.
impl<B: Backend + Activations, C: CheckpointStrategy> Activations for Autodiff<B, C> {
    fn fast_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked::<B, C>(Activation::Tanh, x)
    }
    fn fast_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked::<B, C>(Activation::Sigmoid, x)
    }
    // Second derivatives are not needed by anything here; composing Burn's
    // own differentiable ops keeps them correct if someone asks.
    fn fast_tanh_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let one_minus_y2 =
            Self::float_add_scalar(Self::float_neg(Self::float_mul(y.clone(), y)), 1f32.into());
        Self::float_mul(grad, one_minus_y2)
    }
    fn fast_sigmoid_grad(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let one_minus_y = Self::float_add_scalar(Self::float_neg(y.clone()), 1f32.into());
        Self::float_mul(grad, Self::float_mul(y, one_minus_y))
    }
}

/// The backward node: its state is the forward's output.
#[derive(Debug)]
struct ActivationBackward(Activation);

impl<B: Backend + Activations> Backward<B, 1> for ActivationBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let y = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| match self.0 {
            Activation::Tanh => B::fast_tanh_grad(y, grad),
            Activation::Sigmoid => B::fast_sigmoid_grad(y, grad),
        });
    }
}

fn tracked<B: Backend + Activations, C: CheckpointStrategy>(
    act: Activation,
    x: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let forward = |x| match act {
        Activation::Tanh => B::fast_tanh(x),
        Activation::Sigmoid => B::fast_sigmoid(x),
    };
    let (x, node) = x.into_parts();
    // compute_bound: keep y rather than recompute it under checkpointing.
    match ActivationBackward(act)
        .prepare::<C>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let y = forward(x);
            prep.finish(y.clone(), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x)),
    }
}
