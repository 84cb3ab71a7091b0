//! The generators and their configuration: the U-Net ([`super::unet`]) and the DeblurGAN ResNet
//! variants ([`super::resnet`]), behind one type that every path runs (training, the CLI, the
//! CPU engine, the page, weights files).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::norm::NormKind;
use super::resnet::{GeneratorVariant, ResnetGenerator};
use super::unet::{UNet, UNetConfig};

/// Configuration of the [`Generator`].
#[derive(Config, Debug)]
pub struct GeneratorConfig {
    /// Channels of the first stage; the residual blocks work at 4 × this.
    #[config(default = 64)]
    pub base_channels: usize,
    /// Number of residual blocks.
    #[config(default = 9)]
    pub blocks: usize,
    /// Keras (design notes) or official (PyTorch) DeblurGAN.
    #[config(default = "GeneratorVariant::Keras")]
    pub variant: GeneratorVariant,
    /// Dropout inside the residual blocks, active in training only.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// The normalisation layers (`None`: the variant's own, see [`GeneratorConfig::norm`]).
    pub norm: Option<NormKind>,
    /// Encoder-decoder skip connections: the stem's features are added to the second upsampling
    /// stage's output and the first downsampling stage's to the first upsampling stage's (as in
    /// a U-Net), so the last convolutions see the photo's full-resolution detail instead of only
    /// what survives the quarter-resolution blocks. `None` (configurations saved before the
    /// option existed) means without; see [`GeneratorConfig::has_skips`].
    pub skips: Option<bool>,
    /// A U-Net generator ([`UNetConfig`]) instead of the DeblurGAN ResNet: the fields above are
    /// then not read. `None` (configurations saved before the U-Net existed): the ResNet.
    pub unet: Option<UNetConfig>,
}

/// Height and width given to a generator must be multiples of this: the U-Net's three stride-2
/// levels ([`super::unet::MAX_LEVELS`]; the ResNet's two stages need 4).
pub const SIZE_MULTIPLE: usize = 8;
/// Smallest height and width a generator takes (the ResNet's reflection padding at quarter
/// resolution).
pub const MIN_SIZE: usize = 8;

impl GeneratorConfig {
    /// The Keras DeblurGAN of the design notes (64 channels, 9 blocks, BatchNorm).
    pub fn keras() -> Self {
        Self::new()
    }

    /// The official PyTorch DeblurGAN (64 channels, 9 blocks, InstanceNorm, transposed convs).
    pub fn official() -> Self {
        Self::new().with_variant(GeneratorVariant::Official)
    }

    /// The compact configuration for CPU training and fast browser inference (32 channels,
    /// 6 blocks).
    pub fn compact() -> Self {
        Self::new().with_base_channels(32).with_blocks(6)
    }

    /// The compact configuration with the residual output ([`GeneratorVariant::Residual`]): the
    /// bundled weights' configuration.
    pub fn compact_residual() -> Self {
        Self::compact().with_variant(GeneratorVariant::Residual)
    }

    /// The compact residual generator without normalisation layers and without dropout: it
    /// computes the same function in training as in inference, so what the training loss
    /// measures is what the page gets.
    pub fn compact_residual_plain() -> Self {
        Self::compact_residual().with_norm(Some(NormKind::None)).with_dropout(0.0)
    }

    /// The compact residual generator without normalisation layers, with encoder-decoder skip
    /// connections ([`GeneratorConfig::skips`]): its last layers start from full-resolution
    /// features, which a deblurring correction is made of.
    pub fn compact_residual_skip() -> Self {
        Self::compact_residual_plain().with_skips(Some(true))
    }

    /// The U-Net generator ([`UNetConfig`]'s defaults: 24 channels, 4 levels, 2.1 M parameters):
    /// the one that learns on a CPU, the bundled weights' generator.
    pub fn unet() -> Self {
        Self::new().with_unet(Some(UNetConfig::new()))
    }

    /// Whether the ResNet generator has encoder-decoder skip connections.
    pub fn has_skips(&self) -> bool {
        self.skips.unwrap_or(false)
    }

    /// The normalisation layer this generator uses: the configured one, else the variant's
    /// (BatchNorm for Keras and Residual, InstanceNorm for Official).
    pub fn norm(&self) -> NormKind {
        self.norm.unwrap_or(match self.variant {
            GeneratorVariant::Keras | GeneratorVariant::Residual => NormKind::Batch,
            GeneratorVariant::Official => NormKind::Instance,
        })
    }

    /// Builds a generator with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Generator {
        match &self.unet {
            Some(unet) => Generator::UNet(unet.init(device)),
            None => Generator::ResNet(self.init_resnet(device)),
        }
    }

    /// Why this configuration cannot be built, if it cannot (weights files are checked with it
    /// before anything is allocated).
    pub fn check(&self) -> Result<(), String> {
        match &self.unet {
            Some(unet) => unet.check(),
            None if self.base_channels == 0 || self.base_channels > 1024 || self.blocks > 64 => {
                Err(format!("a ResNet of {} channels and {} blocks", self.base_channels, self.blocks))
            }
            None => Ok(()),
        }
    }
}

/// A generator: the U-Net or a DeblurGAN ResNet.
#[derive(Module, Debug)]
pub enum Generator {
    /// The DeblurGAN ResNet generators (design notes, official, compact).
    ResNet(ResnetGenerator),
    /// The U-Net generator.
    UNet(UNet),
}

impl Generator {
    /// Deblurs a batch of images in [-1, 1].
    ///
    /// - input: `[batch, 3, height, width]`, height and width multiples of [`SIZE_MULTIPLE`] and
    ///   at least [`MIN_SIZE`] (the image pipeline pads to this)
    /// - output: `[batch, 3, height, width]` in [-1, 1]
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        self.clamp_output(self.forward_unclamped(input))
    }

    /// The final clamp of [`Generator::forward`] (none for the Keras ResNet, whose output is in
    /// range already).
    ///
    /// - input, output: `[batch, 3, height, width]`
    pub fn clamp_output(&self, output: Tensor<4>) -> Tensor<4> {
        match self {
            Generator::ResNet(generator) => generator.clamp_output(output),
            Generator::UNet(_) => output.clamp(-1.0, 1.0),
        }
    }

    /// [`Generator::forward`] before its final clamp: training compares this with the target,
    /// so that an overshoot past black or white is not free (see
    /// [`ResnetGenerator::forward_unclamped`]).
    ///
    /// - input, output: `[batch, 3, height, width]`
    pub fn forward_unclamped(&self, input: Tensor<4>) -> Tensor<4> {
        match self {
            Generator::ResNet(generator) => generator.forward_unclamped(input),
            Generator::UNet(unet) => unet.forward_unclamped(input),
        }
    }

    /// Channels of the full-resolution feature maps (what a pixel's working memory scales with).
    pub fn full_resolution_channels(&self) -> usize {
        match self {
            Generator::ResNet(generator) => generator.stem.conv.weight.dims()[0],
            Generator::UNet(unet) => unet.width(),
        }
    }

    /// The ResNet generator, if this is one.
    pub fn as_resnet(&self) -> Option<&ResnetGenerator> {
        match self {
            Generator::ResNet(generator) => Some(generator),
            Generator::UNet(_) => None,
        }
    }

    /// The ResNet generator, if this is one, to change.
    pub fn as_resnet_mut(&mut self) -> Option<&mut ResnetGenerator> {
        match self {
            Generator::ResNet(generator) => Some(generator),
            Generator::UNet(_) => None,
        }
    }

    /// The U-Net, if this is one.
    pub fn as_unet(&self) -> Option<&UNet> {
        match self {
            Generator::UNet(unet) => Some(unet),
            Generator::ResNet(_) => None,
        }
    }
}
