//! One LSTM step, forward and backward, as the fused layer
//! ([`crate::lstm_layer`]) runs it T times per chunk.
//!
//!   forward:   G = σ σ tanh σ (XP_t + h_{t−1}·W_hh)    [B, 4H]  (i f g o)
//!              c = f ⊙ c_{t−1} + i ⊙ g;  h = o ⊙ tanh(c)
//!   backward:  dh = dh_t(from above) + dh_t(from step t+1)
//!              do = dh ⊙ tanh(c);  dc = dc_t + (dh ⊙ o) ⊙ (1 − tanh²(c))
//!              di = dc ⊙ g;  df = dc ⊙ c_{t−1};  dg = dc ⊙ i;  dc_{t−1} = dc ⊙ f
//!              dG = [di·i(1−i)  df·f(1−f)  dg·(1−g²)  do·o(1−o)]
//!
//! [`forward_by_ops`] and [`backward_by_ops`] are those lines as Burn ops,
//! one tensor per line (what ndarray runs). On flex the same lines are one
//! pass over the step's rows ([`forward_step`], [`backward_step`]): the
//! same operations on the same values in the same order, so the same bits,
//! without a dozen [B, H] tensors allocated, written and read per step
//! (the tests below hold the two to each other bit for bit, f32 and f64).

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::{Backend, tensor::FloatTensor};

use crate::extension::Activations;
use crate::kernels::{Activation, Real};
use crate::lstm_layer::block;

/// What one forward step makes (each [B, H] but the gates).
#[derive(Clone, Debug)]
pub struct Step<B: Backend> {
    /// [B, 4H]: σ(i) σ(f) tanh(g) σ(o).
    pub gates: FloatTensor<B>,
    pub c: FloatTensor<B>,
    pub tanh_c: FloatTensor<B>,
    pub h: FloatTensor<B>,
}

pub trait LstmCell: Backend + Activations {
    /// `xp` [B, 4H] (this step's input projection), `product`
    /// h_{t−1}·W_hh [B, 4H], `c_prev` [B, H].
    fn cell_forward(
        xp: FloatTensor<Self>,
        product: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
    ) -> Step<Self> {
        forward_by_ops::<Self>(xp, product, c_prev)
    }

    /// The step's (dG [B, 4H], dc_{t−1} [B, H]) from its saved gates,
    /// tanh(c) and c_{t−1}, the output's gradient `dh_out` [B, H], the next
    /// step's dh_t (none at the last step) and dc_t.
    fn cell_backward(
        gates: FloatTensor<Self>,
        tanh_c: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        dh_out: FloatTensor<Self>,
        dh_next: Option<FloatTensor<Self>>,
        dc: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        backward_by_ops::<Self>(gates, tanh_c, c_prev, dh_out, dh_next, dc)
    }
}

#[cfg(feature = "ndarray")]
impl LstmCell for burn::backend::NdArray {}

/// The forward step as Burn ops, a tensor per line of the module doc.
pub(crate) fn forward_by_ops<B: Backend + Activations>(
    xp: FloatTensor<B>,
    product: FloatTensor<B>,
    c_prev: FloatTensor<B>,
) -> Step<B> {
    let gates = B::activate(B::float_add(xp, product), Activation::LstmGates); // [B,4H]
    let [i, f, g, o] = [0, 1, 2, 3].map(|k| block::<B>(&gates, k));
    let c = B::float_add(B::float_mul(f, c_prev), B::float_mul(i, g)); // [B,H]
    let tanh_c = B::activate(c.clone(), Activation::Tanh);
    let h = B::float_mul(o, tanh_c.clone()); // [B,H]
    Step {
        gates,
        c,
        tanh_c,
        h,
    }
}

/// The backward step as Burn ops, a tensor per line of the module doc.
pub(crate) fn backward_by_ops<B: Backend + Activations>(
    gates: FloatTensor<B>,
    tanh_c: FloatTensor<B>,
    c_prev: FloatTensor<B>,
    dh_out: FloatTensor<B>,
    dh_next: Option<FloatTensor<B>>,
    dc: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let dh = match dh_next {
        Some(d) => B::float_add(dh_out, d),
        None => dh_out,
    };
    let [i, f, g, o] = [0, 1, 2, 3].map(|k| block::<B>(&gates, k));
    // h = o ⊙ tanh(c): do = dh ⊙ tanh(c), dc += (dh ⊙ o) ⊙ (1 − tanh²(c))
    let d_o = B::float_mul(dh.clone(), tanh_c.clone());
    let dc_from_h = B::activate_grad(tanh_c, B::float_mul(dh, o), Activation::Tanh);
    let dc = B::float_add(dc, dc_from_h);
    // c = f ⊙ c_prev + i ⊙ g
    let di = B::float_mul(dc.clone(), g);
    let dg = B::float_mul(dc.clone(), i);
    let df = B::float_mul(dc.clone(), c_prev);
    let dc_prev = B::float_mul(dc, f);
    let d_post = B::float_cat(vec![di, df, dg, d_o], 1); // [B,4H]
    let d_pre = B::activate_grad(gates, d_post, Activation::LstmGates);
    (d_pre, dc_prev)
}

/// A [B, 4H] row's four gate blocks.
#[inline(always)]
fn blocks<T>(row: &[T], hidden: usize) -> [&[T]; 4] {
    let (i, rest) = row.split_at(hidden);
    let (f, rest) = rest.split_at(hidden);
    let (g, o) = rest.split_at(hidden);
    [i, f, g, &o[..hidden]]
}

/// The forward step on slices of `hidden` columns: `gates` [B, 4H] comes in
/// holding the product and leaves holding the activated gates; `c`,
/// `tanh_c`, `h` [B, H] are written. `activate` is the activations' forward
/// kernel for the type.
#[inline(always)]
fn forward_step<T: Real>(
    hidden: usize,
    xp: &[T],
    gates: &mut [T],
    c_prev: &[T],
    [c, tanh_c, h]: [&mut [T]; 3],
    activate: fn(Activation, &mut [T], usize),
) {
    assert_eq!(xp.len(), gates.len(), "input projection and product differ");
    for (g, &x) in gates.iter_mut().zip(xp) {
        *g = x + *g;
    }
    activate(Activation::LstmGates, gates, 4 * hidden);
    let rows = gates
        .chunks_exact(4 * hidden)
        .zip(c_prev.chunks_exact(hidden));
    for ((gates, c_prev), c) in rows.zip(c.chunks_exact_mut(hidden)) {
        let [i, f, g, _] = blocks(gates, hidden);
        for (j, c) in c.iter_mut().enumerate() {
            *c = f[j] * c_prev[j] + i[j] * g[j];
        }
    }
    tanh_c.copy_from_slice(c);
    activate(Activation::Tanh, tanh_c, hidden);
    let rows = gates
        .chunks_exact(4 * hidden)
        .zip(tanh_c.chunks_exact(hidden));
    for ((gates, tanh_c), h) in rows.zip(h.chunks_exact_mut(hidden)) {
        let [.., o] = blocks(gates, hidden);
        for (j, h) in h.iter_mut().enumerate() {
            *h = o[j] * tanh_c[j];
        }
    }
}

/// The backward step on slices of `hidden` columns: writes dG into `d_pre`
/// [B, 4H] and dc_{t−1} into `dc` [B, H] (which comes in holding dc_t).
#[inline(always)]
fn backward_step<T: Real>(
    hidden: usize,
    [gates, tanh_c, c_prev, dh_out]: [&[T]; 4],
    dh_next: Option<&[T]>,
    dc: &mut [T],
    d_pre: &mut [T],
) {
    let rows = dc.len() / hidden;
    for s in [gates, d_pre as &[T]] {
        assert_eq!(
            s.len(),
            4 * rows * hidden,
            "a [B, 4H] input of another size"
        );
    }
    for s in [tanh_c, c_prev, dh_out].into_iter().chain(dh_next) {
        assert_eq!(s.len(), rows * hidden, "a [B, H] input of another size");
    }
    for row in 0..rows {
        let at = row * hidden..(row + 1) * hidden;
        let [i, f, g, o] = blocks(&gates[4 * row * hidden..], hidden);
        let (tanh_c, c_prev, dh_out) = (
            &tanh_c[at.clone()],
            &c_prev[at.clone()],
            &dh_out[at.clone()],
        );
        let dh_next = dh_next.map(|d| &d[at.clone()]);
        let dc = &mut dc[at];
        let (d_i, rest) = d_pre[4 * row * hidden..][..4 * hidden].split_at_mut(hidden);
        let (d_f, rest) = rest.split_at_mut(hidden);
        let (d_g, d_o) = rest.split_at_mut(hidden);
        for j in 0..hidden {
            let dh = match dh_next {
                Some(d) => dh_out[j] + d[j],
                None => dh_out[j],
            };
            let y = tanh_c[j];
            let dc_t = dc[j] + (dh * o[j]) * (T::ONE - y * y);
            d_i[j] = (dc_t * g[j]) * (i[j] * (T::ONE - i[j]));
            d_f[j] = (dc_t * c_prev[j]) * (f[j] * (T::ONE - f[j]));
            d_g[j] = (dc_t * i[j]) * (T::ONE - g[j] * g[j]);
            d_o[j] = (dh * y) * (o[j] * (T::ONE - o[j]));
            dc[j] = dc_t * f[j];
        }
    }
}

use crate::kernels::multiversion;

multiversion!(forward_rows_f32(
    hidden: usize,
    xp: &[f32],
    gates: &mut [f32],
    c_prev: &[f32],
    outs: [&mut [f32]; 3]
) {
    forward_step(hidden, xp, gates, c_prev, outs, crate::kernels::forward_f32)
});

multiversion!(backward_rows_f32(
    hidden: usize,
    ins: [&[f32]; 4],
    dh_next: Option<&[f32]>,
    dc: &mut [f32],
    d_pre: &mut [f32]
) {
    backward_step(hidden, ins, dh_next, dc, d_pre)
});

/// [`forward_step`] and [`backward_step`] for either float type (f32's
/// compiled for the CPU's vector width).
pub(crate) trait Rows: Real {
    fn forward_rows(h: usize, xp: &[Self], g: &mut [Self], c: &[Self], outs: [&mut [Self]; 3]);
    fn backward_rows(
        h: usize,
        ins: [&[Self]; 4],
        n: Option<&[Self]>,
        dc: &mut [Self],
        d: &mut [Self],
    );
}

impl Rows for f32 {
    fn forward_rows(h: usize, xp: &[f32], g: &mut [f32], c: &[f32], outs: [&mut [f32]; 3]) {
        forward_rows_f32(h, xp, g, c, outs)
    }
    fn backward_rows(h: usize, ins: [&[f32]; 4], n: Option<&[f32]>, dc: &mut [f32], d: &mut [f32]) {
        backward_rows_f32(h, ins, n, dc, d)
    }
}

impl Rows for f64 {
    fn forward_rows(h: usize, xp: &[f64], g: &mut [f64], c: &[f64], outs: [&mut [f64]; 3]) {
        forward_step(h, xp, g, c, outs, crate::kernels::forward_f64)
    }
    fn backward_rows(h: usize, ins: [&[f64]; 4], n: Option<&[f64]>, dc: &mut [f64], d: &mut [f64]) {
        backward_step(h, ins, n, dc, d)
    }
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::Flex;
    use burn::backend::TensorMetadata;
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, Element};

    use super::*;
    use crate::extension::flex::{owned_contiguous, read, tensor};

    fn forward<T: Rows + Element + bytemuck::Pod>(
        xp: FlexTensor,
        product: FlexTensor,
        c_prev: FlexTensor,
    ) -> Step<Flex> {
        let [rows, hidden] = [0, 1].map(|d| c_prev.shape()[d]);
        // The product is the step's own: the gates are written over it.
        let mut gates = owned_contiguous(product);
        let new = || vec![T::ZERO; rows * hidden];
        let (mut c, mut tanh_c, mut h) = (new(), new(), new());
        T::forward_rows(
            hidden,
            &read::<T>(&xp),
            gates.storage_mut::<T>(),
            &read::<T>(&c_prev),
            [&mut c, &mut tanh_c, &mut h],
        );
        Step {
            gates,
            c: tensor(c, [rows, hidden]),
            tanh_c: tensor(tanh_c, [rows, hidden]),
            h: tensor(h, [rows, hidden]),
        }
    }

    fn backward<T: Rows + Element + bytemuck::Pod>(
        [gates, tanh_c, c_prev, dh_out]: [FlexTensor; 4],
        dh_next: Option<FlexTensor>,
        dc: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let [rows, hidden] = [0, 1].map(|d| tanh_c.shape()[d]);
        let mut dc = owned_contiguous(dc);
        let mut d_pre = vec![T::ZERO; rows * 4 * hidden];
        let dh_next = dh_next.as_ref().map(read::<T>);
        T::backward_rows(
            hidden,
            [
                &read(&gates),
                &read(&tanh_c),
                &read(&c_prev),
                &read(&dh_out),
            ],
            dh_next.as_deref(),
            dc.storage_mut::<T>(),
            &mut d_pre,
        );
        (tensor(d_pre, [rows, 4 * hidden]), dc)
    }

    impl LstmCell for Flex {
        fn cell_forward(xp: FlexTensor, product: FlexTensor, c_prev: FlexTensor) -> Step<Self> {
            match c_prev.dtype() {
                DType::F32 => forward::<f32>(xp, product, c_prev),
                DType::F64 => forward::<f64>(xp, product, c_prev),
                _ => forward_by_ops::<Self>(xp, product, c_prev),
            }
        }

        fn cell_backward(
            gates: FlexTensor,
            tanh_c: FlexTensor,
            c_prev: FlexTensor,
            dh_out: FlexTensor,
            dh_next: Option<FlexTensor>,
            dc: FlexTensor,
        ) -> (FlexTensor, FlexTensor) {
            let ins = [gates, tanh_c, c_prev, dh_out];
            match dc.dtype() {
                DType::F32 => backward::<f32>(ins, dh_next, dc),
                DType::F64 => backward::<f64>(ins, dh_next, dc),
                _ => {
                    let [gates, tanh_c, c_prev, dh_out] = ins;
                    backward_by_ops::<Self>(gates, tanh_c, c_prev, dh_out, dh_next, dc)
                }
            }
        }
    }
}

#[cfg(all(test, feature = "flex"))]
pub(crate) mod tests {
    use burn::backend::Flex;
    use burn::backend::TensorMetadata;
    use burn::backend::flex::FlexTensor;
    use burn::backend::ops::FloatTensorOps;
    use burn::tensor::{DType, Slice, TensorData};

    use super::*;

    /// [rows, cols] of values in ±`scale` (σ and tanh on both of their
    /// branches), as rows 1..=rows of a larger tensor when `view`, as the
    /// layer passes its input projections and output gradients.
    pub(crate) fn wave(
        rows: usize,
        cols: usize,
        seed: f64,
        scale: f64,
        dtype: DType,
        view: bool,
    ) -> FlexTensor {
        let all = rows + 2 * view as usize;
        let values = (0..all * cols).map(|i| (i as f64 * 0.737 + seed).sin() * scale);
        let data = match dtype {
            DType::F64 => TensorData::new(values.collect::<Vec<f64>>(), [all, cols]),
            _ => TensorData::new(values.map(|v| v as f32).collect::<Vec<f32>>(), [all, cols]),
        };
        let t = FlexTensor::from_data(data);
        if view {
            Flex::float_slice(t, &[Slice::from(1..rows + 1), Slice::from(0..cols)])
        } else {
            t
        }
    }

    fn bits(t: &FlexTensor) -> Vec<u64> {
        let t = t.to_contiguous();
        match t.dtype() {
            DType::F64 => t
                .as_slice::<f64>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect(),
            _ => t
                .as_slice::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits() as u64)
                .collect(),
        }
    }

    pub(crate) fn same(fused: &FlexTensor, ops: &FlexTensor, what: &str) {
        assert_eq!(fused.shape(), ops.shape(), "{what}: shapes");
        let (a, b) = (bits(fused), bits(ops));
        let differ = a.iter().zip(&b).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{what}: {differ} of {} elements differ", a.len());
    }

    #[test]
    fn fused_steps_give_the_bits_of_the_steps_in_burns_ops() {
        for dtype in [DType::F32, DType::F64] {
            for (rows, hidden) in [(1, 1), (3, 5), (7, 33), (50, 128)] {
                let case = format!("{dtype:?} B {rows} H {hidden}");
                let xp = wave(rows, 4 * hidden, 0.1, 3.0, dtype, true);
                let product = wave(rows, 4 * hidden, 0.7, 3.0, dtype, false);
                let c_prev = wave(rows, hidden, 1.3, 2.0, dtype, false);
                let fused = Flex::cell_forward(xp.clone(), product.clone(), c_prev.clone());
                let ops = forward_by_ops::<Flex>(xp, product, c_prev.clone());
                for (f, o, what) in [
                    (&fused.gates, &ops.gates, "gates"),
                    (&fused.c, &ops.c, "c"),
                    (&fused.tanh_c, &ops.tanh_c, "tanh c"),
                    (&fused.h, &ops.h, "h"),
                ] {
                    same(f, o, &format!("{case} forward {what}"));
                }
                for last in [true, false] {
                    let dh_out = wave(rows, hidden, 2.1, 1.0, dtype, true);
                    let dh_next = (!last).then(|| wave(rows, hidden, 2.9, 1.0, dtype, false));
                    let dc = wave(rows, hidden, 3.7, 1.0, dtype, last);
                    let saved = [ops.gates.clone(), ops.tanh_c.clone(), c_prev.clone()];
                    let [g, t, c] = saved.clone();
                    let fused =
                        Flex::cell_backward(g, t, c, dh_out.clone(), dh_next.clone(), dc.clone());
                    let [g, t, c] = saved;
                    let ops = backward_by_ops::<Flex>(g, t, c, dh_out, dh_next, dc);
                    same(&fused.0, &ops.0, &format!("{case} last {last} dG"));
                    same(&fused.1, &ops.1, &format!("{case} last {last} dc_prev"));
                }
            }
        }
    }
}
