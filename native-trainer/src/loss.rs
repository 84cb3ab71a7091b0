//! The training losses: content (perceptual or L1), the Wasserstein critic with gradient
//! penalty, and the generator's adversarial term.
//!
//! **Gradient penalty without double backward.** burn 0.22 supports first-order autodiff only
//! (`Device::autodiff` docs: "only first-order autodiff is supported"), so the WGAN-GP term
//! `(‖∇ₓD(x̂)‖ − 1)²` cannot be differentiated through the input gradient as PyTorch does. We
//! compute it in two first-order passes instead:
//!
//! 1. `g = ∇ₓ Σ D(x̂)` by an ordinary backward with respect to the interpolated input, and its
//!    direction `u = g / ‖g‖` per image (a constant);
//! 2. `‖∇ₓD(x̂)‖ ≈ (D(x̂ + h u) − D(x̂ − h u)) / 2h`, a central finite difference along `u`.
//!
//! Since `∂‖g‖/∂θ = u · ∂g/∂θ`, the gradient of step 2's estimate with respect to the critic's
//! parameters equals that of the exact penalty up to O(h²) (where the critic is smooth at that
//! scale; ReLU kinks make it an approximation). Cost: one extra critic forward/backward and two
//! critic forwards per critic update.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};

use crate::vgg::Vgg16Features;
use deblurgan::model::Critic;

/// The ε of [`ContentLoss::Psnr`], in squared [-1, 1] units: an error of 0.13 of an 8-bit
/// level, below what an 8-bit photo can show, so the loss stops pulling past it.
pub const PSNR_EPSILON: f64 = 1e-6;

/// The pixel loss a run asks for (without VGG weights), as saved in its options.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PixelLoss {
    /// [`ContentLoss::L1`].
    L1,
    /// [`ContentLoss::L2`].
    L2,
    /// [`ContentLoss::Psnr`].
    Psnr,
}

/// What the generator's output is compared to the sharp image with.
#[derive(Debug)]
pub enum ContentLoss {
    /// Mean absolute error of the pixels.
    L1,
    /// Mean squared error of the pixels: what PSNR measures. Where the right correction is
    /// uncertain, its optimum is the mean correction, where L1's is the median, often none.
    L2,
    /// Mean over the images of `10 log₁₀(MSE + ε)`: minus the mean PSNR in dB up to a
    /// constant, the figure the evaluation reports. Each image weighs by its own error, so a
    /// nearly sharp crop whose few levels of error cost many dB weighs as much as a strongly
    /// blurred one (under L2 its tiny squared error hardly counts).
    Psnr,
    /// Mean squared error of VGG16 `relu3_3` features.
    Perceptual(Box<Vgg16Features>),
}

impl ContentLoss {
    /// The content loss of a pixel loss choice.
    pub fn pixel(loss: PixelLoss) -> Self {
        match loss {
            PixelLoss::L1 => ContentLoss::L1,
            PixelLoss::L2 => ContentLoss::L2,
            PixelLoss::Psnr => ContentLoss::Psnr,
        }
    }

    /// - `fake`, `sharp`: `[batch, 3, height, width]` in [-1, 1]
    /// - output: `[1]`
    pub fn forward(&self, fake: Tensor<4>, sharp: Tensor<4>) -> Tensor<1> {
        match self {
            ContentLoss::L1 => (fake - sharp).abs().mean(),
            ContentLoss::L2 => (fake - sharp).powf_scalar(2.0).mean(),
            ContentLoss::Psnr => {
                let squared = (fake - sharp).powf_scalar(2.0).flatten::<2>(1, 3);
                let mse = squared.mean_dim(1).flatten::<1>(0, 1);
                ((mse + PSNR_EPSILON).log() * (10.0 / std::f64::consts::LN_10)).mean()
            }
            ContentLoss::Perceptual(vgg) => {
                let target = vgg.forward(sharp).detach();
                (vgg.forward(fake) - target).powf_scalar(2.0).mean()
            }
        }
    }

    /// "l1", "l2", "psnr" or "perceptual".
    pub fn name(&self) -> &'static str {
        match self {
            ContentLoss::L1 => "l1",
            ContentLoss::L2 => "l2",
            ContentLoss::Psnr => "psnr",
            ContentLoss::Perceptual(_) => "perceptual",
        }
    }
}

/// Each image's scores summed: `[batch, n]` → `[batch]`.
fn per_image(scores: Tensor<2>) -> Tensor<1> {
    scores.sum_dim(1).flatten(0, 1)
}

/// The critic's Wasserstein loss `mean D(fake) − mean D(real)` (lower is better for the critic).
///
/// - `real`, `fake`: `[batch, 3, height, width]`; `fake` should be detached
/// - output: `[1]`
pub fn critic_wasserstein(critic: &Critic, real: Tensor<4>, fake: Tensor<4>) -> Tensor<1> {
    critic.forward(fake).mean() - critic.forward(real).mean()
}

/// The generator's adversarial loss `−mean D(fake)`.
pub fn generator_adversarial(critic: &Critic, fake: Tensor<4>) -> Tensor<1> {
    critic.forward(fake).mean().neg()
}

/// The gradient penalty `mean_b (‖∇ₓ Σ D(x̂_b)‖ − 1)²` at `x̂ = ε real + (1 − ε) fake`, by the
/// finite-difference scheme of this module's documentation.
///
/// - `real`, `fake`: `[batch, 3, height, width]`, detached
/// - `epsilon`: one mixing weight per image, in [0, 1]
/// - `h`: finite-difference step, in [-1, 1] image units
/// - output: `[1]`, differentiable with respect to the critic's parameters
pub fn gradient_penalty(
    critic: &Critic,
    real: Tensor<4>,
    fake: Tensor<4>,
    epsilon: &[f32],
    h: f64,
) -> Tensor<1> {
    let [batch, _, _, _] = real.dims();
    let device = real.device();
    let eps = Tensor::<4>::from_data(TensorData::new(epsilon.to_vec(), [batch, 1, 1, 1]), &device);
    let mixed = (real * eps.clone() + fake * (eps.neg() + 1.0)).detach();
    // 1. The input gradient's direction (first-order backward), through a copy of the critic
    // whose weights take no gradient: only the input's is needed here.
    let probe = mixed.clone().require_grad();
    let grads = per_image(critic.clone().no_grad().forward(probe.clone())).sum().backward();
    let g = probe.grad(&grads).expect("the critic's input gradient").autodiff();
    let norm = g.clone().powf_scalar(2.0).sum_dim(1).sum_dim(2).sum_dim(3).sqrt();
    let direction = (g / (norm + 1e-12)).detach();
    // 2. Its length by a central difference along it, differentiable in the critic's weights.
    let plus = per_image(critic.forward(mixed.clone() + direction.clone() * h));
    let minus = per_image(critic.forward(mixed - direction * h));
    let slope = (plus - minus) / (2.0 * h);
    (slope - 1.0).powf_scalar(2.0).mean()
}
