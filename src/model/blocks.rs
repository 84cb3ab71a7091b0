//! Building blocks shared by the generator variants.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, PadMode};
use burn::tensor::{Device, Tensor};

use super::conv::{conv2d, conv_transpose2d};
use super::norm::{Norm, NormKind};

/// Reflection padding of the two spatial dimensions.
///
/// - input: `[batch, channels, height, width]`, both sides larger than `pad`
/// - output: `[batch, channels, height + 2 pad, width + 2 pad]`
pub fn reflect_pad(x: Tensor<4>, pad: usize) -> Tensor<4> {
    x.pad([(pad, pad), (pad, pad)], PadMode::Reflect)
}

/// How a convolution followed by `norm` and a ReLU starts. Without normalisation, He's
/// initialisation (normal, gain √2 over the fan-in) keeps the activations' scale through the
/// ReLUs, where burn's default (PyTorch's, gain 1/√3) shrinks it layer by layer until the
/// untrained network's correction is far below one grey level; with a normalisation layer the
/// scale does not matter and the default stays.
pub fn relu_initializer(norm: NormKind) -> Option<Initializer> {
    match norm {
        NormKind::None => Some(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false }),
        NormKind::Batch | NormKind::Instance => None,
    }
}

/// Convolution, normalisation and ReLU: the stem, the downsampling and the upsampling stages.
#[derive(Module, Debug)]
pub struct ConvNormAct {
    /// The convolution.
    pub conv: Conv2d,
    /// Its normalisation.
    pub norm: Norm,
}

impl ConvNormAct {
    /// A `kernel`×`kernel` convolution `channels[0] → channels[1]` with zero padding `padding`.
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        norm: NormKind,
        device: &Device,
    ) -> Self {
        let mut conv = Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding));
        if let Some(initializer) = relu_initializer(norm) {
            conv = conv.with_initializer(initializer);
        }
        let conv = conv.init(device);
        Self {
            conv,
            norm: norm.init(channels[1], device),
        }
    }

    /// - input: `[batch, channels[0], height, width]`
    /// - output: `[batch, channels[1], height', width']` (as the convolution's stride gives)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.norm.forward(conv2d(&self.conv, x)))
    }
}

/// Configuration of a [`ResnetBlock`].
#[derive(Config, Debug)]
pub struct ResnetBlockConfig {
    /// Channels in and out.
    pub channels: usize,
    /// Normalisation layer.
    pub norm: NormKind,
    /// Dropout probability between the two convolutions (active in training only).
    #[config(default = 0.5)]
    pub dropout: f64,
}

/// `x + [reflect pad 1, conv 3×3, norm, ReLU, dropout, reflect pad 1, conv 3×3, norm](x)`.
#[derive(Module, Debug)]
pub struct ResnetBlock {
    /// First convolution.
    pub conv1: Conv2d,
    /// First normalisation.
    pub norm1: Norm,
    /// Dropout between the convolutions.
    pub dropout: Dropout,
    /// Second convolution.
    pub conv2: Conv2d,
    /// Second normalisation.
    pub norm2: Norm,
}

impl ResnetBlockConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> ResnetBlock {
        let conv = || Conv2dConfig::new([self.channels, self.channels], [3, 3]);
        let (conv1, conv2) = match relu_initializer(self.norm) {
            // Without normalisation the second convolution starts at zero: every block starts as
            // the identity, so the depth does not change the untrained network's scale.
            Some(initializer) => (conv().with_initializer(initializer), conv().with_initializer(Initializer::Zeros)),
            None => (conv(), conv()),
        };
        ResnetBlock {
            conv1: conv1.init(device),
            norm1: self.norm.init(self.channels, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            conv2: conv2.init(device),
            norm2: self.norm.init(self.channels, device),
        }
    }
}

impl ResnetBlock {
    /// - input: `[batch, channels, height, width]` with height, width ≥ 2
    /// - output: same shape
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = conv2d(&self.conv1, reflect_pad(x.clone(), 1));
        let y = self.dropout.forward(relu(self.norm1.forward(y)));
        let y = self.norm2.forward(conv2d(&self.conv2, reflect_pad(y, 1)));
        x + y
    }
}

/// One ×2 upsampling stage, followed by normalisation and ReLU.
#[derive(Module, Debug)]
pub enum Upsample {
    /// Nearest-neighbour ×2, then conv 3×3 (the Keras DeblurGAN).
    NearestConv(ConvNormAct),
    /// Transposed conv 3×3, stride 2, padding 1, output padding 1 (the official DeblurGAN).
    Transposed(TransposedConvNormAct),
}

/// Transposed convolution, normalisation and ReLU.
#[derive(Module, Debug)]
pub struct TransposedConvNormAct {
    /// The transposed convolution.
    pub conv: ConvTranspose2d,
    /// Its normalisation.
    pub norm: Norm,
}

impl Upsample {
    /// Nearest-neighbour upsampling then a 3×3 convolution.
    pub fn nearest(channels: [usize; 2], norm: NormKind, device: &Device) -> Self {
        Upsample::NearestConv(ConvNormAct::new(channels, 3, 1, 1, norm, device))
    }

    /// A transposed convolution of stride 2.
    pub fn transposed(channels: [usize; 2], norm: NormKind, device: &Device) -> Self {
        let conv = ConvTranspose2dConfig::new(channels, [3, 3])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .with_padding_out([1, 1])
            .init(device);
        Upsample::Transposed(TransposedConvNormAct {
            conv,
            norm: norm.init(channels[1], device),
        })
    }

    /// - input: `[batch, channels[0], height, width]`
    /// - output: `[batch, channels[1], 2 height, 2 width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Upsample::NearestConv(block) => {
                let [_, _, height, width] = x.dims();
                let options = InterpolateOptions::new(InterpolateMode::Nearest)
                    .with_output_size([2 * height, 2 * width]);
                block.forward(interpolate(x, options))
            }
            Upsample::Transposed(block) => relu(block.norm.forward(conv_transpose2d(&block.conv, x))),
        }
    }
}
