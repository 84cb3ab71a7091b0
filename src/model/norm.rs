//! The normalisation layer, chosen by the variant: BatchNorm (the Keras DeblurGAN of the design
//! notes), InstanceNorm without affine parameters (the official PyTorch DeblurGAN), or none.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Identity, InstanceNorm, InstanceNormConfig};
use burn::tensor::{Device, Tensor};

/// Which normalisation a network uses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// BatchNorm with learned scale and shift and running statistics.
    Batch,
    /// InstanceNorm without affine parameters (per image, per channel statistics).
    Instance,
    /// No normalisation: the network computes the same function in training and in inference
    /// (BatchNorm's batch statistics at small batches do not), and a tile's output depends on
    /// its own pixels only.
    None,
}

/// A normalisation layer over `[batch, channels, height, width]`.
#[derive(Module, Debug)]
pub enum Norm {
    /// See [`NormKind::Batch`].
    Batch(BatchNorm),
    /// See [`NormKind::Instance`].
    Instance(InstanceNorm),
    /// See [`NormKind::None`].
    None(Identity),
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
            NormKind::None => Norm::None(Identity::new()),
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
            Norm::None(identity) => identity.forward(x),
        }
    }
}
