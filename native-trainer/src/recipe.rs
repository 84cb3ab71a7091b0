//! The recipe `train` follows by default: the U-Net generator on the content loss alone, with the
//! settings under which it learns on a CPU (measured in PyTorch first, docs/model-card.md). The
//! command line's defaults and [`recipe`] both read these constants.

use deblurgan::model::GeneratorConfig;

use crate::loss::PixelLoss;
use crate::train::{LrSchedule, TrainOptions};

/// Images per batch.
pub const BATCH: usize = 8;
/// Side of the random crops.
pub const CROP: usize = 96;
/// Peak learning rate.
pub const LR: f64 = 5e-4;
/// Adam β1.
pub const BETA1: f32 = 0.9;
/// Adam β2.
pub const BETA2: f32 = 0.99;
/// Adam ε: PyTorch's default (burn's own, 1e-5, shrinks the steps of layers whose gradients are
/// near 1e-6).
pub const EPSILON: f64 = 1e-8;
/// Steps of linear warm-up.
pub const WARMUP: usize = 100;
/// Largest norm of the generator's whole gradient.
pub const GRAD_CLIP: f64 = 1.0;
/// Largest noise σ (each sample's is drawn uniformly below it), in [0, 1] units: 2 levels of 255.
pub const MAX_NOISE: f64 = 2.0 / 255.0;
/// Share of samples left sharp.
pub const SHARP_SHARE: f64 = 0.1;
/// Share of samples blurred by the moderate shake (the others by the strong one).
pub const MODERATE_SHARE: f64 = 0.5;

/// The default recipe's options for `generator` (the U-Net where the command line says
/// nothing): content loss L1 alone, Adam with `LR`, `WARMUP` and a cosine decay over `steps`,
/// the gradient's norm clipped, batches of `BATCH` crops of `CROP`², moderate and strong shake
/// with a share of sharp crops, inputs rounded to 8 bits.
pub fn recipe(generator: GeneratorConfig, steps: usize) -> TrainOptions {
    TrainOptions::new()
        .with_generator(generator)
        .with_steps(steps)
        .with_batch(BATCH)
        .with_crop(CROP)
        .with_lr(LR)
        .with_beta1(BETA1)
        .with_beta2(BETA2)
        .with_epsilon(Some(EPSILON))
        .with_warmup(Some(WARMUP))
        .with_lr_schedule(Some(LrSchedule::Cosine))
        .with_grad_clip(Some(GRAD_CLIP))
        .with_max_noise(MAX_NOISE)
        .with_sharp_share(Some(SHARP_SHARE))
        .with_moderate_share(Some(MODERATE_SHARE))
        .with_quantize(Some(true))
        .with_adversarial_weight(0.0)
        .with_content_weight(1.0)
        .with_pixel_loss(Some(PixelLoss::L1))
}
