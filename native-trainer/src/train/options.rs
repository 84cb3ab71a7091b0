//! Everything that defines a training run: the options saved in every checkpoint, the learning
//! rate's schedule, and the checks that refuse options no run can use.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::config::Config;
use deblurgan::model::{CriticConfig, GeneratorConfig};

use crate::data::camera_shake::ShakeOptions;
use crate::data::layout::{self, Layout, Source};
use crate::data::loader::SampleOptions;
use crate::loss::PixelLoss;

/// Everything that defines a training run (saved in every checkpoint).
#[derive(Config, Debug)]
pub struct TrainOptions {
    /// Data set root: GoPro, Keras A/B, or a folder of sharp photos.
    pub data: Option<PathBuf>,
    /// Blurred folder of a two-folder data set (with `sharp`).
    pub blurred: Option<PathBuf>,
    /// Sharp folder of a two-folder data set (with `blurred`), or sharp photos alone.
    pub sharp: Option<PathBuf>,
    /// Split of GoPro / A/B data sets.
    #[config(default = "String::from(\"train\")")]
    pub split: String,
    /// The generator to train.
    #[config(default = "GeneratorConfig::compact_residual()")]
    pub generator: GeneratorConfig,
    /// The critic.
    #[config(default = "CriticConfig::patch()")]
    pub critic: CriticConfig,
    /// Generator steps in all.
    #[config(default = 100000)]
    pub steps: usize,
    /// Images per batch.
    #[config(default = 1)]
    pub batch: usize,
    /// Side of the random crops.
    #[config(default = 256)]
    pub crop: usize,
    /// Random horizontal flips.
    #[config(default = true)]
    pub flip: bool,
    /// Photos are scaled down to this longest side before cropping (`None` or 0: never), as
    /// `eval` does by default.
    #[config(default = "Some(1280)")]
    pub max_side: Option<u32>,
    /// Largest noise added to synthetic blur (σ in [0, 1] units).
    #[config(default = 0.01)]
    pub max_noise: f64,
    /// Side of synthetic shake kernels.
    #[config(default = 64)]
    pub kernel_size: usize,
    /// Length of synthetic shake trajectories, in pixels.
    #[config(default = 60.0)]
    pub trajectory_length: f64,
    /// Share of training samples blurred by the moderate shake ([`ShakeOptions::moderate`])
    /// instead of the strong one (`None`: 0).
    pub moderate_share: Option<f64>,
    /// Adam learning rate (both networks).
    #[config(default = 1e-4)]
    pub lr: f64,
    /// Adam β1 (0.5 in the official DeblurGAN).
    #[config(default = 0.5)]
    pub beta1: f32,
    /// Adam β2.
    #[config(default = 0.999)]
    pub beta2: f32,
    /// Step at which the learning rate starts its linear decay to 0 at `steps` (default: half).
    pub decay_start: Option<usize>,
    /// Steps over which the learning rate rises linearly from `lr / warmup` to `lr` at the start
    /// (`None` or 0: none).
    pub warmup: Option<usize>,
    /// How the learning rate falls from `decay_start` to `steps` (`None`: linearly, as runs
    /// before this option did).
    pub lr_schedule: Option<LrSchedule>,
    /// Adam's ε (`None`: burn's default, 1e-5, what runs before this option used). With
    /// mean-reduced losses inner layers' gradients are near 1e-6, where ε = 1e-5 shrinks their
    /// steps up to tenfold; PyTorch's default is 1e-8.
    pub epsilon: Option<f64>,
    /// Largest norm of the generator's gradient, all parameters together (PyTorch's
    /// `clip_grad_norm_`); a larger gradient is scaled down to it (`None`: never clipped).
    pub grad_clip: Option<f64>,
    /// Share of sharp-only samples left unblurred, so that the generator learns to leave sharp
    /// photos alone (`None`: 0).
    pub sharp_share: Option<f64>,
    /// Round the blurred inputs to 8 bits, as photos reach the page (`None`: no).
    pub quantize: Option<bool>,
    /// Critic updates per generator step.
    #[config(default = 5)]
    pub critic_updates: usize,
    /// Gradient-penalty weight λ.
    #[config(default = 10.0)]
    pub gp_weight: f64,
    /// Finite-difference step of the gradient penalty.
    #[config(default = 1e-3)]
    pub gp_step: f64,
    /// Weight of the adversarial term of the generator loss (0: content loss only, no critic).
    #[config(default = 1.0)]
    pub adversarial_weight: f64,
    /// Weight of the content term.
    #[config(default = 100.0)]
    pub content_weight: f64,
    /// The pixel content loss without `vgg` (`None`: L2 where `content_l2`, else L1).
    pub pixel_loss: Option<PixelLoss>,
    /// How runs before `pixel_loss` asked for L2; read from their checkpoints only.
    pub content_l2: Option<bool>,
    /// Weight of a PSNR term added to the content loss (`ContentLoss::Psnr`, minus the mean PSNR
    /// in dB): with L1, L1 drives the deblurring while this term keeps nearly sharp crops, whose
    /// L1 is tiny, from being sharpened (`None`: 0).
    pub psnr_weight: Option<f64>,
    /// VGG16 ImageNet weights (`.pth` or `.safetensors`): perceptual content loss; else the
    /// pixel loss.
    pub vgg: Option<PathBuf>,
    /// Seed of every random choice.
    #[config(default = 0)]
    pub seed: u64,
    /// Data loading threads.
    #[config(default = 4)]
    pub workers: usize,
    /// Log a line every this many steps.
    #[config(default = 10)]
    pub log_every: usize,
    /// Write sample images every this many steps (0: never).
    #[config(default = 500)]
    pub sample_every: usize,
    /// Write a checkpoint every this many steps.
    #[config(default = 1000)]
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    #[config(default = 3)]
    pub keep: usize,
    /// Also write a checkpoint once this many minutes (wall clock) have passed since the last
    /// one, so that a stopped session loses little (`None`: by steps only).
    pub checkpoint_minutes: Option<f64>,
    /// Sharp photos of a fixed validation set (never trained on): the run measures its weights
    /// on them as the page runs them and logs the gain against CPU time in `validation.jsonl`.
    pub validation: Option<PathBuf>,
    /// Photos of the validation set used (`None`: 8), one crop each per blur strength.
    pub validation_photos: Option<usize>,
    /// Side of the validation crops (`None`: 256).
    pub validation_crop: Option<usize>,
    /// CPU-minutes of training between two validations (`None`: 10).
    pub validate_minutes: Option<f64>,
    /// The generator this run started from (a weights file, or a checkpoint or run folder), with
    /// a fresh optimiser at step 0: the second stage of a staged recipe (`None`: a fresh
    /// initialisation).
    pub init_from: Option<PathBuf>,
    /// Keep an exponential moving average of the generator's weights with this decay per step
    /// (e.g. 0.998: the last ~500 steps), and publish it: validation, `eval`, `export` and
    /// `--init-from` use the average (`None`: the weights of the last step). See
    /// [`crate::average`].
    pub ema: Option<f64>,
}

impl TrainOptions {
    /// The pixel loss of the run: `pixel_loss`, else L2 for the runs that said `content_l2`,
    /// else L1.
    pub fn pixel_loss(&self) -> PixelLoss {
        match (self.pixel_loss, self.content_l2) {
            (Some(loss), _) => loss,
            (None, Some(true)) => PixelLoss::L2,
            (None, _) => PixelLoss::L1,
        }
    }

    /// The data set these options name.
    pub fn source(&self) -> Result<(Layout, Source)> {
        match (&self.data, &self.blurred, &self.sharp) {
            (Some(root), None, None) => Ok(layout::discover(root, &self.split)?),
            (None, Some(blurred), Some(sharp)) => {
                Ok((Layout::Folders, Source::Pairs(layout::pair_folders(blurred, sharp)?)))
            }
            (None, None, Some(sharp)) => {
                let photos = layout::images_in(sharp)?;
                anyhow::ensure!(!photos.is_empty(), "no images in {}", sharp.display());
                Ok((Layout::SharpOnly, Source::Sharp(photos)))
            }
            _ => bail!("give --data DIR, or --sharp DIR (photos to blur), or --blurred DIR --sharp DIR"),
        }
    }

    /// The camera-shake parameters.
    pub fn shake(&self) -> ShakeOptions {
        ShakeOptions {
            canvas: self.kernel_size,
            max_length: self.trajectory_length,
            max_noise: self.max_noise,
            ..ShakeOptions::default()
        }
    }

    /// How this run makes its samples: crops, flips, the strong shake and the moderate shake's
    /// share, the photos' longest side.
    pub fn sample_options(&self) -> SampleOptions {
        SampleOptions {
            crop: self.crop,
            flip: self.flip,
            shake: self.shake(),
            second_shake: self.moderate_share.filter(|&share| share > 0.0).map(|share| (share, self.moderate_shake())),
            max_side: self.max_side,
            sharp_share: self.sharp_share.unwrap_or(0.0),
            quantize: self.quantize.unwrap_or(false),
        }
    }

    /// The moderate camera shake, with this run's noise.
    pub fn moderate_shake(&self) -> ShakeOptions {
        ShakeOptions { max_noise: self.max_noise, ..ShakeOptions::moderate() }
    }

    /// Learning rate at `step`: a linear warm-up, constant until `decay_start` (half the steps by
    /// default with the linear schedule, 0 with the cosine), then a linear or cosine decay to 0
    /// at `steps`.
    pub fn lr_at(&self, step: usize) -> f64 {
        let schedule = self.lr_schedule.unwrap_or(LrSchedule::Linear);
        let default_start = match schedule {
            LrSchedule::Linear => self.steps / 2,
            LrSchedule::Cosine => 0,
        };
        let start = self.decay_start.unwrap_or(default_start).min(self.steps);
        let warmup = match self.warmup {
            Some(warmup) if warmup > 0 && step < warmup => (step + 1) as f64 / warmup as f64,
            _ => 1.0,
        };
        if step < start || self.steps == start {
            return warmup * self.lr;
        }
        let left = (self.steps - step.min(self.steps)) as f64 / (self.steps - start) as f64;
        warmup
            * self.lr
            * match schedule {
                LrSchedule::Linear => left,
                LrSchedule::Cosine => 0.5 * (1.0 - (std::f64::consts::PI * left).cos()),
            }
    }
}

/// How the learning rate decays ([`TrainOptions::lr_at`]).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LrSchedule {
    /// Linearly to 0 (the official DeblurGAN's).
    Linear,
    /// Along half a cosine to 0: slow at first and at the end.
    Cosine,
}

/// Refuses options no run can use, before anything is written.
pub(super) fn check_options(options: &TrainOptions) -> Result<()> {
    if let Some(share) = options.moderate_share {
        anyhow::ensure!((0.0..=1.0).contains(&share), "the moderate shake's share must lie in [0, 1], not {share}");
    }
    if let Some(share) = options.sharp_share {
        anyhow::ensure!((0.0..=1.0).contains(&share), "the share of sharp samples must lie in [0, 1], not {share}");
    }
    if let Some(epsilon) = options.epsilon {
        anyhow::ensure!(epsilon > 0.0 && epsilon < 1.0, "Adam's epsilon must lie in (0, 1), not {epsilon}");
    }
    if let Some(max_norm) = options.grad_clip {
        anyhow::ensure!(max_norm > 0.0, "the gradient clipping norm must be positive, not {max_norm}");
    }
    if let Some(decay) = options.ema {
        check_ema(decay)?;
    }
    if let Some(weight) = options.psnr_weight {
        check_psnr_weight(weight)?;
    }
    Ok(())
}

/// The moving average's decay must lie in [0, 1).
pub(super) fn check_ema(decay: f64) -> Result<()> {
    anyhow::ensure!((0.0..1.0).contains(&decay), "the moving average's decay must lie in [0, 1), not {decay}");
    Ok(())
}

/// The PSNR term's weight must be finite and not negative.
pub(super) fn check_psnr_weight(weight: f64) -> Result<()> {
    anyhow::ensure!(weight.is_finite() && weight >= 0.0, "the PSNR term's weight must be 0 or more, not {weight}");
    Ok(())
}
