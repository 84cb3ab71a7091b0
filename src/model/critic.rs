//! The critics (discriminators): the dense critic of the design notes and the PatchGAN of the
//! official DeblurGAN.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, sigmoid, tanh};
use burn::tensor::{Device, Tensor};

use super::conv::conv2d;
use super::norm::{Norm, NormKind};

const LEAKY_SLOPE: f64 = 0.2;

/// Which critic to build.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CriticArchitecture {
    /// The design notes' critic: six 4×4 convolutions, then dense 1024 (tanh) and dense 1.
    Dense,
    /// The official DeblurGAN's PatchGAN: one score per overlapping patch.
    Patch,
}

/// Configuration of a [`Critic`].
#[derive(Config, Debug)]
pub struct CriticConfig {
    /// Dense (design notes) or PatchGAN (official DeblurGAN).
    #[config(default = "CriticArchitecture::Dense")]
    pub architecture: CriticArchitecture,
    /// Channels of the first convolution.
    #[config(default = 64)]
    pub base_channels: usize,
    /// Side of the square images the dense critic takes (its dense layer fixes it).
    #[config(default = 256)]
    pub input_size: usize,
    /// Strided layers of the PatchGAN.
    #[config(default = 3)]
    pub patch_layers: usize,
    /// Normalisation after every convolution but the first and the last.
    #[config(default = "NormKind::Batch")]
    pub norm: NormKind,
    /// Ends in a sigmoid (the notes' binary classifier); off for a Wasserstein critic.
    #[config(default = false)]
    pub sigmoid: bool,
}

/// A critic: a score for each image (or each patch).
#[derive(Module, Debug)]
pub enum Critic {
    /// See [`CriticArchitecture::Dense`].
    Dense(DenseCritic),
    /// See [`CriticArchitecture::Patch`].
    Patch(PatchCritic),
}

/// A 4×4 convolution, optionally normalised, followed by LeakyReLU(0.2).
#[derive(Module, Debug)]
pub struct CriticLayer {
    /// The convolution.
    pub conv: Conv2d,
    /// Normalisation (none on the first layer).
    pub norm: Option<Norm>,
}

impl CriticLayer {
    fn new(
        channels: [usize; 2],
        stride: usize,
        padding: PaddingConfig2d,
        norm: Option<NormKind>,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new(channels, [4, 4])
                .with_stride([stride, stride])
                .with_padding(padding)
                .init(device),
            norm: norm.map(|norm| norm.init(channels[1], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv2d(&self.conv, x);
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        leaky_relu(x, LEAKY_SLOPE)
    }
}

/// The design notes' critic.
#[derive(Module, Debug)]
pub struct DenseCritic {
    /// 4×4 convolutions: 64 (stride 2), 64, 128, 256 (stride 2), 512 (stride 1).
    pub layers: Vec<CriticLayer>,
    /// 4×4 convolution to one channel, stride 1.
    pub to_score_map: Conv2d,
    /// Dense 1024, tanh.
    pub dense: Linear,
    /// Dense 1.
    pub score: Linear,
    /// Ends in a sigmoid.
    #[module(skip)]
    pub sigmoid: bool,
}

/// The official DeblurGAN's PatchGAN critic.
#[derive(Module, Debug)]
pub struct PatchCritic {
    /// 4×4 convolutions, stride 2 but the last.
    pub layers: Vec<CriticLayer>,
    /// 4×4 convolution to one score per patch.
    pub to_score_map: Conv2d,
    /// Ends in a sigmoid.
    #[module(skip)]
    pub sigmoid: bool,
}

impl CriticConfig {
    /// The design notes' critic for `input_size`² images.
    pub fn dense(input_size: usize) -> Self {
        Self::new().with_input_size(input_size)
    }

    /// The official DeblurGAN's PatchGAN (3 layers, InstanceNorm).
    pub fn patch() -> Self {
        Self::new()
            .with_architecture(CriticArchitecture::Patch)
            .with_norm(NormKind::Instance)
    }

    /// Builds the critic.
    pub fn init(&self, device: &Device) -> Critic {
        match self.architecture {
            CriticArchitecture::Dense => Critic::Dense(self.init_dense(device)),
            CriticArchitecture::Patch => Critic::Patch(self.init_patch(device)),
        }
    }

    fn init_dense(&self, device: &Device) -> DenseCritic {
        assert!(
            self.input_size >= 16 && self.input_size % 16 == 0,
            "the dense critic takes square images whose side is a multiple of 16, not {}",
            self.input_size
        );
        let c = self.base_channels;
        // Keras 'same' padding: 1 on each side for stride 2, 1 before and 2 after for stride 1.
        let strided = || PaddingConfig2d::Explicit(1, 1, 1, 1);
        let unstrided = || PaddingConfig2d::Explicit(1, 1, 2, 2);
        let norm = Some(self.norm);
        let layers = vec![
            CriticLayer::new([3, c], 2, strided(), None, device),
            CriticLayer::new([c, c], 2, strided(), norm, device),
            CriticLayer::new([c, 2 * c], 2, strided(), norm, device),
            CriticLayer::new([2 * c, 4 * c], 2, strided(), norm, device),
            CriticLayer::new([4 * c, 8 * c], 1, unstrided(), norm, device),
        ];
        let side = self.input_size / 16;
        DenseCritic {
            layers,
            to_score_map: Conv2dConfig::new([8 * c, 1], [4, 4])
                .with_padding(unstrided())
                .init(device),
            dense: LinearConfig::new(side * side, 1024).init(device),
            score: LinearConfig::new(1024, 1).init(device),
            sigmoid: self.sigmoid,
        }
    }

    fn init_patch(&self, device: &Device) -> PatchCritic {
        let c = self.base_channels;
        let padding = || PaddingConfig2d::Explicit(2, 2, 2, 2);
        let mut layers = vec![CriticLayer::new([3, c], 2, padding(), None, device)];
        let mut mult = 1;
        for n in 1..=self.patch_layers {
            let previous = mult;
            mult = (1 << n).min(8);
            let stride = if n < self.patch_layers { 2 } else { 1 };
            layers.push(CriticLayer::new(
                [c * previous, c * mult],
                stride,
                padding(),
                Some(self.norm),
                device,
            ));
        }
        PatchCritic {
            layers,
            to_score_map: Conv2dConfig::new([c * mult, 1], [4, 4])
                .with_padding(padding())
                .init(device),
            sigmoid: self.sigmoid,
        }
    }
}

impl Critic {
    /// Scores images in [-1, 1]: higher means "looks sharp and real".
    ///
    /// - input: `[batch, 3, height, width]` (`input_size`² for the dense critic)
    /// - output: `[batch, scores]`: one score for the dense critic, one per patch for PatchGAN
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let (scores, ends_in_sigmoid) = match self {
            Critic::Dense(critic) => {
                let x = critic.layers.iter().fold(x, |x, layer| layer.forward(x));
                let map: Tensor<2> = critic.to_score_map.forward(x).flatten(1, 3);
                let score = critic.score.forward(tanh(critic.dense.forward(map)));
                (score, critic.sigmoid)
            }
            Critic::Patch(critic) => {
                let x = critic.layers.iter().fold(x, |x, layer| layer.forward(x));
                (critic.to_score_map.forward(x).flatten(1, 3), critic.sigmoid)
            }
        };
        if ends_in_sigmoid {
            sigmoid(scores)
        } else {
            scores
        }
    }
}
