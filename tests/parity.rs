//! Exact parity with min-char-rnn: 60 iterations of the training loop from the
//! numpy reference's initial weights, in f64 at lr 0.01, on every CPU backend.
//! Every loss and smooth loss must equal the reference's losses.csv, and the
//! final weights its after.safetensors, within 1e-9.

mod common;

use charrnn::config::TrainConfig;
use charrnn::data::Text;
use charrnn::models::Network;
use charrnn::train::Trainer;
use common::*;

fn reference_losses() -> Vec<(u64, f64, f64)> {
    csv_rows(&fixture_dir().join("losses.csv"))
        .into_iter()
        .map(|r| (r[0] as u64, r[1], r[2]))
        .collect()
}

#[test]
fn sixty_iterations_match_numpy() {
    let path = fixture_dir().join("input.txt");
    let text = Text::load(&path).unwrap();
    let (spec, init, vocab) =
        charrnn::weights::load(&fixture_dir().join("init.safetensors")).unwrap();
    assert!(spec.is_original(), "numpy's file is min-char-rnn's network");
    assert_eq!(vocab, text.vocab);
    let reference = reference_losses();
    assert_eq!(reference.len(), 60);
    for (name, device) in backends() {
        let device = device.autodiff();
        let model = Network::from_weights(&spec, &init, &device);
        let config = TrainConfig {
            data: path.clone(),
            learning_rate: 0.01,
            seed: 0,
            ..Default::default() // the original's: H 100, T 25, B 1, clip 5, Adagrad
        };
        let mut trainer = Trainer::new(model, &config, &text, &device).unwrap();
        let (mut worst_loss, mut worst_smooth) = (0.0f64, 0.0f64);
        for &(iter, loss, smooth) in &reference {
            let step = trainer.step(None).unwrap();
            assert_eq!(step.iter, iter);
            worst_loss = worst_loss.max((step.loss - loss).abs());
            worst_smooth = worst_smooth.max((step.smooth_loss - smooth).abs());
        }
        let after = trainer.model().to_weights();
        let mut worst_w = 0.0f64;
        for (pname, d) in after.named() {
            let (want, shape) = fixture_tensor("after.safetensors", pname);
            assert_eq!(d.shape().as_slice(), shape.as_slice());
            worst_w = worst_w.max(max_abs_diff(&values(d), &want));
        }
        println!(
            "{name}: max |loss diff| {worst_loss:e}, max |smooth diff| {worst_smooth:e}, max |weight diff| {worst_w:e}"
        );
        assert!(worst_loss <= 1e-9 && worst_smooth <= 1e-9 && worst_w <= 1e-9);
    }
}
