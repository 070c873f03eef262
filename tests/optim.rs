//! Our Adagrad against hand-computed steps, the clamp bounds, Burn's own
//! AdaGrad (which agrees when epsilon is 0), and a state round trip.

mod common;

use burn::module::{Module, Param, ParamId};
use burn::optim::{AdaGradConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use charrnn::optim::ClampedAdagrad;
use common::*;

#[derive(Module, Debug)]
struct One {
    w: Param<Tensor<1>>,
}

fn one(values: &[f64], device: &Device) -> One {
    let t = Tensor::<1>::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        (device, DType::F64),
    );
    One {
        w: Param::initialized(ParamId::from(0u64), t.require_grad()),
    }
}

/// Gradients of loss = Σ g_i · w_i, i.e. exactly `g`.
fn grads_of(m: &One, g: &[f64], device: &Device) -> GradientsParams {
    let gt = Tensor::<1>::from_data(TensorData::new(g.to_vec(), [g.len()]), (device, DType::F64));
    let loss = (m.w.val() * gt).sum();
    GradientsParams::from_grads(loss.backward(), m)
}

fn step(o: &mut ModuleOptimizer, lr: f64, m: One, g: &[f64], device: &Device) -> One {
    let grads = grads_of(&m, g, device);
    o.step(lr, m, grads)
}

fn w_of(m: &One) -> Vec<f64> {
    values(&m.w.val().into_data())
}

/// The original's update, computed by hand on the host.
fn by_hand(w: &mut [f64], mem: &mut [f64], g: &[f64], lr: f64, clip: f64) {
    for i in 0..w.len() {
        let gc = g[i].clamp(-clip, clip);
        mem[i] += gc * gc;
        w[i] += -lr * gc / (mem[i] + 1e-8).sqrt();
    }
}

#[test]
fn steps_match_hand_computation_with_clamping() {
    for (name, device) in backends() {
        let device = device.autodiff();
        let mut m = one(&[0.5, -0.25, 1.0, 0.0], &device);
        let mut optim = ClampedAdagrad::new(5.0).init();
        let (mut w, mut mem) = (vec![0.5, -0.25, 1.0, 0.0], vec![0.0; 4]);
        // 7 and -9 are clamped to ±5; 5 sits exactly on the bound; 1e-5 is tiny.
        for g in [
            [0.3, 7.0, -9.0, 1e-5],
            [5.0, -5.0, 0.1, 0.0],
            [-0.2, 0.4, 12.0, -3.0],
        ] {
            m = step(&mut optim, 0.1, m, &g, &device);
            by_hand(&mut w, &mut mem, &g, 0.1, 5.0);
            let err = max_abs_diff(&w_of(&m), &w);
            println!("{name}: step vs hand {err:e}");
            assert!(err <= 1e-15, "{name}: {err:e}");
        }
    }
}

#[test]
fn agrees_with_burn_adagrad_when_epsilon_is_zero() {
    for (name, device) in backends() {
        let device = device.autodiff();
        let g = [0.3, -2.0, 0.7];
        let mut ours = ModuleOptimizer::from(ClampedAdagrad {
            clip: 100.0,
            epsilon: 0.0,
        });
        let mut burns = AdaGradConfig::new().with_epsilon(0.0).init();
        let (mut a, mut b) = (
            one(&[1.0, 2.0, 3.0], &device),
            one(&[1.0, 2.0, 3.0], &device),
        );
        for _ in 0..3 {
            a = step(&mut ours, 0.05, a, &g, &device);
            b = step(&mut burns, 0.05, b, &g, &device);
        }
        let err = max_abs_diff(&w_of(&a), &w_of(&b));
        println!("{name}: ours vs Burn's AdaGrad at eps 0: {err:e}");
        assert!(err <= 1e-15);
        // With the default epsilons they differ (1e-8 inside the root vs 1e-5 outside).
        let mut ours = ClampedAdagrad::new(100.0).init();
        let mut burns = AdaGradConfig::new().init();
        let (mut a, mut b) = (
            one(&[1.0, 2.0, 3.0], &device),
            one(&[1.0, 2.0, 3.0], &device),
        );
        let g = [1e-4, 1e-4, 1e-4];
        a = step(&mut ours, 0.05, a, &g, &device);
        b = step(&mut burns, 0.05, b, &g, &device);
        assert!(
            max_abs_diff(&w_of(&a), &w_of(&b)) > 1e-6,
            "{name}: the epsilon placement matters"
        );
    }
}

#[test]
fn state_round_trips_and_continues_identically() {
    for (name, device) in backends() {
        let device = device.autodiff();
        let gs = [[0.3, -7.0], [1.0, 0.2], [-0.4, 0.9], [2.0, -1.0]];
        let mut straight = ClampedAdagrad::new(5.0).init();
        let mut m = one(&[0.1, 0.2], &device);
        for g in &gs {
            m = step(&mut straight, 0.1, m, g, &device);
        }
        let mut first = ClampedAdagrad::new(5.0).init();
        let mut r = one(&[0.1, 0.2], &device);
        for g in &gs[..2] {
            r = step(&mut first, 0.1, r, g, &device);
        }
        let bytes = first.into_bytes().unwrap();
        let mut second = ClampedAdagrad::new(5.0).init().from_bytes(bytes).unwrap();
        // A fresh module with the same values and parameter id, as a checkpoint restores it.
        let mut r = one(&w_of(&r), &device);
        for g in &gs[2..] {
            r = step(&mut second, 0.1, r, g, &device);
        }
        assert_eq!(
            w_of(&r),
            w_of(&m),
            "{name}: resumed optimizer continues bit for bit"
        );
        assert_eq!(r.w.val().dtype(), DType::F64, "{name}: f64 state stays f64");
    }
}

/// AdamW (Adam with decoupled weight decay λ) against PyTorch's documented
/// update written out here in plain f64: p ← p(1 − lrλ), then Adam's step.
#[test]
fn adamw_matches_the_formula() {
    let (lr, wd, b1, b2, eps, clip) = (0.01, 0.1, 0.9, 0.999, 1e-8, 5.0);
    let grads = [[0.5, -7.0, 0.25], [-0.1, 2.0, 9.0], [0.3, 0.3, -0.3]];
    for (base, device) in backends() {
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        let device = device.autodiff();
        let mut model = one(&[1.0, -0.5, 0.25], &device);
        let adam = charrnn::optim::Adam {
            beta1: b1,
            beta2: b2,
            epsilon: eps,
            weight_decay: wd,
        };
        let mut o = charrnn::optim::Clamped::new(adam, clip).init();
        let mut want = vec![1.0, -0.5, 0.25];
        for (t, g) in grads.iter().enumerate() {
            model = step(&mut o, lr, model, g, &device);
            let t = (t + 1) as f64;
            for i in 0..3 {
                let g = g[i].clamp(-clip, clip);
                want[i] *= 1.0 - lr * wd;
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let (mh, vh) = (m[i] / (1.0 - b1.powf(t)), v[i] / (1.0 - b2.powf(t)));
                want[i] -= lr * mh / (vh.sqrt() + eps);
            }
        }
        let got = w_of(&model);
        let err = rel_diff(&got, &want);
        println!("{base}: AdamW after 3 steps {got:?} vs formula {want:?} (rel {err:e})");
        assert!(err < 1e-14, "{base}: {err:e}");
    }
}
