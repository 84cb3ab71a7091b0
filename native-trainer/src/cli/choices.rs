//! The named choices of the command line: generators, critics, losses, schedules, blurs.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use deblurgan::conv_training::Convolutions;
use deblurgan::model::GeneratorConfig;
use native_trainer::data::camera_shake::ShakeOptions;
use native_trainer::loss::PixelLoss;
use native_trainer::train::LrSchedule;

/// A named generator configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Architecture {
    /// U-Net: 4 levels of 24-192 channels, a residual block per level each way, skips added, no
    /// normalisation (2.1 M parameters): the one that learns on a CPU.
    Unet,
    /// The design notes' generator: 64 channels, 9 blocks, BatchNorm (11.4 M parameters).
    Full,
    /// 32 channels, 6 blocks: fast on CPUs and in browsers (2 M parameters).
    Compact,
    /// Compact with the residual output (input + correction, starting as the identity) and
    /// BatchNorm.
    CompactResidual,
    /// Compact residual without normalisation layers or dropout: training and inference compute
    /// the same function.
    CompactResidualPlain,
    /// Compact residual plain with encoder-decoder skip connections (the stem's features added
    /// before the last convolution, the first downsampling's after the first upsampling).
    CompactResidualSkip,
    /// The official PyTorch DeblurGAN: InstanceNorm, transposed convolutions.
    Official,
}

impl Architecture {
    pub fn config(self) -> GeneratorConfig {
        match self {
            Architecture::Unet => GeneratorConfig::unet(),
            Architecture::Full => GeneratorConfig::keras(),
            Architecture::Compact => GeneratorConfig::compact(),
            Architecture::CompactResidual => GeneratorConfig::compact_residual(),
            Architecture::CompactResidualPlain => GeneratorConfig::compact_residual_plain(),
            Architecture::CompactResidualSkip => GeneratorConfig::compact_residual_skip(),
            Architecture::Official => GeneratorConfig::official(),
        }
    }
}

/// What runs the generator in `bench-deblur`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    /// As `deblur` runs it: the CPU engine on the CPU (where it runs the generator), burn on a GPU.
    Auto,
    /// burn's forward pass on the device.
    Burn,
}

/// Which critic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CriticChoice {
    /// The official DeblurGAN's PatchGAN (InstanceNorm), one score per patch.
    Patch,
    /// The design notes' critic: convolutions then dense 1024 and dense 1 (BatchNorm); needs
    /// square crops whose side is a multiple of 16.
    Dense,
}

/// The pixel content loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PixelLossChoice {
    /// Mean absolute error.
    L1,
    /// Mean squared error.
    L2,
    /// Minus the mean PSNR of the images (dB), what the evaluation reports.
    Psnr,
}

impl PixelLossChoice {
    pub fn loss(self) -> PixelLoss {
        match self {
            PixelLossChoice::L1 => PixelLoss::L1,
            PixelLossChoice::L2 => PixelLoss::L2,
            PixelLossChoice::Psnr => PixelLoss::Psnr,
        }
    }
}

/// How the learning rate decays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LrScheduleChoice {
    /// Along half a cosine.
    Cosine,
    /// Linearly.
    Linear,
}

impl LrScheduleChoice {
    pub fn schedule(self) -> LrSchedule {
        match self {
            LrScheduleChoice::Cosine => LrSchedule::Cosine,
            LrScheduleChoice::Linear => LrSchedule::Linear,
        }
    }
}

/// A named synthetic blur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShakePreset {
    /// The official DeblurGAN's camera shake: 60 px paths on a 64 px kernel, exposures of 1/100,
    /// 1/10, 1/2 and all of the path.
    Strong,
    /// Handheld shake: whole paths of 5 to 25 px on a 32 px kernel.
    Moderate,
}

/// The synthetic blur `eval` gives sharp photos.
#[derive(Args, Debug, Clone)]
pub struct BlurArgs {
    /// Blur preset.
    #[arg(long, value_enum, default_value = "strong")]
    pub shake: ShakePreset,
    /// Side of the kernels (default: the preset's).
    #[arg(long = "blur-kernel-size")]
    pub kernel_size: Option<usize>,
    /// Longest path, in pixels (default: the preset's).
    #[arg(long = "blur-length")]
    pub max_length: Option<f64>,
    /// Shortest path, in pixels (default: the preset's).
    #[arg(long = "blur-min-length")]
    pub min_length: Option<f64>,
    /// Exposure fractions of the path, one drawn per photo, comma-separated (default: the
    /// preset's).
    #[arg(long = "blur-exposures", value_delimiter = ',')]
    pub exposures: Option<Vec<f64>>,
    /// Largest noise σ, in [0, 1] units (default: the preset's, 0.01).
    #[arg(long = "blur-noise")]
    pub max_noise: Option<f64>,
}

impl BlurArgs {
    pub fn shake(&self) -> Result<ShakeOptions> {
        let mut options = match self.shake {
            ShakePreset::Strong => ShakeOptions::default(),
            ShakePreset::Moderate => ShakeOptions::moderate(),
        };
        if let Some(canvas) = self.kernel_size {
            options.canvas = canvas;
        }
        if let Some(length) = self.max_length {
            options.max_length = length;
            options.min_length = options.min_length.min(length);
        }
        if let Some(length) = self.min_length {
            options.min_length = length;
        }
        if let Some(exposures) = &self.exposures {
            options.exposures = exposures.clone();
        }
        if let Some(noise) = self.max_noise {
            options.max_noise = noise;
        }
        if options.canvas < 2 {
            bail!("--blur-kernel-size must be at least 2");
        }
        if !(options.min_length >= 0.0 && options.min_length <= options.max_length) {
            bail!("--blur-min-length must lie between 0 and --blur-length ({})", options.max_length);
        }
        if options.exposures.is_empty() || options.exposures.iter().any(|e| !(*e > 0.0 && *e <= 1.0)) {
            bail!("--blur-exposures must be fractions in (0, 1]");
        }
        if !(0.0..=1.0).contains(&options.max_noise) {
            bail!("--blur-noise must lie in [0, 1]");
        }
        Ok(options)
    }

    pub fn describe(&self) -> String {
        match self.shake() {
            Ok(o) => format!(
                "{:?}: paths {}-{} px on a {} px kernel, exposures {:?}, noise up to {}",
                self.shake, o.min_length, o.max_length, o.canvas, o.exposures, o.max_noise
            )
            .to_lowercase(),
            Err(e) => e.to_string(),
        }
    }
}

/// `bench-train --convolutions`: how the CPU's training convolutions compute in the steps timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvolutionsChoice {
    /// burn's, then the matrix products, one after the other in one run.
    Both,
    /// The matrix products (what training uses).
    MatrixProducts,
    /// burn Flex's forward and burn's default backward.
    Burn,
}

impl ConvolutionsChoice {
    /// The methods to time, in order.
    pub fn methods(self) -> Vec<Convolutions> {
        match self {
            ConvolutionsChoice::Both => vec![Convolutions::Burn, Convolutions::MatrixProducts],
            ConvolutionsChoice::MatrixProducts => vec![Convolutions::MatrixProducts],
            ConvolutionsChoice::Burn => vec![Convolutions::Burn],
        }
    }
}
