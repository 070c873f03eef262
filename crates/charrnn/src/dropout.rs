//! Dropout masks, drawn on the host from a seeded generator whose state goes
//! into the checkpoint, so a resumed run draws exactly the masks a straight
//! run would (a backend's global RNG could not promise that).
//!
//! Inverted dropout: each unit is kept with probability 1 − p and scaled by
//! 1/(1 − p), so evaluation and sampling use the network unchanged. A mask
//! is new at every step of a chunk (PyTorch's `nn.GRU(dropout=p)`), or
//! locked: one per stream for the whole chunk (variational dropout, Gal &
//! Ghahramani 2016, as AWD-LSTM's `LockedDropout` applies it between layers).

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Precision;

#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    /// The probability of dropping a unit, in [0, 1).
    pub p: f64,
    /// One mask per stream for every step of a chunk, instead of one per step.
    pub locked: bool,
    pub rng: ChaCha8Rng,
}

impl Dropout {
    /// The generator is seeded from `seed` on its own stream, apart from the
    /// sampler's (which uses stream 0 of the same seed).
    pub fn new(p: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        Self {
            p,
            locked: false,
            rng,
        }
    }

    /// The same generator, its masks locked across a chunk's steps (or not).
    pub fn locked(self, locked: bool) -> Self {
        Self { locked, ..self }
    }

    /// One mask [steps·batch, hidden] per layer on `device` (rows time-major,
    /// as the network's), or None without dropout.
    pub fn masks(
        &mut self,
        layers: usize,
        [steps, batch]: [usize; 2],
        hidden: usize,
        precision: Precision,
        device: &Device,
    ) -> Option<Vec<Tensor<2>>> {
        let data = self.mask_data(layers, [steps, batch], hidden, precision)?;
        Some(on_device(data, precision, device))
    }

    /// The same masks on the host: steps·batch·hidden draws per layer, or,
    /// locked, batch·hidden draws repeated at every step.
    pub fn mask_data(
        &mut self,
        layers: usize,
        [steps, batch]: [usize; 2],
        hidden: usize,
        precision: Precision,
    ) -> Option<Vec<TensorData>> {
        match self.locked {
            false => self.draw(self.p, layers, [steps * batch, hidden], 1, precision),
            true => self.draw(self.p, layers, [batch, hidden], steps, precision),
        }
    }

    /// Weight-drop masks (see [`crate::models::layer::Layer::w_hh_mask`]): one
    /// [H, G·H] per layer, dropping each weight with probability `p`, drawn
    /// after the iteration's output masks from the same generator; None
    /// when `p` is 0 (and nothing drawn, so runs without it are unchanged).
    pub fn weight_mask_data(
        &mut self,
        p: f64,
        layers: usize,
        shape: [usize; 2],
        precision: Precision,
    ) -> Option<Vec<TensorData>> {
        self.draw(p, layers, shape, 1, precision)
    }

    /// [`Dropout::weight_mask_data`] on `device`.
    pub fn weight_masks(
        &mut self,
        p: f64,
        layers: usize,
        shape: [usize; 2],
        precision: Precision,
        device: &Device,
    ) -> Option<Vec<Tensor<2>>> {
        let data = self.weight_mask_data(p, layers, shape, precision)?;
        Some(on_device(data, precision, device))
    }

    /// One mask of `shape` per layer (0 with probability `p`, else
    /// 1/(1 − p)), stacked `repeat` times along its rows.
    fn draw(
        &mut self,
        p: f64,
        layers: usize,
        shape: [usize; 2],
        repeat: usize,
        precision: Precision,
    ) -> Option<Vec<TensorData>> {
        if p == 0.0 {
            return None;
        }
        let keep = 1.0 / (1.0 - p);
        let len = shape[0] * shape[1];
        let stacked = [shape[0] * repeat, shape[1]];
        let masks = (0..layers)
            .map(|_| {
                let words = self.words(len);
                // Straight into the tensor's element type (0 or `keep`).
                match precision {
                    Precision::F32 => {
                        TensorData::new(mask(&words, p, keep as f32).repeat(repeat), stacked)
                    }
                    Precision::F64 => {
                        TensorData::new(mask(&words, p, keep).repeat(repeat), stacked)
                    }
                }
            })
            .collect();
        Some(masks)
    }

    /// `len` words from the generator in one call: `fill` reads the same
    /// words as `len` calls of `next_u64`, in the same order, in a loop 2-3×
    /// faster (the masks are drawn serially, before the shards start).
    fn words(&mut self, len: usize) -> Vec<u64> {
        let mut words = vec![0u64; len];
        self.rng.fill(&mut words[..]);
        words
    }
}

/// Host masks as tensors on `device`.
fn on_device(masks: Vec<TensorData>, precision: Precision, device: &Device) -> Vec<Tensor<2>> {
    masks
        .into_iter()
        .map(|d| Tensor::from_data(d, (device, precision.dtype())))
        .collect()
}

/// 0 where u < p and `keep` elsewhere, u ~ U[0, 1) made from each word as
/// `random::<f64>()` makes it (the top 53 bits times 2⁻⁵³).
fn mask<T: Copy + Default>(words: &[u64], p: f64, keep: T) -> Vec<T> {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let drop = |x: u64| (x >> 11) as f64 * SCALE < p;
    words
        .iter()
        .map(|&x| if drop(x) { T::default() } else { keep })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    /// The masks are the per-element definition `random::<f64>() < p`,
    /// and the generator ends where that definition leaves it.
    #[test]
    fn masks_are_one_uniform_draw_per_element_in_order() {
        for (rows, hidden) in [(3, 5), (7, 33), (50, 512)] {
            let mut d = Dropout::new(0.25, 11);
            let _ = d.rng.next_u32(); // an odd word offset into the block
            let mut reference = d.rng.clone();
            let masks = d.mask_data(2, [1, rows], hidden, Precision::F64).unwrap();
            for mask in masks {
                let want: Vec<f64> = (0..rows * hidden)
                    .map(|_| {
                        if reference.random::<f64>() < 0.25 {
                            0.0
                        } else {
                            1.0 / 0.75
                        }
                    })
                    .collect();
                assert_eq!(
                    mask.try_into_vec::<f64>().unwrap(),
                    want,
                    "[{rows}, {hidden}]"
                );
            }
            assert_eq!(
                d.rng, reference,
                "the generator's position after [{rows}, {hidden}]"
            );
        }
    }

    #[test]
    fn masks_keep_one_minus_p_and_scale() {
        let device = Device::default();
        let mut d = Dropout::new(0.3, 7);
        let masks = d.masks(2, [4, 25], 50, Precision::F64, &device).unwrap();
        for m in masks {
            let v: Vec<f64> = m.into_data().iter::<f64>().collect();
            let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / v.len() as f64;
            assert!((kept - 0.7).abs() < 0.03, "kept {kept}");
            assert!(v.iter().all(|&x| x == 0.0 || (x - 1.0 / 0.7).abs() < 1e-15));
        }
        assert!(
            Dropout::new(0.0, 1)
                .masks(1, [3, 1], 3, Precision::F32, &device)
                .is_none()
        );
    }

    /// Locked masks are the per-step draw of one step, the same at every
    /// step of the chunk, and use up only that step's words.
    #[test]
    fn locked_masks_are_one_step_draw_repeated_over_the_chunk() {
        let (steps, batch, hidden) = (6, 4, 9);
        let mut locked = Dropout::new(0.4, 5).locked(true);
        let mut one_step = Dropout::new(0.4, 5);
        let masks = locked
            .mask_data(2, [steps, batch], hidden, Precision::F64)
            .unwrap();
        let want = one_step
            .mask_data(2, [1, batch], hidden, Precision::F64)
            .unwrap();
        for (mask, want) in masks.into_iter().zip(want) {
            assert_eq!(mask.shape().to_vec(), vec![steps * batch, hidden]);
            let (m, w) = (
                mask.try_to_vec::<f64>().unwrap(),
                want.try_to_vec::<f64>().unwrap(),
            );
            for t in 0..steps {
                assert_eq!(
                    &m[t * batch * hidden..(t + 1) * batch * hidden],
                    &w[..],
                    "step {t}"
                );
            }
        }
        assert_eq!(locked.rng, one_step.rng, "the generator's position");
    }
}
