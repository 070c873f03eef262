//! Dropout masks, drawn on the host from a seeded generator whose state goes
//! into the checkpoint, so a resumed run draws exactly the masks a straight
//! run would (a backend's global RNG could not promise that).
//!
//! Inverted dropout: each unit is kept with probability 1 − p and scaled by
//! 1/(1 − p), so evaluation and sampling use the network unchanged.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Precision;

#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    /// The probability of dropping a unit, in [0, 1).
    pub p: f64,
    pub rng: ChaCha8Rng,
}

impl Dropout {
    /// The generator is seeded from `seed` on its own stream, apart from the
    /// sampler's (which uses stream 0 of the same seed).
    pub fn new(p: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        Self { p, rng }
    }

    /// One mask [rows, hidden] per layer on `device`, or None without dropout.
    pub fn masks(
        &mut self,
        layers: usize,
        rows: usize,
        hidden: usize,
        precision: Precision,
        device: &Device,
    ) -> Option<Vec<Tensor<2>>> {
        let data = self.mask_data(layers, rows, hidden, precision)?;
        let on_device = |d: TensorData| Tensor::from_data(d, (device, precision.dtype()));
        Some(data.into_iter().map(on_device).collect())
    }

    /// The same masks on the host.
    pub fn mask_data(
        &mut self,
        layers: usize,
        rows: usize,
        hidden: usize,
        precision: Precision,
    ) -> Option<Vec<TensorData>> {
        if self.p == 0.0 {
            return None;
        }
        let keep = 1.0 / (1.0 - self.p);
        let masks = (0..layers)
            .map(|_| {
                let values: Vec<f64> = (0..rows * hidden)
                    .map(|_| {
                        if self.rng.random::<f64>() < self.p {
                            0.0
                        } else {
                            keep
                        }
                    })
                    .collect();
                precision.data(values, [rows, hidden])
            })
            .collect();
        Some(masks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_one_minus_p_and_scale() {
        let device = Device::default();
        let mut d = Dropout::new(0.3, 7);
        let masks = d.masks(2, 100, 50, Precision::F64, &device).unwrap();
        for m in masks {
            let v: Vec<f64> = m.into_data().iter::<f64>().collect();
            let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / v.len() as f64;
            assert!((kept - 0.7).abs() < 0.03, "kept {kept}");
            assert!(v.iter().all(|&x| x == 0.0 || (x - 1.0 / 0.7).abs() < 1e-15));
        }
        assert!(
            Dropout::new(0.0, 1)
                .masks(1, 3, 3, Precision::F32, &device)
                .is_none()
        );
    }
}
