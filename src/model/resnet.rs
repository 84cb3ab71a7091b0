//! The DeblurGAN generator: a ResNet that predicts the sharp image as a correction of the blurred
//! one (global skip connection), in the published variants.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor};

use super::blocks::{ConvNormAct, ResnetBlock, ResnetBlockConfig, Upsample, reflect_pad};
use super::conv::conv2d;
use super::generator::GeneratorConfig;

/// Which published DeblurGAN the generator follows.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum GeneratorVariant {
    /// The Keras DeblurGAN of the design notes: BatchNorm, nearest-neighbour upsampling + conv,
    /// output `(tanh + input) / 2`.
    Keras,
    /// The official PyTorch DeblurGAN: InstanceNorm without affine parameters, transposed-conv
    /// upsampling, output `clamp(input + tanh, -1, 1)`.
    Official,
    /// The Keras layers (BatchNorm, nearest-neighbour upsampling + conv) with the official
    /// residual output `clamp(input + tanh, -1, 1)`, and a last convolution that starts at zero:
    /// an untrained generator returns its input, and training only has to learn the correction.
    /// BatchNorm's running statistics make each tile's output independent of the tile's
    /// content elsewhere, so tiles meet without seams. The bundled weights use it.
    Residual,
}

/// The DeblurGAN ResNet generator.
///
/// reflect pad 3 → conv 7×7 (c) → norm → ReLU → [conv 3×3 stride 2 → norm → ReLU] × 2 (2c, 4c)
/// → residual blocks (4c) → [upsample ×2 → norm → ReLU] × 2 (2c, c) → reflect pad 3 → conv 7×7
/// (3) → tanh → global skip connection. With skip connections, the stem's output is added to the
/// second upsampling stage's and the first downsampling stage's to the first's.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    /// conv 7×7, 3 → c, after reflection padding 3.
    pub stem: ConvNormAct,
    /// conv 3×3 stride 2, c → 2c.
    pub down1: ConvNormAct,
    /// conv 3×3 stride 2, 2c → 4c.
    pub down2: ConvNormAct,
    /// Residual blocks at 4c.
    pub blocks: Vec<ResnetBlock>,
    /// ×2, 4c → 2c.
    pub up1: Upsample,
    /// ×2, 2c → c.
    pub up2: Upsample,
    /// conv 7×7, c → 3, after reflection padding 3.
    pub head: Conv2d,
    /// How the network's output is combined with its input.
    #[module(skip)]
    pub variant: GeneratorVariant,
    /// Whether `stem`'s output is added to `up2`'s and `down1`'s to `up1`'s
    /// ([`GeneratorConfig::skips`]).
    #[module(skip)]
    pub skips: bool,
}

impl GeneratorConfig {
    /// Builds the ResNet generator this configuration describes (its `unet` is not read).
    pub(super) fn init_resnet(&self, device: &Device) -> ResnetGenerator {
        let c = self.base_channels;
        let norm = self.norm();
        let upsample = |channels: [usize; 2]| match self.variant {
            GeneratorVariant::Keras | GeneratorVariant::Residual => Upsample::nearest(channels, norm, device),
            GeneratorVariant::Official => Upsample::transposed(channels, norm, device),
        };
        let head = Conv2dConfig::new([c, 3], [7, 7]);
        let head = match self.variant {
            // Zero weights and bias: the residual is tanh(0) = 0, the output the input.
            GeneratorVariant::Residual => head.with_initializer(Initializer::Zeros),
            GeneratorVariant::Keras | GeneratorVariant::Official => head,
        };
        let block = ResnetBlockConfig::new(4 * c, norm).with_dropout(self.dropout);
        ResnetGenerator {
            stem: ConvNormAct::new([3, c], 7, 1, 0, norm, device),
            down1: ConvNormAct::new([c, 2 * c], 3, 2, 1, norm, device),
            down2: ConvNormAct::new([2 * c, 4 * c], 3, 2, 1, norm, device),
            blocks: (0..self.blocks).map(|_| block.init(device)).collect(),
            up1: upsample([4 * c, 2 * c]),
            up2: upsample([2 * c, c]),
            head: head.init(device),
            variant: self.variant,
            skips: self.has_skips(),
        }
    }
}

impl ResnetGenerator {
    /// Deblurs a batch of images in [-1, 1].
    ///
    /// - input: `[batch, 3, height, width]`, height and width multiples of [`SIZE_MULTIPLE`] and
    ///   at least [`MIN_SIZE`] (the image pipeline pads to this)
    /// - output: `[batch, 3, height, width]` in [-1, 1]
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        self.clamp_output(self.forward_unclamped(input))
    }

    /// The final clamp of [`ResnetGenerator::forward`]: the residual variants' output to [-1, 1]
    /// (the Keras output, `(tanh + input) / 2`, is in range already).
    ///
    /// - input, output: `[batch, 3, height, width]`
    pub fn clamp_output(&self, output: Tensor<4>) -> Tensor<4> {
        match self.variant {
            GeneratorVariant::Keras => output,
            GeneratorVariant::Official | GeneratorVariant::Residual => output.clamp(-1.0, 1.0),
        }
    }

    /// [`ResnetGenerator::forward`] before its final clamp (the residual variants' `input + tanh(·)`,
    /// which may leave [-1, 1]). Training compares this with the target: through the clamp, an
    /// overshoot past black or white costs nothing, and on drawings with large black and white
    /// areas the network learnt a darkening bias (about one grey level) that showed on photos.
    ///
    /// - input, output: `[batch, 3, height, width]`
    pub fn forward_unclamped(&self, input: Tensor<4>) -> Tensor<4> {
        // The skips' features are kept only where they are added: without skips, each stage's
        // output is freed as soon as the next stage has read it.
        let full = self.stem.forward(reflect_pad(input.clone(), 3));
        let full_skip = self.skips.then(|| full.clone());
        let half = self.down1.forward(full);
        let half_skip = self.skips.then(|| half.clone());
        let x = self.down2.forward(half);
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        let x = add_skip(self.up1.forward(x), half_skip);
        let x = add_skip(self.up2.forward(x), full_skip);
        let residual = tanh(conv2d(&self.head, reflect_pad(x, 3)));
        match self.variant {
            GeneratorVariant::Keras => (residual + input) / 2.0,
            GeneratorVariant::Official | GeneratorVariant::Residual => residual + input,
        }
    }

    /// Number of weights and biases in the convolutions (normalisation layers not counted).
    pub fn conv_parameter_count(&self) -> usize {
        let mut convs: Vec<&Conv2d> = vec![&self.stem.conv, &self.down1.conv, &self.down2.conv];
        for block in &self.blocks {
            convs.extend([&block.conv1, &block.conv2]);
        }
        for up in [&self.up1, &self.up2] {
            if let Upsample::NearestConv(block) = up {
                convs.push(&block.conv);
            }
        }
        convs.push(&self.head);
        let transposed = [&self.up1, &self.up2].into_iter().filter_map(|up| match up {
            Upsample::Transposed(block) => Some(&block.conv),
            Upsample::NearestConv(_) => None,
        });
        convs.iter().map(|conv| conv.num_params()).sum::<usize>()
            + transposed.map(|conv| conv.num_params()).sum::<usize>()
    }
}

/// `x + skip`, or `x` without a skip connection.
///
/// - x, skip: `[batch, channels, height, width]`
fn add_skip(x: Tensor<4>, skip: Option<Tensor<4>>) -> Tensor<4> {
    match skip {
        Some(skip) => x + skip,
        None => x,
    }
}
