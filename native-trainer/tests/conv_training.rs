//! The training convolutions (`deblurgan::conv_training`): every output and gradient equals
//! burn's (Flex's forward, burn's default backward), and training with them follows the same
//! loss curve as with burn's.

mod common;

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor, TensorData, module};
use deblurgan::conv_training::profile::Phase;
use deblurgan::conv_training::{self, Convolutions};
use deblurgan::model::{CriticConfig, GeneratorConfig, UNetConfig};
use native_trainer::data::layout::Source;
use native_trainer::data::loader::{Dataset, SampleOptions, make_batch};
use native_trainer::train::{TrainOptions, Trainer};

/// The weight-gradient method and burn's random generator are global to the process: the tests
/// here run one at a time.
static GLOBAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Values in [-1, 1) that vary with `seed`, shaped `shape`.
fn values<const D: usize>(shape: [usize; D], seed: u32) -> TensorData {
    let len = shape.iter().product::<usize>();
    let data = (0..len as u32)
        .map(|i| ((i.wrapping_mul(2654435761).wrapping_add(seed.wrapping_mul(40503)) >> 9) % 2001) as f32 / 1000.0 - 1.0)
        .collect::<Vec<_>>();
    TensorData::new(data, shape)
}

/// The output of `layer(x, w, b)` and the gradients of `Σ r · layer(x, w, b)` with respect to
/// x, w and b.
struct Gradients {
    output: Vec<f32>,
    x: Vec<f32>,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
}

type Layer<'a> = &'a dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>;

fn gradients(layer: Layer, x: &TensorData, weight: &TensorData, bias: Option<&TensorData>, seed: u32) -> Gradients {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::from_data(x.clone(), &device).require_grad();
    let weight = Tensor::<4>::from_data(weight.clone(), &device).require_grad();
    let bias = bias.map(|b| Tensor::<1>::from_data(b.clone(), &device).require_grad());
    let output = layer(x.clone(), weight.clone(), bias.clone());
    let r = Tensor::<4>::from_data(values(output.dims(), seed), &device);
    let output_values = output.clone().into_data().try_to_vec::<f32>().unwrap();
    let grads = (output * r).sum().backward();
    let read = |t: Option<Vec<f32>>| t.expect("a gradient");
    Gradients {
        output: output_values,
        x: read(x.grad(&grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap())),
        weight: read(weight.grad(&grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap())),
        bias: bias.map(|b| read(b.grad(&grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap()))),
    }
}

/// `a` equals `b` within 1e-4 of `b`'s largest magnitude.
fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    let worst = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4 * scale, "{what}: differs by {worst} (largest value {scale})");
}

fn compare(what: &str, fast: Layer, reference: Layer, x: [usize; 4], weight: [usize; 4], bias: Option<usize>, seed: u32) {
    let (x, weight) = (values(x, seed), values(weight, seed + 1));
    let bias = bias.map(|channels| values([channels], seed + 2));
    let a = gradients(fast, &x, &weight, bias.as_ref(), seed + 3);
    let b = gradients(reference, &x, &weight, bias.as_ref(), seed + 3);
    assert_close(&format!("{what}, output"), &a.output, &b.output);
    assert_close(&format!("{what}, input"), &a.x, &b.x);
    assert_close(&format!("{what}, weight"), &a.weight, &b.weight);
    if let (Some(a), Some(b)) = (&a.bias, &b.bias) {
        assert_close(&format!("{what}, bias"), a, b);
    }
}

#[test]
fn convolutions_and_their_gradients_equal_burns() {
    let _global = lock();
    conv_training::set_convolutions(Convolutions::MatrixProducts);
    assert!(conv_training::applies(&Device::flex().autodiff()));
    assert!(!conv_training::applies(&Device::flex()));
    // (what, input, weight, bias, stride, padding (before, after) per axis)
    let cases: [(&str, [usize; 4], [usize; 4], bool, usize, [(usize, usize); 2]); 7] = [
        ("3×3, batch 1, odd sides", [1, 3, 7, 9], [5, 3, 3, 3], true, 1, [(1, 1), (1, 1)]),
        ("3×3 stride 2", [3, 4, 11, 10], [6, 4, 3, 3], true, 2, [(1, 1), (1, 1)]),
        ("1×1 without bias", [2, 5, 6, 7], [3, 5, 1, 1], false, 1, [(0, 0), (0, 0)]),
        ("4×4 stride 2 (the critic's)", [2, 3, 13, 12], [4, 3, 4, 4], true, 2, [(1, 1), (1, 1)]),
        ("4×4, padding 1 before and 2 after", [2, 2, 9, 8], [3, 2, 4, 4], true, 1, [(1, 2), (1, 2)]),
        ("7×7 unpadded (the ResNet's stem)", [1, 3, 10, 9], [4, 3, 7, 7], true, 1, [(0, 0), (0, 0)]),
        ("3×3 stride 2, one channel in", [2, 1, 8, 8], [2, 1, 3, 3], true, 2, [(1, 1), (1, 1)]),
    ];
    for (index, (what, x, weight, bias, stride, padding)) in cases.into_iter().enumerate() {
        let options = ConvOptions::new_with_padding([stride; 2], padding, [1, 1], 1);
        let fast = |x, w, b| conv_training::conv2d(x, w, b, options.clone());
        let reference = |x, w, b| module::conv2d(x, w, b, options.clone());
        compare(what, &fast, &reference, x, weight, bias.then_some(weight[0]), 10 * index as u32);
    }
}

#[test]
fn transposed_convolutions_and_their_gradients_equal_burns() {
    let _global = lock();
    conv_training::set_convolutions(Convolutions::MatrixProducts);
    // (what, input, weight, stride, padding, output padding)
    let cases: [(&str, [usize; 4], [usize; 4], usize, usize, usize); 3] = [
        ("2×2 stride 2 (the U-Net's)", [2, 6, 5, 7], [6, 3, 2, 2], 2, 0, 0),
        ("3×3 stride 2, output padding 1 (the official DeblurGAN's)", [1, 4, 4, 5], [4, 2, 3, 3], 2, 1, 1),
        ("2×2 stride 2, batch 3", [3, 2, 3, 3], [2, 5, 2, 2], 2, 0, 0),
    ];
    for (index, (what, x, weight, stride, padding, padding_out)) in cases.into_iter().enumerate() {
        let options = ConvTransposeOptions::new([stride; 2], [padding; 2], [padding_out; 2], [1, 1], 1);
        let fast = |x, w, b| conv_training::conv_transpose2d(x, w, b, options.clone());
        let reference = |x, w, b| module::conv_transpose2d(x, w, b, options.clone());
        compare(what, &fast, &reference, x, weight, Some(weight[1]), 100 + 10 * index as u32);
    }
}

/// The losses (content, critic, penalty) of `steps` steps on one fixed batch, from the same
/// networks, with the matrix-product weight gradient and with burn's.
fn loss_curves(options: &TrainOptions, steps: usize) -> [Vec<[f64; 3]>; 2] {
    let dir = common::scratch(&format!("curve-{}", options.seed));
    let photos = common::write_sharp(&dir.join("photos"), 2, 48);
    let dataset = Dataset::new(
        Source::Sharp(photos),
        SampleOptions { crop: options.crop, flip: true, shake: options.shake(), second_shake: None, max_side: None, ..SampleOptions::default() },
        0,
    );
    let batch = make_batch(&dataset, 0, options.batch).unwrap();
    let first = Trainer::new(options.clone(), &Device::flex()).unwrap();
    let mut second = Trainer::new(options.clone(), &Device::flex()).unwrap();
    (second.generator, second.critic) = (first.generator.clone(), first.critic.clone());
    let curves = [(first, Convolutions::MatrixProducts), (second, Convolutions::Burn)].map(|(mut trainer, method)| {
        conv_training::set_convolutions(method);
        (0..steps)
            .map(|_| {
                let losses = trainer.step(&batch);
                [losses.content, losses.critic, losses.penalty]
            })
            .collect()
    });
    conv_training::set_convolutions(Convolutions::MatrixProducts);
    curves
}

/// The curves agree within floating-point noise: the content loss at every step within 1e-4;
/// the critic's losses at the first step (before its first update) within 1e-4, 1e-3 for the
/// gradient penalty, whose finite difference (step 1e-3) divides the critic's rounding by 2e-3.
/// Past its first update the critic's values are compared no further: Adam's first steps move
/// every weight by about the learning rate whatever its gradient's size, so the sign of the
/// smallest gradients, which rounding sets, moves weights apart by far more than rounding.
fn assert_same_curve(a: &[[f64; 3]], b: &[[f64; 3]]) {
    for (step, (a, b)) in a.iter().zip(b).enumerate() {
        let mut compared = vec![("content", a[0], b[0], 1e-4)];
        if step == 0 {
            compared.extend([("critic", a[1], b[1], 1e-4), ("penalty", a[2], b[2], 1e-3)]);
        }
        for (name, a, b, tolerance) in compared {
            assert!((a - b).abs() <= tolerance * (1.0 + b.abs()), "step {step}, {name}: {a} against {b}");
        }
    }
    // The steps moved the weights: the curve is not flat (a comparison of two frozen runs
    // would prove nothing).
    assert_ne!(a.first().map(|l| l[0]), a.last().map(|l| l[0]), "the loss did not change");
}

#[test]
fn a_unet_trains_along_the_same_loss_curve_with_either_convolutions() {
    let _global = lock();
    let options = TrainOptions::new()
        .with_generator(GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(6).with_levels(3))))
        .with_crop(32)
        .with_batch(2)
        .with_lr(1e-3)
        .with_adversarial_weight(0.0)
        .with_content_weight(1.0)
        .with_kernel_size(9)
        .with_trajectory_length(6.0)
        .with_seed(3);
    let [matrix, burn] = loss_curves(&options, 5);
    assert_same_curve(&matrix, &burn);
}

#[test]
fn a_gan_step_with_the_critic_follows_the_same_curve_with_either_convolutions() {
    let _global = lock();
    let options = TrainOptions::new()
        // No dropout: its masks are burn's random draws, which two trainers in one process do not
        // repeat.
        .with_generator(GeneratorConfig::new().with_base_channels(4).with_blocks(1).with_dropout(0.0))
        .with_critic(CriticConfig::patch().with_base_channels(4).with_patch_layers(2))
        .with_adversarial_weight(0.01)
        .with_critic_updates(1)
        .with_crop(32)
        .with_batch(2)
        .with_lr(1e-3)
        .with_kernel_size(9)
        .with_trajectory_length(6.0)
        .with_seed(4);
    let [matrix, burn] = loss_curves(&options, 3);
    assert_same_curve(&matrix, &burn);
}

#[test]
fn bench_train_reports_each_convolution_kind_and_phase() {
    let _global = lock();
    conv_training::set_convolutions(Convolutions::MatrixProducts);
    let dir = common::scratch("bench-profile");
    common::write_sharp(&dir.join("photos"), 2, 48);
    let options = TrainOptions::new()
        .with_sharp(Some(dir.join("photos")))
        .with_generator(GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(4).with_levels(2))))
        .with_adversarial_weight(0.0)
        .with_crop(32)
        .with_batch(2)
        .with_kernel_size(9)
        .with_trajectory_length(6.0);
    let bench = native_trainer::bench::bench_train(options, 1, 0, &Device::flex()).unwrap();
    let seconds = |kind: &str, phase: Phase| {
        bench.convolutions.iter().find(|(k, p, _)| k == kind && *p == phase).map(|(_, _, s)| *s)
    };
    for kind in ["3×3 stride 1", "3×3 stride 2", "2×2 stride 2 transposed"] {
        for phase in Phase::ALL {
            assert!(seconds(kind, phase).is_some_and(|s| s > 0.0), "{kind}, {}: {:?}", phase.name(), bench.convolutions);
        }
    }
    assert!(bench.report("U-Net").contains("weight gradient"));
}
