//! The gradient penalty's finite-difference estimate against the input gradient computed by
//! backward, and the notes' dense sigmoid critic in a training step.

mod common;

use burn::tensor::{Device, Distribution, Tensor};
use deblurgan::model::{CriticConfig, GeneratorConfig, NormKind};
use native_trainer::data::layout::Source;
use native_trainer::data::loader::{Dataset, SampleOptions, make_batch};
use native_trainer::loss::{ContentLoss, gradient_penalty};
use native_trainer::train::{TrainOptions, Trainer};

/// The tests here seed the backend's random generator, which is global: one at a time.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_penalty_estimate_matches_the_backward_gradient_norm() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    device.seed(3);
    // InstanceNorm critic: images do not interact, as in the penalty's definition.
    let critic = CriticConfig::patch().with_base_channels(4).with_patch_layers(2).with_norm(NormKind::Instance).init(&device);
    let real = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device);
    let fake = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device);
    let epsilon = [0.3f32, 0.8];
    // The exact value: per image, the norm of the input gradient of its summed scores.
    let mixed = (real.clone() * Tensor::<1>::from_floats(epsilon, &device).reshape([2, 1, 1, 1])
        + fake.clone() * Tensor::<1>::from_floats(epsilon.map(|e| 1.0 - e), &device).reshape([2, 1, 1, 1]))
    .detach()
    .require_grad();
    let grads = critic.forward(mixed.clone()).sum().backward();
    let g = mixed.grad(&grads).unwrap();
    let norms: Vec<f32> = g.powf_scalar(2.0).sum_dim(1).sum_dim(2).sum_dim(3).sqrt().into_data().try_to_vec().unwrap();
    let exact = norms.iter().map(|n| (n - 1.0).powi(2)).sum::<f32>() / 2.0;
    let estimate = gradient_penalty(&critic, real.detach(), fake.detach(), &epsilon, 1e-3).into_scalar::<f32>();
    eprintln!("penalty: estimate {estimate}, exact {exact}, norms {norms:?}");
    assert!(
        (estimate - exact).abs() <= 0.02 * exact.abs().max(1e-3),
        "estimate {estimate}, exact {exact} (norms {norms:?})"
    );
}

#[test]
fn the_notes_dense_sigmoid_critic_trains() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::scratch("dense-critic");
    let photos = common::write_sharp(&dir, 2, 40);
    let options = TrainOptions::new()
        .with_sharp(Some(dir.clone()))
        .with_generator(GeneratorConfig::new().with_base_channels(4).with_blocks(1))
        .with_critic(CriticConfig::dense(32).with_base_channels(4).with_sigmoid(true))
        .with_gp_weight(0.0)
        .with_crop(32)
        .with_batch(2)
        .with_kernel_size(9)
        .with_trajectory_length(6.0);
    let dataset = Dataset::new(
        Source::Sharp(photos),
        SampleOptions { crop: 32, flip: true, shake: options.shake(), second_shake: None, max_side: None, ..SampleOptions::default() },
        0,
    );
    let batch = make_batch(&dataset, 0, 2).unwrap();
    let mut trainer = Trainer::new(options, &Device::flex()).unwrap();
    for _ in 0..2 {
        let losses = trainer.step(&batch);
        assert!(losses.non_finite().is_none(), "{losses:?}");
        assert_eq!(losses.penalty, 0.0);
        // Sigmoid scores lie in (0, 1): the Wasserstein difference stays within (-1, 1).
        assert!(losses.critic.abs() < 1.0 && (-1.0..0.0).contains(&losses.adversarial), "{losses:?}");
    }
}

/// The exact penalty `mean (‖∇ₓ Σ D(x̂)‖ − 1)²` by first-order backward (a number only).
fn exact_penalty(critic: &deblurgan::model::Critic, mixed: &Tensor<4>) -> f64 {
    let probe = mixed.clone().detach().require_grad();
    let grads = critic.forward(probe.clone()).sum().backward();
    let g = probe.grad(&grads).unwrap();
    let norms: Vec<f32> = g.powf_scalar(2.0).sum_dim(1).sum_dim(2).sum_dim(3).sqrt().into_data().try_to_vec().unwrap();
    norms.iter().map(|&n| (n as f64 - 1.0).powi(2)).sum::<f64>() / norms.len() as f64
}

/// Over a few random critics and inputs, the weight gradient of the finite-difference estimate
/// (h = 1e-3, the default) stays within 5% of the exact penalty's (measured: 0.6–2.4%).
#[test]
fn the_penalty_gradient_in_the_critic_weights_matches_a_numerical_derivative() {
    use deblurgan::model::Critic;
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for seed in 11..16 {
        let device = Device::flex().autodiff();
        device.seed(seed);
        let critic = CriticConfig::patch().with_base_channels(4).with_patch_layers(2).init(&device);
        let real = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device).detach();
        let fake = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device).detach();
        let epsilon = [0.5f32, 0.5];
        let mixed = (real.clone() + fake.clone()) / 2.0;
        let Critic::Patch(patch) = &critic else { unreachable!() };
        let weight = patch.to_score_map.weight.val();
        let direction = Tensor::<4>::random(weight.dims(), Distribution::Normal(0.0, 1.0), &Device::flex());
        // Gradient of our estimate along `direction`, by backward.
        let estimate = gradient_penalty(&critic, real, fake, &epsilon, 1e-3);
        let grads = estimate.backward();
        let along: f32 = (weight.grad(&grads).unwrap() * direction.clone()).sum().into_scalar();
        // The exact penalty's derivative along `direction`, by central differences in the weights.
        let shifted = |delta: f32| {
            let mut critic = critic.clone();
            if let Critic::Patch(patch) = &mut critic {
                let d = direction.clone().autodiff() * delta;
                patch.to_score_map.weight = patch.to_score_map.weight.clone().map(|w| w + d);
            }
            exact_penalty(&critic, &mixed)
        };
        let delta = 1e-2;
        let numerical = (shifted(delta) - shifted(-delta)) / (2.0 * delta as f64);
        eprintln!("seed {seed}: backward of the estimate {along}, numerical {numerical}");
        assert!(
            (along as f64 - numerical).abs() <= 0.05 * numerical.abs().max(1e-2),
            "seed {seed}: backward of the estimate {along}, numerical derivative of the exact penalty {numerical}"
        );
    }
}

#[test]
fn the_pixel_losses_are_the_mean_absolute_and_the_mean_squared_error() {
    use burn::tensor::TensorData;
    let device = Device::flex();
    let fake = Tensor::<4>::from_data(TensorData::new(vec![0.5f32, -0.5, 0.0, 1.0], [1, 1, 2, 2]), &device);
    let sharp = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 0.0, 0.0, 0.0], [1, 1, 2, 2]), &device);
    let l1 = ContentLoss::L1.forward(fake.clone(), sharp.clone()).into_scalar::<f32>();
    let l2 = ContentLoss::L2.forward(fake, sharp).into_scalar::<f32>();
    assert!((l1 - 0.5).abs() < 1e-6, "{l1}");
    assert!((l2 - 0.375).abs() < 1e-6, "{l2}");
    assert_eq!((ContentLoss::L1.name(), ContentLoss::L2.name()), ("l1", "l2"));
}

#[test]
fn the_psnr_loss_is_minus_the_mean_psnr_of_the_images() {
    use burn::tensor::TensorData;
    use native_trainer::loss::PSNR_EPSILON;
    let device = Device::flex().autodiff();
    // Image 0 is off by 0.1 everywhere (MSE 0.01); image 1 by 0.001 (MSE 1e-6).
    let sharp = Tensor::<4>::zeros([2, 3, 4, 4], &device);
    let offsets = TensorData::new(vec![0.1f32, 0.001], [2, 1, 1, 1]);
    let fake = (Tensor::<4>::ones([2, 3, 4, 4], &device) * Tensor::<4>::from_data(offsets, &device)).require_grad();
    let loss = ContentLoss::Psnr.forward(fake.clone(), sharp);
    let db = |mse: f64| 10.0 * (mse + PSNR_EPSILON).log10();
    let expected = (db(0.01) + db(1e-6)) / 2.0;
    let value = loss.clone().into_scalar::<f32>() as f64;
    assert!((value - expected).abs() < 1e-3, "{value} dB, expected {expected}");
    assert_eq!(ContentLoss::Psnr.name(), "psnr");
    // Unlike L2, the nearly exact image pulls as hard per dB as the wrong one: its pixels'
    // gradients are larger, in proportion to 1/MSE.
    let grads = loss.backward();
    let grad = fake.grad(&grads).expect("gradient").into_data().try_to_vec::<f32>().unwrap();
    let per_image = grad.len() / 2;
    let (wrong, nearly) = (grad[0] as f64, grad[per_image] as f64);
    // d/dx of 10 log10(mean (x²) + ε) / 2 at x = offset, over 48 pixels.
    let slope = |x: f64| 10.0 / std::f64::consts::LN_10 * (2.0 * x / 48.0) / (x * x + PSNR_EPSILON) / 2.0;
    assert!((wrong / slope(0.1) - 1.0).abs() < 1e-3, "{wrong} vs {}", slope(0.1));
    assert!((nearly / slope(0.001) - 1.0).abs() < 1e-2, "{nearly} vs {}", slope(0.001));
    assert!(nearly > 40.0 * wrong, "the nearly exact image's pull {nearly} vs {wrong}");
}
