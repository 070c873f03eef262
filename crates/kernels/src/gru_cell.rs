//! One GRU step, forward and backward, as the fused layer
//! ([`crate::gru_layer`]) runs it T times per chunk (PyTorch's `nn.GRU`
//! cell, gate order r, z, n).
//!
//!   forward:   HP = h_{t−1}·W_hh + b_hh                         [B, 3H]
//!              [r z] = σ(XP_t[r z] + HP[r z]);  HP_n = HP[n]
//!              n = tanh(XP_t[n] + r ⊙ HP_n);  h = n + z ⊙ (h_{t−1} − n)
//!   backward:  dh = dh_t(from above) + dh_t(from step t+1)
//!              dz = dh ⊙ (h_{t−1} − n);  dh_direct = dh ⊙ z
//!              da_n = (dh − dh_direct) ⊙ (1 − n²)
//!              da_r = (da_n ⊙ HP_n) ⊙ r(1−r);  da_z = dz ⊙ z(1−z)
//!              dHP = [da_r da_z da_n ⊙ r];  dXP = [da_r da_z da_n]
//!   (the layer then sets dh_{t−1} = dh_direct + dHP·W_hhᵀ)
//!
//! [`forward_by_ops`] and [`backward_by_ops`] are those lines as Burn ops,
//! a tensor per line (what ndarray runs); on flex they are one pass over
//! the step's rows ([`forward_step`], [`backward_step`]) with the same
//! operations in the same order, so the same bits (tested below), as the
//! LSTM's ([`crate::lstm_cell`]).

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::{Backend, TensorMetadata, tensor::FloatTensor};
use burn::tensor::Slice;

use crate::extension::Activations;
use crate::kernels::{Activation, Real};

/// What one forward step makes (each [B, H] but rz).
#[derive(Clone, Debug)]
pub struct GruStep<B: Backend> {
    /// [B, 2H]: σ(r) σ(z).
    pub rz: FloatTensor<B>,
    pub n: FloatTensor<B>,
    /// HP's n block: h_{t−1}·W_hh[n] + b_hh[n].
    pub hp_n: FloatTensor<B>,
    pub h: FloatTensor<B>,
}

/// The backward step's results.
pub struct GruGrads<B: Backend> {
    /// [B, 3H]: the gradient of HP (the recurrent product and b_hh).
    pub d_hp: FloatTensor<B>,
    /// [B, 3H]: the gradient of this step's input projection.
    pub d_xp: FloatTensor<B>,
    /// [B, H]: dh ⊙ z, h_{t−1}'s gradient through the blend alone.
    pub dh_direct: FloatTensor<B>,
}

pub trait GruCell: Backend + Activations {
    /// `xp` [B, 3H] (this step's input projection), `product`
    /// h_{t−1}·W_hh [B, 3H], `b_hh` [1, 3H], `h_prev` [B, H].
    fn cell_forward(
        xp: FloatTensor<Self>,
        product: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
        h_prev: FloatTensor<Self>,
    ) -> GruStep<Self> {
        forward_by_ops::<Self>(xp, product, b_hh, h_prev)
    }

    /// The step's gradients from its saved rz, n, HP_n and h_{t−1}, the
    /// output's gradient `dh_out` [B, H] and the next step's dh_t (none at
    /// the last step).
    fn cell_backward(
        saved: [FloatTensor<Self>; 4],
        dh_out: FloatTensor<Self>,
        dh_next: Option<FloatTensor<Self>>,
    ) -> GruGrads<Self> {
        backward_by_ops::<Self>(saved, dh_out, dh_next)
    }
}

#[cfg(feature = "ndarray")]
impl GruCell for burn::backend::NdArray {}

/// Columns `c` of a [rows, cols] tensor.
pub(crate) fn cols<B: Backend>(t: &FloatTensor<B>, c: std::ops::Range<usize>) -> FloatTensor<B> {
    let n = t.shape()[0];
    B::float_slice(t.clone(), &[Slice::from(0..n), Slice::from(c)])
}

/// The forward step as Burn ops, a tensor per line of the module doc.
pub(crate) fn forward_by_ops<B: Backend + Activations>(
    x: FloatTensor<B>,
    product: FloatTensor<B>,
    b_hh: FloatTensor<B>,
    h_prev: FloatTensor<B>,
) -> GruStep<B> {
    let hs = h_prev.shape()[1];
    let hp = B::float_add(product, b_hh); // [B,3H]
    let rz = B::activate(
        B::float_add(cols::<B>(&x, 0..2 * hs), cols::<B>(&hp, 0..2 * hs)),
        Activation::Sigmoid,
    );
    let (r, z) = (cols::<B>(&rz, 0..hs), cols::<B>(&rz, hs..2 * hs));
    let hp_n = cols::<B>(&hp, 2 * hs..3 * hs);
    let n = B::activate(
        B::float_add(cols::<B>(&x, 2 * hs..3 * hs), B::float_mul(r, hp_n.clone())),
        Activation::Tanh,
    );
    let h = B::float_add(n.clone(), B::float_mul(z, B::float_sub(h_prev, n.clone())));
    GruStep { rz, n, hp_n, h }
}

/// The backward step as Burn ops, a tensor per line of the module doc.
pub(crate) fn backward_by_ops<B: Backend + Activations>(
    [rz, n, hp_n, h_prev]: [FloatTensor<B>; 4],
    dh_out: FloatTensor<B>,
    dh_next: Option<FloatTensor<B>>,
) -> GruGrads<B> {
    let hs = n.shape()[1];
    let dh = match dh_next {
        Some(d) => B::float_add(dh_out, d),
        None => dh_out,
    };
    let (r, z) = (cols::<B>(&rz, 0..hs), cols::<B>(&rz, hs..2 * hs));
    // h = n + z ⊙ (h_prev − n)
    let dz = B::float_mul(dh.clone(), B::float_sub(h_prev, n.clone()));
    let dh_direct = B::float_mul(dh.clone(), z);
    let dn = B::float_sub(dh, dh_direct.clone());
    // n = tanh(xn + r ⊙ hp_n)
    let da_n = B::activate_grad(n, dn, Activation::Tanh);
    let dr = B::float_mul(da_n.clone(), hp_n);
    let dhp_n = B::float_mul(da_n.clone(), r);
    // [r z] = σ(x[r z] + hp[r z])
    let da_rz = B::activate_grad(rz, B::float_cat(vec![dr, dz], 1), Activation::Sigmoid);
    GruGrads {
        d_hp: B::float_cat(vec![da_rz.clone(), dhp_n], 1),
        d_xp: B::float_cat(vec![da_rz, da_n], 1),
        dh_direct,
    }
}

/// The forward step on slices of `hidden` columns: `rz` [B, 2H], `n`,
/// `hp_n`, `h` [B, H] are written. `activate` is the activations' forward
/// kernel for the type.
#[inline(always)]
fn forward_step<T: Real>(
    hidden: usize,
    [xp, product, b_hh, h_prev]: [&[T]; 4],
    [rz, n, hp_n, h]: [&mut [T]; 4],
    activate: fn(Activation, &mut [T], usize),
) {
    let (h2, h3) = (2 * hidden, 3 * hidden);
    assert_eq!(b_hh.len(), h3, "b_hh is [1, 3H]");
    let rows = xp.chunks_exact(h3).zip(product.chunks_exact(h3));
    for ((x, p), (rz, (n, hp_n))) in rows.zip(
        rz.chunks_exact_mut(h2).zip(
            n.chunks_exact_mut(hidden)
                .zip(hp_n.chunks_exact_mut(hidden)),
        ),
    ) {
        for j in 0..h2 {
            rz[j] = x[j] + (p[j] + b_hh[j]);
        }
        activate(Activation::Sigmoid, rz, h2);
        for j in 0..hidden {
            hp_n[j] = p[h2 + j] + b_hh[h2 + j];
            n[j] = x[h2 + j] + rz[j] * hp_n[j];
        }
    }
    activate(Activation::Tanh, n, hidden);
    let rows = rz.chunks_exact(h2).zip(n.chunks_exact(hidden));
    for ((rz, n), (h_prev, h)) in
        rows.zip(h_prev.chunks_exact(hidden).zip(h.chunks_exact_mut(hidden)))
    {
        let z = &rz[hidden..];
        for j in 0..hidden {
            h[j] = n[j] + z[j] * (h_prev[j] - n[j]);
        }
    }
}

/// The backward step on slices of `hidden` columns: writes dHP and dXP
/// [B, 3H] and dh_direct [B, H].
#[inline(always)]
fn backward_step<T: Real>(
    hidden: usize,
    [rz, n, hp_n, h_prev, dh_out]: [&[T]; 5],
    dh_next: Option<&[T]>,
    [d_hp, d_xp, dh_direct]: [&mut [T]; 3],
) {
    let (h2, h3) = (2 * hidden, 3 * hidden);
    let rows = n.len() / hidden;
    for s in [n, hp_n, h_prev, dh_out, dh_direct as &[T]]
        .into_iter()
        .chain(dh_next)
    {
        assert_eq!(s.len(), rows * hidden, "a [B, H] input of another size");
    }
    assert_eq!(rz.len(), rows * h2, "rz is [B, 2H]");
    for row in 0..rows {
        let at = row * hidden..(row + 1) * hidden;
        let (r, z) = rz[row * h2..][..h2].split_at(hidden);
        let (n, hp_n, h_prev, dh_out) = (
            &n[at.clone()],
            &hp_n[at.clone()],
            &h_prev[at.clone()],
            &dh_out[at.clone()],
        );
        let dh_next = dh_next.map(|d| &d[at.clone()]);
        let dh_direct = &mut dh_direct[at];
        let d_hp = &mut d_hp[row * h3..][..h3];
        let d_xp = &mut d_xp[row * h3..][..h3];
        for j in 0..hidden {
            let dh = match dh_next {
                Some(d) => dh_out[j] + d[j],
                None => dh_out[j],
            };
            let dz = dh * (h_prev[j] - n[j]);
            dh_direct[j] = dh * z[j];
            let da_n = (dh - dh_direct[j]) * (T::ONE - n[j] * n[j]);
            let da_r = (da_n * hp_n[j]) * (r[j] * (T::ONE - r[j]));
            let da_z = dz * (z[j] * (T::ONE - z[j]));
            (d_hp[j], d_hp[hidden + j], d_hp[h2 + j]) = (da_r, da_z, da_n * r[j]);
            (d_xp[j], d_xp[hidden + j], d_xp[h2 + j]) = (da_r, da_z, da_n);
        }
    }
}

use crate::kernels::multiversion;

multiversion!(forward_rows_f32(hidden: usize, ins: [&[f32]; 4], outs: [&mut [f32]; 4]) {
    forward_step(hidden, ins, outs, crate::kernels::forward_f32)
});

multiversion!(backward_rows_f32(
    hidden: usize,
    ins: [&[f32]; 5],
    dh_next: Option<&[f32]>,
    outs: [&mut [f32]; 3]
) {
    backward_step(hidden, ins, dh_next, outs)
});

/// [`forward_step`] and [`backward_step`] for either float type (f32's
/// compiled for the CPU's vector width).
pub(crate) trait Rows: Real {
    fn forward_rows(h: usize, ins: [&[Self]; 4], outs: [&mut [Self]; 4]);
    fn backward_rows(h: usize, ins: [&[Self]; 5], next: Option<&[Self]>, outs: [&mut [Self]; 3]);
}

impl Rows for f32 {
    fn forward_rows(h: usize, ins: [&[f32]; 4], outs: [&mut [f32]; 4]) {
        forward_rows_f32(h, ins, outs)
    }
    fn backward_rows(h: usize, ins: [&[f32]; 5], next: Option<&[f32]>, outs: [&mut [f32]; 3]) {
        backward_rows_f32(h, ins, next, outs)
    }
}

impl Rows for f64 {
    fn forward_rows(h: usize, ins: [&[f64]; 4], outs: [&mut [f64]; 4]) {
        forward_step(h, ins, outs, crate::kernels::forward_f64)
    }
    fn backward_rows(h: usize, ins: [&[f64]; 5], next: Option<&[f64]>, outs: [&mut [f64]; 3]) {
        backward_step(h, ins, next, outs)
    }
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::Flex;
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, Element};

    use super::*;
    use crate::extension::flex::{read, tensor};

    fn forward<T: Rows + Element + bytemuck::Pod>(
        [xp, product, b_hh, h_prev]: [&FlexTensor; 4],
    ) -> GruStep<Flex> {
        let [rows, hidden] = [0, 1].map(|d| h_prev.shape()[d]);
        let new = |cols: usize| vec![T::ZERO; rows * cols];
        let (mut rz, mut n, mut hp_n, mut h) =
            (new(2 * hidden), new(hidden), new(hidden), new(hidden));
        T::forward_rows(
            hidden,
            [&read(xp), &read(product), &read(b_hh), &read(h_prev)],
            [&mut rz, &mut n, &mut hp_n, &mut h],
        );
        GruStep {
            rz: tensor(rz, [rows, 2 * hidden]),
            n: tensor(n, [rows, hidden]),
            hp_n: tensor(hp_n, [rows, hidden]),
            h: tensor(h, [rows, hidden]),
        }
    }

    fn backward<T: Rows + Element + bytemuck::Pod>(
        [rz, n, hp_n, h_prev, dh_out]: [&FlexTensor; 5],
        dh_next: Option<&FlexTensor>,
    ) -> GruGrads<Flex> {
        let [rows, hidden] = [0, 1].map(|d| n.shape()[d]);
        let (mut d_hp, mut d_xp) = (
            vec![T::ZERO; rows * 3 * hidden],
            vec![T::ZERO; rows * 3 * hidden],
        );
        let mut dh_direct = vec![T::ZERO; rows * hidden];
        let dh_next = dh_next.map(read::<T>);
        T::backward_rows(
            hidden,
            [
                &read(rz),
                &read(n),
                &read(hp_n),
                &read(h_prev),
                &read(dh_out),
            ],
            dh_next.as_deref(),
            [&mut d_hp, &mut d_xp, &mut dh_direct],
        );
        GruGrads {
            d_hp: tensor(d_hp, [rows, 3 * hidden]),
            d_xp: tensor(d_xp, [rows, 3 * hidden]),
            dh_direct: tensor(dh_direct, [rows, hidden]),
        }
    }

    impl GruCell for Flex {
        fn cell_forward(
            xp: FlexTensor,
            product: FlexTensor,
            b_hh: FlexTensor,
            h_prev: FlexTensor,
        ) -> GruStep<Self> {
            let ins = [&xp, &product, &b_hh, &h_prev];
            match h_prev.dtype() {
                DType::F32 => forward::<f32>(ins),
                DType::F64 => forward::<f64>(ins),
                _ => forward_by_ops::<Self>(xp, product, b_hh, h_prev),
            }
        }

        fn cell_backward(
            saved: [FlexTensor; 4],
            dh_out: FlexTensor,
            dh_next: Option<FlexTensor>,
        ) -> GruGrads<Self> {
            let [rz, n, hp_n, h_prev] = &saved;
            let ins = [rz, n, hp_n, h_prev, &dh_out];
            match dh_out.dtype() {
                DType::F32 => backward::<f32>(ins, dh_next.as_ref()),
                DType::F64 => backward::<f64>(ins, dh_next.as_ref()),
                _ => backward_by_ops::<Self>(saved, dh_out, dh_next),
            }
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::DType;

    use super::*;
    use crate::lstm_cell::tests::{same, wave};

    #[test]
    fn fused_steps_give_the_bits_of_the_steps_in_burns_ops() {
        for dtype in [DType::F32, DType::F64] {
            for (rows, hidden) in [(1, 1), (3, 5), (7, 33), (50, 128)] {
                let case = format!("{dtype:?} B {rows} H {hidden}");
                let xp = wave(rows, 3 * hidden, 0.1, 3.0, dtype, true);
                let product = wave(rows, 3 * hidden, 0.7, 3.0, dtype, false);
                let b_hh = wave(1, 3 * hidden, 1.9, 1.0, dtype, false);
                let h_prev = wave(rows, hidden, 1.3, 1.0, dtype, true);
                let ins = [xp, product, b_hh, h_prev.clone()];
                let [x, p, b, h] = ins.clone();
                let fused = Flex::cell_forward(x, p, b, h);
                let [x, p, b, h] = ins;
                let ops = forward_by_ops::<Flex>(x, p, b, h);
                for (f, o, what) in [
                    (&fused.rz, &ops.rz, "rz"),
                    (&fused.n, &ops.n, "n"),
                    (&fused.hp_n, &ops.hp_n, "HP_n"),
                    (&fused.h, &ops.h, "h"),
                ] {
                    same(f, o, &format!("{case} forward {what}"));
                }
                for last in [true, false] {
                    let dh_out = wave(rows, hidden, 2.1, 1.0, dtype, true);
                    let dh_next = (!last).then(|| wave(rows, hidden, 2.9, 1.0, dtype, false));
                    let saved = [
                        ops.rz.clone(),
                        ops.n.clone(),
                        ops.hp_n.clone(),
                        h_prev.clone(),
                    ];
                    let fused = Flex::cell_backward(saved.clone(), dh_out.clone(), dh_next.clone());
                    let ops = backward_by_ops::<Flex>(saved, dh_out, dh_next);
                    for (f, o, what) in [
                        (&fused.d_hp, &ops.d_hp, "dHP"),
                        (&fused.d_xp, &ops.d_xp, "dXP"),
                        (&fused.dh_direct, &ops.dh_direct, "dh_direct"),
                    ] {
                        same(f, o, &format!("{case} last {last} {what}"));
                    }
                }
            }
        }
    }
}
