//! The normalisation layer, chosen by the variant: BatchNorm (the Keras DeblurGAN of the design
//! notes) or InstanceNorm without affine parameters (the official PyTorch DeblurGAN).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, InstanceNorm, InstanceNormConfig};
use burn::tensor::{Device, Tensor};

/// Which normalisation a network uses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// BatchNorm with learned scale and shift and running statistics.
    Batch,
    /// InstanceNorm without affine parameters (per image, per channel statistics).
    Instance,
}

/// A normalisation layer over `[batch, channels, height, width]`.
#[derive(Module, Debug)]
pub enum Norm {
    /// See [`NormKind::Batch`].
    Batch(BatchNorm),
    /// See [`NormKind::Instance`].
    Instance(InstanceNorm),
}

impl NormKind {
    /// Builds the layer for `channels` channels.
    pub fn init(&self, channels: usize, device: &Device) -> Norm {
        match self {
            NormKind::Batch => Norm::Batch(BatchNormConfig::new(channels).init(device)),
            NormKind::Instance => Norm::Instance(
                InstanceNormConfig::new(channels)
                    .with_affine(false)
                    .init(device),
            ),
        }
    }
}

impl Norm {
    /// - input: `[batch, channels, height, width]`
    /// - output: same shape
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm::Batch(norm) => norm.forward(x),
            Norm::Instance(norm) => norm.forward(x),
        }
    }
}
