//! `train`'s arguments and the options they make; the defaults are the recipe's
//! ([`native_trainer::recipe`]).

use std::path::PathBuf;

use clap::Args;
use deblurgan::model::{CriticArchitecture, CriticConfig, NormKind};
use native_trainer::device::DeviceChoice;
use native_trainer::recipe;
use native_trainer::train::TrainOptions;

use super::choices::{Architecture, CriticChoice, LrScheduleChoice, PixelLossChoice};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Run folder: checkpoints, log.jsonl, samples/.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Continue the newest checkpoint in the run folder (its options are used; --steps may
    /// extend the run, --data/--sharp/--blurred say where the same images are now, --workers
    /// sets the loader threads).
    #[arg(long)]
    pub resume: bool,
    /// Data set root: GOPRO_Large, a Keras A/B folder, or a folder of sharp photos.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Blurred folder of a pair of folders (with --sharp).
    #[arg(long)]
    pub blurred: Option<PathBuf>,
    /// Sharp folder of a pair of folders (with --blurred), or sharp photos alone.
    #[arg(long)]
    pub sharp: Option<PathBuf>,
    /// Split of GoPro and A/B data sets.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Generator.
    #[arg(long, value_enum, default_value = "unet")]
    pub architecture: Architecture,
    /// Generator dropout in the residual blocks.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Critic.
    #[arg(long, value_enum, default_value = "patch")]
    pub critic: CriticChoice,
    /// End the critic in a sigmoid (the design notes' variant; use with --gp-weight 0 for the
    /// notes' plain Wasserstein loss).
    #[arg(long)]
    pub critic_sigmoid: bool,
    /// Critic width.
    #[arg(long, default_value_t = 64)]
    pub critic_channels: usize,
    /// Generator steps in all (default 100000; on --resume, the saved number unless given).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = recipe::BATCH)]
    pub batch: usize,
    /// Side of the random crops.
    #[arg(long, default_value_t = recipe::CROP)]
    pub crop: usize,
    /// No random horizontal flips.
    #[arg(long)]
    pub no_flip: bool,
    /// Scale larger photos down to this longest side before cropping (0: never), as `eval`
    /// does, so that a blur of n pixels means the same in training and evaluation.
    #[arg(long, default_value_t = 1280)]
    pub max_side: u32,
    /// Largest noise σ added to synthetic blur, in [0, 1] units (each sample's σ is drawn
    /// uniformly below it; 2/255 by default).
    #[arg(long, default_value_t = recipe::MAX_NOISE)]
    pub max_noise: f64,
    /// Share of samples left sharp (noise and rounding still applied), so that the generator
    /// learns to leave sharp photos alone; default 0.1. On --resume, a change from the resumed
    /// step; without it, the saved share.
    #[arg(long)]
    pub sharp_share: Option<f64>,
    /// Keep the blurred inputs in floating point instead of rounding them to 8 bits as photos
    /// reach the page.
    #[arg(long)]
    pub no_quantize: bool,
    /// Side of synthetic camera-shake kernels.
    #[arg(long, default_value_t = 64)]
    pub kernel_size: usize,
    /// Length of synthetic camera-shake trajectories, in pixels.
    #[arg(long, default_value_t = 60.0)]
    pub trajectory_length: f64,
    /// Share of samples blurred by the moderate shake (whole paths of 5-25 px on a 32 px kernel)
    /// instead of the strong one (--kernel-size, --trajectory-length, four exposures); default
    /// 0.5. On --resume, a change from the resumed step; without it, the saved share.
    #[arg(long)]
    pub moderate_share: Option<f64>,
    /// Adam learning rate.
    #[arg(long, default_value_t = recipe::LR)]
    pub lr: f64,
    /// Adam β1.
    #[arg(long, default_value_t = recipe::BETA1)]
    pub beta1: f32,
    /// Adam β2.
    #[arg(long, default_value_t = recipe::BETA2)]
    pub beta2: f32,
    /// Adam ε (PyTorch's default; burn's own, 1e-5, shrinks the steps of layers whose
    /// gradients are near 1e-6).
    #[arg(long, default_value_t = recipe::EPSILON)]
    pub epsilon: f64,
    /// Largest norm of the generator's gradient, all parameters together (0: no clipping).
    #[arg(long, default_value_t = recipe::GRAD_CLIP)]
    pub grad_clip: f64,
    /// How the learning rate decays to 0 at --steps, from --decay-start.
    #[arg(long, value_enum, default_value = "cosine")]
    pub lr_schedule: LrScheduleChoice,
    /// Step where the decay of the learning rate to 0 begins (default: 0 for the cosine, half
    /// the steps for the linear schedule). On --resume, a new start (with --steps: restart the
    /// cosine from the resumed step once the curve flattens).
    #[arg(long)]
    pub decay_start: Option<usize>,
    /// Steps of linear learning-rate warm-up at the start.
    #[arg(long, default_value_t = recipe::WARMUP)]
    pub warmup: usize,
    /// Critic updates per generator step.
    #[arg(long, default_value_t = 5)]
    pub critic_updates: usize,
    /// Gradient-penalty weight λ (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub gp_weight: f64,
    /// Finite-difference step of the gradient penalty (see docs/training.md).
    #[arg(long, default_value_t = 1e-3)]
    pub gp_step: f64,
    /// Weight of the adversarial loss (0, the default: content loss only, no critic; the GAN
    /// stage fine-tunes a trained generator with --init-from and e.g. 0.01).
    #[arg(long, default_value_t = 0.0)]
    pub adversarial_weight: f64,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    /// Pixel content loss (without --vgg): l1; l2 (mean squared error); or psnr (minus each
    /// image's PSNR in dB, averaged: what the evaluation reports, where nearly sharp crops weigh
    /// as much as blurred ones). Default l1. On --resume, a change of loss from the resumed step
    /// (the optimiser's state is kept); without it, the saved loss.
    #[arg(long, value_enum)]
    pub pixel_loss: Option<PixelLossChoice>,
    /// Weight of a PSNR term (minus the mean PSNR in dB) added to the pixel loss, e.g. 0.003
    /// with l1: L1 drives the deblurring, the PSNR term keeps nearly sharp crops from being
    /// sharpened. On --resume, a change from the resumed step; without it, the saved weight.
    #[arg(long)]
    pub psnr_weight: Option<f64>,
    /// VGG16 ImageNet weights (torchvision .pth or .safetensors) for the perceptual loss;
    /// without them the content loss is L1.
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Data loading threads (default 4).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Log a line to log.jsonl every N steps.
    #[arg(long, default_value_t = 10)]
    pub log_every: usize,
    /// Write before/after samples every N steps (0: never).
    #[arg(long, default_value_t = 500)]
    pub sample_every: usize,
    /// Write a checkpoint every N steps.
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Also write a checkpoint every N minutes (wall clock; 0: by steps only).
    #[arg(long, default_value_t = 10.0)]
    pub checkpoint_minutes: f64,
    /// Sharp photos never trained on: the run measures its weights on a fixed crop of each
    /// (strong and moderate shake) as the page runs them, and logs the gain against CPU time in
    /// validation.jsonl. On --resume, where the same photos are now.
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Validation photos used.
    #[arg(long, default_value_t = 8)]
    pub validation_photos: usize,
    /// Side of the validation crops.
    #[arg(long, default_value_t = 256)]
    pub validation_crop: usize,
    /// CPU-minutes of training between validations.
    #[arg(long, default_value_t = 10.0)]
    pub validate_minutes: f64,
    /// Start from this generator (weights file, checkpoint or run folder) instead of a fresh
    /// one, with a fresh optimiser at step 0: the second stage of a staged recipe (e.g. another
    /// loss, or adversarial fine-tuning). Its architecture replaces --architecture, and a
    /// checkpoint's CPU time carries on in the learning curve.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Keep a moving average of the generator's weights with this decay per step (e.g. 0.998:
    /// about the last 500 steps) and publish it: validation, eval, export and --init-from use
    /// the average, which carries less of the last steps' noise. On --resume, a run without an
    /// average starts one at the resumed weights.
    #[arg(long)]
    pub ema: Option<f64>,
    /// GPU (wgpu) or CPU (Flex).
    #[arg(long, value_enum, default_value = "gpu")]
    pub device: DeviceChoice,
}

impl TrainArgs {
    pub fn options(&self) -> TrainOptions {
        let mut generator = self.architecture.config();
        if let Some(dropout) = self.dropout {
            generator = generator.with_dropout(dropout);
        }
        let critic = match self.critic {
            CriticChoice::Patch => CriticConfig::patch(),
            CriticChoice::Dense => CriticConfig::dense(self.crop)
                .with_architecture(CriticArchitecture::Dense)
                .with_norm(NormKind::Batch),
        }
        .with_base_channels(self.critic_channels)
        .with_sigmoid(self.critic_sigmoid);
        let options = TrainOptions::new()
            .with_data(self.data.clone())
            .with_blurred(self.blurred.clone())
            .with_sharp(self.sharp.clone())
            .with_split(self.split.clone())
            .with_generator(generator)
            .with_critic(critic)
            .with_steps(self.steps.unwrap_or(100_000))
            .with_batch(self.batch)
            .with_crop(self.crop)
            .with_flip(!self.no_flip)
            .with_max_side(Some(self.max_side))
            .with_max_noise(self.max_noise)
            .with_kernel_size(self.kernel_size)
            .with_trajectory_length(self.trajectory_length)
            .with_moderate_share(Some(self.moderate_share.unwrap_or(recipe::MODERATE_SHARE)))
            .with_lr(self.lr)
            .with_beta1(self.beta1)
            .with_beta2(self.beta2)
            .with_decay_start(self.decay_start)
            .with_warmup((self.warmup > 0).then_some(self.warmup))
            .with_lr_schedule(Some(self.lr_schedule.schedule()))
            .with_epsilon(Some(self.epsilon))
            .with_grad_clip((self.grad_clip > 0.0).then_some(self.grad_clip))
            .with_sharp_share(Some(self.sharp_share.unwrap_or(recipe::SHARP_SHARE)))
            .with_quantize(Some(!self.no_quantize))
            .with_critic_updates(self.critic_updates)
            .with_gp_weight(self.gp_weight)
            .with_gp_step(self.gp_step)
            .with_adversarial_weight(self.adversarial_weight)
            .with_content_weight(self.content_weight)
            .with_pixel_loss(Some(self.pixel_loss.unwrap_or(PixelLossChoice::L1).loss()))
            .with_psnr_weight(self.psnr_weight)
            .with_vgg(self.vgg.clone())
            .with_seed(self.seed)
            .with_log_every(self.log_every)
            .with_sample_every(self.sample_every)
            .with_checkpoint_every(self.checkpoint_every)
            .with_keep(self.keep)
            .with_checkpoint_minutes((self.checkpoint_minutes > 0.0).then_some(self.checkpoint_minutes))
            .with_validation(self.validation.clone())
            .with_validation_photos(Some(self.validation_photos))
            .with_validation_crop(Some(self.validation_crop))
            .with_validate_minutes(Some(self.validate_minutes))
            .with_init_from(self.init_from.clone())
            .with_ema(self.ema);
        // Without --workers, the options' own default.
        match self.workers {
            Some(workers) => options.with_workers(workers),
            None => options,
        }
    }
}
